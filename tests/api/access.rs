//! The access-control matrix of docs/access-control.md, walked route by
//! route: every route of `/api/openapi.json` (a route missing from the table
//! below fails the test) is called by each role with path parameters naming
//! an object inside commune A and one inside commune B, and the answer must
//! match the table.

use reqwest::Method;
use serde_json::{Value, json};

use diemcau::domain::makeup;

use crate::helpers::*;

/// What a role gets from a route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Access {
    /// Allowed: anything but 401, 403, 404 (and never a 5xx); a 4xx such as
    /// 400, 409 or 422 from a minimal body is fine.
    Ok,
    /// 401: no valid credentials of the kind the route takes.
    Unauth,
    /// 403: signed in, but the route is not for this role.
    Forbid,
    /// 404: the object is outside the caller's subtree, so it is hidden.
    Hidden,
    /// 400 `import.rejected`: an import whose rows name units outside the
    /// caller's subtree is refused line by line.
    Rejected,
}

use Access::{Forbid, Hidden, Ok as Yes, Rejected, Unauth};

/// Columns: anonymous, point operator (own point), unit manager inside their
/// subtree, unit manager outside it, organizer.
type Row = (&'static str, &'static str, [Access; 5]);

const SIGNED_IN: [Access; 5] = [Unauth, Unauth, Yes, Yes, Yes];
const SCOPED: [Access; 5] = [Unauth, Unauth, Yes, Hidden, Yes];
const ORGANIZER_ONLY: [Access; 5] = [Unauth, Unauth, Forbid, Forbid, Yes];
const OPERATOR: [Access; 5] = [Unauth, Yes, Unauth, Unauth, Unauth];
const PUBLIC: [Access; 5] = [Yes, Yes, Yes, Yes, Yes];
const IMPORT: [Access; 5] = [Unauth, Unauth, Yes, Rejected, Yes];

const MATRIX: &[Row] = &[
    ("GET", "/api/accounts", SIGNED_IN),
    ("POST", "/api/accounts", SCOPED),
    ("GET", "/api/accounts/{id}", SCOPED),
    ("PATCH", "/api/accounts/{id}", SCOPED),
    ("GET", "/api/audit", ORGANIZER_ONLY),
    ("POST", "/api/auth/login", PUBLIC),
    ("POST", "/api/auth/logout", SIGNED_IN),
    ("GET", "/api/auth/me", SIGNED_IN),
    ("POST", "/api/auth/password", SIGNED_IN),
    ("GET", "/api/auth/tokens", SIGNED_IN),
    ("POST", "/api/auth/tokens", SIGNED_IN),
    // Only one's own tokens: another account's token is hidden, even from
    // organizers.
    (
        "DELETE",
        "/api/auth/tokens/{id}",
        [Unauth, Unauth, Yes, Hidden, Hidden],
    ),
    ("POST", "/api/checkin", PUBLIC),
    ("GET", "/api/checkin/{token}", PUBLIC),
    ("GET", "/api/makeup/{token}", PUBLIC),
    ("POST", "/api/makeup/{token}/progress", PUBLIC),
    ("GET", "/api/members", SIGNED_IN),
    ("POST", "/api/members", SCOPED),
    ("POST", "/api/members/import", IMPORT),
    ("GET", "/api/members/{code}", SCOPED),
    ("PATCH", "/api/members/{code}", SCOPED),
    ("DELETE", "/api/members/{code}", SCOPED),
    ("GET", "/api/members/{code}/history", SCOPED),
    ("POST", "/api/operator/absences", OPERATOR),
    ("POST", "/api/operator/checkins", OPERATOR),
    ("POST", "/api/operator/head-count", OPERATOR),
    ("GET", "/api/operator/point", OPERATOR),
    ("GET", "/api/operator/qr", OPERATOR),
    ("GET", "/api/operator/qr.png", OPERATOR),
    ("GET", "/api/operator/roster", OPERATOR),
    ("POST", "/api/operator/undo", OPERATOR),
    ("POST", "/api/operator/ws-ticket", OPERATOR),
    ("GET", "/api/points/{id}", SCOPED),
    ("PATCH", "/api/points/{id}", SCOPED),
    ("DELETE", "/api/points/{id}", SCOPED),
    ("POST", "/api/points/{id}/operator-link", SCOPED),
    ("DELETE", "/api/points/{id}/operator-link", SCOPED),
    ("GET", "/api/public/sessions", PUBLIC),
    ("GET", "/api/public/sessions.ics", PUBLIC),
    ("GET", "/api/public/sessions/{id}", PUBLIC),
    ("GET", "/api/public/sessions/{id}/figures", PUBLIC),
    ("POST", "/api/public/sessions/{id}/home-checkin", PUBLIC),
    ("GET", "/api/public/sessions/{id}/home-qr.svg", PUBLIC),
    ("GET", "/api/public/sessions/{id}/units", PUBLIC),
    ("GET", "/api/sessions", SIGNED_IN),
    ("POST", "/api/sessions", SCOPED),
    ("GET", "/api/sessions/{id}", SCOPED),
    ("PATCH", "/api/sessions/{id}", SCOPED),
    ("GET", "/api/sessions/{id}/absentees", SCOPED),
    ("GET", "/api/sessions/{id}/flags", SCOPED),
    ("POST", "/api/sessions/{id}/flags/review", SCOPED),
    ("GET", "/api/sessions/{id}/points", SCOPED),
    ("POST", "/api/sessions/{id}/points", SCOPED),
    ("GET", "/api/sessions/{id}/report", SCOPED),
    ("POST", "/api/sessions/{id}/status", SCOPED),
    ("GET", "/api/sessions/{id}/tally", SCOPED),
    ("GET", "/api/units", SIGNED_IN),
    ("POST", "/api/units", SCOPED),
    ("POST", "/api/units/import", IMPORT),
    ("GET", "/api/units/{code}", SCOPED),
    ("PATCH", "/api/units/{code}", SCOPED),
    ("DELETE", "/api/units/{code}", SCOPED),
    ("GET", "/api/units/{code}/cards", SCOPED),
    ("GET", "/api/webhooks", ORGANIZER_ONLY),
    ("POST", "/api/webhooks", ORGANIZER_ONLY),
    ("DELETE", "/api/webhooks/{id}", ORGANIZER_ONLY),
    ("GET", "/api/webhooks/{id}/deliveries", ORGANIZER_ONLY),
];

