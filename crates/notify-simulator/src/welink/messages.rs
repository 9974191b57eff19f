//! The four public-account sends (000 lines 775–1328): plain card, app card, image, news.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::control::NonfanMode;
use crate::fields::{
    bilingual, chars, json_text, max_bytes, opt_obj_list, opt_str, opt_str_list, req_str, Obj,
};
use crate::reply::{welink, Incoming, Reply};
use crate::welink::{gate, Api, Message};
use crate::{ids, Inner};

/// Which send endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendKind {
    /// `/messages/v2/card/common` (000 lines 775–902).
    Card,
    /// `/messages/v1/card/wecode` (000 lines 903–1067).
    AppCard,
    /// `/messages/v1/image` (000 lines 1068–1182).
    Image,
    /// `/messages/v1/news` (000 lines 1183–1328).
    News,
}

/// 51062 "参数非法" — the sends list no other code for a bad or missing field.
pub(crate) fn bad(reason: impl AsRef<str>) -> Reply {
    welink("51062", &format!("参数非法: {}", reason.as_ref()), None)
}

/// Who a send addresses (`msgRange`, 000 lines 812–815).
enum Range {
    Users(Vec<String>),
    Groups,
}

fn recipients(o: &Obj) -> Result<Range, Reply> {
    let range = match o.get("msgRange") {
        None | Some(Value::Null) => "0",
        Some(Value::String(s)) => s.as_str(),
        // "msgRange参数类型值不支持": a number is an unsupported type (000 line 892).
        Some(_) => return Err(welink("51059", "msgRange参数类型值不支持", None)),
    };
    match range {
        "0" => {
            let users = opt_str_list(o, "toUserList")
                .map_err(bad)?
                .unwrap_or_default();
            if users.is_empty() {
                return Err(bad("toUserList is required when msgRange=0"));
            }
            if users.len() > 1000 {
                return Err(welink("51018", "单次发送用户数最大1000人", None));
            }
            Ok(Range::Users(users.into_iter().map(str::to_owned).collect()))
        }
        "1" => {
            let deps = opt_str_list(o, "departmentList")
                .map_err(bad)?
                .unwrap_or_default();
            if deps.is_empty() {
                return Err(welink("51056", "msgRange=1时，部门列表不能为空", None));
            }
            if deps.len() > 100 {
                return Err(bad("departmentList holds more than 100 ids"));
            }
            Ok(Range::Groups)
        }
        "2" => {
            let roles = opt_str_list(o, "roleList")
                .map_err(bad)?
                .unwrap_or_default();
            if roles.is_empty() {
                return Err(welink("51095", "msgRange=2时，角色列表不能为空", None));
            }
            if roles.len() > 100 {
                return Err(bad("roleList holds more than 100 ids"));
            }
            Ok(Range::Groups)
        }
        _ => Err(welink("51059", "msgRange参数类型值不支持", None)),
    }
}

/// A `messageStatus`: `{"EN":"processed","CN":"已处理"}` with CN 2–5 characters and EN 2–10
/// (000 lines 824, 947, 1364). The field is typed String (a JSON text) but the format line
/// shows an object, so both are accepted.
pub(crate) fn check_status(v: &Value) -> Result<(), String> {
    let parsed;
    let obj = match v {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|_| "messageStatus is not JSON".to_owned())?;
            parsed
                .as_object()
                .ok_or_else(|| "messageStatus is not a JSON object".to_owned())?
        }
        Value::Object(m) => m,
        _ => return Err("messageStatus must be a JSON string or object".into()),
    };
    let cn = obj
        .get("CN")
        .and_then(Value::as_str)
        .ok_or("messageStatus.CN is required")?;
    let en = obj
        .get("EN")
        .and_then(Value::as_str)
        .ok_or("messageStatus.EN is required")?;
    if !(2..=5).contains(&chars(cn)) {
        return Err(format!(
            "messageStatus.CN is {} characters, not 2-5",
            chars(cn)
        ));
    }
    if !(2..=10).contains(&chars(en)) {
        return Err(format!(
            "messageStatus.EN is {} characters, not 2-10",
            chars(en)
        ));
    }
    Ok(())
}

/// 51104 "messageStatus消息状态参数不合法".
pub(crate) fn bad_status(reason: impl AsRef<str>) -> Reply {
    welink(
        "51104",
        &format!("messageStatus消息状态参数不合法: {}", reason.as_ref()),
        None,
    )
}

