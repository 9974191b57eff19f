//! Core's enums as the database stores them: the one place a status, an op, an alert status or
//! a channel kind becomes text and back. Text read back that names no value is
//! [`StoreError::Corrupt`], naming the column, never a default.

use notify_core::{AlertStatus, ChannelKind, DeliveryStatus, MessageStatus, PartOp, PartStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::StoreError;

/// An enum kept in a text column: it is written as its `as_str()` and read back by this.
pub(crate) trait Stored: Sized + Copy {
    /// The value of a stored text.
    fn from_text(s: &str) -> Option<Self>;
}

macro_rules! stored {
    ($($t:ty),+) => {$(
        impl Stored for $t {
            fn from_text(s: &str) -> Option<Self> {
                <$t>::parse(s)
            }
        }
    )+};
}

stored!(
    DeliveryStatus,
    MessageStatus,
    PartStatus,
    PartOp,
    AlertStatus,
    ChannelKind
);

/// The value of `text`, read from `column`.
pub(crate) fn decode<T: Stored>(column: &str, text: &str) -> Result<T, StoreError> {
    T::from_text(text).ok_or_else(|| StoreError::Corrupt(format!("{column} {text:?}")))
}

/// The value in column `idx` of `row`, which is `column`.
pub(crate) fn get<T: Stored>(row: &AnyRow, idx: usize, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(idx)?;
    decode(column, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_as_written() {
        for s in DeliveryStatus::ALL {
            assert_eq!(decode::<DeliveryStatus>("c", s.as_str()).ok(), Some(*s));
        }
        for s in PartStatus::ALL {
            assert_eq!(decode::<PartStatus>("c", s.as_str()).ok(), Some(*s));
        }
        for s in MessageStatus::ALL {
            assert_eq!(decode::<MessageStatus>("c", s.as_str()).ok(), Some(*s));
        }
        for op in [PartOp::Send, PartOp::Upload, PartOp::Recall, PartOp::State] {
            assert_eq!(decode::<PartOp>("c", op.as_str()).ok(), Some(op));
        }
        for s in [AlertStatus::Firing, AlertStatus::Resolved] {
            assert_eq!(decode::<AlertStatus>("c", s.as_str()).ok(), Some(s));
        }
        // By name: no crate's source but core's and channels' names a kind's variant.
        for name in [
            "welink",
            "xiaowei",
            "wecom_workid",
            "wecom_app",
            "juzi",
            "log",
        ] {
            let kind = decode::<ChannelKind>("c", name).map(|k| k.as_str());
            assert_eq!(kind.ok(), Some(name));
        }
    }

    #[test]
    fn unknown_text_is_corrupt_and_names_the_column() {
        let e = decode::<DeliveryStatus>("deliveries.status", "lost").unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m == "deliveries.status \"lost\""),
            "{e}"
        );
        let e = decode::<ChannelKind>("deliveries.kind", "fax").unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m == "deliveries.kind \"fax\""),
            "{e}"
        );
    }

    /// Text a row holds that names no status, on each backend's `Any` row.
    async fn unknown_text_in_a_row_is_corrupt(url: String) {
        let clock = std::sync::Arc::new(notify_core::ManualClock::new(0));
        let store = crate::Store::connect(&crate::StoreOptions::new(url), clock)
            .await
            .expect("connect (is Postgres running?)");
        let row = sqlx::query("SELECT 'lost', 'sent'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let e = get::<DeliveryStatus>(&row, 0, "deliveries.status").unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("deliveries.status")),
            "{e}"
        );
        assert_eq!(
            get::<DeliveryStatus>(&row, 1, "deliveries.status").ok(),
            Some(DeliveryStatus::Sent)
        );
        store.close().await;
    }

    #[tokio::test]
    async fn unknown_text_in_a_row_is_corrupt_on_sqlite() {
        unknown_text_in_a_row_is_corrupt("sqlite::memory:".into()).await;
    }

    #[tokio::test]
    async fn unknown_text_in_a_row_is_corrupt_on_postgres() {
        unknown_text_in_a_row_is_corrupt(notify_testkit::pg_url()).await;
    }
}
