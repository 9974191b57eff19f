//! `GET /console/api/activity[?minutes=60]`: what the Now view draws that `GET /v1/channels`
//! and `GET /v1/stats` do not give: per lane and minute, the calls, their per-second peak and
//! the rate-limit answers; per lane, the age of the oldest queued part; the messages storm
//! control suppressed in the window (they have no deliveries, so `GET /v1/stats`, which counts
//! deliveries, cannot show them). From the store (every replica answers the same), at a cost
//! of the window's calls and messages and the open queue only.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::Method;
use axum::Json;
use notify_store::activity::LaneMinute;
use serde::{Deserialize, Serialize};

use crate::session::check;
use crate::{ConsoleError, ConsoleState};

/// Query of the activity read.
#[derive(Debug, Default, Deserialize)]
pub struct ActivityParams {
    /// How many minutes back, 1–1440 (default 60).
    pub minutes: Option<String>,
}

/// One lane's oldest queued part.
#[derive(Debug, Serialize)]
pub struct OldestQueued {
    /// `credential|interface`.
    pub lane: String,
    /// When it was created (unix ms).
    pub created_at: i64,
    /// How long it has waited (ms).
    pub age_ms: i64,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct ActivityAnswer {
    /// The store's clock (unix ms), which the charts end at.
    pub now_ms: i64,
    /// Start of the first minute counted (unix ms).
    pub since_ms: i64,
    /// Calls per lane and minute; minutes without calls are left out.
    pub minutes: Vec<LaneMinute>,
    /// Lanes with queued parts.
    pub oldest_queued: Vec<OldestQueued>,
    /// Messages accepted since `since_ms` with status `suppressed` (every tenant).
    pub suppressed: i64,
}

/// Parses `minutes`, naming the field when it is wrong.
fn window_minutes(p: &ActivityParams) -> Result<i64, ConsoleError> {
    match p.minutes.as_deref().map(str::trim) {
        None | Some("") => Ok(60),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|m| (1..=1440).contains(m))
            .ok_or_else(|| ConsoleError::Invalid {
                field: "minutes",
                message: format!("a whole number of minutes from 1 to 1440, not {v:?}"),
            }),
    }
}

/// The handler.
pub(crate) async fn activity(
    State(s): State<ConsoleState>,
    headers: HeaderMap,
    Query(p): Query<ActivityParams>,
) -> Result<Json<ActivityAnswer>, ConsoleError> {
    check(&s, &Method::GET, &headers)?;
    let minutes = window_minutes(&p)?;
    let store = &s.inner.store;
    let now = store.now_ms();
    // The current minute and the `minutes - 1` before it.
    let since = (now.div_euclid(60_000) - (minutes - 1)) * 60_000;
    let rows = store.monitoring().lane_minutes(since).await?;
    let suppressed = store.monitoring().suppressed_since(since).await?;
    let oldest = store
        .monitoring()
        .oldest_queued()
        .await?
        .into_iter()
        .map(|o| OldestQueued {
            age_ms: (now - o.oldest_created_at).max(0),
            lane: o.lane,
            created_at: o.oldest_created_at,
        })
        .collect();
    Ok(Json(ActivityAnswer {
        now_ms: now,
        since_ms: since,
        minutes: rows,
        oldest_queued: oldest,
        suppressed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_checked_and_named() {
        let p = |v: &str| ActivityParams {
            minutes: Some(v.into()),
        };
        assert_eq!(window_minutes(&ActivityParams::default()).unwrap(), 60);
        assert_eq!(window_minutes(&p("15")).unwrap(), 15);
        for bad in ["0", "1441", "x", "-5"] {
            let e = window_minutes(&p(bad)).unwrap_err();
            assert!(e.to_string().starts_with("minutes:"), "{e}");
        }
    }
}
