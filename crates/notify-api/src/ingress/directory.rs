//! Directory people and groups at ingress (contract §7): a target's `people` and `groups`
//! become its channel kind's native ids (WeLink and Xiaowei `users` ← `welink`, WeCom app
//! `users` ← `wecom`, WeCom work ID `work_ids` ← `workid`), merged with the native ids given
//! beside them; a target's `fallback` is resolved the same way and kept with the map from
//! the primary's native ids to the fallback's, for the people a sent delivery failed to reach.
//!
//! Field errors are relative to the target (`people[1]`, `fallback.groups[0]`); ingress puts
//! them under `targets[i]`.

use std::collections::BTreeMap;

use notify_channels::{ChannelHandle, PeopleIds};
use notify_core::{FieldError, MessageInput, TargetInput};
use notify_store::directory::{Directory, Person};
use notify_store::FallbackPlan;

/// Native recipient id → directory person id, for the recipients a target got from the
/// directory.
pub type PersonMap = BTreeMap<String, String>;

/// True when any target of `input` (its fallback, or an escalation step's target) names
/// directory people or groups: only then is the directory read.
pub fn needs_directory(input: &MessageInput) -> bool {
    fn names(t: &TargetInput) -> bool {
        t.people.is_some() || t.groups.is_some() || t.fallback.as_deref().is_some_and(names)
    }
    input.targets.iter().any(names)
        || input
            .escalation
            .iter()
            .flatten()
            .flat_map(|s| s.targets.iter())
            .any(names)
}

/// How one channel addresses directory people: its kind's name (for errors) and where its
/// person ids come from and go (`Channel::people_ids`).
#[derive(Debug, Clone, Copy)]
pub struct Addressing<'a> {
    /// The kind's name, as errors show it.
    pub kind: &'a str,
    /// The person's key and the target field; `None` when the kind cannot address people.
    pub ids: Option<PeopleIds>,
}

impl<'a> Addressing<'a> {
    /// How `handle`'s channel addresses people.
    pub fn of(handle: &'a ChannelHandle) -> Self {
        Self {
            kind: handle.kind().as_str(),
            ids: handle.adapter.people_ids(),
        }
    }
}

impl std::fmt::Display for Addressing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)
    }
}

/// The target field a channel's person ids go in (`users`, `work_ids`), if it has one.
pub fn person_field(kind: Addressing<'_>) -> Option<&'static str> {
    kind.ids.map(|i| i.target_field)
}

/// A person's id on a channel, and the directory key that holds it.
fn id_on<'p>(person: &'p Person, kind: Addressing<'_>) -> (Option<&'p String>, &'static str) {
    let Some(ids) = kind.ids else {
        return (None, "none");
    };
    let id = match ids.person_key {
        "welink" => person.welink.as_ref(),
        "wecom" => person.wecom.as_ref(),
        "workid" => person.workid.as_ref(),
        _ => None,
    };
    (id, ids.person_key)
}

/// Expands `target`'s people and groups for a `kind` channel: returns the target with them
/// replaced by native ids (merged with those given, duplicates dropped, order kept) and the
/// map native id → person id. A target without people or groups comes back as it is. Its
/// `fallback` is left as it is (see [`resolve_fallback`]).
pub fn expand(
    target: &TargetInput,
    kind: Addressing<'_>,
    dir: &Directory,
) -> Result<(TargetInput, PersonMap), FieldError> {
    let mut out = target.clone();
    out.people = None;
    out.groups = None;
    let mut map = PersonMap::new();
    if target.people.is_none() && target.groups.is_none() {
        return Ok((out, map));
    }
    let named = if target.people.is_some() {
        "people"
    } else {
        "groups"
    };
    let Some(field) = person_field(kind) else {
        return Err(FieldError::new(
            named,
            "not_supported",
            format!("{kind} channels cannot address directory people; give their native ids"),
        ));
    };
    // Each person with the field that named them, for the error of a missing id.
    let mut persons: Vec<(String, String)> = Vec::new();
    for (j, id) in target.people.iter().flatten().enumerate() {
        if !dir.people.contains_key(id) {
            return Err(FieldError::new(
                format!("people[{j}]"),
                "unknown_person",
                format!("the directory holds no person {id:?}"),
            ));
        }
        persons.push((id.clone(), format!("people[{j}]")));
    }
    for (j, name) in target.groups.iter().flatten().enumerate() {
        let Some(members) = dir.groups.get(name) else {
            return Err(FieldError::new(
                format!("groups[{j}]"),
                "unknown_group",
                format!("the directory holds no group {name:?}"),
            ));
        };
        for m in members {
            persons.push((m.clone(), format!("groups[{j}]")));
        }
    }
    let mut ids: Vec<String> = match field {
        "work_ids" => target.work_ids.clone().unwrap_or_default(),
        _ => target.users.clone().unwrap_or_default(),
    };
    for (person_id, at) in persons {
        let Some(person) = dir.people.get(&person_id) else {
            return Err(FieldError::new(
                at,
                "unknown_person",
                format!("the directory holds no person {person_id:?}"),
            ));
        };
        let (native, key) = id_on(person, kind);
        let Some(native) = native else {
            return Err(FieldError::new(
                at,
                "no_channel_id",
                format!("person {person_id:?} has no `{key}` id, which {kind} channels need"),
            ));
        };
        if !ids.contains(native) {
            ids.push(native.clone());
        }
        map.entry(native.clone()).or_insert(person_id);
    }
    match field {
        "work_ids" => out.work_ids = Some(ids),
        _ => out.users = Some(ids),
    }
    Ok((out, map))
}

