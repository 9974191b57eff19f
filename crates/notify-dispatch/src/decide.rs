//! What the dispatcher does with an outcome (ARCHITECTURE.md's table), as a pure function so
//! every row is tested without a network.

use std::time::Duration;

use notify_core::Outcome;
use notify_store::PartResult;

use crate::backoff::full_jitter;

/// The retry settings of `[delivery]`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts before a part fails.
    pub max_attempts: i64,
    /// First back-off step.
    pub backoff_base: Duration,
    /// Largest back-off.
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
        }
    }
}

/// What the lane learns from an outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum LaneSignal {
    /// Upstream accepted a call: the lane opens fully.
    Success,
    /// Upstream rate-limited: pause, starting at this step.
    RateLimited(Duration),
    /// Neither.
    Neutral,
}

/// The part's fate after `outcome`, given the attempts already spent.
pub fn decide(
    outcome: &Outcome,
    attempts_before: i64,
    now_ms: i64,
    policy: &RetryPolicy,
) -> (PartResult, LaneSignal) {
    let retry_or_fail = |error: String, possible_duplicate: bool| {
        retry_or_fail(error, possible_duplicate, attempts_before, now_ms, policy)
    };
    match outcome {
        Outcome::Sent {
            upstream_id,
            failed_recipients,
        } => (
            PartResult::Done {
                upstream_id: upstream_id.clone(),
                failed_recipients: failed_recipients.clone(),
            },
            LaneSignal::Success,
        ),
        Outcome::Resend {
            failed_recipients,
            body,
            recipients,
        } => (
            PartResult::Resend {
                body: body.clone(),
                recipients: recipients.clone(),
                failed_recipients: failed_recipients.clone(),
            },
            LaneSignal::Success,
        ),
        Outcome::Transient { code, message } => (
            retry_or_fail(format!("{code}: {message}"), false),
            LaneSignal::Neutral,
        ),
        Outcome::OutcomeUnknown { message } => (
            retry_or_fail(
                format!("outcome unknown (possible duplicate): {message}"),
                true,
            ),
            LaneSignal::Neutral,
        ),
        Outcome::RateLimited {
            code,
            message,
            initial_backoff,
        } => (
            PartResult::Retry {
                at_ms: now_ms + initial_backoff.as_millis() as i64,
                spend_attempt: false,
                error: format!("{code}: {message}"),
                possible_duplicate: false,
            },
            LaneSignal::RateLimited(*initial_backoff),
        ),
        // Reached only when a fresh token was refused too: count it and back off.
        Outcome::TokenInvalid { code, message } => (
            retry_or_fail(
                format!("{code}: token refused after a refresh: {message}"),
                false,
            ),
            LaneSignal::Neutral,
        ),
        Outcome::QuotaExhausted { code, message } => (
            PartResult::Retry {
                at_ms: now_ms,
                spend_attempt: false,
                error: format!("{code}: {message}"),
                possible_duplicate: false,
            },
            LaneSignal::Neutral,
        ),
        Outcome::MediaExpired { code, message } => (
            PartResult::Reupload {
                error: format!("{code}: {message}"),
            },
            LaneSignal::Neutral,
        ),
        Outcome::CredentialRejected { code, message } | Outcome::Permanent { code, message } => (
            PartResult::Failed {
                error: format!("{code}: {message}"),
            },
            LaneSignal::Neutral,
        ),
    }
}

/// A retry after a back-off step that spends an attempt, or the part's failure once its
/// attempts are used up.
fn retry_or_fail(
    error: String,
    possible_duplicate: bool,
    attempts_before: i64,
    now_ms: i64,
    policy: &RetryPolicy,
) -> PartResult {
    if attempts_before + 1 >= policy.max_attempts {
        PartResult::Failed {
            error: format!(
                "max attempts ({}) used up; last error: {error}",
                policy.max_attempts
            ),
        }
    } else {
        let wait = full_jitter(policy.backoff_base, policy.backoff_max, attempts_before);
        PartResult::Retry {
            at_ms: now_ms + wait.as_millis() as i64,
            spend_attempt: true,
            error,
            possible_duplicate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    #[test]
    fn rate_limits_spend_no_attempt() {
        let (r, s) = decide(
            &Outcome::RateLimited {
                code: "48503".into(),
                message: "busy".into(),
                initial_backoff: Duration::from_secs(1),
            },
            3,
            1_000,
            &policy(),
        );
        assert!(matches!(
            r,
            PartResult::Retry {
                spend_attempt: false,
                at_ms: 2_000,
                ..
            }
        ));
        assert_eq!(s, LaneSignal::RateLimited(Duration::from_secs(1)));
    }

    #[test]
    fn transient_errors_retry_until_max_attempts() {
        let t = Outcome::Transient {
            code: "51078".into(),
            message: "system error".into(),
        };
        assert!(matches!(
            decide(&t, 0, 0, &policy()).0,
            PartResult::Retry {
                spend_attempt: true,
                ..
            }
        ));
        assert!(matches!(
            decide(&t, 9, 0, &policy()).0,
            PartResult::Failed { .. }
        ));
    }

    #[test]
    fn unknown_outcomes_are_flagged() {
        let (r, _) = decide(
            &Outcome::OutcomeUnknown {
                message: "timeout".into(),
            },
            0,
            0,
            &policy(),
        );
        assert!(matches!(
            r,
            PartResult::Retry {
                possible_duplicate: true,
                ..
            }
        ));
    }

    #[test]
    fn permanent_errors_fail_at_once() {
        let (r, _) = decide(
            &Outcome::Permanent {
                code: "51062".into(),
                message: "illegal parameter".into(),
            },
            0,
            0,
            &policy(),
        );
        assert!(matches!(r, PartResult::Failed { ref error } if error.contains("51062")));
    }

    #[test]
    fn expired_media_is_uploaded_again() {
        let (r, _) = decide(
            &Outcome::MediaExpired {
                code: "40007".into(),
                message: "invalid media_id".into(),
            },
            0,
            0,
            &policy(),
        );
        assert!(matches!(r, PartResult::Reupload { .. }));
    }
}
