//! The adapters' requests executed with reqwest against the upstream simulator: a token fetch,
//! one send of each type per kind, a recall and a state update, each accepted upstream.

use notify_channels::{
    build_channel, ChannelConfig, ChannelHandle, FetchedMedia, PartCall, RecallPlan, StateUpdate,
    TokenAnswer, UpstreamAnswer, UpstreamRequest,
};
use notify_core::validate::{check, ValidationLimits};
use notify_core::{ChannelKind, MessageInput, Outcome, PartOp, PartPlan, Plan, Secret, StateColor};
use notify_simulator::Simulator;
use serde_json::{json, Value};

struct Harness {
    sim: Simulator,
    http: notify_upstream::http::UpstreamClient,
    base: String,
}

impl Harness {
    async fn start() -> Self {
        let sim = Simulator::new();
        let addr = sim.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Self {
            sim,
            http: notify_upstream::http::UpstreamClient::new(
                std::time::Duration::from_secs(5),
                std::time::Duration::from_secs(15),
            )
            .unwrap(),
            base: format!("http://{addr}"),
        }
    }

    fn channel(&self, kind: ChannelKind) -> ChannelHandle {
        let mut c = ChannelConfig::of_kind(kind);
        match kind {
            ChannelKind::Welink | ChannelKind::Xiaowei => {
                c.base_url = Some(format!("{}/api", self.base));
                c.client_id = Some("sim-client".into());
                c.client_secret = Some(Secret::new("sim-secret"));
                c.owner = Some("Monitoring".into());
            }
            ChannelKind::WecomWorkid => {
                c.base_url = Some(self.base.clone());
                c.token_url = Some(format!("{}/oauth/token", self.base));
                c.client_id = Some("workid-client".into());
                c.client_secret = Some(Secret::new("workid-secret"));
                c.company_id = Some("corp001".into());
            }
            ChannelKind::WecomApp => {
                c.base_url = Some(self.base.clone());
                c.corp_id = Some("wwsimcorp".into());
                c.corp_secret = Some(Secret::new("sim-secret"));
                c.agent_id = Some(1000002);
            }
            _ => unreachable!(),
        }
        build_channel(kind.as_str(), &c).unwrap()
    }

    /// Makes the call with the dispatcher's own upstream client, so the test exercises the
    /// same HTTP code the gateway runs.
    async fn exec(&self, r: &UpstreamRequest) -> UpstreamAnswer {
        self.http.call(r).await.expect("simulator reachable")
    }

    async fn token(&self, ch: &ChannelHandle) -> String {
        let answer = self.exec(&ch.adapter.token_request().unwrap()).await;
        match ch.adapter.parse_token(&answer) {
            TokenAnswer::Issued { token, .. } => token,
            other => panic!(
                "{:?} token: {other:?} ({})",
                ch.kind(),
                String::from_utf8_lossy(&answer.body)
            ),
        }
    }

    /// Runs every part of a plan in order, feeding uploads' ids to their dependants; returns the
    /// upstream ids of the sends.
    async fn run(&self, ch: &ChannelHandle, plan: &Plan, token: &str) -> Vec<Option<String>> {
        let media = FetchedMedia {
            filename: "chart.png".into(),
            content_type: "image/png".into(),
            bytes: b"\x89PNG\r\n\x1a\n-simulated-image-bytes".to_vec(),
        };
        let mut ids: Vec<Option<String>> = Vec::new();
        for part in &plan.parts {
            let dep = part.depends_on.and_then(|i| ids[i].clone());
            let outcome = self
                .call(ch, part, token, dep.as_deref(), Some(&media), &plan.context)
                .await;
            match outcome {
                Outcome::Sent { upstream_id, .. } => ids.push(upstream_id),
                other => panic!("{:?} {} refused: {other:?}", ch.kind(), part.interface),
            }
        }
        ids
    }

    async fn call(
        &self,
        ch: &ChannelHandle,
        part: &PartPlan,
        token: &str,
        dep: Option<&str>,
        media: Option<&FetchedMedia>,
        context: &Value,
    ) -> Outcome {
        let call = PartCall {
            op: part.op,
            interface: &part.interface,
            body: &part.body,
            recipients: &part.recipients,
            token: Some(token),
            dependency_id: dep,
            media: if part.op == PartOp::Upload {
                media
            } else {
                None
            },
            context,
            now_ms: chrono::Utc::now().timestamp_millis(),
            attempts: 0,
        };
        let answer = self.exec(&ch.adapter.request(&call)).await;
        ch.adapter.classify(&call, &answer)
    }

