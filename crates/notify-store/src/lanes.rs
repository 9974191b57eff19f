//! Lanes and their owners. A lane is an upstream credential × interface; lanes are owned in
//! units (a WeLink egress group's lanes together) by one replica at a time through a lease row
//! with a fencing number, so one process's in-memory limiter is the global one.

use sqlx::{Any, Row, Transaction};

use crate::model::LaneInfo;
use crate::{Store, StoreError};

/// The lane-ownership role ([`Store::lanes`]): the lane rows and their rate-limit pauses, the
/// units' leases with their fences, and the replicas' heartbeats. Used by `notify-dispatch`
/// (ownership, pauses, gauges) and `notify-api` (`GET /v1/channels` shows lanes and owners).
/// Registering a lane is not here: it happens inside the outbox's write transactions
/// (`Store::register_lanes_in`, crate-private).
#[derive(Debug, Clone, Copy)]
pub struct Lanes<'s> {
    pub(crate) store: &'s Store,
}

/// A lane row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneRow {
    /// Identity and owning unit.
    pub info: LaneInfo,
    /// Paused (rate-limited) until.
    pub paused_until: i64,
    /// Current back-off step.
    pub backoff_ms: i64,
    /// Rate-limit answers seen.
    pub rate_limited: i64,
}

/// Who owns a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitOwner {
    /// The unit.
    pub unit: String,
    /// The owning replica.
    pub owner: Option<String>,
    /// Fencing number: grows at each change of owner.
    pub fence: i64,
    /// Lease end.
    pub lease_until: i64,
}

/// Registers a lane (binds: lane, channel, credential, interface, unit, created_at).
pub(crate) const INSERT_LANE: &str =
    "INSERT INTO lanes (lane, channel, credential, interface, unit, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lane) DO NOTHING";

/// Registers a lane's ownership unit (bind: unit).
pub(crate) const INSERT_LANE_OWNER: &str =
    "INSERT INTO lane_owners (unit) VALUES ($1) ON CONFLICT (unit) DO NOTHING";

/// Registers one lane and its ownership unit inside `tx`, if they are new.
pub(crate) async fn insert_lane(
    tx: &mut Transaction<'static, Any>,
    l: &LaneInfo,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_LANE)
        .bind(&l.lane)
        .bind(&l.channel)
        .bind(&l.credential)
        .bind(&l.interface)
        .bind(&l.unit)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query(INSERT_LANE_OWNER)
        .bind(&l.unit)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Registers lanes (and their ownership units) inside `tx`, skipping those this process
    /// already knows exist. Returns the lanes it wrote; the caller marks them known once `tx`
    /// commits ([`Store::remember_lanes`]), so a rolled-back insert never hides a lane.
    pub(crate) async fn register_lanes_in<'a>(
        &self,
        tx: &mut Transaction<'static, Any>,
        lanes: impl Iterator<Item = &'a LaneInfo>,
    ) -> Result<Vec<String>, StoreError> {
        let now = self.now_ms();
        let mut written = Vec::new();
        for l in lanes {
            if self.lane_known(&l.lane) {
                continue;
            }
            insert_lane(tx, l, now).await?;
            written.push(l.lane.clone());
        }
        Ok(written)
    }

    pub(crate) fn lane_known(&self, lane: &str) -> bool {
        self.known_lanes
            .lock()
            .map(|k| k.contains(lane))
            .unwrap_or(false)
    }

    /// Marks lanes as existing, after the transaction that wrote them committed.
    pub(crate) fn remember_lanes(&self, lanes: Vec<String>) {
        if let Ok(mut k) = self.known_lanes.lock() {
            k.extend(lanes);
        }
    }
}

