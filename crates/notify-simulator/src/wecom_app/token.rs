//! `GET /cgi-bin/gettoken`, `GET /cgi-bin/get_jsapi_ticket`, `GET /cgi-bin/ticket/get`.

use serde_json::{json, Map};

use crate::apps::{AppKind, SecretCheck};
use crate::reply::{wecom, Incoming, Reply};
use crate::wecom_app::{caller, company_cap, Token};
use crate::{ids, Inner};

/// `gettoken?corpid=&corpsecret=` → `{errcode, errmsg, access_token, expires_in}`.
/// Empty corpid 41002, empty secret 41004, a registered app's wrong secret 40001; `gettoken`
/// counts against the company per-API cap too (45009).
pub(crate) fn gettoken(sim: &Inner, inc: &Incoming) -> Reply {
    let corpid = inc.query_param("corpid").unwrap_or_default();
    let secret = inc.query_param("corpsecret").unwrap_or_default();
    if corpid.trim().is_empty() {
        return wecom(41002, "corpid missing", None);
    }
    if secret.trim().is_empty() {
        return wecom(41004, "corpsecret missing", None);
    }
    let mono = match company_cap(sim, &corpid, &inc.path) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if sim.apps.check(AppKind::Wecom, &corpid, &secret) == SecretCheck::Wrong {
        return wecom(40001, "invalid credential", None).at(mono);
    }
    let agentid = sim
        .apps
        .get(AppKind::Wecom, &corpid)
        .and_then(|a| a.agentid);
    let ttl_ms = sim.modes.read().wecom_token_ttl_s * 1000;
    let now = inc.now_ms;
    let mut current = sim.wecom.current.lock();
    let mut tokens = sim.wecom.tokens.write();
    let key = (corpid.clone(), secret);
    let live = current
        .get(&key)
        .and_then(|t| tokens.get(t).map(|info| (t.clone(), info)))
        .filter(|(_, info)| !info.revoked && info.expires_ms > now)
        .map(|(t, info)| (t, info.expires_ms));
    let (token, expires_ms) = match live {
        Some(l) => l,
        None => {
            let t = ids::url_safe(64);
            tokens.insert(
                t.clone(),
                Token {
                    corpid: corpid.clone(),
                    agentid,
                    expires_ms: now + ttl_ms,
                    revoked: false,
                },
            );
            current.insert(key, t.clone());
            (t, now + ttl_ms)
        }
    };
    let mut extra = Map::new();
    extra.insert("access_token".into(), json!(token));
    extra.insert("expires_in".into(), json!((expires_ms - now) / 1000));
    wecom(0, "ok", Some(extra)).at(mono).client(Some(&corpid))
}

fn ticket(sim: &Inner, inc: &Incoming, agent_config: bool) -> Reply {
    let c = match caller(sim, inc) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if agent_config && inc.query_param("type").as_deref() != Some("agent_config") {
        return wecom(40058, "invalid type: expected agent_config", None)
            .at(c.mono)
            .client(Some(&c.corpid));
    }
    let mut extra = Map::new();
    extra.insert("ticket".into(), json!(ids::alnum(86)));
    extra.insert("expires_in".into(), json!(7200));
    wecom(0, "ok", Some(extra))
        .at(c.mono)
        .client(Some(&c.corpid))
}

/// The corp JS-SDK ticket (003 lines 407–416: `errcode`, `errmsg`, `ticket`, `expires_in` 7200).
pub(crate) fn jsapi_ticket(sim: &Inner, inc: &Incoming) -> Reply {
    ticket(sim, inc, false)
}

/// The app ticket for `agentConfig`/`ww.register`: `type=agent_config` is required.
pub(crate) fn agent_ticket(sim: &Inner, inc: &Incoming) -> Reply {
    ticket(sim, inc, true)
}
