//! One test per document rule of `notify_simulator::rules::RULES`: the rule's base request is
//! accepted by a fresh simulator, and the same request with the rule's violation (after the
//! rule's setup steps) is refused with the rule's code by another fresh simulator. A rule the
//! simulator stops enforcing fails under its own name.

use std::collections::{HashMap, HashSet};

use notify_simulator::rules::{self, Base, Rule, Step, PLACEHOLDERS, RULES};
use notify_simulator::Simulator;
use serde_json::{json, Map, Value};

/// 2026-01-10 04:00 UTC, noon in Asia/Shanghai: the Xiaowei rules' dates are relative to it.
const FIXED_NOW_MS: i64 = 1_768_017_600_000;

struct Runner {
    base: String,
    http: reqwest::Client,
    ctx: HashMap<String, String>,
    welink_tokens: HashMap<String, String>,
    wecom_token: Option<String>,
    bearer: Option<String>,
}

fn code_of(status: u16, answer: &Value) -> String {
    let field = ["code", "errcode", "error"]
        .iter()
        .find_map(|k| answer.get(*k).filter(|v| !v.is_null()));
    match field {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => status.to_string(),
    }
}

/// Bytes of `size` that start like a file of `content`'s format.
fn file_bytes(content: &str, size: usize) -> Vec<u8> {
    let head: &[u8] = match content {
        "png" => b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        "jpeg" => b"\xFF\xD8\xFF\xE0\0\x10JFIF\0",
        "gif" => b"GIF89a\x01\0\x01\0",
        "amr" => b"#!AMR\n",
        "mp4" => b"\0\0\0\x18ftypmp42\0\0\0\0",
        _ => b"just some text, whatever the file is called\n",
    };
    head.iter().copied().cycle().take(size).collect()
}

impl Runner {
    async fn start() -> Self {
        let sim = Simulator::new();
        let addr = sim.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let r = Self {
            base: format!("http://{addr}"),
            // Juzi's authorize redirects to the caller's site: never follow it.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            ctx: HashMap::new(),
            welink_tokens: HashMap::new(),
            wecom_token: None,
            bearer: None,
        };
        r.control("/_sim/clock", json!({"set_ms": FIXED_NOW_MS}))
            .await;
        r
    }