impl Lanes<'_> {
    /// Every known lane.
    pub async fn lanes(self) -> Result<Vec<LaneRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT lane, channel, credential, interface, unit, paused_until, backoff_ms, rate_limited \
             FROM lanes ORDER BY lane",
        )
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LaneRow {
                    info: LaneInfo {
                        lane: r.try_get(0)?,
                        channel: r.try_get(1)?,
                        credential: r.try_get(2)?,
                        interface: r.try_get(3)?,
                        unit: r.try_get(4)?,
                    },
                    paused_until: r.try_get(5)?,
                    backoff_ms: r.try_get(6)?,
                    rate_limited: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Takes or renews the lease on `unit` for `owner` until now + `lease_ms`. Succeeds when the
    /// unit is free, already `owner`'s, or its lease ran out; the fence grows on every change
    /// of owner. Returns the fence, or `None` when another replica holds it.
    pub async fn acquire_unit(
        self,
        unit: &str,
        owner: &str,
        lease_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.store.now_ms();
        sqlx::query("INSERT INTO lane_owners (unit) VALUES ($1) ON CONFLICT (unit) DO NOTHING")
            .bind(unit)
            .execute(&self.store.pool)
            .await?;
        let fence: Option<i64> = sqlx::query_scalar(
            "UPDATE lane_owners SET \
               fence = CASE WHEN owner = $2 THEN fence ELSE fence + 1 END, \
               owner = $2, lease_until = $3 \
             WHERE unit = $1 AND (owner IS NULL OR owner = $2 OR lease_until < $4) \
             RETURNING fence",
        )
        .bind(unit)
        .bind(owner)
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(&self.store.pool)
        .await?;
        Ok(fence)
    }

    /// Takes `unit` for `owner` if its row is still exactly what the caller saw (`seen`): free,
    /// or held by a replica the caller watched fail to renew for a whole lease. Compare-and-set
    /// on the fence and lease end, so the decision "the lease lapsed" is made with the caller's
    /// monotonic clock (how long the row stayed unchanged), never by comparing two replicas'
    /// wall clocks: a replica whose clock is off cannot steal a live lease. The fence grows.
    /// Returns the new fence, or `None` when the row changed meanwhile.
    pub async fn take_unit(
        self,
        seen: &UnitOwner,
        owner: &str,
        lease_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.store.now_ms();
        let fence: Option<i64> = sqlx::query_scalar(
            "UPDATE lane_owners SET fence = fence + 1, owner = $2, lease_until = $3 \
             WHERE unit = $1 AND fence = $4 AND lease_until = $5 RETURNING fence",
        )
        .bind(&seen.unit)
        .bind(owner)
        .bind(now + lease_ms)
        .bind(seen.fence)
        .bind(seen.lease_until)
        .fetch_optional(&self.store.pool)
        .await?;
        Ok(fence)
    }

    /// Renews `owner`'s lease on `unit` taken under `fence`. `false` when the unit is no longer
    /// this owner's under that fence (another replica took it): the caller stops at once.
    /// Every renewal writes a new `lease_until`, which is what watchers see change.
    pub async fn renew_unit(
        self,
        unit: &str,
        owner: &str,
        fence: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = self.store.now_ms();
        let n = sqlx::query(
            "UPDATE lane_owners SET lease_until = CASE WHEN lease_until >= $4 THEN lease_until + 1 ELSE $4 END \
             WHERE unit = $1 AND owner = $2 AND fence = $3",
        )
        .bind(unit)
        .bind(owner)
        .bind(fence)
        .bind(now + lease_ms)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Gives a unit up (graceful shutdown) so another replica can take it at once.
    pub async fn release_unit(self, unit: &str, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lane_owners SET owner = NULL, lease_until = 0 WHERE unit = $1 AND owner = $2",
        )
        .bind(unit)
        .bind(owner)
        .execute(&self.store.pool)
        .await?;
        Ok(())
    }

    /// Every unit's owner.
    pub async fn unit_owners(self) -> Result<Vec<UnitOwner>, StoreError> {
        let rows =
            sqlx::query("SELECT unit, owner, fence, lease_until FROM lane_owners ORDER BY unit")
                .fetch_all(&self.store.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(UnitOwner {
                    unit: r.try_get(0)?,
                    owner: r.try_get(1)?,
                    fence: r.try_get(2)?,
                    lease_until: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Records a replica as alive until now + `ttl_ms` and returns the live replicas, sorted.
    pub async fn heartbeat(self, replica: &str, ttl_ms: i64) -> Result<Vec<String>, StoreError> {
        let now = self.store.now_ms();
        sqlx::query(
            "INSERT INTO replicas (id, seen_until) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET seen_until = excluded.seen_until",
        )
        .bind(replica)
        .bind(now + ttl_ms)
        .execute(&self.store.pool)
        .await?;
        sqlx::query("DELETE FROM replicas WHERE seen_until < $1")
            .bind(now - 60_000)
            .execute(&self.store.pool)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT id FROM replicas WHERE seen_until >= $1 ORDER BY id")
                .bind(now)
                .fetch_all(&self.store.pool)
                .await?,
        )
    }

    /// Removes a replica's heartbeat (graceful shutdown).
    pub async fn forget_replica(self, replica: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replicas WHERE id = $1")
            .bind(replica)
            .execute(&self.store.pool)
            .await?;
        Ok(())
    }

    /// Records a lane's rate-limit pause (shown in `/v1/channels`; a new owner honours it).
    pub async fn pause_lane(
        self,
        lane: &str,
        until_ms: i64,
        backoff_ms: i64,
        rate_limited: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lanes SET paused_until = $2, backoff_ms = $3, \
             rate_limited = rate_limited + $4 WHERE lane = $1",
        )
        .bind(lane)
        .bind(until_ms)
        .bind(backoff_ms)
        .bind(i64::from(rate_limited))
        .execute(&self.store.pool)
        .await?;
        Ok(())
    }
}
