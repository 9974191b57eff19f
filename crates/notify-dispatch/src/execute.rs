//! One part, start to finish: deadline, quota, member limits, media, token, the call, and the
//! decision. Everything the dispatcher knows about a call happens here; what the answer means
//! is the adapter's business.

use std::time::Instant;

use notify_channels::{PartCall, Settled, UpstreamAnswer};
use notify_core::clock::{shanghai_day, shanghai_day_start_ms};
use notify_core::{Outcome, PartOp};
use notify_store::outbox::RecallStart;
use notify_store::{AttemptRecord, ClaimedPart, Completion, NewPart, PartResult, StoreError};
use tracing::Instrument;

use crate::decide::{decide, LaneSignal};
use crate::runner::Gate;
use crate::Dispatcher;
use notify_upstream::http::TransportError;
use notify_upstream::tokens::TokenError;

/// How long a recall queued by the dispatcher may wait in the outbox (as the API's recalls).
const RECALL_TTL_MS: i64 = 24 * 3600 * 1000;

impl Dispatcher {
    /// Executes a claimed part and returns its completion and what the lane should learn.
    /// Runs in a span carrying the message, delivery and part ids, so every log line of the
    /// call (token, HTTP, decision) can be found from a message id.
    pub async fn execute(&self, part: &ClaimedPart) -> (Completion, LaneSignal) {
        self.execute_gated(part, None).await
    }

    /// [`Dispatcher::execute`] with the lane's gate passed right before each upstream call
    /// (after the token, so a token fetch cannot bunch calls the paces spaced out).
    pub(crate) async fn execute_gated(
        &self,
        part: &ClaimedPart,
        gate: Option<&Gate<'_>>,
    ) -> (Completion, LaneSignal) {
        let span = tracing::info_span!(
            "execute",
            message = %part.message_id,
            delivery = %part.delivery_id,
            part = %part.id,
            channel = %part.channel,
            op = part.op.as_str(),
            attempt = part.attempts + 1,
        );
        let (completion, signal) = self.execute_inner(part, gate).instrument(span).await;
        metrics::counter!(
            "notify_part_results_total",
            "channel" => part.channel.clone(),
            "op" => part.op.as_str(),
            "result" => result_label(&completion.result),
        )
        .increment(1);
        (completion, signal)
    }

