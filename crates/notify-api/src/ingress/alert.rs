//! The checks of a message's `alert` (contract §6): its key's length and its dedup window,
//! shared by ingress and the start-up check of `[hooks.NAME]`, so both hold the same bounds.

use notify_core::message::AlertInput;
use notify_core::FieldError;

/// Longest `alert.key`, in characters.
pub const KEY_MAX_CHARS: usize = 200;
/// Shortest `alert.dedup_window`: 1 s.
pub const DEDUP_WINDOW_MIN_MS: i64 = 1_000;
/// Longest `alert.dedup_window`: 24 h.
pub const DEDUP_WINDOW_MAX_MS: i64 = 24 * 3_600_000;
/// `alert.dedup_window` when the message gives none.
pub const DEFAULT_DEDUP_WINDOW_MS: i64 = 5 * 60_000;

/// The dedup window of `text` in ms (error relative to the window).
pub fn dedup_window_ms(text: &str) -> Result<i64, FieldError> {
    notify_core::duration::parse_ms(text, DEDUP_WINDOW_MIN_MS, DEDUP_WINDOW_MAX_MS)
}

/// Checks an `alert` and returns its dedup window in ms; errors name `alert.key` or
/// `alert.dedup_window`.
pub fn check(a: &AlertInput) -> Result<i64, FieldError> {
    let chars = a.key.chars().count();
    if chars == 0 || chars > KEY_MAX_CHARS {
        return Err(FieldError::new(
            "alert.key",
            "bad_length",
            format!("an alert key takes 1 to {KEY_MAX_CHARS} characters, not {chars}"),
        ));
    }
    match &a.dedup_window {
        Some(w) => dedup_window_ms(w).map_err(|e| e.under("alert.dedup_window")),
        None => Ok(DEFAULT_DEDUP_WINDOW_MS),
    }
}
