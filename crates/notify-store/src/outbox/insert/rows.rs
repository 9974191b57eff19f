//! The rows one accepted batch writes, each table's declared once: its columns in insert order
//! with their Postgres types, the row struct (serialised by name for SQLite's `json_each`), and
//! the per-column array binds for Postgres' `UNNEST`. One declaration keeps the three in step.

use notify_core::PartStatus;
use serde::Serialize;

use super::alerts::{AlertState, Stored};
use crate::model::{NewDelivery, NewMessage, NewPart};

/// Declares a row struct over borrowed batch data, its `COLUMNS` (name, Postgres type) and
/// `bind_columns`, which binds one array per column, in `COLUMNS` order.
macro_rules! table_rows {
    ($(#[$meta:meta])* $name:ident { $($field:ident: $ty:ty => $pg:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Serialize)]
        pub(crate) struct $name<'a> {
            $(pub(crate) $field: $ty,)+
        }

        impl<'a> $name<'a> {
            /// The columns in insert order, with their Postgres types.
            pub(crate) const COLUMNS: &'static [(&'static str, &'static str)] =
                &[$((stringify!($field), $pg),)+];

            /// Binds each column of `rows` as one array parameter, in [`Self::COLUMNS`] order.
            pub(crate) fn bind_columns<'q>(
                mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
                rows: &[Self],
            ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>
            where
                'a: 'q,
            {
                $(query = query.bind(rows.iter().map(|r| r.$field).collect::<Vec<$ty>>());)+
                query
            }
        }
    };
}

table_rows! {
    /// A `messages` row.
    MessageRow {
        id: &'a str => "text",
        tenant: &'a str => "text",
        caller: &'a str => "text",
        idempotency_key: Option<&'a str> => "text",
        body_hash: &'a str => "text",
        priority: i64 => "bigint",
        title: &'a str => "text",
        body: &'a str => "text",
        status: &'a str => "text",
        response: &'a str => "text",
        created_at: i64 => "bigint",
        updated_at: i64 => "bigint",
        not_before: Option<i64> => "bigint",
        expires_at: i64 => "bigint",
        alert_key: Option<&'a str> => "text",
        alert_status: Option<&'a str> => "text",
        suppressed_into: Option<&'a str> => "text",
        template_error: Option<&'a str> => "text",
    }
}

table_rows! {
    /// An `alerts` row's columns the insert transaction writes back after classifying a
    /// batch (keyed by the first two; acknowledgement columns are not touched).
    AlertRow {
        tenant: &'a str => "text",
        alert_key: &'a str => "text",
        status: &'a str => "text",
        last_seen: i64 => "bigint",
        lead_message_id: Option<&'a str> => "text",
        window_start: Option<i64> => "bigint",
        window_until: Option<i64> => "bigint",
        dedup_window_ms: i64 => "bigint",
        sent_count: i64 => "bigint",
        suppressed_count: i64 => "bigint",
        suppressed_since_digest: i64 => "bigint",
        digest_due_at: Option<i64> => "bigint",
        digest_window_start: Option<i64> => "bigint",
        digest_lead_id: Option<&'a str> => "text",
        digest_count: i64 => "bigint",
        last_fingerprint: Option<&'a str> => "text",
        last_fingerprint_at: Option<i64> => "bigint",
        last_fingerprint_message_id: Option<&'a str> => "text",
    }
}

table_rows! {
    /// A new `alerts` row, inserted unless the alert exists, before the rows are locked.
    AlertSeedRow {
        tenant: &'a str => "text",
        alert_key: &'a str => "text",
        status: &'a str => "text",
        first_seen: i64 => "bigint",
        last_seen: i64 => "bigint",
        dedup_window_ms: i64 => "bigint",
    }
}

table_rows! {
    /// A `deliveries` row.
    DeliveryRow {
        id: &'a str => "text",
        message_id: &'a str => "text",
        seq: i64 => "bigint",
        tenant: &'a str => "text",
        channel: &'a str => "text",
        kind: &'a str => "text",
        native_type: &'a str => "text",
        status: &'a str => "text",
        truncated: i64 => "bigint",
        context: &'a str => "text",
        created_at: i64 => "bigint",
        updated_at: i64 => "bigint",
        expires_at: i64 => "bigint",
        chat_key: Option<&'a str> => "text",
        escalation_step: Option<i64> => "bigint",
        due_at: Option<i64> => "bigint",
        people: Option<&'a str> => "text",
        fallback: Option<&'a str> => "text",
    }
}

