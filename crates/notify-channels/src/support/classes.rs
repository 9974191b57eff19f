//! Code tables: each adapter lists every code its documents give, with the class the dispatcher
//! acts on (ARCHITECTURE.md, "What the dispatcher does with an answer").

use std::time::Duration;

use notify_core::Outcome;

/// What a code means for the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Retry with back-off.
    Transient,
    /// Pause the lane, requeue, spend no attempt; the first back-off step in milliseconds.
    RateLimited(u64),
    /// Drop the token, fetch once, retry.
    TokenInvalid,
    /// The daily quota is spent.
    QuotaExhausted,
    /// Upload the media again.
    MediaExpired,
    /// The credential is wrong: stop fetching tokens for it.
    CredentialRejected,
    /// Never succeeds as it is.
    Permanent,
}

/// One documented code.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The code as upstream sends it.
    pub code: &'static str,
    /// Its class.
    pub class: Class,
    /// What it means, for the attempt log (and, for configuration errors, what to fix).
    pub meaning: &'static str,
}

/// Shorthand for table rows.
pub const fn rule(code: &'static str, class: Class, meaning: &'static str) -> Rule {
    Rule {
        code,
        class,
        meaning,
    }
}

/// The row of `code`, searching the tables in order.
pub fn lookup(tables: &[&[Rule]], code: &str) -> Option<Rule> {
    tables
        .iter()
        .flat_map(|t| t.iter())
        .find(|r| r.code == code)
        .copied()
}

/// The outcome of a documented code; `upstream` is upstream's own message, kept after ours.
pub fn outcome(rule: Rule, upstream: Option<&str>) -> Outcome {
    let code = rule.code.to_string();
    let message = match upstream {
        Some(u) if !u.is_empty() => format!("{} (upstream: {u})", rule.meaning),
        _ => rule.meaning.to_string(),
    };
    match rule.class {
        Class::Transient => Outcome::Transient { code, message },
        Class::RateLimited(ms) => Outcome::RateLimited {
            code,
            message,
            initial_backoff: Duration::from_millis(ms),
        },
        Class::TokenInvalid => Outcome::TokenInvalid { code, message },
        Class::QuotaExhausted => Outcome::QuotaExhausted { code, message },
        Class::MediaExpired => Outcome::MediaExpired { code, message },
        Class::CredentialRejected => Outcome::CredentialRejected { code, message },
        Class::Permanent => Outcome::Permanent { code, message },
    }
}

/// An undocumented code: retried (the dispatcher bounds the attempts), with the raw answer kept
/// so that an operator can add it to the table.
pub fn unknown(code: &str, raw: String) -> Outcome {
    Outcome::Transient {
        code: code.to_string(),
        message: format!("undocumented upstream code {code}; answer: {raw}"),
    }
}

/// The outcome of an answer without a readable code: 5xx is retried, 429 paces the lane, and
/// anything else is retried a bounded number of times with the raw answer kept.
pub fn by_http_status(status: u16, raw: String) -> Outcome {
    if status == 429 {
        return Outcome::RateLimited {
            code: "429".into(),
            message: format!("upstream answered 429: {raw}"),
            initial_backoff: Duration::from_secs(1),
        };
    }
    Outcome::Transient {
        code: status.to_string(),
        message: format!("no upstream code in the answer: {raw}"),
    }
}
