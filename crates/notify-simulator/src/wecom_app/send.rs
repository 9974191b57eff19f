//! `POST /cgi-bin/message/send` and `POST /cgi-bin/message/recall`.

use serde_json::{json, Map, Value};

use crate::apps::AppKind;
use crate::fields::{is_http_url, opt_int_lenient, opt_obj, opt_obj_list, opt_str, Obj};
use crate::reply::{wecom, Incoming, Reply};
use crate::wecom_app::{caller, member_caps, trim, Seen, Sent};
use crate::{ids, Inner};

/// 24 hours, the recall window (UPSTREAM-FACTS "messages up to 24 h old; 42052 = too old").
const RECALL_WINDOW_MS: i64 = 24 * 3600 * 1000;

fn invalid(msg: impl AsRef<str>) -> Reply {
    wecom(40058, &format!("invalid parameter: {}", msg.as_ref()), None)
}

/// Byte limits WeCom cuts at instead of refusing (UPSTREAM-FACTS: "text content ≤ 2048
/// (longer is cut)"; textcard/news title 128, description 512; btntxt 4 characters).
fn cut_note(notes: &mut Vec<String>, field: &str, s: &str, max_bytes: usize) {
    if s.len() > max_bytes {
        notes.push(format!("truncated:{field}"));
    }
}

fn media_ok(sim: &Inner, corpid: &str, id: &str, now_ms: i64) -> bool {
    let ttl = sim.modes.read().media_ttl_s * 1000;
    sim.wecom
        .media
        .lock()
        .get(id)
        .is_some_and(|m| m.corpid == corpid && now_ms - m.created_ms < ttl)
}

fn need_media(sim: &Inner, corpid: &str, o: &Obj, key: &str, now: i64) -> Result<(), Reply> {
    let id = opt_str(o, key).map_err(invalid)?.unwrap_or("");
    if id.is_empty() || !media_ok(sim, corpid, id, now) {
        return Err(wecom(
            40007,
            &format!("invalid media_id {id:?}: unknown or expired (media lives 3 days)"),
            None,
        ));
    }
    Ok(())
}

fn http_url(o: &Obj, k: &str, required: bool) -> Result<(), Reply> {
    match opt_str(o, k).map_err(invalid)? {
        None | Some("") if !required => Ok(()),
        None | Some("") => Err(invalid(format!("{k} is required"))),
        Some(u) if u.len() > 2048 => Err(invalid(format!("{k} is longer than 2048 bytes"))),
        Some(u) if !is_http_url(u) => Err(invalid(format!(
            "{k} must be an absolute http(s) URL, not {u:?}"
        ))),
        Some(_) => Ok(()),
    }
}

fn req_text<'a>(o: &'a Obj, k: &str) -> Result<&'a str, Reply> {
    match opt_str(o, k).map_err(invalid)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(invalid(format!("{k} is required"))),
    }
}

