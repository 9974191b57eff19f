//! `GET /v1/channels` (admin) and `GET /v1/stats` (read).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use notify_core::clock::{ms_to_rfc3339, shanghai_day};
use notify_core::PartStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// One lane of a channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaneStatus {
    /// `credential|interface`.
    pub lane: String,
    /// Upstream interface.
    pub interface: String,
    /// Ownership unit.
    pub unit: String,
    /// Parts by status (`queued`, `sending`, `blocked`).
    pub depth: BTreeMap<String, i64>,
    /// Paused by a rate-limit answer until (RFC 3339), when paused now.
    pub paused_until: Option<String>,
    /// Current back-off step.
    pub backoff_ms: i64,
    /// Rate-limit answers (48503, 58602, 45009) seen on this lane.
    pub rate_limited: i64,
    /// Upstream calls on this lane in the last 60 s, by every replica.
    pub calls_last_minute: i64,
    /// The lane's cap per 60 s (`limits.per_minute`), for kinds that have one.
    pub cap_per_minute: Option<u32>,
    /// The lane's cap per second (`limits.per_second`), for kinds that have one.
    pub cap_per_second: Option<u32>,
    /// The replica draining it, when its lease is live.
    pub owner: Option<String>,
}

/// A credential's token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenStatus {
    /// A token is held.
    pub held: bool,
    /// When it expires (RFC 3339).
    pub expires_at: Option<String>,
    /// Code of a credential error that stopped fetching.
    pub rejected_code: Option<String>,
    /// Its explanation.
    pub rejected_error: Option<String>,
}

/// Xiaowei's daily quota.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaStatus {
    /// The WeLink enterprise the quota belongs to (the channel's `enterprise`, or its
    /// `client_id`); channels of one enterprise show the same day.
    pub enterprise: String,
    /// Calls per enterprise per Asia/Shanghai day.
    pub daily_quota: u32,
    /// Used today.
    pub used_today: i64,
    /// Left today (0 once upstream closed the day).
    pub left_today: i64,
    /// Upstream closed the day (58604).
    pub closed: bool,
}

/// One configured channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelStatus {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: notify_core::ChannelKind,
    /// The upstream credential its tokens, lanes and quota belong to.
    pub credential: String,
    /// WeLink egress group.
    pub egress_group: Option<String>,
    /// Queued parts over every lane.
    pub queue_depth: i64,
    /// Its lanes.
    pub lanes: Vec<LaneStatus>,
    /// Its token, for kinds that use one.
    pub token: Option<TokenStatus>,
    /// Its quota, for Xiaowei.
    pub quota: Option<QuotaStatus>,
}

/// `GET /v1/channels`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelsAnswer {
    /// Every configured channel.
    pub channels: Vec<ChannelStatus>,
}

/// Per channel: kind, queue depth, calls in the last minute against the caps, rate-limit state,
/// token, quota and owner.
#[utoipa::path(
    get,
    path = "/v1/channels",
    tag = "admin",
    responses(
        (status = 200, description = "Channel views", body = ChannelsAnswer),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn channels(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ChannelsAnswer>, ApiError> {
    caller.require("admin")?;
    let store = state.store();
    let now = store.now_ms();
    let lanes = store.lanes().lanes().await?;
    let depths = store.reads().lane_depths().await?;
    let owners = store.lanes().unit_owners().await?;
    let calls = store.reads().lane_calls_since(now - 60_000).await?;
    let mut out = Vec::new();
    for h in state.channels() {
        let credential = h.adapter.credential();
        let caps = h.rate_limits();
        let mut lane_views = Vec::new();
        let mut queue_depth = 0;
        for l in lanes.iter().filter(|l| l.info.credential == credential) {
            let depth: BTreeMap<String, i64> = depths
                .iter()
                .filter(|(lane, _, _)| *lane == l.info.lane)
                .map(|(_, status, n)| (status.to_string(), *n))
                .collect();
            queue_depth += depth.get(PartStatus::Queued.as_str()).copied().unwrap_or(0);
            let owner = owners
                .iter()
                .find(|o| o.unit == l.info.unit && o.lease_until > now)
                .and_then(|o| o.owner.clone());
            lane_views.push(LaneStatus {
                lane: l.info.lane.clone(),
                interface: l.info.interface.clone(),
                unit: l.info.unit.clone(),
                depth,
                paused_until: (l.paused_until > now).then(|| ms_to_rfc3339(l.paused_until)),
                backoff_ms: l.backoff_ms,
                rate_limited: l.rate_limited,
                calls_last_minute: calls.get(&l.info.lane).copied().unwrap_or(0),
                cap_per_minute: caps.map(|c| c.per_minute),
                cap_per_second: caps.map(|c| c.per_second),
                owner,
            });
        }
        let token = if h.adapter.token_request().is_some() {
            let t = store.tokens().token(&credential).await?;
            Some(TokenStatus {
                held: t.token.is_some(),
                expires_at: (t.expires_at > 0).then(|| ms_to_rfc3339(t.expires_at)),
                rejected_code: t.rejected_code,
                rejected_error: t.rejected_error,
            })
        } else {
            None
        };
        let quota = match (h.daily_quota(), h.quota_key()) {
            (Some(q), Some(key)) => {
                let (used, closed) = store.quota().quota_used(&key, shanghai_day(now)).await?;
                Some(QuotaStatus {
                    enterprise: key.trim_start_matches("welink:").to_string(),
                    daily_quota: q,
                    used_today: used,
                    left_today: if closed {
                        0
                    } else {
                        (i64::from(q) - used).max(0)
                    },
                    closed,
                })
            }
            _ => None,
        };
        out.push(ChannelStatus {
            name: h.name.clone(),
            kind: h.kind(),
            credential,
            egress_group: h.egress_group(),
            queue_depth,
            lanes: lane_views,
            token,
            quota,
        });
    }
    Ok(Json(ChannelsAnswer { channels: out }))
}

/// Query of `GET /v1/stats`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// How far back, e.g. `15m`, `1h`, `7d` (default `1h`).
    pub window: Option<String>,
}

/// `GET /v1/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsAnswer {
    /// The window asked for.
    pub window: String,
    /// Its start (RFC 3339).
    pub since: String,
    /// Delivery counts: channel → status → count.
    pub channels: BTreeMap<String, BTreeMap<String, i64>>,
    /// Deliveries in the window.
    pub total: i64,
}

/// Delivery counts by channel and status over a window.
#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "messages",
    params(StatsParams),
    responses(
        (status = 200, description = "Counts", body = StatsAnswer),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the read scope", body = ErrorBody),
        (status = 422, description = "A bad window", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> Result<Json<StatsAnswer>, ApiError> {
    caller.require("read")?;
    let window = p.window.unwrap_or_else(|| "1h".into());
    let d = humantime::parse_duration(&window).map_err(|e| {
        ApiError::invalid(
            "window",
            "invalid",
            format!("window: {e} (e.g. 15m, 1h, 7d)"),
        )
    })?;
    let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let now = state.store().now_ms();
    let since = now.saturating_sub(ms).max(0);
    let rows = state
        .store()
        .reads()
        .stats(caller.tenant_filter(), since)
        .await?;
    let mut channels: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut total = 0;
    for (channel, status, n) in rows {
        total += n;
        *channels
            .entry(channel)
            .or_default()
            .entry(status.to_string())
            .or_default() += n;
    }
    Ok(Json(StatsAnswer {
        window,
        since: ms_to_rfc3339(since),
        channels,
        total,
    }))
}
