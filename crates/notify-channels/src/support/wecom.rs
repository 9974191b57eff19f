//! What the two WeCom kinds (app API and work-ID platform) share: the message types, how one is
//! picked, and the texts with their limits (UPSTREAM-FACTS.md lines 25–28, WeCom's app-message
//! limits, which the work-ID platform forwards to).

use notify_core::{FieldError, Format, MessageInput, Text};

use super::fit::Fitter;

/// Text `content` ≤ 2048 bytes (UPSTREAM-FACTS line 25).
pub const TEXT_MAX: usize = 2048;
/// Textcard `title` ≤ 128 bytes, `description` ≤ 512 (line 25–26); news the same (line 27).
pub const TITLE_MAX: usize = 128;
/// See [`TITLE_MAX`].
pub const DESCRIPTION_MAX: usize = 512;
/// Textcard `btntxt` ≤ 4 characters (line 26).
pub const BTNTXT_MAX_CHARS: usize = 4;
/// App markdown ≤ 2048 bytes by default (lines 27–28: configurable).
pub const MARKDOWN_MAX: usize = 2048;

/// WeCom's documented per-member caps: 30 messages a minute and 1000 an hour to one member.
pub const MEMBER_LIMITS: crate::MemberLimits = crate::MemberLimits {
    per_minute: 30,
    per_hour: 1000,
};

/// The WeCom message types a target may name (contract §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WecomType {
    /// Plain text.
    Text,
    /// A card with a title, a description and a link.
    Textcard,
    /// Markdown.
    Markdown,
    /// Articles with pictures.
    News,
    /// A file.
    File,
    /// A picture.
    Image,
}

impl WecomType {
    /// The `type` names.
    pub const NAMES: [&'static str; 6] = ["text", "textcard", "markdown", "news", "file", "image"];

    /// Parses a target's `type`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => WecomType::Text,
            "textcard" => WecomType::Textcard,
            "markdown" => WecomType::Markdown,
            "news" => WecomType::News,
            "file" => WecomType::File,
            "image" => WecomType::Image,
            _ => return None,
        })
    }

    /// The API name (also WeCom's `msgtype`).
    pub fn name(self) -> &'static str {
        match self {
            WecomType::Text => "text",
            WecomType::Textcard => "textcard",
            WecomType::Markdown => "markdown",
            WecomType::News => "news",
            WecomType::File => "file",
            WecomType::Image => "image",
        }
    }

    /// The type when the target names none, first match wins: `articles` → news; `file_url` →
    /// file; `image_url` with neither title nor content → image; `image_url` with a title and a
    /// `url` → news (one article); `format: markdown` → markdown; a title and a `url` →
    /// textcard; anything else → text.
    pub fn pick(m: &MessageInput) -> Self {
        let has_title = m.title.as_ref().is_some_and(|t| !t.is_empty());
        let has_content = m.content.as_ref().is_some_and(|t| !t.is_empty());
        if m.articles.as_ref().is_some_and(|a| !a.is_empty()) {
            WecomType::News
        } else if m.file_url.is_some() {
            WecomType::File
        } else if m.image_url.is_some() && !has_title && !has_content {
            WecomType::Image
        } else if m.image_url.is_some() && has_title && m.url.is_some() {
            WecomType::News
        } else if m.format == Format::Markdown {
            WecomType::Markdown
        } else if has_title && m.url.is_some() {
            WecomType::Textcard
        } else {
            WecomType::Text
        }
    }
}

/// A WeCom link's longest form in bytes (UPSTREAM-FACTS line 26).
pub const URL_MAX: usize = 2048;

/// A WeCom link (textcard `url`, news article `url`): http or https, at most [`URL_MAX`] bytes
/// (UPSTREAM-FACTS line 26). The unified message also takes WeLink's `h5://` links, which WeCom
/// cannot open; a link cannot be shortened, so a longer one is refused too.
pub fn http_link(url: &str, field: &str) -> Result<(), FieldError> {
    notify_core::validate::check_url(url, &["http", "https"]).map_err(|_| {
        super::target::msg_err(
            field,
            "invalid_url",
            "WeCom links must be http or https URLs",
        )
    })?;
    if url.len() > URL_MAX {
        return Err(super::target::msg_err(
            field,
            "too_long",
            format!("WeCom links take at most {URL_MAX} bytes"),
        ));
    }
    Ok(())
}

fn text_of(t: &Option<Text>) -> Option<&str> {
    t.as_ref().map(|t| t.zh().trim()).filter(|s| !s.is_empty())
}

/// The `key: value` lines of `fields`.
fn field_lines(m: &MessageInput) -> Vec<String> {
    m.fields
        .iter()
        .flatten()
        .map(|f| format!("{}: {}", f.key, f.value))
        .collect()
}

