//! The `# HELP` text and unit of every metric the API exports (`promtool check metrics` wants
//! both). Call [`describe_metrics`] once, after the recorder is installed. The table in this
//! crate's README lists the same metrics with their labels.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Describes the API's metrics to the installed recorder.
pub fn describe_metrics() {
    describe_counter!(
        "notify_messages_accepted_total",
        Unit::Count,
        "Messages committed by POST /v1/messages and /v1/messages/batch."
    );
    describe_counter!(
        "notify_messages_replayed_total",
        Unit::Count,
        "Idempotent replays answered with the message already committed."
    );
    describe_counter!(
        "notify_hook_requests_total",
        Unit::Count,
        "Alert source requests to POST /v1/hooks/{name}, by hook (\"-\" for an unknown name) and HTTP status."
    );
    describe_counter!(
        "notify_alerts_suppressed_total",
        Unit::Count,
        "Firing alert messages stored as suppressed inside their alert's dedup window (storm control): counted, not sent."
    );
    describe_counter!(
        "notify_escalation_steps_total",
        Unit::Count,
        "Escalation step deliveries by outcome: scheduled (stored with their message), cancelled_acknowledged (steps cancelled by a resolve show in GET /v1/alerts and the message, not here)."
    );
    describe_counter!(
        "notify_acks_total",
        Unit::Count,
        "Messages acknowledged (the first acknowledgement of each), by way: api or link."
    );
    describe_counter!(
        "notify_fallbacks_total",
        Unit::Count,
        "Fallback deliveries added, by the fallback's channel."
    );
    describe_counter!(
        "notify_fallbacks_dropped_total",
        Unit::Count,
        "Due fallbacks that could not be planned (their channel is gone or the message no longer checks)."
    );
    describe_histogram!(
        "notify_batch_size",
        Unit::Count,
        "Messages per POST /v1/messages/batch request."
    );
    describe_histogram!(
        "notify_ingress_commit_batch_size",
        Unit::Count,
        "Messages per group-commit store transaction."
    );
    describe_counter!(
        "notify_http_requests_total",
        Unit::Count,
        "HTTP requests answered, by method, matched route and status."
    );
    describe_histogram!(
        "notify_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's head to its answer, by method and matched route."
    );
    describe_gauge!(
        "notify_http_inflight_body_bytes",
        Unit::Bytes,
        "Bytes of request bodies being read or handled (bounded by server.max_inflight_body_bytes)."
    );
    describe_counter!(
        "notify_http_body_budget_refusals_total",
        Unit::Count,
        "Requests refused with 503 because bodies in flight held server.max_inflight_body_bytes."
    );
    describe_gauge!(
        "notify_http_connections",
        Unit::Count,
        "Open HTTP connections being served (bounded by server.max_connections per listener)."
    );
}