/// Resolves a target's `fallback` for a `kind` channel, given the primary's person map:
/// expands its people and groups, and when it names no recipients of its own, addresses the
/// primary's directory people on the fallback's channel kind. Errors are relative to the
/// target (`fallback.…`).
pub fn resolve_fallback(
    fallback: &TargetInput,
    kind: Addressing<'_>,
    primary: &PersonMap,
    dir: &Directory,
) -> Result<FallbackPlan, FieldError> {
    if fallback.fallback.is_some() {
        return Err(FieldError::new(
            "fallback.fallback",
            "not_supported",
            "a fallback cannot have a fallback of its own",
        ));
    }
    let (mut target, _) = expand(fallback, kind, dir).map_err(|e| e.under("fallback"))?;
    let field = person_field(kind);
    let mut map = BTreeMap::new();
    // The primary's people in a stable order (by native id), each with their fallback id.
    let mut mapped: Vec<String> = Vec::new();
    for (native, person_id) in primary {
        let Some(person) = dir.people.get(person_id) else {
            continue;
        };
        if let (Some(fb), _) = id_on(person, kind) {
            map.insert(native.clone(), fb.clone());
            if !mapped.contains(fb) {
                mapped.push(fb.clone());
            }
        }
    }
    if !has_recipients(&target) && field.is_some() && !primary.is_empty() {
        // No recipients of its own: the primary's people, each of whom needs an id here.
        if let Some((_, person_id)) = primary.iter().find(|(n, _)| !map.contains_key(*n)) {
            let key = dir
                .people
                .get(person_id)
                .map(|p| id_on(p, kind).1)
                .unwrap_or("id");
            return Err(FieldError::new(
                "fallback",
                "no_channel_id",
                format!("person {person_id:?} has no `{key}` id, which the fallback's {kind} channel needs"),
            ));
        }
        match field {
            Some("work_ids") => target.work_ids = Some(mapped),
            _ => target.users = Some(mapped),
        }
    }
    Ok(FallbackPlan {
        target,
        field: field.unwrap_or("").to_string(),
        map,
    })
}

