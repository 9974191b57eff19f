//! Unified message → Xiaowei push body (000_… lines 1555–1563): a title and a link, no body.

use chrono::DateTime;
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
const END_MAX_MS: i64 = 7 * 24 * 3600 * 1000;
/// WeLink's calendar is China's (UTC+8, no daylight saving): `endDate` is a day that ends at 24:00 there (line 1559).
const CHINA_OFFSET_S: i32 = 8 * 3600;

/// The push body without recipients: `titleCn` from the title (or the content), `urlCn`/`urlEn`
/// from `url`, `iconUrlCn`/`iconUrlEn` from `image_url`, `endDate` from `expires_at`. `titleEn`
/// is reserved and not sent (line 1558).
pub fn build(
    m: &MessageInput,
    now_ms: i64,
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
    b.insert("endDate".into(), end_date(now_ms, expires_at_ms).into());
    Ok(b)
}

/// `YYYY-MM-DD` (line 1559) of the message's expiry, clamped to 7 days ahead of `now_ms`.
pub fn end_date(now_ms: i64, expires_at_ms: i64) -> String {
    let end = expires_at_ms.min(now_ms + END_MAX_MS);
    let shifted = end + i64::from(CHINA_OFFSET_S) * 1000;
    DateTime::from_timestamp_millis(shifted)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_date_is_the_china_day_of_expiry_clamped_to_seven_days() {
        // 2026-11-23T10:00:00+08:00
        let now = 1_795_399_200_000;
        assert_eq!(end_date(now, now + 3_600_000), "2026-11-23");
        // 15:00 UTC is 23:00 in China; 17:00 UTC is the next day there.
        assert_eq!(end_date(now, now + 15 * 3_600_000), "2026-11-24");
        assert_eq!(end_date(now, now + 30 * 24 * 3_600_000), "2026-11-30");
    }
}
