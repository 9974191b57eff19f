//! Reading upstream answers leniently: WeLink sends `code` as a string and leaves empty fields
//! out (contract §5), the work-ID platform sends numbers, WeCom joins ids with `|`. Decisions are
//! made on codes, never on message texts.

use serde_json::Value;

use crate::{TokenAnswer, UpstreamAnswer};

/// `v[key]` as a string: strings as they are (trimmed), numbers printed; absent, `null` or empty
/// is `None`.
pub fn str_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The text of the answer's `key` field, as upstream wrote it, for the attempt log; `None` when
/// the body is not JSON or the field is absent or not a string.
pub fn message_field(answer: &UpstreamAnswer, key: &str) -> Option<String> {
    answer
        .json()
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// A token answer that carries `token`: its lifetime from `expires_in` (a number or a numeric
/// string; absent, zero or negative means `default_expires_s`), refreshed `refresh_ahead_s`
/// before expiry, but a short-lived token still gets half its life.
pub fn issued(
    v: &Value,
    token: String,
    default_expires_s: i64,
    refresh_ahead_s: i64,
) -> TokenAnswer {
    let expires_in_s = v
        .get("expires_in")
        .and_then(|e| e.as_i64().or_else(|| e.as_str()?.parse().ok()))
        .filter(|e| *e > 0)
        .unwrap_or(default_expires_s);
    TokenAnswer::Issued {
        token,
        expires_in_s,
        refresh_ahead_s: refresh_ahead_s.min(expires_in_s / 2),
    }
}

/// A list of ids given either as a JSON array or as one string joined by `sep` (WeCom's
/// `invaliduser: "a|b"`); empty entries are dropped.
pub fn ids_of(v: &Value, key: &str, sep: char) -> Vec<String> {
    match v.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => s
            .split(sep)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The answer's body as text, shortened, for messages about answers nobody expected.
pub fn excerpt(answer: &UpstreamAnswer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    let (cut, _) = notify_core::text::fit(&text, 300, notify_core::text::Measure::Bytes);
    format!("HTTP {} {}", answer.http_status, cut)
}

/// The recipient as the caller spelled it: WeCom lower-cases the ids it returns
/// (UPSTREAM-FACTS, "Returned user ids are lower-cased"), so match case-insensitively.
pub fn original_spelling(returned: &str, sent: &[String]) -> String {
    sent.iter()
        .find(|s| s.eq_ignore_ascii_case(returned) || s.to_lowercase() == returned.to_lowercase())
        .cloned()
        .unwrap_or_else(|| returned.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_lives_as_long_as_expires_in_says_however_it_is_written() {
        let at = |v: serde_json::Value| match issued(&v, "t".into(), 7200, 300) {
            TokenAnswer::Issued {
                expires_in_s,
                refresh_ahead_s,
                ..
            } => (expires_in_s, refresh_ahead_s),
            other => panic!("{other:?}"),
        };
        assert_eq!(at(json!({"expires_in": 3600})), (3600, 300));
        assert_eq!(at(json!({"expires_in": "1800"})), (1800, 300));
        // Absent, zero, negative or unreadable: the upstream's documented lifetime.
        assert_eq!(at(json!({})), (7200, 300));
        assert_eq!(at(json!({"expires_in": 0})), (7200, 300));
        assert_eq!(at(json!({"expires_in": -5})), (7200, 300));
        assert_eq!(at(json!({"expires_in": "soon"})), (7200, 300));
        // A short-lived token is refreshed at half its life, not before it was issued.
        assert_eq!(at(json!({"expires_in": 400})), (400, 200));
    }

    #[test]
    fn codes_are_read_from_strings_and_numbers() {
        assert_eq!(str_of(&json!({"code": "0"}), "code").as_deref(), Some("0"));
        assert_eq!(
            str_of(&json!({"code": 51019}), "code").as_deref(),
            Some("51019")
        );
        assert_eq!(str_of(&json!({"code": ""}), "code"), None);
        assert_eq!(str_of(&json!({"code": null}), "code"), None);
    }

    #[test]
    fn ids_come_from_arrays_or_joined_strings() {
        assert_eq!(ids_of(&json!({"x": "a|b|"}), "x", '|'), vec!["a", "b"]);
        assert_eq!(ids_of(&json!({"x": ["a", "b"]}), "x", '|'), vec!["a", "b"]);
        assert!(ids_of(&json!({"x": ""}), "x", '|').is_empty());
    }

    #[test]
    fn the_callers_spelling_is_kept() {
        let sent = vec!["ZhangSan".to_string()];
        assert_eq!(original_spelling("zhangsan", &sent), "ZhangSan");
        assert_eq!(original_spelling("other", &sent), "other");
    }
}
