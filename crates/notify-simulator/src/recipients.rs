//! `GET /_sim/recipients`: every recorded send drawn as its recipient would see it (a WeLink
//! card, app card, image or news; a Xiaowei reminder; a WeCom text, text card, news or markdown
//! from the app API or the work-ID platform), each drawn from the exact body the simulator
//! received, with that body beside it. A sandbox user sees the result of an alert source before
//! pointing it at the real upstreams.
//!
//! The drawing is the simulator's reading of the documents, not the clients' pixels: it shows
//! which field lands where. Every text from a body is escaped, and nothing is fetched from a
//! body's URLs (images are shown as their address), so a body can neither inject markup nor
//! make the browser call out.

use axum::extract::State;
use axum::response::Html;
use serde_json::Value;

use crate::calls::Entry;
use crate::clock::shanghai_time;
use crate::page::{escape, nav};
use crate::Simulator;

const SHOWN: usize = 200;

/// A field of `v` as text: strings as they are, numbers and booleans printed, anything else
/// empty.
fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A WeLink text that may be the bilingual `{"CN": …, "EN": …}` JSON (as a string or an
/// object): the Chinese text, then the English one when it differs.
fn bilingual(v: &Value, key: &str) -> String {
    let parsed;
    let obj = match v.get(key) {
        Some(Value::String(s)) if s.trim_start().starts_with('{') => {
            match serde_json::from_str::<Value>(s) {
                Ok(p) if p.is_object() => {
                    parsed = p;
                    &parsed
                }
                _ => return s.clone(),
            }
        }
        Some(o @ Value::Object(_)) => o,
        _ => return text(v, key),
    };
    let (cn, en) = (text(obj, "CN"), text(obj, "EN"));
    match (cn.is_empty(), en.is_empty()) {
        (false, false) if cn != en => format!("{cn} / {en}"),
        (false, _) => cn,
        _ => en,
    }
}

/// Escaped text in an element of `class`, or nothing when the text is empty.
fn el(class: &str, s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("<div class=\"{class}\">{}</div>", escape(s))
    }
}

/// A link as its text only: the page never follows or loads a body's URL.
fn link(label: &str, url: &str) -> String {
    if url.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"link\">{} <span class=\"url\">{}</span></div>",
            escape(label),
            escape(url)
        )
    }
}

fn image(url: &str) -> String {
    if url.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"img\" title=\"not loaded in the sandbox\">image<br><span class=\"url\">{}</span></div>",
            escape(url)
        )
    }
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn joined(v: &Value, key: &str) -> String {
    list(v, key)
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who the call addresses, as the upstream names them.
fn recipients(path: &str, b: &Value) -> String {
    if path.starts_with("/cgi-bin/") {
        let parts: Vec<String> = [("touser", ""), ("toparty", "party "), ("totag", "tag ")]
            .iter()
            .filter_map(|(k, label)| {
                let s = text(b, k);
                (!s.is_empty()).then(|| format!("{label}{}", s.replace('|', ", ")))
            })
            .collect();
        return parts.join("; ");
    }
    if path.starts_with("/integration/") {
        return joined(b, "workIds");
    }
    let users = joined(b, "toUserList");
    if !users.is_empty() {
        return users;
    }
    let groups: Vec<String> = [("departmentList", "department"), ("roleList", "role")]
        .iter()
        .filter_map(|(k, label)| {
            let s = joined(b, k);
            (!s.is_empty()).then(|| format!("{label} {s}"))
        })
        .collect();
    groups.join("; ")
}

fn welink_card(b: &Value) -> String {
    let status = bilingual(b, "messageStatus");
    let colour = match text(b, "statusColor").as_str() {
        "2" => "green",
        "3" => "grey",
        _ => "red",
    };
    format!(
        "<div class=\"owner\">{owner}</div>{title}{status}{content}{link}",
        owner = escape(&bilingual(b, "msgOwner")),
        title = el("title", &bilingual(b, "msgTitle")),
        status = if status.is_empty() {
            String::new()
        } else {
            format!("<span class=\"badge {colour}\">{}</span>", escape(&status))
        },
        content = el("content", &bilingual(b, "msgContent")),
        link = link("View details →", &text(b, "urlPath")),
    )
}

fn welink_app_card(b: &Value) -> String {
    let mut rows = String::new();
    for line in list(b, "contentList") {
        rows.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(&bilingual(&line, "key")),
            escape(&bilingual(&line, "value"))
        ));
    }
    let mut buttons = String::new();
    for btn in list(b, "btnList") {
        buttons.push_str(&format!(
            "<span class=\"button\" title=\"{}\">{}</span>",
            escape(&text(&btn, "btnUrl")),
            escape(&bilingual(&btn, "btnTitle"))
        ));
    }
    format!(
        "{title}<table class=\"fields\">{rows}</table>{link}<div class=\"buttons\">{buttons}</div>",
        title = el("title", &bilingual(b, "msgTitle")),
        link = link("Open →", &text(b, "urlPath")),
    )
}

