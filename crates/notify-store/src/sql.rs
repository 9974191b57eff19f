//! Small SQL text builders shared by the store's modules.

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

#[cfg(test)]
mod tests {
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
