//! Small SQL text builders shared by the store's modules.

/// `($1, $2, …), ($k, …)` for `rows` rows of `cols` columns, numbering from `first`.
pub fn values(rows: usize, cols: usize, first: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&n.to_string());
            n += 1;
        }
        s.push(')');
    }
    s
}

/// `$first, $first+1, …` for an `IN (…)` list of `n` items.
pub fn list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_numbers_across_rows() {
        assert_eq!(super::values(2, 2, 3), "($3, $4), ($5, $6)");
        assert_eq!(super::list(3, 1), "$1, $2, $3");
    }
}
