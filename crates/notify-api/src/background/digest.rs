//! The digest loop (contract §6, storm control): when an alert's dedup window ends with
//! suppressed messages, one digest goes to the lead's targets ("[FIRING] Disk almost full, and
//! 999 more in 5 min"). The timer is a row (`alerts.digest_due_at`, set by the insert
//! transaction); this loop, on every replica, turns each due one into a message built from the
//! lead's stored body exactly as `POST /v1/messages` would build it, inserted with the
//! idempotency key `digest:{key}:{window_start}`, and then clears the timer by compare-and-set.
//! Two replicas (or a restart after kill -9 between the insert and the clear) insert the same
//! key: the second insert is an idempotent replay, so the digest exists exactly once.

use std::time::Duration;

use notify_core::message::{Bilingual, Text};
use notify_core::MessageInput;
use notify_store::{DueDigest, InsertOutcome};
use tokio::sync::watch;

use crate::auth::Owner;
use crate::error::ApiError;
use crate::ingress::plan::{build_input, Extras, RequestDirectory};
use crate::state::AppState;

/// How often the loop looks for due digests.
pub const DIGEST_INTERVAL: Duration = Duration::from_millis(500);
/// Most digests made per round.
const PER_ROUND: i64 = 100;

/// The idempotency key of the digest of the window of `key` that started at `window_start`.
pub fn digest_key(key: &str, window_start: i64) -> String {
    format!("digest:{key}:{window_start}")
}

/// Runs until `stop` turns true, making due digests every `interval`.
pub async fn run(state: AppState, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = digest_once(&state).await {
            tracing::warn!(error = %e, "digest round failed; retrying next round");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Makes every digest due now; returns how many this call inserted (a digest another replica
/// inserted first is cleared but not counted).
pub async fn digest_once(state: &AppState) -> Result<usize, ApiError> {
    let now = state.store().now_ms();
    let due = state.store().alerts().due_digests(now, PER_ROUND).await?;
    let mut made = 0;
    for d in due {
        match insert_digest(state, &d, now).await {
            Ok(true) => made += 1,
            Ok(false) => {}
            // A lead whose body no longer builds (its channel was removed from the
            // configuration): the digest cannot be made, and retrying would not change that.
            Err(ApiError::Invalid(e)) => {
                tracing::warn!(alert = %d.key, lead = %d.lead_id, error = %e.message, field = %e.field, "digest dropped: the lead's message no longer builds");
            }
            Err(e) => return Err(e),
        }
        state
            .store()
            .alerts()
            .clear_digest(&d.tenant, &d.key, d.window_start)
            .await?;
    }
    Ok(made)
}

/// Inserts one digest message; true when this call stored it (false: it already existed).
async fn insert_digest(state: &AppState, d: &DueDigest, now: i64) -> Result<bool, ApiError> {
    let lead = MessageInput::from_json(d.lead_body.as_bytes())
        .map_err(|e| ApiError::Internal(format!("lead {} does not parse: {e:?}", d.lead_id)))?;
    let input = digest_input(lead, d);
    // The digest is the lead's caller's, like the lead.
    let owner = Owner {
        tenant: &d.tenant,
        name: &d.lead_caller,
    };
    // The digest is a new message: its people and groups are read from today's directory.
    let extras = Extras {
        directory: RequestDirectory::default()
            .for_input(state, owner.tenant, &input)
            .await?,
        ..Extras::default()
    };
    let mut accepted = build_input(state, owner, input, extras, now)?;
    accepted.message.digest_of = Some(d.key.clone());
    let outcome = state
        .store()
        .outbox()
        .insert_messages(std::slice::from_ref(&accepted.message))
        .await?;
    Ok(matches!(outcome.first(), Some(InsertOutcome::Inserted)))
}

/// The digest's unified body: the lead's targets and content under a title that counts what
/// was suppressed, without the lead's alert (a digest is not classified again), escalation,
/// schedule or deadline (the default time to live applies from now).
pub fn digest_input(lead: MessageInput, d: &DueDigest) -> MessageInput {
    let window = window_text(d.window_ms);
    let title = lead.title.clone();
    let zh = title.as_ref().map(|t| t.zh()).unwrap_or_default();
    let en = title.as_ref().map(|t| t.en()).unwrap_or_default();
    MessageInput {
        idempotency_key: Some(digest_key(&d.key, d.window_start)),
        title: Some(Text::Bilingual(Bilingual {
            zh: Some(format!(
                "[告警中] {zh}，{} 内另有 {} 条",
                window.zh, d.count
            )),
            en: Some(format!(
                "[FIRING] {en}, and {} more in {}",
                d.count, window.en
            )),
        })),
        alert: None,
        escalation: None,
        not_before: None,
        expires_at: None,
        ..lead
    }
}

/// A window length as people say it, in both languages.
struct WindowText {
    zh: String,
    en: String,
}

fn window_text(ms: i64) -> WindowText {
    let s = ms / 1_000;
    let (n, zh, en) = if s % 3_600 == 0 {
        (s / 3_600, "小时", "h")
    } else if s % 60 == 0 {
        (s / 60, "分钟", "min")
    } else {
        (s, "秒", "s")
    };
    WindowText {
        zh: format!("{n} {zh}"),
        en: format!("{n} {en}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_said_in_their_largest_whole_unit() {
        assert_eq!(window_text(300_000).en, "5 min");
        assert_eq!(window_text(3_600_000).zh, "1 小时");
        assert_eq!(window_text(3_000).en, "3 s");
    }

    #[test]
    fn a_digest_counts_the_suppressed_under_the_leads_title() {
        let lead = MessageInput::from_json(
            br#"{"title":"Disk almost full","alert":{"key":"k"},"targets":[{"channel":"log"}]}"#,
        )
        .expect("parses");
        let d = DueDigest {
            tenant: "t".into(),
            key: "db-3/DiskFull".into(),
            window_start: 7,
            window_ms: 300_000,
            count: 999,
            lead_id: "m".into(),
            lead_caller: "c".into(),
            lead_body: String::new(),
        };
        let input = digest_input(lead, &d);
        let Some(Text::Bilingual(t)) = &input.title else {
            panic!("{:?}", input.title)
        };
        assert_eq!(
            t.en.as_deref(),
            Some("[FIRING] Disk almost full, and 999 more in 5 min")
        );
        assert_eq!(
            t.zh.as_deref(),
            Some("[告警中] Disk almost full，5 分钟 内另有 999 条")
        );
        assert_eq!(
            input.idempotency_key.as_deref(),
            Some("digest:db-3/DiskFull:7")
        );
        assert!(input.alert.is_none());
    }
}
