//! The call log: every upstream call with what it carried and what it was answered, in a
//! bounded ring so that a long benchmark or a `simulate` left running cannot eat the memory.
//!
//! The hot path keeps an `Arc<Entry>` with the raw `HeaderMap` and parsed body; the public
//! [`RecordedCall`] is built from it only when someone reads the log.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::http::HeaderMap;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many calls the ring keeps before it forgets the oldest.
pub(crate) const LOG_CAPACITY: usize = 100_000;

/// One upstream call as the simulator saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedCall {
    /// Increasing number, never reused until `/_sim/reset`.
    pub seq: u64,
    /// Simulated wall time at arrival (unix ms; includes the `/_sim/clock` offset).
    pub at_ms: i64,
    /// HTTP method.
    pub method: String,
    /// Request path, e.g. `/api/messages/v2/card/common`.
    pub path: String,
    /// Raw query string without `?` (empty when none).
    pub query: String,
    /// Request headers, lower-case names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The JSON body, or the body as a string when it is not JSON (forms; multipart uploads
    /// are summarised).
    pub body: Value,
    /// HTTP status answered (0 when the connection was reset without an answer).
    pub status: u16,
    /// The JSON answered (`null` for a reset, a string for non-JSON answers such as redirects).
    pub answer: Value,
    /// The upstream credential the call was made with, when it was valid: WeLink client_id,
    /// WeCom corpid, OAuth2 client id.
    pub client_id: Option<String>,
    /// The caller's IP (or `x-sim-peer-ip`).
    pub peer_ip: String,
    /// WeCom only: answered ok but not (fully) delivered because a member was over the per-member
    /// cap (WeCom drops such messages silently); `notes` names the members.
    pub dropped: bool,
    /// What the simulator noticed beyond the answer: `duplicate_of:<msgid>`,
    /// `dropped_members:a|b`, `truncated:text.content`, `fault:latency`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Members a WeCom-style send reached or dropped, for the per-member statistics.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemberUse {
    /// `corpid/agentid` (app API) or `workid/companyId` (work-ID platform).
    pub scope: String,
    pub delivered: Vec<String>,
    pub dropped: Vec<String>,
}

/// What the hot path stores per call.
#[derive(Debug)]
pub(crate) struct Entry {
    pub seq: u64,
    pub at_ms: i64,
    /// Monotonic instant the caps used (or arrival time when no cap was involved).
    pub mono_us: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub status: u16,
    pub answer: Value,
    /// The answer's code as a string (WeLink `code`, WeCom `errcode`, work-ID `code`, Juzi
    /// `errcode`, OAuth `error`), or the HTTP status when the answer has none.
    pub code: String,
    pub client_id: Option<String>,
    pub peer_ip: String,
    pub dropped: bool,
    pub notes: Vec<String>,
    pub members: Option<MemberUse>,
}

impl Entry {
    pub fn to_recorded(&self) -> RecordedCall {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &self.headers {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|old| {
                    old.push_str(", ");
                    old.push_str(&v);
                })
                .or_insert(v);
        }
        RecordedCall {
            seq: self.seq,
            at_ms: self.at_ms,
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers,
            body: self.body.clone(),
            status: self.status,
            answer: self.answer.clone(),
            client_id: self.client_id.clone(),
            peer_ip: self.peer_ip.clone(),
            dropped: self.dropped,
            notes: self.notes.clone(),
        }
    }
}

/// The bounded ring of calls.
pub(crate) struct CallLog {
    inner: Mutex<Ring>,
    capacity: usize,
}

struct Ring {
    next_seq: u64,
    calls: VecDeque<Arc<Entry>>,
}

impl CallLog {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Ring {
                next_seq: 1,
                calls: VecDeque::with_capacity(capacity.min(4096)),
            }),
            capacity,
        }
    }

    /// Appends an entry, numbering it; the numbering happens under the lock so that the ring's
    /// order is the `seq` order.
    pub fn push(&self, mut entry: Entry) -> u64 {
        let mut ring = self.inner.lock();
        entry.seq = ring.next_seq;
        ring.next_seq += 1;
        if ring.calls.len() >= self.capacity {
            ring.calls.pop_front();
        }
        let seq = entry.seq;
        ring.calls.push_back(Arc::new(entry));
        seq
    }

    /// All entries, oldest first (cheap: clones `Arc`s).
    pub fn snapshot(&self) -> Vec<Arc<Entry>> {
        self.inner.lock().calls.iter().cloned().collect()
    }

    /// The newest `n` entries, oldest first.
    pub fn latest(&self, n: usize) -> Vec<Arc<Entry>> {
        let ring = self.inner.lock();
        let skip = ring.calls.len().saturating_sub(n);
        ring.calls.iter().skip(skip).cloned().collect()
    }

    pub fn clear(&self) {
        let mut ring = self.inner.lock();
        ring.calls.clear();
        ring.next_seq = 1;
    }
}
