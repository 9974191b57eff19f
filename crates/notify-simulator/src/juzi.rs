//! Juzi sidebar OAuth (001 lines 105–136): `GET /oauth/connect/authorize` redirects back with a
//! single-use `code`; `GET /api/v1/oauth/getUserInfo?code=` exchanges it for the hosted
//! account's identity.

use std::collections::HashMap;

use axum::http::StatusCode;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::reply::{Incoming, Reply};
use crate::{ids, Inner};

/// "5分钟未被使用自动过期" (001 line 113).
const CODE_TTL_MS: i64 = 5 * 60 * 1000;
const CODE_LEN: usize = 32;

/// The identity `getUserInfo` returns (001 lines 114–136).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JuziUser {
    pub user_id: String,
    pub corp_id: String,
    pub bot_id: String,
    pub org_id: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Default for JuziUser {
    /// The document's sample account (001 lines 117–125).
    fn default() -> Self {
        Self {
            user_id: "userId".into(),
            corp_id: "ww5ecc1acd5dce6e9d".into(),
            bot_id: "647844cd6059597fc5c79f38".into(),
            org_id: "644a448ab93794cbdccf93cb".into(),
            uid: "644a448ab93794cbdccf93ca".into(),
            email: Some("donghao_12_15@163.com".into()),
            name: Some("句子".into()),
        }
    }
}

/// A partial update of the signed-in user (`POST /_sim/juzi/user`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct JuziUserUpdate {
    pub user_id: Option<String>,
    pub corp_id: Option<String>,
    pub bot_id: Option<String>,
    pub org_id: Option<String>,
    pub uid: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

struct Code {
    user: JuziUser,
    issued_ms: i64,
    used: bool,
}

#[derive(Default)]
pub(crate) struct State {
    codes: Mutex<HashMap<String, Code>>,
    user: RwLock<JuziUser>,
}

impl State {
    pub fn clear(&self) {
        self.codes.lock().clear();
        *self.user.write() = JuziUser::default();
    }

    /// Who the following authorizations sign in.
    pub fn user(&self) -> JuziUser {
        self.user.read().clone()
    }

    /// Changes who the following authorizations sign in (until changed again or reset).
    pub fn set_user(&self, u: JuziUserUpdate) -> JuziUser {
        let mut cur = self.user.write();
        let set = |slot: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut cur.user_id, u.user_id);
        set(&mut cur.corp_id, u.corp_id);
        set(&mut cur.bot_id, u.bot_id);
        set(&mut cur.org_id, u.org_id);
        set(&mut cur.uid, u.uid);
        if u.email.is_some() {
            cur.email = u.email;
        }
        if u.name.is_some() {
            cur.name = u.name;
        }
        cur.clone()
    }
}

fn bad_request(msg: &str) -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        json!({"errcode": 400, "errmsg": msg}),
        "400",
    )
}

/// `state`: "a-zA-Z0-9的参数值,长度不可超过128个字节" (001 line 109).
fn state_ok(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `authorize?redirect_uri=&state=` → 302 to `redirect_uri` with `code` (and `state` when
/// given). A bad `state` or a missing or non-http(s) `redirect_uri` is answered 400.
pub(crate) fn authorize(sim: &Inner, inc: &Incoming) -> Reply {
    let Some(redirect) = inc.query_param("redirect_uri").filter(|r| !r.is_empty()) else {
        return bad_request("redirect_uri is required");
    };
    let mut url = match url::Url::parse(&redirect) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => return bad_request("redirect_uri must be an absolute http(s) URL"),
    };
    let state = inc.query_param("state");
    if let Some(s) = &state {
        if !state_ok(s) {
            return bad_request("state must be [a-zA-Z0-9], 1-128 bytes");
        }
    }
    let code = ids::alnum(CODE_LEN);
    let user = sim.juzi.user.read().clone();
    {
        let mut codes = sim.juzi.codes.lock();
        codes.retain(|_, c| inc.now_ms - c.issued_ms <= CODE_TTL_MS * 12);
        codes.insert(
            code.clone(),
            Code {
                user,
                issued_ms: inc.now_ms,
                used: false,
            },
        );
    }
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(s) = &state {
            q.append_pair("state", s);
        }
    }
    Reply::redirect(url.into())
}

fn user_error(errcode: i64, errmsg: &str) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({"errcode": errcode, "errmsg": errmsg}),
        errcode.to_string(),
    )
}

/// `getUserInfo?code=`: 0 ok; -1 missing or malformed code; -4 a well-formed code never
/// issued; -2 a code already used or older than 5 minutes ("code只能使用一次,5分钟未被使用自动
/// 过期", 001 line 113).
pub(crate) fn get_user_info(sim: &Inner, inc: &Incoming) -> Reply {
    let code = inc.query_param("code").unwrap_or_default();
    if code.len() != CODE_LEN || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return user_error(-1, "无效的授权码");
    }
    let mut codes = sim.juzi.codes.lock();
    let Some(c) = codes.get_mut(&code) else {
        return user_error(-4, "未找到授权码");
    };
    if c.used || inc.now_ms - c.issued_ms > CODE_TTL_MS {
        return user_error(-2, "授权码已过期");
    }
    c.used = true;
    Reply::json(
        StatusCode::OK,
        json!({"errcode": 0, "errmsg": "", "data": c.user}),
        "0",
    )
    .client(Some(&c.user.corp_id))
}
