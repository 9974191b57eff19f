//! `POST /api/auth/v2/tickets` (000 lines 425–510).

use serde_json::{json, Map, Value};

use crate::apps::{AppKind, SecretCheck};
use crate::caps::{Check, SECOND_US};
use crate::reply::{welink, Incoming, Reply};
use crate::welink::{interface, Token};
use crate::{ids, Inner};

fn body_str<'a>(inc: &'a Incoming, k: &str) -> &'a str {
    inc.object()
        .and_then(|o| o.get(k))
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
}

/// Hands out a token: `{"code":"0","message":"ok","access_token":...,"expires_in":7200}`.
pub(crate) fn tickets(sim: &Inner, inc: &Incoming) -> Reply {
    let caps = *sim.caps.read();
    let client_id = body_str(inc, "client_id");
    let secret = body_str(inc, "client_secret");
    // Token fetches are WeLink-host calls: they count against the per-IP cap (000 line 723)
    // and, being an interface, against the client_id's per-interface caps (line 725).
    let ip_key = format!("ip|{}", inc.peer_ip);
    let iface = interface(&inc.path);
    let sec_key = format!("s|{client_id}|{iface}");
    let min_key = format!("m|{client_id}|{iface}");
    let ip = [Check {
        key: &ip_key,
        window_us: 20 * SECOND_US,
        limit: caps.per_ip_20s,
    }];
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
    let lane: &[Check<'_>] = if client_id.is_empty() {
        &[]
    } else {
        &lane_checks
    };
    let (mono, admitted) = sim.windows.admit_staged(&sim.clock, &[&ip, lane]);
    if admitted.is_err() {
        return welink("48503", "接口调用频率超过限制", None).at(mono);
    }
    if inc.object().is_none() {
        return welink(
            "41500",
            "获取access_token异常: body is not a JSON object",
            None,
        )
        .at(mono);
    }
    if client_id.is_empty() {
        return welink("41579", "clientId为空", None).at(mono);
    }
    if secret.is_empty() {
        return welink("41580", "clientSecret为空", None).at(mono);
    }
    match sim.apps.check(AppKind::Welink, client_id, secret) {
        SecretCheck::Locked => {
            return welink(
                "41403",
                "通过clientId获取access_token失败次数过多，被锁定",
                None,
            )
            .at(mono)
        }
        SecretCheck::Wrong => return welink("10007", "clientId或clientSecret有误", None).at(mono),
        SecretCheck::Ok => {}
    }
    let ttl = sim.modes.read().welink_token_ttl_s;
    let token = ids::uuid();
    sim.welink.tokens.write().insert(
        token.clone(),
        Token {
            client_id: client_id.to_owned(),
            expires_ms: inc.now_ms + ttl * 1000,
            revoked: false,
        },
    );
    let mut extra = Map::new();
    extra.insert("access_token".into(), json!(token));
    extra.insert("expires_in".into(), json!(ttl));
    welink("0", "ok", Some(extra))
        .at(mono)
        .client(Some(client_id))
}
