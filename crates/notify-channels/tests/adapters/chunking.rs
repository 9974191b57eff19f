//! Recipient lists longer than one call allows become several parts.

use notify_core::ChannelKind::{self, WecomApp, WecomWorkid, Welink, Xiaowei};
use serde_json::{json, Value};

use super::common::{ids, plan};

fn parts(kind: ChannelKind, target: Value) -> Vec<usize> {
    let p = plan(
        kind,
        json!({"title": "t", "content": "c", "targets": [target]}),
    );
    p.parts
        .iter()
        .map(|part| {
            let b = &part.body;
            ["toUserList", "departmentList", "roleList", "workIds"]
                .iter()
                .find_map(|k| b[*k].as_array().map(Vec::len))
                .or_else(|| {
                    ["touser", "toparty", "totag"]
                        .iter()
                        .find_map(|k| b[*k].as_str().map(|s| s.split('|').count()))
                })
                .unwrap_or(0)
        })
        .collect()
}

#[test]
fn welink_users_split_at_1000() {
    assert_eq!(
        parts(Welink, json!({"channel": "w", "users": ids("u", 1000)})),
        vec![1000]
    );
    assert_eq!(
        parts(Welink, json!({"channel": "w", "users": ids("u", 1001)})),
        vec![1000, 1]
    );
    assert_eq!(
        parts(Welink, json!({"channel": "w", "users": ids("u", 2500)})),
        vec![1000, 1000, 500]
    );
}

#[test]
fn welink_departments_and_roles_split_at_100() {
    assert_eq!(
        parts(
            Welink,
            json!({"channel": "w", "departments": ids("d", 100)})
        ),
        vec![100]
    );
    assert_eq!(
        parts(
            Welink,
            json!({"channel": "w", "departments": ids("d", 101)})
        ),
        vec![100, 1]
    );
    assert_eq!(
        parts(Welink, json!({"channel": "w", "roles": ids("r", 100)})),
        vec![100]
    );
    assert_eq!(
        parts(Welink, json!({"channel": "w", "roles": ids("r", 101)})),
        vec![100, 1]
    );
}

#[test]
fn welink_part_recipients_are_its_users_only() {
    let p = plan(
        Welink,
        json!({"title": "t", "targets": [
        {"channel": "w", "users": ids("u", 1001), "departments": ["d1"]}]}),
    );
    assert_eq!(p.parts.len(), 3);
    assert_eq!(p.parts[0].recipients.len(), 1000);
    assert_eq!(p.parts[1].recipients, vec!["u1000"]);
    assert!(p.parts[2].recipients.is_empty());
    assert_eq!(p.parts[2].body["msgRange"], "1");
    assert!(p.parts[0].body.get("msgRange").is_none());
}

#[test]
fn duplicate_recipients_are_sent_once() {
    assert_eq!(
        parts(Welink, json!({"channel": "w", "users": ["a", "b", "a"]})),
        vec![2]
    );
}

#[test]
fn xiaowei_users_split_at_5000() {
    assert_eq!(
        parts(Xiaowei, json!({"channel": "x", "users": ids("u", 5000)})),
        vec![5000]
    );
    assert_eq!(
        parts(Xiaowei, json!({"channel": "x", "users": ids("u", 5001)})),
        vec![5000, 1]
    );
}

#[test]
fn workid_ids_split_at_1000() {
    assert_eq!(
        parts(
            WecomWorkid,
            json!({"channel": "w", "work_ids": ids("w", 1001)})
        ),
        vec![1000, 1]
    );
}

#[test]
fn wecom_app_lists_split_together() {
    assert_eq!(
        parts(WecomApp, json!({"channel": "c", "users": ids("u", 1000)})),
        vec![1000]
    );
    assert_eq!(
        parts(WecomApp, json!({"channel": "c", "users": ids("u", 1001)})),
        vec![1000, 1]
    );
    assert_eq!(
        parts(WecomApp, json!({"channel": "c", "parties": ids("p", 101)})),
        vec![100, 1]
    );
    assert_eq!(
        parts(WecomApp, json!({"channel": "c", "tags": ids("t", 101)})),
        vec![100, 1]
    );
    // 1500 users and 30 parties: two calls, the parties riding with the first.
    let p = plan(
        WecomApp,
        json!({"title": "t", "targets": [
        {"channel": "c", "users": ids("u", 1500), "parties": ids("p", 30)}]}),
    );
    assert_eq!(p.parts.len(), 2);
    assert_eq!(
        p.parts[0].body["toparty"]
            .as_str()
            .unwrap()
            .split('|')
            .count(),
        30
    );
    assert!(p.parts[1].body.get("toparty").is_none());
    assert_eq!(p.parts[1].recipients.len(), 500);
}

#[test]
fn wecom_app_media_sends_depend_on_one_upload() {
    let p = plan(
        WecomApp,
        json!({"image_url": "https://example.com/a.png", "targets": [
        {"channel": "c", "users": ids("u", 1001)}]}),
    );
    assert_eq!(p.parts.len(), 3);
    assert_eq!(p.parts[0].op, notify_core::PartOp::Upload);
    assert!(p.parts[0].recipients.is_empty());
    assert_eq!(p.parts[1].depends_on, Some(0));
    assert_eq!(p.parts[2].depends_on, Some(0));
}
