//! Unified message → WeLink public-account bodies: plain card (000_… lines 775–902), app card
//! (903–1067), image (1068–1182) and news (1183–1328). Recipients are added per chunk by
//! [`address`].

use notify_core::{ButtonLayout, FieldError, MessageInput, Priority, StateColor, Text};
use serde_json::{json, Map, Value};

use crate::support::fit::{cn_en, Fitter};
use crate::support::target::msg_err;

/// `POST /messages/v2/card/common` (line 793).
pub const CARD: &str = "/messages/v2/card/common";
/// `POST /messages/v1/card/wecode` (line 918).
pub const APP_CARD: &str = "/messages/v1/card/wecode";
/// `POST /messages/v1/image` (line 1085).
pub const IMAGE: &str = "/messages/v1/image";
/// `POST /messages/v1/news` (line 1200).
pub const NEWS: &str = "/messages/v1/news";

/// `msgOwner` ≤ 18 bytes (line 810).
const OWNER_MAX: usize = 18;
/// `msgTitle` ≤ 128 bytes (lines 816, 940).
const TITLE_MAX: usize = 128;
/// `msgContent` ≤ 512 bytes (line 817).
const CONTENT_MAX: usize = 512;
/// `contentList` at most 5 lines (line 941); key ≤ 128, value ≤ 256 bytes (lines 956–957), the
/// JSON string as a whole.
const LINES_MAX: usize = 5;
const KEY_MAX: usize = 128;
const VALUE_MAX: usize = 256;
/// `btnTitle` ≤ 128 bytes (line 962).
const BTN_TITLE_MAX: usize = 128;
/// News: 1–5 items (line 1225), `title` ≤ 18 bytes, `description` ≤ 140 bytes (1230–1231).
const NEWS_MAX: usize = 5;
const NEWS_TITLE_MAX: usize = 18;
const NEWS_DESC_MAX: usize = 140;

/// The four public-account message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain card.
    Card,
    /// App card: key/value lines and buttons.
    AppCard,
    /// A picture already hosted by WeLink.
    Image,
    /// One to five articles.
    News,
}

impl Kind {
    /// The `type` names a target may give.
    pub const NAMES: [&'static str; 4] = ["card", "app_card", "image", "news"];

    /// Parses a target's `type`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "card" => Kind::Card,
            "app_card" => Kind::AppCard,
            "image" => Kind::Image,
            "news" => Kind::News,
            _ => return None,
        })
    }

    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Card => "card",
            Kind::AppCard => "app_card",
            Kind::Image => "image",
            Kind::News => "news",
        }
    }

    /// The path after `base_url`.
    pub fn interface(self) -> &'static str {
        match self {
            Kind::Card => CARD,
            Kind::AppCard => APP_CARD,
            Kind::Image => IMAGE,
            Kind::News => NEWS,
        }
    }

    /// Only plain and app cards carry `messageStatus` (lines 824, 947) and take a state update
    /// (line 1333).
    pub fn takes_state(self) -> bool {
        matches!(self, Kind::Card | Kind::AppCard)
    }

    /// The type when the target names none: `articles` → news; `fields` or `buttons` →
    /// app_card; an `image_url` with neither title nor content → image; anything else → card.
    pub fn pick(m: &MessageInput) -> Self {
        let has_text = m.title.as_ref().is_some_and(|t| !t.is_empty())
            || m.content.as_ref().is_some_and(|t| !t.is_empty());
        if m.articles.as_ref().is_some_and(|a| !a.is_empty()) {
            Kind::News
        } else if m.fields.as_ref().is_some_and(|f| !f.is_empty())
            || m.buttons.as_ref().is_some_and(|b| !b.is_empty())
        {
            Kind::AppCard
        } else if m.image_url.is_some() && !has_text {
            Kind::Image
        } else {
            Kind::Card
        }
    }

    /// The type of a `raw` body, from the fields only that type has.
    pub fn of_raw(raw: &Map<String, Value>) -> Self {
        if raw.contains_key("news") {
            Kind::News
        } else if raw.contains_key("imageUrl") {
            Kind::Image
        } else if raw.contains_key("contentList") || raw.contains_key("btnList") {
            Kind::AppCard
        } else {
            Kind::Card
        }
    }
}

/// Channel settings the bodies use.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defaults<'a> {
    /// `msgOwner` when the message has no `owner`.
    pub owner: Option<&'a str>,
    /// `publicAccID`; `None`: the notification center (line 811).
    pub public_acc_id: Option<&'a str>,
}