/// Checks the message body of one `msgtype`; returns truncation notes.
fn check_content(
    sim: &Inner,
    corpid: &str,
    o: &Obj,
    msgtype: &str,
    now: i64,
) -> Result<Vec<String>, Reply> {
    let mut notes = Vec::new();
    const MSGTYPES: &[&str] = &[
        "text", "image", "voice", "video", "file", "textcard", "news", "mpnews", "markdown",
    ];
    if !MSGTYPES.contains(&msgtype) {
        return Err(wecom(
            40008,
            &format!("invalid message type {msgtype:?}"),
            None,
        ));
    }
    let part = opt_obj(o, msgtype).map_err(invalid)?;
    let Some(p) = part else {
        return Err(if msgtype == "text" {
            wecom(44004, "empty content", None)
        } else {
            invalid(format!("{msgtype} is required for msgtype {msgtype}"))
        });
    };
    match msgtype {
        "text" => {
            let content = opt_str(p, "content").map_err(invalid)?.unwrap_or("");
            if content.trim().is_empty() {
                return Err(wecom(44004, "empty content", None));
            }
            cut_note(&mut notes, "text.content", content, 2048);
        }
        "image" | "voice" | "file" => need_media(sim, corpid, p, "media_id", now)?,
        "video" => {
            need_media(sim, corpid, p, "media_id", now)?;
            if let Some(t) = opt_str(p, "title").map_err(invalid)? {
                cut_note(&mut notes, "video.title", t, 128);
            }
            if let Some(d) = opt_str(p, "description").map_err(invalid)? {
                cut_note(&mut notes, "video.description", d, 512);
            }
        }
        "textcard" => {
            let title = req_text(p, "title")?;
            cut_note(&mut notes, "textcard.title", title, 128);
            let desc = req_text(p, "description")?;
            cut_note(&mut notes, "textcard.description", desc, 512);
            http_url(p, "url", true)?;
            if let Some(b) = opt_str(p, "btntxt").map_err(invalid)? {
                if b.chars().count() > 4 {
                    notes.push("truncated:textcard.btntxt".into());
                }
            }
        }
        "news" => {
            let articles = opt_obj_list(p, "articles")
                .map_err(invalid)?
                .unwrap_or_default();
            if articles.is_empty() || articles.len() > 8 {
                return Err(invalid(format!(
                    "news has {} articles, 1-8 allowed",
                    articles.len()
                )));
            }
            for a in &articles {
                let title = req_text(a, "title")?;
                cut_note(&mut notes, "news.title", title, 128);
                if let Some(d) = opt_str(a, "description").map_err(invalid)? {
                    cut_note(&mut notes, "news.description", d, 512);
                }
                // "小程序或者url必须填写一个".
                let has_app = opt_str(a, "appid")
                    .map_err(invalid)?
                    .is_some_and(|s| !s.is_empty());
                http_url(a, "url", !has_app)?;
                http_url(a, "picurl", false)?;
            }
        }
        "mpnews" => {
            let articles = opt_obj_list(p, "articles")
                .map_err(invalid)?
                .unwrap_or_default();
            if articles.is_empty() || articles.len() > 8 {
                return Err(invalid(format!(
                    "mpnews has {} articles, 1-8 allowed",
                    articles.len()
                )));
            }
            for a in &articles {
                req_text(a, "title")?;
                need_media(sim, corpid, a, "thumb_media_id", now)?;
                req_text(a, "content")?;
            }
        }
        "markdown" => {
            let content = opt_str(p, "content").map_err(invalid)?.unwrap_or("");
            if content.trim().is_empty() {
                return Err(wecom(44004, "empty content", None));
            }
            let max = sim.modes.read().wecom_markdown_max_bytes;
            if content.len() > max {
                return Err(wecom(
                    45002,
                    &format!(
                        "markdown content is {} bytes, more than {max}",
                        content.len()
                    ),
                    None,
                ));
            }
        }
        _ => {
            return Err(wecom(
                40008,
                &format!("invalid message type {msgtype:?}"),
                None,
            ))
        }
    }
    Ok(notes)
}