/// Whether a target names any recipient itself.
fn has_recipients(t: &TargetInput) -> bool {
    [
        &t.users,
        &t.departments,
        &t.roles,
        &t.parties,
        &t.tags,
        &t.work_ids,
        &t.people,
        &t.groups,
    ]
    .iter()
    .any(|f| f.as_ref().is_some_and(|v| !v.is_empty()))
        || t.chat_id.is_some()
        || t.contact_id.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_channels::registry::{build_channel, sandbox_channels};

    /// How the sandbox's channel of `kind` addresses people.
    fn on(kind: &'static str) -> Addressing<'static> {
        let (name, config) = sandbox_channels("http://127.0.0.1:9")
            .into_iter()
            .find(|(_, c)| c.kind().as_str() == kind)
            .expect("a sandbox channel of the kind");
        let handle = build_channel(name, &config).expect("channel");
        Addressing {
            kind,
            ids: handle.adapter.people_ids(),
        }
    }

    fn dir() -> Directory {
        let mut d = Directory::default();
        d.people.insert(
            "zhangsan".into(),
            Person {
                name: Some("张三".into()),
                welink: Some("zhangsan@welink".into()),
                wecom: Some("zhangsan".into()),
                workid: Some("ww0517".into()),
            },
        );
        d.people.insert(
            "lisi".into(),
            Person {
                welink: Some("lisi@welink".into()),
                ..Person::default()
            },
        );
        d.groups
            .insert("dba".into(), vec!["zhangsan".into(), "lisi".into()]);
        d
    }

    fn target(people: &[&str], groups: &[&str]) -> TargetInput {
        TargetInput {
            channel: "c".into(),
            people: (!people.is_empty()).then(|| people.iter().map(|s| s.to_string()).collect()),
            groups: (!groups.is_empty()).then(|| groups.iter().map(|s| s.to_string()).collect()),
            ..TargetInput::default()
        }
    }

    #[test]
    fn people_and_groups_become_the_kinds_ids_merged_without_duplicates() {
        let mut t = target(&["zhangsan"], &["dba"]);
        t.users = Some(vec!["other".into(), "zhangsan@welink".into()]);
        let (out, map) = expand(&t, on("welink"), &dir()).unwrap();
        assert_eq!(
            out.users.unwrap(),
            ["other", "zhangsan@welink", "lisi@welink"]
        );
        assert!(out.people.is_none() && out.groups.is_none());
        assert_eq!(map["lisi@welink"], "lisi");
        let (out, _) = expand(&target(&["zhangsan"], &[]), on("wecom_workid"), &dir()).unwrap();
        assert_eq!(out.work_ids.unwrap(), ["ww0517"]);
        let (out, _) = expand(&target(&["zhangsan"], &[]), on("wecom_app"), &dir()).unwrap();
        assert_eq!(out.users.unwrap(), ["zhangsan"]);
        let (out, _) = expand(&target(&["lisi"], &[]), on("xiaowei"), &dir()).unwrap();
        assert_eq!(out.users.unwrap(), ["lisi@welink"]);
    }

    #[test]
    fn unknown_names_and_missing_ids_are_named() {
        let e = expand(&target(&["zhangsan", "nobody"], &[]), on("welink"), &dir()).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("people[1]", "unknown_person")
        );
        let e = expand(&target(&[], &["nope"]), on("welink"), &dir()).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("groups[0]", "unknown_group")
        );
        let e = expand(&target(&[], &["dba"]), on("wecom_app"), &dir()).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("groups[0]", "no_channel_id")
        );
        assert!(e.message.contains("lisi") && e.message.contains("wecom"));
        let e = expand(&target(&["zhangsan"], &[]), on("juzi"), &dir()).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("people", "not_supported")
        );
    }

    #[test]
    fn a_fallback_without_recipients_addresses_the_primarys_people() {
        let (_, map) = expand(&target(&["zhangsan"], &[]), on("welink"), &dir()).unwrap();
        let fb = TargetInput {
            channel: "wecom".into(),
            ..TargetInput::default()
        };
        let plan = resolve_fallback(&fb, on("wecom_app"), &map, &dir()).unwrap();
        assert_eq!(plan.target.users.unwrap(), ["zhangsan"]);
        assert_eq!(plan.map["zhangsan@welink"], "zhangsan");
        assert_eq!(plan.field, "users");
        // lisi has no WeCom id: the fallback cannot reach them.
        let (_, map) = expand(&target(&[], &["dba"]), on("welink"), &dir()).unwrap();
        let e = resolve_fallback(&fb, on("wecom_app"), &map, &dir()).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("fallback", "no_channel_id")
        );
        // A fallback of a fallback is refused.
        let mut nested = fb.clone();
        nested.fallback = Some(Box::new(fb.clone()));
        let e = resolve_fallback(&nested, on("wecom_app"), &map, &dir()).unwrap_err();
        assert_eq!(e.field, "fallback.fallback");
        // Its own unknown person is named under `fallback`.
        let e = resolve_fallback(&target(&["x"], &[]), on("wecom_app"), &map, &dir()).unwrap_err();
        assert_eq!(e.field, "fallback.people[0]");
    }
}
