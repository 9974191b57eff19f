//! The rows one accepted batch writes, each table's declared once: its columns in insert order
//! with their Postgres types, the row struct (serialised by name for SQLite's `json_each`), and
//! the per-column array binds for Postgres' `UNNEST`. One declaration keeps the three in step.

use serde::Serialize;

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
    /// The row of an accepted message.
    pub(crate) fn of(m: &'a NewMessage) -> Self {
        Self {
            id: &m.id,
            tenant: &m.tenant,
            caller: &m.caller,
            idempotency_key: m.idempotency_key.as_deref(),
            body_hash: &m.body_hash,
            priority: m.priority,
            title: &m.title,
            body: &m.body,
            status: "accepted",
            response: &m.response,
            created_at: m.created_at,
            updated_at: m.created_at,
            not_before: m.not_before,
            expires_at: m.expires_at,
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
            kind: &d.kind,
            native_type: &d.native_type,
            status: &d.status,
            truncated: i64::from(d.truncated),
            context: &d.context,
            created_at: m.created_at,
            updated_at: m.created_at,
            expires_at: m.expires_at,
            chat_key: d.chat_key.as_deref(),
            people: d.people.as_deref(),
            fallback: d.fallback.as_deref(),
        }
    }
}

impl<'a> PartRow<'a> {
    /// The row of one of `d`'s calls: `blocked` while it waits for an earlier part's upstream
    /// id, due at the message's `not_before` or at once.
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
                "blocked"
            } else {
                "queued"
            },
            body: &p.body,
            recipients: &p.recipients,
            depends_on: p.depends_on,
            next_attempt_at: m.not_before.unwrap_or(m.created_at),
            expires_at: m.expires_at,
            created_at: m.created_at,
            updated_at: m.created_at,
        }
    }
}
