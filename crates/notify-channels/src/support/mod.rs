//! Helpers every adapter shares: lenient answer reading, code tables, text fitting and target
//! checks. Nothing here knows a field name of any upstream.

pub mod answer;
pub mod classes;
pub mod fit;
pub mod settings;
pub mod target;
pub mod wecom;

/// `base` (without a trailing `/`) followed by `path` (which starts with `/`). Every adapter
/// builds its URLs here so that a configured `base_url` replaces the official host (contract §2).
pub fn join_url(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_trailing_slash_is_not_doubled() {
        assert_eq!(super::join_url("http://h/api/", "/x"), "http://h/api/x");
        assert_eq!(super::join_url("http://h/api", "/x"), "http://h/api/x");
    }
}
