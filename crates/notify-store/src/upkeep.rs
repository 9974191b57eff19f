//! Autovacuum's work on a Postgres server whose autovacuum is off.
//!
//! The outbox is a queue: every part row is inserted, updated twice (claimed, completed) and
//! purged after the retention. Two things keep such tables fast, and autovacuum does both:
//!
//! - **vacuum** removes the dead row versions. Without it the claim's partial index keeps an
//!   entry for every part ever queued, and each claim walks past them
//!   (migration `0004_parts_autovacuum` tunes autovacuum on `parts` for this reason);
//! - **analyze** refreshes the planner's statistics, and by doing so invalidates the plans that
//!   pooled connections prepared. Postgres plans a prepared statement for its parameters a few
//!   times and may then keep one generic plan for the life of the connection: a plan made while
//!   a table was nearly empty (a sequential scan finds 32 ids fastest in an empty table) stays
//!   in use as the table grows to a million rows, until the table is analyzed.
//!
//! With autovacuum off neither happens, and a claim's cost grows with every part ever sent
//! (BENCHMARKS.md, issue 19). So when the server's `autovacuum` is off the dispatcher asks the
//! store to do that work, as often as autovacuum would look (`autovacuum_naptime`) and by its
//! rules: a table is vacuumed once its dead rows pass
//! `autovacuum_vacuum_threshold` + `autovacuum_vacuum_scale_factor` × its rows, and analyzed
//! once its changed rows pass the analyze pair, with each table's own settings (its
//! `ALTER TABLE … SET (autovacuum_…)`) before the server's. On SQLite there is nothing to do:
//! it plans every statement when it is prepared, from the schema, and reuses freed pages.

use sqlx::Row;

use crate::{Dialect, Store, StoreError};

/// One of autovacuum's two rules: a table is due once more than `base + scale × rows` of its
/// rows are dead (vacuum) or changed since its last analyze (analyze).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// `autovacuum_…_threshold`.
    pub base: f64,
    /// `autovacuum_…_scale_factor`.
    pub scale: f64,
}

impl Threshold {
    /// True when `count` dead or changed rows pass the threshold on a table of `rows` rows
    /// (`None`: never analyzed nor vacuumed, counted as empty, as autovacuum does).
    pub fn due(&self, rows: Option<f64>, count: i64) -> bool {
        count as f64 > self.base + self.scale * rows.unwrap_or(0.0).max(0.0)
    }

    /// This threshold with a table's own settings (`reloptions` entries `name=value`) for
    /// `base_name` and `scale_name` in place of the server's.
    fn for_table(self, options: &[String], base_name: &str, scale_name: &str) -> Self {
        let option = |name: &str| {
            options.iter().find_map(|o| {
                let (k, v) = o.split_once('=')?;
                (k == name).then(|| v.parse::<f64>().ok()).flatten()
            })
        };
        Self {
            base: option(base_name).unwrap_or(self.base),
            scale: option(scale_name).unwrap_or(self.scale),
        }
    }
}

/// What [`Store::upkeep`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Upkeep {
    /// Tables vacuumed (and analyzed, when that was due too).
    pub vacuumed: Vec<String>,
    /// Tables analyzed.
    pub analyzed: Vec<String>,
}

impl Store {
    /// Whether the database keeps its tables by itself: Postgres with `autovacuum` on, or
    /// SQLite (see the module's doc).
    pub async fn keeps_itself(&self) -> Result<bool, StoreError> {
        match self.dialect {
            Dialect::Sqlite => Ok(true),
            Dialect::Postgres => {
                let on: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(on == "on")
            }
        }
    }

