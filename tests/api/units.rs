//! The unit tree: listing, search, detail with ancestors, create, rename,
//! move (with its subtree), delete.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn lists_roots_then_children_in_vietnamese_order() {
    let (_app, org) = seeded().await;

    let roots = org.units(&[]).await.expect(200);
    assert_eq!(codes(&roots["items"], "code"), [PROVINCE]);
    assert_eq!(roots["total"], 1);
    assert_eq!(roots["items"][0]["child_count"], 3);
    assert_eq!(roots["items"][0]["depth"], 0);
    assert_eq!(roots["items"][0]["parent_code"], json!(null));

    // "Sở Y tế" < "Xã Bằng Thành" < "Xã Nghiên Loan".
    assert_eq!(
        org.unit_codes(&[("parent", PROVINCE)]).await,
        [AGENCY, COMMUNE_A, COMMUNE_B]
    );
    assert_eq!(org.unit_codes(&[("parent", COMMUNE_A)]).await, [CELL_A]);
    assert!(org.unit_codes(&[("parent", CELL_A)]).await.is_empty());

    let page = org
        .units(&[("parent", PROVINCE), ("limit", "1"), ("offset", "1")])
        .await
        .expect(200);
    assert_eq!(codes(&page["items"], "code"), [COMMUNE_A]);
    assert_eq!(page["total"], 3);
}

#[tokio::test]
async fn search_ignores_diacritics_and_matches_exact_codes() {
    let (_app, org) = seeded().await;

    assert_eq!(org.unit_codes(&[("q", "bang thanh")]).await, [COMMUNE_A]);
    assert_eq!(org.unit_codes(&[("q", "BẰNG THÀNH")]).await, [COMMUNE_A]);
    assert_eq!(org.unit_codes(&[("q", "Nghiên")]).await, [COMMUNE_B]);
    let mut cells = org.unit_codes(&[("q", "chi bo thon")]).await;
    cells.sort();
    assert_eq!(cells, [CELL_A, CELL_B]);

    // A code matches exactly, leading zeros and all; a part of it does not.
    assert_eq!(org.unit_codes(&[("q", "05800")]).await, [COMMUNE_A]);
    assert!(org.unit_codes(&[("q", "0580")]).await.is_empty());
    assert!(org.unit_codes(&[("q", "5800")]).await.is_empty());

    // Wildcards are searched for literally, not as patterns.
    for wildcard in ["%", "_", "%bang%", "x_ B"] {
        assert!(
            org.unit_codes(&[("q", wildcard)]).await.is_empty(),
            "{wildcard}"
        );
    }

    assert_eq!(org.unit_codes(&[("kind", "agency")]).await, [AGENCY]);
    assert_eq!(
        org.unit_codes(&[("kind", "xã"), ("q", "loan")]).await,
        [COMMUNE_B]
    );
}

#[tokio::test]
async fn unit_detail_lists_ancestors_from_the_root() {
    let (_app, org) = seeded().await;

    let cell = org.unit(CELL_A).await.expect(200);
    assert_eq!(cell["code"], CELL_A);
    assert_eq!(cell["name"], "Chi bộ thôn Nà Lạ");
    assert_eq!(cell["kind"], "cell");
    assert_eq!(cell["kind_label"], "chi bộ");
    assert_eq!(cell["parent_code"], COMMUNE_A);
    assert_eq!(cell["depth"], 2);
    assert_eq!(cell["member_count"], 2);
    assert_eq!(
        codes(&cell["ancestors"], "code"),
        [PROVINCE, COMMUNE_A, CELL_A]
    );
    assert_eq!(
        codes(&cell["ancestors"], "name"),
        ["Tỉnh Thái Nguyên", "Xã Bằng Thành", "Chi bộ thôn Nà Lạ"]
    );

    org.unit("KHONG-CO").await.error(404, "unit.not_found");
}

