//! Recall and state-update plans, and their refusals.

use notify_channels::{RecallPlan, StateUpdate};
use notify_core::ChannelKind::{self, Juzi, WecomApp, WecomWorkid, Welink, Xiaowei};
use notify_core::{PartOp, StateColor};
use serde_json::json;

use super::common::{assert_golden, build_with, channel, ids, plan, plan_on};

fn update(color: StateColor) -> StateUpdate {
    StateUpdate {
        zh: "已处理".into(),
        en: "processed".into(),
        color,
    }
}

fn recall(kind: ChannelKind, id: &str, ctx: serde_json::Value) -> RecallPlan {
    channel(kind).adapter.plan_recall(id, &ctx)
}

#[test]
fn welink_recall_is_by_item_id() {
    match recall(Welink, "4856da9c-ba75-4166-bc7c-fbc6c2693948", json!({})) {
        RecallPlan::Call(p) => {
            assert_eq!(p.op, PartOp::Recall);
            assert_eq!(p.interface, "/messages/v1/recall");
            assert_eq!(
                p.body,
                json!({"itemId": "4856da9c-ba75-4166-bc7c-fbc6c2693948"})
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_kinds_recall_by_their_ids() {
    let RecallPlan::Call(p) = recall(WecomApp, "msg1", json!({})) else {
        panic!()
    };
    assert_eq!(
        (p.interface.as_str(), p.body),
        ("/cgi-bin/message/recall", json!({"msgid": "msg1"}))
    );
    let RecallPlan::Call(p) = recall(WecomWorkid, "D2Pf", json!({"company_id": "corp001"})) else {
        panic!()
    };
    assert_eq!(
        (p.interface.as_str(), p.body),
        (
            "/integration/wx_work/recall",
            json!({"msgId": "D2Pf", "companyId": "corp001"})
        )
    );
    let RecallPlan::Call(p) = recall(WecomWorkid, "D2Pf", json!({})) else {
        panic!()
    };
    assert_eq!(p.body, json!({"msgId": "D2Pf"}));
}

#[test]
fn xiaowei_and_juzi_cannot_recall() {
    assert!(matches!(
        recall(Xiaowei, "push1", json!({})),
        RecallPlan::NotRecallable(_)
    ));
    match recall(Juzi, "", json!({})) {
        RecallPlan::NotRecallable(why) => assert_eq!(why, "a sent Juzi message cannot be recalled"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn welink_state_update_goes_to_the_cards_users() {
    let mut c = super::common::config(Welink);
    c.public_acc_id = Some("HXgPDrJqhYzHR9NcfZ".into());
    let ch = build_with(Welink, c);
    let p = plan_on(
        &ch,
        json!({"title": "t", "content": "c", "state": {"zh": "待处理", "en": "pending"},
        "targets": [{"channel": "w", "users": ["test1@d9d92e24e5", "zhangsan@welink"]}]}),
    )
    .unwrap();
    let s = ch
        .adapter
        .plan_state(
            "b643dbbe-8f4d-4c4e-ad92-d4d5ab994bf8",
            &[],
            &p.context,
            &update(StateColor::Green),
        )
        .unwrap();
    assert_eq!(s.op, PartOp::State);
    assert_eq!(s.interface, "/messages/v1/update");
    assert_eq!(s.recipients, vec!["test1@d9d92e24e5", "zhangsan@welink"]);
    assert_golden("welink", "state_update", &s);
    let yellow = ch
        .adapter
        .plan_state("i", &[], &p.context, &update(StateColor::Yellow))
        .unwrap();
    assert_eq!(yellow.body["statusColor"], "1");
    let gray = ch
        .adapter
        .plan_state("i", &[], &p.context, &update(StateColor::Gray))
        .unwrap();
    assert_eq!(gray.body["statusColor"], "0");
}

#[test]
fn welink_state_update_refusals() {
    let ch = channel(Welink);
    let no_state = plan(
        Welink,
        json!({"title": "t", "targets": [{"channel": "w", "users": ["a"]}]}),
    );
    let e = ch
        .adapter
        .plan_state("i", &[], &no_state.context, &update(StateColor::Green))
        .unwrap_err();
    assert!(e.contains("without a state"), "{e}");

    let by_dept = plan(
        Welink,
        json!({"title": "t", "state": {"zh": "待处理", "en": "pending"},
        "targets": [{"channel": "w", "departments": ["d1"]}]}),
    );
    let e = ch
        .adapter
        .plan_state("i", &[], &by_dept.context, &update(StateColor::Green))
        .unwrap_err();
    assert!(e.contains("department or role"), "{e}");

    let ok = plan(
        Welink,
        json!({"title": "t", "state": {"zh": "待处理", "en": "pending"},
        "targets": [{"channel": "w", "users": ["a"]}]}),
    );
    let e = ch
        .adapter
        .plan_state("i", &[], &ok.context, &update(StateColor::Blue))
        .unwrap_err();
    assert!(e.contains("gray, yellow or green"), "{e}");
    let bad_text = StateUpdate {
        zh: "处".into(),
        en: "processed".into(),
        color: StateColor::Gray,
    };
    assert!(ch
        .adapter
        .plan_state("i", &[], &ok.context, &bad_text)
        .is_err());

    let many = plan(
        Welink,
        json!({"title": "t", "state": {"zh": "待处理", "en": "pending"},
        "targets": [{"channel": "w", "users": ids("u", 1001)}]}),
    );
    let e = ch
        .adapter
        .plan_state("i", &[], &many.context, &update(StateColor::Green))
        .unwrap_err();
    assert!(e.contains("1000"), "{e}");
}

#[test]
fn welink_state_update_of_a_chunked_card_names_each_calls_users() {
    let ch = channel(Welink);
    let many = plan(
        Welink,
        json!({"title": "t", "state": {"zh": "待处理", "en": "pending"},
        "targets": [{"channel": "w", "users": ids("u", 2500)}]}),
    );
    assert_eq!(many.parts.len(), 3);
    for (i, sent) in many.parts.iter().enumerate() {
        let s = ch
            .adapter
            .plan_state(
                &format!("item-{i}"),
                &sent.recipients,
                &many.context,
                &update(StateColor::Green),
            )
            .unwrap();
        assert_eq!(s.recipients, sent.recipients);
        assert_eq!(s.body["toUserList"], json!(sent.recipients));
        assert_eq!(s.body["itemId"], format!("item-{i}"));
    }
}

#[test]
fn other_kinds_take_no_state() {
    for kind in [Xiaowei, WecomApp, WecomWorkid, Juzi] {
        assert!(channel(kind)
            .adapter
            .plan_state("i", &[], &json!({}), &update(StateColor::Green))
            .is_err());
    }
}