/// News items: WeLink `news[]` (`newsUrl`, `imageUrl`), WeCom `articles[]` (`url`, `picurl`),
/// work-ID `images[]` (`url`, `picUrl`).
fn articles(items: &[Value]) -> String {
    let mut out = String::new();
    for a in items {
        let pic = ["imageUrl", "picurl", "picUrl"]
            .iter()
            .map(|k| text(a, k))
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let url = ["newsUrl", "url"]
            .iter()
            .map(|k| text(a, k))
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        out.push_str(&format!(
            "<div class=\"article\">{img}{title}{desc}{link}</div>",
            img = image(&pic),
            title = el("title", &bilingual(a, "title")),
            desc = el("content", &bilingual(a, "description")),
            link = link("Open →", &url),
        ));
    }
    out
}

fn xiaowei(b: &Value) -> String {
    let end = text(b, "endDate");
    format!(
        "<div class=\"owner\">Xiaowei reminder</div>{title}{title_en}{until}{link}",
        title = el("title", &text(b, "titleCn")),
        title_en = el("content", &text(b, "titleEn")),
        until = el(
            "muted",
            &if end.is_empty() {
                "shown until the end of today".to_string()
            } else {
                format!("shown until {end}")
            }
        ),
        link = link("Open →", &text(b, "urlCn")),
    )
}

/// A WeCom text card (app API `textcard`, work-ID `textCard`).
fn text_card(c: &Value, at_ms: i64) -> String {
    let day = shanghai_time(at_ms);
    let btn = match text(c, "btntxt") {
        s if s.is_empty() => "详情".to_string(),
        s => s,
    };
    format!(
        "{title}{date}{desc}<div class=\"cardlink\">{btn} › <span class=\"url\">{url}</span></div>",
        title = el("title", &text(c, "title")),
        date = el("muted", day.get(..10).unwrap_or(&day)),
        desc = el("content", &text(c, "description")),
        btn = escape(&btn),
        url = escape(&text(c, "url")),
    )
}

fn bubble(s: &str) -> String {
    format!("<div class=\"bubble\">{}</div>", escape(s))
}

fn markdown(s: &str) -> String {
    format!(
        "<div class=\"muted\">markdown (as sent; WeCom renders its subset)</div><pre class=\"bubble\">{}</pre>",
        escape(s)
    )
}

/// WeCom app API `message/send` by `msgtype`.
fn wecom_app(b: &Value, at_ms: i64) -> (String, String) {
    let t = text(b, "msgtype");
    let part = b.get(&t).cloned().unwrap_or(Value::Null);
    let html = match t.as_str() {
        "text" => bubble(&text(&part, "content")),
        "textcard" => text_card(&part, at_ms),
        "news" | "mpnews" => articles(&list(&part, "articles")),
        "markdown" => markdown(&text(&part, "content")),
        "image" | "voice" | "file" | "video" => format!(
            "<div class=\"img\">{}<br><span class=\"url\">media_id {}</span></div>{}",
            escape(&t),
            escape(&text(&part, "media_id")),
            el("title", &text(&part, "title")),
        ),
        _ => bubble(&part.to_string()),
    };
    (format!("WeCom app message · {t}"), html)
}