#[tokio::test]
async fn created_unit_keeps_leading_zeros_and_can_be_renamed() {
    let (_app, org) = seeded().await;

    let created = org
        .create_unit(json!({
            "code": "00097",
            "name": "  Chi bộ   thôn Khuổi Bốc ",
            "kind": "Chi bộ",
            "parent_code": COMMUNE_A,
            "expected": {"party_member": 25}
        }))
        .await
        .expect(201);
    assert_eq!(created["code"], "00097");
    assert_eq!(created["name"], "Chi bộ thôn Khuổi Bốc");
    assert_eq!(created["kind"], "cell");
    assert_eq!(created["parent_code"], COMMUNE_A);
    assert_eq!(created["depth"], 2);
    assert_eq!(created["expected"]["party_member"], 25);

    assert_eq!(org.unit("00097").await.expect(200)["code"], "00097");
    org.unit("97").await.error(404, "unit.not_found");
    assert_eq!(
        org.unit_codes(&[("parent", COMMUNE_A)]).await,
        ["00097", CELL_A],
        "Khuổi Bốc sorts before Nà Lạ"
    );

    let taken = org
        .create_unit(
            json!({"code": "00097", "name": "Khác", "kind": "cell", "parent_code": COMMUNE_A}),
        )
        .await
        .error(409, "unit.code_taken");
    assert_eq!(taken["field"], "code");

    let renamed = org
        .patch_unit("00097", json!({"name": "Chi bộ thôn Bản Chang"}))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Chi bộ thôn Bản Chang");
    assert_eq!(renamed["parent_code"], COMMUNE_A, "renaming does not move");
    assert_eq!(
        org.unit("00097").await.expect(200)["name"],
        "Chi bộ thôn Bản Chang"
    );
    assert_eq!(org.unit_codes(&[("q", "ban chang")]).await, ["00097"]);
    assert!(org.unit_codes(&[("q", "khuoi boc")]).await.is_empty());

    let bad_kind = org
        .patch_unit("00097", json!({"kind": "hành tinh"}))
        .await
        .error(400, "unit.kind_invalid");
    assert_eq!(bad_kind["field"], "kind");
}

#[tokio::test]
async fn moving_a_unit_moves_its_whole_subtree() {
    let (_app, org) = seeded().await;
    org.create_unit(
        json!({"code": "HX", "name": "Huyện Chợ Rã", "kind": "district", "parent_code": PROVINCE}),
    )
    .await
    .expect(201);

    let moved = org
        .patch_unit(COMMUNE_A, json!({"parent_code": "HX"}))
        .await
        .expect(200);
    assert_eq!(moved["parent_code"], "HX");
    assert_eq!(moved["depth"], 2);
    assert_eq!(moved["name"], "Xã Bằng Thành", "moving keeps the name");

    // The grandchild moved along.
    let cell = org.unit(CELL_A).await.expect(200);
    assert_eq!(
        codes(&cell["ancestors"], "code"),
        [PROVINCE, "HX", COMMUNE_A, CELL_A]
    );
    assert_eq!(cell["depth"], 3);

    assert_eq!(org.unit_codes(&[("parent", "HX")]).await, [COMMUNE_A]);
    assert_eq!(
        org.unit_codes(&[("parent", PROVINCE)]).await,
        ["HX", AGENCY, COMMUNE_B]
    );
    // The rosters of the moved subtree are now under the district.
    let mut under_district = org
        .member_codes(&[("unit", "HX"), ("subtree", "true")])
        .await;
    under_district.sort();
    assert_eq!(under_district, MEMBERS_OF_A);

    // An organizer may also make it a root of its own.
    org.patch_unit(COMMUNE_A, json!({"parent_code": ""}))
        .await
        .expect(200);
    let cell = org.unit(CELL_A).await.expect(200);
    assert_eq!(codes(&cell["ancestors"], "code"), [COMMUNE_A, CELL_A]);
    assert_eq!(cell["depth"], 1);
    assert_eq!(org.unit_codes(&[]).await, [PROVINCE, COMMUNE_A]);
    assert!(org.unit_codes(&[("parent", "HX")]).await.is_empty());

    // The other commune did not move.
    let other = org.unit(CELL_B).await.expect(200);
    assert_eq!(
        codes(&other["ancestors"], "code"),
        [PROVINCE, COMMUNE_B, CELL_B]
    );
}

