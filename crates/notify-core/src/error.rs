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

/// Every `code` a [`FieldError`] may carry, with its meaning: the list the API's OpenAPI
/// document gives for its 422 answers. A code not listed here is a bug caught in debug builds.
pub const FIELD_CODES: &[(&str, &str)] = &[
    ("invalid", "the field has the wrong type, name or value"),
    ("not_an_object", "the message is JSON but not an object"),
    (
        "required",
        "the field (or one of a group of fields) is missing",
    ),
    ("blank", "a recipient id is blank"),
    ("too_many", "more items than the field takes"),
    (
        "too_long",
        "a text longer than the channel takes and that cannot be shortened",
    ),
    ("bad_length", "a text or list outside its length bounds"),
    ("invalid_url", "not an absolute URL with an accepted scheme"),
    ("invalid_time", "not an RFC 3339 time"),
    ("in_the_past", "`expires_at` has already passed"),
    ("after_expiry", "`not_before` is not before `expires_at`"),
    ("requires_state", "`state_color` without `state`"),
    (
        "conflict",
        "two fields that exclude each other (Juzi `chat_id` and `contact_id`)",
    ),
    (
        "unknown_channel",
        "no channel of this name is configured; the message lists those that are",
    ),
    (
        "unknown_type",
        "a `type` the channel's kind does not have; the message lists those it has",
    ),
    (
        "not_supported",
        "a target field the channel's kind does not use; the message names the one it takes",
    ),
    (
        "idempotency_key_mismatch",
        "the `Idempotency-Key` header and the body's `idempotency_key` differ",
    ),
    (
        "payload_too_large",
        "one message of a batch is over `max_body_bytes`",
    ),
    (
        "not_allowed",
        "a value the channel's configuration does not allow (WeCom `@all` without `allow_all`)",
    ),
    (
        "after_end_date",
        "`not_before` (or the send) falls after the Xiaowei `endDate` the target's `raw` fixes",
    ),
    (
        "invalid_duration",
        "not a duration such as `90s`, `5m` or `1h` (`alert.dedup_window`, `escalation[i].after`)",
    ),
    ("out_of_range", "a duration or number outside its bounds"),
    (
        "unknown_person",
        "no directory person of this id (`/v1/people`)",
    ),
    (
        "unknown_group",
        "no directory group of this name (`/v1/groups`)",
    ),
    (
        "no_channel_id",
        "a directory person has no id for the target's channel kind",
    ),
];

impl FieldError {
    /// A new error on `field`. `code` is one of [`FIELD_CODES`].
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        debug_assert!(
            FIELD_CODES.iter().any(|(c, _)| *c == code),
            "field error code {code:?} is not in notify_core::error::FIELD_CODES, the list \
             /openapi.json documents: add it there"
        );
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
