//! The vocabulary every other crate of the gateway shares: the unified message as callers send it,
//! its checked form, ids, statuses, the outcome of an upstream call and the clock.
//!
//! Nothing here does I/O, so every rule can be tested without a database or a network.

pub mod channel_kind;
pub mod clock;
pub mod duration;
pub mod error;
pub mod ids;
pub mod message;
pub mod outcome;
pub mod plan;
pub mod secret;
pub mod status;
pub mod text;
pub mod validate;

pub use channel_kind::ChannelKind;
pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use error::FieldError;
pub use ids::{DeliveryId, MessageId, PartId};
pub use message::{
    AlertInput, AlertStatus, Article, Bilingual, Button, ButtonLayout, EscalationStep, Field,
    Format, MessageInput, Priority, StateColor, TargetInput, Text,
};
pub use outcome::{FailedRecipient, Outcome};
pub use plan::{LaneInfo, PartOp, PartPlan, Plan};
pub use secret::Secret;
pub use status::{DeliveryStatus, MessageStatus, PartStatus};
pub use validate::{CheckedMessage, ValidationLimits};