    async fn recall(&self, ch: &ChannelHandle, id: &str, context: &Value, token: &str) {
        let RecallPlan::Call(part) = ch.adapter.plan_recall(id, context) else {
            panic!("not recallable")
        };
        let o = self.call(ch, &part, token, None, None, context).await;
        assert_eq!(o.label(), "sent", "{:?} recall: {o:?}", ch.kind());
    }

    /// Every call the simulator logged was accepted, and there were `n` of them.
    fn assert_all_accepted(&self, n: usize) {
        let calls = self.sim.calls();
        let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(calls.len(), n, "{paths:?}");
        for c in calls {
            let code = c.answer.get("code").or(c.answer.get("errcode")).cloned();
            let ok = c.status == 200
                && code
                    .as_ref()
                    .is_none_or(|v| v == &json!("0") || v == &json!(0));
            assert!(
                ok,
                "{} {} answered {} {}",
                c.method, c.path, c.status, c.answer
            );
        }
    }
}

fn plan(ch: &ChannelHandle, m: Value) -> Plan {
    let input = MessageInput::from_json(m.to_string().as_bytes()).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let checked = check(input, now, &ValidationLimits::default(), |_| true).unwrap();
    let target = checked.input.targets[0].clone();
    ch.adapter.plan(&checked, &target, now).unwrap()
}

const WELINK_IMAGE: &str =
    "https://open.welink.huaweicloud.com/tinyimage/v2/images/8c87826bf4be6540b460_298x206.png";

#[tokio::test]
async fn welink_sends_updates_and_recalls() {
    let h = Harness::start().await;
    let ch = h.channel(ChannelKind::Welink);
    let token = h.token(&ch).await;
    let users = json!([{"channel": "welink", "users": ["zhangsan@welink", "lisi@welink"]}]);
    let card = plan(
        &ch,
        json!({"title": {"zh": "磁盘将满", "en": "Disk almost full"}, "content": "db-3 /var at 95%",
        "url": "https://grafana.example/d/abc", "priority": "urgent",
        "state": {"zh": "待处理", "en": "pending"}, "state_color": "orange", "targets": users}),
    );
    let ids = h.run(&ch, &card, &token).await;
    let item = ids[0].clone().expect("an itemId");
    let update = StateUpdate {
        zh: "已处理".into(),
        en: "processed".into(),
        color: StateColor::Green,
    };
    let state = ch
        .adapter
        .plan_state(&item, &[], &card.context, &update)
        .unwrap();
    let o = h.call(&ch, &state, &token, None, None, &card.context).await;
    assert_eq!(o.label(), "sent", "{o:?}");
    h.recall(&ch, &item, &card.context, &token).await;

    for m in [
        json!({"title": "Incident", "url": "https://ops.example/i/1", "fields": [{"key": "Host", "value": "db-3"}],
               "buttons": [{"title": "Ack", "url": "https://ops.example/ack"}], "targets": users}),
        json!({"image_url": WELINK_IMAGE, "targets": users}),
        json!({"articles": [{"title": "周报", "description": "本周", "url": "https://example.com/w",
               "image_url": WELINK_IMAGE}], "targets": users}),
    ] {
        let p = plan(&ch, m);
        let ids = h.run(&ch, &p, &token).await;
        assert!(ids[0].is_some(), "{} gave no itemId", p.native_type);
    }
    h.assert_all_accepted(7);
}

#[tokio::test]
async fn welink_non_fans_are_failed_recipients() {
    let h = Harness::start().await;
    let ch = h.channel(ChannelKind::Welink);
    let token = h.token(&ch).await;
    let p = plan(
        &ch,
        json!({"title": "t", "content": "c",
        "targets": [{"channel": "welink", "users": ["zhangsan@welink", "nonfan1@welink"]}]}),
    );
    let part = &p.parts[0];
    let mut o = h.call(&ch, part, &token, None, None, &p.context).await;
    if let Outcome::Resend {
        body,
        recipients,
        failed_recipients,
    } = &o
    {
        assert_eq!(failed_recipients[0].recipient, "nonfan1@welink");
        let again = PartPlan {
            body: body.clone(),
            recipients: recipients.clone(),
            ..part.clone()
        };
        o = h.call(&ch, &again, &token, None, None, &p.context).await;
        assert_eq!(o.label(), "sent", "{o:?}");
    } else {
        let Outcome::Sent {
            failed_recipients,
            upstream_id,
        } = o
        else {
            panic!("{o:?}")
        };
        assert!(upstream_id.is_some());
        assert_eq!(failed_recipients[0].recipient, "nonfan1@welink");
    }
}