    async fn control(&self, path: &str, body: Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "{path} {body}: {}",
            resp.status()
        );
    }

    async fn welink_token(&mut self, client: &str) -> String {
        if let Some(t) = self.welink_tokens.get(client) {
            return t.clone();
        }
        let v: Value = self
            .http
            .post(format!("{}/api/auth/v2/tickets", self.base))
            .json(&json!({"client_id": client, "client_secret": "s3cret"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = v["access_token"].as_str().expect("welink token").to_owned();
        self.welink_tokens.insert(client.to_owned(), t.clone());
        t
    }

    async fn wecom_token(&mut self) -> String {
        if let Some(t) = &self.wecom_token {
            return t.clone();
        }
        let v: Value = self
            .http
            .get(format!(
                "{}/cgi-bin/gettoken?corpid=rulescorp&corpsecret=sec",
                self.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = v["access_token"].as_str().expect("wecom token").to_owned();
        self.wecom_token = Some(t.clone());
        t
    }

    async fn bearer(&mut self) -> String {
        if let Some(t) = &self.bearer {
            return t.clone();
        }
        let v: Value = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "rules-oauth"),
                ("client_secret", "sec"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = v["access_token"].as_str().expect("bearer").to_owned();
        self.bearer = Some(t.clone());
        t
    }

    /// Sends `base` with `patch` as its endpoint expects; returns the code and the answer.
    async fn send(&mut self, base: &Base, patch: &[(&str, &str)]) -> (String, Value) {
        let ctx = self.ctx.clone();
        let req = rules::expand(&rules::patched(base, patch), &|s| ctx.get(s).cloned());
        let (method, path) = base.endpoint.split_once(' ').unwrap();
        let mut query: Vec<(String, String)> = req["query"]
            .as_object()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        if path.starts_with("/cgi-bin/")
            && path != "/cgi-bin/gettoken"
            && !query.iter().any(|(k, _)| k == "access_token")
        {
            query.push(("access_token".into(), self.wecom_token().await));
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        match req.get("header").and_then(Value::as_object) {
            Some(h) => {
                for (k, v) in h {
                    headers.push((k.clone(), v.as_str().unwrap_or_default().to_owned()));
                }
            }
            None if path.starts_with("/api/messages/")
                || path.starts_with("/api/athenaservice/") =>
            {
                headers.push((
                    "x-wlk-Authorization".into(),
                    self.welink_token("rules-app").await,
                ));
            }
            None if path.starts_with("/integration/") => {
                headers.push((
                    "Authorization".into(),
                    format!("Bearer {}", self.bearer().await),
                ));
            }
            None => {}
        }
        let url = format!("{}{path}", self.base);
        let mut rb = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .query(&query);
        for (k, v) in &headers {
            rb = rb.header(k, v);
        }
        if let Some(body) = req.get("body") {
            rb = rb.json(body);
        } else if let Some(raw) = req.get("raw").and_then(Value::as_str) {
            rb = rb.header("content-type", "text/plain").body(raw.to_owned());
        } else if let Some(form) = req.get("form").and_then(Value::as_object) {
            let pairs: Vec<(String, String)> = form
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            rb = rb.form(&pairs);
        } else if let Some(up) = req.get("upload") {
            let data = file_bytes(
                up["content"].as_str().unwrap_or("text"),
                up["size"].as_u64().unwrap_or(64) as usize,
            );
            let part = reqwest::multipart::Part::bytes(data)
                .file_name(up["filename"].as_str().unwrap_or("a").to_owned());
            let form = reqwest::multipart::Form::new()
                .part(up["field"].as_str().unwrap_or("media").to_owned(), part);
            rb = rb.multipart(form);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        (code_of(status, &answer), answer)
    }

    async fn send_ok(&mut self, base: &str, field: &str) -> String {
        let b = rules::BASES.iter().find(|b| b.name == base).unwrap();
        let (code, answer) = self.send(b, &[]).await;
        assert_eq!(code, b.ok, "preparing with {base}: {answer}");
        answer
            .pointer(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("preparing with {base}: no {field} in {answer}"))
            .to_owned()
    }

    /// Creates what the rule's requests name (`$item_id`...) and the credentials its base
    /// needs, before any setup step changes the caps.
    async fn prepare(&mut self, rule: &Rule) {
        let mut texts = vec![rule.base().request.to_owned()];
        texts.extend(rule.violation.iter().map(|(_, v)| v.to_string()));
        let mut names: HashSet<&str> = HashSet::new();
        for t in &texts {
            // Longest first: `$item_id` is inside `$other_item_id`.
            let mut rest = t.clone();
            for p in PLACEHOLDERS {
                if rest.contains(p) {
                    names.insert(p);
                    rest = rest.replace(p, "");
                }
            }
        }
        for name in PLACEHOLDERS.iter().filter(|p| names.contains(*p)) {
            let value = match *name {
                "$item_id" => self.send_ok("welink_card", "/itemId").await,
                "$stateless_item_id" => self.send_ok("welink_image", "/itemId").await,
                "$other_item_id" => {
                    let own = self.welink_token("rules-app").await;
                    let other = self.welink_token("other-app").await;
                    self.welink_tokens.insert("rules-app".into(), other);
                    let id = self.send_ok("welink_image", "/itemId").await;
                    self.welink_tokens.insert("rules-app".into(), own);
                    id
                }
                "$media_id" => self.send_ok("wecom_upload", "/media_id").await,
                "$wecom_msgid" => self.send_ok("wecom_text", "/msgid").await,
                "$work_msg_id" => self.send_ok("workid_text", "/data/msgId").await,
                "$juzi_code" => self.juzi_code().await,
                other => panic!("no way to prepare {other}"),
            };
            self.ctx.insert((*name).to_owned(), value);
        }
        let path = rule.endpoint().split_once(' ').unwrap().1;
        if path.starts_with("/api/messages/") || path.starts_with("/api/athenaservice/") {
            self.welink_token("rules-app").await;
        } else if path.starts_with("/cgi-bin/") && path != "/cgi-bin/gettoken" {
            self.wecom_token().await;
        } else if path.starts_with("/integration/") {
            self.bearer().await;
        }
    }

    async fn juzi_code(&mut self) -> String {
        let resp = self
            .http
            .get(format!(
                "{}/oauth/connect/authorize?redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
                self.base
            ))
            .send()
            .await
            .unwrap();
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let url = reqwest::Url::parse(&location).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code in the redirect")
    }

    async fn step(&mut self, rule: &Rule, step: &Step) {
        match step {
            Step::Caps(j) => self.control("/_sim/caps", parse(j)).await,
            Step::App(j) => self.control("/_sim/apps", parse(j)).await,
            Step::AdvanceMonoMs(ms) => {
                self.control("/_sim/clock", json!({"advance_mono_ms": ms}))
                    .await
            }
            Step::AdvanceClockMs(ms) => {
                self.control("/_sim/clock", json!({"advance_ms": ms})).await;
                // Tokens live 2 h: fetch new ones after a jump.
                self.wecom_token = None;
                self.bearer = None;
            }
            Step::Send(patch, code) => {
                let (got, answer) = self.send(rule.base(), patch).await;
                assert_eq!(
                    &got, code,
                    "rule {}: setup step {step:?}: {answer}",
                    rule.id
                );
            }
        }
    }
}

fn parse(j: &str) -> Value {
    serde_json::from_str(j).unwrap()
}

async fn check(id: &str) {
    let rule = rules::rule(id).unwrap_or_else(|| panic!("no rule {id} in RULES"));
    let base = rule.base();

    let mut valid = Runner::start().await;
    valid.prepare(rule).await;
    let (code, answer) = valid.send(base, &[]).await;
    assert_eq!(
        code, base.ok,
        "rule {id}: the valid base request {} was refused: {answer}",
        base.name
    );

    let mut run = Runner::start().await;
    run.prepare(rule).await;
    for step in rule.setup {
        run.step(rule, step).await;
    }
    let (code, answer) = run.send(base, rule.violation).await;
    assert_eq!(
        code,
        rule.code,
        "rule {id} ({} line {}: {}) on {}: the violating request {} was answered {answer}",
        rule.doc,
        rule.line,
        rule.says,
        rule.endpoint(),
        rule.request()
    );
}

macro_rules! rule_tests {
    ($($id:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $id() {
                check(stringify!($id)).await;
            }
        )*
        const TESTED: &[&str] = &[$(stringify!($id)),*];
    };
}

#[test]
fn every_rule_has_exactly_one_test() {
    let tested: HashSet<&str> = TESTED.iter().copied().collect();
    assert_eq!(tested.len(), TESTED.len(), "a rule is tested twice");
    let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "two rules share an id");
    let untested: Vec<&&str> = ids.iter().filter(|i| !tested.contains(*i)).collect();
    let unknown: Vec<&&str> = TESTED.iter().filter(|t| !unique.contains(*t)).collect();
    assert!(untested.is_empty(), "rules without a test: {untested:?}");
    assert!(unknown.is_empty(), "tests without a rule: {unknown:?}");
}

#[tokio::test]
async fn the_table_is_served_at_sim_rules() {
    let r = Runner::start().await;
    let v: Value = r
        .http
        .get(format!("{}/_sim/rules", r.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), RULES.len());
    let first: &Map<String, Value> = rows[0].as_object().unwrap();
    for k in [
        "id", "upstream", "endpoint", "doc", "line", "code", "request",
    ] {
        assert!(first.contains_key(k), "{k} missing in {v}");
    }
}

rule_tests!(
    wl_token_client_id_empty,
    wl_token_client_secret_empty,
    wl_token_body_not_json,
    wl_token_wrong_secret,
    wl_token_locked_after_wrong_secrets,
    wl_token_invalid,
    wl_interface_not_granted,
    wl_rate_per_second_counts_refused_calls,
    wl_rate_per_minute_counts_refused_calls,
    wl_rate_per_ip_counts_refused_calls,
    wl_card_msg_owner_required,
    wl_card_msg_owner_18_bytes,
    wl_card_public_acc_id_string,
    wl_card_desktop_url_path_string,
    wl_card_msg_title_required,
    wl_card_msg_title_128_bytes,
    wl_card_msg_title_brace_is_read_as_json,
    wl_card_msg_title_json_needs_cn_and_en,
    wl_card_msg_content_required,
    wl_card_msg_content_512_bytes,
    wl_card_msg_content_brace_is_read_as_json,
    wl_card_body_not_json,
    wl_card_msg_range_value,
    wl_card_msg_range_type,
    wl_card_to_user_list_required,
    wl_card_to_user_list_type,
    wl_card_to_user_list_1000,
    wl_card_department_list_required,
    wl_card_department_list_100,
    wl_card_role_list_required,
    wl_card_role_list_100,
    wl_card_receive_device_type,
    wl_card_url_type_html_only,
    wl_card_is_force_tips_integer,
    wl_card_message_status_cn_2_to_5,
    wl_card_message_status_en_2_to_10,
    wl_card_message_status_not_json,
    wl_card_status_color,
    wl_card_non_fan,
    wl_app_card_msg_title_required,
    wl_app_card_msg_title_128_bytes,
    wl_app_card_msg_title_brace_is_read_as_json,
    wl_app_card_content_list_required,
    wl_app_card_content_list_5_lines,
    wl_app_card_key_plain_string,
    wl_app_card_key_128_bytes,
    wl_app_card_value_required,
    wl_app_card_value_empty,
    wl_app_card_value_blank_json,
    wl_app_card_value_plain_string,
    wl_app_card_value_256_bytes,
    wl_app_card_url_path_required,
    wl_app_card_btn_type,
    wl_app_card_btn_list_2_horizontal,
    wl_app_card_btn_list_3_vertical,
    wl_app_card_btn_title_required,
    wl_app_card_btn_title_plain_string,
    wl_app_card_btn_title_128_bytes,
    wl_app_card_btn_url_required,
    wl_app_card_btn_url_type_html_only,
    wl_app_card_message_status,
    wl_app_card_status_color,
    wl_app_card_is_force_tips,
    wl_app_card_receive_device_type,
    wl_app_card_to_user_list_1000,
    wl_image_image_url_required,
    wl_image_jump_url_string,
    wl_image_to_user_list_1000,
    wl_image_msg_range,
    wl_image_department_list_required,
    wl_image_role_list_required,
    wl_news_required,
    wl_news_at_most_5,
    wl_news_title_required,
    wl_news_title_18_bytes,
    wl_news_description_140_bytes,
    wl_news_news_url_required,
    wl_news_url_type_html_only,
    wl_news_image_url_required,
    wl_news_to_user_list_1000,
    wl_update_to_user_list_required,
    wl_update_to_user_list_1000,
    wl_update_item_id_required,
    wl_update_message_status_required,
    wl_update_message_status_lengths,
    wl_update_status_color,
    wl_update_unknown_item,
    wl_update_public_acc_id_of_the_send,
    wl_update_stateless_message,
    wl_recall_item_id_required,
    wl_recall_unknown_item,
    wl_recall_twice,
    wl_recall_other_tenant,
    xw_token_invalid,
    xw_rate_counts_refused_calls,
    xw_daily_quota,
    xw_to_user_list_required,
    xw_to_user_list_5000,
    xw_to_user_list_type,
    xw_title_cn_required,
    xw_title_cn_32_characters,
    xw_title_en_not_empty,
    xw_title_en_128_characters,
    xw_end_date_format,
    xw_end_date_7_days,
    xw_end_date_past,
    xw_url_cn_scheme,
    xw_url_cn_1024,
    xw_url_en_scheme,
    xw_icon_url_cn_scheme,
    xw_icon_url_en_scheme,
    xw_illegal_account,
    wecom_token_corpid_required,
    wecom_token_secret_required,
    wecom_token_wrong_secret,
    wecom_send_access_token_required,
    wecom_send_body_not_json,
    wecom_send_recipients_required,
    wecom_send_touser_type,
    wecom_send_1000_users,
    wecom_send_100_parties,
    wecom_send_100_tags,
    wecom_send_agentid_required,
    wecom_send_agentid_of_the_token,
    wecom_send_msgtype,
    wecom_send_text_content_required,
    wecom_send_safe_0_or_1,
    wecom_send_duplicate_check_interval_4h,
    wecom_send_all_recipients_invalid,
    wecom_markdown_2048_bytes,
    wecom_textcard_url_http,
    wecom_textcard_url_absolute,
    wecom_textcard_url_required,
    wecom_textcard_url_2048_bytes,
    wecom_textcard_title_required,
    wecom_textcard_description_required,
    wecom_news_1_to_8_articles,
    wecom_news_articles_required,
    wecom_news_title_required,
    wecom_news_url_http,
    wecom_news_picurl_http,
    wecom_image_media_id_known,
    wecom_image_media_id_3_days,
    wecom_file_media_id_known,
    wecom_rate_company_counts_refused_calls,
    wecom_recall_24_hours,
    wecom_recall_unknown,
    wecom_media_type,
    wecom_media_field_name,
    wecom_media_more_than_5_bytes,
    wecom_media_image_10_mb,
    wecom_media_voice_2_mb,
    wecom_media_image_content_not_picture,
    wecom_media_image_gif,
    wecom_media_voice_content_not_amr,
    wecom_media_video_content_not_mp4,
    wecom_agent_ticket_type,
    workid_bearer_required,
    workid_work_ids_required,
    workid_work_ids_array,
    workid_work_ids_1000,
    workid_work_ids_all_unknown,
    workid_company_id_string,
    workid_text_content_required,
    workid_text_card_required,
    workid_text_card_title_required,
    workid_text_card_description_required,
    workid_text_card_url_required,
    workid_text_card_url_http,
    workid_file_url_required,
    workid_file_url_http,
    workid_file_safe_0_or_1,
    workid_file_safe_file_types,
    workid_images_required,
    workid_images_1_to_8,
    workid_image_title_required,
    workid_image_description_required,
    workid_image_pic_url_required,
    workid_image_pic_url_http,
    workid_image_url_http,
    workid_markdown_required,
    workid_markdown_content_required,
    workid_recall_msg_id_required,
    workid_recall_same_company,
    workid_recall_24_hours,
    oauth_grant_type,
    oauth_form_body,
    oauth_client_required,
    oauth_one_authentication_method,
    juzi_redirect_uri_required,
    juzi_redirect_uri_http,
    juzi_state_charset,
    juzi_state_128_bytes,
    juzi_code_malformed,
    juzi_code_unknown,
    juzi_code_single_use,
    juzi_code_5_minutes,
);
