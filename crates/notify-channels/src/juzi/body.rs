//! Unified message → the `SendParams` of `wx.invoke('sendChatMessage', …)` in the Juzi sidebar,
//! in the shapes of 001_844017fd58a1860e.txt lines 43–86. Juzi takes a `url` where native WeCom
//! takes a `mediaid` (UPSTREAM-FACTS, Juzi sidebar).

use notify_core::{FieldError, MessageInput, Text};
use serde_json::{json, Map, Value};

use crate::support::target::msg_err;

/// The message types (line 86: `SendParams`).
pub const NAMES: [&str; 6] = ["text", "image", "video", "file", "news", "miniprogram"];

fn text_of(t: &Option<Text>) -> Option<String> {
    t.as_ref()
        .map(|t| t.zh().trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The type when the target names none: `articles` → news (one payload per article);
/// `file_url` → file; `image_url` with neither title nor content → image; a title and a `url` →
/// news; anything else → text.
pub fn pick(m: &MessageInput) -> &'static str {
    let has_text = text_of(&m.title).is_some() || text_of(&m.content).is_some();
    if m.articles.as_ref().is_some_and(|a| !a.is_empty()) {
        "news"
    } else if m.file_url.is_some() {
        "file"
    } else if m.image_url.is_some() && !has_text {
        "image"
    } else if text_of(&m.title).is_some() && m.url.is_some() {
        "news"
    } else {
        "text"
    }
}

/// The payloads of type `t`.
pub fn build(t: &str, m: &MessageInput) -> Result<Vec<Value>, FieldError> {
    let title = text_of(&m.title);
    Ok(match t {
        // TextMsg (line 43); "text content is empty" is refused by the sidebar (line 87).
        "text" => {
            let mut lines: Vec<String> = Vec::new();
            lines.extend(title);
            lines.extend(text_of(&m.content));
            lines.extend(m.fields.iter().flatten().map(|f| format!("{}: {}", f.key, f.value)));
            lines.extend(m.url.clone());
            if lines.is_empty() {
                return Err(msg_err("content", "required", "a Juzi text message needs content"));
            }
            vec![json!({"msgtype": "text", "text": {"content": lines.join("\n")}})]
        }
        // ImageMsg (lines 44–50).
        "image" => vec![media("image", required(&m.image_url, "image_url")?, title)],
        // VideoMsg and FileMsg (lines 51–64): the file's address is `file_url`.
        "video" | "file" => vec![media(t, required(&m.file_url, "file_url")?, title)],
        "news" => news(m)?,
        // MiniprogramMsg (lines 74–85) needs appid, page and officialAccountId, which the unified
        // message does not carry.
        _ => {
            return Err(FieldError::new(
                "raw",
                "required",
                "a Juzi miniprogram message is given as raw SendParams (appid, title, imgUrl, page, desc, iconUrl, officialAccountId)",
            ))
        }
    })
}

fn required<'a>(v: &'a Option<String>, field: &str) -> Result<&'a str, FieldError> {
    v.as_deref().ok_or_else(|| {
        msg_err(
            field,
            "required",
            format!("this Juzi message needs {field} (\"url is empty\" otherwise)"),
        )
    })
}

fn media(t: &str, url: &str, title: Option<String>) -> Value {
    let mut inner = Map::new();
    inner.insert("url".into(), url.into());
    if let Some(title) = title {
        inner.insert("title".into(), title.into());
    }
    json!({"msgtype": t, t: inner})
}

/// NewsMsg (lines 65–73): `link` required; `title`, `desc`, `imgUrl` optional. One payload per
/// article, or one made of the message's title, content, url and image.
fn news(m: &MessageInput) -> Result<Vec<Value>, FieldError> {
    let one = |link: &str, title: Option<String>, desc: Option<String>, img: Option<&String>| {
        let mut n = Map::new();
        n.insert("link".into(), link.into());
        if let Some(t) = title {
            n.insert("title".into(), t.into());
        }
        if let Some(d) = desc {
            n.insert("desc".into(), d.into());
        }
        if let Some(i) = img {
            n.insert("imgUrl".into(), i.as_str().into());
        }
        json!({"msgtype": "news", "news": n})
    };
    match m.articles.as_ref().filter(|a| !a.is_empty()) {
        Some(list) => Ok(list
            .iter()
            .map(|a| {
                one(
                    &a.url,
                    Some(a.title.zh().to_string()),
                    a.description.as_ref().map(|d| d.zh().to_string()),
                    a.image_url.as_ref(),
                )
            })
            .collect()),
        None => {
            let link = required(&m.url, "url")?;
            Ok(vec![one(
                link,
                text_of(&m.title),
                text_of(&m.content),
                m.image_url.as_ref(),
            )])
        }
    }
}
