//! Unified message → WeCom app-message bodies (`POST /cgi-bin/message/send`; shapes from
//! 003_4bfe3b3ea0f80583.txt lines 600–716, limits from UPSTREAM-FACTS lines 18–28).

use notify_core::{FieldError, MessageInput};
use serde_json::{json, Map, Value};

use crate::support::fit::Fitter;
use crate::support::target::msg_err;
use crate::support::wecom::{self, WecomType};

/// `POST /cgi-bin/message/send?access_token=` (UPSTREAM-FACTS line 18).
pub const SEND: &str = "/cgi-bin/message/send";
/// `POST /cgi-bin/media/upload?access_token=&type=` (UPSTREAM-FACTS line 50).
pub const UPLOAD: &str = "/cgi-bin/media/upload";
/// `POST /cgi-bin/message/recall` (UPSTREAM-FACTS line 48).
pub const RECALL: &str = "/cgi-bin/message/recall";
/// Per call: `touser` ≤ 1000, `toparty` ≤ 100, `totag` ≤ 100 (UPSTREAM-FACTS line 19).
pub const USERS_MAX: usize = 1000;
/// See [`USERS_MAX`].
pub const PARTIES_MAX: usize = 100;
/// See [`USERS_MAX`].
pub const TAGS_MAX: usize = 100;
/// News: 1–8 articles (UPSTREAM-FACTS line 26).
const ARTICLES_MAX: usize = 8;
/// The same body inside this many seconds is not delivered twice (UPSTREAM-FACTS lines 22–24):
/// WeCom's default, long enough to cover a retry after an unknown outcome, short enough that a
/// genuinely repeated alert half an hour later is shown.
pub const DUPLICATE_CHECK_INTERVAL_S: u32 = 1800;

/// App settings the bodies carry.
#[derive(Debug, Clone, Copy)]
pub struct AppSettings {
    /// `agentid`.
    pub agent_id: i64,
    /// `safe` (0 shareable, 1 no sharing + watermark).
    pub safe: u8,
    /// Markdown limit in bytes.
    pub markdown_max: usize,
}

/// A media upload a send needs first: `{"source_url", "type"}` (the dispatcher fetches it).
pub fn upload_body(source_url: &str, media_type: &str) -> Value {
    json!({"source_url": source_url, "type": media_type})
}

/// The body of `t` without recipients, and the upload it needs (image and file messages carry a
/// `media_id`, which the send gets from the upload part).
pub fn build(
    t: WecomType,
    m: &MessageInput,
    s: &AppSettings,
    f: &mut Fitter,
) -> Result<(Map<String, Value>, Option<Value>), FieldError> {
    let mut upload = None;
    let payload = match t {
        WecomType::Text => {
            let content = wecom::text(m, f);
            if content.is_empty() {
                return Err(msg_err(
                    "content",
                    "required",
                    "a text message needs content",
                ));
            }
            json!({ "content": content })
        }
        WecomType::Textcard => Value::Object(wecom::textcard(m, f)?),
        WecomType::Markdown => {
            let content = wecom::markdown(m, s.markdown_max, f);
            if content.is_empty() {
                return Err(msg_err(
                    "content",
                    "required",
                    "a markdown message needs content",
                ));
            }
            json!({ "content": content })
        }
        WecomType::News => json!({ "articles": articles(m, f)? }),
        WecomType::Image => {
            let url = m.image_url.as_deref().ok_or_else(|| {
                msg_err(
                    "image_url",
                    "required",
                    "an image message needs an image_url",
                )
            })?;
            upload = Some(upload_body(url, "image"));
            json!({})
        }
        WecomType::File => {
            let url = m.file_url.as_deref().ok_or_else(|| {
                msg_err("file_url", "required", "a file message needs a file_url")
            })?;
            upload = Some(upload_body(url, "file"));
            json!({})
        }
    };
    let mut b = Map::new();
    b.insert("msgtype".into(), t.name().into());
    b.insert("agentid".into(), s.agent_id.into());
    b.insert(t.name().into(), payload);
    b.insert("safe".into(), s.safe.into());
    b.insert("enable_duplicate_check".into(), 1.into());
    b.insert(
        "duplicate_check_interval".into(),
        DUPLICATE_CHECK_INTERVAL_S.into(),
    );
    Ok((b, upload))
}

/// `news.articles`: `title`, `description`, `url`, `picurl` (003_… lines 659–676).
fn articles(m: &MessageInput, f: &mut Fitter) -> Result<Vec<Value>, FieldError> {
    let list = wecom::articles(m, f)?;
    if list.is_empty() {
        return Err(msg_err(
            "articles",
            "required",
            "a news message needs articles or a title",
        ));
    }
    if list.len() > ARTICLES_MAX {
        return Err(msg_err(
            "articles",
            "too_many",
            format!("WeCom news takes at most {ARTICLES_MAX} articles"),
        ));
    }
    list.into_iter()
        .map(|(title, description, url, pic)| {
            let url =
                url.ok_or_else(|| msg_err("url", "required", "a news article needs a url"))?;
            let mut a = Map::new();
            a.insert("title".into(), title.into());
            if let Some(d) = description {
                a.insert("description".into(), d.into());
            }
            a.insert("url".into(), url.into());
            if let Some(p) = pic {
                a.insert("picurl".into(), p.into());
            }
            Ok(Value::Object(a))
        })
        .collect()
}

/// Keys through which a body names its recipients.
pub const RECIPIENT_KEYS: [&str; 3] = ["touser", "toparty", "totag"];

/// `base` addressed to one chunk, each list joined by `|` (UPSTREAM-FACTS line 19); empty
/// lists are left out.
pub fn address(
    base: &Map<String, Value>,
    users: &[String],
    parties: &[String],
    tags: &[String],
) -> Value {
    let mut b = base.clone();
    for (key, ids) in RECIPIENT_KEYS.iter().zip([users, parties, tags]) {
        b.remove(*key);
        if !ids.is_empty() {
            b.insert((*key).into(), ids.join("|").into());
        }
    }
    Value::Object(b)
}

/// The recipient chunks: the i-th call takes the i-th chunk of each list, so that a target with
/// 1500 users and 30 parties makes two calls, not three.
pub fn chunk_all(
    users: &[String],
    parties: &[String],
    tags: &[String],
) -> Vec<(Vec<String>, Vec<String>, Vec<String>)> {
    let n = [
        users.len().div_ceil(USERS_MAX),
        parties.len().div_ceil(PARTIES_MAX),
        tags.len().div_ceil(TAGS_MAX),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let nth = |list: &[String], size: usize, i: usize| -> Vec<String> {
        list.iter().skip(i * size).take(size).cloned().collect()
    };
    (0..n)
        .map(|i| {
            (
                nth(users, USERS_MAX, i),
                nth(parties, PARTIES_MAX, i),
                nth(tags, TAGS_MAX, i),
            )
        })
        .collect()
}
