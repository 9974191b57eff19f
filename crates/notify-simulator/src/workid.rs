//! The WeCom work-ID middle platform (002_…): `/integration/wx_work/send*ByWorkIds` and
//! `/integration/wx_work/recall`, behind a bearer token from `POST /oauth/token`.
//!
//! Every answer is the document's envelope `{"code": 0, "msg": null, "data": {...},
//! "requestId": "...", "ok": true}` (002 line 13). The document shows no failure shape, so
//! failures keep the envelope with `ok: false`, a non-zero numeric `code` and `msg`: 400 for a
//! request the document's field table refuses, WeCom's own code when WeCom underneath would
//! refuse (81013 every work ID unknown, 40058 unknown msgId, 42052 recall after 24 h), and HTTP
//! 401 for a missing or bad bearer token.

use std::collections::HashMap;

use axum::http::StatusCode;
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

use crate::fields::{
    is_http_url, opt_int_lenient, opt_obj, opt_obj_list, opt_str, opt_str_list, Obj,
};
use crate::reply::{Incoming, Reply};
use crate::wecom_app::{member_caps, trim};
use crate::{ids, Inner};

const RECALL_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// A bearer token from the client-credentials grant.
pub(crate) struct Bearer {
    pub client_id: String,
    pub expires_ms: i64,
    pub revoked: bool,
}

/// A message sent through the platform, for recall.
pub(crate) struct Sent {
    pub client_id: String,
    pub company_id: Option<String>,
    pub at_ms: i64,
    pub recalled: bool,
}

#[derive(Default)]
pub(crate) struct State {
    pub tokens: RwLock<HashMap<String, Bearer>>,
    pub sent: Mutex<HashMap<String, Sent>>,
}

impl State {
    pub fn clear(&self) {
        self.tokens.write().clear();
        self.sent.lock().clear();
    }

    pub fn revoke(&self, client_id: Option<&str>) -> usize {
        let mut n = 0;
        for t in self.tokens.write().values_mut() {
            if client_id.is_none_or(|c| c == t.client_id) && !t.revoked {
                t.revoked = true;
                n += 1;
            }
        }
        n
    }
}

fn envelope(status: StatusCode, code: i64, msg: Option<&str>, data: Value) -> Reply {
    Reply::json(
        status,
        json!({
            "code": code,
            "msg": msg,
            "data": data,
            "requestId": ids::request_id(),
            "ok": code == 0,
        }),
        code.to_string(),
    )
}

fn fail(code: i64, msg: impl AsRef<str>) -> Reply {
    envelope(StatusCode::OK, code, Some(msg.as_ref()), Value::Null)
}

fn bearer(sim: &Inner, inc: &Incoming) -> Option<String> {
    let h = inc.header("authorization")?;
    let (scheme, token) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let tokens = sim.workid.tokens.read();
    tokens
        .get(token.trim())
        .filter(|t| !t.revoked && t.expires_ms > inc.now_ms)
        .map(|t| t.client_id.clone())
}

fn req_text<'a>(o: &'a Obj, k: &str) -> Result<&'a str, String> {
    match opt_str(o, k)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(format!("{k} is required")),
    }
}

fn http_url(o: &Obj, k: &str, required: bool) -> Result<(), String> {
    match opt_str(o, k)? {
        None | Some("") if !required => Ok(()),
        None | Some("") => Err(format!("{k} is required")),
        Some(u) if !is_http_url(u) => {
            Err(format!("{k} must be an absolute http(s) URL, not {u:?}"))
        }
        Some(_) => Ok(()),
    }
}

/// "保密消息支持以下格式文件: txt、pdf、doc、docx、ppt、pptx、xls、xlsx、xml、jpg、jpeg、png、bmp、gif"
/// (002 line 13, `sendFileByWorkIds`, `safe`): a `safe: 1` file must be one of them, read from
/// the extension of the URL's path (the platform fetches the file by that name).
const SAFE_FILE_TYPES: &[&str] = &[
    "txt", "pdf", "doc", "docx", "ppt", "pptx", "xls", "xlsx", "xml", "jpg", "jpeg", "png", "bmp",
    "gif",
];

fn safe_file_type(file_url: &str) -> Result<(), String> {
    let path = url::Url::parse(file_url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    let ext = path
        .rsplit_once('/')
        .map_or(path.as_str(), |(_, name)| name)
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if SAFE_FILE_TYPES.contains(&ext.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "safe 1 supports only {} files, not {ext:?}",
            SAFE_FILE_TYPES.join("/")
        ))
    }
}

