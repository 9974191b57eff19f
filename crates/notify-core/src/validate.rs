//! Channel-independent checks of a unified message. Each adapter adds its own checks when it
//! plans the delivery; together they make ingress answer 422 naming the field.

use crate::error::FieldError;
use crate::message::{ButtonLayout, MessageInput, StateColor, Text};

/// Bounds that are the gateway's own (not an upstream's).
#[derive(Debug, Clone)]
pub struct ValidationLimits {
    /// Targets in one message.
    pub max_targets: usize,
    /// Longest idempotency key.
    pub max_idempotency_key: usize,
    /// `expires_at` when the message has none: now + this.
    pub default_ttl_ms: i64,
}

impl Default for ValidationLimits {
    fn default() -> Self {
        Self {
            max_targets: 20,
            max_idempotency_key: 200,
            default_ttl_ms: 24 * 3600 * 1000,
        }
    }
}

/// A message whose structure has been checked; times are resolved to unix ms.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedMessage {
    /// The message as posted.
    pub input: MessageInput,
    /// Earliest send time.
    pub not_before_ms: Option<i64>,
    /// Deadline (the message's, or now + `default_ttl`).
    pub expires_at_ms: i64,
}

/// Checks what every channel needs. `known_channel` says whether a channel name is configured.
pub fn check(
    input: MessageInput,
    now_ms: i64,
    limits: &ValidationLimits,
    known_channel: impl Fn(&str) -> bool,
) -> Result<CheckedMessage, FieldError> {
    if let Some(key) = &input.idempotency_key {
        check_idempotency_key(key, limits.max_idempotency_key)
            .map_err(|e| e.under("idempotency_key"))?;
    }
    if input.targets.is_empty() {
        return Err(FieldError::new(
            "targets",
            "required",
            "at least one target is required",
        ));
    }
    if input.targets.len() > limits.max_targets {
        return Err(FieldError::new(
            "targets",
            "too_many",
            format!("at most {} targets per message", limits.max_targets),
        ));
    }
    for (i, t) in input.targets.iter().enumerate() {
        if t.channel.trim().is_empty() {
            return Err(FieldError::new(
                format!("targets[{i}].channel"),
                "required",
                "channel is required",
            ));
        }
        if !known_channel(&t.channel) {
            return Err(FieldError::new(
                format!("targets[{i}].channel"),
                "unknown_channel",
                format!("no channel named {:?} is configured", t.channel),
            ));
        }
    }
    let has_body = input.title.as_ref().is_some_and(|t| !t.is_empty())
        || input.content.as_ref().is_some_and(|t| !t.is_empty())
        || input.image_url.is_some()
        || input.file_url.is_some()
        || input.articles.as_ref().is_some_and(|a| !a.is_empty())
        || input.targets.iter().all(|t| t.raw.is_some());
    if !has_body {
        return Err(FieldError::new(
            "content",
            "required",
            "a message needs a title, content, image_url, file_url or articles",
        ));
    }
    for (name, value) in [("url", &input.url), ("pc_url", &input.pc_url)] {
        if let Some(u) = value {
            check_url(u, &["http", "https", "h5"]).map_err(|e| e.under(name))?;
        }
    }
    for (name, value) in [
        ("image_url", &input.image_url),
        ("file_url", &input.file_url),
    ] {
        if let Some(u) = value {
            check_url(u, &["http", "https"]).map_err(|e| e.under(name))?;
        }
    }
    if let Some(articles) = &input.articles {
        if articles.is_empty() || articles.len() > 5 {
            return Err(FieldError::new(
                "articles",
                "bad_length",
                "articles takes 1 to 5 items",
            ));
        }
        for (i, a) in articles.iter().enumerate() {
            let at = format!("articles[{i}]");
            if a.title.is_empty() {
                return Err(FieldError::new(
                    format!("{at}.title"),
                    "required",
                    "an article needs a title",
                ));
            }
            check_url(&a.url, &["http", "https", "h5"])
                .map_err(|e| e.under(&format!("{at}.url")))?;
            if let Some(img) = &a.image_url {
                check_url(img, &["http", "https"])
                    .map_err(|e| e.under(&format!("{at}.image_url")))?;
            }
        }
    }
    if let Some(fields) = &input.fields {
        for (i, f) in fields.iter().enumerate() {
            if f.key.trim().is_empty() {
                return Err(FieldError::new(
                    format!("fields[{i}].key"),
                    "required",
                    "a field needs a key",
                ));
            }
        }
    }
    if let Some(buttons) = &input.buttons {
        let layout = input.button_layout.unwrap_or_default();
        let max = match layout {
            ButtonLayout::Horizontal => 2,
            ButtonLayout::Vertical => 3,
        };
        if buttons.len() > max {
            return Err(FieldError::new(
                "buttons",
                "too_many",
                format!("at most {max} buttons in a {layout:?} layout (2 horizontal, 3 vertical)")
                    .to_lowercase(),
            ));
        }
        for (i, b) in buttons.iter().enumerate() {
            if b.title.is_empty() {
                return Err(FieldError::new(
                    format!("buttons[{i}].title"),
                    "required",
                    "a button needs a title",
                ));
            }
            check_url(&b.url, &["http", "https", "h5"])
                .map_err(|e| e.under(&format!("buttons[{i}].url")))?;
        }
    }
    if let Some(state) = &input.state {
        check_state_text(state).map_err(|e| e.under("state"))?;
        if let Some(c) = input.state_color {
            if !matches!(c, StateColor::Blue | StateColor::Gray | StateColor::Orange) {
                return Err(FieldError::new(
                    "state_color",
                    "invalid",
                    "a card's initial state colour is blue, gray or orange",
                ));
            }
        }
    } else if input.state_color.is_some() {
        return Err(FieldError::new(
            "state_color",
            "requires_state",
            "state_color needs a state",
        ));
    }
    if let Some(m) = &input.metadata {
        if !m.is_object() {
            return Err(FieldError::new(
                "metadata",
                "invalid",
                "metadata must be a JSON object",
            ));
        }
    }
    if let Some(owner) = &input.owner {
        if owner.trim().is_empty() {
            return Err(FieldError::new(
                "owner",
                "invalid",
                "owner must not be blank",
            ));
        }
    }
    let not_before_ms = input
        .not_before
        .as_deref()
        .map(|s| parse_time(s).map_err(|e| e.under("not_before")))
        .transpose()?;
    let expires_at_ms = match input.expires_at.as_deref() {
        Some(s) => {
            let t = parse_time(s).map_err(|e| e.under("expires_at"))?;
            if t <= now_ms {
                return Err(FieldError::new(
                    "expires_at",
                    "in_the_past",
                    "expires_at has already passed",
                ));
            }
            t
        }
        None => now_ms + limits.default_ttl_ms,
    };
    if let Some(nb) = not_before_ms {
        if nb >= expires_at_ms {
            return Err(FieldError::new(
                "not_before",
                "after_expiry",
                "not_before must come before expires_at",
            ));
        }
    }
    Ok(CheckedMessage {
        input,
        not_before_ms,
        expires_at_ms,
    })
}

