//! The HTTP requests adapters ask the dispatcher to make.

use notify_channels::{Body, FetchedMedia, Method, PartCall};
use notify_core::ChannelKind::{WecomApp, WecomWorkid, Welink, Xiaowei};
use serde_json::json;

use super::common::{call, channel, plan};

#[test]
fn welink_requests_carry_the_token_header() {
    for (kind, path) in [
        (Welink, "http://upstream.test/api/messages/v2/card/common"),
        (
            Xiaowei,
            "http://upstream.test/api/athenaservice/v1/contextaware/push",
        ),
    ] {
        let p = plan(
            kind,
            json!({"title": "t", "content": "c", "targets": [{"channel": "w", "users": ["a"]}]}),
        );
        let r = channel(kind)
            .adapter
            .request(&call(&p.parts[0], Some("TOKEN")));
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, path);
        assert_eq!(
            r.headers,
            vec![("x-wlk-Authorization".to_string(), "TOKEN".to_string())]
        );
        assert_eq!(r.secret_names, vec!["x-wlk-Authorization".to_string()]);
        assert_eq!(r.body, Body::Json(p.parts[0].body.clone()));
    }
}

#[test]
fn workid_requests_carry_a_bearer_token() {
    let p = plan(
        WecomWorkid,
        json!({"content": "c", "targets": [{"channel": "w", "work_ids": ["ww0517"]}]}),
    );
    let r = channel(WecomWorkid)
        .adapter
        .request(&call(&p.parts[0], Some("B")));
    assert_eq!(
        r.url,
        "http://upstream.test/integration/wx_work/sendByWorkIds"
    );
    assert_eq!(
        r.headers,
        vec![("Authorization".to_string(), "Bearer B".to_string())]
    );
}

#[test]
fn wecom_app_upload_then_send_with_the_media_id() {
    let p = plan(
        WecomApp,
        json!({"image_url": "https://example.com/a.png",
        "targets": [{"channel": "c", "users": ["a"]}]}),
    );
    let ch = channel(WecomApp);
    let media = FetchedMedia {
        filename: "a.png".into(),
        content_type: "image/png".into(),
        bytes: vec![1, 2, 3, 4, 5, 6],
    };
    let up = PartCall {
        media: Some(&media),
        ..call(&p.parts[0], Some("AT"))
    };
    let r = ch.adapter.request(&up);
    assert_eq!(r.url, "http://upstream.test/cgi-bin/media/upload");
    assert_eq!(
        r.query,
        vec![
            ("access_token".to_string(), "AT".to_string()),
            ("type".to_string(), "image".to_string())
        ]
    );
    assert_eq!(
        r.body,
        Body::Multipart {
            field: "media".into(),
            filename: "a.png".into(),
            content_type: "image/png".into(),
            bytes: vec![1, 2, 3, 4, 5, 6],
        }
    );
    let send = PartCall {
        dependency_id: Some("MEDIA_ID"),
        ..call(&p.parts[1], Some("AT"))
    };
    let r = ch.adapter.request(&send);
    assert_eq!(r.url, "http://upstream.test/cgi-bin/message/send");
    assert_eq!(
        r.query,
        vec![("access_token".to_string(), "AT".to_string())]
    );
    assert_eq!(r.secret_names, vec!["access_token".to_string()]);
    let Body::Json(b) = r.body else { panic!() };
    assert_eq!(b["image"], json!({"media_id": "MEDIA_ID"}));
    assert_eq!(b["touser"], "a");
    assert_eq!(b["enable_duplicate_check"], 1);
}
