//! Operations endpoints: health, metrics, the OpenAPI document and its page.

use crate::helpers::*;

#[tokio::test]
async fn health_reports_the_database() {
    let app = TestApp::start().await;
    let health = app.anonymous().get("/healthz").await.expect(200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], app.db.backend());
    let expected =
        if std::env::var("DIEMCAU_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
            "postgres"
        } else {
            "sqlite"
        };
    assert_eq!(health["database"], expected);
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn liveness_answers_without_the_database() {
    let app = TestApp::start().await;
    let live = app.anonymous().get("/livez").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.text, "ok");
    // Readiness needs the database; liveness does not.
    app.db.close().await;
    assert_eq!(app.anonymous().get("/livez").await.status, 200);
    let ready = reqwest::get(format!("{}/healthz", app.base_url))
        .await
        .expect("healthz answers");
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = TestApp::start().await;
    let anonymous = app.anonymous();
    anonymous.get("/healthz").await.expect(200);
    anonymous
        .get("/api/units")
        .await
        .error(401, "auth.required");

    let metrics = anonymous.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text;
    assert!(text.contains("diemcau_http_requests_total"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("diemcau_http_requests_total")
                && l.contains("route=\"/api/units\"")
                && l.contains("status=\"401\"")),
        "{text}"
    );
    assert!(text.contains("diemcau_http_request_duration_seconds"));
}

#[tokio::test]
async fn openapi_document_lists_the_api() {
    let app = TestApp::start().await;
    let reply = app.anonymous().get("/api/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: serde_json::Value = serde_json::from_str(&reply.text).expect("valid JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["servers"][0]["url"], "/api");
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/units",
        "/units/{code}",
        "/units/import",
        "/members",
        "/members/import",
        "/sessions",
        "/sessions/{id}/status",
        "/sessions/{id}/points",
        "/points/{id}/operator-link",
        "/operator/point",
        "/auth/login",
        "/accounts",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(paths["/sessions/{id}/points"]["post"].is_object());
    assert!(paths["/units/import"]["post"]["requestBody"]["content"]["text/csv"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(
        !paths.keys().any(|p| p.starts_with("/api/")),
        "paths are relative to /api"
    );
}

#[tokio::test]
async fn api_docs_page_is_html() {
    let app = TestApp::start().await;
    let reply = app.anonymous().get("/api/docs").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(reply.text.to_lowercase().contains("<!doctype html"));
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");
}
