//! Strict readers for JSON request fields, shared by every upstream.
//!
//! The documents give types (String, Array[String], Integer) and lengths in bytes or in
//! characters; these helpers return a readable reason so each upstream can wrap it in its own
//! code.

use serde_json::{Map, Value};

pub(crate) type Obj = Map<String, Value>;

/// An optional string field; `null` counts as absent, another type is an error.
pub(crate) fn opt_str<'a>(o: &'a Obj, k: &str) -> Result<Option<&'a str>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(format!("{k} must be a string")),
    }
}

/// A required, non-blank string field.
pub(crate) fn req_str<'a>(o: &'a Obj, k: &str) -> Result<&'a str, String> {
    match opt_str(o, k)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(format!("{k} is required")),
    }
}

/// Fails when `s` is longer than `max` UTF-8 bytes.
pub(crate) fn max_bytes(k: &str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        Err(format!("{k} is {} bytes, more than {max}", s.len()))
    } else {
        Ok(())
    }
}

/// Number of characters (Unicode scalar values).
pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// An optional array of strings; every element must be a non-blank string.
pub(crate) fn opt_str_list<'a>(o: &'a Obj, k: &str) -> Result<Option<Vec<&'a str>>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) if !s.trim().is_empty() => Ok(s.as_str()),
                _ => Err(format!("{k} must hold non-empty strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{k} must be an array of strings")),
    }
}

/// An optional array of objects.
pub(crate) fn opt_obj_list<'a>(o: &'a Obj, k: &str) -> Result<Option<Vec<&'a Obj>>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_object()
                    .ok_or_else(|| format!("{k} must hold objects"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{k} must be an array of objects")),
    }
}

/// An optional object field.
pub(crate) fn opt_obj<'a>(o: &'a Obj, k: &str) -> Result<Option<&'a Obj>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("{k} must be an object")),
    }
}

/// An optional integer, given as a JSON number or (leniently) as a numeric string — the WeCom
/// Node library sends `"safe":"0"` and `agentid` as strings (003 lines 614, 232, 252).
pub(crate) fn opt_int_lenient(o: &Obj, k: &str) -> Result<Option<i64>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{k} must be an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{k} must be an integer")),
        Some(_) => Err(format!("{k} must be an integer")),
    }
}

/// Whether `s` starts with one of the given URL schemes.
pub(crate) fn has_scheme(s: &str, schemes: &[&str]) -> bool {
    let lower = s.to_ascii_lowercase();
    schemes
        .iter()
        .any(|p| lower.starts_with(p) && lower.len() > p.len())
}

/// Whether `s` is an absolute `http://` or `https://` URL with a host: what WeCom takes for a
/// text card's, a news article's and the work-ID platform's links (UPSTREAM-FACTS: "url ≤ 2048
/// and http(s)"). `h5://`, `javascript:` or `https:///x` are not.
pub(crate) fn is_http_url(s: &str) -> bool {
    url::Url::parse(s.trim()).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// The `{"CN": ..., "EN": ...}` object of a WeLink JSON-type string (000 lines 816–817, 857–858,
/// 956–962, 998–1022): both keys, string values, no other key. Returns (CN, EN).
fn bilingual_pair(k: &str, s: &str) -> Result<(String, String), String> {
    let shape = || format!("{k} must be the JSON text {{\"CN\": \"...\", \"EN\": \"...\"}}");
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(s.trim()) else {
        return Err(shape());
    };
    if m.len() != 2 {
        return Err(shape());
    }
    match (m.get("CN"), m.get("EN")) {
        (Some(Value::String(cn)), Some(Value::String(en))) => Ok((cn.clone(), en.clone())),
        _ => Err(shape()),
    }
}

/// A WeLink bilingual text: a plain string, or a JSON string `{"CN": ..., "EN": ...}`
/// (000 lines 816–817). WeLink reads any text that starts with `{` as JSON, so such a text must
/// be that object.
pub(crate) fn bilingual(k: &str, s: &str) -> Result<(), String> {
    if !s.trim_start().starts_with('{') {
        return Ok(());
    }
    bilingual_pair(k, s).map(|_| ())
}

/// A field the document types "json类型的string" with no plain-string alternative (app-card
/// `contentList` key and value, `btnTitle`: 000 lines 956, 957, 962). `required` also refuses
/// a text whose CN and EN are both blank.
pub(crate) fn json_text(k: &str, s: &str, required: bool) -> Result<(), String> {
    let (cn, en) = bilingual_pair(k, s)?;
    if required && cn.trim().is_empty() && en.trim().is_empty() {
        return Err(format!("{k} is required: CN and EN are both empty"));
    }
    Ok(())
}