/// The objects of one commune that path parameters and bodies name.
struct Side {
    commune: &'static str,
    cell: &'static str,
    member: &'static str,
    /// The manager account of this commune (for its tokens).
    manager: Api,
    /// An operator link of a point of this commune.
    operator: Api,
    session: i64,
    point: i64,
    account: i64,
    account_name: &'static str,
    webhook: i64,
    checkin_token: String,
    makeup_token: String,
}

/// A request body.
enum Body {
    None,
    Json(Value),
    Csv(String),
}

/// Every (method, path) of the OpenAPI document, with the `/api` prefix.
async fn openapi_routes(app: &TestApp) -> Vec<(String, String)> {
    let doc = app.anonymous().get("/api/openapi.json").await.expect(200);
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                routes.push((method.to_uppercase(), format!("/api{path}")));
            }
        }
    }
    routes
}

/// A fresh number, for names that must not repeat.
fn next(n: &mut u32) -> u32 {
    *n += 1;
    *n
}

/// The concrete path and body of `route` naming the objects of `side`;
/// objects a call may destroy are made fresh by the organizer first.
async fn build(org: &Api, side: &Side, method: &str, path: &str, n: &mut u32) -> (String, Body) {
    let i = next(n);
    let id: String = match (method, path) {
        ("DELETE", "/api/units/{code}") => {
            let code = format!("TMP-U{i}");
            org.create_unit(json!({"code": code, "name": "Chi bộ tạm", "kind": "cell", "parent_code": side.commune}))
                .await
                .expect(201);
            code
        }
        ("DELETE", "/api/members/{code}") => {
            let code = format!("88{i:05}");
            org.create_member(json!({"code": code, "full_name": "Người Tạm Thời", "category": "party_member", "unit_code": side.cell}))
                .await
                .expect(201);
            code
        }
        ("DELETE", "/api/points/{id}") | (_, "/api/points/{id}/operator-link") => org
            .new_point(side.session, side.cell, &format!("Điểm tạm {i}"))
            .await
            .0
            .to_string(),
        ("DELETE", "/api/auth/tokens/{id}") => side
            .manager
            .post("/api/auth/tokens", json!({"name": format!("Tạm {i}")}))
            .await
            .expect(201)["id"]
            .to_string(),
        ("DELETE", "/api/webhooks/{id}") => org
            .post(
                "/api/webhooks",
                json!({"url": format!("https://tam{i}.example.vn/hook")}),
            )
            .await
            .expect(201)["webhook"]["id"]
            .to_string(),
        _ if path.starts_with("/api/units/") => side.cell.to_string(),
        _ if path.starts_with("/api/members/") => side.member.to_string(),
        _ if path.starts_with("/api/sessions/") || path.starts_with("/api/public/sessions/") => {
            side.session.to_string()
        }
        _ if path.starts_with("/api/points/") => side.point.to_string(),
        _ if path.starts_with("/api/accounts/") => side.account.to_string(),
        _ if path.starts_with("/api/webhooks/") => side.webhook.to_string(),
        _ if path.starts_with("/api/checkin/") => side.checkin_token.clone(),
        _ if path.starts_with("/api/makeup/") => side.makeup_token.clone(),
        _ => String::new(),
    };
    let filled: String = path
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                id.as_str()
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    assert!(!filled.contains('{') && !filled.contains("//"), "{filled}");

    let body = match (method, path) {
        ("GET", _) | ("DELETE", _) => Body::None,
        ("POST", "/api/auth/logout")
        | ("POST", "/api/operator/ws-ticket")
        | ("POST", "/api/points/{id}/operator-link") => Body::None,
        ("POST", "/api/accounts") => Body::Json(json!({
            "username": format!("acl.tao{i}"), "display_name": "Tài khoản thử",
            "password": PASSWORD, "role": "manager", "unit_code": side.cell,
        })),
        ("POST", "/api/auth/login") => {
            Body::Json(json!({"username": side.account_name, "password": PASSWORD}))
        }
        ("POST", "/api/auth/password") => Body::Json(json!({
            "current_password": "khong-phai-mat-khau-1", "new_password": "Mat-khau-moi-2026!",
        })),
        ("POST", "/api/auth/tokens") => Body::Json(json!({"name": format!("Thử {i}")})),
        ("POST", "/api/checkin") => {
            Body::Json(json!({"token": side.checkin_token, "member_code": side.member}))
        }
        ("POST", "/api/makeup/{token}/progress") => Body::Json(
            json!({"duration_s": 5400.0, "intervals": [[0.0, 10.0]], "position_s": 10.0}),
        ),
        ("POST", "/api/members") => Body::Json(json!({
            "code": format!("77{i:05}"), "full_name": "Người Kiểm Thử",
            "category": "party_member", "unit_code": side.cell,
        })),
        ("POST", "/api/members/import") => Body::Csv(format!(
            "member_code,full_name,category,unit_code\n66{i:05},Người Nhập Thử,party_member,{}\n",
            side.cell
        )),
        ("POST", "/api/operator/absences") => {
            Body::Json(json!({"member_code": side.member, "reason": "Ốm"}))
        }
        ("POST", "/api/operator/checkins") => Body::Json(json!({"items": [
            {"id": format!("acl-{i}"), "method": "roster", "member_code": side.member},
        ]})),
        ("POST", "/api/operator/head-count") => Body::Json(json!({"count": 12})),
        ("POST", "/api/operator/undo") => {
            Body::Json(json!({"member_code": side.member, "reason": "Bấm nhầm"}))
        }
        ("POST", "/api/public/sessions/{id}/home-checkin") => {
            Body::Json(json!({"member_code": side.member, "device_id": format!("thiet-bi-{i}")}))
        }
        ("POST", "/api/sessions") => Body::Json(session_now_body(side.commune, side.commune)),
        ("POST", "/api/sessions/{id}/points") => {
            Body::Json(point_body(side.cell, &format!("Điểm thử {i}")))
        }
        ("POST", "/api/sessions/{id}/status") => Body::Json(json!({"status": "open"})),
        // An empty note: 400 once the session is found visible, 404 before.
        ("POST", "/api/sessions/{id}/flags/review") => {
            Body::Json(json!({"key": "far:0", "note": ""}))
        }
        ("POST", "/api/units") => Body::Json(json!({
            "code": format!("ACL-U{i}"), "name": "Chi bộ thử", "kind": "cell",
            "parent_code": side.commune,
        })),
        ("POST", "/api/units/import") => Body::Csv(format!(
            "code,name,kind,parent_code\nIMP-U{i},Chi bộ nhập thử,cell,{}\n",
            side.commune
        )),
        ("POST", "/api/webhooks") => {
            Body::Json(json!({"url": format!("https://he-thong{i}.example.vn/hook")}))
        }
        // PATCH: an empty change.
        _ => Body::Json(json!({})),
    };
    (filled, body)
}

