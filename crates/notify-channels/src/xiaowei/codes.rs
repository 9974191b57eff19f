//! Xiaowei answers → [`Outcome`] (000_… lines 1624–1633), after the WeLink host codes.

use notify_core::Outcome;

use crate::support::answer::{excerpt, str_of};
use crate::support::classes::{lookup, outcome, rule, unknown, Class, Rule};
use crate::welink::codes::{read, HOST};
use crate::UpstreamAnswer;

/// Xiaowei push codes.
pub const PUSH: &[Rule] = &[
    rule("58401", Class::TokenInvalid, "token check failed (58401)"), // line 1628
    rule("58500", Class::Transient, "Xiaowei internal error (58500)"), // line 1629; contract §5
    rule("58601", Class::Permanent, "parameter check failed (58601)"), // line 1630
    rule(
        "58602",
        Class::RateLimited(1000),
        "Xiaowei call frequency over the limit (58602)",
    ), // line 1631
    rule(
        "58604",
        Class::QuotaExhausted,
        "today's Xiaowei calls are used up (58604): 100 per enterprise per day",
    ), // line 1632 (quota: line 1523)
    rule(
        "58606",
        Class::Permanent,
        "an illegal account is among the recipients (58606)",
    ), // line 1633
];

/// The outcome of a push answer: `code` `"0"` with `data.pushId` (lines 1569–1576).
pub fn classify(answer: &UpstreamAnswer) -> Outcome {
    let (code, v) = match read(answer) {
        Ok(r) => r,
        Err(o) => return o,
    };
    if code == "0" {
        return Outcome::Sent {
            upstream_id: v.get("data").and_then(|d| str_of(d, "pushId")),
            failed_recipients: Vec::new(),
        };
    }
    match lookup(&[HOST, PUSH], &code) {
        Some(r) => outcome(r, str_of(&v, "message").as_deref()),
        None if answer.http_status >= 500 => Outcome::Transient {
            code,
            message: excerpt(answer),
        },
        None => unknown(&code, excerpt(answer)),
    }
}
