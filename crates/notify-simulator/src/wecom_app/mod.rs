//! The WeCom app API under `/cgi-bin/...` (003_… and UPSTREAM-FACTS): token, JS-SDK tickets,
//! message send and recall, media upload.

pub(crate) mod media;
pub(crate) mod send;
pub(crate) mod token;

use std::collections::HashMap;

use parking_lot::{Mutex, RwLock};

use crate::caps::{Check, SECOND_US};
use crate::reply::{wecom, Incoming, Reply};
use crate::Inner;

/// How many sent messages and duplicate-check fingerprints are kept before the oldest go.
const KEEP: usize = 200_000;

/// An access token from `gettoken`.
pub(crate) struct Token {
    pub corpid: String,
    pub agentid: Option<i64>,
    pub expires_ms: i64,
    pub revoked: bool,
}

/// A sent message, for recall.
pub(crate) struct Sent {
    pub corpid: String,
    pub at_ms: i64,
    pub recalled: bool,
}

/// An uploaded medium.
pub(crate) struct Media {
    pub corpid: String,
    pub created_ms: i64,
}

/// A fingerprint seen with `enable_duplicate_check`.
pub(crate) struct Seen {
    pub msgid: String,
    pub at_ms: i64,
}

#[derive(Default)]
pub(crate) struct State {
    pub tokens: RwLock<HashMap<String, Token>>,
    /// The live token of each (corpid, corpsecret): WeCom hands the same one out again until it
    /// expires ("有效期内重复获取返回相同结果").
    pub current: Mutex<HashMap<(String, String), String>>,
    pub sent: Mutex<HashMap<String, Sent>>,
    pub media: Mutex<HashMap<String, Media>>,
    pub seen: Mutex<HashMap<String, Seen>>,
}

impl State {
    pub fn clear(&self) {
        self.tokens.write().clear();
        self.current.lock().clear();
        self.sent.lock().clear();
        self.media.lock().clear();
        self.seen.lock().clear();
    }

    pub fn revoke(&self, corpid: Option<&str>) -> usize {
        let mut n = 0;
        for t in self.tokens.write().values_mut() {
            if corpid.is_none_or(|c| c == t.corpid) && !t.revoked {
                t.revoked = true;
                n += 1;
            }
        }
        n
    }
}

/// Forgets the oldest half of a map that grew past [`KEEP`] (by the given age).
pub(crate) fn trim<V>(map: &mut HashMap<String, V>, age: impl Fn(&V) -> i64) {
    if map.len() <= KEEP {
        return;
    }
    let mut ages: Vec<i64> = map.values().map(&age).collect();
    ages.sort_unstable();
    let cut = ages[ages.len() / 2];
    map.retain(|_, v| age(v) > cut);
}

/// The caller of an API that takes `?access_token=`.
pub(crate) struct Caller {
    pub corpid: String,
    pub agentid: Option<i64>,
    pub mono: u64,
}

/// Token check (41001 missing, 40014 unknown or revoked, 42001 expired) and the company
/// per-API cap (45009; UPSTREAM-FACTS "per company per API 10,000/min").
pub(crate) fn caller(sim: &Inner, inc: &Incoming) -> Result<Caller, Reply> {
    let token = inc.query_param("access_token").unwrap_or_default();
    if token.is_empty() {
        return Err(wecom(41001, "access_token missing", None));
    }
    let (corpid, agentid) = {
        let tokens = sim.wecom.tokens.read();
        match tokens.get(&token) {
            None => return Err(wecom(40014, "invalid access_token", None)),
            Some(t) if t.revoked => return Err(wecom(40014, "invalid access_token", None)),
            Some(t) if t.expires_ms <= inc.now_ms => {
                return Err(wecom(42001, "access_token expired", None).client(Some(&t.corpid)))
            }
            Some(t) => (t.corpid.clone(), t.agentid),
        }
    };
    let mono = company_cap(sim, &corpid, &inc.path).map_err(|r| r.client(Some(&corpid)))?;
    Ok(Caller {
        corpid,
        agentid,
        mono,
    })
}

/// The company per-API minute cap; `Err` is the 45009 answer.
pub(crate) fn company_cap(sim: &Inner, corpid: &str, path: &str) -> Result<u64, Reply> {
    let limit = sim.caps.read().wecom_company_per_minute;
    let key = format!("wc|{corpid}|{path}");
    let check = [Check {
        key: &key,
        window_us: 60 * SECOND_US,
        limit,
    }];
    match sim.windows.admit_staged(&sim.clock, &[&check]) {
        (mono, Ok(())) => Ok(mono),
        (mono, Err(_)) => Err(wecom(45009, "api freq out of limit", None)
            .at(mono)
            .note("cap:wecom_company_per_minute")),
    }
}

/// Applies the per-member per-app caps (30 in any minute, 1000 in any hour): members over
/// either are dropped — WeCom answers ok and delivers nothing to them (UPSTREAM-FACTS).
/// `scope` names the app. Returns who got the message and who was dropped.
pub(crate) fn member_caps(sim: &Inner, scope: &str, members: &[String]) -> crate::calls::MemberUse {
    let caps = *sim.caps.read();
    let keys: Vec<(String, String)> = members
        .iter()
        .map(|m| (format!("wm|{scope}|{m}"), format!("wh|{scope}|{m}")))
        .collect();
    let groups: Vec<[Check<'_>; 2]> = keys
        .iter()
        .map(|(minute, hour)| {
            [
                Check {
                    key: minute,
                    window_us: 60 * SECOND_US,
                    limit: caps.member_per_minute,
                },
                Check {
                    key: hour,
                    window_us: 3600 * SECOND_US,
                    limit: caps.member_per_hour,
                },
            ]
        })
        .collect();
    let (_, admitted) = sim.windows.admit_each(&sim.clock, &groups);
    let mut use_ = crate::calls::MemberUse {
        scope: scope.to_owned(),
        ..Default::default()
    };
    for (m, ok) in members.iter().zip(admitted) {
        if ok {
            use_.delivered.push(m.clone());
        } else {
            use_.dropped.push(m.clone());
        }
    }
    use_
}
