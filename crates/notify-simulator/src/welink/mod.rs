//! WeLink (000_…): token, public-account messages, status update and recall. Xiaowei shares
//! the token and the gate (see `xiaowei.rs`).

pub(crate) mod messages;
pub(crate) mod token;
pub(crate) mod update;

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::NaiveDate;
use parking_lot::{Mutex, RwLock};

use crate::caps::{Check, SECOND_US};
use crate::reply::{welink, Incoming, Reply};
use crate::Inner;

/// WeLink messages kept for update and recall before the oldest are forgotten.
const MESSAGE_CAPACITY: usize = 200_000;

/// An access token handed out by `/auth/v2/tickets`.
pub(crate) struct Token {
    pub client_id: String,
    pub expires_ms: i64,
    pub revoked: bool,
}

/// A public-account message, remembered by its itemId.
pub(crate) struct Message {
    pub client_id: String,
    pub stateful: bool,
    pub public_acc_id: Option<String>,
    /// The fans it reached; `None` when sent to departments or roles (members unknown).
    pub recipients: Option<HashSet<String>>,
    pub recalled: bool,
}

#[derive(Default)]
pub(crate) struct Messages {
    pub map: HashMap<String, Message>,
    order: VecDeque<String>,
}

impl Messages {
    pub fn insert(&mut self, item_id: String, m: Message) {
        if self.order.len() >= MESSAGE_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        self.order.push_back(item_id.clone());
        self.map.insert(item_id, m);
    }
}

/// WeLink state: tokens, messages, Xiaowei day counters.
#[derive(Default)]
pub(crate) struct State {
    pub tokens: RwLock<HashMap<String, Token>>,
    pub messages: Mutex<Messages>,
    /// Xiaowei calls counted per (client_id, Asia/Shanghai day).
    pub xiaowei_days: Mutex<HashMap<(String, NaiveDate), u64>>,
}

impl State {
    pub fn clear(&self) {
        self.tokens.write().clear();
        *self.messages.lock() = Messages::default();
        self.xiaowei_days.lock().clear();
    }

    /// Revokes every token, or those of one client_id; returns how many.
    pub fn revoke(&self, client_id: Option<&str>) -> usize {
        let mut n = 0;
        for t in self.tokens.write().values_mut() {
            if client_id.is_none_or(|c| c == t.client_id) && !t.revoked {
                t.revoked = true;
                n += 1;
            }
        }
        n
    }
}

/// Which answer family the gate speaks: WeLink codes or Xiaowei's.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Welink,
    Xiaowei,
}

/// `api/...` path without the `/api` prefix, as the documents and the caps name interfaces.
pub(crate) fn interface(path: &str) -> &str {
    path.strip_prefix("/api").unwrap_or(path)
}

/// The over-limit answer: `48503` for WeLink (000 lines 722–725), `58602` for Xiaowei
/// (000 line 1631).
fn limited(api: Api) -> Reply {
    match api {
        Api::Welink => welink("48503", "接口调用频率超过限制", None),
        Api::Xiaowei => welink("58602", "接口调用频率超过限制", None),
    }
}

/// What every WeLink-host call passes before its own checks, in this order: the per-IP cap
/// (3000 in any 20 s), the token (`x-wlk-Authorization`; 1000 or Xiaowei 58401), the
/// interface permission (501), the per-client_id per-interface caps (40 in any 1 s, 1500 in any
/// 60 s). Returns the caller's client_id and the instant the caps used.
pub(crate) fn gate(sim: &Inner, inc: &Incoming, api: Api) -> Result<(String, u64), Reply> {
    let caps = *sim.caps.read();
    let token = inc.header("x-wlk-authorization").unwrap_or("").trim();
    let client = {
        let tokens = sim.welink.tokens.read();
        tokens
            .get(token)
            .filter(|t| !t.revoked && t.expires_ms > inc.now_ms)
            .map(|t| t.client_id.clone())
    };
    let allowed = client
        .as_deref()
        .is_none_or(|c| sim.apps.welink_allows(c, &inc.path));
    let iface = interface(&inc.path);
    let ip_key = format!("ip|{}", inc.peer_ip);
    let ip = [Check {
        key: &ip_key,
        window_us: 20 * SECOND_US,
        limit: caps.per_ip_20s,
    }];
    let (sec_key, min_key) = match &client {
        Some(c) => (format!("s|{c}|{iface}"), format!("m|{c}|{iface}")),
        None => (String::new(), String::new()),
    };
    let lane_checks = [
        Check {
            key: &sec_key,
            window_us: SECOND_US,
            limit: caps.per_second,
        },
        Check {
            key: &min_key,
            window_us: 60 * SECOND_US,
            limit: caps.per_minute,
        },
    ];
    let lane: &[Check<'_>] = if client.is_some() && allowed {
        &lane_checks
    } else {
        &[]
    };
    let (mono, admitted) = sim.windows.admit_staged(&sim.clock, &[&ip, lane]);
    if admitted == Err(0) {
        return Err(limited(api)
            .at(mono)
            .client(client.as_deref())
            .note("cap:per_ip_20s"));
    }
    let Some(client) = client else {
        let r = match api {
            Api::Welink => welink("1000", "access_token失效或者不可用", None),
            Api::Xiaowei => welink("58401", "token校验不通过", None),
        };
        return Err(r.at(mono));
    };
    if !allowed {
        return Err(welink("501", "第三方接口无权限", None)
            .at(mono)
            .client(Some(&client)));
    }
    if admitted == Err(1) {
        return Err(limited(api)
            .at(mono)
            .client(Some(&client))
            .note("cap:per_client_interface"));
    }
    Ok((client, mono))
}
