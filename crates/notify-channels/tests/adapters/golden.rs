//! Every message type of every kind, as the golden files show them on the wire.

use notify_core::ChannelKind::{self, Juzi, WecomApp, WecomWorkid, Welink, Xiaowei};
use serde_json::{json, Value};

use super::common::{assert_golden, plan};

fn golden(kind: ChannelKind, case: &str, m: Value) {
    assert_golden(kind.as_str(), case, &plan(kind, m));
}

fn welink(users: Value) -> Value {
    json!([{"channel": "welink", "users": users}])
}

#[test]
fn welink_card() {
    golden(
        Welink,
        "card",
        json!({
            "title": "Disk almost full", "content": "db-3 /var at 95%", "owner": "Monitoring",
            "url": "https://grafana.example/d/abc", "targets": welink(json!(["zhangsan@welink"]))
        }),
    );
}

#[test]
fn welink_card_bilingual_with_default_owner() {
    golden(
        Welink,
        "card_bilingual",
        json!({
            "title": {"zh": "磁盘将满", "en": "Disk almost full"},
            "content": {"zh": "db-3 /var 已用 95%", "en": "db-3 /var at 95%"},
            "url": "h5://demo.com", "pc_url": "https://grafana.example/d/abc",
            "targets": welink(json!(["john@welink", "zhangsan@welink"]))
        }),
    );
}

#[test]
fn welink_card_with_state_urgent() {
    golden(
        Welink,
        "card_state_urgent",
        json!({
            "priority": "urgent", "title": "审批", "content": "张三提交了出差申请",
            "state": {"zh": "待处理", "en": "pending"}, "state_color": "orange",
            "targets": welink(json!(["zhangsan@welink"]))
        }),
    );
}

#[test]
fn welink_card_truncated() {
    let plan = plan(
        Welink,
        json!({
            "title": "标题".repeat(40), "content": {"zh": "内容".repeat(200), "en": "content ".repeat(100)},
            "owner": "一个很长的消息发送方名称",
            "targets": welink(json!(["zhangsan@welink"]))
        }),
    );
    assert!(plan.truncated);
    let b = &plan.parts[0].body;
    assert!(b["msgTitle"].as_str().unwrap().len() <= 128);
    assert!(b["msgContent"].as_str().unwrap().len() <= 512);
    assert!(b["msgOwner"].as_str().unwrap().len() <= 18);
    assert_golden("welink", "card_truncated", &plan);
}

/// Text that opens with `{` is JSON to WeLink (000_… lines 816–817): it goes in the JSON form,
/// the same text in both languages, so that WeLink does not refuse it (51062). Text opening
/// with `[` stays plain.
#[test]
fn welink_card_text_that_looks_like_json() {
    golden(
        Welink,
        "card_braces",
        json!({
            "title": "{prod} disk full", "content": "[db-3] /var at 95%", "owner": "Monitoring",
            "targets": welink(json!(["zhangsan@welink"]))
        }),
    );
}

#[test]
fn welink_card_to_departments_and_roles() {
    golden(
        Welink,
        "card_departments_roles",
        json!({
            "title": "Maintenance", "content": "Tonight 22:00",
            "targets": [{"channel": "welink", "departments": ["dept-1", "dept-2"], "roles": ["role-9"]}]
        }),
    );
}

#[test]
fn welink_app_card() {
    golden(
        Welink,
        "app_card",
        json!({
            "title": {"zh": "技术部例会", "en": "meeting"}, "url": "http://www.meeting.demo/",
            "fields": [{"key": "时间", "value": "2020年12月26日14时"}, {"key": "参与者", "value": "技术部全体"}],
            "buttons": [
                {"title": {"zh": "视频会议", "en": "videoconferencing"}, "url": "https://www.demo.com"},
                {"title": "会议管理", "url": "https://www.demo.com/manage"}
            ],
            "targets": welink(json!(["john@welink"]))
        }),
    );
}

#[test]
fn welink_app_card_vertical_with_state() {
    golden(
        Welink,
        "app_card_vertical_state",
        json!({
            "title": "Incident 42", "content": "db-3 is down", "url": "https://ops.example/i/42",
            "button_layout": "vertical",
            "buttons": [
                {"title": "Ack", "url": "https://ops.example/ack"},
                {"title": "Runbook", "url": "https://ops.example/rb"},
                {"title": "Silence", "url": "https://ops.example/silence"}
            ],
            "state": {"zh": "处理中", "en": "working"},
            "targets": [{"channel": "welink", "users": ["zhangsan@welink"], "type": "app_card"}]
        }),
    );
}

