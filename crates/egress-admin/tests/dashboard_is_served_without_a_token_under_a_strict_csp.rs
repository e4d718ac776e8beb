//! The dashboard's page and files are served without a token (the page asks for one), with
//! their content types, a Content-Security-Policy that allows no inline code or foreign origin,
//! and revalidating cache headers; the API behind it still needs a token.

mod support;

use axum::http::{header, Method, StatusCode};
use support::Api;

#[tokio::test]
async fn the_page_and_its_modules_load_without_a_token() {
    let api = Api::start("dashboard");
    let page = api.call(Method::GET, "/dashboard/", None, None, &[]).await;
    page.expect(StatusCode::OK);
    assert_eq!(
        page.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-cache");
    assert!(page
        .text
        .contains("<script type=\"module\" src=\"app.js\">"));

    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("policies.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let reply = api
            .call(Method::GET, &format!("/dashboard/{file}"), None, None, &[])
            .await;
        reply.expect(StatusCode::OK);
        assert_eq!(reply.headers[header::CONTENT_TYPE], content_type, "{file}");
        assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    let bare = api.call(Method::GET, "/dashboard", None, None, &[]).await;
    assert_eq!(bare.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers[header::LOCATION], "/dashboard/");

    let missing = api
        .call(Method::GET, "/dashboard/secrets.js", None, None, &[])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let api_call = api
        .call(Method::GET, "/v1/traffic-history", None, None, &[])
        .await;
    api_call.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let history = api.op(Method::GET, "/v1/traffic-history", None).await;
    history.expect(StatusCode::OK);
    assert_eq!(history.json["series"], serde_json::json!([]));
}
