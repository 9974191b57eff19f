//! The status model (contract §4): parts roll up into deliveries, deliveries into messages.

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored and shown.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // Equal to its stored name, so a JSON answer's text and a typed value compare.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
    };
}

string_enum!(
    /// A delivery: one target of a message.
    DeliveryStatus {
        /// Stored, waiting for its lane, retry time or `not_before`.
        Queued = "queued",
        /// A part is claimed by a worker.
        Sending = "sending",
        /// Juzi: waiting for an agent's sidebar to send it.
        AwaitingAgent = "awaiting_agent",
        /// Upstream accepted every part.
        Sent = "sent",
        /// Permanent error or attempts used up.
        Failed = "failed",
        /// Could not be sent before `expires_at`.
        Expired = "expired",
        /// Recalled before it was sent.
        Cancelled = "cancelled",
        /// Recall calls under way.
        Recalling = "recalling",
        /// Recalled upstream.
        Recalled = "recalled",
        /// Upstream refused the recall.
        RecallFailed = "recall_failed",
        /// The channel cannot recall (Xiaowei, a sent Juzi message).
        NotRecallable = "not_recallable",
    }
);

/// A new delivery is queued (the model's `Default`).
impl Default for DeliveryStatus {
    fn default() -> Self {
        DeliveryStatus::Queued
    }
}

impl DeliveryStatus {
    /// True when nothing more will happen to the delivery unless someone acts.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            DeliveryStatus::Queued
                | DeliveryStatus::Sending
                | DeliveryStatus::AwaitingAgent
                | DeliveryStatus::Recalling
        )
    }
}

string_enum!(
    /// One upstream call.
    PartStatus {
        /// Waits for a dependency (a send after its upload).
        Blocked = "blocked",
        /// Ready to be claimed when `next_attempt_at` comes.
        Queued = "queued",
        /// Claimed under a lease.
        Sending = "sending",
        /// Done; upstream id stored.
        Done = "done",
        /// Failed for good.
        Failed = "failed",
        /// Not needed any more (expired, cancelled, superseded).
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// A message: the sum of its deliveries.
    MessageStatus {
        /// Some delivery still has work to do.
        Accepted = "accepted",
        /// Every delivery is sent.
        Sent = "sent",
        /// Final, some deliveries sent and some not.
        PartiallySent = "partially_sent",
        /// Final, none sent.
        Failed = "failed",
        /// Final, every delivery expired.
        Expired = "expired",
        /// Final, every delivery recalled or cancelled.
        Recalled = "recalled",
        /// Storm control: a firing message of an alert inside the window of the one that went
        /// out (`suppressed_into`); stored without deliveries and counted for the digest. Set
        /// at insert, never derived from deliveries.
        Suppressed = "suppressed",
    }
);

impl MessageStatus {
    /// Sums delivery statuses.
    pub fn of(deliveries: &[DeliveryStatus]) -> MessageStatus {
        use DeliveryStatus as D;
        if deliveries.is_empty() {
            return MessageStatus::Accepted;
        }
        if deliveries.iter().any(|d| !d.is_final()) {
            return MessageStatus::Accepted;
        }
        let delivered = |d: &D| {
            matches!(
                d,
                D::Sent | D::RecallFailed | D::NotRecallable | D::Recalled
            )
        };
        if deliveries
            .iter()
            .all(|d| matches!(d, D::Recalled | D::Cancelled))
        {
            return MessageStatus::Recalled;
        }
        if deliveries
            .iter()
            .all(|d| matches!(d, D::Sent | D::NotRecallable))
        {
            return MessageStatus::Sent;
        }
        if deliveries.iter().all(|d| *d == D::Expired) {
            return MessageStatus::Expired;
        }
        if deliveries.iter().any(delivered) {
            return MessageStatus::PartiallySent;
        }
        MessageStatus::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryStatus as D;

    #[test]
    fn message_status_sums_deliveries() {
        assert_eq!(
            MessageStatus::of(&[D::Sent, D::Queued]),
            MessageStatus::Accepted
        );
        assert_eq!(MessageStatus::of(&[D::Sent, D::Sent]), MessageStatus::Sent);
        assert_eq!(
            MessageStatus::of(&[D::Sent, D::Failed]),
            MessageStatus::PartiallySent
        );
        assert_eq!(
            MessageStatus::of(&[D::Failed, D::Expired]),
            MessageStatus::Failed
        );
        assert_eq!(
            MessageStatus::of(&[D::Recalled, D::Cancelled]),
            MessageStatus::Recalled
        );
        assert_eq!(MessageStatus::of(&[D::Expired]), MessageStatus::Expired);
    }

    #[test]
    fn names_round_trip() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(*s));
        }
        for s in PartStatus::ALL {
            assert_eq!(PartStatus::parse(s.as_str()), Some(*s));
        }
    }
}
