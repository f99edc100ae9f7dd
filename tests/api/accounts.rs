//! Sign-in, cookies and CSRF, API tokens, account management.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use diemcau::domain::Role;

/// Every route in the OpenAPI document, as (method, path with ids filled in).
async fn all_api_routes(app: &TestApp) -> Vec<(Method, String)> {
    let doc = app.anonymous().get("/api/openapi.json").await.expect(200);
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let filled: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                routes.push((method, format!("/api{filled}")));
            }
        }
    }
    routes
}

/// Routes anyone may call: signing in, members' self check-in from a
/// point's QR code (that proves itself with the QR token in the body/path),
/// the public session pages, TV figures and home check-in, and make-up
/// pages (which prove themselves with the personal token in the path).
fn is_public(path: &str) -> bool {
    path == "/api/auth/login"
        || path == "/api/checkin"
        || path.starts_with("/api/checkin/")
        || path.starts_with("/api/public/")
        || path.starts_with("/api/makeup/")
}

#[tokio::test]
async fn anonymous_requests_to_every_api_route_need_sign_in() {
    let (app, org) = seeded().await;
    let anonymous = app.anonymous();
    let routes = all_api_routes(&app).await;
    assert!(routes.len() >= 25, "{routes:?}");
    let mut signed_in_routes = 0;
    for (method, path) in routes {
        if is_public(&path) {
            continue;
        }
        // The point console needs its operator link instead of an account.
        let expected = if path.starts_with("/api/operator/") {
            "operator.link_required"
        } else {
            signed_in_routes += 1;
            "auth.required"
        };
        let request = if method == Method::GET || method == Method::DELETE {
            anonymous.request(method.clone(), &path)
        } else {
            anonymous.request(method.clone(), &path).json(&json!({}))
        };
        let reply = anonymous.send(request).await;
        assert_eq!(
            (reply.status.as_u16(), reply.json["error"]["code"].as_str()),
            (401, Some(expected)),
            "{method} {path}: {}",
            reply.text
        );
    }
    assert!(signed_in_routes >= 23, "{signed_in_routes}");
    // A signed-in account is no operator, and an operator link no account.
    org.operator_point()
        .await
        .error(401, "operator.link_required");
    // Including with a made-up token or cookie.
    let fake = anonymous
        .send(
            anonymous
                .request(Method::GET, "/api/units")
                .bearer_auth("dc_gia"),
        )
        .await;
    assert_eq!(fake.json["error"]["code"], "auth.invalid_token");
    let fake_cookie = anonymous
        .send(
            anonymous
                .request(Method::GET, "/api/members")
                .header("Cookie", "diemcau_session=gia"),
        )
        .await;
    assert_eq!(fake_cookie.status, 401);
    anonymous
        .get("/api/operator/point")
        .await
        .error(401, "operator.link_required");
}

#[tokio::test]
async fn login_refuses_wrong_passwords_and_unknown_users() {
    let (app, _org) = seeded().await;
    let (_, reply) = app.try_login(ORGANIZER, "mat-khau-sai-roi").await;
    reply.error(401, "auth.bad_credentials");
    let (_, reply) = app.try_login("khong-ton-tai", PASSWORD).await;
    reply.error(401, "auth.bad_credentials");
    let (_, reply) = app.try_login("", "").await;
    reply.error(401, "auth.bad_credentials");

    // Usernames are not case-sensitive.
    let (web, reply) = app.try_login("BanToChuc", PASSWORD).await;
    let body = reply.expect(200);
    assert_eq!(body["account"]["username"], ORGANIZER);
    assert_eq!(body["account"]["role"], "organizer");
    assert!(!body["csrf_token"].as_str().unwrap().is_empty());
    assert_eq!(web.me().await.expect(200)["account"]["username"], ORGANIZER);
}

