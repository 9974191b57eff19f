//! The dispatcher against a scripted channel: retries resume at the unfinished part, outcomes
//! become the right statuses, and nothing sleeps — `run_once` and a manual clock drive it.

use std::collections::VecDeque;
use std::sync::Arc;

use notify_channels::{
    Channel, ChannelHandle, KindConfig, PartCall, RecallPlan, TokenAnswer, UpstreamAnswer,
    UpstreamRequest,
};
use notify_core::{
    ChannelKind, CheckedMessage, FieldError, ManualClock, Outcome, PartOp, Plan, TargetInput,
};
use notify_dispatch::{DispatchConfig, Dispatcher};
use notify_store::{LaneInfo, NewDelivery, NewMessage, NewPart, Store};
use notify_testkit::{on_both_backends, T0};
use parking_lot::Mutex;

/// A channel whose calls answer from a script and are logged.
#[derive(Debug, Default)]
struct Scripted {
    /// Outcomes by chunk; a chunk without a scripted outcome is sent.
    script: Mutex<std::collections::HashMap<i64, VecDeque<Outcome>>>,
    calls: Mutex<Vec<i64>>,
}

impl Channel for Scripted {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Log
    }
    fn credential(&self) -> String {
        "scripted".into()
    }
    fn default_rate_limits(&self) -> Option<notify_channels::RateLimits> {
        None
    }
    fn egress_group(&self) -> Option<String> {
        None
    }
    fn member_limits(&self) -> Option<notify_channels::MemberLimits> {
        None
    }
    fn daily_quota(&self) -> Option<notify_channels::DailyQuota> {
        None
    }
    fn plan(&self, _: &CheckedMessage, _: &TargetInput, _: i64) -> Result<Plan, FieldError> {
        unreachable!("messages are inserted directly")
    }
    fn token_request(&self) -> Option<UpstreamRequest> {
        None
    }
    fn parse_token(&self, _: &UpstreamAnswer) -> TokenAnswer {
        unreachable!()
    }
    fn request(&self, _: &PartCall<'_>) -> UpstreamRequest {
        unreachable!()
    }
    fn classify(&self, _: &PartCall<'_>, _: &UpstreamAnswer) -> Outcome {
        unreachable!()
    }
    fn upstream_message(&self, _: &UpstreamAnswer) -> Option<String> {
        None
    }
    fn drops_token(&self, _: &Outcome) -> bool {
        false
    }
    fn alert_card_type(&self) -> Option<&'static str> {
        None
    }
    fn takes_link_button(&self, _: &notify_core::MessageInput, _: &TargetInput) -> bool {
        false
    }
    fn people_ids(&self) -> Option<notify_channels::PeopleIds> {
        None
    }
    fn local_outcome(&self, call: &PartCall<'_>) -> Option<Outcome> {
        let chunk = call.body["chunk"].as_i64().unwrap_or(-1);
        self.calls.lock().push(chunk);
        let scripted = self
            .script
            .lock()
            .get_mut(&chunk)
            .and_then(|q| q.pop_front());
        Some(scripted.unwrap_or(Outcome::Sent {
            upstream_id: Some(format!("up-{}", call.body["chunk"])),
            failed_recipients: vec![],
        }))
    }
    fn plan_recall(&self, _: &str, _: &serde_json::Value) -> RecallPlan {
        RecallPlan::NotRecallable("scripted".into())
    }
}

/// A scripted channel, a dispatcher over it and one queued message of `parts` parts on `store`:
/// the channel, the dispatcher and the message id.
async fn seed(store: &Store, parts: usize) -> (Arc<Scripted>, Dispatcher, String) {
    let channel = Arc::new(Scripted::default());
    let handle = ChannelHandle {
        name: "scripted".into(),
        config: KindConfig::Log(Default::default()),
        adapter: channel.clone(),
    };
    let dispatcher =
        Dispatcher::new(store.clone(), vec![handle], DispatchConfig::default()).unwrap();
    let lane = LaneInfo::new("scripted", "scripted", "send", "scripted|send");
    let id = notify_core::MessageId::new_at(T0).0;
    let m = NewMessage {
        id: id.clone(),
        tenant: "default".into(),
        caller: "t".into(),
        idempotency_key: None,
        body_hash: "h".into(),
        priority: 2,
        title: "t".into(),
        body: "{}".into(),
        response: "{}".into(),
        created_at: T0,
        not_before: None,
        expires_at: T0 + 3_600_000,
        deliveries: vec![NewDelivery {
            id: notify_core::DeliveryId::new_at(T0).0,
            seq: 0,
            channel: "scripted".into(),
            kind: notify_core::ChannelKind::Log,
            native_type: "x".into(),
            status: notify_core::DeliveryStatus::Queued,
            truncated: false,
            context: "{}".into(),
            chat_key: None,
            escalation_step: None,
            due_at: None,
            expires_at: None,
            people: None,
            fallback: None,
            parts: (0..parts)
                .map(|i| NewPart {
                    id: notify_core::PartId::new_at(T0).0,
                    seq: i as i64,
                    op: PartOp::Send,
                    lane: lane.clone(),
                    body: format!("{{\"chunk\":{i}}}"),
                    recipients: "[]".into(),
                    depends_on: None,
                })
                .collect(),
        }],
        ..Default::default()
    };
    store.outbox().insert_messages(&[m]).await.unwrap();
    (channel, dispatcher, id)
}

