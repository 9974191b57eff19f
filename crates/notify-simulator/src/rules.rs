//! Every field rule and error code of the upstream documents that the simulator enforces, as
//! data: which document line says it, a request that breaks it, and the code the real service
//! answers. `GET /_sim/rules` serves the table; the crate's `tests/rules.rs` sends, for each
//! rule, first the rule's valid base request (which must be accepted) and then the same request
//! with the rule's violation applied (which must be refused with the rule's code), so a rule
//! the simulator stopped enforcing fails by name.
//!
//! Documents are named by their id as `docs/upstream.md` lists them: `000` WeLink guide,
//! `001` Juzi sidebar, `002` work-ID platform (one long line: every rule is on line 13),
//! `003` WeCom Node library, `FACTS` the WeCom facts beyond the seeds. Lines count from 1.
//!
//! A request is a JSON object: `body` (JSON), `raw` (a non-JSON body), `form` (a urlencoded
//! body), `query`, `header`, `upload` (`{"field", "filename", "content": "png"|"jpeg"|"gif"|
//! "amr"|"mp4"|"text", "size"}`, sent as multipart). A violation sets JSON pointers in it; the
//! value [`GONE`] removes the member. Strings may hold `$rep(N,x)` (x repeated N times); a
//! whole string `$ids(N)` becomes N ids; a value written `*N:<json>` becomes N copies; and
//! `$item_id`, `$stateless_item_id`, `$other_item_id`, `$media_id`, `$wecom_msgid`,
//! `$work_msg_id`, `$juzi_code` name things the runner creates first (see [`PLACEHOLDERS`]).

use serde_json::{json, Map, Value};

/// The pointer value that removes a member instead of setting it.
pub const GONE: &str = "-";

/// The context names a request may refer to; the runner creates each before the rule's steps.
pub const PLACEHOLDERS: &[&str] = &[
    "$stateless_item_id",
    "$other_item_id",
    "$item_id",
    "$media_id",
    "$wecom_msgid",
    "$work_msg_id",
    "$juzi_code",
];

/// A valid request of one endpoint, which the rules break one field at a time.
#[derive(Debug)]
pub struct Base {
    pub name: &'static str,
    /// `welink`, `xiaowei`, `wecom`, `workid`, `oauth` or `juzi`.
    pub upstream: &'static str,
    /// Method and path, e.g. `POST /api/messages/v1/card/wecode`.
    pub endpoint: &'static str,
    pub request: &'static str,
    /// The code of the answer that accepts the request: its `code`, `errcode` or `error`
    /// field, else the HTTP status.
    pub ok: &'static str,
}

/// Something done before a rule's violating request.
#[derive(Debug)]
pub enum Step {
    /// `POST /_sim/caps` with this JSON.
    Caps(&'static str),
    /// `POST /_sim/apps` with this JSON.
    App(&'static str),
    /// Moves the caps' monotonic clock (ages the rate windows).
    AdvanceMonoMs(u64),
    /// Moves the wall clock (token lives, recall windows, code lifetimes).
    AdvanceClockMs(i64),
    /// Sends the base request with this patch; the recorded code must be the second field.
    Send(&'static [(&'static str, &'static str)], &'static str),
}

/// One rule of one document.
#[derive(Debug)]
pub struct Rule {
    /// Unique, snake_case; the name of its test.
    pub id: &'static str,
    /// `000`, `001`, `002`, `003` or `FACTS`.
    pub doc: &'static str,
    pub line: u32,
    /// What the document says, shortly.
    pub says: &'static str,
    /// The [`Base`] the violation applies to.
    pub base: &'static str,
    pub setup: &'static [Step],
    /// JSON pointer → JSON text (or [`GONE`]).
    pub violation: &'static [(&'static str, &'static str)],
    /// The code the violating request must be answered with (read as [`Base::ok`] is).
    pub code: &'static str,
}

impl Rule {
    const fn new(
        id: &'static str,
        doc: &'static str,
        line: u32,
        base: &'static str,
        says: &'static str,
        violation: &'static [(&'static str, &'static str)],
        code: &'static str,
    ) -> Self {
        Self {
            id,
            doc,
            line,
            says,
            base,
            setup: &[],
            violation,
            code,
        }
    }

    const fn after(mut self, setup: &'static [Step]) -> Self {
        self.setup = setup;
        self
    }

    /// The base request this rule breaks.
    pub fn base(&self) -> &'static Base {
        BASES
            .iter()
            .find(|b| b.name == self.base)
            .unwrap_or_else(|| panic!("rule {}: no base {}", self.id, self.base))
    }

    pub fn upstream(&self) -> &'static str {
        self.base().upstream
    }

    pub fn endpoint(&self) -> &'static str {
        self.base().endpoint
    }

    /// The violating request, placeholders not yet filled in.
    pub fn request(&self) -> Value {
        patched(self.base(), self.violation)
    }

    /// The rule as `GET /_sim/rules` shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "upstream": self.upstream(),
            "endpoint": self.endpoint(),
            "doc": self.doc,
            "line": self.line,
            "says": self.says,
            "code": self.code,
            "request": self.request(),
            "setup": self.setup.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>(),
        })
    }
}

/// The rule called `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// `base`'s request with `patch` applied (placeholders not yet filled in).
pub fn patched(base: &Base, patch: &[(&str, &str)]) -> Value {
    let mut req: Value = serde_json::from_str(base.request)
        .unwrap_or_else(|e| panic!("base {}: bad JSON: {e}", base.name));
    for (pointer, value) in patch {
        set(&mut req, pointer, value);
    }
    req
}

fn parse_value(text: &str) -> Value {
    if let Some((n, item)) = text
        .strip_prefix('*')
        .and_then(|t| t.split_once(':'))
        .and_then(|(n, item)| n.parse::<usize>().ok().map(|n| (n, item)))
    {
        let one = parse_value(item);
        return Value::Array(vec![one; n]);
    }
    serde_json::from_str(text).unwrap_or_else(|e| panic!("patch value {text:?}: {e}"))
}

fn set(doc: &mut Value, pointer: &str, value: &str) {
    let (parent, last) = pointer
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("pointer {pointer:?} must start with /"));
    let target = if parent.is_empty() {
        Some(doc)
    } else {
        doc.pointer_mut(parent)
    };
    let Some(target) = target else {
        panic!("pointer {pointer:?}: no parent {parent:?}")
    };
    if target.is_null() {
        *target = Value::Object(Map::new());
    }
    match target {
        Value::Object(m) if value == GONE => {
            m.remove(last);
        }
        Value::Object(m) => {
            m.insert(last.to_owned(), parse_value(value));
        }
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .unwrap_or_else(|_| panic!("pointer {pointer:?}: bad index"));
            if value == GONE {
                a.remove(i);
            } else {
                a[i] = parse_value(value);
            }
        }
        _ => panic!("pointer {pointer:?}: parent is not a container"),
    }
}

/// Fills in `$rep(N,x)`, `$ids(N)` and the context placeholders (`ctx` gives their values).
pub fn expand(v: &Value, ctx: &dyn Fn(&str) -> Option<String>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(n) = s
                .strip_prefix("$ids(")
                .and_then(|t| t.strip_suffix(')'))
                .and_then(|n| n.parse::<usize>().ok())
            {
                return Value::Array((0..n).map(|i| json!(format!("u{i}"))).collect());
            }
            if let Some(found) = ctx(s) {
                return Value::String(found);
            }
            Value::String(expand_reps(s))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| expand(x, ctx)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), expand(x, ctx))).collect())
        }
        other => other.clone(),
    }
}