#[test]
fn welink_image() {
    golden(
        Welink,
        "image",
        json!({
            "image_url": "https://open.welink.huaweicloud.com/tinyimage/v2/images/8c87826bf4be6540b460_298x206.png",
            "url": "https://grafana.example/d/abc",
            "targets": welink(json!(["john@welink"]))
        }),
    );
}

#[test]
fn welink_news() {
    golden(
        Welink,
        "news",
        json!({
            "articles": [
                {"title": "多图文1", "description": "多图文1", "url": "https://example.com/1",
                 "image_url": "https://open.welink.huaweicloud.com/tinyimage/v2/images/a.png"},
                {"title": "一个超过十八字节的标题", "url": "https://example.com/2",
                 "image_url": "https://open.welink.huaweicloud.com/tinyimage/v2/images/b.png"}
            ],
            "targets": welink(json!(["john@welink"]))
        }),
    );
}

#[test]
fn welink_raw() {
    golden(
        Welink,
        "raw",
        json!({
            "targets": [{"channel": "welink", "users": ["john@welink"],
                         "raw": {"msgOwner": "Raw", "msgTitle": "t", "msgContent": "c", "toUserList": ["ignored"]}}]
        }),
    );
}

#[test]
fn xiaowei_push() {
    golden(
        Xiaowei,
        "push",
        json!({
            "title": "你好, 欢迎使用WeLink!", "content": "not sent: Xiaowei has no body",
            "url": "https://example.com/cn", "image_url": "https://example.com/icon.png",
            "expires_at": "2026-11-25T10:00:00+08:00",
            "targets": [{"channel": "xiaowei", "users": ["xxx@welink", "yyy@welink"]}]
        }),
    );
}

#[test]
fn xiaowei_push_long_title_far_expiry() {
    let p = plan(
        Xiaowei,
        json!({
            "title": "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五",
            "expires_at": "2026-12-31T00:00:00+08:00",
            "targets": [{"channel": "xiaowei", "users": ["xxx@welink"]}]
        }),
    );
    assert!(p.truncated);
    assert_eq!(
        p.parts[0].body["titleCn"].as_str().unwrap().chars().count(),
        32
    );
    // Stored: the expiry's day; the 7-day bound is applied when the call is made.
    assert_eq!(p.parts[0].body["endDate"], "2026-12-31");
    assert_golden("xiaowei", "push_truncated", &p);
}

fn workid(extra: Value) -> Value {
    let mut t = json!({"channel": "workid", "work_ids": ["ww0517"]});
    if let (Some(t), Some(e)) = (t.as_object_mut(), extra.as_object()) {
        t.extend(e.clone());
    }
    json!([t])
}

#[test]
fn workid_every_type() {
    golden(
        WecomWorkid,
        "text",
        json!({"title": "磁盘将满", "content": "这是一条测试消息", "targets": workid(json!({}))}),
    );
    golden(
        WecomWorkid,
        "textcard",
        json!({
            "title": "领奖通知", "content": "恭喜你抽中iPhone 7一台", "url": "https://example.com",
            "buttons": [{"title": "更多详情", "url": "https://example.com"}],
            "targets": workid(json!({"company_id": "corp001"}))
        }),
    );
    golden(
        WecomWorkid,
        "file",
        json!({
            "file_url": "https://xxx-yyy-dev.obs.cn-north-4.myhuaweicloud.com:443/report/2025/12/12/426.pdf",
            "targets": workid(json!({"safe": 1}))
        }),
    );
    golden(
        WecomWorkid,
        "news",
        json!({
            "articles": [
                {"title": "中秋节礼品领取测试1", "description": "今年中秋节公司有豪礼相送测试1",
                 "url": "https://example.com/", "image_url": "https://example.com/pic1.png"},
                {"title": "中秋节礼品领取测试2", "url": "https://example.com/2", "image_url": "https://example.com/pic2.png"}
            ],
            "targets": workid(json!({"type": "news"}))
        }),
    );
    golden(
        WecomWorkid,
        "image",
        json!({
            "title": "今日报表", "image_url": "https://example.com/report.png",
            "targets": workid(json!({"type": "image"}))
        }),
    );
    golden(
        WecomWorkid,
        "markdown",
        json!({
            "title": "会议", "format": "markdown", "content": "您的会议室已经预定,稍后会同步到`邮箱`",
            "fields": [{"key": "事项", "value": "开会"}],
            "targets": workid(json!({}))
        }),
    );
    golden(
        WecomWorkid,
        "raw",
        json!({
            "targets": workid(json!({"raw": {"content": "raw text", "workIds": ["ignored"]}}))
        }),
    );
}

