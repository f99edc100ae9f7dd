//! Connection points and the operator link that opens each one.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn registered_point_opens_with_its_operator_link() {
    let (app, org) = seeded().await;
    let session = org.new_session(AGENCY, PROVINCE).await;

    let created = org
        .create_point(
            session,
            json!({
                "unit_code": COMMUNE_A,
                "name": "Hội trường Đảng ủy xã Bằng Thành",
                "location": "Trụ sở UBND xã",
                "kind": "truyền hình",
                "capacity": 80,
                "operator_name": "Hà Văn Tuấn",
                "operator_phone": "+84 912 345 678"
            }),
        )
        .await
        .expect(201);
    let link = created["operator_link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/diem-cau#", app.base_url)),
        "{link}"
    );
    let point = &created["point"];
    let id = point["id"].as_i64().unwrap();
    assert_eq!(point["session_id"], session);
    assert_eq!(point["unit_code"], COMMUNE_A);
    assert_eq!(point["kind"], "broadcast");
    assert_eq!(point["capacity"], 80);
    assert_eq!(point["operator_phone"], "0912345678");
    assert_eq!(point["operator_link_active"], true);
    assert!(!created.to_string().contains("token_hash"));

    let operator = app.operator(&secret_of(link));
    let console = operator.operator_point().await.expect(200);
    assert_eq!(console["point"]["id"], id);
    assert_eq!(console["point"]["name"], "Hội trường Đảng ủy xã Bằng Thành");
    assert_eq!(console["session"]["id"], session);
    assert_eq!(console["session"]["theme"], "Học tập chuyên đề năm 2026");

    assert_eq!(org.session(session).await.expect(200)["point_count"], 1);
    assert_eq!(
        codes(&org.points(session).await.expect(200), "name"),
        ["Hội trường Đảng ủy xã Bằng Thành"]
    );
    assert_eq!(
        org.point(id).await.expect(200)["location"],
        "Trụ sở UBND xã"
    );

    let edited = org
        .patch_point(
            id,
            json!({"capacity": 120, "operator_phone": "0987 654 321"}),
        )
        .await
        .expect(200);
    assert_eq!(edited["capacity"], 120);
    assert_eq!(edited["operator_phone"], "0987654321");
    assert_eq!(edited["name"], "Hội trường Đảng ủy xã Bằng Thành");
    // Editing the point does not change its link.
    operator.operator_point().await.expect(200);
}

#[tokio::test]
async fn rotating_the_link_retires_the_old_secret() {
    let (app, org) = seeded().await;
    let session = org.new_session(AGENCY, PROVINCE).await;
    let (id, old_secret) = org
        .new_point(session, CELL_A, "Nhà văn hóa thôn Nà Lạ")
        .await;

    let rotated = org.rotate_link(id).await.expect(200);
    let new_secret = secret_of(rotated["operator_link"].as_str().unwrap());
    assert_ne!(new_secret, old_secret);
    assert_eq!(rotated["point"]["operator_link_active"], true);

    app.operator(&old_secret)
        .operator_point()
        .await
        .error(401, "operator.link_invalid");
    let console = app.operator(&new_secret).operator_point().await.expect(200);
    assert_eq!(console["point"]["id"], id);
}

#[tokio::test]
async fn revoking_the_link_locks_the_operator_out() {
    let (app, org) = seeded().await;
    let session = org.new_session(AGENCY, PROVINCE).await;
    let (id, secret) = org
        .new_point(session, CELL_A, "Nhà văn hóa thôn Nà Lạ")
        .await;

    org.revoke_link(id).await.expect(204);
    app.operator(&secret)
        .operator_point()
        .await
        .error(401, "operator.link_invalid");
    let point = org.point(id).await.expect(200);
    assert_eq!(point["operator_link_active"], false);
    assert_eq!(point["operator_link_issued_at"], json!(null));

    // A new link can be made afterwards.
    let rotated = org.rotate_link(id).await.expect(200);
    let fresh = secret_of(rotated["operator_link"].as_str().unwrap());
    app.operator(&fresh).operator_point().await.expect(200);
    app.operator(&secret)
        .operator_point()
        .await
        .error(401, "operator.link_invalid");
}

