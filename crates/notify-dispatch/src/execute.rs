//! One part, start to finish: admission (deadline, member caps), media, token, the call
//! (`call.rs`, through the lane's gate and the daily quota) and settling its answer
//! (`settle.rs`), with one retry when upstream refuses the token. What an answer means is the
//! adapter's business.

use notify_store::{AttemptRecord, ClaimedPart, Completion, PartResult};
use tracing::Instrument;

use crate::admission::Gate;
use crate::call::CallInput;
use crate::completion::completion_of;
use crate::decide::LaneSignal;
use crate::Dispatcher;

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
        let (result, attempt, signal) = self.execute_inner(part, gate).instrument(span).await;
        let completion = completion_of(part, result, attempt);
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
    ) -> (PartResult, Option<AttemptRecord>, LaneSignal) {
        let now = self.store.now_ms();
        let without_call = |result: PartResult| (result, None, LaneSignal::Neutral);
        // Borrowed, not cloned: a handle carries the channel's whole config.
        let Some(handle) = self.channels.get(&part.channel) else {
            return without_call(PartResult::Failed {
                error: format!("channel {:?} is no longer configured", part.channel),
            });
        };
        if let Some(result) = self.admit(part, handle, now) {
            return without_call(result);
        }
        let media = match self.fetch_media(part).await {
            Ok(m) => m,
            Err(result) => return without_call(result),
        };
        // The token upstream refused, once it has: the retry must not get it back.
        let mut refused: Option<String> = None;
        let mut quota_reserved = false;
        loop {
            let token = match self.token_for(handle, refused.as_deref()).await {
                Ok(t) => t,
                Err(e) => {
                    let (result, signal) = self.settle_token_error(part, handle, e, now);
                    return (result, None, signal);
                }
            };
            let input = CallInput {
                part,
                handle,
                token: token.as_deref(),
                media: media.as_ref(),
            };
            let called = match self.call(&input, gate, &mut quota_reserved).await {
                Ok(c) => c,
                Err(result) => return without_call(result),
            };
            let first_refusal = refused.is_none();
            let settled = self
                .settle(part, handle, token.as_deref(), called, first_refusal)
                .await;
            match settled {
                None => refused = Some(token.unwrap_or_default()),
                Some((result, attempt, signal)) => return (result, Some(attempt), signal),
            }
        }
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
