//! Bad input: every refusal has the JSON envelope with a stable code and a
//! Vietnamese message (checked for every reply by the harness).

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_refused() {
    let (_app, org) = seeded().await;
    let valid = r#"{"code": "X1", "name": "Chi bộ", "kind": "cell", "parent_code": "19"}"#;
    for body in [
        r#"{"code": "X1", "name": "#.to_string(),
        String::new(),
        "{'code': 'X1'}".to_string(),
        r#"{"code": "X1",}"#.to_string(),
        // A valid object followed by anything else is not one JSON document.
        format!("{valid} rác"),
        format!("{valid}{valid}"),
    ] {
        let error = org
            .send(
                org.request(Method::POST, "/api/units")
                    .header(CONTENT_TYPE, "application/json")
                    .body(body),
            )
            .await
            .error(400, "request.malformed_json");
        assert!(
            error["message"].as_str().unwrap().contains("JSON"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn json_routes_refuse_other_content_types() {
    let (_app, org) = seeded().await;
    let body = r#"{"code": "X1", "name": "Chi bộ", "kind": "cell", "parent_code": "19"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = org.request(Method::POST, "/api/units").body(body);
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        org.send(request).await.error(415, "request.content_type");
    }
    org.unit("X1").await.error(404, "unit.not_found");
    // A charset parameter is fine.
    org.send(
        org.request(Method::POST, "/api/units")
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn unknown_missing_and_mistyped_fields_are_named() {
    let (_app, org) = seeded().await;

    let unknown = org
        .create_unit(json!({"code": "X1", "name": "Chi bộ", "kind": "cell", "parent_code": "19", "colour": "đỏ"}))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(unknown["field"], "colour");
    assert!(unknown["message"].as_str().unwrap().contains("colour"));

    let missing = org
        .create_unit(json!({"code": "X1", "kind": "cell", "parent_code": "19"}))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(missing["field"], "name");
    assert!(missing["message"].as_str().unwrap().contains("name"));

    let mistyped = org
        .create_unit(json!({"code": 12, "name": "Chi bộ", "kind": "cell"}))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(mistyped["field"], "code");

    let nested = org
        .create_unit(json!({"code": "X1", "name": "Chi bộ", "kind": "cell", "parent_code": "19", "expected": {"cadre": "nhiều"}}))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(nested["field"], "expected.cadre");
    let nested_unknown = org
        .create_session(json!({
            "theme": "x", "host_unit_code": "19",
            "starts_at": "2026-11-23T08:00", "ends_at": "2026-11-23T09:00",
            "broadcast": {"channel": "TN1"}
        }))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(nested_unknown["field"], "broadcast.channel");

    let missing_status = org
        .post("/api/sessions/1/status", json!({}))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(missing_status["field"], "status");
    assert_eq!(org.unit_count().await, TREE_SIZE);
}

#[tokio::test]
async fn bad_query_parameters_are_refused() {
    let (_app, org) = seeded().await;
    for (path, query, field) in [
        ("/api/units", "limit=0", "limit"),
        ("/api/units", "limit=abc", "limit"),
        ("/api/units", "limit=501", "limit"),
        ("/api/units", "offset=-1", "offset"),
        ("/api/units", "kind=planet", "kind"),
        ("/api/units", "sort=name", "sort"),
        ("/api/members", "limit=0", "limit"),
        ("/api/members", "subtree=maybe", "subtree"),
        ("/api/members", "category=alien", "category"),
        ("/api/sessions", "limit=abc", "limit"),
        ("/api/sessions", "status=paused", "status"),
    ] {
        let error = org
            .get(&format!("{path}?{query}"))
            .await
            .error(400, "request.invalid_query");
        assert_eq!(error["field"], field, "{path}?{query}");
    }
    let long = "a".repeat(101);
    org.units(&[("q", &long)])
        .await
        .error(400, "request.invalid_query");
    org.units(&[("limit", "500")]).await.expect(200);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods() {
    let (app, org) = seeded().await;
    for path in ["/api/khong-co", "/api/units/19/con", "/api/", "/api"] {
        org.get(path).await.error(404, "route.not_found");
    }
    // Anonymous callers get the same 404 for unknown API routes.
    app.anonymous()
        .get("/api/khong-co")
        .await
        .error(404, "route.not_found");

    for (method, path) in [
        (Method::PUT, "/api/units"),
        (Method::DELETE, "/api/sessions"),
        (Method::PUT, "/api/members/0012001"),
        (Method::GET, "/api/units/import"),
        (Method::GET, "/api/auth/login"),
    ] {
        org.send(org.request(method, path))
            .await
            .error(405, "request.method_not_allowed");
    }

    // Outside the API an unknown address is a page, not JSON.
    let page = app.anonymous().get("/khong-co").await;
    assert_eq!(page.status, 404);
    assert!(page.json.is_null());
}

#[tokio::test]
async fn oversize_json_body_is_refused() {
    let (_app, org) = seeded().await;
    let name = "Đ".repeat(150 * 1024); // 300 KB of UTF-8
    let error = org
        .create_unit(json!({"code": "X1", "name": name, "kind": "cell", "parent_code": "19"}))
        .await
        .error(413, "request.too_large");
    assert!(
        error["message"].as_str().unwrap().contains("256"),
        "{error}"
    );
    org.unit("X1").await.error(404, "unit.not_found");
}

#[tokio::test]
async fn non_numeric_ids_are_not_found() {
    let (_app, org) = seeded().await;
    for (path, code) in [
        ("/api/sessions/abc", "session.not_found"),
        ("/api/sessions/-1", "session.not_found"),
        ("/api/sessions/0", "session.not_found"),
        ("/api/sessions/1.5", "session.not_found"),
        ("/api/sessions/abc/points", "session.not_found"),
        ("/api/points/abc", "point.not_found"),
        ("/api/accounts/abc", "account.not_found"),
        ("/api/sessions/99999999999999999999999", "session.not_found"),
    ] {
        org.get(path).await.error(404, code);
    }
    org.delete("/api/points/abc")
        .await
        .error(404, "point.not_found");
    org.post_empty("/api/points/abc/operator-link")
        .await
        .error(404, "point.not_found");
    org.delete("/api/auth/tokens/abc")
        .await
        .error(404, "token.not_found");
    org.post("/api/sessions/abc/status", json!({"status": "open"}))
        .await
        .error(404, "session.not_found");
}

#[tokio::test]
async fn text_fields_refuse_control_characters_and_overlong_values() {
    let (_app, org) = seeded().await;
    let control = org
        .create_unit(
            json!({"code": "X1", "name": "Chi bộ\u{0007}", "kind": "cell", "parent_code": "19"}),
        )
        .await
        .error(400, "unit.name_invalid");
    assert_eq!(control["field"], "name");
    org.create_unit(
        json!({"code": "X".repeat(65), "name": "Chi bộ", "kind": "cell", "parent_code": "19"}),
    )
    .await
    .error(400, "unit.code_invalid");
    org.create_member(
        json!({"code": "M1", "full_name": "N".repeat(121), "category": "guest", "unit_code": "19"}),
    )
    .await
    .error(400, "member.name_invalid");
    org.create_unit(json!({"code": "a/b", "name": "Chi bộ", "kind": "cell", "parent_code": "19"}))
        .await
        .error(400, "unit.code_invalid");
    assert_eq!(org.unit_count().await, TREE_SIZE);
}
