//! Shortening text to upstream limits while remembering whether anything was cut, so that the
//! delivery can say `"truncated": true` (contract §4).

use notify_core::text::{fit, Measure};
use notify_core::Text;

/// Fits texts and records whether one was cut.
#[derive(Debug, Default)]
pub struct Fitter {
    truncated: bool,
}

impl Fitter {
    /// True when some text was shortened.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// `s` in at most `limit` UTF-8 bytes.
    pub fn bytes(&mut self, s: &str, limit: usize) -> String {
        self.take(fit(s, limit, Measure::Bytes))
    }

    /// `s` in at most `limit` characters.
    pub fn chars(&mut self, s: &str, limit: usize) -> String {
        self.take(fit(s, limit, Measure::Chars))
    }

    /// WeLink text: a plain string when there is one language (the guide allows it, 000_… line
    /// 816), else the JSON string `{"CN": …, "EN": …}`, in at most `limit` bytes as a whole.
    pub fn bilingual(&mut self, t: &Text, limit: usize) -> String {
        let (zh, en) = (t.zh(), t.en());
        if matches!(t, Text::Plain(_)) || zh == en {
            return self.bytes(zh, limit);
        }
        let whole = cn_en(zh, en);
        if whole.len() <= limit {
            return whole;
        }
        self.truncated = true;
        let room = limit.saturating_sub(cn_en("", "").len());
        // Each language gets half; a language shorter than its half leaves the rest to the other.
        let (ezh, een) = (escaped_len(zh), escaped_len(en));
        let half = room / 2;
        let (bzh, ben) = if ezh <= half {
            (ezh, room - ezh)
        } else if een <= half {
            (room - een, een)
        } else {
            (half, room - half)
        };
        cn_en(&fit_escaped(zh, bzh), &fit_escaped(en, ben))
    }

    fn take(&mut self, (s, cut): (String, bool)) -> String {
        self.truncated |= cut;
        s
    }
}

/// The WeLink bilingual JSON string. Keys are inserted CN first, which is also their sorted
/// order, so the text is the same whatever `serde_json` features the build unifies.
pub fn cn_en(zh: &str, en: &str) -> String {
    let mut m = serde_json::Map::new();
    m.insert("CN".into(), zh.into());
    m.insert("EN".into(), en.into());
    serde_json::Value::Object(m).to_string()
}

fn escaped_len(s: &str) -> usize {
    serde_json::Value::from(s).to_string().len() - 2
}

/// `s` cut so that its JSON-escaped form takes at most `budget` bytes.
fn fit_escaped(s: &str, budget: usize) -> String {
    let mut limit = budget;
    loop {
        let (cut, _) = fit(s, limit, Measure::Bytes);
        let len = escaped_len(&cut);
        if len <= budget || limit == 0 {
            return cut;
        }
        limit = limit.saturating_sub(len - budget);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_core::Bilingual;

    fn bi(zh: &str, en: &str) -> Text {
        Text::Bilingual(Bilingual {
            zh: Some(zh.into()),
            en: Some(en.into()),
        })
    }

    #[test]
    fn one_language_is_a_plain_string() {
        let mut f = Fitter::default();
        assert_eq!(f.bilingual(&Text::Plain("磁盘".into()), 128), "磁盘");
        assert!(!f.truncated());
    }

    #[test]
    fn two_languages_are_a_json_string() {
        let mut f = Fitter::default();
        assert_eq!(
            f.bilingual(&bi("你好", "hello"), 128),
            r#"{"CN":"你好","EN":"hello"}"#
        );
    }

    #[test]
    fn a_long_bilingual_text_fits_as_a_whole() {
        let mut f = Fitter::default();
        let s = f.bilingual(&bi(&"磁".repeat(60), &"\"quoted\" ".repeat(20)), 128);
        assert!(s.len() <= 128, "{} bytes: {s}", s.len());
        assert!(f.truncated());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert!(v["CN"].as_str().unwrap().ends_with('…'));
        assert!(v["EN"].as_str().unwrap().ends_with('…'));
    }

    #[test]
    fn a_short_language_leaves_room_to_the_other() {
        let mut f = Fitter::default();
        let s = f.bilingual(&bi("短", &"x".repeat(200)), 128);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["CN"], "短");
        assert!(s.len() <= 128 && s.len() > 120);
    }
}