/// The state fields of the two card kinds; returns whether the card carries a state.
fn card_state(o: &Obj) -> Result<bool, Reply> {
    let status = o.get("messageStatus").filter(|v| !v.is_null());
    if let Some(v) = status {
        check_status(v).map_err(bad_status)?;
    }
    // statusColor "1 (蓝色), 2 (灰色), 3 (橙色)" (000 lines 825, 950).
    match o.get("statusColor") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if matches!(c.as_str(), "1" | "2" | "3") => {}
        Some(other) => {
            return Err(bad_status(format!(
                "statusColor {other} is not \"1\", \"2\" or \"3\""
            )))
        }
    }
    Ok(status.is_some())
}

fn check_common(o: &Obj) -> Result<(), Reply> {
    opt_str(o, "publicAccID").map_err(bad)?;
    // receiveDeviceType "0：PC；1：Mobile；2：PC+MOBILE" (000 line 820).
    match opt_str(o, "receiveDeviceType").map_err(bad)? {
        None | Some("0" | "1" | "2") => {}
        Some(other) => return Err(bad(format!("receiveDeviceType {other:?} is not 0, 1 or 2"))),
    }
    Ok(())
}

/// `urlType`: "当前只支持“html”".
fn url_type(o: &Obj, k: &str) -> Result<(), Reply> {
    match opt_str(o, k).map_err(bad)? {
        None | Some("html") => Ok(()),
        Some(other) => Err(bad(format!("{k} {other:?} is not \"html\""))),
    }
}

/// `isForceTips`: Integer, 0 or 1 (000 lines 826, 951).
fn force_tips(o: &Obj) -> Result<(), Reply> {
    match o.get("isForceTips") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_i64().is_some_and(|n| n == 0 || n == 1) => Ok(()),
        Some(v) => Err(bad(format!("isForceTips {v} is not the integer 0 or 1"))),
    }
}

fn text(o: &Obj, k: &str, max: usize) -> Result<(), Reply> {
    let s = req_str(o, k).map_err(bad)?;
    max_bytes(k, s, max).map_err(bad)?;
    bilingual(k, s).map_err(bad)
}

fn check_card(o: &Obj) -> Result<bool, Reply> {
    // msgOwner is a plain String (000 line 810, "如“考勤”"): unlike the title and the content the
    // document gives it no bilingual form, so a `{` in it is just text.
    let owner = req_str(o, "msgOwner").map_err(bad)?;
    max_bytes("msgOwner", owner, 18).map_err(bad)?;
    text(o, "msgTitle", 128)?;
    text(o, "msgContent", 512)?;
    url_type(o, "urlType")?;
    opt_str(o, "urlPath").map_err(bad)?;
    opt_str(o, "desktopUrlPath").map_err(bad)?;
    force_tips(o)?;
    card_state(o)
}

fn check_app_card(o: &Obj) -> Result<bool, Reply> {
    text(o, "msgTitle", 128)?;
    let lines = opt_obj_list(o, "contentList")
        .map_err(bad)?
        .unwrap_or_default();
    if lines.is_empty() {
        return Err(bad("contentList is required"));
    }
    if lines.len() > 5 {
        return Err(bad(format!(
            "contentList has {} lines, at most 5",
            lines.len()
        )));
    }
    for (i, line) in lines.iter().enumerate() {
        // key: optional, "传入json类型的string", ≤ 128 bytes (000 line 956).
        if let Some(key) = opt_str(line, "key").map_err(bad)? {
            let k = format!("contentList[{i}].key");
            max_bytes(&k, key, 128).map_err(bad)?;
            json_text(&k, key, false).map_err(bad)?;
        }
        // value: required, "传入json类型的string", ≤ 256 bytes (000 line 957).
        let k = format!("contentList[{i}].value");
        let value = req_str(line, "value").map_err(|_| bad(format!("{k} is required")))?;
        max_bytes(&k, value, 256).map_err(bad)?;
        json_text(&k, value, true).map_err(bad)?;
    }
    req_str(o, "urlPath").map_err(bad)?;
    url_type(o, "urlType")?;
    let layout = opt_str(o, "btnType").map_err(bad)?;
    let max_buttons = match layout {
        // Without btnType the stricter layout applies: the document names no default.
        None | Some("horizontal") => 2,
        Some("vertical") => 3,
        Some(other) => {
            return Err(bad(format!(
                "btnType {other:?} is not horizontal or vertical"
            )))
        }
    };
    let buttons = opt_obj_list(o, "btnList").map_err(bad)?.unwrap_or_default();
    if buttons.len() > max_buttons {
        return Err(bad(format!(
            "btnList has {} buttons, at most {max_buttons} for {}",
            buttons.len(),
            layout.unwrap_or("horizontal")
        )));
    }
    for (i, b) in buttons.iter().enumerate() {
        // btnTitle: required, "json类型的string", ≤ 128 bytes (000 line 962).
        let k = format!("btnList[{i}].btnTitle");
        let title = req_str(b, "btnTitle").map_err(|_| bad(format!("{k} is required")))?;
        max_bytes(&k, title, 128).map_err(bad)?;
        json_text(&k, title, true).map_err(bad)?;
        req_str(b, "btnUrl").map_err(bad)?;
        url_type(b, "urlType")?;
    }
    force_tips(o)?;
    card_state(o)
}