/// A text message: title, content, fields and link, one per line. Empty when the message has
/// none of them.
pub fn text(m: &MessageInput, f: &mut Fitter) -> String {
    let mut lines: Vec<String> = Vec::new();
    lines.extend(text_of(&m.title).map(str::to_string));
    lines.extend(text_of(&m.content).map(str::to_string));
    lines.extend(field_lines(m));
    lines.extend(m.url.clone());
    f.bytes(&lines.join("\n"), TEXT_MAX)
}

/// A markdown message: the title in bold, then the content (already markdown), the fields and
/// the link.
pub fn markdown(m: &MessageInput, limit: usize, f: &mut Fitter) -> String {
    let mut lines: Vec<String> = Vec::new();
    lines.extend(text_of(&m.title).map(|t| format!("**{t}**")));
    lines.extend(text_of(&m.content).map(str::to_string));
    lines.extend(field_lines(m).into_iter().map(|l| format!("> {l}")));
    lines.extend(m.url.as_ref().map(|u| format!("[{u}]({u})")));
    f.bytes(&lines.join("\n"), limit)
}

/// A textcard's title, or `None` when the message has none.
pub fn card_title(m: &MessageInput, f: &mut Fitter) -> Option<String> {
    text_of(&m.title).map(|t| f.bytes(t, TITLE_MAX))
}

/// A textcard's description: the content and the fields; the title when there is neither (the
/// field is required upstream).
pub fn card_description(m: &MessageInput, f: &mut Fitter) -> String {
    let mut lines: Vec<String> = Vec::new();
    lines.extend(text_of(&m.content).map(str::to_string));
    lines.extend(field_lines(m));
    if lines.is_empty() {
        lines.extend(text_of(&m.title).map(str::to_string));
    }
    f.bytes(&lines.join("\n"), DESCRIPTION_MAX)
}

/// A textcard's button text: the first button's title, at most 4 characters.
pub fn button_text(m: &MessageInput, f: &mut Fitter) -> Option<String> {
    m.buttons
        .as_ref()
        .and_then(|b| b.first())
        .map(|b| f.chars(b.title.zh(), BTNTXT_MAX_CHARS))
}

/// One news article: (title, description, url, picture).
pub type ArticleParts = (String, Option<String>, Option<String>, Option<String>);

/// The message's articles, or one article made of its title, content, url and image. Each
/// article's `url` must be http(s) ([`http_link`]).
pub fn articles(m: &MessageInput, f: &mut Fitter) -> Result<Vec<ArticleParts>, FieldError> {
    match m.articles.as_ref().filter(|a| !a.is_empty()) {
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, a)| {
                http_link(&a.url, &format!("articles[{i}].url"))?;
                Ok((
                    f.bytes(a.title.zh(), TITLE_MAX),
                    a.description
                        .as_ref()
                        .filter(|d| !d.is_empty())
                        .map(|d| f.bytes(d.zh(), DESCRIPTION_MAX)),
                    Some(a.url.clone()),
                    a.image_url.clone(),
                ))
            })
            .collect(),
        None => match text_of(&m.title) {
            Some(t) => {
                if let Some(u) = &m.url {
                    http_link(u, "url")?;
                }
                Ok(vec![(
                    f.bytes(t, TITLE_MAX),
                    text_of(&m.content).map(|c| f.bytes(c, DESCRIPTION_MAX)),
                    m.url.clone(),
                    m.image_url.clone(),
                )])
            }
            None => Ok(Vec::new()),
        },
    }
}

/// The WeCom textcard (`title`, `description`, `url`, `btntxt`), the same for the app API and
/// the work-ID platform (which sends app messages underneath): the title is required, the URL is
/// the message's `url` or else its first button's, and must be http(s) ([`http_link`]).
pub fn textcard(
    m: &MessageInput,
    f: &mut Fitter,
) -> Result<serde_json::Map<String, serde_json::Value>, FieldError> {
    use super::target::msg_err;
    let title =
        card_title(m, f).ok_or_else(|| msg_err("title", "required", "a textcard needs a title"))?;
    let (url, field) = match (&m.url, m.buttons.as_ref().and_then(|b| b.first())) {
        (Some(u), _) => (u.clone(), "url"),
        (None, Some(b)) => (b.url.clone(), "buttons[0].url"),
        (None, None) => return Err(msg_err("url", "required", "a textcard needs a url")),
    };
    http_link(&url, field)?;
    let mut card = serde_json::Map::new();
    card.insert("title".into(), title.into());
    card.insert("description".into(), card_description(m, f).into());
    card.insert("url".into(), url.into());
    if let Some(btn) = button_text(m, f) {
        card.insert("btntxt".into(), btn.into());
    }
    Ok(card)
}
