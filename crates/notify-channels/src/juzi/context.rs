//! A Juzi delivery's context as the adapter plans it and the sidebar reads it: the chat
//! (`chat_id` or `contact_id`), the hosted account that must send it (`bot_id`, optional) and
//! the `SendParams` payloads the agent's page sends.

use serde_json::Value;

/// The key a waiting Juzi delivery is found by: `chat:<wxChatId>` (a group) or
/// `contact:<wxUserId>` (an external contact), followed by `@<botId>` when the target names the
/// hosted account that must send it. The sidebar looks up the key without a bot and the key
/// with its own bot, so a delivery pinned to another bot is never shown.
pub fn chat_key(
    chat_id: Option<&str>,
    contact_id: Option<&str>,
    bot_id: Option<&str>,
) -> Option<String> {
    let base = match (nonblank(chat_id), nonblank(contact_id)) {
        (Some(c), _) => format!("chat:{c}"),
        (None, Some(c)) => format!("contact:{c}"),
        (None, None) => return None,
    };
    Some(match nonblank(bot_id) {
        Some(b) => format!("{base}@{b}"),
        None => base,
    })
}

/// The chat key of a Juzi plan's context (`chat_id` or `contact_id`, optional `bot_id`).
pub fn chat_key_of(context: &Value) -> Option<String> {
    let get = |k: &str| context.get(k).and_then(Value::as_str);
    chat_key(get("chat_id"), get("contact_id"), get("bot_id"))
}

/// The hosted account a delivery is pinned to, `None` when any of the channel's may send it.
pub fn bot_of(context: &Value) -> Option<&str> {
    nonblank(context.get("bot_id").and_then(Value::as_str))
}

/// The `SendParams` payloads the agent's page sends, in order.
pub fn payloads_of(context: &Value) -> Vec<Value> {
    context
        .get("payloads")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn nonblank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_keys_name_the_chat_and_the_bot() {
        assert_eq!(
            chat_key(Some("wrX"), None, None).as_deref(),
            Some("chat:wrX")
        );
        assert_eq!(
            chat_key(None, Some("wmY"), Some("b1")).as_deref(),
            Some("contact:wmY@b1")
        );
        assert_eq!(chat_key(Some(" "), None, Some("b1")), None);
        let ctx = serde_json::json!({"chat_id": "wrX", "bot_id": "", "payloads": []});
        assert_eq!(chat_key_of(&ctx).as_deref(), Some("chat:wrX"));
    }

    #[test]
    fn the_bot_and_payloads_are_read_leniently() {
        let ctx = serde_json::json!({"bot_id": " b1 ", "payloads": [{"msgtype": "text"}]});
        assert_eq!(bot_of(&ctx), Some("b1"));
        assert_eq!(payloads_of(&ctx).len(), 1);
        let ctx = serde_json::json!({"bot_id": " "});
        assert_eq!(bot_of(&ctx), None);
        assert!(payloads_of(&ctx).is_empty());
    }
}
