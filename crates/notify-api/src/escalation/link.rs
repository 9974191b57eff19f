//! Puts the acknowledge link into a message before its targets are planned: a button where the
//! channel's card has room for one (WeLink app cards: 2 buttons side by side, 3 stacked), else a
//! line at the end of the content. WeCom text cards have a single button, which is the card's
//! own link, so they get the line.

use notify_core::{Bilingual, Button, ButtonLayout, ChannelKind, MessageInput, Text};

/// The button's and the line's label.
const LABEL_ZH: &str = "确认处理";
const LABEL_EN: &str = "Acknowledge";

/// `input` as `kind` sends it with the acknowledge `link`.
pub fn with_ack_link(input: &MessageInput, kind: ChannelKind, link: &str) -> MessageInput {
    let mut m = input.clone();
    if kind == ChannelKind::Welink && is_app_card(&m) && has_button_room(&m) {
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

/// A WeLink message becomes an app card when it has fields or buttons (`welink::body::Kind::pick`).
fn is_app_card(m: &MessageInput) -> bool {
    m.fields.as_ref().is_some_and(|f| !f.is_empty())
        || m.buttons.as_ref().is_some_and(|b| !b.is_empty())
}

fn has_button_room(m: &MessageInput) -> bool {
    let max = match m.button_layout.unwrap_or_default() {
        ButtonLayout::Horizontal => 2,
        ButtonLayout::Vertical => 3,
    };
    m.buttons.as_ref().map_or(0, Vec::len) < max
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
    use notify_core::Field;

    const LINK: &str = "https://gw.example/ack/msg_1.tag";

    fn card() -> MessageInput {
        MessageInput {
            title: Some(Text::Plain("disk full".into())),
            content: Some(Text::Plain("db-3 at 95%".into())),
            ..MessageInput::default()
        }
    }

    #[test]
    fn a_welink_app_card_with_room_gets_a_button() {
        let mut m = card();
        m.fields = Some(vec![Field {
            key: "host".into(),
            value: "db-3".into(),
        }]);
        let out = with_ack_link(&m, ChannelKind::Welink, LINK);
        assert_eq!(out.buttons.as_ref().map(Vec::len), Some(1));
        assert_eq!(out.buttons.unwrap()[0].url, LINK);
        assert_eq!(out.content, m.content, "no line when there is a button");
    }

    #[test]
    fn a_full_card_and_other_channels_get_a_line() {
        let mut m = card();
        let b = Button {
            title: Text::Plain("open".into()),
            url: "https://x.example".into(),
        };
        m.buttons = Some(vec![b.clone(), b]);
        let out = with_ack_link(&m, ChannelKind::Welink, LINK);
        assert_eq!(out.buttons.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            out.content.unwrap().zh(),
            format!("db-3 at 95%\n确认处理 / Acknowledge: {LINK}")
        );
        let out = with_ack_link(&card(), ChannelKind::WecomApp, LINK);
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
        let out = with_ack_link(&m, ChannelKind::Log, LINK).content.unwrap();
        assert_eq!(out.zh(), format!("磁盘满\n确认处理: {LINK}"));
        assert_eq!(out.en(), format!("Acknowledge: {LINK}"));
    }
}
