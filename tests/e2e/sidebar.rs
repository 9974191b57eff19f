//! The sidebar over real HTTP: the gateway's API and the sidebar on one port, the simulator
//! standing in for Juzi and WeCom, on a fresh SQLite file and a fresh Postgres schema.

// The in-process API + sidebar + simulator this test alone uses (not the binary harness).
#[path = "sidebar_app/mod.rs"]
mod common;

use common::Env;
use serde_json::json;

on_both_backends!(
    oauth_good_code_opens_a_session,
    oauth_reused_code_bad_state_and_juzi_errors_are_refused,
    api_calls_need_the_session_and_the_csrf_header,
    an_agent_sees_and_reports_only_its_own_scope,
    reports_are_idempotent,
    expiry_while_waiting,
    recall_cancels_waiting_and_sent_is_not_recallable,
    jsapi_signatures_use_shared_cached_tickets,
    connection_resets_answer_no_secret_to_the_browser,
    the_page_may_run_only_its_scripts_and_be_framed_only_by_juzi,
);

/// The simulator's default Juzi account (001 lines 121–129).
const BOT: &str = "647844cd6059597fc5c79f38";
const CHAT: &str = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA";

async fn oauth_good_code_opens_a_session(env: Env) {
    let login = env.get("/sidebar/login", &[]).await;
    assert_eq!(login.status(), 302);
    let state_cookie = common::set_cookie(&login, "notify_sidebar_state").unwrap();
    assert!(state_cookie.contains("HttpOnly") && state_cookie.contains("SameSite=Lax"));
    assert!(
        !state_cookie.contains("Secure"),
        "plain http: no Secure flag"
    );
    let to_juzi = common::location(&login);
    assert!(to_juzi.starts_with(&format!(
        "{}/oauth/connect/authorize?redirect_uri=",
        env.sim
    )));
    let state = common::param(&to_juzi, "state").unwrap();
    assert!(state.len() <= 128 && state.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        common::param(&to_juzi, "redirect_uri").unwrap(),
        format!("{}/sidebar/oauth/callback", env.base)
    );

    let agent = env.sign_in().await;
    let me = env.api(&agent, "GET", "/sidebar/api/session", None).await;
    assert_eq!(me.0, 200, "{}", me.1);
    assert_eq!(me.1["bot_id"], BOT);
    assert_eq!(me.1["corp_id"], "ww5ecc1acd5dce6e9d");
    assert_eq!(me.1["user_id"], "userId");
    assert_eq!(me.1["channel"], "juzi");
    assert_eq!(
        me.1["native"],
        json!({"corp_id": "sandbox-corp", "agent_id": 1_000_002})
    );
    // The page is served to the signed-in agent; without a session it sends to sign-in.
    let page = env.get_with("/sidebar/", &agent.cookie).await;
    assert_eq!(page.status(), 200);
    assert!(!page.text().await.unwrap().contains("sandbox-bridge"));
    // Outside the sandbox there is no wx bridge to load.
    let bridge = env.get("/sidebar/sandbox-bridge.js", &[]).await;
    assert_eq!(bridge.status(), 404);
    let anon = env.get("/sidebar/", &[]).await;
    assert_eq!(anon.status(), 303);
    assert_eq!(common::location(&anon), "/sidebar/login");
}