/// `touser`/`toparty`/`totag`: `|`-joined, spaces around ids ignored (003 lines 603–605).
fn ids_of(o: &Obj, k: &str) -> Result<Vec<String>, Reply> {
    Ok(opt_str(o, k)
        .map_err(invalid)?
        .unwrap_or("")
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

/// One send. Order: token and company cap, body, agentid (41011, 301002), msgtype (40008),
/// recipients (82001, 40032, 82002, 82003), content, unknown recipients (lists, or 81013 when
/// all are unknown), the duplicate check, then the per-member silent drop.
pub(crate) fn send(sim: &Inner, inc: &Incoming) -> Reply {
    let c = match caller(sim, inc) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = |r: Reply| r.at(c.mono).client(Some(&c.corpid));
    let Some(o) = inc.object() else {
        return done(wecom(
            47001,
            "data format error: body is not a JSON object",
            None,
        ));
    };
    let agentid = match opt_int_lenient(o, "agentid") {
        Ok(Some(a)) => a,
        Ok(None) => return done(wecom(41011, "missing agentid", None)),
        Err(e) => return done(wecom(40056, &format!("invalid agentid: {e}"), None)),
    };
    let registered = c.agentid.or_else(|| {
        sim.apps
            .get(AppKind::Wecom, &c.corpid)
            .and_then(|a| a.agentid)
    });
    if registered.is_some_and(|a| a != agentid) {
        return done(wecom(
            301002,
            "not allow operate another agent with this accesstoken",
            None,
        ));
    }
    let msgtype = match opt_str(o, "msgtype") {
        Ok(Some(t)) if !t.is_empty() => t,
        _ => return done(wecom(40008, "invalid message type: msgtype missing", None)),
    };
    let (users, parties, tags) = match (
        ids_of(o, "touser"),
        ids_of(o, "toparty"),
        ids_of(o, "totag"),
    ) {
        (Ok(u), Ok(p), Ok(t)) => (u, p, t),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return done(r),
    };
    if users.is_empty() && parties.is_empty() && tags.is_empty() {
        return done(wecom(82001, "All touser & toparty & totag invalid", None));
    }
    if users.len() > 1000 {
        return done(wecom(40032, "invalid userid size: more than 1000", None));
    }
    if parties.len() > 100 {
        return done(wecom(
            82002,
            "invalid partyid list size: more than 100",
            None,
        ));
    }
    if tags.len() > 100 {
        return done(wecom(82003, "invalid tagid list size: more than 100", None));
    }
    match opt_int_lenient(o, "safe") {
        Ok(None | Some(0 | 1)) => {}
        Ok(Some(2)) if msgtype == "mpnews" => {}
        _ => return done(invalid("safe must be 0 or 1 (2 only for mpnews)")),
    }
    let notes = match check_content(sim, &c.corpid, o, msgtype, inc.now_ms) {
        Ok(n) => n,
        Err(r) => return done(r),
    };
    let dup_on = match opt_int_lenient(o, "enable_duplicate_check") {
        Ok(None | Some(0)) => false,
        Ok(Some(1)) => true,
        _ => return done(invalid("enable_duplicate_check must be 0 or 1")),
    };
    // "duplicate_check_interval: seconds, default 1800, max 4 h" (UPSTREAM-FACTS).
    let interval_s = match opt_int_lenient(o, "duplicate_check_interval") {
        Ok(None) => 1800,
        Ok(Some(s)) if (1..=14_400).contains(&s) => s,
        _ => {
            return done(invalid(
                "duplicate_check_interval must be 1..=14400 seconds",
            ))
        }
    };

    let all_users = users.len() == 1 && users[0] == "@all";
    let lower = |v: &[String]| -> Vec<String> { v.iter().map(|s| s.to_lowercase()).collect() };
    let users = if all_users { users } else { lower(&users) };
    let is_bad = |s: &String| s.to_ascii_lowercase().starts_with("invalid");
    let bad_users: Vec<String> = users.iter().filter(|u| is_bad(u)).cloned().collect();
    let bad_parties: Vec<String> = parties.iter().filter(|p| is_bad(p)).cloned().collect();
    let bad_tags: Vec<String> = tags.iter().filter(|t| is_bad(t)).cloned().collect();
    let mut extra = Map::new();
    extra.insert("invaliduser".into(), json!(bad_users.join("|")));
    extra.insert("invalidparty".into(), json!(bad_parties.join("|")));
    extra.insert("invalidtag".into(), json!(bad_tags.join("|")));
    extra.insert("unlicenseduser".into(), json!(""));
    if bad_users.len() == users.len()
        && bad_parties.len() == parties.len()
        && bad_tags.len() == tags.len()
    {
        return done(wecom(81013, "user & party & tag all invalid", Some(extra)));
    }

    let scope = format!("{}/{agentid}", c.corpid);
    let now = inc.now_ms;
    let fingerprint = dup_on.then(|| format!("{scope}|{}", Value::Object(o.clone())));
    if let Some(fp) = &fingerprint {
        let seen = sim.wecom.seen.lock();
        if let Some(s) = seen.get(fp).filter(|s| now - s.at_ms < interval_s * 1000) {
            extra.insert("msgid".into(), json!(s.msgid));
            let r = done(wecom(0, "ok", Some(extra))).note(format!("duplicate_of:{}", s.msgid));
            return notes.into_iter().fold(r, Reply::note);
        }
    }

    let msgid = ids::url_safe(64);
    let good_users: Vec<String> = if all_users {
        Vec::new()
    } else {
        users.into_iter().filter(|u| !is_bad(u)).collect()
    };
    let use_ = member_caps(sim, &scope, &good_users);
    {
        let mut sent = sim.wecom.sent.lock();
        trim(&mut sent, |s| s.at_ms);
        sent.insert(
            msgid.clone(),
            Sent {
                corpid: c.corpid.clone(),
                at_ms: now,
                recalled: false,
            },
        );
    }
    if let Some(fp) = fingerprint {
        let mut seen = sim.wecom.seen.lock();
        trim(&mut seen, |s| s.at_ms);
        seen.insert(
            fp,
            Seen {
                msgid: msgid.clone(),
                at_ms: now,
            },
        );
    }
    extra.insert("msgid".into(), json!(msgid));
    let mut r = notes
        .into_iter()
        .fold(done(wecom(0, "ok", Some(extra))), Reply::note);
    if !use_.dropped.is_empty() {
        r.dropped = true;
        r.notes
            .push(format!("dropped_members:{}", use_.dropped.join("|")));
    }
    r.members = Some(use_);
    r
}

/// Recall by `msgid`, within 24 h of the send (42052 after).
pub(crate) fn recall(sim: &Inner, inc: &Incoming) -> Reply {
    let c = match caller(sim, inc) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = |r: Reply| r.at(c.mono).client(Some(&c.corpid));
    let msgid = inc
        .object()
        .and_then(|o| o.get("msgid"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if msgid.is_empty() {
        return done(invalid("msgid is required"));
    }
    let mut sent = sim.wecom.sent.lock();
    match sent.get_mut(msgid) {
        Some(s) if s.corpid == c.corpid && !s.recalled => {
            if inc.now_ms - s.at_ms > RECALL_WINDOW_MS {
                return done(wecom(
                    42052,
                    "msg can only be recalled within 24 hours",
                    None,
                ));
            }
            s.recalled = true;
            done(wecom(0, "ok", None))
        }
        _ => done(invalid("msgid unknown or already recalled")),
    }
}
