//! Canonical JSON: object keys sorted, no spaces. Two bodies that mean the same message hash
//! the same, whatever order the caller wrote their keys in.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The canonical text of a JSON value.
pub fn canonical_json(v: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write(v, &mut out);
    // Only serde_json's own output and ASCII punctuation went in: always UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Hex SHA-256 of a canonical text.
pub fn hash_of(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn write(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                scalar(k, out);
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        other => scalar(other, out),
    }
}

/// A string, number, boolean or null as serde_json writes it, straight into `out`.
fn scalar<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    // Writing a plain value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"d":2,"c":3}],"x":"é"}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":"é","y":[1,{"c":3,"d":2}]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":"é","y":[1,{"c":3,"d":2}]},"b":1}"#
        );
        // Escapes and numbers exactly as serde_json writes them (stored hashes depend on it).
        let c: Value =
            serde_json::from_str(r#"{"q\"":"a\nb\u0001","n":-1.5e3,"z":null,"t":true}"#).unwrap();
        assert_eq!(
            canonical_json(&c),
            r#"{"n":-1500.0,"q\"":"a\nb\u0001","t":true,"z":null}"#
        );
        assert_eq!(
            hash_of("{}"),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
