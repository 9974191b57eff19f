//! `GET /v1/alerts` and `GET /v1/alerts/{key}`: alerts as storm control keeps them (contract
//! §6). Tenant rules as for messages: a caller sees its own tenant; an admin sees every tenant
//! and names one with `tenant`.

use axum::extract::State;
use axum::Json;
use notify_store::{AlertFilter, AlertPosition, AlertView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

/// The statuses an alert is listed by.
const STATUSES: &[&str] = &["firing", "acknowledged", "resolved"];
/// Most messages `GET /v1/alerts/{key}` lists (newest first).
const MESSAGES_SHOWN: i64 = 500;

/// Query of `GET /v1/alerts`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertListParams {
    /// `firing`, `acknowledged` or `resolved`.
    pub status: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this tenant's alerts: for admins, who otherwise see every tenant; any other caller
    /// sees its own tenant only, and naming another one is 403.
    pub tenant: Option<String>,
}

/// Query of `GET /v1/alerts/{key}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// The alert's tenant: admins may name any (default: their own); others only their own.
    pub tenant: Option<String>,
}

/// A page of alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    /// Newest first (by first message), without their messages.
    pub alerts: Vec<AlertView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A cursor is the hex of the last alert's position as JSON: opaque to callers, and checked
/// when it comes back.
fn encode_cursor(p: &AlertPosition) -> String {
    hex::encode(serde_json::json!([p.0, p.1, p.2]).to_string())
}

fn decode_cursor(c: &str) -> Result<AlertPosition, ApiError> {
    let bad = || ApiError::invalid("cursor", "invalid", "not a cursor from a previous page");
    let bytes = hex::decode(c).map_err(|_| bad())?;
    serde_json::from_slice::<AlertPosition>(&bytes).map_err(|_| bad())
}

/// Alerts, newest first, with cursor pagination.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    operation_id = "list_alerts",
    tag = "alerts",
    params(AlertListParams),
    responses(
        (status = 200, description = "A page", body = AlertPage),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the read scope, or another tenant named", body = ErrorBody),
        (status = 422, description = "A bad parameter, named in `field`", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<AlertListParams>,
) -> Result<Json<AlertPage>, ApiError> {
    caller.require("read")?;
    let limit = super::page_size(p.limit.as_deref())?;
    let status = p.status.clone().filter(|s| !s.is_empty());
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::invalid(
                "status",
                "invalid",
                format!("alert status is one of {}", STATUSES.join(", ")),
            ));
        }
    }
    let after = p
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_cursor)
        .transpose()?;
    let filter = AlertFilter {
        tenant: caller.tenant_to_read(p.tenant.as_deref(), "alerts")?,
        status,
        after,
        limit: limit + 1,
    };
    let mut page = state.store().alerts().list_alerts(&filter).await?;
    let next_cursor = if page.len() as i64 > limit {
        page.truncate(limit as usize);
        page.last().map(|(_, pos)| encode_cursor(pos))
    } else {
        None
    };
    Ok(Json(AlertPage {
        alerts: page.into_iter().map(|(a, _)| a).collect(),
        next_cursor,
    }))
}

/// One alert with its messages (ids, statuses, `suppressed_into`), newest first.
#[utoipa::path(
    get,
    path = "/v1/alerts/{key}",
    operation_id = "get_alert",
    tag = "alerts",
    params(("key" = String, Path, description = "The alert key, URL-encoded (`db-3%2FDiskFull`)"), AlertParams),
    responses(
        (status = 200, description = "The alert", body = AlertView),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the read scope, or another tenant named", body = ErrorBody),
        (status = 404, description = "No such alert in the tenant", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiQuery(p): ApiQuery<AlertParams>,
) -> Result<Json<AlertView>, ApiError> {
    caller.require("read")?;
    let tenant = caller
        .tenant_to_read(p.tenant.as_deref(), "alerts")?
        .unwrap_or_else(|| caller.tenant.clone());
    state
        .store()
        .alerts()
        .get_alert(&tenant, &key, MESSAGES_SHOWN)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no alert {key:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let p = (17, "ops".to_string(), "db-3/DiskFull".to_string());
        assert_eq!(decode_cursor(&encode_cursor(&p)).ok(), Some(p));
        assert!(decode_cursor("zz").is_err());
        assert!(decode_cursor(&hex::encode("[1]")).is_err());
    }
}
