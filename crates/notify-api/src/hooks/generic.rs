//! `format = "generic"`: any JSON object, read with the hook's JSON pointers (`title`,
//! `content`, `key`, `status`, `url`, e.g. `title = "/alert/name"`).

use notify_core::message::AlertStatus;
use serde_json::Value;

use crate::hooks::config::HookConfig;
use crate::hooks::model::status_of;

/// What the pointers found.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericNotification {
    /// The title, if its pointer found one.
    pub title: Option<String>,
    /// The content, if its pointer found one.
    pub content: Option<String>,
    /// The alert key's source part; `None`: the hook's name alone is the key.
    pub key: Option<String>,
    /// `resolved` or `ok` (any case): resolved; anything else, or nothing, firing.
    pub status: AlertStatus,
    /// The link.
    pub url: Option<String>,
}

/// Reads a payload (a JSON object, checked by the caller) with the hook's pointers.
pub fn parse(c: &HookConfig, value: &Value) -> GenericNotification {
    let at = |p: &Option<String>| p.as_deref().and_then(|p| text_at(value, p));
    GenericNotification {
        title: at(&c.title),
        content: at(&c.content),
        key: at(&c.key),
        status: at(&c.status)
            .map(|s| status_of(s.trim()))
            .unwrap_or(AlertStatus::Firing),
        url: at(&c.url),
    }
}

/// The text at a JSON pointer: a string as it is, a number or boolean written out, an
/// object or array as compact JSON; nothing for null, a missing value or an empty string.
pub fn text_at(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_strings_numbers_and_objects_and_skip_missing_values() {
        let v: Value = serde_json::json!({"a": {"n": 3, "s": "x", "o": {"k": 1}, "e": ""}});
        assert_eq!(text_at(&v, "/a/s").as_deref(), Some("x"));
        assert_eq!(text_at(&v, "/a/n").as_deref(), Some("3"));
        assert_eq!(text_at(&v, "/a/o").as_deref(), Some(r#"{"k":1}"#));
        assert_eq!(text_at(&v, "/a/e"), None);
        assert_eq!(text_at(&v, "/missing"), None);
    }
}
