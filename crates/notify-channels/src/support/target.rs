//! Checks of a target that every adapter makes in `plan()`: fields it does not use, recipient
//! lists, the `type` it names. Field names are relative to the target (contract §4 errors).

use notify_core::{FieldError, TargetInput};

/// Refuses target fields that `kind` does not use, so that `parties` on a WeLink target is a 422
/// rather than a silently ignored list. The error names what the kind takes instead.
pub fn only(target: &TargetInput, kind: &str, allowed: &[&str]) -> Result<(), FieldError> {
    let present = [
        ("users", target.users.is_some()),
        ("departments", target.departments.is_some()),
        ("roles", target.roles.is_some()),
        ("parties", target.parties.is_some()),
        ("tags", target.tags.is_some()),
        ("work_ids", target.work_ids.is_some()),
        ("company_id", target.company_id.is_some()),
        ("chat_id", target.chat_id.is_some()),
        ("contact_id", target.contact_id.is_some()),
        ("bot_id", target.bot_id.is_some()),
        ("safe", target.safe.is_some()),
        ("raw", target.raw.is_some()),
    ];
    match present
        .iter()
        .find(|(name, set)| *set && !allowed.contains(name))
    {
        Some((name, _)) => Err(FieldError::new(
            *name,
            "not_supported",
            instead_of(kind, allowed, name),
        )),
        None => Ok(()),
    }
}

/// What each recipient field names. A recipient field a kind does not use is answered with the
/// kind's field of the same role (`users` on a work-ID channel → `work_ids`), else with all of
/// its recipient fields.
const RECIPIENT_ROLES: [(&str, &str); 8] = [
    ("users", "person"),
    ("work_ids", "person"),
    ("departments", "unit"),
    ("parties", "unit"),
    ("roles", "label"),
    ("tags", "label"),
    ("chat_id", "chat"),
    ("contact_id", "chat"),
];

fn role_of(field: &str) -> Option<&'static str> {
    RECIPIENT_ROLES
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, r)| *r)
}

/// The sentence for `field` sent to a `kind` channel, which takes `allowed`.
fn instead_of(kind: &str, allowed: &[&str], field: &str) -> String {
    let recipients: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|f| role_of(f).is_some())
        .collect();
    let same_role: Vec<&str> = recipients
        .iter()
        .copied()
        .filter(|f| role_of(f) == role_of(field))
        .collect();
    match role_of(field) {
        Some(_) if !recipients.is_empty() => {
            let take = if same_role.is_empty() {
                recipients
            } else {
                same_role
            };
            format!("{kind} channels take {}, not `{field}`", either(&take))
        }
        _ => {
            let mut fields: Vec<String> = allowed.iter().map(|f| format!("`{f}`")).collect();
            fields.push("`type`".into());
            format!(
                "{kind} channels do not use `{field}`; their targets take {}",
                fields.join(", ")
            )
        }
    }
}

/// `` `a` ``, `` `a` or `b` ``, `` `a`, `b` or `c` ``.
fn either(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The ids of a recipient list, without duplicates (first spelling kept); a blank id is refused.
pub fn ids(list: &Option<Vec<String>>, field: &str) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for (i, id) in list.iter().flatten().enumerate() {
        let id = id.trim();
        if id.is_empty() {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                "blank",
                "a recipient id cannot be blank",
            ));
        }
        if !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

/// WeCom joins each recipient list with `|` into one string (`touser` "UserID1|UserID2", 003_…
/// line 603; the work-ID platform forwards to the same `message/send`), so an id holding a `|`
/// would become several recipients, uncounted by the per-member limit.
pub fn no_separator(list: &Option<Vec<String>>, field: &str) -> Result<(), FieldError> {
    match list.iter().flatten().position(|id| id.contains('|')) {
        Some(i) => Err(FieldError::new(
            format!("{field}[{i}]"),
            "invalid",
            "a WeCom recipient id cannot contain '|': WeCom reads it as a list separator",
        )),
        None => Ok(()),
    }
}

