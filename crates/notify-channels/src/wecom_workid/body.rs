//! Unified message → work-ID platform bodies (002_5e921e94ff34e0dc.txt line 13, the whole API
//! page): text, textcard, file, news (images) and markdown, each addressed by `workIds` and an
//! optional `companyId`. Field names are the document's exactly.

use notify_core::{FieldError, MessageInput};
use serde_json::{json, Map, Value};

use crate::support::fit::Fitter;
use crate::support::target::msg_err;
use crate::support::wecom::{self, WecomType};

/// `POST /integration/wx_work/sendByWorkIds`: `content`.
pub const TEXT: &str = "/integration/wx_work/sendByWorkIds";
/// `POST /integration/wx_work/sendTextCardByWorkIds`: `textCard{title, description, url, btntxt}`.
pub const TEXTCARD: &str = "/integration/wx_work/sendTextCardByWorkIds";
/// `POST /integration/wx_work/sendFileByWorkIds`: `fileUrl`, `safe`.
pub const FILE: &str = "/integration/wx_work/sendFileByWorkIds";
/// `POST /integration/wx_work/sendImageByWorkIds`: `images[{title, description, picUrl, url}]`.
pub const IMAGES: &str = "/integration/wx_work/sendImageByWorkIds";
/// `POST /integration/wx_work/sendMarkdownByWorkIds`: `markdown{content}`.
pub const MARKDOWN: &str = "/integration/wx_work/sendMarkdownByWorkIds";
/// `POST /integration/wx_work/recall`: `msgId`, `companyId`.
pub const RECALL: &str = "/integration/wx_work/recall";

/// The document gives no cap on `workIds`; the platform forwards to WeCom's `message/send`, whose
/// `touser` takes at most 1000 ids (UPSTREAM-FACTS line 19).
pub const WORK_IDS_MAX: usize = 1000;

/// The interface of a type. `image` and `news` both go to `sendImageByWorkIds` (图文).
pub fn interface(t: WecomType) -> &'static str {
    match t {
        WecomType::Text => TEXT,
        WecomType::Textcard => TEXTCARD,
        WecomType::File => FILE,
        WecomType::News | WecomType::Image => IMAGES,
        WecomType::Markdown => MARKDOWN,
    }
}

/// The type of a `raw` body, from the field only that type has.
pub fn type_of_raw(raw: &Map<String, Value>) -> WecomType {
    if raw.contains_key("textCard") {
        WecomType::Textcard
    } else if raw.contains_key("fileUrl") {
        WecomType::File
    } else if raw.contains_key("images") {
        WecomType::News
    } else if raw.contains_key("markdown") {
        WecomType::Markdown
    } else {
        WecomType::Text
    }
}

/// The body of `t` without `workIds` and `companyId`.
pub fn build(
    t: WecomType,
    m: &MessageInput,
    safe: Option<u8>,
    f: &mut Fitter,
) -> Result<Map<String, Value>, FieldError> {
    let mut b = Map::new();
    match t {
        WecomType::Text => {
            let content = wecom::text(m, f);
            if content.is_empty() {
                return Err(msg_err(
                    "content",
                    "required",
                    "a text message needs content",
                ));
            }
            b.insert("content".into(), content.into());
        }
        WecomType::Textcard => {
            b.insert("textCard".into(), wecom::textcard(m, f)?.into());
        }
        WecomType::File => {
            let url = m.file_url.as_deref().ok_or_else(|| {
                msg_err("file_url", "required", "a file message needs a file_url")
            })?;
            b.insert("fileUrl".into(), url.into());
            if let Some(s) = safe {
                b.insert("safe".into(), s.into());
            }
        }
        WecomType::News | WecomType::Image => {
            b.insert("images".into(), images(t, m, f)?.into());
        }
        WecomType::Markdown => {
            let content = wecom::markdown(m, wecom::MARKDOWN_MAX, f);
            if content.is_empty() {
                return Err(msg_err(
                    "content",
                    "required",
                    "a markdown message needs content",
                ));
            }
            b.insert("markdown".into(), json!({ "content": content }));
        }
    }
    Ok(b)
}

/// `images`: `title`, `description` and `picUrl` required, `url` optional. A missing
/// description repeats the title. `image` is one item made of the message's own title, content
/// and `image_url`.
fn images(t: WecomType, m: &MessageInput, f: &mut Fitter) -> Result<Vec<Value>, FieldError> {
    let from_articles = t == WecomType::News && m.articles.as_ref().is_some_and(|a| !a.is_empty());
    let list = wecom::articles(m, f)?;
    if list.is_empty() {
        return Err(msg_err(
            "title",
            "required",
            "a work-ID picture message needs a title (images[].title)",
        ));
    }
    let mut out = Vec::new();
    for (i, (title, description, url, pic)) in list.into_iter().enumerate() {
        let field = if from_articles {
            format!("articles[{i}].image_url")
        } else {
            "image_url".to_string()
        };
        let pic = pic.ok_or_else(|| {
            msg_err(
                &field,
                "required",
                "work-ID picture messages need an image_url (picUrl)",
            )
        })?;
        let mut item = Map::new();
        item.insert("title".into(), title.clone().into());
        item.insert("description".into(), description.unwrap_or(title).into());
        item.insert("picUrl".into(), pic.into());
        if let Some(u) = url {
            item.insert("url".into(), u.into());
        }
        out.push(Value::Object(item));
    }
    Ok(out)
}
