//! The unified message exactly as a caller posts it. Unknown fields are refused so
//! that a typo (`titel`) is a 422 naming the field rather than a silently empty card.

use serde::{Deserialize, Serialize};

/// Text in one language, or in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Text {
    /// One text for every language.
    Plain(String),
    /// Chinese and English texts; either may be missing.
    Bilingual(Bilingual),
}

/// `{"zh": "...", "en": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    /// Chinese text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
    /// English text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl Text {
    /// The Chinese text, or the only one there is: what single-language channels send.
    pub fn zh(&self) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Bilingual(b) => b.zh.as_deref().or(b.en.as_deref()).unwrap_or(""),
        }
    }

    /// The English text, or the only one there is.
    pub fn en(&self) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Bilingual(b) => b.en.as_deref().or(b.zh.as_deref()).unwrap_or(""),
        }
    }

    /// True when no language has any text.
    pub fn is_empty(&self) -> bool {
        self.zh().trim().is_empty() && self.en().trim().is_empty()
    }
}

/// How urgent a message is. Higher priorities are claimed first within a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Bulk, may wait.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Claimed before normal and low.
    High,
    /// Claimed first; WeLink cards are sent with `isForceTips`.
    Urgent,
}

impl Priority {
    /// Rank stored in the outbox: a smaller number is claimed first.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Urgent => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// How `content` is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Plain text.
    #[default]
    Text,
    /// Markdown, where the channel renders it.
    Markdown,
}

/// A key/value line (WeLink app-card `contentList`, WeCom textcard description lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The label.
    pub key: String,
    /// The value.
    pub value: String,
}

/// A button that opens a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Button {
    /// The button's text.
    pub title: Text,
    /// Where it leads.
    pub url: String,
}

/// How buttons are laid out (WeLink app cards: 2 horizontal or 3 vertical at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ButtonLayout {
    /// Side by side (at most 2).
    #[default]
    Horizontal,
    /// Stacked (at most 3).
    Vertical,
}

/// One article of a news message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Article {
    /// Headline.
    pub title: Text,
    /// Summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// Link.
    pub url: String,
    /// Picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// The WeLink card state colour at send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StateColor {
    /// Blue (send-time colour 1).
    Blue,
    /// Gray (send-time 2, update-time 0).
    Gray,
    /// Orange (send-time 3).
    Orange,
    /// Yellow (update-time 1).
    Yellow,
    /// Green (update-time 2).
    Green,
}

/// One recipient group on one channel. Which fields a target takes depends on the kind of its
/// channel (`GET /v1/channels` shows each name's kind); a field its kind does not use is a 422
/// that names the right one. The table per kind is `notify_channels::targets`, and the API's
/// OpenAPI document lists it here and as one schema per kind (`WelinkTarget` … `LogTarget`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    /// The configured channel name (`GET /v1/channels` lists them).
    pub channel: String,
    /// The native message type (`card`, `textcard`, …; the kinds differ); picked from the
    /// content when absent.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// User ids: WeLink user ids (`welink`, `xiaowei`), WeCom user ids (`wecom_app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    /// WeLink department ids (`welink`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departments: Option<Vec<String>>,
    /// WeLink role ids (`welink`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// WeCom party (department) ids (`wecom_app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parties: Option<Vec<String>>,
    /// WeCom tag ids (`wecom_app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Employee work ids (`wecom_workid`, required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_ids: Option<Vec<String>>,
    /// Work-ID platform company id (`wecom_workid`; default: the channel's `company_id`); its
    /// recall repeats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    /// A customer group chat, `wxChatId` (`juzi`; this or `contact_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    /// A one-to-one external contact, `wxUserId` (`juzi`; this or `chat_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// The bot (agent account) whose sidebar may send it (`juzi`; default: any agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
    /// WeCom `safe`: 0 shareable, 1 no sharing and a watermark (`wecom_workid`, `wecom_app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub safe: Option<u8>,
    /// The channel's native body, sent as it is but for recipients and credentials (every kind
    /// but `log`): a JSON object, or for `juzi` also a list of `SendParams` objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
    /// Directory people (`/v1/people`), expanded at ingress to this channel kind's ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<String>>,
    /// Directory groups (`/v1/groups`), expanded at ingress to their members' ids on this
    /// channel kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Another target that gets a delivery for exactly the recipients that definitely did not
    /// get this one (the delivery ended `failed` or `expired`, or directory people among its
    /// failed recipients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(no_recursion, value_type = Option<Object>))]
    pub fallback: Option<Box<TargetInput>>,
}