/// The upstream's name and the drawing of a send; `None` for calls that are not a message a
/// person receives (tokens, tickets, uploads, OAuth).
fn draw(e: &Entry) -> Option<(String, String)> {
    let b = &e.body;
    let drawn = match e.path.as_str() {
        "/api/messages/v2/card/common" => ("WeLink card".into(), welink_card(b)),
        "/api/messages/v1/card/wecode" => ("WeLink app card".into(), welink_app_card(b)),
        "/api/messages/v1/image" => (
            "WeLink image".into(),
            format!(
                "{}{}",
                image(&text(b, "imageUrl")),
                link("Opens →", &text(b, "jumpUrl"))
            ),
        ),
        "/api/messages/v1/news" => ("WeLink news".into(), articles(&list(b, "news"))),
        "/api/messages/v1/update" => (
            "WeLink card status update".into(),
            format!(
                "<div class=\"muted\">the card {} now shows</div><span class=\"badge\">{}</span>",
                escape(&text(b, "itemId")),
                escape(&bilingual(b, "messageStatus"))
            ),
        ),
        "/api/messages/v1/recall" | "/cgi-bin/message/recall" | "/integration/wx_work/recall" => (
            "Recall".into(),
            el("muted", "the message disappears from the recipients' chats"),
        ),
        "/api/athenaservice/v1/contextaware/push" => ("Xiaowei".into(), xiaowei(b)),
        "/cgi-bin/message/send" => wecom_app(b, e.at_ms),
        "/integration/wx_work/sendByWorkIds" => {
            ("WeCom work-ID text".into(), bubble(&text(b, "content")))
        }
        "/integration/wx_work/sendTextCardByWorkIds" => (
            "WeCom work-ID text card".into(),
            text_card(b.get("textCard").unwrap_or(&Value::Null), e.at_ms),
        ),
        "/integration/wx_work/sendMarkdownByWorkIds" => (
            "WeCom work-ID markdown".into(),
            markdown(&text(b.get("markdown").unwrap_or(&Value::Null), "content")),
        ),
        "/integration/wx_work/sendImageByWorkIds" => {
            ("WeCom work-ID image".into(), articles(&list(b, "images")))
        }
        "/integration/wx_work/sendFileByWorkIds" => (
            "WeCom work-ID file".into(),
            format!(
                "<div class=\"img\">file<br><span class=\"url\">{}</span></div>",
                escape(&text(b, "fileUrl"))
            ),
        ),
        _ => return None,
    };
    Some(drawn)
}

/// What became of the call: delivered, or why the recipients did not get it.
fn outcome(e: &Entry) -> (&'static str, String) {
    if let Some(d) = e.notes.iter().find(|n| n.starts_with("duplicate_of:")) {
        return ("err", format!("not delivered again ({d})"));
    }
    if e.status != 200 || e.code != "0" {
        return (
            "err",
            format!("refused: HTTP {}, code {}", e.status, e.code),
        );
    }
    if e.dropped {
        return ("warn", format!("partly dropped ({})", e.notes.join(" ")));
    }
    ("ok", "delivered".into())
}

/// One recorded send as an HTML card, or `None` for calls that are not one.
pub(crate) fn card(e: &Entry) -> Option<String> {
    let (upstream, drawing) = draw(e)?;
    let (cls, result) = outcome(e);
    Some(format!(
        "<article class=\"msg {cls}\" data-seq=\"{seq}\" data-path=\"{path}\">\
         <header><strong>{upstream}</strong> <span class=\"muted\">#{seq} · {time} · to {to}</span> \
         <span class=\"result\">{result}</span></header>\
         <div class=\"screen\">{drawing}</div>\
         <details><summary>exact body</summary><pre>{body}</pre></details></article>\n",
        seq = e.seq,
        path = escape(&e.path),
        upstream = escape(&upstream),
        time = shanghai_time(e.at_ms),
        to = escape(&recipients(&e.path, &e.body)),
        result = escape(&result),
        body = escape(&serde_json::to_string_pretty(&e.body).unwrap_or_default()),
    ))
}

