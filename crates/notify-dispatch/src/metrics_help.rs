//! The `# HELP` text and unit of every metric the dispatcher exports (`promtool check metrics`
//! wants both). Call [`describe_metrics`] once, after the recorder is installed. The table in
//! notify-api's README lists the same metrics with their labels.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Describes the dispatcher's metrics to the installed recorder.
pub fn describe_metrics() {
    describe_histogram!(
        "notify_upstream_call_seconds",
        Unit::Seconds,
        "Upstream call latency, by lane (credential|interface) and outcome."
    );
    describe_counter!(
        "notify_part_results_total",
        Unit::Count,
        "Upstream calls finished, by channel, operation and result (done, retry, resend, reupload, failed, expired)."
    );
    describe_gauge!(
        "notify_deliveries",
        Unit::Count,
        "Deliveries accepted in the last 24 h, by channel and status (read from the database; take max across replicas)."
    );
    describe_gauge!(
        "notify_queue_depth",
        Unit::Count,
        "Parts per lane by status: queued, sending, blocked (read from the database; take max across replicas)."
    );
    describe_gauge!(
        "notify_lane_calls_last_minute",
        Unit::Count,
        "Upstream calls per lane in the last 60 s by every replica, from the attempt log (read from the database; take max across replicas)."
    );
    describe_gauge!(
        "notify_lane_cap_per_minute",
        Unit::Count,
        "A lane's configured cap per 60 s (limits.per_minute), for kinds that have one (WeLink, Xiaowei)."
    );
    describe_gauge!(
        "notify_queue_oldest_due_seconds",
        Unit::Seconds,
        "Per lane, how long the longest-waiting queued part that is due has waited for its call; 0 when none is due (read from the database; take max across replicas)."
    );
    describe_gauge!(
        "notify_credential_rejected",
        Unit::Count,
        "1 while upstream rejects the channel's credential (token fetch stopped), with the upstream code; 0 once cleared (read from the database; take max across replicas)."
    );
    describe_gauge!(
        "notify_quota_left_today",
        Unit::Count,
        "Xiaowei calls left in the current Asia/Shanghai day of the channel's enterprise; 0 when spent or closed by upstream (read from the database; take max across replicas)."
    );
    describe_gauge!(
        "notify_replicas_live",
        Unit::Count,
        "Replicas whose heartbeat in the database is live (read from the database; take max across replicas)."
    );
    describe_counter!(
        "notify_rate_limited_total",
        Unit::Count,
        "Rate-limit answers from upstreams, by channel and upstream code."
    );
    describe_counter!(
        "notify_quota_exhausted_total",
        Unit::Count,
        "Xiaowei daily quota reached, by channel and source (local count or upstream answer)."
    );
    describe_counter!(
        "notify_member_limit_waits_total",
        Unit::Count,
        "WeCom sends held back by the per-member limiter, by channel."
    );
    describe_counter!(
        "notify_token_fetches_total",
        Unit::Count,
        "Access-token fetches, by channel."
    );
    describe_counter!(
        "notify_lease_takeovers_total",
        Unit::Count,
        "Parts whose lease ran out, queued again by the sweeper."
    );
    describe_counter!(
        "notify_lane_takeovers_total",
        Unit::Count,
        "Lane units taken over from another replica."
    );
}
