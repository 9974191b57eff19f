//! Status update (000 lines 1329–1430) and recall (000 lines 1431–1518).

use serde_json::{json, Map, Value};

use crate::fields::{opt_str, opt_str_list};
use crate::reply::{welink, Incoming, Reply};
use crate::welink::messages::{bad_status, check_status};
use crate::welink::{gate, Api};
use crate::Inner;

fn missing(what: &str) -> Reply {
    welink("51021", &format!("推送消息缺少必要的参数: {what}"), None)
}

fn no_match(why: &str) -> Reply {
    welink("51033", &format!("找不到匹配数据: {why}"), None)
}

/// `POST /messages/v1/update`: `toUserList`, `itemId` and `messageStatus` required (51021);
/// at most 1000 users (51018); colours 0 gray / 1 yellow / 2 green (line 1365); the message
/// must exist under the same publicAccID (51033, line 1366) and have been sent with a state
/// (51107). Users it did not reach come back in `failedUserId` (line 1376); when it reached
/// none of them, 51033.
pub(crate) fn update(sim: &Inner, inc: &Incoming) -> Reply {
    let (client, mono) = match gate(sim, inc, Api::Welink) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = |r: Reply| r.at(mono).client(Some(&client));
    let Some(o) = inc.object() else {
        return done(missing("body is not a JSON object"));
    };
    let users = match opt_str_list(o, "toUserList") {
        Ok(Some(u)) if !u.is_empty() => u,
        _ => return done(missing("toUserList")),
    };
    if users.len() > 1000 {
        return done(welink("51018", "单次修改用户数最大1000人", None));
    }
    let item_id = match opt_str(o, "itemId") {
        Ok(Some(s)) if !s.trim().is_empty() => s,
        _ => return done(missing("itemId")),
    };
    let Some(status) = o.get("messageStatus").filter(|v| !v.is_null()) else {
        return done(missing("messageStatus"));
    };
    if let Err(e) = check_status(status) {
        return done(bad_status(e));
    }
    match o.get("statusColor") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if matches!(c.as_str(), "0" | "1" | "2") => {}
        Some(other) => {
            return done(bad_status(format!(
                "statusColor {other} is not \"0\", \"1\" or \"2\""
            )))
        }
    }
    let public_acc = o
        .get("publicAccID")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let messages = sim.welink.messages.lock();
    let Some(m) = messages.map.get(item_id) else {
        return done(no_match("no message with this itemId"));
    };
    if m.client_id != client || m.recalled {
        return done(no_match("no message with this itemId"));
    }
    if m.public_acc_id.as_deref() != public_acc {
        return done(no_match(
            "publicAccID differs from the one the message was sent with",
        ));
    }
    if !m.stateful {
        return done(welink("51107", "该消息为无状态消息，不能修改", None));
    }
    // Department- and role-addressed cards: the simulator cannot know their members.
    let Some(reached) = &m.recipients else {
        return done(no_match("the message was sent to departments or roles"));
    };
    let failed: Vec<&str> = users
        .iter()
        .copied()
        .filter(|u| !reached.contains(*u))
        .collect();
    if failed.len() == users.len() {
        return done(no_match("none of toUserList received the message"));
    }
    let mut extra = Map::new();
    extra.insert("failedUserId".into(), json!(failed));
    done(welink("0", "ok", Some(extra)))
}

/// `POST /messages/v1/recall` by itemId: unknown, already recalled or missing → 51111; a message
/// of another client_id (another tenant, as far as the simulator knows) → 51100.
pub(crate) fn recall(sim: &Inner, inc: &Incoming) -> Reply {
    let (client, mono) = match gate(sim, inc, Api::Welink) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = |r: Reply| r.at(mono).client(Some(&client));
    let item_id = inc
        .object()
        .and_then(|o| o.get("itemId"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let mut messages = sim.welink.messages.lock();
    match messages.map.get_mut(item_id) {
        Some(m) if m.client_id != client => done(welink("51100", "不支持跨租户操作", None)),
        Some(m) if !m.recalled => {
            m.recalled = true;
            done(welink("0", "ok", None))
        }
        _ => done(welink("51111", "需要撤回的消息不存在", None)),
    }
}