table_rows! {
    /// A `parts` row.
    PartRow {
        id: &'a str => "text",
        delivery_id: &'a str => "text",
        message_id: &'a str => "text",
        seq: i64 => "bigint",
        op: &'a str => "text",
        lane: &'a str => "text",
        interface: &'a str => "text",
        channel: &'a str => "text",
        tenant: &'a str => "text",
        priority: i64 => "bigint",
        status: &'a str => "text",
        body: &'a str => "text",
        recipients: &'a str => "text",
        depends_on: Option<i64> => "bigint",
        next_attempt_at: i64 => "bigint",
        expires_at: i64 => "bigint",
        created_at: i64 => "bigint",
        updated_at: i64 => "bigint",
    }
}

impl<'a> MessageRow<'a> {
    /// The row of an accepted message, as storm control classified it (`verdict`).
    pub(crate) fn of(m: &'a NewMessage, verdict: &'a Stored) -> Self {
        Self {
            id: &m.id,
            tenant: &m.tenant,
            caller: &m.caller,
            idempotency_key: m.idempotency_key.as_deref(),
            body_hash: &m.body_hash,
            priority: m.priority,
            title: &m.title,
            body: &m.body,
            status: verdict.status,
            response: verdict.response.as_deref().unwrap_or(&m.response),
            created_at: m.created_at,
            updated_at: m.created_at,
            not_before: m.not_before,
            expires_at: m.expires_at,
            alert_key: m
                .alert
                .as_ref()
                .map(|a| a.key.as_str())
                .or(m.digest_of.as_deref()),
            alert_status: match (&m.alert, &m.digest_of) {
                (Some(a), _) => Some(a.status.as_str()),
                (None, Some(_)) => Some("digest"),
                (None, None) => None,
            },
            suppressed_into: verdict.suppressed_into.as_deref(),
            template_error: m.template_error.as_deref(),
        }
    }
}

impl<'a> AlertRow<'a> {
    /// The row to write back for a classified alert.
    pub(crate) fn of(a: &'a AlertState) -> Self {
        Self {
            tenant: &a.tenant,
            alert_key: &a.key,
            status: &a.status,
            last_seen: a.last_seen,
            lead_message_id: a.lead_message_id.as_deref(),
            window_start: a.window_start,
            window_until: a.window_until,
            dedup_window_ms: a.dedup_window_ms,
            sent_count: a.sent_count,
            suppressed_count: a.suppressed_count,
            suppressed_since_digest: a.suppressed_since_digest,
            digest_due_at: a.digest_due_at,
            digest_window_start: a.digest_window_start,
            digest_lead_id: a.digest_lead_id.as_deref(),
            digest_count: a.digest_count,
            last_fingerprint: a.last_fingerprint.as_deref(),
            last_fingerprint_at: a.last_fingerprint_at,
            last_fingerprint_message_id: a.last_fingerprint_message_id.as_deref(),
        }
    }
}

impl<'a> DeliveryRow<'a> {
    /// The row of one of `m`'s deliveries.
    pub(crate) fn of(m: &'a NewMessage, d: &'a NewDelivery) -> Self {
        Self {
            id: &d.id,
            message_id: &m.id,
            seq: d.seq,
            tenant: &m.tenant,
            channel: &d.channel,
            kind: d.kind.as_str(),
            native_type: &d.native_type,
            status: d.status.as_str(),
            truncated: i64::from(d.truncated),
            context: &d.context,
            created_at: m.created_at,
            updated_at: m.created_at,
            expires_at: d.expires_at.unwrap_or(m.expires_at),
            chat_key: d.chat_key.as_deref(),
            escalation_step: d.escalation_step,
            due_at: d.due_at,
            people: d.people.as_deref(),
            fallback: d.fallback.as_deref(),
        }
    }
}

impl<'a> PartRow<'a> {
    /// The row of one of `d`'s calls: `blocked` while it waits for an earlier part's upstream
    /// id, due at the delivery's own due time (an escalation step), else at the message's
    /// `not_before`, else at once.
    pub(crate) fn of(m: &'a NewMessage, d: &'a NewDelivery, p: &'a NewPart) -> Self {
        Self {
            id: &p.id,
            delivery_id: &d.id,
            message_id: &m.id,
            seq: p.seq,
            op: p.op.as_str(),
            lane: &p.lane.lane,
            interface: &p.lane.interface,
            channel: &d.channel,
            tenant: &m.tenant,
            priority: m.priority,
            status: if p.depends_on.is_some() {
                PartStatus::Blocked
            } else {
                PartStatus::Queued
            }
            .as_str(),
            body: &p.body,
            recipients: &p.recipients,
            depends_on: p.depends_on,
            next_attempt_at: d.due_at.or(m.not_before).unwrap_or(m.created_at),
            expires_at: d.expires_at.unwrap_or(m.expires_at),
            created_at: m.created_at,
            updated_at: m.created_at,
        }
    }
}
