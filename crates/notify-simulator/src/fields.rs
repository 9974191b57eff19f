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
/// Node library sends `"safe":"0"` and `agentid` as strings (003 lines 610–615, 232).
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

/// A WeLink bilingual text: a plain string, or a JSON string `{"CN": ..., "EN": ...}`
/// (000 lines 816–817). When it looks like JSON it must be that object, with string values.
pub(crate) fn bilingual(k: &str, s: &str) -> Result<(), String> {
    let t = s.trim_start();
    if !t.starts_with('{') {
        return Ok(());
    }
    match serde_json::from_str::<Value>(t) {
        Ok(Value::Object(m))
            if !m.is_empty()
                && m.iter()
                    .all(|(key, v)| (key == "CN" || key == "EN") && v.is_string()) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{k} looks like JSON but is not {{\"CN\": \"...\", \"EN\": \"...\"}}"
        )),
    }
}
