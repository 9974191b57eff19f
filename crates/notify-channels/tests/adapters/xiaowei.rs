//! Xiaowei's `endDate` (000_… line 1559: at most 7 days ahead, `YYYY-MM-DD`) is completed when
//! the call is made, not at ingress, and a caller's own `endDate` is checked against the day the
//! push goes out.

use notify_channels::{Body, PartCall};
use notify_core::ChannelKind::Xiaowei;
use serde_json::json;

use super::common::{call, channel, plan, plan_err, NOW};

const DAY: i64 = 24 * 3600 * 1000;

/// `endDate` of the request made at `at` for the message's only part.
fn end_date_sent_at(m: serde_json::Value, at: i64) -> serde_json::Value {
    let p = plan(Xiaowei, m);
    let c = PartCall {
        now_ms: at,
        ..call(&p.parts[0], Some("tok"))
    };
    let Body::Json(b) = channel(Xiaowei).adapter.request(&c).body else {
        panic!("a JSON body")
    };
    b["endDate"].clone()
}

#[test]
fn a_push_scheduled_past_seven_days_carries_the_date_of_its_send() {
    // NOW is 2026-11-23 in China; the message may be sent from 2026-12-03 and expires 12-05.
    let m = json!({
        "title": "maintenance tonight",
        "not_before": "2026-12-03T09:00:00+08:00",
        "expires_at": "2026-12-05T10:00:00+08:00",
        "targets": [{"channel": "x", "users": ["zhangsan@welink"]}]
    });
    // Sent when scheduled: the expiry's day, which is within 7 days of the send.
    assert_eq!(end_date_sent_at(m.clone(), NOW + 10 * DAY), "2026-12-05");
    // Were it sent at ingress, it would be bounded to 7 days after 2026-11-23.
    assert_eq!(end_date_sent_at(m, NOW), "2026-11-30");
}

#[test]
fn a_retry_days_later_moves_the_bound_with_it() {
    let m = json!({
        "title": "far expiry",
        "expires_at": "2026-12-31T00:00:00+08:00",
        "targets": [{"channel": "x", "users": ["zhangsan@welink"]}]
    });
    assert_eq!(end_date_sent_at(m.clone(), NOW), "2026-11-30");
    assert_eq!(end_date_sent_at(m, NOW + 2 * DAY), "2026-12-02");
}

#[test]
fn a_raw_end_date_is_bounded_at_the_call_too() {
    let m = json!({
        "title": "t",
        "targets": [{"channel": "x", "users": ["a"],
            "raw": {"titleCn": "t", "endDate": "2027-01-31"}}]
    });
    assert_eq!(end_date_sent_at(m, NOW), "2026-11-30");
}

#[test]
fn a_schedule_after_a_raw_end_date_is_refused_naming_not_before() {
    let e = plan_err(
        Xiaowei,
        json!({
            "title": "t",
            "not_before": "2026-11-26T09:00:00+08:00",
            "expires_at": "2026-11-28T00:00:00+08:00",
            "targets": [{"channel": "x", "users": ["a"],
                "raw": {"titleCn": "t", "endDate": "2026-11-25"}}]
        }),
    );
    assert_eq!(
        (e.field.as_str(), e.code.as_str()),
        ("/not_before", "after_end_date")
    );
    assert!(
        e.message.contains("2026-11-26") && e.message.contains("2026-11-25"),
        "{e:?}"
    );
    // The push going out on the raw endDate's own day is fine.
    plan(
        Xiaowei,
        json!({
            "title": "t",
            "not_before": "2026-11-25T23:00:00+08:00",
            "expires_at": "2026-11-28T00:00:00+08:00",
            "targets": [{"channel": "x", "users": ["a"],
                "raw": {"titleCn": "t", "endDate": "2026-11-25"}}]
        }),
    );
    // Without a schedule, a raw endDate already past is the raw body's fault.
    let e = plan_err(
        Xiaowei,
        json!({
            "title": "t",
            "targets": [{"channel": "x", "users": ["a"],
                "raw": {"titleCn": "t", "endDate": "2026-11-22"}}]
        }),
    );
    assert_eq!(
        (e.field.as_str(), e.code.as_str()),
        ("raw.endDate", "in_the_past")
    );
}
