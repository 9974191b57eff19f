//! The batch writer over a native Postgres connection: each column of a table's rows is bound
//! as one typed array and the rows are expanded by `unnest`. Compared with one JSON parameter
//! (`json_to_recordset`) the server skips parsing JSON text and the client skips building it;
//! the statement text is the same for every batch size, so it is prepared once per connection.

use std::collections::{HashMap, HashSet};

use sqlx::postgres::PgPool;
use sqlx::{Postgres, Row, Transaction};

use super::alerts::{AlertState, Arg};
use super::rows::{AlertRow, AlertSeedRow, DeliveryRow, MessageRow, PartRow};
use super::{BatchWriter, KeyHolder, KEY_HOLDER_COLUMNS, SKIP_TAKEN_KEYS};
use crate::lanes::{INSERT_LANE, INSERT_LANE_OWNER};
use crate::model::LaneInfo;
use crate::sql::names;
use crate::{Dialect, StoreError};

/// A write transaction that takes rows as column arrays.
pub(crate) struct UnnestWriter(Transaction<'static, Postgres>);

impl UnnestWriter {
    /// Opens a transaction on the native pool, with the savepoint [`BatchWriter::messages`]
    /// rolls back to on a taken key set in the same round trip as `BEGIN`.
    pub(crate) async fn begin(pool: &PgPool) -> Result<Self, StoreError> {
        Ok(Self(pool.begin_with("BEGIN; SAVEPOINT fresh_keys").await?))
    }
}

/// `INSERT INTO table (cols) SELECT unnest($1::type[]), unnest($2::type[]), …`. The arrays
/// are unnested in the select list, where they advance in lockstep (all have one element per
/// row), rather than by `FROM UNNEST(…)`, whose function scan first copies every row into a
/// tuplestore: 15–20 % less server time for a 1,000-row insert (BENCHMARKS.md).
fn insert_sql(table: &str, cols: &[(&str, &str)]) -> String {
    let arrays = cols
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("unnest(${}::{ty}[])", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO {table} ({}) SELECT {arrays}", names(cols))
}

impl BatchWriter for UnnestWriter {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    /// Fresh keys are the rule and replays the exception, so a plain INSERT is tried first
    /// (inside the savepoint taken at `BEGIN`): it skips `ON CONFLICT`'s speculative
    /// insertion, an extra index probe and WAL record per row. A taken key makes it fail with a
    /// unique violation; then the savepoint is rolled back and the rows go in with
    /// `ON CONFLICT DO NOTHING`. The first statement of the transaction, called once.
    async fn messages(
        &mut self,
        rows: &[MessageRow<'_>],
    ) -> Result<Option<HashSet<String>>, StoreError> {
        let insert = insert_sql("messages", MessageRow::COLUMNS);
        match MessageRow::bind_columns(sqlx::query(&insert), rows)
            .execute(&mut *self.0)
            .await
        {
            Ok(_) => return Ok(None),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                sqlx::query("ROLLBACK TO SAVEPOINT fresh_keys")
                    .execute(&mut *self.0)
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        let sql = format!("{insert}{SKIP_TAKEN_KEYS}");
        MessageRow::bind_columns(sqlx::query(&sql), rows)
            .fetch_all(&mut *self.0)
            .await?
            .iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect::<Result<_, StoreError>>()
            .map(Some)
    }

    async fn key_holders(
        &mut self,
        keys: &[(&str, &str)],
    ) -> Result<HashMap<(String, String), KeyHolder>, StoreError> {
        let tenants: Vec<&str> = keys.iter().map(|k| k.0).collect();
        let keys: Vec<&str> = keys.iter().map(|k| k.1).collect();
        let rows = sqlx::query(&format!(
            "SELECT {KEY_HOLDER_COLUMNS} \
                 FROM UNNEST($1::text[], $2::text[]) AS k(tenant, idempotency_key) \
                 JOIN messages m ON m.tenant = k.tenant AND m.idempotency_key = k.idempotency_key"
        ))
        .bind(tenants)
        .bind(keys)
        .fetch_all(&mut *self.0)
        .await?;
        rows.iter().map(KeyHolder::of_row).collect()
    }

    async fn deliveries(&mut self, rows: &[DeliveryRow<'_>]) -> Result<(), StoreError> {
        let sql = insert_sql("deliveries", DeliveryRow::COLUMNS);
        DeliveryRow::bind_columns(sqlx::query(&sql), rows)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn parts(&mut self, rows: &[PartRow<'_>]) -> Result<(), StoreError> {
        let sql = insert_sql("parts", PartRow::COLUMNS);
        PartRow::bind_columns(sqlx::query(&sql), rows)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn lane(&mut self, l: &LaneInfo, now: i64) -> Result<(), StoreError> {
        sqlx::query(INSERT_LANE)
            .bind(&l.lane)
            .bind(&l.channel)
            .bind(&l.credential)
            .bind(&l.interface)
            .bind(&l.unit)
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        sqlx::query(INSERT_LANE_OWNER)
            .bind(&l.unit)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn notify(&mut self, channel: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(channel)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn lock_alerts(
        &mut self,
        seeds: &[AlertSeedRow<'_>],
    ) -> Result<Vec<AlertState>, StoreError> {
        let insert = format!(
            "{} ON CONFLICT (tenant, alert_key) DO NOTHING",
            insert_sql("alerts", AlertSeedRow::COLUMNS)
        );
        AlertSeedRow::bind_columns(sqlx::query(&insert), seeds)
            .execute(&mut *self.0)
            .await?;
        // Locked in (tenant, key) order: the lock sits above the sort in the plan.
        let rows = sqlx::query(&format!(
            "SELECT {} FROM alerts a \
             JOIN UNNEST($1::text[], $2::text[]) AS k(tenant, alert_key) \
               ON a.tenant = k.tenant AND a.alert_key = k.alert_key \
             ORDER BY a.tenant, a.alert_key FOR UPDATE OF a",
            qualified("a", AlertRow::COLUMNS)
        ))
        .bind(seeds.iter().map(|s| s.tenant).collect::<Vec<_>>())
        .bind(seeds.iter().map(|s| s.alert_key).collect::<Vec<_>>())
        .fetch_all(&mut *self.0)
        .await?;
        // The messages insert may roll back to `fresh_keys` (a taken idempotency key): the
        // alerts inserted and locked here must survive that, so the savepoint moves past them.
        // One round trip: a query without arguments goes by the simple protocol.
        sqlx::Executor::execute(
            &mut *self.0,
            "RELEASE SAVEPOINT fresh_keys; SAVEPOINT fresh_keys",
        )
        .await?;
        rows.iter().map(AlertState::of_row).collect()
    }

    async fn save_alerts(&mut self, rows: &[AlertRow<'_>]) -> Result<(), StoreError> {
        let cols = AlertRow::COLUMNS;
        let sets = cols[2..]
            .iter()
            .map(|(n, _)| format!("{n} = u.{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let arrays = cols
            .iter()
            .enumerate()
            .map(|(i, (n, ty))| format!("unnest(${}::{ty}[]) AS {n}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE alerts a SET {sets} FROM (SELECT {arrays}) u \
             WHERE a.tenant = u.tenant AND a.alert_key = u.alert_key"
        );
        AlertRow::bind_columns(sqlx::query(&sql), rows)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        Ok(bind(sqlx::query(sql), args)
            .execute(&mut *self.0)
            .await?
            .rows_affected())
    }

    async fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        bind(sqlx::query(sql), args)
            .fetch_all(&mut *self.0)
            .await?
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| Ok(r.try_get::<Option<String>, _>(i)?))
                    .collect()
            })
            .collect()
    }

    async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }
}

/// The column names prefixed by a table alias.
fn qualified(alias: &str, cols: &[(&str, &str)]) -> String {
    cols.iter()
        .map(|(n, _)| format!("{alias}.{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds generic arguments in order.
fn bind<'q>(
    mut q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for a in args {
        q = match *a {
            Arg::Text(t) => q.bind(t),
            Arg::Int(i) => q.bind(i),
        };
    }
    q
}