#[tokio::test]
async fn login_sets_http_only_session_cookie() {
    let (app, _org) = seeded().await;
    let (_, reply) = app.try_login(ORGANIZER, PASSWORD).await;
    assert_eq!(reply.status, 200);
    let cookies: Vec<&str> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("diemcau_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(cookies.iter().any(|c| c.starts_with("diemcau_csrf=")));
}

#[tokio::test]
async fn cookie_session_must_send_the_csrf_header_to_change_data() {
    let (app, _org) = seeded().await;
    let web = app.login(ORGANIZER).await;
    let forgetful = web.without_csrf();

    // Reading needs no CSRF header.
    forgetful.units(&[]).await.expect(200);
    let me = forgetful.me().await.expect(200);
    assert!(me["csrf_token"].as_str().is_some());

    let unit = json!({"code": "X1", "name": "Chi bộ mới", "kind": "cell", "parent_code": CELL_A});
    forgetful
        .create_unit(unit.clone())
        .await
        .error(403, "auth.csrf");
    forgetful
        .import_units("code,name,kind,parent_code\nX2,Chi bộ X2,cell,19\n")
        .await
        .error(403, "auth.csrf");
    forgetful.delete_unit(CELL_A).await.error(403, "auth.csrf");
    forgetful
        .send(
            forgetful
                .request(Method::POST, "/api/units")
                .header("X-CSRF-Token", "sai-ma")
                .json(&unit),
        )
        .await
        .error(403, "auth.csrf");
    web.unit("X1").await.error(404, "unit.not_found");

    web.create_unit(unit).await.expect(201);
    web.import_units("code,name,kind,parent_code\nX2,Chi bộ X2,cell,19\n")
        .await
        .expect(200);
    assert_eq!(web.unit_count().await, TREE_SIZE + 2);

    // The CSRF token of one session does not serve another.
    let other = app.login(ORGANIZER).await;
    let token = me["csrf_token"].as_str().unwrap();
    let other = other.without_csrf();
    other
        .send(
            other
                .request(Method::DELETE, "/api/units/X1")
                .header("X-CSRF-Token", token),
        )
        .await
        .error(403, "auth.csrf");
    web.unit("X1").await.expect(200);
}

#[tokio::test]
async fn api_tokens_are_listed_without_secrets_and_can_be_revoked() {
    let (app, _org) = seeded().await;
    let web = app.login(ORGANIZER).await;
    let created = web
        .post(
            "/api/auth/tokens",
            json!({"name": "Đồng bộ phần mềm quản lý đảng viên", "expires_in_days": 30}),
        )
        .await
        .expect(201);
    let token = created["token"].as_str().unwrap().to_string();
    let token_id = created["id"].as_i64().unwrap();
    assert!(token.starts_with("dc_"));

    let listed = web.get("/api/auth/tokens").await.expect(200);
    let names = codes(&listed, "name");
    assert!(names.contains(&"Đồng bộ phần mềm quản lý đảng viên".to_string()));
    assert!(
        !listed.to_string().contains(&token),
        "secrets are never listed"
    );
    let ours = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id)
        .unwrap();
    assert!(ours["expires_at"].as_str().is_some());

    let api = app.anonymous();
    let bearer = |path: &str| api.request(Method::GET, path).bearer_auth(&token);
    let me = api.send(bearer("/api/auth/me")).await.expect(200);
    assert_eq!(me["account"]["username"], ORGANIZER);
    assert_eq!(me["csrf_token"], Value::Null);
    // Bearer tokens need no CSRF header to change data.
    api.send(
        api.request(Method::POST, "/api/units")
            .bearer_auth(&token)
            .json(&json!({"code": "X1", "name": "Chi bộ", "kind": "cell", "parent_code": CELL_A})),
    )
    .await
    .expect(201);

    web.post(
        "/api/auth/tokens",
        json!({"name": "x", "expires_in_days": 0}),
    )
    .await
    .error(400, "token.expiry_invalid");
    web.post("/api/auth/tokens", json!({"name": " "}))
        .await
        .error(400, "token.name_invalid");

    web.delete(&format!("/api/auth/tokens/{token_id}"))
        .await
        .expect(204);
    api.send(bearer("/api/units"))
        .await
        .error(401, "auth.invalid_token");
    web.delete(&format!("/api/auth/tokens/{token_id}"))
        .await
        .error(404, "token.not_found");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let (app, _org) = seeded().await;
    let web = app.login(ORGANIZER).await;
    web.post_empty("/api/auth/logout").await.expect(204);
    web.units(&[]).await.error(401, "auth.required");
}

