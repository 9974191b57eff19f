//! `POST /cgi-bin/media/upload?access_token=&type=` (multipart field `media`).
//!
//! Rules from UPSTREAM-FACTS: every file more than 5 bytes; image ≤ 10 MB (JPG/PNG), voice
//! ≤ 2 MB (AMR), video ≤ 10 MB (MP4), file ≤ 20 MB; the `media_id` lives 3 days. The answer
//! is the one 003 line 571 shows: `{"type", "media_id", "created_at"}` (plus errcode/errmsg).

use serde_json::{json, Map};

use crate::multipart;
use crate::reply::{wecom, Incoming, Reply};
use crate::wecom_app::{caller, trim, Media};
use crate::{ids, Inner};

const MB: usize = 1024 * 1024;

fn max_size(kind: &str) -> Option<usize> {
    match kind {
        "image" | "video" => Some(10 * MB),
        "voice" => Some(2 * MB),
        "file" => Some(20 * MB),
        _ => None,
    }
}

/// Whether the bytes are of the format the type requires, read from their magic bytes: the
/// name a client gives a file proves nothing about it (a `.png` holding text is refused), and a
/// PNG named `a.bin` is still a PNG. Image JPG/PNG, voice AMR, video MP4 (UPSTREAM-FACTS
/// "image ≤ 10 MB (JPG/PNG), voice ≤ 2 MB (AMR), video ≤ 10 MB (MP4)"); a file may be anything.
pub(crate) fn format_ok(kind: &str, data: &[u8]) -> bool {
    match kind {
        "image" => data.starts_with(&[0xFF, 0xD8, 0xFF]) || data.starts_with(b"\x89PNG\r\n\x1a\n"),
        "voice" => data.starts_with(b"#!AMR\n") || data.starts_with(b"#!AMR-WB\n"),
        "video" => data.get(4..8) == Some(b"ftyp"),
        _ => true,
    }
}

fn format_name(kind: &str) -> &'static str {
    match kind {
        "image" => "JPG or PNG",
        "voice" => "AMR",
        "video" => "MP4",
        _ => "accepted",
    }
}

pub(crate) fn upload(sim: &Inner, inc: &Incoming) -> Reply {
    let c = match caller(sim, inc) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = |r: Reply| r.at(c.mono).client(Some(&c.corpid));
    let kind = inc.query_param("type").unwrap_or_default();
    let Some(limit) = max_size(&kind) else {
        return done(wecom(40004, &format!("invalid media type {kind:?}"), None));
    };
    let media =
        multipart::parse(inc).and_then(|parts| parts.into_iter().find(|p| p.name == "media"));
    let Some(media) = media else {
        return done(wecom(
            41005,
            "media data missing: no multipart field `media`",
            None,
        ));
    };
    let size = media.data.len();
    if size <= 5 || size > limit {
        return done(wecom(
            40006,
            &format!("invalid file size {size}: {kind} must be 6..={limit} bytes"),
            None,
        ));
    }
    if !format_ok(&kind, &media.data) {
        return done(wecom(
            40005,
            &format!(
                "invalid file type: the content is not {}",
                format_name(&kind)
            ),
            None,
        ));
    }
    let media_id = format!("3{}", ids::url_safe(63));
    {
        let mut all = sim.wecom.media.lock();
        trim(&mut all, |m| m.created_ms);
        all.insert(
            media_id.clone(),
            Media {
                corpid: c.corpid.clone(),
                created_ms: inc.now_ms,
            },
        );
    }
    let mut extra = Map::new();
    extra.insert("type".into(), json!(kind));
    extra.insert("media_id".into(), json!(media_id));
    extra.insert("created_at".into(), json!(inc.now_ms / 1000));
    done(wecom(0, "ok", Some(extra)))
}
