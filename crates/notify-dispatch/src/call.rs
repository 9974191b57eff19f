//! The call: what a part needs before it leaves (its media, its token) and the call itself —
//! answered locally by the adapter, or through the lane's gate and the daily quota to upstream
//! over HTTP. What the answer means is settled in `settle.rs`.

use std::time::Instant;

use notify_channels::{ChannelHandle, FetchedMedia, PartCall, Settled, UpstreamAnswer};
use notify_core::{Outcome, PartOp};
use notify_store::{ClaimedPart, PartResult};
use notify_upstream::http::TransportError;
use notify_upstream::tokens::TokenError;

use crate::admission::Gate;
use crate::Dispatcher;

/// A call made: the adapter's reading of the answer, the answer itself when upstream gave
/// one, and when the call started (wall clock for the attempt, monotonic for its duration;
/// both before the gate's wait).
pub(crate) struct Called {
    pub(crate) settled: Settled,
    pub(crate) answer: Option<UpstreamAnswer>,
    pub(crate) at: i64,
    pub(crate) started: Instant,
}

/// What one call of a part is made with.
#[derive(Clone, Copy)]
pub(crate) struct CallInput<'a> {
    pub(crate) part: &'a ClaimedPart,
    pub(crate) handle: &'a ChannelHandle,
    pub(crate) token: Option<&'a str>,
    pub(crate) media: Option<&'a FetchedMedia>,
}

impl Dispatcher {
    /// The media an upload part carries, fetched from its `source_url`; `None` for other
    /// parts. `Err(result)` fails the part.
    pub(crate) async fn fetch_media(
        &self,
        part: &ClaimedPart,
    ) -> Result<Option<FetchedMedia>, PartResult> {
        if part.op != PartOp::Upload {
            return Ok(None);
        }
        let src = part
            .body
            .get("source_url")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        match self.fetcher.fetch(src).await {
            Ok(m) => Ok(Some(m)),
            Err(e) => Err(PartResult::Failed {
                error: format!("media fetch: {e}"),
            }),
        }
    }

    /// The token for a call of `handle`'s channel (`None` when its kind needs none), never
    /// `refused` — the one upstream has just refused, so the retry must not get it back.
    pub(crate) async fn token_for(
        &self,
        handle: &ChannelHandle,
        refused: Option<&str>,
    ) -> Result<Option<String>, TokenError> {
        if handle.adapter.token_request().is_none() {
            return Ok(None);
        }
        let got = match refused {
            None => self.tokens.token(handle).await,
            Some(bad) => self.tokens.token_after_refusal(handle, bad).await,
        };
        got.map(Some)
    }

    /// Makes the call: the adapter's local answer when it has one; otherwise through the
    /// lane's gate (its pace slot, then no pause and a live lease) and the daily quota to
    /// upstream. `Err(result)` sends the part back (or ends it) without a call.
    pub(crate) async fn call(
        &self,
        input: &CallInput<'_>,
        gate: Option<&Gate<'_>>,
        quota_reserved: &mut bool,
    ) -> Result<Called, PartResult> {
        let CallInput {
            part,
            handle,
            token,
            media,
        } = *input;
        let call = PartCall {
            op: part.op,
            interface: &part.interface,
            body: &part.body,
            recipients: &part.recipients,
            token,
            dependency_id: part.dependency_id.as_deref(),
            media,
            context: &part.context,
            now_ms: self.store.now_ms(),
            attempts: part.attempts,
        };
        let started = Instant::now();
        let at = self.store.now_ms();
        if let Some(o) = handle.adapter.local_outcome(&call) {
            return Ok(Called {
                settled: Settled::without_answer(o),
                answer: None,
                at,
                started,
            });
        }
        if let Some(g) = gate {
            if let Some(requeued) = self.pass_gate(g).await {
                return Err(requeued);
            }
        }
        if let Some(result) = self.reserve_quota(part, handle, quota_reserved).await {
            return Err(result);
        }
        // Bodies that depend on the time of the call (Xiaowei's `endDate`) get the time it
        // leaves, after the gate's wait.
        let call = PartCall {
            now_ms: self.store.now_ms(),
            ..call
        };
        let (settled, answer) = self.send(handle, &call).await;
        Ok(Called {
            settled,
            answer,
            at,
            started,
        })
    }

    /// Sends the adapter's request over HTTP and has the adapter read the answer; no answer
    /// is a transient outcome if the request never left, an unknown one if it may have.
    async fn send(
        &self,
        handle: &ChannelHandle,
        call: &PartCall<'_>,
    ) -> (Settled, Option<UpstreamAnswer>) {
        let req = handle.adapter.request(call);
        match self.http.call(&req).await {
            Ok(a) => (handle.adapter.settle(call, &a), Some(a)),
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
}