#[tokio::test]
async fn disabled_account_cannot_sign_in_and_its_token_stops_working() {
    let w = two_communes().await;
    let web_b = w.app.login("quanly.nghienloan").await;
    w.b.units(&[]).await.expect(200);

    let disabled = w
        .org
        .patch_account(w.b_id, json!({"disabled": true}))
        .await
        .expect(200);
    assert_eq!(disabled["disabled"], true);

    w.b.units(&[]).await.error(401, "auth.invalid_token");
    web_b.units(&[]).await.error(401, "auth.invalid_token");
    let (_, reply) = w.app.try_login("quanly.nghienloan", PASSWORD).await;
    reply.error(403, "auth.disabled");
    // A wrong password still reads as a wrong password.
    let (_, reply) = w.app.try_login("quanly.nghienloan", "khong-dung-dau").await;
    reply.error(401, "auth.bad_credentials");

    // Others are unaffected; re-enabling lets B sign in again.
    w.a.units(&[]).await.expect(200);
    w.org
        .patch_account(w.b_id, json!({"disabled": false}))
        .await
        .expect(200);
    w.app.login("quanly.nghienloan").await;
    // An account cannot lock itself.
    w.a.patch_account(w.a_id, json!({"disabled": true}))
        .await
        .error(400, "account.self_change");
}

#[tokio::test]
async fn changing_password_signs_out_other_sessions() {
    let (app, _org) = seeded().await;
    let (_, manager) = app.manager("quanly.bangthanh", COMMUNE_A).await;
    let laptop = app.login("quanly.bangthanh").await;
    let phone = app.login("quanly.bangthanh").await;

    let new_password = "Mat-khau-moi-2026!";
    laptop
        .post(
            "/api/auth/password",
            json!({"current_password": "sai-mat-khau-cu", "new_password": new_password}),
        )
        .await
        .error(400, "auth.bad_credentials");
    let weak = laptop
        .post(
            "/api/auth/password",
            json!({"current_password": PASSWORD, "new_password": "ngan"}),
        )
        .await
        .error(400, "auth.weak_password");
    assert_eq!(weak["field"], "password");
    phone.units(&[]).await.expect(200);

    laptop
        .post(
            "/api/auth/password",
            json!({"current_password": PASSWORD, "new_password": new_password}),
        )
        .await
        .expect(204);
    laptop.units(&[]).await.expect(200);
    phone.units(&[]).await.error(401, "auth.invalid_token");
    manager.units(&[]).await.error(401, "auth.invalid_token");

    let (_, reply) = app.try_login("quanly.bangthanh", PASSWORD).await;
    reply.error(401, "auth.bad_credentials");
    let (again, reply) = app.try_login("quanly.bangthanh", new_password).await;
    reply.expect(200);
    again.units(&[]).await.expect(200);
}

