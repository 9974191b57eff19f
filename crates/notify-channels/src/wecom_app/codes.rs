//! WeCom app answers → [`Outcome`]. The classes are UPSTREAM-FACTS.md's (lines 38–48), which
//! gathers them from WeCom's own documentation; the Node library (003_…) shows only `errcode: 0`.

use notify_core::{FailedRecipient, Outcome, PartOp};

use crate::support::answer::{excerpt, ids_of, original_spelling, str_of};
use crate::support::classes::{by_http_status, lookup, outcome, rule, unknown, Class, Rule};
use crate::{PartCall, UpstreamAnswer};

/// Every code with a class.
pub const CODES: &[Rule] = &[
    rule("-1", Class::Transient, "WeCom system busy (-1)"), // line 42
    rule(
        "45009",
        Class::RateLimited(60_000),
        "WeCom API frequency limit (45009): blocked for the rest of the minute",
    ), // line 41; contract §5: back-off near 60 s
    rule(
        "45033",
        Class::RateLimited(2_000),
        "too many concurrent WeCom calls (45033)",
    ), // line 41
    rule("40014", Class::TokenInvalid, "invalid access_token (40014)"), // line 43
    rule("42001", Class::TokenInvalid, "access_token expired (42001)"), // line 43
    rule("41001", Class::TokenInvalid, "access_token missing (41001)"), // line 43
    rule(
        "60020",
        Class::Permanent,
        "the gateway's egress IP is not among the app's trusted IPs (60020): add the gateway's outgoing IP address to the app's trusted IP list (企业可信IP) in the WeCom admin console",
    ), // line 44
    rule(
        "48002",
        Class::Permanent,
        "the app may not call this API (48002): grant the API to the app in the WeCom admin console",
    ), // line 44
    rule(
        "301002",
        Class::Permanent,
        "agent_id is not the app whose corp_secret made the token (301002): make agent_id and corp_secret belong to the same app",
    ), // lines 20, 44
    rule(
        "40001",
        Class::CredentialRejected,
        "corp_secret is wrong (40001): fix the channel's corp_secret",
    ), // lines 14, 44
    rule(
        "40013",
        Class::CredentialRejected,
        "corp_id is wrong (40013): fix the channel's corp_id",
    ), // lines 14, 44
    rule(
        "40091",
        Class::CredentialRejected,
        "corp_secret is invalid (40091): fix the channel's corp_secret",
    ), // lines 14, 44
    rule(
        "45031",
        Class::CredentialRejected,
        "wrong corp id or secret (45031): fix corp_id and corp_secret",
    ), // line 14
    rule("40008", Class::Permanent, "invalid message type (40008)"), // line 45
    rule("44004", Class::Permanent, "the text content is empty (44004)"), // line 45
    rule("45002", Class::Permanent, "the content is too long (45002)"), // line 45
    rule("40058", Class::Permanent, "invalid parameter (40058)"), // line 45
    rule("40032", Class::Permanent, "invalid recipient list length (40032)"), // line 45
    rule("82001", Class::Permanent, "no valid recipient: touser, toparty and totag are all empty or invalid (82001)"), // lines 19, 45
    rule("82002", Class::Permanent, "invalid party list (82002)"), // line 45
    rule("82003", Class::Permanent, "invalid tag list (82003)"), // line 45
    rule("81013", Class::Permanent, "every recipient is invalid (81013)"), // lines 31, 45
    // Media the upload refuses (WeCom's global code list, not in the seeds): the same file would
    // be refused again.
    rule("40004", Class::Permanent, "invalid media type (40004)"),
    rule("40005", Class::Permanent, "invalid file type for this media type (40005)"),
    rule("40006", Class::Permanent, "invalid file size: more than 5 bytes and at most 10 MB for images, 20 MB for files (40006)"),
    rule("40007", Class::MediaExpired, "the uploaded media id is invalid or expired (40007)"), // line 46
    rule(
        "42052",
        Class::Permanent,
        "the message is more than 24 h old and can no longer be recalled (42052)",
    ), // line 48
];

/// Retries of a call answered `-1` (system busy): "the docs advise at most 3 retries for `-1`"
/// (UPSTREAM-FACTS line 42). The attempts a part has spent count, whatever spent them.
pub const BUSY_MAX_RETRIES: i64 = 3;

/// The outcome of a send, upload or recall answer.
pub fn classify(call: &PartCall<'_>, answer: &UpstreamAnswer) -> Outcome {
    if answer.http_status >= 500 {
        return Outcome::Transient {
            code: answer.http_status.to_string(),
            message: excerpt(answer),
        };
    }
    let v = answer.json();
    // `errcode` is a number, or a string in some examples (003_… line 466): read either.
    let code = str_of(&v, "errcode");
    let media_id = str_of(&v, "media_id");
    match code.as_deref() {
        // The upload example (003_… line 571) shows no errcode at all.
        None if call.op == PartOp::Upload && media_id.is_some() => Outcome::Sent {
            upstream_id: media_id,
            failed_recipients: Vec::new(),
        },
        None => by_http_status(answer.http_status, excerpt(answer)),
        Some("0") => Outcome::Sent {
            upstream_id: match call.op {
                PartOp::Upload => media_id,
                _ => str_of(&v, "msgid"),
            },
            failed_recipients: failed(call, &v),
        },
        Some("-1") if call.attempts >= BUSY_MAX_RETRIES => Outcome::Permanent {
            code: "-1".into(),
            message: format!(
                "WeCom system busy (-1), still after {BUSY_MAX_RETRIES} retries (upstream: {})",
                str_of(&v, "errmsg").unwrap_or_default()
            ),
        },
        Some(c) => match lookup(&[CODES], c) {
            Some(r) => outcome(r, str_of(&v, "errmsg").as_deref()),
            None => unknown(c, excerpt(answer)),
        },
    }
}

/// `errcode: 0` with invalid lists is a partial failure (UPSTREAM-FACTS lines 29–31). User ids
/// come back lower-cased and are reported as the caller spelled them; parties and tags are not
/// members and are reported as `party:ID` and `tag:ID`.
fn failed(call: &PartCall<'_>, v: &serde_json::Value) -> Vec<FailedRecipient> {
    let mut out = Vec::new();
    let lists = [
        (
            "invaliduser",
            "",
            "unknown user, or outside the app's visible range",
        ),
        (
            "unlicenseduser",
            "",
            "the user has no WeCom license for this app",
        ),
        (
            "invalidparty",
            "party:",
            "unknown party, or outside the app's visible range",
        ),
        (
            "invalidtag",
            "tag:",
            "unknown tag, or outside the app's visible range",
        ),
    ];
    for (key, prefix, why) in lists {
        for id in ids_of(v, key, '|') {
            let recipient = if prefix.is_empty() {
                original_spelling(&id, call.recipients)
            } else {
                format!("{prefix}{id}")
            };
            out.push(FailedRecipient {
                recipient,
                code: key.into(),
                message: why.into(),
            });
        }
    }
    out
}
