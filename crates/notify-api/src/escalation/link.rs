//! Puts the acknowledge link into a message before a target is planned: a button where the
//! channel's message has room for one (`Channel::takes_link_button`: WeLink app cards, 2
//! buttons side by side or 3 stacked), else a line at the end of the content. WeCom text cards
//! have a single button, which is the card's own link, so they get the line.

use notify_core::{Bilingual, Button, MessageInput, Text};

/// The button's and the line's label.
const LABEL_ZH: &str = "确认处理";
const LABEL_EN: &str = "Acknowledge";

/// `input` with the acknowledge `link`: as one more button when `as_button` (the target's
/// channel said it has room), else as the content's last line.
pub fn with_ack_link(input: &MessageInput, as_button: bool, link: &str) -> MessageInput {
    let mut m = input.clone();
    if as_button {
        m.buttons.get_or_insert_with(Vec::new).push(Button {
            title: Text::Bilingual(Bilingual {
                zh: Some(LABEL_ZH.into()),
                en: Some(LABEL_EN.into()),
            }),
            url: link.to_string(),
        });
    } else {
        m.content = Some(append_line(m.content.take(), link));
    }
    m
}

fn append_line(content: Option<Text>, link: &str) -> Text {
    let line = |label: &str, text: Option<&str>| {
        let l = format!("{label}: {link}");
        match text.filter(|t| !t.is_empty()) {
            Some(t) => format!("{t}\n{l}"),
            None => l,
        }
    };
    match content {
        None => Text::Plain(line(&format!("{LABEL_ZH} / {LABEL_EN}"), None)),
        Some(Text::Plain(s)) => Text::Plain(line(&format!("{LABEL_ZH} / {LABEL_EN}"), Some(&s))),
        Some(Text::Bilingual(b)) => Text::Bilingual(Bilingual {
            zh: Some(line(LABEL_ZH, b.zh.as_deref())),
            en: Some(line(LABEL_EN, b.en.as_deref())),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_channels::registry::{build_channel, sandbox_channels};
    use notify_core::{Field, TargetInput};

    const LINK: &str = "https://gw.example/ack/msg_1.tag";

    fn card() -> MessageInput {
        MessageInput {
            title: Some(Text::Plain("disk full".into())),
            content: Some(Text::Plain("db-3 at 95%".into())),
            ..MessageInput::default()
        }
    }

    /// Where the sandbox's channel of `kind` puts the link for `m` (a target naming no type).
    fn placed(m: &MessageInput, kind: &str) -> MessageInput {
        let (name, config) = sandbox_channels("http://127.0.0.1:9")
            .into_iter()
            .find(|(_, c)| c.kind().as_str() == kind)
            .expect("a sandbox channel of the kind");
        let handle = build_channel(name, &config).expect("channel");
        let target = TargetInput {
            channel: name.into(),
            ..TargetInput::default()
        };
        with_ack_link(m, handle.adapter.takes_link_button(m, &target), LINK)
    }

    #[test]
    fn a_welink_app_card_with_room_gets_a_button() {
        let mut m = card();
        m.fields = Some(vec![Field {
            key: "host".into(),
            value: "db-3".into(),
        }]);
        let out = placed(&m, "welink");
        assert_eq!(out.buttons.as_ref().map(Vec::len), Some(1));
        assert_eq!(out.buttons.unwrap()[0].url, LINK);
        assert_eq!(out.content, m.content, "no line when there is a button");
    }

    #[test]
    fn a_full_card_a_plain_card_and_other_channels_get_a_line() {
        let mut m = card();
        let b = Button {
            title: Text::Plain("open".into()),
            url: "https://x.example".into(),
        };
        m.buttons = Some(vec![b.clone(), b]);
        let out = placed(&m, "welink");
        assert_eq!(out.buttons.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            out.content.unwrap().zh(),
            format!("db-3 at 95%\n确认处理 / Acknowledge: {LINK}")
        );
        let out = placed(&card(), "welink");
        assert!(out.buttons.is_none(), "a plain card has no buttons");
        assert!(out.content.unwrap().zh().ends_with(LINK));
        let out = placed(&card(), "wecom_app");
        assert!(out.buttons.is_none());
        assert!(out.content.unwrap().zh().ends_with(LINK));
    }

    #[test]
    fn bilingual_content_gets_a_line_in_each_language() {
        let mut m = card();
        m.content = Some(Text::Bilingual(Bilingual {
            zh: Some("磁盘满".into()),
            en: None,
        }));
        let out = with_ack_link(&m, false, LINK).content.unwrap();
        assert_eq!(out.zh(), format!("磁盘满\n确认处理: {LINK}"));
        assert_eq!(out.en(), format!("Acknowledge: {LINK}"));
    }
}