const STYLE: &str = "body{font:14px sans-serif;margin:1em;background:#f4f5f7}\
nav a{margin-right:1em}.muted{color:#777;font-size:12px}\
article.msg{background:#fff;border-radius:6px;margin:0 0 12px;padding:8px 12px;max-width:560px;\
box-shadow:0 1px 2px #0002}article.err{border-left:4px solid #d33}article.warn{border-left:4px solid #e90}\
article.ok{border-left:4px solid #2a2}.result{float:right;font-size:12px}\
.screen{border:1px solid #e3e3e3;border-radius:6px;padding:10px;margin:8px 0;background:#fafafa}\
.owner{font-size:12px;color:#555;margin-bottom:4px}.title{font-weight:bold;font-size:15px;margin:2px 0}\
.content{white-space:pre-wrap;margin:4px 0}.badge{display:inline-block;padding:1px 6px;border-radius:3px;\
background:#eee;font-size:12px}.badge.red{background:#fdd}.badge.green{background:#dfd}.badge.grey{background:#ddd}\
.link,.cardlink{color:#06c;font-size:13px;margin-top:6px}.url{color:#999;font-size:11px;word-break:break-all}\
.bubble{display:inline-block;background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px 10px;\
white-space:pre-wrap;margin:0;font:inherit}.img{border:1px dashed #bbb;padding:10px;text-align:center;\
color:#888;margin:4px 0}.article{border-bottom:1px solid #eee;padding:4px 0}\
table.fields th{text-align:left;color:#777;font-weight:normal;padding-right:1em}\
.buttons .button{display:inline-block;border:1px solid #06c;color:#06c;border-radius:3px;padding:2px 8px;margin:6px 6px 0 0}\
pre{white-space:pre-wrap;word-break:break-all;font-size:12px}";