/// Whether an alert is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The condition holds.
    #[default]
    Firing,
    /// The condition ended.
    Resolved,
}

impl AlertStatus {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }

    /// Parses an API (and stored) name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "firing" => Some(AlertStatus::Firing),
            "resolved" => Some(AlertStatus::Resolved),
            _ => None,
        }
    }
}

/// Makes a message part of one alert: messages of one tenant with one `key` are one alert
/// (storm control, resolve on the same card, acknowledgement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertInput {
    /// The alert's identity within the tenant (1–200 characters).
    pub key: String,
    /// `firing` (default) or `resolved`.
    #[serde(default)]
    pub status: AlertStatus,
    /// How long after a firing message is sent further firing messages of the key are
    /// suppressed into one digest (`"5m"`; default `5m`, at most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_window: Option<String>,
}

/// One escalation step: `targets` get the message `after` it was accepted unless the alert
/// was acknowledged or resolved first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// Delay after acceptance (`"10m"`).
    pub after: String,
    /// Who gets the message at that time.
    pub targets: Vec<TargetInput>,
}

/// The unified message: what a caller posts to `POST /v1/messages`. It needs `targets` and at
/// least one of `title`, `content`, `image_url`, `file_url`, `articles` (or a `raw` body on
/// every target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    /// Makes a retry safe: same key and body → the first answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Claim order within a lane.
    #[serde(default)]
    pub priority: Priority,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Text>,
    /// Body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Text>,
    /// `text` or `markdown`.
    #[serde(default)]
    pub format: Format,
    /// Link opened from the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Link for desktop clients, when different.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pc_url: Option<String>,
    /// Picture (WeLink image: already hosted by WeLink; WeCom: fetched and uploaded by the
    /// gateway, so it must be an https URL of a public host that answers 200 itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// File to send (WeCom file messages), fetched by the gateway: an https URL of a public
    /// host that answers 200 itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    /// News articles, 1–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub articles: Option<Vec<Article>>,
    /// Key/value lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<Field>>,
    /// Buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<Button>>,
    /// Button layout (default horizontal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_layout: Option<ButtonLayout>,
    /// Sender shown on WeLink cards (`msgOwner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Initial WeLink card state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Bilingual>,
    /// Initial WeLink card state colour (`blue` | `gray` | `orange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_color: Option<StateColor>,
    /// Where to deliver.
    #[serde(default)]
    pub targets: Vec<TargetInput>,
    /// Not before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Undelivered after this time: expired (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The caller's own data (a JSON object), kept and returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
    /// Makes the message part of one alert (storm control, resolve, acknowledgement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertInput>,
    /// Steps sent later unless the message (or its alert) is acknowledged or resolved first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Vec<EscalationStep>>,
}

impl MessageInput {
    /// Parses a request body. A syntax error is `Err(None)`-free: the caller distinguishes
    /// malformed JSON (400) from a well-formed body of the wrong shape (422 naming the field).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ParseError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ParseError::Malformed(e.to_string()))?;
        if !value.is_object() {
            return Err(ParseError::Invalid(crate::FieldError::new(
                "",
                "not_an_object",
                "the message must be a JSON object",
            )));
        }
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            ParseError::Invalid(crate::FieldError::new(
                field,
                "invalid",
                e.into_inner().to_string(),
            ))
        })
    }
}

/// Why a body is not a message.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all (400).
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON, but a field has the wrong type or name (422).
    #[error(transparent)]
    Invalid(crate::FieldError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_type_names_its_field() {
        let e =
            MessageInput::from_json(br#"{"targets":[{"channel":"x","users":"bob"}]}"#).unwrap_err();
        match e {
            ParseError::Invalid(f) => assert_eq!(f.field, "targets[0].users"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let e = MessageInput::from_json(br#"{"titel":"x"}"#).unwrap_err();
        assert!(matches!(e, ParseError::Invalid(f) if f.message.contains("titel")));
    }

    #[test]
    fn malformed_json_is_not_a_field_error() {
        assert!(matches!(
            MessageInput::from_json(b"{"),
            Err(ParseError::Malformed(_))
        ));
    }

    #[test]
    fn bilingual_text_falls_back_to_the_other_language() {
        let t: Text = serde_json::from_str(r#"{"en":"hi"}"#).unwrap();
        assert_eq!(t.zh(), "hi");
        assert_eq!(t.en(), "hi");
    }
}
