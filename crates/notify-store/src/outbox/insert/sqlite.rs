//! The batch writer over a `sqlx::Any` transaction, for SQLite: each table's rows are one JSON
//! array bound to one parameter and expanded by `json_each`, so a statement has a handful of
//! parameters whatever the batch size (binding thousands of `$N` parameters is quadratic in
//! sqlx-sqlite: it looks each name up by a linear scan).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::alerts::{AlertState, Arg};
use super::rows::{AlertRow, AlertSeedRow, DeliveryRow, MessageRow, PartRow};
use super::{BatchWriter, KeyHolder, KEY_HOLDER_COLUMNS, SKIP_TAKEN_KEYS};
use crate::model::LaneInfo;
use crate::outbox::roll_up::RollUpTx;
use crate::sql::{from_json_each, names};
use crate::{Dialect, StoreError};

/// A write transaction that takes rows as JSON.
pub(crate) struct JsonWriter(pub(crate) Transaction<'static, Any>);

fn json<T: Serialize>(rows: &[T]) -> Result<String, StoreError> {
    serde_json::to_string(rows).map_err(StoreError::Encode)
}

fn insert_sql(table: &str, cols: &[(&str, &str)]) -> String {
    format!(
        "INSERT INTO {table} ({}) {}",
        names(cols),
        from_json_each(cols)
    )
}

impl BatchWriter for JsonWriter {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn messages(
        &mut self,
        rows: &[MessageRow<'_>],
    ) -> Result<Option<HashSet<String>>, StoreError> {
        let sql = format!(
            "{}{SKIP_TAKEN_KEYS}",
            insert_sql("messages", MessageRow::COLUMNS)
        );
        sqlx::query(&sql)
            .bind(json(rows)?)
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
        let rows = sqlx::query(&format!(
            "SELECT {KEY_HOLDER_COLUMNS} FROM json_each($1) k JOIN messages m \
                   ON m.tenant = json_extract(k.value, '$[0]') \
                  AND m.idempotency_key = json_extract(k.value, '$[1]')"
        ))
        .bind(json(keys)?)
        .fetch_all(&mut *self.0)
        .await?;
        rows.iter().map(KeyHolder::of_row).collect()
    }

    async fn deliveries(&mut self, rows: &[DeliveryRow<'_>]) -> Result<(), StoreError> {
        sqlx::query(&insert_sql("deliveries", DeliveryRow::COLUMNS))
            .bind(json(rows)?)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn parts(&mut self, rows: &[PartRow<'_>]) -> Result<(), StoreError> {
        sqlx::query(&insert_sql("parts", PartRow::COLUMNS))
            .bind(json(rows)?)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn lane(&mut self, l: &LaneInfo, now: i64) -> Result<(), StoreError> {
        crate::lanes::insert_lane(&mut self.0, l, now).await
    }

    /// SQLite has no cross-process notification; the in-process wake does.
    async fn notify(&mut self, _channel: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// SQLite serialises writers: the write transaction already excludes every other one, so
    /// the rows need no lock of their own.
    async fn lock_alerts(
        &mut self,
        seeds: &[AlertSeedRow<'_>],
    ) -> Result<Vec<AlertState>, StoreError> {
        sqlx::query(&format!(
            "{} ON CONFLICT (tenant, alert_key) DO NOTHING",
            insert_sql("alerts", AlertSeedRow::COLUMNS)
        ))
        .bind(json(seeds)?)
        .execute(&mut *self.0)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM alerts a JOIN json_each($1) k \
               ON a.tenant = json_extract(k.value, '$.tenant') \
              AND a.alert_key = json_extract(k.value, '$.alert_key') \
             ORDER BY a.tenant, a.alert_key",
            names(AlertRow::COLUMNS)
                .split(", ")
                .map(|n| format!("a.{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(json(seeds)?)
        .fetch_all(&mut *self.0)
        .await?;
        rows.iter().map(AlertState::of_row).collect()
    }

    async fn save_alerts(&mut self, rows: &[AlertRow<'_>]) -> Result<(), StoreError> {
        let sets = AlertRow::COLUMNS[2..]
            .iter()
            .map(|(n, _)| format!("{n} = json_extract(u.value, '$.{n}')"))
            .collect::<Vec<_>>()
            .join(", ");
        sqlx::query(&format!(
            "UPDATE alerts SET {sets} FROM json_each($1) u \
             WHERE alerts.tenant = json_extract(u.value, '$.tenant') \
               AND alerts.alert_key = json_extract(u.value, '$.alert_key')"
        ))
        .bind(json(rows)?)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    // The same statements as any other `Any` transaction's: the roll-up's implementation.
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        RollUpTx::exec(&mut self.0, sql, args).await
    }

    async fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        RollUpTx::texts(&mut self.0, sql, args).await
    }

    async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }
}
