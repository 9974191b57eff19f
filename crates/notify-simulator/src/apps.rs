//! Registered apps (`POST /_sim/apps`).
//!
//! Without registration any non-empty credential works, so the gateway's defaults run against
//! the simulator untouched. A registered app requires its exact secret, which is how tests
//! reach the credential errors (WeLink 10007 then 41403 after five failures, WeCom 40001,
//! OAuth `invalid_client`), and may deny WeLink interfaces (`501`, 000 line 514).

use std::collections::HashMap;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

/// Wrong WeLink secrets tolerated before the client_id is locked (41403).
pub(crate) const WELINK_LOCK_AFTER: u32 = 5;

/// Which upstream credential an app is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AppKind {
    /// WeLink and Xiaowei (client_id / client_secret).
    Welink,
    /// WeCom app API (corpid / corpsecret, optional agentid).
    Wecom,
    /// The work-ID platform's OAuth2 client (client id / secret).
    #[serde(alias = "workid", alias = "wecom_workid")]
    Oauth,
}

/// One app as posted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AppSpec {
    pub kind: AppKind,
    #[serde(alias = "corpid")]
    pub client_id: String,
    #[serde(alias = "corpsecret", alias = "secret")]
    pub client_secret: String,
    /// WeLink paths (with or without `/api`) this app may not call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_interfaces: Vec<String>,
    /// WeCom: the agent whose secret this is; a send with another agentid gets 301002.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentid: Option<i64>,
}

/// Outcome of checking a secret.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SecretCheck {
    /// Unregistered (any secret goes) or the right secret.
    Ok,
    Wrong,
    /// WeLink only: too many wrong secrets.
    Locked,
}

#[derive(Default)]
pub(crate) struct Apps {
    apps: RwLock<HashMap<(AppKind, String), AppSpec>>,
    failures: Mutex<HashMap<String, u32>>,
}

impl Apps {
    pub fn register(&self, spec: AppSpec) {
        if spec.kind == AppKind::Welink {
            self.failures.lock().remove(&spec.client_id);
        }
        self.apps
            .write()
            .insert((spec.kind, spec.client_id.clone()), spec);
    }

    pub fn list(&self) -> Vec<AppSpec> {
        self.apps.read().values().cloned().collect()
    }

    pub fn remove_all(&self) {
        self.apps.write().clear();
        self.failures.lock().clear();
    }

    pub fn clear_failures(&self) {
        self.failures.lock().clear();
    }

    pub fn get(&self, kind: AppKind, id: &str) -> Option<AppSpec> {
        self.apps.read().get(&(kind, id.to_owned())).cloned()
    }

    /// Checks a secret; for WeLink also counts failures and locks after
    /// [`WELINK_LOCK_AFTER`] of them (000 line 503: "失败次数过多，被锁定").
    pub fn check(&self, kind: AppKind, id: &str, secret: &str) -> SecretCheck {
        let apps = self.apps.read();
        let Some(app) = apps.get(&(kind, id.to_owned())) else {
            return SecretCheck::Ok;
        };
        if kind != AppKind::Welink {
            return if app.client_secret == secret {
                SecretCheck::Ok
            } else {
                SecretCheck::Wrong
            };
        }
        let mut failures = self.failures.lock();
        let n = failures.entry(id.to_owned()).or_insert(0);
        if *n >= WELINK_LOCK_AFTER {
            return SecretCheck::Locked;
        }
        if app.client_secret == secret {
            *n = 0;
            SecretCheck::Ok
        } else {
            *n += 1;
            SecretCheck::Wrong
        }
    }

    /// Whether a WeLink app may call `path` (an `/api/...` path).
    pub fn welink_allows(&self, client_id: &str, path: &str) -> bool {
        let apps = self.apps.read();
        let Some(app) = apps.get(&(AppKind::Welink, client_id.to_owned())) else {
            return true;
        };
        let rel = path.strip_prefix("/api").unwrap_or(path);
        !app.denied_interfaces.iter().any(|d| d == rel || d == path)
    }
}
