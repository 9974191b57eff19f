//! Injected faults (`POST /_sim/faults`).
//!
//! A fault applies to calls on one path (or, without `path`, to every upstream path; a path
//! ending in `*` is a prefix), `count` times or until `DELETE /_sim/faults`. The first fault
//! that matches wins. An atomic flag keeps the hot path free of the lock when there are none.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an injected fault does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FaultKind {
    /// Answer the upstream's error shape with `code` (HTTP `http_status`, default 200), without
    /// processing the call.
    Code,
    /// Answer `http_status` with a small error body, without processing the call.
    HttpStatus,
    /// Process the call normally but hold the answer `latency_ms`: the work is done even if
    /// the client gives up, which is what makes an outcome unknown.
    Latency,
    /// Close the connection without answering (RST), without processing the call.
    Reset,
    /// Hold the request 60 s (or until the client gives up), then answer 504, without
    /// processing the call.
    Timeout,
}

/// One fault as posted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub kind: FaultKind,
    /// The upstream code to answer (`kind: code`): a string or a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// How many calls it hits; absent = until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl FaultSpec {
    fn matches(&self, path: &str) -> bool {
        match self.path.as_deref() {
            None => true,
            Some(p) => match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => p == path,
            },
        }
    }

    /// Checks what the kind needs, so a bad fault is refused when posted, not when it fires.
    pub fn validate(&self) -> Result<(), String> {
        match self.kind {
            FaultKind::Code if self.code.is_none() => Err("kind code needs `code`".into()),
            FaultKind::HttpStatus => match self.http_status {
                Some(s) if (100..=599).contains(&s) => Ok(()),
                _ => Err("kind http_status needs `http_status` 100..=599".into()),
            },
            FaultKind::Latency if self.latency_ms.is_none() => {
                Err("kind latency needs `latency_ms`".into())
            }
            _ => match self.http_status {
                Some(s) if !(100..=599).contains(&s) => Err("http_status must be 100..=599".into()),
                _ => Ok(()),
            },
        }
    }
}

/// The active faults.
#[derive(Default)]
pub(crate) struct Faults {
    any: AtomicBool,
    list: Mutex<Vec<FaultSpec>>,
}

impl Faults {
    pub fn add(&self, f: FaultSpec) {
        let mut list = self.list.lock();
        list.push(f);
        self.any.store(true, Ordering::Release);
    }

    pub fn clear(&self) {
        let mut list = self.list.lock();
        list.clear();
        self.any.store(false, Ordering::Release);
    }

    pub fn list(&self) -> Vec<FaultSpec> {
        self.list.lock().clone()
    }

    /// The fault to apply to a call on `path`, using up one of its `count`.
    pub fn take(&self, path: &str) -> Option<FaultSpec> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut list = self.list.lock();
        let i = list.iter().position(|f| f.matches(path))?;
        let hit = list[i].clone();
        if let Some(n) = list[i].count.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                list.remove(i);
            }
        }
        if list.is_empty() {
            self.any.store(false, Ordering::Release);
        }
        Some(hit)
    }
}
