//! Xiaowei push, `POST /api/athenaservice/v1/contextaware/push` (000 lines 1519–1640).

use chrono::{Days, NaiveDate};
use serde_json::{json, Map};

use crate::clock::shanghai_date;
use crate::fields::{chars, has_scheme, opt_str, opt_str_list, Obj};
use crate::reply::{welink, Incoming, Reply};
use crate::welink::{gate, Api};
use crate::{ids, Inner};

fn param(reason: impl AsRef<str>) -> Reply {
    welink("58601", &format!("参数校验失败: {}", reason.as_ref()), None)
}

/// A link: `urlCn`/`urlEn` take http, https and h5; the icons http and https; 1–1024 long
/// (000 lines 1560–1563).
fn link(o: &Obj, k: &str, schemes: &[&str]) -> Result<(), String> {
    if let Some(u) = opt_str(o, k)? {
        let n = chars(u);
        if !(1..=1024).contains(&n) {
            return Err(format!("{k} is {n} characters, 1-1024 allowed"));
        }
        if !has_scheme(u, schemes) {
            return Err(format!("{k} must start with {}", schemes.join(" or ")));
        }
    }
    Ok(())
}

fn validate(o: &Obj, today: NaiveDate) -> Result<Vec<String>, String> {
    let users = opt_str_list(o, "toUserList")?.unwrap_or_default();
    if users.is_empty() {
        return Err("toUserList is required".into());
    }
    if users.len() > 5000 {
        return Err(format!("toUserList has {} ids, at most 5000", users.len()));
    }
    let title = opt_str(o, "titleCn")?.unwrap_or("");
    if !(1..=32).contains(&chars(title)) {
        return Err(format!(
            "titleCn is {} characters, 1-32 allowed",
            chars(title)
        ));
    }
    if let Some(t) = opt_str(o, "titleEn")? {
        if !(1..=128).contains(&chars(t)) {
            return Err(format!("titleEn is {} characters, 1-128 allowed", chars(t)));
        }
    }
    // endDate "YYYY-MM-DD", default end of today, "最多不超过未来7天" (line 1559).
    if let Some(d) = opt_str(o, "endDate")? {
        let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()
            .filter(|_| d.len() == 10)
            .ok_or_else(|| format!("endDate {d:?} is not YYYY-MM-DD"))?;
        let last = today.checked_add_days(Days::new(7)).unwrap_or(today);
        if date < today || date > last {
            return Err(format!("endDate {d} is not between {today} and {last}"));
        }
    }
    link(o, "urlCn", &["http://", "https://", "h5://"])?;
    link(o, "urlEn", &["http://", "https://", "h5://"])?;
    link(o, "iconUrlCn", &["http://", "https://"])?;
    link(o, "iconUrlEn", &["http://", "https://"])?;
    Ok(users.into_iter().map(str::to_owned).collect())
}

/// One push. Order: the shared gate (per-IP and per-interface caps → 58602, token → 58401),
/// then the daily quota (every call that gets this far counts, valid or not: "每个企业每天只允许
/// 调用此接口100次", line 1523), then the fields (58601), then accounts (58606 for ids starting
/// with `invalid`).
pub(crate) fn push(sim: &Inner, inc: &Incoming) -> Reply {
    let (client, mono) = match gate(sim, inc, Api::Xiaowei) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = |r: Reply| r.at(mono).client(Some(&client));
    let today = shanghai_date(inc.now_ms);
    let quota = sim.caps.read().xiaowei_daily;
    {
        let mut days = sim.welink.xiaowei_days.lock();
        let used = days.entry((client.clone(), today)).or_insert(0);
        if *used >= quota {
            return done(welink("58604", "已超过今日调用最大次数限制", None))
                .note(format!("quota_day:{today}"));
        }
        *used += 1;
    }
    let Some(o) = inc.object() else {
        return done(param("body is not a JSON object"));
    };
    let users = match validate(o, today) {
        Ok(u) => u,
        Err(e) => return done(param(e)),
    };
    let illegal: Vec<&String> = users.iter().filter(|u| u.starts_with("invalid")).collect();
    if !illegal.is_empty() {
        return done(welink(
            "58606",
            &format!("接收人ID中存在非法账号: {}", json!(illegal)),
            None,
        ));
    }
    let mut extra = Map::new();
    extra.insert("data".into(), json!({"pushId": ids::uuid()}));
    done(welink("0", "ok", Some(extra))).note(format!("quota_day:{today}"))
}