/// The content fields of each send (002 line 13's tables); returns truncation notes for what
/// WeCom underneath cuts (text over 2048 bytes, card title 128 / description 512 bytes).
fn check_content(path: &str, o: &Obj) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    match path {
        "/integration/wx_work/sendByWorkIds" => {
            if req_text(o, "content")?.len() > 2048 {
                notes.push("truncated:content".into());
            }
        }
        "/integration/wx_work/sendTextCardByWorkIds" => {
            let card = opt_obj(o, "textCard")?.ok_or("textCard is required")?;
            if req_text(card, "title")?.len() > 128 {
                notes.push("truncated:textCard.title".into());
            }
            if req_text(card, "description")?.len() > 512 {
                notes.push("truncated:textCard.description".into());
            }
            http_url(card, "url", true)?;
            if opt_str(card, "btntxt")?.is_some_and(|b| b.chars().count() > 4) {
                notes.push("truncated:textCard.btntxt".into());
            }
        }
        "/integration/wx_work/sendFileByWorkIds" => {
            http_url(o, "fileUrl", true)?;
            match opt_int_lenient(o, "safe")? {
                None | Some(0) => {}
                Some(1) => safe_file_type(opt_str(o, "fileUrl")?.unwrap_or(""))?,
                Some(s) => return Err(format!("safe {s} is not 0 or 1")),
            }
        }
        "/integration/wx_work/sendImageByWorkIds" => {
            let images = opt_obj_list(o, "images")?.unwrap_or_default();
            if images.is_empty() || images.len() > 8 {
                return Err(format!("images has {} items, 1-8 allowed", images.len()));
            }
            for i in &images {
                req_text(i, "title")?;
                req_text(i, "description")?;
                http_url(i, "picUrl", true)?;
                http_url(i, "url", false)?;
            }
        }
        "/integration/wx_work/sendMarkdownByWorkIds" => {
            let md = opt_obj(o, "markdown")?.ok_or("markdown is required")?;
            req_text(md, "content")?;
        }
        _ => return Err("unknown send".into()),
    }
    Ok(notes)
}

pub(crate) fn handle(sim: &Inner, inc: &Incoming) -> Reply {
    let Some(client) = bearer(sim, inc) else {
        return envelope(
            StatusCode::UNAUTHORIZED,
            401,
            Some("unauthorized: missing, unknown or expired bearer token"),
            Value::Null,
        );
    };
    let done = |r: Reply| r.client(Some(&client));
    let Some(o) = inc.object() else {
        return done(fail(400, "body is not a JSON object"));
    };
    let company = match opt_str(o, "companyId") {
        Ok(c) => c.filter(|c| !c.is_empty()).map(str::to_owned),
        Err(e) => return done(fail(400, e)),
    };
    if inc.path == "/integration/wx_work/recall" {
        return done(recall(sim, inc, o, &client, company));
    }
    let work_ids = match opt_str_list(o, "workIds") {
        Ok(Some(w)) if !w.is_empty() => w,
        Ok(_) => return done(fail(400, "workIds is required")),
        Err(e) => return done(fail(400, e)),
    };
    // WeCom underneath takes at most 1000 users per message.
    if work_ids.len() > 1000 {
        return done(fail(
            400,
            format!("workIds has {} ids, at most 1000", work_ids.len()),
        ));
    }
    let notes = match check_content(&inc.path, o) {
        Ok(n) => n,
        Err(e) => return done(fail(400, e)),
    };
    let (bad, good): (Vec<&str>, Vec<&str>) = work_ids
        .iter()
        .partition(|w| w.to_ascii_lowercase().starts_with("invalid"));
    if good.is_empty() {
        // The only failure the envelope can carry: every work ID unknown (WeCom's 81013).
        return done(fail(
            81013,
            format!("all workIds invalid: {}", bad.join("|")),
        ));
    }
    let scope = format!("workid/{}", company.as_deref().unwrap_or("default"));
    let good: Vec<String> = good.into_iter().map(str::to_owned).collect();
    let use_ = member_caps(sim, &scope, &good);
    let msg_id = ids::url_safe(108);
    {
        let mut sent = sim.workid.sent.lock();
        trim(&mut sent, |s| s.at_ms);
        sent.insert(
            msg_id.clone(),
            Sent {
                client_id: client.clone(),
                company_id: company,
                at_ms: inc.now_ms,
                recalled: false,
            },
        );
    }
    let mut r = done(envelope(StatusCode::OK, 0, None, json!({"msgId": msg_id})));
    r.notes.extend(notes);
    if !bad.is_empty() {
        // Unknown IDs among known ones: WeCom delivers to the rest; the envelope has no field
        // to name them, so only the call log does.
        r.notes.push(format!("invalid_work_ids:{}", bad.join("|")));
    }
    if !use_.dropped.is_empty() {
        r.dropped = true;
        r.notes
            .push(format!("dropped_members:{}", use_.dropped.join("|")));
    }
    r.members = Some(use_);
    r
}

/// Recall within 24 h by msgId; the `companyId` must be the one the message was sent with.
fn recall(sim: &Inner, inc: &Incoming, o: &Obj, client: &str, company: Option<String>) -> Reply {
    let msg_id = match opt_str(o, "msgId") {
        Ok(Some(m)) if !m.is_empty() => m,
        _ => return fail(400, "msgId is required"),
    };
    let mut sent = sim.workid.sent.lock();
    match sent.get_mut(msg_id) {
        Some(s) if s.client_id == client && s.company_id == company && !s.recalled => {
            if inc.now_ms - s.at_ms > RECALL_WINDOW_MS {
                return fail(42052, "消息发送超过24小时，不能撤回");
            }
            s.recalled = true;
            envelope(StatusCode::OK, 0, None, Value::Null)
        }
        _ => fail(
            40058,
            "msgId unknown for this companyId, or already recalled",
        ),
    }
}