#[tokio::test]
async fn moving_a_unit_under_itself_or_its_descendant_is_refused() {
    let (_app, org) = seeded().await;

    let under_child = org
        .patch_unit(COMMUNE_A, json!({"parent_code": CELL_A}))
        .await
        .error(400, "unit.cycle");
    assert_eq!(under_child["field"], "parent_code");
    org.patch_unit(PROVINCE, json!({"parent_code": CELL_B}))
        .await
        .error(400, "unit.cycle");
    org.patch_unit(COMMUNE_A, json!({"parent_code": COMMUNE_A}))
        .await
        .error(400, "unit.cycle");

    let cell = org.unit(CELL_A).await.expect(200);
    assert_eq!(
        codes(&cell["ancestors"], "code"),
        [PROVINCE, COMMUNE_A, CELL_A]
    );
    assert_eq!(org.unit_codes(&[]).await, [PROVINCE]);
}

#[tokio::test]
async fn only_unused_units_can_be_deleted() {
    let (_app, org) = seeded().await;

    // Has a subunit.
    org.delete_unit(COMMUNE_A).await.error(409, "unit.in_use");
    // Has members on its roster.
    org.delete_unit(CELL_B).await.error(409, "unit.in_use");
    // Hosts a session.
    org.create_unit(json!({"code": "TN-BTG", "name": "Ban Tuyên giáo", "kind": "agency", "parent_code": PROVINCE}))
        .await
        .expect(201);
    org.new_session("TN-BTG", PROVINCE).await;
    org.delete_unit("TN-BTG").await.error(409, "unit.in_use");

    org.create_unit(
        json!({"code": "LEAF", "name": "Chi bộ mới", "kind": "cell", "parent_code": CELL_A}),
    )
    .await
    .expect(201);
    assert_eq!(org.unit(CELL_A).await.expect(200)["child_count"], 1);
    org.delete_unit("LEAF").await.expect(204);
    org.unit("LEAF").await.error(404, "unit.not_found");
    org.delete_unit("LEAF").await.error(404, "unit.not_found");
    assert_eq!(org.unit(CELL_A).await.expect(200)["child_count"], 0);
    assert_eq!(org.unit_count().await, TREE_SIZE + 1);
}

#[tokio::test]
async fn creating_a_unit_checks_its_fields() {
    let (_app, org) = seeded().await;

    let unknown_parent = org
        .create_unit(json!({"code": "X1", "name": "X", "kind": "cell", "parent_code": "KHONG-CO"}))
        .await
        .error(404, "unit.not_found");
    assert_eq!(unknown_parent["field"], "parent_code");
    let bad_code = org
        .create_unit(
            json!({"code": "có dấu cách", "name": "X", "kind": "cell", "parent_code": PROVINCE}),
        )
        .await
        .error(400, "unit.code_invalid");
    assert_eq!(bad_code["field"], "code");
    let empty_name = org
        .create_unit(json!({"code": "X2", "name": "   ", "kind": "cell", "parent_code": PROVINCE}))
        .await
        .error(400, "unit.name_invalid");
    assert_eq!(empty_name["field"], "name");
    let bad_expected = org
        .create_unit(json!({"code": "X3", "name": "X", "kind": "cell", "parent_code": PROVINCE, "expected": {"cadre": -1}}))
        .await
        .error(400, "unit.expected_invalid");
    assert_eq!(bad_expected["field"], "expected.cadre");

    // An organizer may create a second root.
    let root = org
        .create_unit(json!({"code": "20", "name": "Tỉnh Lạng Sơn", "kind": "tỉnh"}))
        .await
        .expect(201);
    assert_eq!(root["depth"], 0);
    assert_eq!(org.unit_codes(&[]).await.len(), 2);
    assert_eq!(org.unit_count().await, TREE_SIZE + 1);
}