fn expand_reps(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("$rep(") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 5..];
        let Some(close) = after.find(')') else {
            out.push_str(&rest[at..]);
            return out;
        };
        let (n, x) = after[..close].split_once(',').unwrap_or(("0", ""));
        out.push_str(&x.repeat(n.trim().parse().unwrap_or(0)));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `GET /_sim/rules`: the whole table.
pub fn table_json() -> Value {
    Value::Array(RULES.iter().map(Rule::to_json).collect())
}

/// The valid requests the rules break.
pub const BASES: &[Base] = &[
    Base {
        name: "welink_token",
        upstream: "welink",
        endpoint: "POST /api/auth/v2/tickets",
        request: r#"{"body": {"client_id": "rules-app", "client_secret": "s3cret"}}"#,
        ok: "0",
    },
    Base {
        name: "welink_card",
        upstream: "welink",
        endpoint: "POST /api/messages/v2/card/common",
        request: r#"{"body": {"toUserList": ["fan1", "fan2"], "msgOwner": "考勤",
            "msgTitle": "{\"EN\": \"Trip\", \"CN\": \"出差电子流\"}",
            "msgContent": "张三提交了一个去上海的出差申请", "urlType": "html",
            "urlPath": "h5://demo.com", "receiveDeviceType": "2", "isForceTips": 0,
            "messageStatus": {"EN": "processed", "CN": "已处理"}, "statusColor": "1"}}"#,
        ok: "0",
    },
    Base {
        name: "welink_app_card",
        upstream: "welink",
        endpoint: "POST /api/messages/v1/card/wecode",
        request: r#"{"body": {"toUserList": ["fan1"],
            "msgTitle": "{\"EN\": \"meeting\", \"CN\": \"技术部例会\"}",
            "urlPath": "http://www.meeting.demo/", "btnType": "horizontal",
            "btnList": [{"btnTitle": "{\"EN\": \"video\", \"CN\": \"视频会议\"}",
                "urlType": "html", "btnUrl": "https://www.demo.com"}],
            "contentList": [{"key": "{\"EN\": \"time\", \"CN\": \"时间\"}",
                "value": "{\"EN\": \"2020-12-26 14:00\", \"CN\": \"2020年12月26日14时\"}"}],
            "messageStatus": "{\"EN\": \"pending\", \"CN\": \"待处理\"}", "statusColor": "3",
            "isForceTips": 1, "receiveDeviceType": "1"}}"#,
        ok: "0",
    },
    Base {
        name: "welink_image",
        upstream: "welink",
        endpoint: "POST /api/messages/v1/image",
        request: r#"{"body": {"toUserList": ["fan1"],
            "imageUrl": "https://open.welink.huaweicloud.com/tinyimage/v2/images/a_298x206.png",
            "jumpUrl": "https://www.demo.com"}}"#,
        ok: "0",
    },
    Base {
        name: "welink_news",
        upstream: "welink",
        endpoint: "POST /api/messages/v1/news",
        request: r#"{"body": {"toUserList": ["fan1"], "news": [{"title": "多图文1",
            "description": "多图文1", "urlType": "html", "newsUrl": "https://www.demo.com",
            "imageUrl": "https://open.welink.huaweicloud.com/tinyimage/v2/images/a.png"}]}}"#,
        ok: "0",
    },
    Base {
        name: "welink_update",
        upstream: "welink",
        endpoint: "POST /api/messages/v1/update",
        request: r#"{"body": {"toUserList": ["fan1"], "itemId": "$item_id",
            "messageStatus": {"EN": "processed", "CN": "已完成"}, "statusColor": "1"}}"#,
        ok: "0",
    },
    Base {
        name: "welink_recall",
        upstream: "welink",
        endpoint: "POST /api/messages/v1/recall",
        request: r#"{"body": {"itemId": "$item_id"}}"#,
        ok: "0",
    },
    Base {
        name: "xiaowei",
        upstream: "xiaowei",
        endpoint: "POST /api/athenaservice/v1/contextaware/push",
        request: r#"{"body": {"toUserList": ["u1", "u2"], "titleCn": "你好，欢迎使用WeLink！",
            "titleEn": "Hello, Welcome to WeLink!", "endDate": "2026-01-12",
            "urlCn": "h5://demo/cn", "urlEn": "https://demo/en",
            "iconUrlCn": "https://demo/cn.png", "iconUrlEn": "http://demo/en.png"}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_token",
        upstream: "wecom",
        endpoint: "GET /cgi-bin/gettoken",
        request: r#"{"query": {"corpid": "rulescorp", "corpsecret": "sec"}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_text",
        upstream: "wecom",
        endpoint: "POST /cgi-bin/message/send",
        request: r#"{"body": {"touser": "u1|u2", "toparty": "", "totag": "", "msgtype": "text",
            "agentid": 1000002, "text": {"content": "Holiday Request For Pony"}, "safe": 0}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_textcard",
        upstream: "wecom",
        endpoint: "POST /cgi-bin/message/send",
        request: r#"{"body": {"touser": "u1", "msgtype": "textcard", "agentid": 1000002,
            "textcard": {"title": "领奖通知", "description": "恭喜你抽中iPhone 7一台",
                "url": "https://example.com/prize", "btntxt": "更多"}}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_news",
        upstream: "wecom",
        endpoint: "POST /cgi-bin/message/send",
        request: r#"{"body": {"touser": "u1", "msgtype": "news", "agentid": 1000002,
            "news": {"articles": [{"title": "Title", "description": "Description",
                "url": "https://example.com/a", "picurl": "https://example.com/a.png"}]}}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_image",
        upstream: "wecom",
        endpoint: "POST /cgi-bin/message/send",
        request: r#"{"body": {"touser": "u1", "msgtype": "image", "agentid": 1000002,
            "image": {"media_id": "$media_id"}, "safe": "0"}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_markdown",
        upstream: "wecom",
        endpoint: "POST /cgi-bin/message/send",
        request: r#"{"body": {"touser": "u1", "msgtype": "markdown", "agentid": 1000002,
            "markdown": {"content": "**会议**提醒"}}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_recall",
        upstream: "wecom",
        endpoint: "POST /cgi-bin/message/recall",
        request: r#"{"body": {"msgid": "$wecom_msgid"}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_upload",
        upstream: "wecom",
        endpoint: "POST /cgi-bin/media/upload",
        request: r#"{"query": {"type": "image"},
            "upload": {"field": "media", "filename": "a.png", "content": "png", "size": 64}}"#,
        ok: "0",
    },
    Base {
        name: "wecom_agent_ticket",
        upstream: "wecom",
        endpoint: "GET /cgi-bin/ticket/get",
        request: r#"{"query": {"type": "agent_config"}}"#,
        ok: "0",
    },
    Base {
        name: "workid_text",
        upstream: "workid",
        endpoint: "POST /integration/wx_work/sendByWorkIds",
        request: r#"{"body": {"workIds": ["ww0517"], "content": "这是一条测试消息",
            "companyId": "corp001"}}"#,
        ok: "0",
    },
    Base {
        name: "workid_textcard",
        upstream: "workid",
        endpoint: "POST /integration/wx_work/sendTextCardByWorkIds",
        request: r#"{"body": {"workIds": ["ww0517"], "textCard": {"title": "领奖通知",
            "description": "恭喜你抽中iPhone 7一台", "url": "https://example.com",
            "btntxt": "更多"}, "companyId": "corp001"}}"#,
        ok: "0",
    },
    Base {
        name: "workid_file",
        upstream: "workid",
        endpoint: "POST /integration/wx_work/sendFileByWorkIds",
        request: r#"{"body": {"workIds": ["ww0517"],
            "fileUrl": "https://bucket.obs.example.com:443/report/2025/12/12/426.pdf",
            "safe": 1, "companyId": "corp001"}}"#,
        ok: "0",
    },
    Base {
        name: "workid_image",
        upstream: "workid",
        endpoint: "POST /integration/wx_work/sendImageByWorkIds",
        request: r#"{"body": {"workIds": ["ww0517"], "images": [{"title": "中秋节礼品领取",
            "description": "今年中秋节公司有豪礼相送", "picUrl": "https://example.com/p.png",
            "url": "https://example.com/"}], "companyId": "corp001"}}"#,
        ok: "0",
    },
    Base {
        name: "workid_markdown",
        upstream: "workid",
        endpoint: "POST /integration/wx_work/sendMarkdownByWorkIds",
        request: r#"{"body": {"workIds": ["ww0517"], "markdown": {"content": "**会议**提醒"},
            "companyId": "corp001"}}"#,
        ok: "0",
    },
    Base {
        name: "workid_recall",
        upstream: "workid",
        endpoint: "POST /integration/wx_work/recall",
        request: r#"{"body": {"msgId": "$work_msg_id", "companyId": "corp001"}}"#,
        ok: "0",
    },
    Base {
        name: "oauth_token",
        upstream: "oauth",
        endpoint: "POST /oauth/token",
        // RFC 6749 success carries no code: the HTTP status is the code.
        request: r#"{"form": {"grant_type": "client_credentials", "client_id": "rules-oauth",
            "client_secret": "sec"}}"#,
        ok: "200",
    },
    Base {
        name: "juzi_authorize",
        upstream: "juzi",
        endpoint: "GET /oauth/connect/authorize",
        request: r#"{"query": {"redirect_uri": "https://app.example/callback", "state": "abc123"}}"#,
        ok: "302",
    },
    Base {
        name: "juzi_user",
        upstream: "juzi",
        endpoint: "GET /api/v1/oauth/getUserInfo",
        request: r#"{"query": {"code": "$juzi_code"}}"#,
        ok: "0",
    },
];

