//! WeLink answers → [`Outcome`]. Every code of the public-account sections has a row, citing
//! `000_5ea2b8ffe88cf7cd.txt` lines.

use notify_core::{FailedRecipient, Outcome};
use serde_json::{json, Value};

use crate::support::answer::{excerpt, ids_of, original_spelling, str_of};
use crate::support::classes::{by_http_status, lookup, outcome, rule, unknown, Class, Rule};
use crate::{PartCall, UpstreamAnswer};

/// Codes any WeLink-host interface may answer (Xiaowei included).
pub const HOST: &[Rule] = &[
    // line 509 (and 505: clear the cache and fetch again)
    rule("1000", Class::TokenInvalid, "the access_token is invalid or expired (1000)"),
    // lines 722–725: per interface 40/s, 1500/min per client_id; 3000 per 20 s per IP
    rule(
        "48503",
        Class::RateLimited(1000),
        "WeLink rate limit (48503): 40/s or 1500/min per client_id and interface, or 3000 per 20 s per IP",
    ),
    PERMISSION,
];

/// Line 514: the app lacks the interface permission (as an HTTP status or a code). Permanent;
/// the dispatcher drops the token on code "501" because only a token fetched after the grant
/// carries it (contract §5).
pub const PERMISSION: Rule = rule(
    "501",
    Class::Permanent,
    "interface permission missing (第三方接口无权限): grant this interface to the app in the WeLink developer console; the token is refetched so that it carries the grant",
);

/// Public-account message codes: card (lines 887–895), app card (1052–1060), image
/// (1167–1175), news (1311–1317), update (1417–1423), recall (1511–1517).
pub const MESSAGES: &[Rule] = &[
    rule(
        "51018",
        Class::Permanent,
        "more than 1000 users in one call (51018)",
    ), // 887, 1417
    // 51019 (line 888) is read by `non_fans`, not here.
    rule("51062", Class::Permanent, "illegal parameter (51062)"), // 889
    rule("51078", Class::Transient, "WeLink system error (51078)"), // 890; contract §5: retry
    rule(
        "51059",
        Class::Permanent,
        "msgRange value not supported (51059)",
    ), // 891
    rule(
        "51056",
        Class::Permanent,
        "msgRange=1 with an empty department list (51056)",
    ), // 892
    rule(
        "51095",
        Class::Permanent,
        "msgRange=2 with an empty role list (51095)",
    ), // 893
    rule(
        "51104",
        Class::Permanent,
        "messageStatus is illegal (51104)",
    ), // 894, 1423
    rule(
        "51021",
        Class::Permanent,
        "a required parameter is missing (51021)",
    ), // 1418
    rule(
        "51033",
        Class::Permanent,
        "no matching message for this update (51033)",
    ), // 1419
    rule(
        "51107",
        Class::Permanent,
        "the message was sent without a state and cannot be updated (51107)",
    ), // 1422
    rule(
        "51100",
        Class::Permanent,
        "cross-tenant operation not supported (51100)",
    ), // 1511
    rule(
        "51111",
        Class::Permanent,
        "the message to recall does not exist (51111)",
    ), // 1512
    rule(
        "51112",
        Class::Permanent,
        "the message's public account was not found (51112)",
    ), // 1513
    rule(
        "51113",
        Class::Permanent,
        "the message's tenant was not found (51113)",
    ), // 1514
    rule(
        "51114",
        Class::Permanent,
        "recall failed: no recipient of the message found (51114)",
    ), // 1517
];

/// Whether `outcome` is the missing interface permission, which only a token fetched after the
/// grant fixes.
pub fn needs_new_token(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Permanent { code, .. } if code == PERMISSION.code)
}

/// Code 51019 (line 888): recipients who do not follow the public account.
pub const NON_FANS: &str = "51019";

/// Reads an answer's code, or says what the answer means without one. HTTP 501 is the missing
/// interface permission (line 514), whatever the body.
pub fn read(answer: &UpstreamAnswer) -> Result<(String, Value), Outcome> {
    if answer.http_status == 501 {
        return Err(outcome(PERMISSION, None));
    }
    let v = answer.json();
    match str_of(&v, "code") {
        Some(code) => Ok((code, v)),
        None => Err(by_http_status(answer.http_status, excerpt(answer))),
    }
}

/// The outcome of a public-account answer (send, update or recall).
pub fn classify(call: &PartCall<'_>, answer: &UpstreamAnswer) -> Outcome {
    let (code, v) = match read(answer) {
        Ok(r) => r,
        Err(o) => return o,
    };
    let upstream = str_of(&v, "message");
    match code.as_str() {
        "0" => Outcome::Sent {
            upstream_id: str_of(&v, "itemId"),
            failed_recipients: failed(
                call,
                &v,
                "failed_user",
                "WeLink listed this user in failedUserId",
            ),
        },
        NON_FANS => non_fans(call, &v),
        _ => match lookup(&[HOST, MESSAGES], &code) {
            Some(r) => outcome(r, upstream.as_deref()),
            None if answer.http_status >= 500 => Outcome::Transient {
                code,
                message: excerpt(answer),
            },
            None => unknown(&code, excerpt(answer)),
        },
    }
}

fn failed(call: &PartCall<'_>, v: &Value, code: &str, message: &str) -> Vec<FailedRecipient> {
    ids_of(v, "failedUserId", ',')
        .iter()
        .map(|id| FailedRecipient {
            recipient: original_spelling(id, call.recipients),
            code: code.into(),
            message: message.into(),
        })
        .collect()
}

/// 51019: the non-fans in `failedUserId` fail for good. With an `itemId` the others got the
/// message; without one the call is made again for the others so that the delivery has an id to
/// recall (contract §5).
fn non_fans(call: &PartCall<'_>, v: &Value) -> Outcome {
    let failed = failed(
        call,
        v,
        NON_FANS,
        "does not follow the public account (不能给非粉丝用户推送消息)",
    );
    if let Some(item) = str_of(v, "itemId") {
        return Outcome::Sent {
            upstream_id: Some(item),
            failed_recipients: failed,
        };
    }
    let remaining: Vec<String> = call
        .recipients
        .iter()
        .filter(|r| !failed.iter().any(|f| f.recipient.eq_ignore_ascii_case(r)))
        .cloned()
        .collect();
    if call.recipients.is_empty() {
        // A department or role call: its members are not listed, so it cannot be narrowed.
        return Outcome::Permanent {
            code: NON_FANS.into(),
            message: "WeLink refused non-fans in a department or role call and returned no itemId (51019)".into(),
        };
    }
    if failed.is_empty() || remaining.is_empty() || remaining.len() == call.recipients.len() {
        let names: Vec<&str> = failed.iter().map(|f| f.recipient.as_str()).collect();
        return Outcome::Permanent {
            code: NON_FANS.into(),
            message: format!(
                "no recipient of this call follows the public account (51019); non-fans: {}",
                if names.is_empty() {
                    "not named".to_string()
                } else {
                    names.join(", ")
                }
            ),
        };
    }
    let mut body = call.body.clone();
    if let Some(b) = body.as_object_mut() {
        b.insert("toUserList".into(), json!(remaining));
    }
    Outcome::Resend {
        failed_recipients: failed,
        body,
        recipients: remaining,
    }
}
