//! Identifiers: ULIDs with a type prefix, so an id in a log line says what it names and
//! sorts by creation time.

use serde::{Deserialize, Serialize};

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id's prefix, with its underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A new id for an instant (unix ms); ids made later sort later.
            pub fn new_at(ms: i64) -> Self {
                let ms = u64::try_from(ms).unwrap_or(0);
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
                Self(format!("{}{}", $prefix, ulid::Ulid::from_datetime(t)))
            }

            /// The smallest id of an instant (unix ms): every id made at `ms` or later sorts
            /// at or after it, every id made earlier sorts before it. Turns a time bound into
            /// an id bound that the primary key can serve.
            pub fn first_at(ms: i64) -> Self {
                let ms = u64::try_from(ms).unwrap_or(0);
                Self(format!("{}{}", $prefix, ulid::Ulid::from_parts(ms, 0)))
            }

            /// Accepts text that looks like this kind of id.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                ulid::Ulid::from_string(rest).ok()?;
                Some(Self(s.to_string()))
            }

            /// The text of the id.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A message, as a caller sees it (`msg_…`).
    MessageId,
    "msg_"
);
prefixed_id!(
    /// One target's delivery (`dlv_…`).
    DeliveryId,
    "dlv_"
);
prefixed_id!(
    /// One upstream call of a delivery (`prt_…`).
    PartId,
    "prt_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_other_kinds() {
        let m = MessageId::new_at(1_700_000_000_000);
        assert!(MessageId::parse(m.as_str()).is_some());
        assert!(DeliveryId::parse(m.as_str()).is_none());
        assert!(MessageId::parse("msg_notaulid").is_none());
    }

    #[test]
    fn later_ids_sort_later() {
        let a = MessageId::new_at(1_700_000_000_000);
        let b = MessageId::new_at(1_700_000_000_001);
        assert!(a < b);
    }

    #[test]
    fn first_at_bounds_the_ids_of_an_instant() {
        let t = 1_700_000_000_000;
        for _ in 0..1000 {
            let id = MessageId::new_at(t);
            assert!(MessageId::first_at(t) <= id);
            assert!(id < MessageId::first_at(t + 1));
            assert!(MessageId::new_at(t - 1) < MessageId::first_at(t));
        }
        assert!(MessageId::parse(MessageId::first_at(t).as_str()).is_some());
    }
}
