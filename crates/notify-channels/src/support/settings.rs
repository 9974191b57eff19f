//! Reading a `[channels.NAME]` table's keys when an adapter is built from it: blank is unset,
//! and a missing or bad key is an error naming `channels.NAME.KEY`.

use notify_core::Secret;

use crate::config::{ChannelConfig, ConfigError};

/// The value, trimmed; blank is `None`.
pub fn non_blank(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A required secret.
pub fn secret(name: &str, key: &str, value: &Option<Secret>) -> Result<Secret, ConfigError> {
    match value {
        Some(s) if !s.expose().trim().is_empty() => Ok(s.clone()),
        _ => Err(ConfigError::new(name, key, "is required for this kind")),
    }
}

/// WeCom's `safe`: 0 or 1.
pub fn safe(name: &str, value: Option<u8>) -> Result<Option<u8>, ConfigError> {
    match value {
        Some(s) if s > 1 => Err(ConfigError::new(name, "safe", "is 0 or 1")),
        other => Ok(other),
    }
}

/// A required string key.
pub fn required(name: &str, key: &str, value: &Option<String>) -> Result<String, ConfigError> {
    ChannelConfig::require(name, key, value).map(str::to_string)
}