    async fn execute_inner(
        &self,
        part: &ClaimedPart,
        gate: Option<&Gate<'_>>,
    ) -> (Completion, LaneSignal) {
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

        // The token upstream refused, once it has: the retry must not get it back.
        let mut refused: Option<String> = None;
        let mut reserved = false;
        loop {
            let token = if handle.adapter.token_request().is_some() {
                let got = match &refused {
                    None => self.tokens.token(&handle).await,
                    Some(bad) => self.tokens.token_after_refusal(&handle, bad).await,
                };
                match got {
                    Ok(t) => Some(t),
                    Err(TokenError::Rejected(e)) => {
                        return (
                            finish(PartResult::Failed { error: e }, None),
                            LaneSignal::Neutral,
                        )
                    }
                    // A rate limit on the token fetch is the rate limit it is: the lane (and,
                    // by the group rule, its egress group) pauses and no attempt is spent.
                    Err(TokenError::RateLimited {
                        code,
                        message,
                        initial_backoff,
                    }) => {
                        metrics::counter!("notify_rate_limited_total", "channel" => handle.name.clone(), "code" => code.clone()).increment(1);
                        let (r, s) = decide(
                            &Outcome::RateLimited {
                                code,
                                message,
                                initial_backoff,
                            },
                            part.attempts,
                            self.store.now_ms(),
                            &self.policy,
                        );
                        return (finish(r, None), s);
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
                now_ms: self.store.now_ms(),
                attempts: part.attempts,
            };
            let started = Instant::now();
            let at = self.store.now_ms();
            let (settled, answer) = match handle.adapter.local_outcome(&call) {
                Some(o) => (Settled::without_answer(o), None),
                None => {
                    // The lane's gate: its pace slot, and then no pause and a live lease.
                    if let Some(g) = gate {
                        if let Some(requeue) = self.pass_gate(g).await {
                            return (finish(requeue, None), LaneSignal::Neutral);
                        }
                    }
                    // Xiaowei's daily quota: a slot is reserved in the store right before the
                    // call, once per execution, and never given back, so a call whose outcome
                    // is unknown (timeout, crash) counts as used. The day is the Asia/Shanghai
                    // day of the store's clock, the database's in the binary (docs/rate-limits.md).
                    // The day belongs to the channel's enterprise, which other channels (other
                    // apps of it) may share.
                    if let (Some(limit), Some(key), PartOp::Send, false) =
                        (handle.daily_quota(), handle.quota_key(), part.op, reserved)
                    {
                        reserved = true;
                        let day = shanghai_day(self.store.now_ms());
                        match self.store.reserve_quota(&key, day, i64::from(limit)).await {
                            Ok(true) => {}
                            Ok(false) => {
                                metrics::counter!("notify_quota_exhausted_total", "channel" => handle.name.clone(), "source" => "local").increment(1);
                                return (
                                    finish(self.over_quota(part, day), None),
                                    LaneSignal::Neutral,
                                );
                            }
                            Err(e) => {
                                return (
                                    finish(self.store_trouble(&e.to_string()), None),
                                    LaneSignal::Neutral,
                                )
                            }
                        }
                    }
                    // Bodies that depend on the time of the call (Xiaowei's `endDate`) get the
                    // time it leaves, after the gate's wait.
                    let call = PartCall {
                        now_ms: self.store.now_ms(),
                        ..call
                    };
                    let req = handle.adapter.request(&call);
                    match self.http.call(&req).await {
                        Ok(a) => (handle.adapter.settle(&call, &a), Some(a)),
                        Err(TransportError::NotSent(e)) => (
                            Settled::without_answer(Outcome::Transient {
                                code: "connect".into(),
                                message: e,
                            }),
                            None,
                        ),
                        Err(TransportError::Unknown(e)) => (
                            Settled::without_answer(Outcome::OutcomeUnknown { message: e }),
                            None,
                        ),
                    }
                }
            };
            let Settled {
                outcome,
                upstream_message,
                drop_token,
            } = settled;
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
                if let Some(t) = &token {
                    self.tokens.invalidate(&handle, t).await;
                }
            }
            if let Outcome::TokenInvalid { .. } = outcome {
                if refused.is_none() {
                    refused = Some(token.clone().unwrap_or_default());
                    tracing::info!(part = %part.id, code = %attempt.upstream_code.clone().unwrap_or_default(), "token refused; fetching a new one and retrying once");
                    continue;
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
                metrics::counter!("notify_quota_exhausted_total", "channel" => handle.name.clone(), "source" => "upstream").increment(1);
                let day = shanghai_day(self.store.now_ms());
                if let Some(key) = handle.quota_key() {
                    let _ = self.store.close_quota_day(&key, day).await;
                }
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

    /// Recalls asked for while a send was in flight ("`sending` → recalled as soon as its send
    /// ends", contract §3): once none of the delivery's calls is in flight, its recall goes
    /// ahead as the API's would — unsent calls cancelled, recall calls queued for the sent
    /// ones. Returns how many deliveries it handled.
    pub async fn finish_pending_recalls(&self) -> Result<usize, StoreError> {
        let ids = self.store.take_pending_recalls().await?;
        for id in &ids {
            if let Err(e) = self.recall_after_send(id).await {
                tracing::warn!(delivery = %id, error = %e, "a recall asked for during a send could not be queued");
            }
        }
        Ok(ids.len())
    }

    async fn recall_after_send(&self, delivery_id: &str) -> Result<(), StoreError> {
        let RecallStart::Sent(sent) = self.store.start_recall(delivery_id).await? else {
            // Cancelled (nothing had left), pending again (a retry was claimed meanwhile: the
            // flag is set again) or final: nothing more to do here.
            return Ok(());
        };
        let Some((message_id, _)) = self.store.delivery_owner(delivery_id).await? else {
            return Ok(());
        };
        let Some(d) = self
            .store
            .get_message(None, &message_id)
            .await?
            .and_then(|m| m.deliveries.into_iter().find(|d| d.id == delivery_id))
        else {
            return Ok(());
        };
        let Some(handle) = self.channels.get(&d.channel) else {
            let reason = format!("channel {:?} is no longer configured", d.channel);
            return self
                .store
                .set_delivery_status(delivery_id, "recall_failed", Some(&reason))
                .await;
        };
        let now = self.store.now_ms();
        let recall =
            match handle.plan_recall_parts(sent.iter().map(|(_, u)| u.as_str()), &d.context) {
                Ok(recall) => recall,
                Err(reason) => {
                    return self
                        .store
                        .set_delivery_status(delivery_id, "not_recallable", Some(&reason))
                        .await
                }
            };
        let parts: Vec<_> = recall
            .calls
            .into_iter()
            .map(|c| NewPart::planned(c.lane, &c.plan, 0, now))
            .collect();
        tracing::info!(delivery = %delivery_id, calls = parts.len(), "send ended; queuing the recall asked for during it");
        self.store
            .append_parts(delivery_id, &parts, RECALL_TTL_MS)
            .await
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

/// A completion's result as a metric label.
fn result_label(r: &PartResult) -> &'static str {
    match r {
        PartResult::Done { .. } => "done",
        PartResult::Retry { .. } => "retry",
        PartResult::Resend { .. } => "resend",
        PartResult::Reupload { .. } => "reupload",
        PartResult::Failed { .. } => "failed",
        PartResult::Expired { .. } => "expired",
    }
}
