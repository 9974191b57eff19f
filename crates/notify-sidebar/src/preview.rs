//! A short, plain-text preview of a delivery's `SendParams` payloads for the list.

use serde_json::Value;

/// Longest preview, in characters.
const MAX_CHARS: usize = 280;

/// One line per payload: the text, or `[type] title — link/url`.
pub fn of(payloads: &[Value]) -> String {
    let lines: Vec<String> = payloads.iter().map(one).collect();
    cut(&lines.join("\n"))
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str().filter(|t| !t.is_empty())
}

fn one(p: &Value) -> String {
    let t = s(p, &["msgtype"]).unwrap_or("?");
    match t {
        "text" => s(p, &["text", "content"]).unwrap_or("").to_string(),
        "image" | "video" | "file" => {
            let name = s(p, &[t, "title"])
                .or_else(|| s(p, &[t, "url"]))
                .unwrap_or("");
            format!("[{t}] {name}")
        }
        "news" => {
            let mut out = format!("[news] {}", s(p, &["news", "title"]).unwrap_or(""));
            if let Some(d) = s(p, &["news", "desc"]) {
                out.push_str(" — ");
                out.push_str(d);
            }
            out
        }
        "miniprogram" => format!(
            "[miniprogram] {}",
            s(p, &["miniprogram", "title"]).unwrap_or("")
        ),
        other => format!("[{other}]"),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn previews_name_each_payload() {
        let p = vec![
            json!({"msgtype": "text", "text": {"content": "Disk almost full"}}),
            json!({"msgtype": "image", "image": {"url": "https://x/i.png"}}),
            json!({"msgtype": "news", "news": {"link": "https://x", "title": "T", "desc": "D"}}),
        ];
        assert_eq!(
            super::of(&p),
            "Disk almost full\n[image] https://x/i.png\n[news] T — D"
        );
        let long = vec![json!({"msgtype": "text", "text": {"content": "字".repeat(400)}})];
        assert_eq!(super::of(&long).chars().count(), 280);
    }
}