#[tokio::test]
async fn xiaowei_pushes() {
    let h = Harness::start().await;
    let ch = h.channel(ChannelKind::Xiaowei);
    let token = h.token(&ch).await;
    let p = plan(
        &ch,
        json!({"title": "你好, 欢迎使用WeLink!", "url": "https://example.com/cn",
        "targets": [{"channel": "xiaowei", "users": ["zhangsan@welink"]}]}),
    );
    let ids = h.run(&ch, &p, &token).await;
    assert!(ids[0].is_some(), "a pushId");
    h.assert_all_accepted(2);
}

#[tokio::test]
async fn workid_sends_every_type_and_recalls() {
    let h = Harness::start().await;
    let ch = h.channel(ChannelKind::WecomWorkid);
    let token = h.token(&ch).await;
    let t = |ty: &str| json!([{"channel": "workid", "work_ids": ["ww0517"], "type": ty}]);
    let messages = [
        json!({"content": "这是一条测试消息", "targets": t("text")}),
        json!({"title": "领奖通知", "content": "恭喜", "url": "https://example.com", "targets": t("textcard")}),
        json!({"file_url": "https://example.com/report/426.pdf", "targets": t("file")}),
        json!({"articles": [{"title": "中秋", "description": "豪礼", "url": "https://example.com/",
               "image_url": "https://example.com/p.png"}], "targets": t("news")}),
        json!({"title": "报表", "image_url": "https://example.com/p.png", "targets": t("image")}),
        json!({"content": "**会议**", "format": "markdown", "targets": t("markdown")}),
    ];
    let mut last = None;
    for m in messages {
        let p = plan(&ch, m);
        let ids = h.run(&ch, &p, &token).await;
        last = Some((ids[0].clone().expect("a msgId"), p.context.clone()));
    }
    let (id, ctx) = last.unwrap();
    h.recall(&ch, &id, &ctx, &token).await;
    h.assert_all_accepted(8);
}

#[tokio::test]
async fn wecom_app_sends_every_type_and_recalls() {
    let h = Harness::start().await;
    let ch = h.channel(ChannelKind::WecomApp);
    let token = h.token(&ch).await;
    let t = json!([{"channel": "wecom", "users": ["zhangsan", "lisi"], "parties": ["2"]}]);
    let messages = [
        json!({"title": "Disk", "content": "db-3 at 95%", "targets": t}),
        json!({"title": "领奖通知", "content": "恭喜", "url": "https://example.com", "targets": t}),
        json!({"content": "**bold**", "format": "markdown", "targets": t}),
        json!({"articles": [{"title": "T", "description": "D", "url": "https://example.com/a",
               "image_url": "https://example.com/a.png"}], "targets": t}),
        json!({"image_url": "https://example.com/chart.png", "targets": t}),
        json!({"file_url": "https://example.com/chart.png", "targets": t}),
    ];
    let mut first = None;
    for m in messages {
        let p = plan(&ch, m);
        let ids = h.run(&ch, &p, &token).await;
        let send_id = ids.last().cloned().flatten().expect("a msgid");
        first.get_or_insert(send_id);
    }
    h.recall(&ch, &first.unwrap(), &json!({}), &token).await;
    // token, six sends, two uploads, the recall
    h.assert_all_accepted(10);
}

#[tokio::test]
async fn wecom_app_unknown_users_are_failed_recipients() {
    let h = Harness::start().await;
    let ch = h.channel(ChannelKind::WecomApp);
    let token = h.token(&ch).await;
    let p = plan(
        &ch,
        json!({"content": "c", "targets": [{"channel": "wecom", "users": ["ZhangSan", "invalid_Bob"]}]}),
    );
    let o = h
        .call(&ch, &p.parts[0], &token, None, None, &p.context)
        .await;
    let Outcome::Sent {
        failed_recipients, ..
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(failed_recipients.len(), 1, "{failed_recipients:?}");
    assert_eq!(failed_recipients[0].recipient, "invalid_Bob");
}