    /// How long autovacuum waits between two looks at a database (`autovacuum_naptime`); the
    /// gateway doing its work looks as often. One minute on SQLite (never used there).
    pub async fn autovacuum_naptime(&self) -> Result<std::time::Duration, StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(std::time::Duration::from_secs(60));
        }
        // pg_settings gives the value in its base unit, seconds ("60"), where
        // current_setting gives "1min".
        let seconds: String =
            sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'autovacuum_naptime'")
                .fetch_one(&self.pool)
                .await?;
        let seconds: u64 = seconds.parse().map_err(|_| {
            StoreError::Config(format!(
                "autovacuum_naptime is not whole seconds: {seconds:?}"
            ))
        })?;
        Ok(std::time::Duration::from_secs(seconds.max(1)))
    }

    /// Vacuums and analyzes the tables of the store's schema that autovacuum would take now,
    /// by its rules and the server's and tables' settings (see the module's doc). Nothing on
    /// SQLite. The row counts come from the server's statistics, which a connection reports
    /// within about a second of its transactions.
    pub async fn upkeep(&self) -> Result<Upkeep, StoreError> {
        let mut done = Upkeep::default();
        if self.dialect != Dialect::Postgres {
            return Ok(done);
        }
        let server = sqlx::query(
            "SELECT CAST(current_setting('autovacuum_vacuum_threshold') AS DOUBLE PRECISION), \
                    CAST(current_setting('autovacuum_vacuum_scale_factor') AS DOUBLE PRECISION), \
                    CAST(current_setting('autovacuum_analyze_threshold') AS DOUBLE PRECISION), \
                    CAST(current_setting('autovacuum_analyze_scale_factor') AS DOUBLE PRECISION)",
        )
        .fetch_one(&self.pool)
        .await?;
        let vacuum = Threshold {
            base: server.try_get(0)?,
            scale: server.try_get(1)?,
        };
        let analyze = Threshold {
            base: server.try_get(2)?,
            scale: server.try_get(3)?,
        };
        let tables = sqlx::query(
            "SELECT CAST(s.relname AS TEXT), CAST(c.reltuples AS DOUBLE PRECISION), \
                    s.n_dead_tup, s.n_mod_since_analyze, \
                    COALESCE(array_to_string(c.reloptions, ' '), '') \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() ORDER BY s.relname",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in tables {
            let table: String = r.try_get(0)?;
            let reltuples: f64 = r.try_get(1)?;
            let dead: i64 = r.try_get(2)?;
            let changed: i64 = r.try_get(3)?;
            let options: Vec<String> = r
                .try_get::<String, _>(4)?
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            // reltuples is -1 for a table never analyzed nor vacuumed.
            let rows = (reltuples >= 0.0).then_some(reltuples);
            let vacuum_due = vacuum
                .for_table(
                    &options,
                    "autovacuum_vacuum_threshold",
                    "autovacuum_vacuum_scale_factor",
                )
                .due(rows, dead);
            let analyze_due = analyze
                .for_table(
                    &options,
                    "autovacuum_analyze_threshold",
                    "autovacuum_analyze_scale_factor",
                )
                .due(rows, changed);
            // The name comes from the catalog, not from input; quoted all the same. Sent as a
            // simple query: VACUUM may not run as a prepared statement's transaction.
            let name = format!("\"{}\"", table.replace('"', "\"\""));
            let command = match (vacuum_due, analyze_due) {
                (true, true) => format!("VACUUM (ANALYZE) {name}"),
                (true, false) => format!("VACUUM {name}"),
                (false, true) => format!("ANALYZE {name}"),
                (false, false) => continue,
            };
            sqlx::raw_sql(&command).execute(&self.pool).await?;
            if vacuum_due {
                done.vacuumed.push(table);
            } else {
                done.analyzed.push(table);
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::Threshold;

    const ANALYZE: Threshold = Threshold {
        base: 50.0,
        scale: 0.1,
    };

    #[test]
    fn a_table_is_due_past_the_base_and_a_share_of_its_rows() {
        assert!(!ANALYZE.due(None, 50));
        assert!(ANALYZE.due(None, 51));
        assert!(!ANALYZE.due(Some(1_000.0), 150));
        assert!(ANALYZE.due(Some(1_000.0), 151));
        assert!(!ANALYZE.due(Some(1_000_000.0), 100_050));
        assert!(ANALYZE.due(Some(1_000_000.0), 100_051));
    }

    #[test]
    fn a_tables_own_settings_come_before_the_servers() {
        let options = vec![
            "autovacuum_vacuum_scale_factor=0.01".to_owned(),
            "autovacuum_vacuum_cost_delay=0".to_owned(),
        ];
        let server = Threshold {
            base: 50.0,
            scale: 0.2,
        };
        let parts = server.for_table(
            &options,
            "autovacuum_vacuum_threshold",
            "autovacuum_vacuum_scale_factor",
        );
        assert_eq!(
            parts,
            Threshold {
                base: 50.0,
                scale: 0.01
            }
        );
        assert!(parts.due(Some(100_000.0), 1_051));
        assert!(!server.due(Some(100_000.0), 1_051));
        let attempts = server.for_table(
            &[],
            "autovacuum_vacuum_threshold",
            "autovacuum_vacuum_scale_factor",
        );
        assert_eq!(attempts, server);
    }
}