fn check_image(o: &Obj) -> Result<bool, Reply> {
    req_str(o, "imageUrl").map_err(bad)?;
    opt_str(o, "jumpUrl").map_err(bad)?;
    Ok(false)
}

fn check_news(o: &Obj) -> Result<bool, Reply> {
    let items = opt_obj_list(o, "news").map_err(bad)?.unwrap_or_default();
    if items.is_empty() || items.len() > 5 {
        return Err(bad(format!("news has {} items, 1-5 allowed", items.len())));
    }
    for n in &items {
        let title = req_str(n, "title").map_err(bad)?;
        max_bytes("news.title", title, 18).map_err(bad)?;
        if let Some(d) = opt_str(n, "description").map_err(bad)? {
            max_bytes("news.description", d, 140).map_err(bad)?;
        }
        req_str(n, "newsUrl").map_err(bad)?;
        url_type(n, "urlType")?;
        req_str(n, "imageUrl").map_err(bad)?;
    }
    Ok(false)
}

/// Handles one send: gate, validation in the document's order of codes, non-fans (51019),
/// and the message remembered for update and recall.
pub(crate) fn send(sim: &Inner, inc: &Incoming, kind: SendKind) -> Reply {
    let (client, mono) = match gate(sim, inc, Api::Welink) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = |r: Reply| r.at(mono).client(Some(&client));
    let Some(o) = inc.object() else {
        return done(bad("body is not a JSON object"));
    };
    let range = match recipients(o) {
        Ok(r) => r,
        Err(r) => return done(r),
    };
    if let Err(r) = check_common(o) {
        return done(r);
    }
    let stateful = match kind {
        SendKind::Card => check_card(o),
        SendKind::AppCard => check_app_card(o),
        SendKind::Image => check_image(o),
        SendKind::News => check_news(o),
    };
    let stateful = match stateful {
        Ok(s) => s,
        Err(r) => return done(r),
    };
    let public_acc_id = o
        .get("publicAccID")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);

    let mut failed: Vec<String> = Vec::new();
    let reached = match range {
        Range::Users(users) => {
            let (fans, nonfans): (Vec<String>, Vec<String>) =
                users.into_iter().partition(|u| !u.contains("nonfan"));
            let mode = sim.modes.read().welink_nonfan;
            // 000 lines 843–847 and 883: 51019 names the non-fans in failedUserId. With no fan at all
            // (or in `reject_all` mode, which reads the document's example literally) nothing is
            // sent and there is no itemId.
            if !nonfans.is_empty() && (fans.is_empty() || mode == NonfanMode::RejectAll) {
                let mut extra = Map::new();
                extra.insert("failedUserId".into(), json!(nonfans));
                return done(welink("51019", "不能给非粉丝用户推送消息", Some(extra)));
            }
            failed = nonfans;
            Some(fans.into_iter().collect::<HashSet<String>>())
        }
        Range::Groups => None,
    };
    let item_id = ids::uuid();
    sim.welink.messages.lock().insert(
        item_id.clone(),
        Message {
            client_id: client.clone(),
            stateful,
            public_acc_id,
            recipients: reached,
            recalled: false,
        },
    );
    let mut extra = Map::new();
    extra.insert("itemId".into(), json!(item_id));
    if failed.is_empty() {
        done(welink("0", "ok", Some(extra)))
    } else {
        // Some fans: sent to them, with the itemId, and 51019 naming the others.
        extra.insert("failedUserId".into(), json!(failed));
        done(welink("51019", "不能给非粉丝用户推送消息", Some(extra)))
    }
}
