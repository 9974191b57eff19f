//! A small `multipart/form-data` reader: enough for WeCom's media upload (one `media` part),
//! without pulling a multipart crate into the workspace.

use bytes::Bytes;

use crate::reply::Incoming;

/// One part of a multipart body.
pub(crate) struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: Bytes,
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').map(str::trim).find_map(|p| {
        p.strip_prefix("boundary=")
            .map(|b| b.trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// `name="x"` from a Content-Disposition line.
fn disposition_param(line: &str, key: &str) -> Option<String> {
    let pat = format!("{key}=");
    line.split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(&pat).map(|v| v.trim_matches('"').to_owned()))
}

/// The parts of a multipart body, or `None` when it is not one.
pub(crate) fn parse(inc: &Incoming) -> Option<Vec<Part>> {
    let b = boundary(inc.header("content-type")?)?;
    let delim = format!("--{b}");
    let body = &inc.body;
    let mut parts = Vec::new();
    let mut pos = find(body, delim.as_bytes(), 0)? + delim.len();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(parts);
        }
        let head_start = pos + 2; // CRLF after the delimiter
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let head = String::from_utf8_lossy(body.get(head_start..head_end)?);
        let data_start = head_end + 4;
        let next = find(body, format!("\r\n{delim}").as_bytes(), data_start)?;
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or("");
        parts.push(Part {
            name: disposition_param(disposition, "name").unwrap_or_default(),
            filename: disposition_param(disposition, "filename"),
            data: body.slice(data_start..next),
        });
        pos = next + 2 + delim.len();
        if pos > body.len() {
            return Some(parts);
        }
    }
}

/// What the call log keeps of a multipart body: names and sizes, not the bytes.
pub(crate) fn summary(inc: &Incoming) -> String {
    match parse(inc) {
        Some(parts) => {
            let listed: Vec<String> = parts
                .iter()
                .map(|p| {
                    format!(
                        "{}{} ({} bytes)",
                        p.name,
                        p.filename
                            .as_deref()
                            .map(|f| format!(" filename={f}"))
                            .unwrap_or_default(),
                        p.data.len()
                    )
                })
                .collect();
            format!("<multipart: {}>", listed.join(", "))
        }
        None => format!("<unreadable multipart body, {} bytes>", inc.body.len()),
    }
}
