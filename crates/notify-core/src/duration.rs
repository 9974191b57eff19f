//! Durations as callers write them (`"90s"`, `"5m"`, `"1h 30m"`): alert windows and escalation
//! delays in messages and hook routes.

use crate::error::FieldError;

/// Parses a human duration into milliseconds, between `min_ms` and `max_ms` inclusive. The
/// error names no field; the caller puts it `under` the field it read.
pub fn parse_ms(text: &str, min_ms: i64, max_ms: i64) -> Result<i64, FieldError> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        FieldError::new(
            "",
            "invalid_duration",
            format!("{text:?} is not a duration such as \"90s\", \"5m\" or \"1h\": {e}"),
        )
    })?;
    let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    if ms < min_ms || ms > max_ms {
        return Err(FieldError::new(
            "",
            "out_of_range",
            format!(
                "{text:?} must be between {} and {}",
                humantime::format_duration(std::time::Duration::from_millis(min_ms as u64)),
                humantime::format_duration(std::time::Duration::from_millis(max_ms as u64)),
            ),
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_minutes_and_refuses_out_of_range() {
        assert_eq!(parse_ms("5m", 1000, 86_400_000).unwrap(), 300_000);
        assert_eq!(parse_ms("1h 30m", 0, 86_400_000).unwrap(), 5_400_000);
        assert_eq!(
            parse_ms("25h", 0, 86_400_000).unwrap_err().code,
            "out_of_range"
        );
        assert_eq!(parse_ms("soon", 0, 1).unwrap_err().code, "invalid_duration");
    }
}