#[tokio::test]
async fn operator_secret_opens_nothing_else() {
    let (app, org) = seeded().await;
    let session = org.new_session(AGENCY, PROVINCE).await;
    let (id, secret) = org
        .new_point(session, CELL_A, "Nhà văn hóa thôn Nà Lạ")
        .await;

    app.anonymous()
        .operator_point()
        .await
        .error(401, "operator.link_required");
    let operator = app.operator(&secret);
    operator.units(&[]).await.error(401, "auth.required");
    operator.point(id).await.error(401, "auth.required");
    operator.rotate_link(id).await.error(401, "auth.required");
    // Sent as a bearer token it is no sign-in either.
    app.anonymous()
        .send(
            app.anonymous()
                .request(reqwest::Method::GET, "/api/units")
                .bearer_auth(&secret),
        )
        .await
        .error(401, "auth.invalid_token");
    app.operator("khong-phai-ma-that")
        .operator_point()
        .await
        .error(401, "operator.link_invalid");
}

#[tokio::test]
async fn point_unit_must_lie_inside_the_session_subtree() {
    let (_app, org) = seeded().await;
    let session = org.new_session(COMMUNE_A, COMMUNE_A).await;

    let outside = org
        .create_point(session, point_body(COMMUNE_B, "Hội trường xã Nghiên Loan"))
        .await
        .error(400, "point.unit_outside_session");
    assert_eq!(outside["field"], "unit_code");
    org.create_point(session, point_body(PROVINCE, "Hội trường tỉnh"))
        .await
        .error(400, "point.unit_outside_session");

    let (id, _) = org
        .new_point(session, CELL_A, "Nhà văn hóa thôn Nà Lạ")
        .await;
    org.patch_point(id, json!({"unit_code": CELL_B}))
        .await
        .error(400, "point.unit_outside_session");
    assert_eq!(org.point(id).await.expect(200)["unit_code"], CELL_A);
    assert_eq!(org.session(session).await.expect(200)["point_count"], 1);
}

#[tokio::test]
async fn point_fields_are_checked() {
    let (_app, org) = seeded().await;
    let session = org.new_session(AGENCY, PROVINCE).await;

    for phone in ["12345", "0912 345 67", "09123456789", "+1 555 0100 12"] {
        let mut body = point_body(COMMUNE_A, "Hội trường xã");
        body["operator_phone"] = json!(phone);
        let error = org
            .create_point(session, body)
            .await
            .error(400, "point.phone_invalid");
        assert_eq!(error["field"], "operator_phone", "{phone}");
    }
    let mut body = point_body(COMMUNE_A, "Hội trường xã");
    body["capacity"] = json!(0);
    org.create_point(session, body)
        .await
        .error(400, "point.capacity_invalid");
    let mut body = point_body(COMMUNE_A, "Hội trường xã");
    body["kind"] = json!("hologram");
    org.create_point(session, body)
        .await
        .error(400, "point.kind_invalid");
    let missing = org
        .create_point(session, json!({"unit_code": COMMUNE_A}))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(missing["field"], "name");
    assert_eq!(org.session(session).await.expect(200)["point_count"], 0);

    org.new_point(session, COMMUNE_A, "Hội trường xã").await;
    let taken = org
        .create_point(session, point_body(COMMUNE_A, "Hội trường xã"))
        .await
        .error(409, "point.name_taken");
    assert_eq!(taken["field"], "name");
    // The same name at another unit is fine.
    org.new_point(session, COMMUNE_B, "Hội trường xã").await;

    org.create_point(999, point_body(COMMUNE_A, "X"))
        .await
        .error(404, "session.not_found");
    org.point(999).await.error(404, "point.not_found");
}

#[tokio::test]
async fn points_can_be_removed_and_ended_sessions_take_no_more() {
    let (app, org) = seeded().await;
    let session = org.new_session(AGENCY, PROVINCE).await;
    let (id, secret) = org
        .new_point(session, CELL_A, "Nhà văn hóa thôn Nà Lạ")
        .await;

    org.delete_point(id).await.expect(204);
    org.point(id).await.error(404, "point.not_found");
    app.operator(&secret)
        .operator_point()
        .await
        .error(401, "operator.link_invalid");

    org.set_status(session, "ended").await.expect(200);
    org.create_point(session, point_body(CELL_A, "Muộn"))
        .await
        .error(409, "session.ended");
}