/// A refused callback: its status and page text; it must not open a session.
async fn refused(r: reqwest::Response) -> (u16, String) {
    assert!(
        common::set_cookie(&r, "notify_sidebar").is_none(),
        "a refused sign-in opened a session"
    );
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn oauth_reused_code_bad_state_and_juzi_errors_are_refused(env: Env) {
    // A good sign-in, whose code and state are then replayed.
    let (state, state_cookie, callback) = env.start_login().await;
    let code = common::param(&callback, "code").unwrap();
    let ok = env.callback(&code, &state, Some(&state_cookie)).await;
    assert_eq!(ok.status(), 303);
    // The same state again: refused (kept server-side, used once).
    let (st, text) = refused(env.callback(&code, &state, Some(&state_cookie)).await).await;
    assert_eq!(st, 400);
    assert!(text.contains("already used"), "{text}");
    // The used code with a fresh state: Juzi answers -2.
    let (state2, cookie2, _) = env.start_login().await;
    let (st, text) = refused(env.callback(&code, &state2, Some(&cookie2)).await).await;
    assert_eq!(st, 400);
    assert!(text.contains("-2"), "{text}");
    // A state this browser was not given, one never issued, and malformed ones.
    let (state3, _cookie3, cb3) = env.start_login().await;
    let code3 = common::param(&cb3, "code").unwrap();
    let foreign = env
        .callback(&code3, &state3, Some("notify_sidebar_state=someoneElse"))
        .await;
    assert_eq!(refused(foreign).await.0, 400);
    let no_cookie = env.callback(&code3, &state3, None).await;
    assert_eq!(refused(no_cookie).await.0, 400);
    let unknown = env
        .callback(
            &code3,
            "NeverIssued1",
            Some("notify_sidebar_state=NeverIssued1"),
        )
        .await;
    assert_eq!(refused(unknown).await.0, 400);
    let bad = env
        .callback(&code3, "ab-c", Some("notify_sidebar_state=ab-c"))
        .await;
    assert_eq!(refused(bad).await.0, 400);
    let long = "a".repeat(129);
    let too_long = env
        .callback(&code3, &long, Some(&format!("notify_sidebar_state={long}")))
        .await;
    assert_eq!(refused(too_long).await.0, 400);
    // A code Juzi never issued (-4), and Juzi's unknown error (-5).
    let (s4, c4, _) = env.start_login().await;
    let (st, text) = refused(env.callback(&"Z".repeat(32), &s4, Some(&c4)).await).await;
    assert_eq!(st, 400);
    assert!(text.contains("-4"), "{text}");
    env.sim_post(
        "/_sim/faults",
        json!({"path": "/api/v1/oauth/getUserInfo", "kind": "code", "code": "-5", "count": 1}),
    )
    .await;
    let (s5, c5, cb5) = env.start_login().await;
    let code5 = common::param(&cb5, "code").unwrap();
    let (st, text) = refused(env.callback(&code5, &s5, Some(&c5)).await).await;
    assert_eq!(st, 502, "{text}");
}

async fn api_calls_need_the_session_and_the_csrf_header(env: Env) {
    let agent = env.sign_in().await;
    let path = format!("/sidebar/api/pending?chat_id={CHAT}");
    let none = env.raw("GET", &path, None, None, None).await;
    assert_eq!(none.0, 401);
    let no_csrf = env.raw("GET", &path, Some(&agent.cookie), None, None).await;
    assert_eq!(no_csrf.0, 403);
    let wrong = env
        .raw(
            "GET",
            &path,
            Some(&agent.cookie),
            Some("x".repeat(32).as_str()),
            None,
        )
        .await;
    assert_eq!(wrong.0, 403);
    // A cookie signed with another secret (or edited) is no session.
    let forged = notify_sidebar::session::seal(
        &notify_sidebar::session::Session {
            channel: "juzi".into(),
            bot_id: BOT.into(),
            corp_id: "c".into(),
            user_id: "u".into(),
            name: None,
            tenant: None,
            csrf: "abc".into(),
            expires_at: i64::MAX,
        },
        b"not the gateway's secret",
    );
    let r = env
        .raw(
            "GET",
            &path,
            Some(&format!("notify_sidebar={forged}")),
            Some("abc"),
            None,
        )
        .await;
    assert_eq!(r.0, 401);
    let ok = env.api(&agent, "GET", &path, None).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let neither = env.api(&agent, "GET", "/sidebar/api/pending", None).await;
    assert_eq!(neither.0, 400);
    let both = env
        .api(&agent, "GET", &format!("{path}&contact_id=wm1"), None)
        .await;
    assert_eq!(both.0, 400);
    // The session ends.
    env.clock.advance_ms(13 * 3600 * 1000);
    assert_eq!(env.api(&agent, "GET", &path, None).await.0, 401);
}

async fn an_agent_sees_and_reports_only_its_own_scope(env: Env) {
    let agent = env.sign_in().await;
    let text = env
        .post_message(
            common::SENDER,
            json!({"title": "Disk almost full", "content": "db-3 /var at 95%",
            "targets": [{"channel": "juzi", "chat_id": CHAT}]}),
        )
        .await;
    let news = env
        .post_message(
            common::SENDER,
            json!({"title": "Runbook", "content": "Restart db-3", "url": "https://ops.example/rb",
            "targets": [{"channel": "juzi", "chat_id": CHAT, "bot_id": BOT}]}),
        )
        .await;
    let other_bot = env
        .post_message(
            common::SENDER,
            json!({"content": "not yours",
            "targets": [{"channel": "juzi", "chat_id": CHAT, "bot_id": "another-bot"}]}),
        )
        .await;
    let other_tenant = env
        .post_message(
            common::OTHER,
            json!({"content": "another tenant",
            "targets": [{"channel": "juzi", "chat_id": CHAT}]}),
        )
        .await;
    let other_chat = env
        .post_message(
            common::SENDER,
            json!({"content": "another chat",
            "targets": [{"channel": "juzi", "chat_id": "wrElsewhere"}]}),
        )
        .await;
    let contact = env
        .post_message(
            common::SENDER,
            json!({"content": "one to one",
            "targets": [{"channel": "juzi", "contact_id": "wmContact1"}]}),
        )
        .await;

    let (st, body) = env
        .api(
            &agent,
            "GET",
            &format!("/sidebar/api/pending?chat_id={CHAT}"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let list = body["deliveries"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{body}");
    assert!(ids.contains(&text.1.as_str()) && ids.contains(&news.1.as_str()));
    let t = list.iter().find(|d| d["id"] == text.1.as_str()).unwrap();
    assert_eq!(t["type"], "text");
    assert_eq!(t["title"], "Disk almost full");
    assert_eq!(t["preview"], "Disk almost full\ndb-3 /var at 95%");
    assert_eq!(
        t["payloads"],
        json!([{"msgtype": "text", "text": {"content": "Disk almost full\ndb-3 /var at 95%"}}])
    );
    let n = list.iter().find(|d| d["id"] == news.1.as_str()).unwrap();
    assert_eq!(
        n["payloads"],
        json!([{"msgtype": "news", "news": {"link": "https://ops.example/rb", "title": "Runbook", "desc": "Restart db-3"}}])
    );
    let (_, by_contact) = env
        .api(
            &agent,
            "GET",
            "/sidebar/api/pending?contact_id=wmContact1",
            None,
        )
        .await;
    assert_eq!(by_contact["deliveries"][0]["id"], contact.1.as_str());

    // Reports on deliveries out of scope are 404, like ids that do not exist.
    for (_, d) in [&other_bot, &other_tenant] {
        let r = env.report(&agent, d, json!({"ok": true})).await;
        assert_eq!(r.0, 404, "{}", r.1);
    }
    assert_eq!(
        env.report(&agent, "dlv_nope", json!({"ok": true})).await.0,
        404
    );
    // Another chat of the same bot and tenant: the agent may report it (the chat is not
    // something the gateway can verify; bot and tenant are).
    assert_eq!(
        env.report(&agent, &other_chat.1, json!({"ok": true}))
            .await
            .0,
        200
    );
    // Untouched by the refused reports.
    assert_eq!(
        env.delivery_status(common::SENDER, &other_bot.0).await,
        "awaiting_agent"
    );
    assert_eq!(
        env.delivery_status(common::OTHER, &other_tenant.0).await,
        "awaiting_agent"
    );
    // Bad bodies.
    assert_eq!(
        env.report(&agent, &text.1, json!({"ok": "yes"})).await.0,
        400
    );
}

async fn reports_are_idempotent(env: Env) {
    let agent = env.sign_in().await;
    let a = env
        .post_message(
            common::SENDER,
            json!({"content": "one", "targets": [{"channel": "juzi", "chat_id": CHAT}]}),
        )
        .await;
    let b = env
        .post_message(
            common::SENDER,
            json!({"content": "two", "targets": [{"channel": "juzi", "chat_id": CHAT}]}),
        )
        .await;
    let first = env.report(&agent, &a.1, json!({"ok": true})).await;
    assert_eq!(first, (200, json!({"id": a.1, "status": "sent"})));
    let again = env.report(&agent, &a.1, json!({"ok": true})).await;
    assert_eq!(again, first);
    let contradicting = env
        .report(&agent, &a.1, json!({"ok": false, "reason": "url is empty"}))
        .await;
    assert_eq!(contradicting.0, 409);
    assert_eq!(contradicting.1["status"], "sent");
    assert_eq!(env.delivery_status(common::SENDER, &a.0).await, "sent");

    let failed = env
        .report(
            &agent,
            &b.1,
            json!({"ok": false, "reason": "text content is empty"}),
        )
        .await;
    assert_eq!(failed, (200, json!({"id": b.1, "status": "failed"})));
    let again = env
        .report(
            &agent,
            &b.1,
            json!({"ok": false, "reason": "text content is empty"}),
        )
        .await;
    assert_eq!(again.0, 200);
    let m = env.message(common::SENDER, &b.0).await;
    assert_eq!(m["status"], "failed");
    assert_eq!(m["deliveries"][0]["status"], "failed");
    assert_eq!(m["deliveries"][0]["last_error"], "text content is empty");
    // Reported deliveries leave the list.
    let (_, body) = env
        .api(
            &agent,
            "GET",
            &format!("/sidebar/api/pending?chat_id={CHAT}"),
            None,
        )
        .await;
    assert_eq!(body["deliveries"], json!([]));
}

async fn expiry_while_waiting(env: Env) {
    let agent = env.sign_in().await;
    let expires = notify_core::clock::ms_to_rfc3339(env.store.now_ms() + 600_000);
    let m = env
        .post_message(
            common::SENDER,
            json!({"content": "soon stale", "expires_at": expires,
            "targets": [{"channel": "juzi", "chat_id": CHAT}]}),
        )
        .await;
    let path = format!("/sidebar/api/pending?chat_id={CHAT}");
    assert_eq!(
        env.api(&agent, "GET", &path, None).await.1["deliveries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    env.clock.advance_ms(600_000);
    // Past its deadline it is no longer offered, even before the sweep runs...
    assert_eq!(
        env.api(&agent, "GET", &path, None).await.1["deliveries"],
        json!([])
    );
    // ...and the sweep expires it; a late report cannot revive it.
    let report = env.store.outbox().sweep().await.unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(env.delivery_status(common::SENDER, &m.0).await, "expired");
    let late = env.report(&agent, &m.1, json!({"ok": true})).await;
    assert_eq!(late.0, 409);
    assert_eq!(late.1["status"], "expired");
    assert_eq!(env.message(common::SENDER, &m.0).await["status"], "expired");
}

async fn recall_cancels_waiting_and_sent_is_not_recallable(env: Env) {
    let agent = env.sign_in().await;
    let waiting = env
        .post_message(
            common::SENDER,
            json!({"content": "oops", "targets": [{"channel": "juzi", "chat_id": CHAT}]}),
        )
        .await;
    let sent = env
        .post_message(
            common::SENDER,
            json!({"content": "fine", "targets": [{"channel": "juzi", "chat_id": CHAT}]}),
        )
        .await;
    let r = env.recall(common::SENDER, &waiting.0).await;
    assert_eq!(r["deliveries"][0]["status"], "cancelled", "{r}");
    let (_, body) = env
        .api(
            &agent,
            "GET",
            &format!("/sidebar/api/pending?chat_id={CHAT}"),
            None,
        )
        .await;
    let ids: Vec<&str> = body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![sent.1.as_str()]);
    let late = env.report(&agent, &waiting.1, json!({"ok": true})).await;
    assert_eq!(
        (late.0, late.1["status"].clone()),
        (409, json!("cancelled"))
    );

    assert_eq!(
        env.report(&agent, &sent.1, json!({"ok": true})).await.0,
        200
    );
    let r = env.recall(common::SENDER, &sent.0).await;
    assert_eq!(r["deliveries"][0]["status"], "not_recallable", "{r}");
    let m = env.message(common::SENDER, &sent.0).await;
    assert_eq!(m["deliveries"][0]["status"], "not_recallable");
}

async fn jsapi_signatures_use_shared_cached_tickets(env: Env) {
    let agent = env.sign_in().await;
    let page = format!("{}/sidebar/?channel=juzi", env.base);
    let path = format!(
        "/sidebar/api/jsapi-signature?url={}",
        url_encode(&format!("{page}#frag"))
    );
    let (st, sig) = env.api(&agent, "GET", &path, None).await;
    assert_eq!(st, 200, "{sig}");
    assert_eq!(sig["corpId"], "sandbox-corp");
    assert_eq!(sig["agentId"], 1_000_002);
    assert_eq!(sig["url"], page.as_str());
    // Each signature is the documented SHA-1 over the ticket cached in the store.
    for (field, key) in [("config", "#jsapi"), ("agentConfig", "#agent_config")] {
        let s = &sig[field];
        let ticket = env
            .store
            .tokens()
            .token(&format!("wecom_app:sandbox-corp:1000002{key}"))
            .await
            .unwrap()
            .token
            .expect("ticket cached in the store");
        let expected = notify_sidebar::jsapi_signature(
            &ticket,
            s["nonceStr"].as_str().unwrap(),
            s["timestamp"].as_i64().unwrap(),
            &page,
        );
        assert_eq!(s["signature"], expected.signature.as_str(), "{field}");
        assert_eq!(s["timestamp"], env.store.now_ms() / 1000);
    }
    assert_ne!(sig["config"]["signature"], sig["agentConfig"]["signature"]);
    // Again, and from a second replica sharing the store: no new ticket fetch.
    env.api(&agent, "GET", &path, None).await;
    let replica = env.second_replica().await;
    let replica_path = format!(
        "/sidebar/api/jsapi-signature?url={}",
        url_encode(&format!("{}/sidebar/", replica.base))
    );
    let (st, body) = replica.api(&agent, "GET", &replica_path, None).await;
    assert_eq!(st, 200, "{body}");
    let calls = env.sim_calls().await;
    let count = |p: &str| calls.iter().filter(|c| c["path"] == p).count();
    assert_eq!(count("/cgi-bin/get_jsapi_ticket"), 1);
    assert_eq!(count("/cgi-bin/ticket/get"), 1);
    assert_eq!(count("/cgi-bin/gettoken"), 1);
    // Only pages of this gateway are signed.
    let other = format!(
        "/sidebar/api/jsapi-signature?url={}",
        url_encode("https://evil.example/x")
    );
    assert_eq!(env.api(&agent, "GET", &other, None).await.0, 400);
}

/// A reset on the access-token fetch and then on the JS-SDK ticket fetch: the agent's browser
/// reads that WeCom is unreachable (503), but not the URL's query, where the corp secret and
/// the access token travel.
async fn connection_resets_answer_no_secret_to_the_browser(env: Env) {
    let agent = env.sign_in().await;
    let path = format!(
        "/sidebar/api/jsapi-signature?url={}",
        url_encode(&format!("{}/sidebar/", env.base))
    );
    let mut answered = String::new();
    for endpoint in ["/cgi-bin/gettoken", "/cgi-bin/get_jsapi_ticket"] {
        env.sim_post(
            "/_sim/faults",
            json!({"path": endpoint, "kind": "reset", "count": 1}),
        )
        .await;
        let (st, body) = env.api(&agent, "GET", &path, None).await;
        assert_eq!(st, 503, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(endpoint), "{endpoint}: {body}");
        answered.push_str(&body.to_string());
    }
    let (st, body) = env.api(&agent, "GET", &path, None).await;
    assert_eq!(st, 200, "{body}");
    let token = env
        .sim_calls()
        .await
        .iter()
        .find(|c| c["path"] == "/cgi-bin/gettoken" && c["status"] == 200)
        .and_then(|c| c["answer"]["access_token"].as_str().map(str::to_string))
        .expect("a token was issued");
    for secret in [
        "sandbox-secret",
        token.as_str(),
        "corpsecret",
        "access_token=",
    ] {
        assert!(!answered.contains(secret), "{secret} answered: {answered}");
    }
}

fn url_encode(s: &str) -> String {
    common::enc(s)
}

async fn the_page_may_run_only_its_scripts_and_be_framed_only_by_juzi(env: Env) {
    let agent = env.sign_in().await;
    let page = env.get_with("/sidebar/", &agent.cookie).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    // The gateway and the Juzi channel's origin (its base_url: the simulator here) may frame it.
    let juzi_origin = env.sim.trim_end_matches('/');
    assert!(
        csp.contains(&format!("frame-ancestors 'self' {juzi_origin}")),
        "{csp}"
    );
    assert!(
        csp.contains("script-src 'self' res.wx.qq.com cdn.botorange.com wwcdn.weixin.qq.com;"),
        "{csp}"
    );
    assert!(csp.contains("object-src 'none'"), "{csp}");
    // X-Frame-Options cannot name Juzi's origin, so it is left to frame-ancestors.
    assert!(page.headers().get("x-frame-options").is_none());
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    // Every sidebar answer carries it, the sign-in redirect too.
    let login = env.get("/sidebar/login", &[]).await;
    assert!(login.headers().contains_key("content-security-policy"));
    // Every script the page loads is allowed by the policy.
    let html = page.text().await.unwrap();
    for src in html.split("<script src=\"").skip(1) {
        let src = src.split('"').next().unwrap();
        let host = src
            .trim_start_matches("https:")
            .trim_start_matches("//")
            .split('/')
            .next()
            .unwrap();
        assert!(
            src.starts_with("/sidebar/") || csp.contains(&format!(" {host}")),
            "{src} is not allowed by {csp}"
        );
    }
}
