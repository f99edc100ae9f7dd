//! Roles and scope: a manager of one commune can neither read nor change
//! another commune's data. Outside the subtree reads as "not found".

use serde_json::{Value, json};

use crate::helpers::*;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn manager_reads_and_edits_units_of_own_subtree() {
    let w = two_communes().await;
    let a = &w.a;

    // The top of a manager's tree is their own unit.
    assert_eq!(a.unit_codes(&[]).await, [COMMUNE_A]);
    assert_eq!(a.unit_codes(&[("parent", COMMUNE_A)]).await, [CELL_A]);
    let cell = a.unit(CELL_A).await.expect(200);
    assert_eq!(cell["parent_code"], COMMUNE_A);

    let renamed = a
        .patch_unit(CELL_A, json!({"name": "Chi bộ thôn Nà Lạ mới"}))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Chi bộ thôn Nà Lạ mới");
    a.create_unit(json!({"code": "CB-BT2", "name": "Chi bộ thôn Bản Pục", "kind": "cell", "parent_code": COMMUNE_A}))
        .await
        .expect(201);
    a.patch_unit("CB-BT2", json!({"parent_code": CELL_A}))
        .await
        .expect(200);
    a.delete_unit("CB-BT2").await.expect(204);
    let report = a
        .import_units("code,name,kind,parent_code\nCB-BT3,Chi bộ thôn Khuổi Bốc,cell,05800\n")
        .await
        .expect(200);
    assert_eq!(report["created"], 1);
    assert_eq!(
        sorted(a.unit_codes(&[("q", "chi bo")]).await),
        ["CB-BT1", "CB-BT3"]
    );
}

#[tokio::test]
async fn manager_gets_not_found_for_another_communes_units() {
    let w = two_communes().await;
    let a = &w.a;

    for code in [COMMUNE_B, CELL_B, PROVINCE, AGENCY] {
        a.unit(code).await.error(404, "unit.not_found");
        a.patch_unit(code, json!({"name": "Bị đổi tên"}))
            .await
            .error(404, "unit.not_found");
        a.delete_unit(code).await.error(404, "unit.not_found");
        a.units(&[("parent", code)])
            .await
            .error(404, "unit.not_found");
    }
    // Search covers only the own subtree, by name or by exact code.
    assert!(a.unit_codes(&[("q", "nghien loan")]).await.is_empty());
    assert!(a.unit_codes(&[("q", COMMUNE_B)]).await.is_empty());
    assert!(a.unit_codes(&[("q", CELL_B)]).await.is_empty());
    assert_eq!(a.unit_codes(&[("kind", "cell")]).await, [CELL_A]);
    assert_eq!(a.unit_count().await, 2);

    // Nothing of B changed.
    let b_unit = w.org.unit(COMMUNE_B).await.expect(200);
    assert_eq!(b_unit["name"], "Xã Nghiên Loan");
    assert_eq!(w.org.unit_count().await, TREE_SIZE);
}