/// The WeLink card state rule (contract §4): Chinese 2–5 characters, English 2–10.
pub fn check_state_text(state: &crate::message::Bilingual) -> Result<(), FieldError> {
    let zh = state.zh.as_deref().unwrap_or("");
    let en = state.en.as_deref().unwrap_or("");
    let zh_len = zh.chars().count();
    let en_len = en.chars().count();
    if !(2..=5).contains(&zh_len) {
        return Err(FieldError::new(
            "zh",
            "bad_length",
            "the Chinese state text takes 2 to 5 characters",
        ));
    }
    if !(2..=10).contains(&en_len) {
        return Err(FieldError::new(
            "en",
            "bad_length",
            "the English state text takes 2 to 10 characters",
        ));
    }
    Ok(())
}

fn check_idempotency_key(key: &str, max: usize) -> Result<(), FieldError> {
    if key.is_empty() || key.len() > max {
        return Err(FieldError::new(
            "",
            "bad_length",
            format!("an idempotency key takes 1 to {max} bytes"),
        ));
    }
    if key.chars().any(|c| c.is_control()) {
        return Err(FieldError::new(
            "",
            "invalid",
            "an idempotency key cannot hold control characters",
        ));
    }
    Ok(())
}

/// Checks that `u` is an absolute URL with one of `schemes`.
pub fn check_url(u: &str, schemes: &[&str]) -> Result<(), FieldError> {
    let parsed = url::Url::parse(u)
        .map_err(|e| FieldError::new("", "invalid_url", format!("not a URL: {e}")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(FieldError::new(
            "",
            "invalid_url",
            format!("URL scheme must be one of {}", schemes.join(", ")),
        ));
    }
    Ok(())
}

fn parse_time(s: &str) -> Result<i64, FieldError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| FieldError::new("", "invalid_time", format!("not an RFC 3339 time: {e}")))
}

