//! Settling an answer: the attempt it is recorded as, its metrics and log line, the token it
//! drops, the credential it rejects, the quota day it closes, and the part's fate (`decide`).
//! A token refused for the first time asks for one retry with a new token instead.

use notify_channels::{ChannelHandle, Settled, UpstreamAnswer};
use notify_core::clock::shanghai_day;
use notify_core::Outcome;
use notify_store::{AttemptRecord, ClaimedPart, PartResult};
use notify_upstream::tokens::TokenError;

use crate::admission::over_quota;
use crate::call::Called;
use crate::decide::{decide, LaneSignal};
use crate::Dispatcher;

/// The part's result, the attempt to record and what the lane learns.
pub(crate) type Settlement = (PartResult, AttemptRecord, LaneSignal);

impl Dispatcher {
    /// Settles `called`, made for `part` on `handle`'s channel with `token`; `first_refusal`
    /// is true while no token of this execution has been refused yet. `None` when upstream
    /// refused the token for the first time: fetch a new one and call once more.
    pub(crate) async fn settle(
        &self,
        part: &ClaimedPart,
        handle: &ChannelHandle,
        token: Option<&str>,
        called: Called,
        first_refusal: bool,
    ) -> Option<Settlement> {
        let Called {
            settled,
            answer,
            at,
            started,
        } = called;
        let Settled {
            outcome,
            upstream_message,
            drop_token,
        } = settled;
        let credential = handle.adapter.credential();
        let duration = started.elapsed();
        metrics::histogram!("notify_upstream_call_seconds", "lane" => format!("{}|{}", credential, part.interface), "result" => outcome.label())
            .record(duration.as_secs_f64());
        let attempt = attempt_record(
            at,
            &part.interface,
            &outcome,
            answer.as_ref(),
            upstream_message,
            duration.as_millis() as i64,
        );
        // Inside the `execute` span: the line carries the message, delivery and part ids.
        tracing::debug!(
            interface = %part.interface,
            result = outcome.label(),
            code = attempt.upstream_code.as_deref().unwrap_or(""),
            ms = duration.as_millis() as u64,
            "upstream outcome"
        );
        // A refused token, or an answer only a newer token fixes (the channel says which).
        if drop_token {
            if let Some(t) = token {
                self.tokens.invalidate(handle, t).await;
            }
        }
        if let (Outcome::TokenInvalid { .. }, true) = (&outcome, first_refusal) {
            tracing::info!(part = %part.id, code = %attempt.upstream_code.clone().unwrap_or_default(), "token refused; fetching a new one and retrying once");
            return None;
        }
        let (result, signal) = self.decide_outcome(part, handle, &outcome).await;
        Some((result, attempt, signal))
    }

    /// The part's fate after `outcome`, with what the outcome does besides: a rejected
    /// credential is marked in the store, an upstream quota answer closes the quota day.
    async fn decide_outcome(
        &self,
        part: &ClaimedPart,
        handle: &ChannelHandle,
        outcome: &Outcome,
    ) -> (PartResult, LaneSignal) {
        if let Outcome::CredentialRejected { code, message } = outcome {
            let _ = self
                .store
                .tokens()
                .reject_credential(&handle.adapter.credential(), code, message)
                .await;
        }
        if let Outcome::RateLimited { code, .. } = outcome {
            metrics::counter!("notify_rate_limited_total", "channel" => handle.name.clone(), "code" => code.clone()).increment(1);
        }
        let (mut result, signal) =
            decide(outcome, part.attempts, self.store.now_ms(), &self.policy);
        if let Outcome::QuotaExhausted { .. } = outcome {
            metrics::counter!("notify_quota_exhausted_total", "channel" => handle.name.clone(), "source" => "upstream").increment(1);
            let day = shanghai_day(self.store.now_ms());
            if let Some(key) = handle.quota_key() {
                let _ = self.store.quota().close_quota_day(&key, day).await;
            }
            result = over_quota(part, day);
        }
        (result, signal)
    }

    /// A token that could not be had settles the part without a call. A rate limit on the
    /// token fetch is the rate limit it is: the lane (and, by the group rule, its egress group)
    /// pauses and no attempt is spent. `started_ms` is the store's time when the execution
    /// began (a token that must wait backs off from there).
    pub(crate) fn settle_token_error(
        &self,
        part: &ClaimedPart,
        handle: &ChannelHandle,
        error: TokenError,
        started_ms: i64,
    ) -> (PartResult, LaneSignal) {
        match error {
            TokenError::Rejected(e) => (PartResult::Failed { error: e }, LaneSignal::Neutral),
            TokenError::RateLimited {
                code,
                message,
                initial_backoff,
            } => {
                metrics::counter!("notify_rate_limited_total", "channel" => handle.name.clone(), "code" => code.clone()).increment(1);
                decide(
                    &Outcome::RateLimited {
                        code,
                        message,
                        initial_backoff,
                    },
                    part.attempts,
                    self.store.now_ms(),
                    &self.policy,
                )
            }
            TokenError::Later(e) => decide(
                &Outcome::Transient {
                    code: "token".into(),
                    message: e,
                },
                part.attempts,
                started_ms,
                &self.policy,
            ),
        }
    }
}

fn attempt_record(
    at: i64,
    endpoint: &str,
    outcome: &Outcome,
    answer: Option<&UpstreamAnswer>,
    upstream_message: Option<String>,
    duration_ms: i64,
) -> AttemptRecord {
    AttemptRecord {
        at,
        endpoint: endpoint.to_string(),
        http_status: answer.map(|a| i64::from(a.http_status)),
        upstream_code: Some(outcome.code().to_string()),
        upstream_message,
        duration_ms,
        outcome: outcome.label().to_string(),
        possible_duplicate: matches!(outcome, Outcome::OutcomeUnknown { .. }),
    }
}
