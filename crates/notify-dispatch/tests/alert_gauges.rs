//! The gauges the operators' alerting rules read (`deploy/prometheus/alerts.yml`), as the
//! sweeper's refresh sets them from the store and Prometheus renders them: calls per lane in
//! the last minute and its cap, the wait of the oldest due part, a rejected credential (and its
//! return to 0 once cleared), Xiaowei quota left, live replicas.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use notify_channels::{build_channel, ChannelConfig, ChannelHandle};
use notify_core::{ChannelKind, PartOp, Secret};
use notify_dispatch::{DispatchConfig, Dispatcher};
use notify_store::*;
use notify_testkit::T0;

/// The process's recorder (each test binary process installs it once).
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).expect("no other recorder in this test binary");
        handle
    })
}

/// The value of the series `name{labels}` in a rendered scrape.
fn value(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (series, v) = rest.rsplit_once(' ')?;
        let wanted = labels
            .iter()
            .all(|(k, val)| series.contains(&format!("{k}=\"{val}\"")));
        let exact_name = series.is_empty() || series.starts_with('{');
        (wanted && exact_name).then(|| v.parse().ok()).flatten()
    })
}

fn handle(name: &str, kind: ChannelKind, client_id: &str) -> ChannelHandle {
    let mut config = ChannelConfig::of_kind(kind);
    config.client_id = Some(client_id.into());
    config.client_secret = Some(Secret::new("s"));
    build_channel(name, &config).unwrap()
}

fn message(n: i64, lane: &LaneInfo, due: i64) -> NewMessage {
    let id = notify_core::MessageId::new_at(due + n).0;
    NewMessage {
        id: id.clone(),
        tenant: "default".into(),
        caller: "t".into(),
        idempotency_key: None,
        body_hash: "h".into(),
        priority: 2,
        title: "t".into(),
        body: "{}".into(),
        response: "{}".into(),
        created_at: due,
        not_before: None,
        expires_at: T0 + 3_600_000,
        deliveries: vec![NewDelivery {
            id: notify_core::DeliveryId::new_at(due + n).0,
            seq: 0,
            channel: lane.channel.clone(),
            kind: notify_core::ChannelKind::Welink,
            native_type: "card".into(),
            status: notify_core::DeliveryStatus::Queued,
            truncated: false,
            context: "{}".into(),
            chat_key: None,
            escalation_step: None,
            due_at: None,
            expires_at: None,
            people: None,
            fallback: None,
            parts: vec![NewPart {
                id: notify_core::PartId::new_at(due + n).0,
                seq: 0,
                op: PartOp::Send,
                lane: lane.clone(),
                body: "{}".into(),
                recipients: "[]".into(),
                depends_on: None,
            }],
        }],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_gauges_follow_the_store() {
    let scrape = prometheus();
    notify_testkit::with_store(
        notify_testkit::Backend::Sqlite,
        move |store, _clock| async move {
            let welink = handle("welink", ChannelKind::Welink, "app");
            let xiaowei = handle("xiaowei", ChannelKind::Xiaowei, "xw");
            let credential = welink.adapter.credential();
            let quota_key = xiaowei.quota_key().unwrap();
            let lane = LaneInfo::new("welink", &credential, "card", &credential);
            let d = Dispatcher::new(
                store.clone(),
                vec![welink, xiaowei],
                DispatchConfig::default(),
            )
            .unwrap();

            // One call 10 s ago on the lane; another part due for 2 minutes and still waiting.
            store
                .outbox()
                .insert_messages(&[
                    message(0, &lane, T0 - 300_000),
                    message(1, &lane, T0 - 120_000),
                ])
                .await
                .unwrap();
            let claimed = store
                .outbox()
                .claim(&lane.lane, "w", 1, 30_000)
                .await
                .unwrap();
            assert_eq!(claimed.len(), 1);
            store
                .outbox()
                .complete(&[Completion {
                    part_id: claimed[0].id.clone(),
                    lease_token: claimed[0].lease_token.clone(),
                    result: PartResult::Done {
                        upstream_id: Some("u".into()),
                        failed_recipients: vec![],
                    },
                    attempt: Some(AttemptRecord {
                        at: T0 - 10_000,
                        endpoint: "card".into(),
                        http_status: Some(200),
                        upstream_code: Some("0".into()),
                        upstream_message: None,
                        duration_ms: 5,
                        outcome: "sent".into(),
                        possible_duplicate: false,
                    }),
                }])
                .await
                .unwrap();
            store
                .tokens()
                .reject_credential(&credential, "10007", "wrong secret")
                .await
                .unwrap();
            let day = notify_core::clock::shanghai_day(T0);
            while store
                .quota()
                .reserve_quota(&quota_key, day, 100)
                .await
                .unwrap()
            {}
            store.lanes().heartbeat("replica-1", 10_000).await.unwrap();

            d.refresh_gauges().await.unwrap();
            let text = scrape.render();
            let on_lane = [("lane", lane.lane.as_str()), ("channel", "welink")];
            assert_eq!(
                value(&text, "notify_lane_calls_last_minute", &on_lane),
                Some(1.0),
                "{text}"
            );
            assert_eq!(
                value(&text, "notify_lane_cap_per_minute", &on_lane),
                Some(1500.0),
                "{text}"
            );
            assert_eq!(
                value(&text, "notify_queue_oldest_due_seconds", &on_lane),
                Some(120.0),
                "{text}"
            );
            let rejected = [("channel", "welink"), ("code", "10007")];
            assert_eq!(
                value(&text, "notify_credential_rejected", &rejected),
                Some(1.0),
                "{text}"
            );
            assert_eq!(
                value(&text, "notify_quota_left_today", &[("channel", "xiaowei")]),
                Some(0.0),
                "{text}"
            );
            assert_eq!(
                value(&text, "notify_replicas_live", &[]),
                Some(1.0),
                "{text}"
            );

            // Cleared: the rejection's series goes back to 0 instead of keeping its last value.
            store.tokens().clear_rejection(&credential).await.unwrap();
            store.lanes().forget_replica("replica-1").await.unwrap();
            d.refresh_gauges().await.unwrap();
            let text = scrape.render();
            assert_eq!(
                value(&text, "notify_credential_rejected", &rejected),
                Some(0.0),
                "{text}"
            );
            assert_eq!(
                value(&text, "notify_replicas_live", &[]),
                Some(0.0),
                "{text}"
            );
        },
    )
    .await;
}