/// Sends the request as `who` and checks the answer against `expected`.
async fn check(who: &Api, label: &str, method: &str, path: &str, body: Body, expected: Access) {
    let m = Method::from_bytes(method.as_bytes()).expect("method");
    let rb = who.request(m, path);
    let rb = match body {
        Body::None => rb,
        Body::Json(v) => rb.json(&v),
        Body::Csv(csv) => rb
            .header(reqwest::header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .body(csv),
    };
    // `send` already fails on any 5xx.
    let reply = who.send(rb).await;
    let status = reply.status.as_u16();
    let ok = match expected {
        Access::Ok => !matches!(status, 401 | 403 | 404) && status < 500,
        Access::Unauth => status == 401,
        Access::Forbid => status == 403,
        Access::Hidden => status == 404,
        Access::Rejected => status == 400 && reply.json["error"]["code"] == "import.rejected",
    };
    assert!(
        ok,
        "{label}: {method} {path} expected {expected:?}, answered {status}: {}",
        reply.text
    );
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_access_matrix_says() {
    let t = two_communes().await;
    let (app, org) = (&t.app, &t.org);

    // Every route of the OpenAPI document is in the matrix, and back.
    let routes = openapi_routes(app).await;
    for (method, path) in &routes {
        assert!(
            MATRIX.iter().any(|(m, p, _)| m == method && p == path),
            "{method} {path} is missing from the access matrix (tests/api/access.rs and docs/access-control.md)"
        );
    }
    for (method, path, _) in MATRIX {
        assert!(
            routes.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is in the access matrix but not in /api/openapi.json"
        );
    }

    // The objects of each commune: a session scoped to it, open now, with a
    // point; a manager account of its cell; a webhook; check-in and make-up
    // tokens.
    let key = app.qr_key().await;
    let mut sides = Vec::new();
    for (commune, cell, member, name, manager) in [
        (COMMUNE_A, CELL_A, "0012002", "acl.chibo-a", t.a.clone()),
        (COMMUNE_B, CELL_B, "0023002", "acl.chibo-b", t.b.clone()),
    ] {
        let session = org.open_session(commune, commune).await;
        let (point, secret) = org.new_point(session, cell, "Hội trường chi bộ").await;
        let operator = app.operator(&secret);
        let checkin_token = operator.get("/api/operator/qr").await.expect(200)["token"]
            .as_str()
            .expect("token")
            .to_string();
        let account = app
            .add_account(name, diemcau::domain::Role::Manager, Some(cell))
            .await;
        let webhook = org
            .post(
                "/api/webhooks",
                json!({"url": format!("https://{name}.example.vn/hook")}),
            )
            .await
            .expect(201)["webhook"]["id"]
            .as_i64()
            .expect("webhook id");
        sides.push(Side {
            commune,
            cell,
            member,
            manager,
            operator,
            session,
            point,
            account,
            account_name: name,
            webhook,
            checkin_token,
            makeup_token: makeup::token(&key, session, member),
        });
    }
    let (side_a, side_b) = (&sides[0], &sides[1]);

    // Beyond the matrix: only organizers create organizers, and a session
    // over a wider subtree than the manager's is visible but read-only.
    t.a.create_account(json!({
        "username": "acl.bantochuc", "display_name": "Ban tổ chức thử",
        "password": PASSWORD, "role": "organizer",
    }))
    .await
    .error(403, "auth.forbidden");
    let wide = org.open_session(AGENCY, PROVINCE).await;
    t.a.session(wide).await.expect(200);
    t.a.patch_session(wide, json!({}))
        .await
        .error(403, "auth.forbidden");

    // (label, caller, column, side) for every call of a route.
    let anonymous = app.anonymous();
    let calls: Vec<(&str, &Api, usize, &Side)> = vec![
        ("anonymous", &anonymous, 0, side_a),
        ("anonymous", &anonymous, 0, side_b),
        ("operator of A", &side_a.operator, 1, side_a),
        ("operator of B", &side_b.operator, 1, side_b),
        ("manager of A", &t.a, 2, side_a),
        ("manager of A", &t.a, 3, side_b),
        ("manager of B", &t.b, 2, side_b),
        ("manager of B", &t.b, 3, side_a),
        ("organizer", org, 4, side_a),
        ("organizer", org, 4, side_b),
    ];

    // Deletions after everything else; signing out last of all.
    let mut ordered: Vec<&Row> = MATRIX.iter().filter(|r| r.0 != "DELETE").collect();
    ordered.extend(MATRIX.iter().filter(|r| r.0 == "DELETE"));
    let logout = ordered
        .iter()
        .position(|r| r.1 == "/api/auth/logout")
        .expect("logout route");
    let logout = ordered.remove(logout);
    ordered.push(logout);

    let mut n = 0;
    let mut checked = 0;
    for (method, path, expected) in ordered {
        let mut seen_logout: Vec<*const Api> = Vec::new();
        for (label, who, column, side) in &calls {
            if *path == "/api/auth/logout" {
                // A caller signs out once.
                if seen_logout.contains(&(*who as *const Api)) {
                    continue;
                }
                seen_logout.push(*who as *const Api);
            }
            let (filled, body) = build(org, side, method, path, &mut n).await;
            check(who, label, method, &filled, body, expected[*column]).await;
            checked += 1;
        }
    }
    println!(
        "access matrix: {} routes × 5 roles, {checked} requests checked",
        MATRIX.len()
    );
    assert_eq!(MATRIX.len(), routes.len());
}