#[tokio::test]
async fn manager_cannot_attach_units_to_another_commune() {
    let w = two_communes().await;
    let a = &w.a;

    let create_under_b = a
        .create_unit(
            json!({"code": "X1", "name": "Chi bộ X", "kind": "cell", "parent_code": COMMUNE_B}),
        )
        .await
        .error(404, "unit.not_found");
    assert_eq!(create_under_b["field"], "parent_code");
    let root = a
        .create_unit(json!({"code": "X2", "name": "Tỉnh riêng", "kind": "province"}))
        .await
        .error(400, "unit.parent_required");
    assert_eq!(root["field"], "parent_code");
    a.patch_unit(CELL_A, json!({"parent_code": COMMUNE_B}))
        .await
        .error(404, "unit.not_found");
    a.patch_unit(CELL_A, json!({"parent_code": ""}))
        .await
        .error(400, "unit.parent_required");
    // Their own unit stays where the organizer put it.
    a.patch_unit(COMMUNE_A, json!({"parent_code": COMMUNE_B}))
        .await
        .error(403, "auth.forbidden");
    a.patch_unit(COMMUNE_A, json!({"parent_code": CELL_A}))
        .await
        .error(403, "auth.forbidden");
    a.delete_unit(COMMUNE_A).await.error(403, "auth.forbidden");

    // Imports: under B, as a new root, or taking over B's units.
    for (csv, code) in [
        (
            "code,name,kind,parent_code\nX1,Chi bộ X,cell,01840\n",
            "unit.out_of_scope",
        ),
        (
            "code,name,kind,parent_code\nX1,Tỉnh riêng,province,\n",
            "unit.parent_required",
        ),
        (
            "code,name,kind,parent_code\nCB-NL1,Chi bộ của A,cell,05800\n",
            "unit.out_of_scope",
        ),
        (
            "code,name,kind,parent_code\n05800,Xã Bằng Thành,commune,01840\n",
            "unit.out_of_scope",
        ),
    ] {
        let problems = a.import_units(csv).await.import_problems();
        assert_eq!(problems, [(2, code.to_string())], "{csv}");
    }
    // A file that mixes a valid row with one under B changes nothing.
    let problems = a
        .import_units(
            "code,name,kind,parent_code\nCB-BT1,Đổi tên,cell,05800\nX1,Chi bộ X,cell,01840\n",
        )
        .await
        .import_problems();
    assert_eq!(problems, [(3, "unit.out_of_scope".to_string())]);
    assert_eq!(
        a.unit(CELL_A).await.expect(200)["name"],
        "Chi bộ thôn Nà Lạ"
    );

    assert_eq!(w.org.unit_count().await, TREE_SIZE);
    assert_eq!(w.org.unit_codes(&[("parent", COMMUNE_B)]).await, [CELL_B]);
    assert_eq!(
        w.org.unit(CELL_B).await.expect(200)["name"],
        "Chi bộ thôn Nà Pài"
    );
}

#[tokio::test]
async fn manager_sees_and_edits_only_own_members() {
    let w = two_communes().await;
    let (a, b) = (&w.a, &w.b);

    assert_eq!(sorted(a.member_codes(&[]).await), MEMBERS_OF_A);
    assert_eq!(sorted(b.member_codes(&[]).await), MEMBERS_OF_B);
    assert_eq!(a.members(&[]).await.expect(200)["total"], 5);
    // Searching for B's people by name or code finds nothing.
    assert!(a.member_codes(&[("q", "dang thi hoa")]).await.is_empty());
    assert!(a.member_codes(&[("q", "0023001")]).await.is_empty());
    assert!(
        a.member_codes(&[("q", "van")])
            .await
            .iter()
            .all(|c| MEMBERS_OF_A.contains(&c.as_str()))
    );
    a.members(&[("unit", COMMUNE_B)])
        .await
        .error(404, "unit.not_found");
    a.members(&[("unit", PROVINCE), ("subtree", "true")])
        .await
        .error(404, "unit.not_found");

    for code in MEMBERS_OF_B {
        a.member(code).await.error(404, "member.not_found");
        a.patch_member(code, json!({"full_name": "Bị sửa"}))
            .await
            .error(404, "member.not_found");
        a.delete_member(code).await.error(404, "member.not_found");
    }
    let into_b = a
        .create_member(json!({"code": "0099001", "full_name": "Người Mới", "category": "guest", "unit_code": COMMUNE_B}))
        .await
        .error(404, "unit.not_found");
    assert_eq!(into_b["field"], "unit_code");
    a.patch_member("0012001", json!({"unit_code": CELL_B}))
        .await
        .error(404, "unit.not_found");

    // Own members: full control.
    a.patch_member("0012001", json!({"full_name": "Nguyễn Văn Á"}))
        .await
        .expect(200);
    a.create_member(json!({"code": "0012050", "full_name": "Lò Thị Xuân", "category": "guest", "unit_code": CELL_A}))
        .await
        .expect(201);
    a.delete_member("0012050").await.expect(204);

    // B's roster is as it was.
    assert_eq!(
        sorted(
            w.org
                .member_codes(&[("unit", COMMUNE_B), ("subtree", "true")])
                .await
        ),
        MEMBERS_OF_B
    );
    assert_eq!(
        w.org.member("0023001").await.expect(200)["full_name"],
        "Đặng Thị Hoa"
    );
    assert_eq!(
        w.org.member("0023001").await.expect(200)["unit_code"],
        COMMUNE_B
    );
}

