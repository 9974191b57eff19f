//! Roll-ups, set-based: the statuses of many deliveries from their parts, then of their
//! messages from their deliveries, in a fixed number of statements whatever their count (one
//! read of the rows, one of their children, one `UPDATE` per distinct new status). Every path
//! that changes parts or deliveries ends here, so the rules of [`crate::rollup`] are applied
//! one way.
//!
//! On Postgres the rows rolled up are locked first, in id order: two transactions rolling up
//! the same delivery (two batches completing two of its parts) or message (two of its
//! deliveries) then take turns, and the second reads what the first wrote instead of each
//! seeing the other's part still `sending` and leaving the delivery open. One order for
//! everyone keeps that from deadlocking. `FOR NO KEY UPDATE`, the lock an `UPDATE` takes
//! anyway, does not wait on the key-share lock an `attempts` insert takes on its delivery.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use notify_core::{DeliveryStatus, PartOp, PartStatus};
use sqlx::{Any, Row, Transaction};

use crate::outbox::fallback::note_final;
use crate::rollup::{delivery_status, message_status, Standing};
use crate::sql::{in_ids, json, Arg};
use crate::{Dialect, StoreError};

/// The two kinds of statement the message roll-up runs, over either kind of transaction the
/// store holds (a `sqlx::Any` one, or the batch insert's, native on Postgres).
pub(crate) trait RollUpTx {
    /// Runs one query whose columns are all text.
    async fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError>;
    /// Runs one statement; rows affected.
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError>;
}

impl RollUpTx for Transaction<'_, Any> {
    async fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        bind(sqlx::query(sql), args)
            .fetch_all(&mut **self)
            .await?
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| Ok(r.try_get::<Option<String>, _>(i)?))
                    .collect()
            })
            .collect()
    }

    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        Ok(bind(sqlx::query(sql), args)
            .execute(&mut **self)
            .await?
            .rows_affected())
    }
}

fn bind<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        q = match *a {
            Arg::Text(t) => q.bind(t),
            Arg::Int(i) => q.bind(i),
        };
    }
    q
}

