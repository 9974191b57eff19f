//! Errors that name the field a caller got wrong.

use serde::Serialize;

/// One invalid field of a message: a machine code, a sentence for humans and the JSON path
/// (`targets[2].users`). The API answers it as 422.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// snake_case reason, e.g. `too_long`, `required`, `unknown_channel`.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
    /// JSON path of the field.
    pub field: String,
}

impl FieldError {
    /// A new error on `field`.
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            field: field.into(),
        }
    }

    /// The same error with its field put under `prefix` (`targets[0]` + `users` →
    /// `targets[0].users`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}