/// The body of `kind` for `m`, without recipients.
pub fn build(
    kind: Kind,
    m: &MessageInput,
    d: &Defaults<'_>,
    f: &mut Fitter,
) -> Result<Map<String, Value>, FieldError> {
    if m.state.is_some() && !kind.takes_state() {
        return Err(msg_err(
            "state",
            "not_supported",
            format!(
                "WeLink {} messages cannot carry a state; use type card or app_card",
                kind.name()
            ),
        ));
    }
    let mut b = match kind {
        Kind::Card => card(m, d, f)?,
        Kind::AppCard => app_card(m, f)?,
        Kind::Image => image(m)?,
        Kind::News => news(m, f)?,
    };
    if let Some(p) = d.public_acc_id {
        b.insert("publicAccID".into(), p.into());
    }
    // Both terminals (the documented default, lines 820, 942, 1107, 1224), stated so that
    // `isForceTips` (a PC pop-up) always has a PC to pop up on.
    b.insert("receiveDeviceType".into(), "2".into());
    if kind.takes_state() {
        if m.priority == Priority::Urgent {
            // Strong reminder: a pop-up in PC WeLink (lines 826, 951).
            b.insert("isForceTips".into(), 1.into());
        }
        if let Some(state) = &m.state {
            let zh = state.zh.as_deref().unwrap_or("");
            let en = state.en.as_deref().unwrap_or("");
            b.insert("messageStatus".into(), cn_en(zh, en).into());
            b.insert(
                "statusColor".into(),
                send_color(m.state_color.unwrap_or(StateColor::Blue))?.into(),
            );
        }
    }
    Ok(b)
}

/// Send-time colours: 1 blue, 2 gray, 3 orange (lines 825, 950).
fn send_color(c: StateColor) -> Result<&'static str, FieldError> {
    match c {
        StateColor::Blue => Ok("1"),
        StateColor::Gray => Ok("2"),
        StateColor::Orange => Ok("3"),
        StateColor::Yellow | StateColor::Green => Err(msg_err(
            "state_color",
            "invalid",
            "a card's initial state colour is blue, gray or orange",
        )),
    }
}

fn non_empty(t: &Option<Text>) -> Option<&Text> {
    t.as_ref().filter(|t| !t.is_empty())
}

/// Plain card: `msgOwner`, `msgTitle` and `msgContent` are required (lines 810, 816–817). A
/// message with only a title (or only content) uses it for both, so that a one-line alert is not
/// refused.
fn card(
    m: &MessageInput,
    d: &Defaults<'_>,
    f: &mut Fitter,
) -> Result<Map<String, Value>, FieldError> {
    let title = non_empty(&m.title)
        .or(non_empty(&m.content))
        .ok_or_else(|| {
            msg_err(
                "title",
                "required",
                "a WeLink card needs a title or content",
            )
        })?;
    let content = non_empty(&m.content).unwrap_or(title);
    let owner = m.owner.as_deref().or(d.owner).ok_or_else(|| {
        msg_err(
            "owner",
            "required",
            "a WeLink card needs msgOwner: set owner on the message or the channel's default owner",
        )
    })?;
    let mut b = Map::new();
    b.insert("msgOwner".into(), f.bytes(owner, OWNER_MAX).into());
    b.insert("msgTitle".into(), f.bilingual(title, TITLE_MAX).into());
    b.insert(
        "msgContent".into(),
        f.bilingual(content, CONTENT_MAX).into(),
    );
    if let Some(url) = &m.url {
        // "html" is the only documented urlType (line 821).
        b.insert("urlType".into(), "html".into());
        b.insert("urlPath".into(), url.as_str().into());
    }
    if let Some(pc) = &m.pc_url {
        b.insert("desktopUrlPath".into(), pc.as_str().into());
    }
    Ok(b)
}

/// App card: `msgTitle`, `urlPath` and `contentList` are required (lines 940–944). Lines come
/// from `fields`; without fields, the content is the one line. A line's `key` and `value` and a
/// button's `btnTitle` are JSON strings `{"CN": …, "EN": …}` (lines 956, 957, 962), never plain
/// text; `msgTitle` may be either (line 940).
fn app_card(m: &MessageInput, f: &mut Fitter) -> Result<Map<String, Value>, FieldError> {
    let title = non_empty(&m.title).ok_or_else(|| {
        msg_err(
            "title",
            "required",
            "a WeLink app card needs a title (msgTitle)",
        )
    })?;
    let url = m.url.as_deref().ok_or_else(|| {
        msg_err(
            "url",
            "required",
            "a WeLink app card needs a url (urlPath is required)",
        )
    })?;
    let lines: Vec<Value> = match m.fields.as_ref().filter(|l| !l.is_empty()) {
        Some(fields) if fields.len() > LINES_MAX => {
            return Err(msg_err(
                "fields",
                "too_many",
                format!("a WeLink app card shows at most {LINES_MAX} lines"),
            ))
        }
        Some(fields) => fields
            .iter()
            .enumerate()
            .map(|(i, l)| {
                // `value` is required (line 957): an empty one is refused upstream.
                if l.value.trim().is_empty() {
                    return Err(msg_err(
                        &format!("fields[{i}].value"),
                        "required",
                        "a WeLink app card line needs a value (contentList value is required)",
                    ));
                }
                Ok(json!({
                    "key": f.json_text(&Text::Plain(l.key.clone()), KEY_MAX),
                    "value": f.json_text(&Text::Plain(l.value.clone()), VALUE_MAX),
                }))
            })
            .collect::<Result<_, _>>()?,
        None => match non_empty(&m.content) {
            Some(c) => vec![json!({"value": f.json_text(c, VALUE_MAX)})],
            None => {
                return Err(msg_err(
                    "fields",
                    "required",
                    "a WeLink app card needs fields or content (contentList is required)",
                ))
            }
        },
    };
    let mut b = Map::new();
    b.insert("msgTitle".into(), f.bilingual(title, TITLE_MAX).into());
    b.insert("urlType".into(), "html".into());
    b.insert("urlPath".into(), url.into());
    b.insert("contentList".into(), lines.into());
    if let Some(buttons) = m.buttons.as_ref().filter(|b| !b.is_empty()) {
        // Layout and counts (2 horizontal, 3 vertical: line 946) are checked at ingress.
        let layout = match m.button_layout.unwrap_or_default() {
            ButtonLayout::Horizontal => "horizontal",
            ButtonLayout::Vertical => "vertical",
        };
        b.insert("btnType".into(), layout.into());
        let list: Vec<Value> = buttons
            .iter()
            .map(|btn| {
                json!({
                    "btnTitle": f.json_text(&btn.title, BTN_TITLE_MAX),
                    "urlType": "html",
                    "btnUrl": btn.url,
                })
            })
            .collect();
        b.insert("btnList".into(), list.into());
    }
    Ok(b)
}