/// Locks `deliveries` in id order (Postgres; SQLite's write transaction already excludes
/// every other writer). For a transaction that writes some of them before [`roll_up`]: the
/// roll-up locks them too, but by then those writes would have taken their rows in another
/// order.
pub(crate) async fn lock_deliveries(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    deliveries: &BTreeSet<String>,
) -> Result<(), StoreError> {
    if dialect != Dialect::Postgres || deliveries.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "SELECT id FROM deliveries WHERE {} ORDER BY id FOR NO KEY UPDATE",
        in_ids(dialect, "id", 1)
    ))
    .bind(json(deliveries)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Recomputes the status of each of `deliveries` from its parts, then of their messages from
/// their deliveries. Returns true when a delivery's new status made its fallback due (a
/// pending-fallback row was written in `tx`).
pub(crate) async fn roll_up(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    deliveries: &BTreeSet<String>,
    now: i64,
) -> Result<bool, StoreError> {
    if deliveries.is_empty() {
        return Ok(false);
    }
    let ids = json(deliveries)?;
    let lock = match dialect {
        Dialect::Postgres => " ORDER BY id FOR NO KEY UPDATE",
        Dialect::Sqlite => "",
    };
    let rows = sqlx::query(&format!(
        "SELECT id, status, message_id, CASE WHEN fallback IS NULL THEN 0 ELSE 1 END \
         FROM deliveries WHERE {}{lock}",
        in_ids(dialect, "id", 1)
    ))
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    let mut parts: HashMap<String, Vec<(PartOp, PartStatus)>> = HashMap::new();
    for r in sqlx::query(&format!(
        "SELECT delivery_id, op, status FROM parts WHERE {}",
        in_ids(dialect, "delivery_id", 1)
    ))
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?
    {
        let (op, status): (String, String) = (r.try_get(1)?, r.try_get(2)?);
        if let (Some(op), Some(status)) = (PartOp::parse(&op), PartStatus::parse(&status)) {
            parts.entry(r.try_get(0)?).or_default().push((op, status));
        }
    }
    let mut changed: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut with_fallback = Vec::new();
    let mut messages = BTreeSet::new();
    for r in &rows {
        let id: String = r.try_get(0)?;
        let current: String = r.try_get(1)?;
        let current = DeliveryStatus::parse(&current)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery status {current:?}")))?;
        let next = delivery_status(current, parts.get(&id).map_or(&[], Vec::as_slice));
        if next != current {
            if r.try_get::<i64, _>(3)? != 0 {
                with_fallback.push((id.clone(), next));
            }
            changed.entry(next.as_str()).or_default().push(id);
        }
        messages.insert(r.try_get::<String, _>(2)?);
    }
    for (status, ids) in &changed {
        sqlx::query(&format!(
            "UPDATE deliveries SET status = $1, updated_at = $2 WHERE {}",
            in_ids(dialect, "id", 3)
        ))
        .bind(*status)
        .bind(now)
        .bind(json(ids)?)
        .execute(&mut **tx)
        .await?;
    }
    // Per row: only deliveries that carry a fallback, a small share of them.
    let mut fallback_due = false;
    for (d, next) in &with_fallback {
        fallback_due |= note_final(tx, d, *next, now).await?;
    }
    roll_up_messages(tx, dialect, &messages, now).await?;
    Ok(fallback_due)
}

/// Recomputes the status of each of `messages` from its deliveries, by
/// [`crate::rollup::message_status`], on either kind of transaction.
pub(crate) async fn roll_up_messages(
    tx: &mut impl RollUpTx,
    dialect: Dialect,
    messages: &BTreeSet<String>,
    now: i64,
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let ids = json(messages)?;
    if dialect == Dialect::Postgres {
        tx.exec(
            &format!(
                "SELECT id FROM messages WHERE {} ORDER BY id FOR NO KEY UPDATE",
                in_ids(dialect, "id", 1)
            ),
            &[Arg::Text(&ids)],
        )
        .await?;
    }
    // Text columns only, so both kinds of transaction read them alike. `replaced` is only
    // looked up where it matters (failed or expired).
    let rows = tx
        .texts(
            &format!(
                "SELECT d.message_id, d.status, \
                   CASE WHEN d.escalation_step IS NOT NULL AND d.cancel_reason IS NOT NULL \
                        THEN 'y' ELSE 'n' END, \
                   CASE WHEN EXISTS (SELECT 1 FROM pending_fallbacks p \
                                     WHERE p.delivery_id = d.id) THEN 'y' ELSE 'n' END, \
                   CASE WHEN d.status IN ('failed', 'expired') AND EXISTS ( \
                          SELECT 1 FROM deliveries f \
                          WHERE f.message_id = d.message_id AND f.fallback_of = d.id) \
                        THEN 'y' ELSE 'n' END \
                 FROM deliveries d WHERE {}",
                in_ids(dialect, "d.message_id", 1)
            ),
            &[Arg::Text(&ids)],
        )
        .await?;
    let mut standings: BTreeMap<&str, Vec<Standing>> =
        messages.iter().map(|m| (m.as_str(), Vec::new())).collect();
    for r in &rows {
        let [Some(message_id), Some(status), Some(step), Some(waiting), Some(replaced)] =
            r.as_slice()
        else {
            return Err(StoreError::Corrupt(format!("message roll-up row {r:?}")));
        };
        // A status this binary does not know (written by a newer one) counts as nothing.
        let Some(status) = DeliveryStatus::parse(status) else {
            continue;
        };
        if let Some(list) = standings.get_mut(message_id.as_str()) {
            list.push(Standing {
                status,
                stood_down_step: step == "y",
                awaiting_fallback: waiting == "y",
                replaced: replaced == "y",
            });
        }
    }
    let mut by_status: BTreeMap<&'static str, Vec<&str>> = BTreeMap::new();
    for (m, list) in &standings {
        by_status
            .entry(message_status(list).as_str())
            .or_default()
            .push(m);
    }
    for (status, ids) in &by_status {
        tx.exec(
            &format!(
                "UPDATE messages SET status = $1, updated_at = $2 WHERE {} AND status <> $1",
                in_ids(dialect, "id", 3)
            ),
            &[Arg::Text(status), Arg::Int(now), Arg::Text(&json(ids)?)],
        )
        .await?;
    }
    Ok(())
}