#[tokio::test]
async fn organizer_manages_accounts() {
    let (app, org) = seeded().await;

    let created = org
        .create_account(json!({
            "username": "QuanLy.SYT",
            "display_name": "Đảng ủy Sở Y tế",
            "password": PASSWORD,
            "role": "manager",
            "unit_code": AGENCY
        }))
        .await
        .expect(201);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["username"], "quanly.syt");
    assert_eq!(created["role"], "manager");
    assert_eq!(created["unit_code"], AGENCY);
    assert_eq!(created["unit_name"], "Sở Y tế");
    assert!(!created.to_string().contains("password"));
    let syt = app.bearer("quanly.syt").await;
    assert_eq!(syt.unit_codes(&[]).await, [AGENCY]);
    assert_eq!(syt.member_codes(&[]).await, ["0031001"]);

    let taken = org
        .create_account(json!({"username": "quanly.syt", "display_name": "X", "password": PASSWORD, "role": "manager", "unit_code": AGENCY}))
        .await
        .error(409, "account.username_taken");
    assert_eq!(taken["field"], "username");
    org.create_account(json!({"username": "x", "display_name": "X", "password": PASSWORD, "role": "manager", "unit_code": AGENCY}))
        .await
        .error(400, "account.username_invalid");
    org.create_account(json!({"username": "quanly.yeu", "display_name": "X", "password": "1234567", "role": "manager", "unit_code": AGENCY}))
        .await
        .error(400, "auth.weak_password");
    org.create_account(json!({"username": "quanly.yeu", "display_name": "X", "password": "aaaaaaaaaaaa", "role": "manager", "unit_code": AGENCY}))
        .await
        .error(400, "auth.weak_password");
    org.create_account(json!({"username": "quanly.thieu", "display_name": "X", "password": PASSWORD, "role": "manager"}))
        .await
        .error(400, "account.unit_required");
    org.create_account(json!({"username": "ban.thua", "display_name": "X", "password": PASSWORD, "role": "organizer", "unit_code": AGENCY}))
        .await
        .error(400, "account.unit_invalid");
    let role = org
        .create_account(
            json!({"username": "ban.la", "display_name": "X", "password": PASSWORD, "role": "vua"}),
        )
        .await
        .error(400, "request.invalid_field");
    assert_eq!(role["field"], "role");

    // Moving the manager to another unit changes what they see at once.
    let moved = org
        .patch_account(
            id,
            json!({"unit_code": COMMUNE_B, "display_name": "Quản lý xã Nghiên Loan"}),
        )
        .await
        .expect(200);
    assert_eq!(moved["unit_code"], COMMUNE_B);
    assert_eq!(moved["display_name"], "Quản lý xã Nghiên Loan");
    assert_eq!(syt.unit_codes(&[]).await, [COMMUNE_B]);
    syt.unit(AGENCY).await.error(404, "unit.not_found");

    // A password reset by the organizer signs the account out.
    org.patch_account(id, json!({"password": "Mat-khau-dat-lai-1"}))
        .await
        .expect(200);
    syt.units(&[]).await.error(401, "auth.invalid_token");
    let (_, reply) = app.try_login("quanly.syt", "Mat-khau-dat-lai-1").await;
    reply.expect(200);

    org.account(9999).await.error(404, "account.not_found");
    let listed = org.accounts().await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn password_guessing_is_limited_per_account_not_per_address() {
    let (app, _org) = seeded().await;
    for _ in 0..10 {
        let (_, reply) = app.try_login(ORGANIZER, "sai-mat-khau-123").await;
        reply.error(401, "auth.bad_credentials");
    }
    // The eleventh attempt is refused even with the right password…
    let (_, reply) = app.try_login(ORGANIZER, PASSWORD).await;
    reply.error(429, "auth.rate_limited");
    // …while another account, from the same address, still signs in.
    app.add_account("quanly.khac", Role::Manager, Some(COMMUNE_A))
        .await;
    let (_, reply) = app.try_login("quanly.khac", PASSWORD).await;
    reply.expect(200);
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_and_only_organizers_read_it() {
    let t = two_communes().await;
    let session = t.org.open_session(AGENCY, PROVINCE).await;
    let (point, secret) = t.a.new_point(session, COMMUNE_A, "Hội trường xã").await;
    t.a.rotate_link(point).await.expect(200);
    let hall = t.app.operator(&secret);
    // The old secret was rotated away; undo through a fresh link.
    let fresh = t.a.rotate_link(point).await.expect(200);
    let secret = fresh["operator_link"]
        .as_str()
        .unwrap()
        .split('#')
        .nth(1)
        .unwrap()
        .to_string();
    let hall = {
        drop(hall);
        t.app.operator(&secret)
    };
    hall.post(
        "/api/operator/checkins",
        json!({"items": [{"id": "a-1", "method": "roster", "member_code": "0012001"}]}),
    )
    .await
    .expect(200);
    hall.post(
        "/api/operator/undo",
        json!({"id": "u-1", "member_code": "0012001", "reason": "Nhầm người"}),
    )
    .await
    .expect(200);
    t.org
        .get(&format!("/api/sessions/{session}/report?format=csv"))
        .await;

    let log = t.org.get("/api/audit?limit=100").await.expect(200);
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "units.import",
        "members.import",
        "point.registered",
        "point.link_rotated",
        "checkin.annulled",
        "report.exported",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let undo = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "checkin.annulled")
        .unwrap();
    assert_eq!(undo["actor"], format!("point:{point}"));
    assert_eq!(undo["target"], "member:0012001");
    assert_eq!(undo["details"]["reason"], "Nhầm người");
    let rotated = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "point.link_rotated")
        .unwrap();
    assert_eq!(rotated["actor"], format!("account:{}", t.a_id));
    // Filter by prefix; managers may not read it.
    let imports = t.org.get("/api/audit?action=units.").await.expect(200);
    assert!(
        imports["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"].as_str().unwrap().starts_with("units."))
    );
    t.a.get("/api/audit").await.error(403, "auth.forbidden");
}
