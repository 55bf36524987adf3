//! The management web UI's static files: `index.html` at `/`, assets under `/ui/` with
//! their content types, ETag revalidation, a 404 for anything unknown, the security headers
//! on every answer, and `/api/` untouched.

use crate::common;

use common::{TestBroker, guard};
use reqwest::Response;

async fn get(b: &TestBroker, path: &str) -> Response {
    guard(
        reqwest::Client::new()
            .get(format!("{}{path}", b.mgmt_url()))
            .send(),
    )
    .await
    .unwrap()
}

fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn assert_secure(r: &Response) {
    let csp = header(r, "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(r, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn index_is_served_at_the_root_without_credentials() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let r = get(&b, "/").await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_secure(&r);
    assert!(header(&r, "etag").starts_with('"'));
    let body = guard(r.text()).await.unwrap();
    assert!(body.contains("<!doctype html>"), "{body}");
    assert!(body.contains("/ui/js/main.js"), "{body}");
    assert!(!body.contains("<script>"), "no inline script in index.html");
}

#[tokio::test]
async fn assets_have_their_content_types_and_revalidate_by_etag() {
    skip_if_external!();
    let b = TestBroker::start().await;
    for (path, kind) in [
        ("/ui/js/main.js", "text/javascript; charset=utf-8"),
        ("/ui/css/app.css", "text/css; charset=utf-8"),
        (
            "/ui/vendor/uPlot.iife.min.js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let r = get(&b, path).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(header(&r, "content-type"), kind, "{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
        assert_secure(&r);
        let etag = header(&r, "etag").to_string();
        let again = guard(
            reqwest::Client::new()
                .get(format!("{}{path}", b.mgmt_url()))
                .header("if-none-match", &etag)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{path}");
        assert_eq!(header(&again, "etag"), etag);
    }
}

#[tokio::test]
async fn unknown_or_escaping_asset_paths_are_404() {
    skip_if_external!();
    let b = TestBroker::start().await;
    for path in [
        "/ui/nope.js",
        "/ui/js/",
        "/ui/..%2FCargo.toml",
        "/ui/%2E%2E/%2E%2E/Cargo.toml",
        "/index.htm",
    ] {
        let r = get(&b, path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    let r = get(&b, "/ui/missing.css").await;
    assert_secure(&r);
}

#[tokio::test]
async fn api_routes_are_unaffected() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let r = get(&b, "/api/overview").await;
    assert_eq!(r.status().as_u16(), 401, "the API still needs credentials");
    let r = guard(
        reqwest::Client::new()
            .get(format!("{}/api/overview", b.mgmt_url()))
            .basic_auth("guest", Some("guest"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(header(&r, "content-type").starts_with("application/json"));
    let r = guard(
        reqwest::Client::new()
            .get(format!("{}/api/ui/js/main.js", b.mgmt_url()))
            .basic_auth("guest", Some("guest"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 404, "assets are not under /api/");
}
