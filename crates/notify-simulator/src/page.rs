//! `GET /_sim/`: the latest 200 calls as a small self-refreshing HTML page, so a sandbox user
//! sees what the gateway sent upstream.

use axum::extract::State;
use axum::response::Html;

use crate::clock::shanghai_time;
use crate::Simulator;

const SHOWN: usize = 200;
const EXCERPT_CHARS: usize = 160;

/// `s` with the five HTML-special characters escaped, for text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The links between the simulator's pages, `active` (`calls`, `recipients`, `chats`) marked.
pub(crate) fn nav(active: &str) -> String {
    let mut out = String::from("<nav>");
    for (key, href, label) in [
        ("calls", "/_sim/", "Upstream calls"),
        ("recipients", "/_sim/recipients", "Recipients' view"),
        ("chats", "/_sim/chats", "Juzi chats"),
    ] {
        if key == active {
            out.push_str(&format!(
                "<a href=\"{href}\" aria-current=\"page\"><b>{label}</b></a>"
            ));
        } else {
            out.push_str(&format!("<a href=\"{href}\">{label}</a>"));
        }
    }
    out.push_str("</nav>");
    out
}

fn excerpt(s: &str) -> String {
    if s.chars().count() <= EXCERPT_CHARS {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(EXCERPT_CHARS).collect();
        format!("{cut}…")
    }
}

pub(crate) async fn page(State(sim): State<Simulator>) -> Html<String> {
    let calls = sim.inner.log.latest(SHOWN);
    let mut rows = String::new();
    for e in calls.iter().rev() {
        let body = excerpt(&e.body.to_string());
        let notes = e.notes.join(" ");
        rows.push_str(&format!(
            "<tr class=\"{cls}\"><td>{seq}</td><td>{time}</td><td>{method}</td><td>{path}</td>\
             <td>{status}</td><td>{code}</td><td>{client}</td><td><code>{body}</code></td><td>{notes}</td></tr>\n",
            cls = if e.code == "0" || e.code == "302" { "ok" } else { "err" },
            seq = e.seq,
            time = shanghai_time(e.at_ms),
            method = escape(&e.method),
            path = escape(&e.path),
            status = e.status,
            code = escape(&e.code),
            client = escape(e.client_id.as_deref().unwrap_or("")),
            body = escape(&body),
            notes = escape(&notes),
        ));
    }
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"2\">\
         <title>notify-simulator: latest calls</title>\
         <style>body{{font:13px sans-serif;margin:1em}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}}\
         tr.err td{{background:#fff3f3}}nav a{{margin-right:1em}}code{{font-size:12px;word-break:break-all}}</style></head>\
         <body>{nav}<h1>notify-simulator</h1><p>Latest {n} upstream calls, newest first (times UTC+8); \
         refreshes every 2 s. JSON: <a href=\"/_sim/calls\">/_sim/calls</a>, \
         <a href=\"/_sim/stats\">/_sim/stats</a>.</p>\
         <table><thead><tr><th>seq</th><th>time</th><th>method</th><th>path</th><th>HTTP</th>\
         <th>code</th><th>client</th><th>body</th><th>notes</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>\n",
        n = calls.len(),
        nav = nav("calls"),
    ))
}