/// Image: `imageUrl` must already be hosted by WeLink (line 1108) and is passed through as
/// given; `jumpUrl` defaults to the image (line 1109).
fn image(m: &MessageInput) -> Result<Map<String, Value>, FieldError> {
    let url = m.image_url.as_deref().ok_or_else(|| {
        msg_err(
            "image_url",
            "required",
            "a WeLink image message needs an image_url hosted by WeLink",
        )
    })?;
    let mut b = Map::new();
    b.insert("imageUrl".into(), url.into());
    if let Some(jump) = &m.url {
        b.insert("jumpUrl".into(), jump.as_str().into());
    }
    Ok(b)
}

/// News: 1–5 items with `title`, `newsUrl` and `imageUrl` required (lines 1225–1234).
fn news(m: &MessageInput, f: &mut Fitter) -> Result<Map<String, Value>, FieldError> {
    let articles = m
        .articles
        .as_ref()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            msg_err(
                "articles",
                "required",
                "a WeLink news message needs articles",
            )
        })?;
    if articles.len() > NEWS_MAX {
        return Err(msg_err(
            "articles",
            "too_many",
            format!("WeLink news takes at most {NEWS_MAX} articles"),
        ));
    }
    let mut items = Vec::new();
    for (i, a) in articles.iter().enumerate() {
        let image = a.image_url.as_deref().ok_or_else(|| {
            msg_err(
                &format!("articles[{i}].image_url"),
                "required",
                "WeLink news articles need an image_url hosted by WeLink",
            )
        })?;
        let mut item = Map::new();
        item.insert("title".into(), f.bytes(a.title.zh(), NEWS_TITLE_MAX).into());
        if let Some(d) = a.description.as_ref().filter(|d| !d.is_empty()) {
            item.insert("description".into(), f.bytes(d.zh(), NEWS_DESC_MAX).into());
        }
        item.insert("urlType".into(), "html".into());
        item.insert("newsUrl".into(), a.url.as_str().into());
        item.insert("imageUrl".into(), image.into());
        items.push(Value::Object(item));
    }
    let mut b = Map::new();
    b.insert("news".into(), items.into());
    Ok(b)
}

/// How a call addresses its recipients (`msgRange`, line 812).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// `msgRange` 0 (the default, left out), `toUserList` ≤ 1000 (line 813).
    Users,
    /// `msgRange` 1, `departmentList` ≤ 100 (line 814).
    Departments,
    /// `msgRange` 2, `roleList` ≤ 100 (line 815).
    Roles,
}

impl Range {
    /// Ids one call may carry.
    pub fn chunk(self) -> usize {
        match self {
            Range::Users => 1000,
            Range::Departments | Range::Roles => 100,
        }
    }
}

/// Keys through which a body names its recipients; a raw body's are replaced.
pub const RECIPIENT_KEYS: [&str; 4] = ["msgRange", "toUserList", "departmentList", "roleList"];

/// `base` addressed to `ids` by `range`.
pub fn address(base: &Map<String, Value>, range: Range, ids: &[String]) -> Value {
    let mut b = base.clone();
    for k in RECIPIENT_KEYS {
        b.remove(k);
    }
    match range {
        Range::Users => {
            b.insert("toUserList".into(), json!(ids));
        }
        Range::Departments => {
            b.insert("msgRange".into(), "1".into());
            b.insert("departmentList".into(), json!(ids));
        }
        Range::Roles => {
            b.insert("msgRange".into(), "2".into());
            b.insert("roleList".into(), json!(ids));
        }
    }
    Value::Object(b)
}
