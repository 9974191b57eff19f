//! Unified message → Xiaowei push body (000_… lines 1555–1563): a title and a link, no body.

use chrono::{DateTime, Days, NaiveDate};
use notify_core::{FieldError, MessageInput};
use serde_json::{Map, Value};

use crate::support::fit::Fitter;
use crate::support::target::msg_err;

/// `POST /athenaservice/v1/contextaware/push` (line 1539).
pub const PUSH: &str = "/athenaservice/v1/contextaware/push";
/// `toUserList`: at most 5000 ids (line 1556).
pub const USERS_MAX: usize = 5000;
/// `titleCn`: 1–32 characters (line 1557).
const TITLE_MAX_CHARS: usize = 32;
/// Links: 1–1024 long (line 1560).
const URL_MAX: usize = 1024;
/// `endDate`: at most 7 days ahead (line 1559).
const END_MAX_DAYS: u64 = 7;
/// `endDate`'s format (line 1559).
const DATE_FORMAT: &str = "%Y-%m-%d";
/// WeLink's calendar is China's (UTC+8, no daylight saving): `endDate` is a day that ends at 24:00 there (line 1559).
const CHINA_OFFSET_S: i32 = 8 * 3600;

/// The push body without recipients: `titleCn` from the title (or the content), `urlCn`/`urlEn`
/// from `url`, `iconUrlCn`/`iconUrlEn` from `image_url`, `endDate` the China day of
/// `expires_at`. `titleEn` is reserved and not sent (line 1558).
///
/// The stored `endDate` is the last day the message may show, not yet the one sent: upstream
/// refuses a date more than 7 days after the day of the call (line 1559, `58601`), and a
/// scheduled or retried push leaves long after ingress, so [`at_call`] bounds it when the call
/// is made.
pub fn build(
    m: &MessageInput,
    expires_at_ms: i64,
    f: &mut Fitter,
) -> Result<Map<String, Value>, FieldError> {
    let title = m
        .title
        .as_ref()
        .filter(|t| !t.is_empty())
        .or(m.content.as_ref().filter(|t| !t.is_empty()))
        .map(|t| t.zh().trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            msg_err(
                "title",
                "required",
                "a Xiaowei push needs a title (titleCn)",
            )
        })?;
    let mut b = Map::new();
    b.insert("titleCn".into(), f.chars(&title, TITLE_MAX_CHARS).into());
    if let Some(url) = &m.url {
        if url.chars().count() > URL_MAX {
            return Err(msg_err(
                "url",
                "too_long",
                format!("a Xiaowei link takes at most {URL_MAX} characters"),
            ));
        }
        b.insert("urlCn".into(), url.as_str().into());
        b.insert("urlEn".into(), url.as_str().into());
    }
    if let Some(icon) = &m.image_url {
        // The icon shown before the reminder (line 1562); http(s) is checked at ingress.
        if icon.chars().count() > URL_MAX {
            return Err(msg_err(
                "image_url",
                "too_long",
                format!("a Xiaowei icon link takes at most {URL_MAX} characters"),
            ));
        }
        b.insert("iconUrlCn".into(), icon.as_str().into());
        b.insert("iconUrlEn".into(), icon.as_str().into());
    }
    b.insert(
        "endDate".into(),
        china_day(expires_at_ms)
            .format(DATE_FORMAT)
            .to_string()
            .into(),
    );
    Ok(b)
}

/// The body of a call made at `now_ms`: its `endDate` no later than 7 days after the China day
/// of the call, so `endDate` = the day of min(`expires_at`, call + 7 days). An `endDate` that
/// is absent (upstream's default: the end of the day of the call) or not a date (a caller's
/// `raw` body; upstream judges it) is left as it is.
pub fn at_call(body: &Value, now_ms: i64) -> Value {
    let mut out = body.clone();
    let stored = body
        .get("endDate")
        .and_then(Value::as_str)
        .and_then(parse_date);
    if let (Some(stored), Some(o)) = (stored, out.as_object_mut()) {
        let latest = latest_end_date(now_ms);
        if stored > latest {
            o.insert(
                "endDate".into(),
                latest.format(DATE_FORMAT).to_string().into(),
            );
        }
    }
    out
}

/// The latest `endDate` upstream takes from a call made at `now_ms` (line 1559).
pub fn latest_end_date(now_ms: i64) -> NaiveDate {
    let today = china_day(now_ms);
    today
        .checked_add_days(Days::new(END_MAX_DAYS))
        .unwrap_or(today)
}

/// The calendar day in China (UTC+8, WeLink's calendar) of `ms`.
pub fn china_day(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms + i64::from(CHINA_OFFSET_S) * 1000)
        .unwrap_or_default()
        .date_naive()
}

/// `YYYY-MM-DD`, exactly ten characters.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, DATE_FORMAT)
        .ok()
        .filter(|_| s.len() == 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    /// `endDate` as a call made at `now` sends it, for a message expiring at `expires`.
    fn sent(now: i64, expires: i64) -> Value {
        let stored = json!({"endDate": china_day(expires).format(DATE_FORMAT).to_string()});
        at_call(&stored, now)["endDate"].clone()
    }

    #[test]
    fn end_date_is_the_china_day_of_expiry_bounded_at_the_call() {
        // 2026-11-23T10:00:00+08:00
        let now = 1_795_399_200_000;
        assert_eq!(sent(now, now + HOUR), "2026-11-23");
        // 15:00 UTC is 23:00 in China; 17:00 UTC is the next day there.
        assert_eq!(sent(now, now + 5 * HOUR), "2026-11-23");
        assert_eq!(sent(now, now + 15 * HOUR), "2026-11-24");
        assert_eq!(sent(now, now + 30 * DAY), "2026-11-30");
    }

    #[test]
    fn a_push_sent_later_gets_the_date_of_its_call_not_of_its_ingress() {
        let ingress = 1_795_399_200_000; // 2026-11-23 in China
        let expires = ingress + 12 * DAY; // 2026-12-05
                                          // Sent at ingress: bounded to 7 days after 2026-11-23.
        assert_eq!(sent(ingress, expires), "2026-11-30");
        // Scheduled 10 days ahead: 7 days after 2026-12-03 is past the expiry, so the expiry's.
        assert_eq!(sent(ingress + 10 * DAY, expires), "2026-12-05");
        // Scheduled 3 days ahead: 7 days after 2026-11-26.
        assert_eq!(sent(ingress + 3 * DAY, expires), "2026-12-03");
    }

    #[test]
    fn bodies_without_a_date_are_left_alone() {
        let now = 1_795_399_200_000;
        assert_eq!(
            at_call(&json!({"titleCn": "t"}), now),
            json!({"titleCn": "t"})
        );
        let raw = json!({"endDate": "tomorrow"});
        assert_eq!(at_call(&raw, now), raw);
        assert_eq!(parse_date("2026-1-05"), None);
        assert!(parse_date("2026-01-05").is_some());
    }
}