/// The text of an optional field, or "".
pub fn text_zh(t: &Option<Text>) -> &str {
    t.as_ref().map(|t| t.zh()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Bilingual, Button, TargetInput};

    const NOW: i64 = 1_795_000_000_000;

    fn base() -> MessageInput {
        MessageInput {
            title: Some(Text::Plain("Disk".into())),
            targets: vec![TargetInput {
                channel: "welink".into(),
                users: Some(vec!["a".into()]),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn field_of(m: MessageInput) -> String {
        check(m, NOW, &ValidationLimits::default(), |c| c == "welink")
            .unwrap_err()
            .field
    }

    #[test]
    fn a_plain_message_passes_and_gets_the_default_ttl() {
        let c = check(base(), NOW, &ValidationLimits::default(), |_| true).unwrap();
        assert_eq!(c.expires_at_ms, NOW + 24 * 3600 * 1000);
    }

    #[test]
    fn each_rule_names_its_field() {
        let mut m = base();
        m.targets[0].channel = "nope".into();
        assert_eq!(field_of(m), "targets[0].channel");

        let mut m = base();
        m.targets.clear();
        assert_eq!(field_of(m), "targets");

        let mut m = base();
        m.title = None;
        assert_eq!(field_of(m), "content");

        let mut m = base();
        m.url = Some("ftp://x".into());
        assert_eq!(field_of(m), "url");

        let mut m = base();
        m.buttons = Some(
            (0..3)
                .map(|i| Button {
                    title: Text::Plain(format!("b{i}")),
                    url: "https://x".into(),
                })
                .collect(),
        );
        assert_eq!(field_of(m), "buttons");

        let mut m = base();
        m.state = Some(Bilingual {
            zh: Some("处".into()),
            en: Some("done".into()),
        });
        assert_eq!(field_of(m), "state.zh");

        let mut m = base();
        m.expires_at = Some("2020-01-01T00:00:00Z".into());
        assert_eq!(field_of(m), "expires_at");

        let mut m = base();
        m.not_before = Some("tomorrow".into());
        assert_eq!(field_of(m), "not_before");

        let mut m = base();
        m.articles = Some(vec![]);
        assert_eq!(field_of(m), "articles");

        let mut m = base();
        m.idempotency_key = Some("x".repeat(201));
        assert_eq!(field_of(m), "idempotency_key");
    }

    #[test]
    fn three_vertical_buttons_are_allowed() {
        let mut m = base();
        m.button_layout = Some(ButtonLayout::Vertical);
        m.buttons = Some(
            (0..3)
                .map(|i| Button {
                    title: Text::Plain(format!("b{i}")),
                    url: "https://x".into(),
                })
                .collect(),
        );
        assert!(check(m, NOW, &ValidationLimits::default(), |_| true).is_ok());
    }
}
