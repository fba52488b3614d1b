//! HTTP rules a client library would hide, checked on the wire against the real server:
//! `Host` lines, `Content-Length` on bodiless answers, body limits and timeouts answered
//! before the body is sent, the bearer scheme, and JSON on every error either listener
//! produces.

mod common;

use common::{TOKEN, TestServer};
use http::StatusCode;

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let s = TestServer::start().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let a = s
            .send(
                http::Request::post(format!("http://{}/admin/v1/events/pause", s.admin))
                    .header("authorization", format!("{scheme} {TOKEN}"))
                    .body(Default::default())
                    .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{scheme}");
    }
    for wrong in [
        format!("Basic {TOKEN}"),
        format!("Bearer{TOKEN}"),
        TOKEN.to_owned(),
    ] {
        let a = s
            .send(
                http::Request::post(format!("http://{}/admin/v1/events/resume", s.admin))
                    .header("authorization", wrong.as_str())
                    .body(Default::default())
                    .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{wrong}");
        assert_eq!(a.header("www-authenticate"), "Bearer");
        assert_eq!(a.json()["error"], "unauthorized");
    }
    s.stop().await;
}