/// WeCom's `touser: "@all"` reaches every member of the app. It is refused in `field` unless
/// `allowed` (a channel's `allow_all`); where it is allowed it must be the target's only
/// recipient (WeCom ignores every other id once `touser` is `@all`). `others` says whether the
/// target names any other recipient list.
pub fn all_members(
    list: &Option<Vec<String>>,
    field: &str,
    allowed: bool,
    others: bool,
) -> Result<(), FieldError> {
    let list = list.as_deref().unwrap_or_default();
    let Some(i) = list.iter().position(|id| id.trim() == "@all") else {
        return Ok(());
    };
    if !allowed {
        return Err(FieldError::new(
            format!("{field}[{i}]"),
            "not_allowed",
            "@all reaches every member of the app: this channel does not allow it (allow_all)",
        ));
    }
    if others || list.iter().any(|id| id.trim() != "@all") {
        return Err(FieldError::new(
            format!("{field}[{i}]"),
            "invalid",
            "@all must be the target's only recipient",
        ));
    }
    Ok(())
}

/// `list` in chunks of at most `size` (no chunk when the list is empty).
pub fn chunks(list: &[String], size: usize) -> Vec<Vec<String>> {
    list.chunks(size.max(1)).map(<[String]>::to_vec).collect()
}

/// The target's `type`, which must be one of `known` for this kind.
pub fn known_type<'a>(
    target: &'a TargetInput,
    kind: &str,
    known: &[&str],
) -> Result<Option<&'a str>, FieldError> {
    match target.kind.as_deref() {
        None => Ok(None),
        Some(t) if known.contains(&t) => Ok(Some(t)),
        Some(t) => Err(FieldError::new(
            "type",
            "unknown_type",
            format!("{kind} channels take type {}, not {t:?}", known.join(", ")),
        )),
    }
}

/// The `raw` body, which must be a JSON object.
pub fn raw_object(
    target: &TargetInput,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, FieldError> {
    match &target.raw {
        None => Ok(None),
        Some(serde_json::Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(FieldError::new(
            "raw",
            "invalid",
            "raw must be a JSON object: the channel's native body",
        )),
    }
}

/// A message-level field error (leading `/`: the ingress puts it under the message root).
pub fn msg_err(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("/{field}"), code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_go_and_blanks_are_refused() {
        let l = Some(vec!["a".into(), "b".into(), "a".into()]);
        assert_eq!(ids(&l, "users").unwrap(), vec!["a", "b"]);
        let l = Some(vec!["a".into(), " ".into()]);
        assert_eq!(ids(&l, "users").unwrap_err().field, "users[1]");
    }

    #[test]
    fn chunks_split_at_the_limit() {
        let l: Vec<String> = (0..2500).map(|i| i.to_string()).collect();
        let c = chunks(&l, 1000);
        assert_eq!(
            c.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        assert!(chunks(&[], 1000).is_empty());
    }

    #[test]
    fn a_foreign_field_is_named() {
        let t = TargetInput {
            parties: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(only(&t, "welink", &["users"]).unwrap_err().field, "parties");
    }

    #[test]
    fn a_foreign_field_names_the_right_one() {
        let message = |t: TargetInput, spec: crate::targets::TargetSpec, kind: &str| {
            only(&t, kind, spec.fields).unwrap_err().message
        };
        let users = TargetInput {
            users: Some(vec!["a".into()]),
            ..Default::default()
        };
        assert_eq!(
            message(users.clone(), crate::targets::WECOM_WORKID, "wecom_workid"),
            "wecom_workid channels take `work_ids`, not `users`"
        );
        assert_eq!(
            message(users, crate::targets::JUZI, "juzi"),
            "juzi channels take `chat_id` or `contact_id`, not `users`"
        );
        let departments = TargetInput {
            departments: Some(vec!["d".into()]),
            ..Default::default()
        };
        assert_eq!(
            message(departments, crate::targets::WECOM_APP, "wecom_app"),
            "wecom_app channels take `parties`, not `departments`"
        );
        let work_ids = TargetInput {
            work_ids: Some(vec!["w".into()]),
            ..Default::default()
        };
        assert_eq!(
            message(work_ids, crate::targets::WELINK, "welink"),
            "welink channels take `users`, not `work_ids`"
        );
        let safe = TargetInput {
            safe: Some(1),
            ..Default::default()
        };
        assert_eq!(
            message(safe, crate::targets::WELINK, "welink"),
            "welink channels do not use `safe`; their targets take `users`, `departments`, `roles`, `raw`, `type`"
        );
    }
}