#[test]
fn workid_company_id_from_config() {
    let mut c = super::common::config(WecomWorkid);
    c.company_id = Some("corp-default".into());
    let ch = notify_channels::build_channel("workid", &c).unwrap();
    let p =
        super::common::plan_on(&ch, json!({"content": "x", "targets": workid(json!({}))})).unwrap();
    assert_eq!(p.parts[0].body["companyId"], "corp-default");
    assert_eq!(p.context["company_id"], "corp-default");
}

fn wecom(extra: Value) -> Value {
    let mut t = json!({"channel": "wecom", "users": ["zhangsan"]});
    if let (Some(t), Some(e)) = (t.as_object_mut(), extra.as_object()) {
        t.extend(e.clone());
    }
    json!([t])
}

#[test]
fn wecom_app_every_type() {
    golden(
        WecomApp,
        "text",
        json!({
            "title": "Disk almost full", "content": "db-3 /var at 95%",
            "targets": wecom(json!({"parties": ["2"], "tags": ["7"]}))
        }),
    );
    golden(
        WecomApp,
        "textcard",
        json!({
            "title": "领奖通知", "content": "恭喜你抽中iPhone 7一台", "url": "https://example.com",
            "fields": [{"key": "时间", "value": "2016年9月26日"}],
            "buttons": [{"title": "更多", "url": "https://example.com"}],
            "targets": wecom(json!({}))
        }),
    );
    golden(
        WecomApp,
        "markdown",
        json!({
            "format": "markdown", "content": "**bold** and `code`", "targets": wecom(json!({"safe": 1}))
        }),
    );
    golden(
        WecomApp,
        "news",
        json!({
            "articles": [{"title": "Title", "description": "Description", "url": "https://example.com/a",
                          "image_url": "https://example.com/a.png"}],
            "targets": wecom(json!({}))
        }),
    );
    golden(
        WecomApp,
        "image",
        json!({"image_url": "https://example.com/a.png", "targets": wecom(json!({}))}),
    );
    golden(
        WecomApp,
        "file",
        json!({"file_url": "https://example.com/r.pdf", "targets": wecom(json!({}))}),
    );
    golden(
        WecomApp,
        "raw",
        json!({
            "targets": wecom(json!({"raw": {"msgtype": "text", "text": {"content": "raw"}, "touser": "ignored", "agentid": 1}}))
        }),
    );
}

#[test]
fn wecom_app_text_truncated() {
    let p = plan(
        WecomApp,
        json!({"content": "长".repeat(1000), "targets": wecom(json!({}))}),
    );
    assert!(p.truncated);
    assert!(p.parts[0].body["text"]["content"].as_str().unwrap().len() <= 2048);
    assert_golden("wecom_app", "text_truncated", &p);
}

fn juzi(extra: Value) -> Value {
    let mut t = json!({"channel": "juzi", "chat_id": "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"});
    if let (Some(t), Some(e)) = (t.as_object_mut(), extra.as_object()) {
        t.extend(e.clone());
    }
    json!([t])
}

#[test]
fn juzi_every_type() {
    golden(
        Juzi,
        "text",
        json!({"title": "提醒", "content": "请查看报表", "targets": juzi(json!({"bot_id": "647844cd6059597fc5c79f38"}))}),
    );
    golden(
        Juzi,
        "image",
        json!({"image_url": "https://example.com/a.png", "targets": juzi(json!({}))}),
    );
    golden(
        Juzi,
        "video",
        json!({"title": "培训", "file_url": "https://example.com/v.mp4", "targets": juzi(json!({"type": "video"}))}),
    );
    golden(
        Juzi,
        "file",
        json!({"title": "报表", "file_url": "https://example.com/r.pdf", "targets": juzi(json!({}))}),
    );
    golden(
        Juzi,
        "news",
        json!({
            "articles": [
                {"title": "A", "description": "a", "url": "https://example.com/a", "image_url": "https://example.com/a.png"},
                {"title": "B", "url": "https://example.com/b"}
            ],
            "targets": [{"channel": "juzi", "contact_id": "wmEAlECwAAHrbWYDOK5u3Bf13xlYDAAA"}]
        }),
    );
    golden(
        Juzi,
        "miniprogram",
        json!({
            "targets": juzi(json!({"raw": {"msgtype": "miniprogram", "miniprogram": {
                "appid": "wx8bd80126147dfAAA", "title": "欢迎", "imgUrl": "https://example.com/cover.png",
                "page": "/index/page.html", "desc": "desc", "iconUrl": "https://example.com/icon.png",
                "officialAccountId": "gh_abc"}}}))
        }),
    );
}
