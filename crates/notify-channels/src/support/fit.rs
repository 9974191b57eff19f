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

    /// WeLink text for the fields that take either a plain string or a bilingual JSON string
    /// (`msgTitle`, `msgContent`: 000_… lines 816–817, 940): a plain string when there is one
    /// language and WeLink does not read it as JSON, else the JSON string `{"CN": …, "EN": …}`
    /// ([`Fitter::json_text`]). WeLink parses text that looks like JSON and refuses it (51062,
    /// line 890) when it is not that object, so `"{prod} disk full"` goes out as
    /// `{"CN":"{prod} disk full","EN":"{prod} disk full"}`.
    pub fn bilingual(&mut self, t: &Text, limit: usize) -> String {
        let (zh, en) = (t.zh(), t.en());
        if (matches!(t, Text::Plain(_)) || zh == en) && !reads_as_json(zh) {
            return self.bytes(zh, limit);
        }
        self.json_text(t, limit)
    }

    /// The JSON string `{"CN": …, "EN": …}` in at most `limit` bytes as a whole, whatever the
    /// text: the form the app-card `contentList` key and value and the `btnTitle` require (000_…
    /// lines 956, 957, 962). One language goes into both keys.
    /// A plain text that already is such a JSON string (a caller used to WeLink's own form) is
    /// read as its two languages, not wrapped a second time.
    pub fn json_text(&mut self, t: &Text, limit: usize) -> String {
        let (zh, en) = match t {
            Text::Plain(s) => welink_pair(s).unwrap_or((s.clone(), s.clone())),
            _ => (t.zh().to_string(), t.en().to_string()),
        };
        let (zh, en) = (zh.as_str(), en.as_str());
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

/// The languages of a text that is WeLink's bilingual JSON string: an object of `CN` and/or `EN`
/// strings (one missing: the other for both).
fn welink_pair(s: &str) -> Option<(String, String)> {
    let serde_json::Value::Object(m) = serde_json::from_str(s).ok()? else {
        return None;
    };
    if m.is_empty() || m.keys().any(|k| k != "CN" && k != "EN") {
        return None;
    }
    let get = |k: &str| m.get(k).map(|v| v.as_str().map(str::to_string));
    match (get("CN"), get("EN")) {
        (Some(Some(cn)), Some(Some(en))) => Some((cn, en)),
        (Some(Some(one)), None) | (None, Some(Some(one))) => Some((one.clone(), one)),
        _ => None,
    }
}

/// Whether WeLink takes `s` for its JSON form: it opens with `{` (after blanks, which WeLink may
/// trim). WeLink decides by that opening, not by whether the text is valid JSON: it refuses
/// `"{prod} disk full"` (51062) instead of showing it. Other openings (`[FIRING]`, `42`) are
/// plain text and keep their whole byte budget.
fn reads_as_json(s: &str) -> bool {
    s.trim_start().starts_with('{')
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
    fn text_opening_with_a_brace_goes_in_the_json_form() {
        let mut f = Fitter::default();
        for s in ["{prod} disk full", "  {x", r#"{"CN":1}"#, "{"] {
            let out = f.bilingual(&Text::Plain(s.into()), 128);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(
                (v["CN"].as_str(), v["EN"].as_str()),
                (Some(s), Some(s)),
                "{s}"
            );
        }
        for s in ["disk {prod}", "[FIRING:1] DiskFull", "42"] {
            assert_eq!(f.bilingual(&Text::Plain(s.into()), 128), s);
        }
        // WeLink's own form from a caller is its two languages, not wrapped again.
        assert_eq!(
            f.bilingual(&Text::Plain(r#"{"EN":"hi","CN":"你好"}"#.into()), 128),
            r#"{"CN":"你好","EN":"hi"}"#
        );
        assert!(!f.truncated());
    }

    #[test]
    fn a_long_text_that_reads_as_json_still_fits() {
        let mut f = Fitter::default();
        let s = f.bilingual(&Text::Plain(format!("{{{}", "磁".repeat(60))), 128);
        assert!(s.len() <= 128, "{} bytes: {s}", s.len());
        assert!(f.truncated());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert!(v["CN"].as_str().unwrap().starts_with("{磁"));
    }

    #[test]
    fn json_text_is_always_the_json_form() {
        let mut f = Fitter::default();
        assert_eq!(
            f.json_text(&Text::Plain("时间".into()), 128),
            r#"{"CN":"时间","EN":"时间"}"#
        );
        assert_eq!(
            f.json_text(&bi("视频会议", "videoconferencing"), 128),
            r#"{"CN":"视频会议","EN":"videoconferencing"}"#
        );
        assert_eq!(
            f.json_text(&Text::Plain(r#"{"CN":"参与者"}"#.into()), 128),
            r#"{"CN":"参与者","EN":"参与者"}"#
        );
        assert!(!f.truncated());
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