#[tokio::test]
async fn manager_cannot_import_members_into_another_commune() {
    let w = two_communes().await;
    let a = &w.a;

    let csv = "member_code,full_name,category,unit_code\n\
               0012060,Người Của A,guest,05800\n\
               0099001,Người Mới,guest,01840\n";
    let problems = a.import_members(csv).await.import_problems();
    assert_eq!(problems, [(3, "unit.not_found".to_string())]);

    // Nor take over a member of B by reusing their code.
    let csv = "member_code,full_name,category,unit_code\n0023001,Đặng Thị Hoa,party_member,05800\n";
    let problems = a.import_members(csv).await.import_problems();
    assert_eq!(problems, [(2, "member.code_taken".to_string())]);

    assert_eq!(w.org.members(&[]).await.expect(200)["total"], MEMBER_COUNT);
    assert_eq!(
        w.org.member("0023001").await.expect(200)["unit_code"],
        COMMUNE_B
    );
    w.org.member("0012060").await.error(404, "member.not_found");
}

#[tokio::test]
async fn manager_sees_and_edits_only_own_points() {
    let w = two_communes().await;
    let (a, b) = (&w.a, &w.b);
    let session = w.org.new_session(AGENCY, PROVINCE).await;
    let (point_a, _) = w
        .org
        .new_point(session, COMMUNE_A, "Hội trường xã Bằng Thành")
        .await;
    let (point_b, secret_b) = w
        .org
        .new_point(session, COMMUNE_B, "Hội trường xã Nghiên Loan")
        .await;
    w.org
        .new_point(session, PROVINCE, "Điểm cầu chính Tỉnh ủy")
        .await;

    let listed = a.points(session).await.expect(200);
    assert_eq!(codes(&listed, "unit_code"), [COMMUNE_A]);
    let listed = b.points(session).await.expect(200);
    assert_eq!(codes(&listed, "unit_code"), [COMMUNE_B]);

    a.point(point_a).await.expect(200);
    a.patch_point(point_a, json!({"capacity": 50}))
        .await
        .expect(200);
    let (own, _) = a.new_point(session, CELL_A, "Nhà văn hóa thôn Nà Lạ").await;
    a.rotate_link(own).await.expect(200);
    a.delete_point(own).await.expect(204);

    a.point(point_b).await.error(404, "point.not_found");
    a.patch_point(point_b, json!({"name": "Bị đổi"}))
        .await
        .error(404, "point.not_found");
    a.rotate_link(point_b).await.error(404, "point.not_found");
    a.revoke_link(point_b).await.error(404, "point.not_found");
    a.delete_point(point_b).await.error(404, "point.not_found");
    a.create_point(session, point_body(CELL_B, "Điểm cầu lạ"))
        .await
        .error(404, "unit.not_found");
    a.patch_point(point_a, json!({"unit_code": COMMUNE_B}))
        .await
        .error(404, "unit.not_found");

    // B's point and its link are untouched.
    let point = w.org.point(point_b).await.expect(200);
    assert_eq!(point["name"], "Hội trường xã Nghiên Loan");
    assert_eq!(point["operator_link_active"], true);
    w.app.operator(&secret_b).operator_point().await.expect(200);
    assert_eq!(
        w.org
            .points(session)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn sessions_are_shared_down_the_tree_but_not_across() {
    let w = two_communes().await;
    let (a, b) = (&w.a, &w.b);
    let province_wide = w.org.new_session(AGENCY, PROVINCE).await;
    let only_b = w.org.new_session(COMMUNE_B, COMMUNE_B).await;

    assert_eq!(a.session_ids().await, [province_wide]);
    assert_eq!(
        sorted_ids(b.session_ids().await),
        sorted_ids(vec![province_wide, only_b])
    );
    a.session(province_wide).await.expect(200);
    a.session(only_b).await.error(404, "session.not_found");
    a.points(only_b).await.error(404, "session.not_found");
    a.create_point(only_b, point_body(COMMUNE_A, "X"))
        .await
        .error(404, "session.not_found");

    // A province-wide session is the organizer's to run.
    a.set_status(province_wide, "open")
        .await
        .error(403, "auth.forbidden");
    a.patch_session(province_wide, json!({"theme": "Bị đổi"}))
        .await
        .error(403, "auth.forbidden");
    b.set_status(only_b, "open").await.expect(200);

    // A's own session is invisible to B.
    let own = a.new_session(COMMUNE_A, COMMUNE_A).await;
    a.set_status(own, "open").await.expect(200);
    b.session(own).await.error(404, "session.not_found");
    assert!(!b.session_ids().await.contains(&own));
    a.create_session(session_body(COMMUNE_A, PROVINCE))
        .await
        .error(404, "unit.not_found");
    a.create_session(session_body(COMMUNE_B, COMMUNE_B))
        .await
        .error(404, "unit.not_found");
    assert_eq!(
        w.org.session(province_wide).await.expect(200)["status"],
        "scheduled"
    );
}

fn sorted_ids(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v
}

#[tokio::test]
async fn manager_cannot_create_organizers_or_touch_accounts_outside() {
    let w = two_communes().await;
    let a = &w.a;
    let organizer_id = w.org.me().await.expect(200)["account"]["id"]
        .as_i64()
        .unwrap();

    let organizer = a
        .create_account(json!({
            "username": "ban.moi",
            "display_name": "Ban tổ chức mới",
            "password": PASSWORD,
            "role": "organizer"
        }))
        .await
        .error(403, "auth.forbidden");
    assert_eq!(organizer["field"], "role");
    a.create_account(json!({
        "username": "quanly.nghienloan2",
        "display_name": "Quản lý khác",
        "password": PASSWORD,
        "role": "manager",
        "unit_code": COMMUNE_B
    }))
    .await
    .error(404, "unit.not_found");

    let listed: Vec<i64> = account_ids(&a.accounts().await.expect(200));
    assert_eq!(listed, [w.a_id]);
    for id in [w.b_id, organizer_id] {
        a.account(id).await.error(404, "account.not_found");
        a.patch_account(id, json!({"disabled": true}))
            .await
            .error(404, "account.not_found");
        a.patch_account(id, json!({"password": "Mat-khau-bi-doi-1"}))
            .await
            .error(404, "account.not_found");
    }
    // Raising oneself is refused too.
    a.patch_account(w.a_id, json!({"role": "organizer"}))
        .await
        .error(400, "account.self_change");

    // B and the organizer still work, with their old password.
    w.b.me().await.expect(200);
    w.app.login("quanly.nghienloan").await;
    let b_account = w.org.account(w.b_id).await.expect(200);
    assert_eq!(b_account["disabled"], false);

    // Within the subtree a manager may add a manager, but never an organizer.
    let deputy = a
        .create_account(json!({
            "username": "quanly.nala",
            "display_name": "Chi bộ thôn Nà Lạ",
            "password": PASSWORD,
            "role": "manager",
            "unit_code": CELL_A
        }))
        .await
        .expect(201);
    let deputy_id = deputy["id"].as_i64().unwrap();
    assert_eq!(deputy["unit_code"], CELL_A);
    a.patch_account(deputy_id, json!({"role": "organizer"}))
        .await
        .error(403, "auth.forbidden");
    let listed = account_ids(&a.accounts().await.expect(200));
    assert!(listed.contains(&deputy_id) && listed.contains(&w.a_id) && listed.len() == 2);
    w.b.account(deputy_id).await.error(404, "account.not_found");
    let deputy_api = w.app.bearer("quanly.nala").await;
    assert_eq!(deputy_api.unit_codes(&[]).await, [CELL_A]);
    deputy_api
        .unit(COMMUNE_A)
        .await
        .error(404, "unit.not_found");
}

fn account_ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn organizer_sees_everything() {
    let w = two_communes().await;
    assert_eq!(w.org.members(&[]).await.expect(200)["total"], MEMBER_COUNT);
    assert_eq!(w.org.unit_count().await, TREE_SIZE);
    let ids = account_ids(&w.org.accounts().await.expect(200));
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&w.a_id) && ids.contains(&w.b_id));
}
