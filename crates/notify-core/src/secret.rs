//! Secrets in configuration: given inline or as `"env:VAR_NAME"`, never printed.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret value. `"env:NAME"` in the config reads the environment variable `NAME` when the
/// config is loaded; `Debug` and `Serialize` show `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no secret was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Resolves `env:VAR` against the environment; other text is the secret itself.
    pub fn resolve(raw: &str) -> Result<Self, String> {
        match raw.strip_prefix("env:") {
            Some(var) => std::env::var(var)
                .map(Secret)
                .map_err(|_| format!("environment variable {var} is not set")),
            None => Ok(Secret(raw.to_string())),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Secret::resolve(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");
    }

    #[test]
    fn env_prefix_reads_the_environment_and_names_a_missing_variable() {
        let e = Secret::resolve("env:NOTIFY_TEST_SURELY_UNSET_VAR").unwrap_err();
        assert!(e.contains("NOTIFY_TEST_SURELY_UNSET_VAR"));
        assert_eq!(Secret::resolve("plain").unwrap().expose(), "plain");
    }
}
