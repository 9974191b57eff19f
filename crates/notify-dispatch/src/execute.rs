//! One part, start to finish: deadline, quota, member limits, media, token, the call, and the
//! decision. Everything the dispatcher knows about a call happens here; what the answer means
//! is the adapter's business.

use std::time::Instant;

use notify_channels::{PartCall, UpstreamAnswer};
use notify_core::clock::{shanghai_day, shanghai_day_start_ms};
use notify_core::{Outcome, PartOp};
use notify_store::{AttemptRecord, ClaimedPart, Completion, PartResult};

use crate::decide::{decide, LaneSignal};
use crate::http::TransportError;
use crate::tokens::TokenError;
use crate::Dispatcher;

impl Dispatcher {
    /// Executes a claimed part and returns its completion and what the lane should learn.
    pub async fn execute(&self, part: &ClaimedPart) -> (Completion, LaneSignal) {
        let now = self.store.now_ms();
        let finish = |result: PartResult, attempt: Option<AttemptRecord>| Completion {
            part_id: part.id.clone(),
            lease_token: part.lease_token.clone(),
            result,
            attempt,
        };
        let Some(handle) = self.channels.get(&part.channel).cloned() else {
            return (
                finish(
                    PartResult::Failed {
                        error: format!("channel {:?} is no longer configured", part.channel),
                    },
                    None,
                ),
                LaneSignal::Neutral,
            );
        };
        if matches!(part.op, PartOp::Send | PartOp::Upload) && now >= part.expires_at {
            return (
                finish(
                    PartResult::Expired {
                        error: "expired before it could be sent".into(),
                    },
                    None,
                ),
                LaneSignal::Neutral,
            );
        }
        let credential = handle.adapter.credential();
        if let (Some(limit), PartOp::Send) = (handle.daily_quota(), part.op) {
            let day = shanghai_day(now);
            match self
                .store
                .reserve_quota(&credential, day, i64::from(limit))
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    return (
                        finish(self.over_quota(part, day), None),
                        LaneSignal::Neutral,
                    )
                }
                Err(e) => {
                    return (
                        finish(self.store_trouble(&e.to_string()), None),
                        LaneSignal::Neutral,
                    )
                }
            }
        }
        if let (Some(limits), PartOp::Send) = (handle.member_limits(), part.op) {
            if let Some(until) = self
                .members
                .admit(&credential, &part.recipients, limits, now)
            {
                metrics::counter!("notify_member_limit_waits_total", "channel" => handle.name.clone()).increment(1);
                return (
                    finish(
                        PartResult::Retry {
                            at_ms: until,
                            spend_attempt: false,
                            error: "a recipient reached WeCom's per-member limit; held back instead of being dropped upstream".into(),
                            possible_duplicate: false,
                        },
                        None,
                    ),
                    LaneSignal::Neutral,
                );
            }
        }
        let media = if part.op == PartOp::Upload {
            let src = part
                .body
                .get("source_url")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            match self.fetcher.fetch(src).await {
                Ok(m) => Some(m),
                Err(e) => {
                    return (
                        finish(
                            PartResult::Failed {
                                error: format!("media fetch: {e}"),
                            },
                            None,
                        ),
                        LaneSignal::Neutral,
                    )
                }
            }
        } else {
            None
        };

        let mut refreshed = false;
        loop {
            let token = if handle.adapter.token_request().is_some() {
                match self.tokens.token(&handle).await {
                    Ok(t) => Some(t),
                    Err(TokenError::Rejected(e)) => {
                        return (
                            finish(PartResult::Failed { error: e }, None),
                            LaneSignal::Neutral,
                        )
                    }
                    Err(TokenError::Later(e)) => {
                        let (r, s) = decide(
                            &Outcome::Transient {
                                code: "token".into(),
                                message: e,
                            },
                            part.attempts,
                            now,
                            &self.policy,
                        );
                        return (finish(r, None), s);
                    }
                }
            } else {
                None
            };
            let call = PartCall {
                op: part.op,
                interface: &part.interface,
                body: &part.body,
                recipients: &part.recipients,
                token: token.as_deref(),
                dependency_id: part.dependency_id.as_deref(),
                media: media.as_ref(),
                context: &part.context,
            };
            let started = Instant::now();
            let at = self.store.now_ms();
            let (outcome, answer) = match handle.adapter.local_outcome(&call) {
                Some(o) => (o, None),
                None => {
                    let req = handle.adapter.request(&call);
                    match self.http.call(&req).await {
                        Ok(a) => (handle.adapter.classify(&call, &a), Some(a)),
                        Err(TransportError::NotSent(e)) => (
                            Outcome::Transient {
                                code: "connect".into(),
                                message: e,
                            },
                            None,
                        ),
                        Err(TransportError::Unknown(e)) => {
                            (Outcome::OutcomeUnknown { message: e }, None)
                        }
                    }
                }
            };
            let duration = started.elapsed();
            metrics::histogram!("notify_upstream_call_seconds", "lane" => format!("{}|{}", credential, part.interface), "result" => outcome.label())
                .record(duration.as_secs_f64());
            let attempt = attempt_record(
                at,
                &part.interface,
                &outcome,
                answer.as_ref(),
                duration.as_millis() as i64,
            );
            if let Outcome::TokenInvalid { .. } = outcome {
                if let Some(t) = &token {
                    self.tokens.invalidate(&handle, t).await;
                }
                if !refreshed {
                    refreshed = true;
                    tracing::info!(part = %part.id, code = %attempt.upstream_code.clone().unwrap_or_default(), "token refused; fetching a new one and retrying once");
                    continue;
                }
            }
            if let Outcome::Permanent { code, .. } = &outcome {
                // WeLink 501: interface permission missing. Only a token fetched after the grant
                // carries it, so the token goes too (contract §5).
                if code == "501" {
                    if let Some(t) = &token {
                        self.tokens.invalidate(&handle, t).await;
                    }
                }
            }
            if let Outcome::CredentialRejected { code, message } = &outcome {
                let _ = self
                    .store
                    .reject_credential(&credential, code, message)
                    .await;
            }
            if let Outcome::RateLimited { code, .. } = &outcome {
                metrics::counter!("notify_rate_limited_total", "channel" => handle.name.clone(), "code" => code.clone()).increment(1);
            }
            let (mut result, signal) =
                decide(&outcome, part.attempts, self.store.now_ms(), &self.policy);
            if let Outcome::QuotaExhausted { .. } = &outcome {
                let day = shanghai_day(self.store.now_ms());
                let _ = self.store.close_quota_day(&credential, day).await;
                result = self.over_quota(part, day);
            }
            return (finish(result, Some(attempt)), signal);
        }
    }

    /// A part over its daily quota waits for the next quota day, or expires now if its deadline
    /// comes first (contract §4).
    fn over_quota(&self, part: &ClaimedPart, day: i64) -> PartResult {
        let next_day = shanghai_day_start_ms(day + 1);
        if part.expires_at <= next_day {
            PartResult::Expired {
                error: "daily quota spent; it would expire before the next quota day".into(),
            }
        } else {
            PartResult::Retry {
                at_ms: next_day,
                spend_attempt: false,
                error: "daily quota spent; waits for the next quota day (Asia/Shanghai)".into(),
                possible_duplicate: false,
            }
        }
    }

    fn store_trouble(&self, e: &str) -> PartResult {
        PartResult::Retry {
            at_ms: self.store.now_ms() + 1_000,
            spend_attempt: false,
            error: format!("store: {e}"),
            possible_duplicate: false,
        }
    }
}

fn attempt_record(
    at: i64,
    endpoint: &str,
    outcome: &Outcome,
    answer: Option<&UpstreamAnswer>,
    duration_ms: i64,
) -> AttemptRecord {
    let json = answer.map(|a| a.json()).unwrap_or(serde_json::Value::Null);
    let upstream_message = json
        .get("message")
        .or_else(|| json.get("errmsg"))
        .or_else(|| json.get("msg"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| match outcome {
            Outcome::Transient { message, .. }
            | Outcome::OutcomeUnknown { message }
            | Outcome::RateLimited { message, .. }
            | Outcome::TokenInvalid { message, .. }
            | Outcome::QuotaExhausted { message, .. }
            | Outcome::MediaExpired { message, .. }
            | Outcome::CredentialRejected { message, .. }
            | Outcome::Permanent { message, .. } => Some(message.clone()),
            _ => Some("ok".into()),
        });
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