/// Shorthand for one rule with no setup.
const fn r(
    id: &'static str,
    doc: &'static str,
    line: u32,
    base: &'static str,
    says: &'static str,
    violation: &'static [(&'static str, &'static str)],
    code: &'static str,
) -> Rule {
    Rule::new(id, doc, line, base, says, violation, code)
}

const NO_PATCH: &[(&str, &str)] = &[];
const APP_WRONG_SECRET: &str =
    r#"{"kind": "welink", "client_id": "rules-app", "client_secret": "right"}"#;

/// Every rule, grouped by upstream and endpoint in document order.
pub const RULES: &[Rule] = &[
    // ---- WeLink access token, 000 lines 425–508 ----
    r("wl_token_client_id_empty", "000", 504, "welink_token", "41579 clientId为空",
        &[("/body/client_id", r#""""#)], "41579"),
    r("wl_token_client_secret_empty", "000", 505, "welink_token", "41580 clientSecret为空",
        &[("/body/client_secret", r#""""#)], "41580"),
    r("wl_token_body_not_json", "000", 502, "welink_token", "41500 获取access_token异常",
        &[("/body", GONE), ("/raw", r#""client_id=rules-app""#)], "41500"),
    r("wl_token_wrong_secret", "000", 506, "welink_token", "10007 clientId或clientSecret有误",
        NO_PATCH, "10007")
        .after(&[Step::App(APP_WRONG_SECRET)]),
    r("wl_token_locked_after_wrong_secrets", "000", 503, "welink_token",
        "41403 通过clientId获取access_token失败次数过多，被锁定", NO_PATCH, "41403")
        .after(&[
            Step::App(APP_WRONG_SECRET),
            Step::Send(NO_PATCH, "10007"),
            Step::Send(NO_PATCH, "10007"),
            Step::Send(NO_PATCH, "10007"),
            Step::Send(NO_PATCH, "10007"),
            Step::Send(NO_PATCH, "10007"),
        ]),
    r("wl_token_invalid", "000", 508, "welink_card", "1000 access_token失效或者不可用",
        &[("/header", r#"{"x-wlk-Authorization": "not-a-token"}"#)], "1000"),
    r("wl_interface_not_granted", "000", 514, "welink_image",
        "an interface the app has not applied for answers 501 第三方接口无权限", NO_PATCH, "501")
        .after(&[Step::App(
            r#"{"kind": "welink", "client_id": "rules-app", "client_secret": "s3cret",
                "denied_interfaces": ["/messages/v1/image"]}"#,
        )]),
    // ---- WeLink rate limits, 000 lines 716–725: every call counts, refused ones too ----
    r("wl_rate_per_second_counts_refused_calls", "000", 725, "welink_card",
        "40 calls a second per client_id per interface (48503); a refused call still counts",
        NO_PATCH, "48503")
        .after(&[
            Step::Caps(r#"{"per_second": 1}"#),
            Step::Send(NO_PATCH, "0"),
            Step::AdvanceMonoMs(600),
            Step::Send(NO_PATCH, "48503"),
            Step::AdvanceMonoMs(600),
        ]),
    r("wl_rate_per_minute_counts_refused_calls", "000", 725, "welink_image",
        "1500 calls a minute per client_id per interface (48503); a refused call still counts",
        NO_PATCH, "48503")
        .after(&[
            Step::Caps(r#"{"per_minute": 1}"#),
            Step::Send(NO_PATCH, "0"),
            Step::AdvanceMonoMs(40_000),
            Step::Send(NO_PATCH, "48503"),
            Step::AdvanceMonoMs(30_000),
        ]),
    r("wl_rate_per_ip_counts_refused_calls", "000", 723, "welink_news",
        "3000 calls per 20 s per IP over all interfaces (48503); a refused call still counts",
        NO_PATCH, "48503")
        .after(&[
            Step::Caps(r#"{"per_ip_20s": 1}"#),
            Step::AdvanceMonoMs(20_001),
            Step::Send(NO_PATCH, "0"),
            Step::AdvanceMonoMs(10_000),
            Step::Send(NO_PATCH, "48503"),
            Step::AdvanceMonoMs(10_500),
        ]),
    // ---- WeLink plain card, 000 lines 775–902 ----
    r("wl_card_msg_owner_required", "000", 810, "welink_card", "msgOwner 是 (51062 参数非法)",
        &[("/body/msgOwner", GONE)], "51062"),
    r("wl_card_msg_owner_18_bytes", "000", 810, "welink_card", "msgOwner 长度不超过18字节",
        &[("/body/msgOwner", r#""$rep(19,a)""#)], "51062"),
    r("wl_card_public_acc_id_string", "000", 811, "welink_card", "publicAccID is a String",
        &[("/body/publicAccID", "5")], "51062"),
    r("wl_card_desktop_url_path_string", "000", 823, "welink_card",
        "desktopUrlPath is a String", &[("/body/desktopUrlPath", "true")], "51062"),
    r("wl_card_msg_title_required", "000", 816, "welink_card", "msgTitle 是",
        &[("/body/msgTitle", GONE)], "51062"),
    r("wl_card_msg_title_128_bytes", "000", 816, "welink_card", "msgTitle 长度不超过128字节",
        &[("/body/msgTitle", r#""$rep(129,a)""#)], "51062"),
    r("wl_card_msg_title_brace_is_read_as_json", "000", 816, "welink_card",
        "bilingual text is a json类型的string: a title starting with { that is not it fails",
        &[("/body/msgTitle", r#""{prod} disk full""#)], "51062"),
    r("wl_card_msg_title_json_needs_cn_and_en", "000", 857, "welink_card",
        "the bilingual JSON carries CN and EN (request example)",
        &[("/body/msgTitle", r#""{\"CN\": \"只有中文\"}""#)], "51062"),
    r("wl_card_msg_content_required", "000", 817, "welink_card", "msgContent 是",
        &[("/body/msgContent", GONE)], "51062"),
    r("wl_card_msg_content_512_bytes", "000", 817, "welink_card", "msgContent 长度不超过512字节",
        &[("/body/msgContent", r#""$rep(513,a)""#)], "51062"),
    r("wl_card_msg_content_brace_is_read_as_json", "000", 817, "welink_card",
        "a content starting with { that is not the bilingual JSON fails",
        &[("/body/msgContent", r#""{host} is down""#)], "51062"),
    r("wl_card_body_not_json", "000", 890, "welink_card", "51062 参数非法",
        &[("/body", GONE), ("/raw", r#""msgTitle=x""#)], "51062"),
    r("wl_card_msg_range_value", "000", 892, "welink_card", "51059 msgRange参数类型值不支持",
        &[("/body/msgRange", r#""3""#)], "51059"),
    r("wl_card_msg_range_type", "000", 812, "welink_card", "msgRange is a String",
        &[("/body/msgRange", "0")], "51059"),
    r("wl_card_to_user_list_required", "000", 813, "welink_card", "toUserList msgRange=0时必传",
        &[("/body/toUserList", GONE)], "51062"),
    r("wl_card_to_user_list_type", "000", 813, "welink_card", "toUserList is Array[String]",
        &[("/body/toUserList", r#""fan1,fan2""#)], "51062"),
    r("wl_card_to_user_list_1000", "000", 888, "welink_card", "51018 单次发送用户数最大1000人",
        &[("/body/toUserList", r#""$ids(1001)""#)], "51018"),
    r("wl_card_department_list_required", "000", 893, "welink_card",
        "51056 msgRange=1时，部门列表不能为空",
        &[("/body/msgRange", r#""1""#), ("/body/toUserList", GONE)], "51056"),
    r("wl_card_department_list_100", "000", 814, "welink_card", "departmentList 最多支持100个",
        &[("/body/msgRange", r#""1""#), ("/body/departmentList", r#""$ids(101)""#)], "51062"),
    r("wl_card_role_list_required", "000", 894, "welink_card",
        "51095 msgRange=2时，角色列表不能为空",
        &[("/body/msgRange", r#""2""#), ("/body/toUserList", GONE)], "51095"),
    r("wl_card_role_list_100", "000", 815, "welink_card", "roleList 最多支持100个",
        &[("/body/msgRange", r#""2""#), ("/body/roleList", r#""$ids(101)""#)], "51062"),
    r("wl_card_receive_device_type", "000", 820, "welink_card",
        "receiveDeviceType 0：PC；1：Mobile；2：PC+MOBILE",
        &[("/body/receiveDeviceType", r#""3""#)], "51062"),
    r("wl_card_url_type_html_only", "000", 821, "welink_card", "urlType 当前只支持“html”",
        &[("/body/urlType", r#""h5""#)], "51062"),
    r("wl_card_is_force_tips_integer", "000", 826, "welink_card", "isForceTips Integer 0 or 1",
        &[("/body/isForceTips", r#""1""#)], "51062"),
    r("wl_card_message_status_cn_2_to_5", "000", 824, "welink_card",
        "messageStatus CN长度：2-5个字 (51104)",
        &[("/body/messageStatus", r#"{"EN": "processed", "CN": "已经全部处理"}"#)], "51104"),
    r("wl_card_message_status_en_2_to_10", "000", 824, "welink_card",
        "messageStatus EN长度：2-10个字符 (51104)",
        &[("/body/messageStatus", r#"{"EN": "p", "CN": "已处理"}"#)], "51104"),
    r("wl_card_message_status_not_json", "000", 895, "welink_card",
        "51104 messageStatus消息状态参数不合法",
        &[("/body/messageStatus", r#""processed""#)], "51104"),
    r("wl_card_status_color", "000", 825, "welink_card", "statusColor 1, 2 or 3",
        &[("/body/statusColor", r#""0""#)], "51104"),
    r("wl_card_non_fan", "000", 889, "welink_card", "51019 不能给非粉丝用户推送消息",
        &[("/body/toUserList", r#"["nonfan1"]"#)], "51019"),
    // ---- WeLink app card, 000 lines 903–1067 ----
    r("wl_app_card_msg_title_required", "000", 940, "welink_app_card", "msgTitle 是",
        &[("/body/msgTitle", GONE)], "51062"),
    r("wl_app_card_msg_title_128_bytes", "000", 940, "welink_app_card",
        "msgTitle 长度不超过128字节", &[("/body/msgTitle", r#""$rep(129,a)""#)], "51062"),
    r("wl_app_card_msg_title_brace_is_read_as_json", "000", 940, "welink_app_card",
        "a title starting with { that is not the bilingual JSON fails",
        &[("/body/msgTitle", r#""{prod} disk full""#)], "51062"),
    r("wl_app_card_content_list_required", "000", 941, "welink_app_card", "contentList 是",
        &[("/body/contentList", GONE)], "51062"),
    r("wl_app_card_content_list_5_lines", "000", 941, "welink_app_card", "contentList 限制为5行",
        &[("/body/contentList",
            r#"*6:{"key": "{\"EN\": \"k\", \"CN\": \"键\"}", "value": "{\"EN\": \"v\", \"CN\": \"值\"}"}"#)],
        "51062"),
    r("wl_app_card_key_plain_string", "000", 956, "welink_app_card",
        "key 传入json类型的string", &[("/body/contentList/0/key", r#""time""#)], "51062"),
    r("wl_app_card_key_128_bytes", "000", 956, "welink_app_card", "key 长度不超过128字节",
        &[("/body/contentList/0/key", r#""{\"EN\": \"$rep(110,k)\", \"CN\": \"时间\"}""#)],
        "51062"),
    r("wl_app_card_value_required", "000", 957, "welink_app_card", "value 是",
        &[("/body/contentList/0/value", GONE)], "51062"),
    r("wl_app_card_value_empty", "000", 957, "welink_app_card", "value 是: an empty text",
        &[("/body/contentList/0/value", r#""""#)], "51062"),
    r("wl_app_card_value_blank_json", "000", 957, "welink_app_card",
        "value 是: a JSON text with empty CN and EN",
        &[("/body/contentList/0/value", r#""{\"EN\": \"\", \"CN\": \"\"}""#)], "51062"),
    r("wl_app_card_value_plain_string", "000", 957, "welink_app_card",
        "value 传入json类型的string", &[("/body/contentList/0/value", r#""all""#)], "51062"),
    r("wl_app_card_value_256_bytes", "000", 957, "welink_app_card", "value 长度不超过256字节",
        &[("/body/contentList/0/value", r#""{\"EN\": \"$rep(240,v)\", \"CN\": \"全体\"}""#)],
        "51062"),
    r("wl_app_card_url_path_required", "000", 944, "welink_app_card", "urlPath 是",
        &[("/body/urlPath", GONE)], "51062"),
    r("wl_app_card_btn_type", "000", 945, "welink_app_card", "btnType horizontal or vertical",
        &[("/body/btnType", r#""grid""#)], "51062"),
    r("wl_app_card_btn_list_2_horizontal", "000", 946, "welink_app_card",
        "horizontal最多支持两个按钮",
        &[("/body/btnList",
            r#"*3:{"btnTitle": "{\"EN\": \"go\", \"CN\": \"前往\"}", "btnUrl": "https://x.demo"}"#)],
        "51062"),
    r("wl_app_card_btn_list_3_vertical", "000", 946, "welink_app_card",
        "vertical最多支持3个按钮",
        &[("/body/btnType", r#""vertical""#), ("/body/btnList",
            r#"*4:{"btnTitle": "{\"EN\": \"go\", \"CN\": \"前往\"}", "btnUrl": "https://x.demo"}"#)],
        "51062"),
    r("wl_app_card_btn_title_required", "000", 962, "welink_app_card", "btnTitle 是",
        &[("/body/btnList/0/btnTitle", GONE)], "51062"),
    r("wl_app_card_btn_title_plain_string", "000", 962, "welink_app_card",
        "btnTitle json类型的string", &[("/body/btnList/0/btnTitle", r#""Video""#)], "51062"),
    r("wl_app_card_btn_title_128_bytes", "000", 962, "welink_app_card",
        "btnTitle 长度不超过128字节",
        &[("/body/btnList/0/btnTitle", r#""{\"EN\": \"$rep(110,b)\", \"CN\": \"视频会议\"}""#)],
        "51062"),
    r("wl_app_card_btn_url_required", "000", 963, "welink_app_card", "btnUrl 是",
        &[("/body/btnList/0/btnUrl", GONE)], "51062"),
    r("wl_app_card_btn_url_type_html_only", "000", 964, "welink_app_card", "urlType html",
        &[("/body/btnList/0/urlType", r#""native""#)], "51062"),
    r("wl_app_card_message_status", "000", 947, "welink_app_card",
        "messageStatus CN 2-5, EN 2-10 (51104)",
        &[("/body/messageStatus", r#""{\"EN\": \"x\", \"CN\": \"待\"}""#)], "51104"),
    r("wl_app_card_status_color", "000", 950, "welink_app_card", "statusColor 1, 2 or 3",
        &[("/body/statusColor", r#""4""#)], "51104"),
    r("wl_app_card_is_force_tips", "000", 951, "welink_app_card", "isForceTips 0：否；1：是",
        &[("/body/isForceTips", "2")], "51062"),
    r("wl_app_card_receive_device_type", "000", 942, "welink_app_card",
        "receiveDeviceType 0, 1 or 2", &[("/body/receiveDeviceType", r#""PC""#)], "51062"),
    r("wl_app_card_to_user_list_1000", "000", 1053, "welink_app_card",
        "51018 单次发送用户数最大1000人", &[("/body/toUserList", r#""$ids(1001)""#)], "51018"),
    // ---- WeLink image, 000 lines 1068–1182 ----
    r("wl_image_image_url_required", "000", 1108, "welink_image", "imageUrl 是",
        &[("/body/imageUrl", GONE)], "51062"),
    r("wl_image_jump_url_string", "000", 1109, "welink_image", "jumpUrl is a String",
        &[("/body/jumpUrl", "5")], "51062"),
    r("wl_image_to_user_list_1000", "000", 1167, "welink_image",
        "51018 单次发送用户数最大1000人", &[("/body/toUserList", r#""$ids(1001)""#)], "51018"),
    r("wl_image_msg_range", "000", 1173, "welink_image", "51059 msgRange参数类型值不支持",
        &[("/body/msgRange", r#""9""#)], "51059"),
    r("wl_image_department_list_required", "000", 1174, "welink_image",
        "51056 msgRange=1时，部门列表不能为空", &[("/body/msgRange", r#""1""#)], "51056"),
    r("wl_image_role_list_required", "000", 1175, "welink_image",
        "51095 msgRange=2时，角色列表不能为空", &[("/body/msgRange", r#""2""#)], "51095"),
    // ---- WeLink news, 000 lines 1183–1328 ----
    r("wl_news_required", "000", 1225, "welink_news", "news 是",
        &[("/body/news", GONE)], "51062"),
    r("wl_news_at_most_5", "000", 1225, "welink_news", "news 最大长度为5",
        &[("/body/news", r#"*6:{"title": "t", "newsUrl": "https://x.demo", "imageUrl": "https://x.demo/i.png"}"#)],
        "51062"),
    r("wl_news_title_required", "000", 1230, "welink_news", "title 是",
        &[("/body/news/0/title", GONE)], "51062"),
    r("wl_news_title_18_bytes", "000", 1230, "welink_news", "title 长度不超过18字节",
        &[("/body/news/0/title", r#""$rep(7,图)""#)], "51062"),
    r("wl_news_description_140_bytes", "000", 1231, "welink_news",
        "description 长度不超过140字节", &[("/body/news/0/description", r#""$rep(141,d)""#)],
        "51062"),
    r("wl_news_news_url_required", "000", 1232, "welink_news", "newsUrl 是",
        &[("/body/news/0/newsUrl", GONE)], "51062"),
    r("wl_news_url_type_html_only", "000", 1233, "welink_news", "urlType 当前只支持“html”",
        &[("/body/news/0/urlType", r#""h5""#)], "51062"),
    r("wl_news_image_url_required", "000", 1234, "welink_news", "imageUrl 是",
        &[("/body/news/0/imageUrl", GONE)], "51062"),
    r("wl_news_to_user_list_1000", "000", 1311, "welink_news",
        "51018 单次发送用户数最大1000人", &[("/body/toUserList", r#""$ids(1001)""#)], "51018"),
    // ---- WeLink status update, 000 lines 1329–1430 ----
    r("wl_update_to_user_list_required", "000", 1362, "welink_update",
        "toUserList 是 (51021 推送消息缺少必要的参数)", &[("/body/toUserList", GONE)], "51021"),
    r("wl_update_to_user_list_1000", "000", 1417, "welink_update",
        "51018 单次发送用户数最大1000人", &[("/body/toUserList", r#""$ids(1001)""#)], "51018"),
    r("wl_update_item_id_required", "000", 1363, "welink_update", "itemId 是 (51021)",
        &[("/body/itemId", GONE)], "51021"),
    r("wl_update_message_status_required", "000", 1364, "welink_update",
        "messageStatus 是 (51021)", &[("/body/messageStatus", GONE)], "51021"),
    r("wl_update_message_status_lengths", "000", 1423, "welink_update",
        "51104 messageStatus消息状态参数不合法",
        &[("/body/messageStatus", r#"{"EN": "processed", "CN": "完"}"#)], "51104"),
    r("wl_update_status_color", "000", 1365, "welink_update", "statusColor 0, 1 or 2",
        &[("/body/statusColor", r#""3""#)], "51104"),
    r("wl_update_unknown_item", "000", 1419, "welink_update", "51033 找不到匹配数据",
        &[("/body/itemId", r#""b643dbbe-8f4d-4c4e-ad92-d4d5ab994bf8""#)], "51033"),
    r("wl_update_public_acc_id_of_the_send", "000", 1366, "welink_update",
        "publicAccID 如果发送消息时使用了自定义公众号，此参数必传",
        &[("/body/publicAccID", r#""HXgPDrJqhYzHR9NcfZ""#)], "51033"),
    r("wl_update_stateless_message", "000", 1422, "welink_update",
        "51107 该消息为无状态消息，不能修改", &[("/body/itemId", r#""$stateless_item_id""#)],
        "51107"),
    // ---- WeLink recall, 000 lines 1431–1518 ----
    r("wl_recall_item_id_required", "000", 1468, "welink_recall", "itemId 是 (51111)",
        &[("/body/itemId", GONE)], "51111"),
    r("wl_recall_unknown_item", "000", 1512, "welink_recall", "51111 需要撤回的消息不存在",
        &[("/body/itemId", r#""4856da9c-ba75-4166-bc7c-fbc6c2693948""#)], "51111"),
    r("wl_recall_twice", "000", 1512, "welink_recall", "51111: a recalled message is gone",
        NO_PATCH, "51111")
        .after(&[Step::Send(NO_PATCH, "0")]),
    r("wl_recall_other_tenant", "000", 1511, "welink_recall", "51100 不支持跨租户操作",
        &[("/body/itemId", r#""$other_item_id""#)], "51100"),
    // ---- Xiaowei, 000 lines 1519–1640 ----
    r("xw_token_invalid", "000", 1628, "xiaowei", "58401 token校验不通过",
        &[("/header", r#"{"x-wlk-Authorization": "not-a-token"}"#)], "58401"),
    r("xw_rate_counts_refused_calls", "000", 1631, "xiaowei",
        "58602 接口调用频率超过限制; a refused call still counts", NO_PATCH, "58602")
        .after(&[
            Step::Caps(r#"{"per_second": 1}"#),
            Step::Send(NO_PATCH, "0"),
            Step::AdvanceMonoMs(600),
            Step::Send(NO_PATCH, "58602"),
            Step::AdvanceMonoMs(600),
        ]),
    r("xw_daily_quota", "000", 1523, "xiaowei",
        "每个企业每天只允许调用此接口100次 (58604 已超过今日调用最大次数限制)", NO_PATCH, "58604")
        .after(&[Step::Caps(r#"{"xiaowei_daily": 1}"#), Step::Send(NO_PATCH, "0")]),
    r("xw_to_user_list_required", "000", 1556, "xiaowei", "toUserList 是 (58601 参数校验失败)",
        &[("/body/toUserList", GONE)], "58601"),
    r("xw_to_user_list_5000", "000", 1556, "xiaowei", "toUserList 最多支持5000个",
        &[("/body/toUserList", r#""$ids(5001)""#)], "58601"),
    r("xw_to_user_list_type", "000", 1556, "xiaowei", "toUserList 接收人ID数组",
        &[("/body/toUserList", r#""u1,u2""#)], "58601"),
    r("xw_title_cn_required", "000", 1557, "xiaowei", "titleCn 是",
        &[("/body/titleCn", GONE)], "58601"),
    r("xw_title_cn_32_characters", "000", 1557, "xiaowei", "titleCn 1~32字符",
        &[("/body/titleCn", r#""$rep(33,字)""#)], "58601"),
    r("xw_title_en_not_empty", "000", 1558, "xiaowei", "titleEn 1~128字符",
        &[("/body/titleEn", r#""""#)], "58601"),
    r("xw_title_en_128_characters", "000", 1558, "xiaowei", "titleEn 1~128字符",
        &[("/body/titleEn", r#""$rep(129,e)""#)], "58601"),
    r("xw_end_date_format", "000", 1559, "xiaowei", "endDate 格式为: YYYY-MM-DD",
        &[("/body/endDate", r#""2026/01/12""#)], "58601"),
    r("xw_end_date_7_days", "000", 1559, "xiaowei", "endDate 最多不超过未来7天",
        &[("/body/endDate", r#""2026-01-18""#)], "58601"),
    r("xw_end_date_past", "000", 1559, "xiaowei", "endDate is an expiry: not before today",
        &[("/body/endDate", r#""2026-01-09""#)], "58601"),
    r("xw_url_cn_scheme", "000", 1560, "xiaowei", "urlCn 支持 http:// https:// h5://",
        &[("/body/urlCn", r#""ftp://demo/cn""#)], "58601"),
    r("xw_url_cn_1024", "000", 1560, "xiaowei", "urlCn 链接长度范围: 1~1024",
        &[("/body/urlCn", r#""https://demo/$rep(1020,a)""#)], "58601"),
    r("xw_url_en_scheme", "000", 1561, "xiaowei", "urlEn 规则同urlCn",
        &[("/body/urlEn", r#""weixin://demo""#)], "58601"),
    r("xw_icon_url_cn_scheme", "000", 1562, "xiaowei", "iconUrlCn 支持 http:// https://",
        &[("/body/iconUrlCn", r#""h5://demo/cn.png""#)], "58601"),
    r("xw_icon_url_en_scheme", "000", 1563, "xiaowei", "iconUrlEn 规则同iconUrlCn",
        &[("/body/iconUrlEn", r#""h5://demo/en.png""#)], "58601"),
    r("xw_illegal_account", "000", 1633, "xiaowei", "58606 接收人ID中存在非法账号",
        &[("/body/toUserList", r#"["u1", "invalid-x"]"#)], "58606"),
    // ---- WeCom app API token, FACTS lines 10–16 ----
    r("wecom_token_corpid_required", "FACTS", 10, "wecom_token", "gettoken?corpid= (41002)",
        &[("/query/corpid", r#""""#)], "41002"),
    r("wecom_token_secret_required", "FACTS", 10, "wecom_token",
        "gettoken?corpsecret= (41004)", &[("/query/corpsecret", GONE)], "41004"),
    r("wecom_token_wrong_secret", "FACTS", 14, "wecom_token", "40001 wrong secret",
        NO_PATCH, "40001")
        .after(&[Step::App(r#"{"kind": "wecom", "corpid": "rulescorp", "corpsecret": "right"}"#)]),
    // ---- WeCom message send, FACTS lines 18–36 ----
    r("wecom_send_access_token_required", "FACTS", 43, "wecom_text", "41001 token missing",
        &[("/query", r#"{"access_token": ""}"#)], "41001"),
    r("wecom_send_body_not_json", "FACTS", 18, "wecom_text", "47001 body is not JSON",
        &[("/body", GONE), ("/raw", r#""touser=u1""#)], "47001"),
    r("wecom_send_recipients_required", "FACTS", 19, "wecom_text", "all empty → 82001",
        &[("/body/touser", r#""""#)], "82001"),
    r("wecom_send_touser_type", "FACTS", 19, "wecom_text", "touser ids joined by |",
        &[("/body/touser", r#"["u1", "u2"]"#)], "40058"),
    r("wecom_send_1000_users", "FACTS", 19, "wecom_text", "touser (≤ 1000 ids)",
        &[("/body/touser", r#""$rep(1001,u|)""#)], "40032"),
    r("wecom_send_100_parties", "FACTS", 19, "wecom_text", "toparty (≤ 100)",
        &[("/body/toparty", r#""$rep(101,2|)""#)], "82002"),
    r("wecom_send_100_tags", "FACTS", 19, "wecom_text", "totag (≤ 100)",
        &[("/body/totag", r#""$rep(101,3|)""#)], "82003"),
    r("wecom_send_agentid_required", "FACTS", 20, "wecom_text", "agentid (41011 missing)",
        &[("/body/agentid", GONE)], "41011"),
    r("wecom_send_agentid_of_the_token", "FACTS", 20, "wecom_text",
        "agentid must be the app whose secret made the token (301002)",
        &[("/body/agentid", "1000003")], "301002")
        .after(&[Step::App(
            r#"{"kind": "wecom", "corpid": "rulescorp", "corpsecret": "sec", "agentid": 1000002}"#,
        )]),
    r("wecom_send_msgtype", "FACTS", 45, "wecom_text", "40008 invalid message type",
        &[("/body/msgtype", r#""sms""#)], "40008"),
    r("wecom_send_text_content_required", "FACTS", 45, "wecom_text", "44004 empty content",
        &[("/body/text/content", r#""""#)], "44004"),
    r("wecom_send_safe_0_or_1", "FACTS", 21, "wecom_text", "safe 0 or 1 (2 only for mpnews)",
        &[("/body/safe", "2")], "40058"),
    r("wecom_send_duplicate_check_interval_4h", "FACTS", 22, "wecom_text",
        "duplicate_check_interval max 4 h",
        &[("/body/enable_duplicate_check", "1"), ("/body/duplicate_check_interval", "14401")],
        "40058"),
    r("wecom_send_all_recipients_invalid", "FACTS", 31, "wecom_text",
        "81013 every recipient invalid", &[("/body/touser", r#""invalid1|invalid2""#)], "81013"),
    r("wecom_markdown_2048_bytes", "FACTS", 27, "wecom_markdown",
        "markdown for app messages ≤ 2048 (45002)",
        &[("/body/markdown/content", r#""$rep(2049,m)""#)], "45002"),
    r("wecom_textcard_url_http", "FACTS", 26, "wecom_textcard", "textcard url http(s)",
        &[("/body/textcard/url", r#""h5://example.com/prize""#)], "40058"),
    r("wecom_textcard_url_absolute", "FACTS", 26, "wecom_textcard", "textcard url http(s)",
        &[("/body/textcard/url", r#""/prize""#)], "40058"),
    r("wecom_textcard_url_required", "FACTS", 26, "wecom_textcard", "textcard url",
        &[("/body/textcard/url", GONE)], "40058"),
    r("wecom_textcard_url_2048_bytes", "FACTS", 26, "wecom_textcard", "url ≤ 2048",
        &[("/body/textcard/url", r#""https://example.com/$rep(2040,p)""#)], "40058"),
    r("wecom_textcard_title_required", "FACTS", 25, "wecom_textcard", "textcard title",
        &[("/body/textcard/title", GONE)], "40058"),
    r("wecom_textcard_description_required", "FACTS", 26, "wecom_textcard",
        "textcard description", &[("/body/textcard/description", GONE)], "40058"),
    r("wecom_news_1_to_8_articles", "FACTS", 26, "wecom_news", "news 1–8 articles",
        &[("/body/news/articles", r#"*9:{"title": "T", "url": "https://example.com/a"}"#)],
        "40058"),
    r("wecom_news_articles_required", "FACTS", 26, "wecom_news", "news 1–8 articles",
        &[("/body/news/articles", "[]")], "40058"),
    r("wecom_news_title_required", "FACTS", 27, "wecom_news", "news title",
        &[("/body/news/articles/0/title", GONE)], "40058"),
    r("wecom_news_url_http", "FACTS", 26, "wecom_news", "news url http(s)",
        &[("/body/news/articles/0/url", r#""h5://example.com/a""#)], "40058"),
    r("wecom_news_picurl_http", "FACTS", 26, "wecom_news", "news picurl http(s)",
        &[("/body/news/articles/0/picurl", r#""ftp://example.com/a.png""#)], "40058"),
    r("wecom_image_media_id_known", "FACTS", 46, "wecom_image", "40007 invalid media_id",
        &[("/body/image/media_id", r#""3unknown""#)], "40007"),
    r("wecom_image_media_id_3_days", "FACTS", 52, "wecom_image", "media_id lives 3 days",
        NO_PATCH, "40007")
        .after(&[Step::AdvanceClockMs(3 * 24 * 3600 * 1000 + 1000)]),
    r("wecom_file_media_id_known", "FACTS", 46, "wecom_image", "40007 invalid media_id",
        &[("/body/msgtype", r#""file""#), ("/body/image", GONE),
            ("/body/file", r#"{"media_id": "3unknown"}"#)], "40007"),
    r("wecom_rate_company_counts_refused_calls", "FACTS", 35, "wecom_text",
        "per company per API 10,000/min (45009); a refused call still counts", NO_PATCH, "45009")
        .after(&[
            Step::Caps(r#"{"wecom_company_per_minute": 1}"#),
            Step::Send(NO_PATCH, "0"),
            Step::AdvanceMonoMs(40_000),
            Step::Send(NO_PATCH, "45009"),
            Step::AdvanceMonoMs(30_000),
        ]),
    // ---- WeCom recall, FACTS line 48 ----
    r("wecom_recall_24_hours", "FACTS", 48, "wecom_recall", "42052 = too old (24 h)",
        NO_PATCH, "42052")
        .after(&[Step::AdvanceClockMs(24 * 3600 * 1000 + 1000)]),
    r("wecom_recall_unknown", "FACTS", 48, "wecom_recall", "recall by a msgid that was sent",
        &[("/body/msgid", r#""unknown-msgid""#)], "40058"),
    // ---- WeCom media upload, FACTS lines 50–52 (checked by content, not by name) ----
    r("wecom_media_type", "FACTS", 50, "wecom_upload", "type=image|voice|video|file (40004)",
        &[("/query/type", r#""photo""#)], "40004"),
    r("wecom_media_field_name", "FACTS", 50, "wecom_upload", "multipart field media (41005)",
        &[("/upload/field", r#""file""#)], "41005"),
    r("wecom_media_more_than_5_bytes", "FACTS", 51, "wecom_upload", "every file > 5 bytes",
        &[("/upload/size", "5")], "40006"),
    r("wecom_media_image_10_mb", "FACTS", 51, "wecom_upload", "image ≤ 10 MB",
        &[("/upload/size", "10485761")], "40006"),
    r("wecom_media_voice_2_mb", "FACTS", 51, "wecom_upload", "voice ≤ 2 MB",
        &[("/query/type", r#""voice""#), ("/upload/filename", r#""a.amr""#),
            ("/upload/content", r#""amr""#), ("/upload/size", "2097153")], "40006"),
    r("wecom_media_image_content_not_picture", "FACTS", 51, "wecom_upload",
        "image JPG/PNG: a text file named .png is no image",
        &[("/upload/content", r#""text""#)], "40005"),
    r("wecom_media_image_gif", "FACTS", 51, "wecom_upload", "image JPG/PNG: not GIF",
        &[("/upload/filename", r#""a.gif""#), ("/upload/content", r#""gif""#)], "40005"),
    r("wecom_media_voice_content_not_amr", "FACTS", 51, "wecom_upload",
        "voice AMR: an MP4 named .amr is no AMR",
        &[("/query/type", r#""voice""#), ("/upload/filename", r#""a.amr""#),
            ("/upload/content", r#""mp4""#)], "40005"),
    r("wecom_media_video_content_not_mp4", "FACTS", 51, "wecom_upload",
        "video MP4: a PNG named .mp4 is no MP4",
        &[("/query/type", r#""video""#), ("/upload/filename", r#""a.mp4""#)], "40005"),
    r("wecom_agent_ticket_type", "FACTS", 55, "wecom_agent_ticket",
        "app ticket GET /ticket/get?type=agent_config", &[("/query/type", r#""jsapi""#)],
        "40058"),
    // ---- Work-ID platform, 002 line 13 (one line holds the whole document) ----
    r("workid_bearer_required", "002", 13, "workid_text",
        "Authorization Bearer Token 通过万网中台 客户端模式获取",
        &[("/header", r#"{"Authorization": "Bearer not-a-token"}"#)], "401"),
    r("workid_work_ids_required", "002", 13, "workid_text", "workIds 是",
        &[("/body/workIds", GONE)], "400"),
    r("workid_work_ids_array", "002", 13, "workid_text", "workIds Array",
        &[("/body/workIds", r#""ww0517""#)], "400"),
    r("workid_work_ids_1000", "002", 13, "workid_text", "WeCom underneath: ≤ 1000 users",
        &[("/body/workIds", r#""$ids(1001)""#)], "400"),
    r("workid_work_ids_all_unknown", "002", 13, "workid_text", "81013 every work ID unknown",
        &[("/body/workIds", r#"["invalid-1"]"#)], "81013"),
    r("workid_company_id_string", "002", 13, "workid_text", "companyId String",
        &[("/body/companyId", "1")], "400"),
    r("workid_text_content_required", "002", 13, "workid_text", "content 是",
        &[("/body/content", GONE)], "400"),
    r("workid_text_card_required", "002", 13, "workid_textcard", "textCard 是",
        &[("/body/textCard", GONE)], "400"),
    r("workid_text_card_title_required", "002", 13, "workid_textcard", "title 是",
        &[("/body/textCard/title", GONE)], "400"),
    r("workid_text_card_description_required", "002", 13, "workid_textcard",
        "description 是", &[("/body/textCard/description", GONE)], "400"),
    r("workid_text_card_url_required", "002", 13, "workid_textcard", "url 是",
        &[("/body/textCard/url", GONE)], "400"),
    r("workid_text_card_url_http", "002", 13, "workid_textcard",
        "url 点击后跳转的链接 (WeCom textcard url is http(s))",
        &[("/body/textCard/url", r#""h5://example.com""#)], "400"),
    r("workid_file_url_required", "002", 13, "workid_file", "fileUrl 是",
        &[("/body/fileUrl", GONE)], "400"),
    r("workid_file_url_http", "002", 13, "workid_file", "fileUrl 文件地址(obs文件地址)",
        &[("/body/fileUrl", r#""obs://bucket/report/426.pdf""#)], "400"),
    r("workid_file_safe_0_or_1", "002", 13, "workid_file", "safe 0 or 1",
        &[("/body/safe", "2")], "400"),
    r("workid_file_safe_file_types", "002", 13, "workid_file",
        "保密消息支持以下格式文件: txt、pdf、doc、docx、ppt、pptx、xls、xlsx、xml、jpg、jpeg、png、bmp、gif",
        &[("/body/fileUrl", r#""https://bucket.obs.example.com/report/426.zip""#)], "400"),
    r("workid_images_required", "002", 13, "workid_image", "images 是",
        &[("/body/images", GONE)], "400"),
    r("workid_images_1_to_8", "002", 13, "workid_image", "WeCom news: 1–8 articles",
        &[("/body/images",
            r#"*9:{"title": "t", "description": "d", "picUrl": "https://example.com/p.png"}"#)],
        "400"),
    r("workid_image_title_required", "002", 13, "workid_image", "title 是",
        &[("/body/images/0/title", GONE)], "400"),
    r("workid_image_description_required", "002", 13, "workid_image", "description 是",
        &[("/body/images/0/description", GONE)], "400"),
    r("workid_image_pic_url_required", "002", 13, "workid_image", "picUrl 是",
        &[("/body/images/0/picUrl", GONE)], "400"),
    r("workid_image_pic_url_http", "002", 13, "workid_image", "picUrl 图片地址(obs文件地址)",
        &[("/body/images/0/picUrl", r#""obs://bucket/p.png""#)], "400"),
    r("workid_image_url_http", "002", 13, "workid_image", "url 点击后跳转的链接",
        &[("/body/images/0/url", r#""h5://example.com/""#)], "400"),
    r("workid_markdown_required", "002", 13, "workid_markdown", "markdown 是",
        &[("/body/markdown", GONE)], "400"),
    r("workid_markdown_content_required", "002", 13, "workid_markdown", "content 是",
        &[("/body/markdown/content", r#""""#)], "400"),
    r("workid_recall_msg_id_required", "002", 13, "workid_recall", "msgId 是",
        &[("/body/msgId", GONE)], "400"),
    r("workid_recall_same_company", "002", 13, "workid_recall",
        "companyId 需撤回“豆秒数科”企微提醒时传入EHR系统的公司id",
        &[("/body/companyId", GONE)], "40058"),
    r("workid_recall_24_hours", "002", 13, "workid_recall", "本接口可以撤回24小时内...的消息",
        NO_PATCH, "42052")
        .after(&[Step::AdvanceClockMs(24 * 3600 * 1000 + 1000)]),
    // ---- OAuth2 client credentials of the work-ID platform, FACTS lines 68–73 ----
    r("oauth_grant_type", "FACTS", 69, "oauth_token", "grant_type=client_credentials",
        &[("/form/grant_type", r#""password""#)], "unsupported_grant_type"),
    r("oauth_form_body", "FACTS", 69, "oauth_token", "POST token_url with a form",
        &[("/form", GONE), ("/body",
            r#"{"grant_type": "client_credentials", "client_id": "rules-oauth", "client_secret": "sec"}"#)],
        "invalid_request"),
    r("oauth_client_required", "FACTS", 72, "oauth_token", "invalid_client (401)",
        &[("/form/client_secret", GONE)], "invalid_client"),
    r("oauth_one_authentication_method", "FACTS", 70, "oauth_token",
        "HTTP Basic, or in the form body (RFC 6749 §2.3: not both)",
        &[("/header", r#"{"Authorization": "Basic cnVsZXMtb2F1dGg6c2Vj"}"#)], "invalid_request"),
    // ---- Juzi sidebar OAuth, 001 lines 105–136 ----
    r("juzi_redirect_uri_required", "001", 108, "juzi_authorize", "redirect_uri 是",
        &[("/query/redirect_uri", GONE)], "400"),
    r("juzi_redirect_uri_http", "001", 108, "juzi_authorize", "授权后重定向的回调链接地址",
        &[("/query/redirect_uri", r#""javascript:alert(1)""#)], "400"),
    r("juzi_state_charset", "001", 109, "juzi_authorize", "state a-zA-Z0-9的参数值",
        &[("/query/state", r#""a-b_c""#)], "400"),
    r("juzi_state_128_bytes", "001", 109, "juzi_authorize", "state 长度不可超过128个字节",
        &[("/query/state", r#""$rep(129,s)""#)], "400"),
    r("juzi_code_malformed", "001", 129, "juzi_user", "-1 无效的授权码",
        &[("/query/code", r#""x""#)], "-1"),
    r("juzi_code_unknown", "001", 129, "juzi_user", "-4 未找到授权码",
        &[("/query/code", r#""$rep(32,A)""#)], "-4"),
    r("juzi_code_single_use", "001", 113, "juzi_user", "code只能使用一次 (-2)",
        NO_PATCH, "-2")
        .after(&[Step::Send(NO_PATCH, "0")]),
    r("juzi_code_5_minutes", "001", 113, "juzi_user", "5分钟未被使用自动过期 (-2)",
        NO_PATCH, "-2")
        .after(&[Step::AdvanceClockMs(5 * 60 * 1000 + 1000)]),
];