on_both_backends!(
    notify_testkit::with_store,
    2;
    a_failed_second_part_is_retried_alone,
    rate_limits_spend_no_attempt_and_permanent_errors_fail,
    attempts_run_out_into_failed,
    a_part_past_its_deadline_expires_without_a_call,
);

async fn a_failed_second_part_is_retried_alone(store: Store, clock: ManualClock) {
    let (channel, dispatcher, id) = seed(&store, 3).await;
    // The second call fails once.
    channel
        .script
        .lock()
        .entry(1)
        .or_default()
        .push_back(Outcome::Transient {
            code: "51078".into(),
            message: "system error".into(),
        });
    assert_eq!(dispatcher.run_once().await.unwrap().completed, 3);
    let mut first_round = channel.calls.lock().clone();
    first_round.sort();
    assert_eq!(first_round, vec![0, 1, 2]);
    let m = store.reads().get_message(None, &id).await.unwrap().unwrap();
    assert_eq!(m.deliveries[0].status, "queued");

    clock.advance_ms(600_001); // past the largest back-off
    assert_eq!(dispatcher.run_once().await.unwrap().completed, 1);
    assert_eq!(
        channel.calls.lock()[3..],
        [1],
        "only the second part is called again"
    );
    let m = store.reads().get_message(None, &id).await.unwrap().unwrap();
    assert_eq!(m.status, "sent");
    assert_eq!(m.deliveries[0].upstream_ids, vec!["up-0", "up-1", "up-2"]);
    assert_eq!(
        m.deliveries[0].attempts.len(),
        4,
        "every attempt is recorded"
    );
}

async fn rate_limits_spend_no_attempt_and_permanent_errors_fail(store: Store, clock: ManualClock) {
    let (channel, dispatcher, id) = seed(&store, 1).await;
    channel
        .script
        .lock()
        .entry(0)
        .or_default()
        .push_back(Outcome::RateLimited {
            code: "48503".into(),
            message: "too many".into(),
            initial_backoff: std::time::Duration::from_secs(1),
        });
    dispatcher.run_once().await.unwrap();
    clock.advance_ms(1_000);
    channel
        .script
        .lock()
        .entry(0)
        .or_default()
        .push_back(Outcome::Permanent {
            code: "51062".into(),
            message: "illegal parameter".into(),
        });
    dispatcher.run_once().await.unwrap();
    let m = store.reads().get_message(None, &id).await.unwrap().unwrap();
    assert_eq!(m.status, "failed");
    assert_eq!(
        m.deliveries[0].parts[0].attempts, 1,
        "the 48503 spent no attempt"
    );
    assert!(m.deliveries[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("51062"));
}

async fn attempts_run_out_into_failed(store: Store, clock: ManualClock) {
    let (channel, _d, id) = seed(&store, 1).await;
    let mut cfg = DispatchConfig::default();
    cfg.policy.max_attempts = 2;
    let handle = ChannelHandle {
        name: "scripted".into(),
        config: KindConfig::Log(Default::default()),
        adapter: channel.clone(),
    };
    let dispatcher = Dispatcher::new(store.clone(), vec![handle], cfg).unwrap();
    for _ in 0..2 {
        channel
            .script
            .lock()
            .entry(0)
            .or_default()
            .push_back(Outcome::OutcomeUnknown {
                message: "timeout".into(),
            });
        dispatcher.run_once().await.unwrap();
        clock.advance_ms(600_001);
    }
    let m = store.reads().get_message(None, &id).await.unwrap().unwrap();
    assert_eq!(m.deliveries[0].status, "failed");
    assert!(m.deliveries[0].attempts[0].possible_duplicate);
}

async fn a_part_past_its_deadline_expires_without_a_call(store: Store, clock: ManualClock) {
    let (channel, dispatcher, id) = seed(&store, 1).await;
    clock.advance_ms(3_600_000);
    dispatcher.run_once().await.unwrap();
    assert!(channel.calls.lock().is_empty());
    assert_eq!(
        store
            .reads()
            .get_message(None, &id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "expired"
    );
}
