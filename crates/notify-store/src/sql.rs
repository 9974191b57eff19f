//! Small SQL text builders shared by the store's modules.

use serde::Serialize;

use crate::{Dialect, StoreError};

/// A bound value of the few statements written once for every kind of transaction the store
/// holds (storm control's, the message roll-up's).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// Text.
    Text(&'a str),
    /// An integer.
    Int(i64),
}

/// `$first, $first+1, …` for an `IN (…)` list of `n` items.
pub fn list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The column names, comma-separated.
pub fn names(cols: &[(&str, &str)]) -> String {
    cols.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// A SQLite `SELECT` of `cols` from the JSON array of row objects bound as `$1` (`json_each`;
/// its `WHERE true` lets an `ON CONFLICT` clause follow the `SELECT`).
pub fn from_json_each(cols: &[(&str, &str)]) -> String {
    format!(
        "SELECT {} FROM json_each($1) WHERE true",
        cols.iter()
            .map(|(n, _)| format!("json_extract(value, '$.{n}')"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `col` is one of the strings of the JSON array bound as `$param`. One parameter whatever the
/// list's length: no bind limit (SQLite 32,766, Postgres 65,535) applies, and the statement
/// text, hence its prepared plan, is the same for every length.
///
/// On Postgres the list is an array (`= ANY(ARRAY(…))`), which the planner takes as an index
/// condition: `IN (SELECT json_array_elements_text(…))` is estimated at 100 rows whatever its
/// length and, on a table of a few ten thousand rows, planned as a hash join over a full scan.
pub fn in_ids(dialect: Dialect, col: &str, param: usize) -> String {
    match dialect {
        Dialect::Postgres => {
            format!("{col} = ANY(ARRAY(SELECT json_array_elements_text(${param}::json)))")
        }
        Dialect::Sqlite => format!("{col} IN (SELECT value FROM json_each(${param}))"),
    }
}

/// For an `UPDATE … FROM` [`json_rows`] joined on `col = alias.field`: on Postgres, the same
/// condition again as an array (` AND col = ANY(…)`), so the target's rows are found by index
/// rather than by a hash join over a full scan (see [`in_ids`]). SQLite already drives the
/// join from the JSON rows into the index: nothing.
pub fn keyed_by(dialect: Dialect, col: &str, param: usize, field: &str) -> String {
    match dialect {
        Dialect::Postgres => format!(
            " AND {col} = ANY(ARRAY(SELECT e->>'{field}' FROM json_array_elements(${param}::json) e))"
        ),
        Dialect::Sqlite => String::new(),
    }
}

/// A `FROM` item named `alias` whose rows are the JSON array of objects bound as `$param`,
/// with the columns `cols` (name, Postgres type), for set-based `UPDATE … FROM` and
/// `INSERT … SELECT` over `sqlx::Any` (which binds no arrays).
pub fn json_rows(dialect: Dialect, param: usize, alias: &str, cols: &[(&str, &str)]) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "json_to_recordset(${param}::json) AS {alias}({})",
            cols.iter()
                .map(|(n, ty)| format!("{n} {ty}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Dialect::Sqlite => format!(
            "(SELECT {} FROM json_each(${param})) AS {alias}",
            cols.iter()
                .map(|(n, _)| format!("json_extract(value, '$.{n}') AS {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `rows` as JSON text, the parameter of [`in_ids`] and [`json_rows`].
pub fn json<T: Serialize + ?Sized>(rows: &T) -> Result<String, StoreError> {
    serde_json::to_string(rows).map_err(StoreError::Encode)
}

#[cfg(test)]
mod tests {
    use crate::Dialect;

    #[test]
    fn json_row_sources_name_their_columns_on_both_backends() {
        let cols = [("id", "text"), ("n", "bigint")];
        assert_eq!(
            super::json_rows(Dialect::Postgres, 2, "u", &cols),
            "json_to_recordset($2::json) AS u(id text, n bigint)"
        );
        assert_eq!(
            super::json_rows(Dialect::Sqlite, 2, "u", &cols),
            "(SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.n') AS n \
             FROM json_each($2)) AS u"
        );
        assert_eq!(
            super::in_ids(Dialect::Sqlite, "id", 1),
            "id IN (SELECT value FROM json_each($1))"
        );
        assert_eq!(
            super::in_ids(Dialect::Postgres, "id", 1),
            "id = ANY(ARRAY(SELECT json_array_elements_text($1::json)))"
        );
        assert_eq!(super::keyed_by(Dialect::Sqlite, "parts.id", 1, "id"), "");
    }

    #[test]
    fn lists_and_json_selects_are_built() {
        assert_eq!(super::list(3, 1), "$1, $2, $3");
        let cols = [("id", "text"), ("n", "bigint")];
        assert_eq!(
            super::from_json_each(&cols),
            "SELECT json_extract(value, '$.id'), json_extract(value, '$.n') FROM json_each($1) WHERE true"
        );
    }
}
