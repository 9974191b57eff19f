//! The upstream documents' request and answer examples (`tests/data/upstream-examples.json` at
//! the repository root; the documents are listed in `docs/upstream.md`): our bodies carry the
//! same field names and shapes, and every answer and code is classified.

use std::collections::BTreeSet;

use notify_channels::{RecallPlan, StateUpdate, TokenAnswer};
use notify_core::ChannelKind::{self, WecomWorkid, Welink, Xiaowei};
use notify_core::{Outcome, PartPlan, StateColor};
use serde_json::{json, Value};

use super::common::{answer, call, channel, plan};

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/upstream-examples.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/data/upstream-examples.json");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    v["vectors"].as_array().expect("vectors").clone()
}

fn vector(endpoint_suffix: &str) -> Value {
    vectors()
        .into_iter()
        .find(|v| {
            v["endpoint"]
                .as_str()
                .is_some_and(|e| e.ends_with(endpoint_suffix))
        })
        .unwrap_or_else(|| panic!("no vector for {endpoint_suffix}"))
}

fn shape(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of the example is in ours with the same JSON type, recursively.
fn assert_covers(example: &Value, ours: &Value, path: &str) {
    assert_eq!(
        shape(example),
        shape(ours),
        "{path}: example {example} vs ours {ours}"
    );
    match (example, ours) {
        (Value::Object(e), Value::Object(o)) => {
            for (k, ev) in e {
                let ov = o
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}.{k} missing in {ours}"));
                assert_covers(ev, ov, &format!("{path}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(o)) => {
            if let (Some(e0), Some(o0)) = (e.first(), o.first()) {
                assert_covers(e0, o0, &format!("{path}[0]"));
            }
        }
        _ => {}
    }
}

fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// Every field we send is one the document's tables list.
fn assert_documented(ours: &Value, documented: &[&str]) {
    let mut found = BTreeSet::new();
    keys(ours, &mut found);
    for k in found {
        assert!(
            documented.contains(&k.as_str()),
            "{k} is not a documented field: {ours}"
        );
    }
}

/// JSON strings (WeLink's bilingual texts) compared by their content, not their spacing.
fn normalized(v: &Value) -> Value {
    match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(inner @ Value::Object(_)) => inner,
            _ => v.clone(),
        },
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalized(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// Ours equals the example apart from `extra` top-level fields.
fn assert_same_but(example: &Value, ours: &Value, extra: &[&str]) {
    let mut o = ours.clone();
    if let Some(m) = o.as_object_mut() {
        for k in extra {
            m.remove(*k);
        }
    }
    assert_eq!(normalized(example), normalized(&o));
}

fn only_part(kind: ChannelKind, m: Value) -> PartPlan {
    let p = plan(kind, m);
    assert_eq!(p.parts.len(), 1);
    p.parts[0].clone()
}

const WELINK_ADDRESS: [&str; 6] = [
    "publicAccID",
    "msgRange",
    "toUserList",
    "departmentList",
    "roleList",
    "receiveDeviceType",
];

fn documented(extra: &[&'static str]) -> Vec<&'static str> {
    WELINK_ADDRESS.iter().chain(extra).copied().collect()
}

#[test]
fn welink_card_matches_the_example() {
    let v = vector("/messages/v2/card/common");
    let part = only_part(
        Welink,
        json!({
            "title": {"zh": "你好", "en": "hello world"}, "content": {"zh": "欢迎使用", "en": "Welcome"},
            "url": "h5://demo.com", "owner": "John",
            "targets": [{"channel": "w", "users": ["john@welink", "zhangsan@welink"]}]
        }),
    );
    assert_covers(&v["request"], &part.body, "card");
    assert_same_but(&v["request"], &part.body, &["receiveDeviceType"]);
    assert_documented(
        &part.body,
        &documented(&[
            "msgOwner",
            "msgTitle",
            "msgContent",
            "urlType",
            "urlPath",
            "desktopUrlPath",
            "messageStatus",
            "statusColor",
            "isForceTips",
        ]),
    );
    let ch = channel(Welink);
    let c = call(&part, Some("t"));
    let answers = v["answers"].as_array().unwrap();
    assert_eq!(
        ch.adapter.classify(&c, &answer(200, answers[0].clone())),
        Outcome::Sent {
            upstream_id: Some("b376d37b-8998-40ec-8dec-2539fc981945".into()),
            failed_recipients: vec![]
        }
    );
    let Outcome::Resend {
        recipients,
        failed_recipients,
        ..
    } = ch.adapter.classify(&c, &answer(200, answers[1].clone()))
    else {
        panic!()
    };
    assert_eq!(recipients, vec!["john@welink"]);
    assert_eq!(failed_recipients[0].recipient, "zhangsan@welink");
    assert_codes_documented(Welink, &part, &v["codes"]);
}

fn assert_codes_documented(kind: ChannelKind, part: &PartPlan, codes: &Value) {
    let ch = channel(kind);
    for code in codes.as_object().unwrap().keys() {
        let o = ch.adapter.classify(
            &call(part, Some("t")),
            &answer(200, json!({"code": code, "message": "m"})),
        );
        let undocumented =
            matches!(&o, Outcome::Transient { message, .. } if message.contains("undocumented"));
        assert!(!undocumented, "{kind:?} code {code} has no row: {o:?}");
    }
}

#[test]
fn welink_app_card_matches_the_example() {
    let v = vector("/messages/v1/card/wecode");
    let part = only_part(
        Welink,
        json!({
            "title": {"zh": "技术部例会", "en": "meeting"}, "url": "http://www.meeting.demo/",
            "buttons": [{"title": {"zh": "视频会议", "en": "videoconferencing"}, "url": "https://www.demo.com"}],
            "fields": [{"key": "{\"EN\": \"time\", \"CN\": \"时间\"}", "value": "{\"EN\": \"2020-12-26 14:00:00\", \"CN\": \"2020年12月26日14时\"}"}],
            "targets": [{"channel": "w", "users": ["john@welink", "zhangsan@welink"]}]
        }),
    );
    assert_covers(&v["request"], &part.body, "app_card");
    assert_same_but(&v["request"], &part.body, &["receiveDeviceType", "urlType"]);
    assert_documented(
        &part.body,
        &documented(&[
            "msgTitle",
            "contentList",
            "key",
            "value",
            "urlType",
            "urlPath",
            "btnType",
            "btnList",
            "btnTitle",
            "btnUrl",
            "messageStatus",
            "statusColor",
            "isForceTips",
        ]),
    );
    let o = channel(Welink).adapter.classify(
        &call(&part, Some("t")),
        &answer(200, v["answers"][0].clone()),
    );
    assert_eq!(o.label(), "sent");
}

#[test]
fn welink_image_matches_the_example() {
    let v = vector("/messages/v1/image");
    let part = only_part(
        Welink,
        json!({
            "image_url": v["request"]["imageUrl"],
            "targets": [{"channel": "w", "users": ["john@welink", "zhangsan@welink"]}]
        }),
    );
    assert_same_but(&v["request"], &part.body, &["receiveDeviceType"]);
    assert_documented(&part.body, &documented(&["imageUrl", "jumpUrl"]));
    let o = channel(Welink).adapter.classify(
        &call(&part, Some("t")),
        &answer(200, v["answers"][0].clone()),
    );
    assert_eq!(o.label(), "sent");
}

#[test]
fn welink_news_matches_the_example() {
    let v = vector("/messages/v1/news");
    let item = &v["request"]["news"][0];
    let part = only_part(
        Welink,
        json!({
            "articles": [{"title": item["title"], "description": item["description"], "url": item["newsUrl"], "image_url": item["imageUrl"]}],
            "targets": [{"channel": "w", "users": ["john@welink", "zhangsan@welink"]}]
        }),
    );
    assert_same_but(&v["request"], &part.body, &["receiveDeviceType"]);
    assert_documented(
        &part.body,
        &documented(&[
            "news",
            "title",
            "description",
            "newsUrl",
            "urlType",
            "imageUrl",
        ]),
    );
    let o = channel(Welink).adapter.classify(
        &call(&part, Some("t")),
        &answer(200, v["answers"][0].clone()),
    );
    assert_eq!(o.label(), "sent");
}

#[test]
fn welink_update_matches_the_example() {
    let v = vector("/messages/v1/update");
    let mut c = super::common::config(Welink);
    c.public_acc_id = Some("HXgPDrJqhYzHR9NcfZ".into());
    let ch = super::common::build_with(Welink, c);
    let sent = super::common::plan_on(
        &ch,
        json!({"title": "t", "state": {"zh": "待处理", "en": "pending"},
        "targets": [{"channel": "w", "users": ["test1@d9d92e24e5"]}]}),
    )
    .unwrap();
    let part = ch
        .adapter
        .plan_state(
            "b643dbbe-8f4d-4c4e-ad92-d4d5ab994bf8",
            &[],
            &sent.context,
            &StateUpdate {
                zh: "已完成".into(),
                en: "processed".into(),
                color: StateColor::Yellow,
            },
        )
        .unwrap();
    assert_same_but(&v["request"], &part.body, &[]);
    let answers = v["answers"].as_array().unwrap();
    let Outcome::Sent {
        failed_recipients, ..
    } = ch
        .adapter
        .classify(&call(&part, Some("t")), &answer(200, answers[0].clone()))
    else {
        panic!()
    };
    assert_eq!(failed_recipients[0].recipient, "zhangsan@welink");
    assert_eq!(
        ch.adapter
            .classify(&call(&part, Some("t")), &answer(200, answers[1].clone()))
            .label(),
        "permanent"
    );
    assert_codes_documented(Welink, &part, &v["codes"]);
}

#[test]
fn welink_recall_matches_the_example() {
    let v = vector("/messages/v1/recall");
    let RecallPlan::Call(part) = channel(Welink)
        .adapter
        .plan_recall("4856da9c-ba75-4166-bc7c-fbc6c2693948", &json!({}))
    else {
        panic!()
    };
    assert_eq!(part.body, v["request"]);
    let answers = v["answers"].as_array().unwrap();
    let ch = channel(Welink);
    assert_eq!(
        ch.adapter
            .classify(&call(&part, Some("t")), &answer(200, answers[0].clone()))
            .label(),
        "sent"
    );
    assert_eq!(
        ch.adapter
            .classify(&call(&part, Some("t")), &answer(200, answers[1].clone()))
            .label(),
        "permanent"
    );
    assert_codes_documented(Welink, &part, &v["codes"]);
}

#[test]
fn welink_token_answers_and_codes() {
    let v = vector("/auth/v2/tickets");
    let ch = channel(Welink);
    let Some(notify_channels::Body::Json(body)) = ch.adapter.token_request().map(|r| r.body) else {
        panic!()
    };
    assert_covers(&v["request"], &body, "tickets");
    assert_eq!(
        ch.adapter
            .parse_token(&answer(200, v["answers"][0].clone())),
        TokenAnswer::Issued {
            token: "5e2584ad-c6ca-4cf9-8513-8216e4759905".into(),
            expires_in_s: 7200,
            refresh_ahead_s: 300
        }
    );
    let card = only_part(
        Welink,
        json!({"title": "t", "targets": [{"channel": "w", "users": ["a"]}]}),
    );
    for code in v["codes"].as_object().unwrap().keys() {
        let t = ch
            .adapter
            .parse_token(&answer(200, json!({"code": code, "message": "m"})));
        let token_row =
            !matches!(&t, TokenAnswer::Failed { message, .. } if message.contains("undocumented"));
        let call_row = ch
            .adapter
            .classify(&call(&card, Some("t")), &answer(200, json!({"code": code})))
            .label()
            != "transient";
        assert!(token_row || call_row, "token code {code} has no row: {t:?}");
    }
}

#[test]
fn xiaowei_push_matches_the_example() {
    let v = vector("/athenaservice/v1/contextaware/push");
    let part = only_part(
        Xiaowei,
        json!({
            "title": v["request"]["titleCn"], "url": v["request"]["urlCn"], "image_url": v["request"]["iconUrlCn"],
            "targets": [{"channel": "x", "users": ["xxx@welink", "yyy@welink"]}]
        }),
    );
    assert_covers(&v["request"], &part.body, "push");
    assert!(part.body.get("titleEn").is_none(), "titleEn is reserved");
    assert_documented(
        &part.body,
        &[
            "toUserList",
            "titleCn",
            "endDate",
            "urlCn",
            "urlEn",
            "iconUrlCn",
            "iconUrlEn",
        ],
    );
    let o = channel(Xiaowei).adapter.classify(
        &call(&part, Some("t")),
        &answer(200, v["answers"][0].clone()),
    );
    assert_eq!(
        o,
        Outcome::Sent {
            upstream_id: Some("xxx".into()),
            failed_recipients: vec![]
        }
    );
    assert_codes_documented(Xiaowei, &part, &v["codes"]);
}

#[test]
fn workid_bodies_match_the_examples() {
    let target = json!([{"channel": "w", "work_ids": ["ww0517"], "company_id": "corp001"}]);
    let send = vector("/integration/wx_work/sendByWorkIds");
    let ok = send["answers"][0].clone();
    let cases = [
        (
            "/sendByWorkIds",
            json!({"content": "这是一条测试消息", "targets": target}),
        ),
        (
            "/sendTextCardByWorkIds",
            json!({
            "title": "领奖通知",
            "content": "<div class=\"gray\">2016年9月26日</div><div class=\"normal\">恭喜你抽中iPhone 7一台</div>",
            "url": "https://example.com", "buttons": [{"title": "更多", "url": "https://example.com"}], "targets": target}),
        ),
        (
            "/sendFileByWorkIds",
            json!({
            "file_url": "https://xxx-yyy-dev.obs.cn-north-4.myhuaweicloud.com:443/report/2025/12/12/426.pdf", "targets": target}),
        ),
        (
            "/sendImageByWorkIds",
            json!({
            "articles": [{"title": "中秋节礼品领取测试1", "description": "今年中秋节公司有豪礼相送测试1",
                "image_url": "https://res.mail.qq.com/node/ww/wwopenmng/images/independent/doc/test_pic_msg1.png",
                "url": "https://example.com/"}], "targets": target}),
        ),
        (
            "/sendMarkdownByWorkIds",
            json!({
            "format": "markdown",
            "content": "您的会议室已经预定,稍后会同步到`邮箱` \n>**事项详情** \n>事 项:<font color=\"info\">开会</font>",
            "targets": target}),
        ),
    ];
    let ch = channel(WecomWorkid);
    for (endpoint, m) in cases {
        let v = vector(endpoint);
        let part = only_part(WecomWorkid, m);
        assert_eq!(part.interface, format!("/integration/wx_work{endpoint}"));
        assert_eq!(part.body, v["request"], "{endpoint}");
        let o = ch
            .adapter
            .classify(&call(&part, Some("t")), &answer(200, ok.clone()));
        assert_eq!(o.label(), "sent", "{endpoint}");
    }
    let v = vector("/integration/wx_work/recall");
    let msg_id = v["request"]["msgId"].as_str().unwrap();
    let RecallPlan::Call(part) = ch
        .adapter
        .plan_recall(msg_id, &json!({"company_id": "corp001"}))
    else {
        panic!()
    };
    assert_eq!(part.body, v["request"]);
    assert_eq!(
        ch.adapter.classify(
            &call(&part, Some("t")),
            &answer(200, v["answers"][0].clone())
        ),
        Outcome::Sent {
            upstream_id: None,
            failed_recipients: vec![]
        }
    );
}

#[test]
fn juzi_payloads_match_the_send_params() {
    let v = vector("wx.invoke('sendChatMessage', SendParams) in the Juzi sidebar");
    let examples = v["request"].as_array().unwrap();
    let target = |t: &str| json!([{"channel": "j", "chat_id": "c", "type": t}]);
    let messages = [
        json!({"content": "...", "targets": target("text")}),
        json!({"title": "...", "image_url": "https://example.com/a.png", "targets": target("image")}),
        json!({"title": "...", "file_url": "https://example.com/v.mp4", "targets": target("video")}),
        json!({"title": "...", "file_url": "https://example.com/f.pdf", "targets": target("file")}),
        json!({"title": "...", "content": "...", "url": "https://example.com", "image_url": "https://example.com/i.png", "targets": target("news")}),
        json!({"targets": [{"channel": "j", "chat_id": "c", "raw": examples[5]}]}),
    ];
    for (example, m) in examples.iter().zip(messages) {
        let p = plan(ChannelKind::Juzi, m);
        let payload = &p.context["payloads"][0];
        assert_covers(example, payload, example["msgtype"].as_str().unwrap());
        assert_eq!(p.native_type, example["msgtype"].as_str().unwrap());
    }
    // The sidebar's err_msg answers and the OAuth codes are read by the sidebar API, not by an
    // adapter: Juzi plans no upstream call.
}