pub(crate) async fn page(State(sim): State<Simulator>) -> Html<String> {
    let calls = sim.inner.log.latest(SHOWN);
    let cards: String = calls.iter().rev().filter_map(|e| card(e)).collect();
    let empty = if cards.is_empty() {
        "<p class=\"muted\">No message has been sent upstream yet.</p>"
    } else {
        ""
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>notify-simulator: recipients' view</title><style>{STYLE}</style></head><body>\
         {nav}<h1>Recipients' view</h1><p class=\"muted\">Each message the gateway sent upstream \
         (latest {SHOWN} calls, newest first, times UTC+8), drawn as its recipient would see it from \
         the exact body received. Links and images are shown as their address, never loaded. \
         Reloads every 3 s unless a body is open. Juzi messages are not sent upstream: an agent \
         sends them from the chat, see <a href=\"/_sim/chats\">Juzi chats</a>.</p>{empty}<main id=\"messages\">{cards}</main>\
         <script>setInterval(function(){{if(!document.querySelector('details[open]'))location.reload()}},3000)</script>\
         </body></html>\n",
        nav = nav("recipients"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use serde_json::json;

    fn entry(path: &str, body: Value) -> Entry {
        Entry {
            seq: 7,
            at_ms: 1_765_000_000_000,
            mono_us: 0,
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            headers: HeaderMap::new(),
            body,
            status: 200,
            answer: Value::Null,
            code: "0".into(),
            client_id: None,
            peer_ip: "127.0.0.1".into(),
            dropped: false,
            notes: Vec::new(),
            members: None,
        }
    }

    #[test]
    fn a_welink_card_shows_owner_title_content_and_bilingual_status() {
        let html = card(&entry(
            "/api/messages/v2/card/common",
            json!({"msgOwner": "Notify", "msgTitle": "Disk almost full", "msgContent": "db-3 /var at 95%",
                   "messageStatus": "{\"CN\":\"处理中\",\"EN\":\"open\"}", "toUserList": ["zhangsan@welink"],
                   "urlPath": "https://ops.example/db3"}),
        ))
        .unwrap();
        assert!(html.contains("<strong>WeLink card</strong>"));
        assert!(html.contains("<div class=\"title\">Disk almost full</div>"));
        assert!(html.contains("<div class=\"content\">db-3 /var at 95%</div>"));
        assert!(html.contains(">处理中 / open</span>"));
        assert!(html.contains("to zhangsan@welink"));
        assert!(html.contains("https://ops.example/db3"));
        assert!(html.contains("class=\"msg ok\""));
    }

    #[test]
    fn markup_in_any_field_is_escaped() {
        let evil = "<img src=x onerror=alert(1)>\"'&";
        for (path, body) in [
            (
                "/api/messages/v2/card/common",
                json!({"msgOwner": evil, "msgTitle": evil, "msgContent": evil, "urlPath": evil,
                       "toUserList": [evil]}),
            ),
            (
                "/api/messages/v1/card/wecode",
                json!({"msgTitle": evil, "contentList": [{"key": evil, "value": evil}],
                       "btnList": [{"btnTitle": evil, "btnUrl": evil}], "urlPath": evil}),
            ),
            (
                "/cgi-bin/message/send",
                json!({"msgtype": "textcard", "touser": evil,
                       "textcard": {"title": evil, "description": evil, "url": evil, "btntxt": evil}}),
            ),
            (
                "/api/athenaservice/v1/contextaware/push",
                json!({"titleCn": evil, "titleEn": evil, "urlCn": evil, "endDate": evil}),
            ),
            (
                "/integration/wx_work/sendImageByWorkIds",
                json!({"images": [{"title": evil, "description": evil, "picUrl": evil}], "workIds": [evil]}),
            ),
        ] {
            let html = card(&entry(path, body)).unwrap();
            assert!(!html.contains("<img"), "{path}: {html}");
            assert!(
                html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"),
                "{path}"
            );
        }
    }

    #[test]
    fn each_wecom_type_is_drawn_from_its_part() {
        let text = card(&entry(
            "/cgi-bin/message/send",
            json!({"msgtype": "text", "text": {"content": "plain\ntext"}, "touser": "a|b"}),
        ))
        .unwrap();
        assert!(text.contains("<div class=\"bubble\">plain\ntext</div>"));
        assert!(text.contains("to a, b"));
        let card_html = card(&entry(
            "/integration/wx_work/sendTextCardByWorkIds",
            json!({"textCard": {"title": "T", "description": "D", "url": "https://u.example"}, "workIds": ["w1"]}),
        ))
        .unwrap();
        assert!(card_html.contains("WeCom work-ID text card"));
        assert!(card_html.contains("详情 ›"));
        let news = card(&entry(
            "/cgi-bin/message/send",
            json!({"msgtype": "news", "news": {"articles": [{"title": "Runbook", "url": "https://r.example", "picurl": "https://p.example/a.png"}]}}),
        ))
        .unwrap();
        assert!(news.contains("Runbook") && news.contains("https://p.example/a.png"));
        assert!(!news.contains("<img"), "images are never loaded");
    }

    #[test]
    fn refused_and_duplicate_sends_say_so_and_other_calls_are_not_drawn() {
        let mut refused = entry("/cgi-bin/message/send", json!({"msgtype": "text"}));
        refused.code = "44004".into();
        assert!(card(&refused)
            .unwrap()
            .contains("refused: HTTP 200, code 44004"));
        let mut dup = entry(
            "/cgi-bin/message/send",
            json!({"msgtype": "text", "text": {"content": "x"}}),
        );
        dup.notes.push("duplicate_of:m1".into());
        assert!(card(&dup).unwrap().contains("not delivered again"));
        assert!(card(&entry("/cgi-bin/gettoken", Value::Null)).is_none());
        assert!(card(&entry("/api/auth/v2/tickets", json!({}))).is_none());
    }
}
