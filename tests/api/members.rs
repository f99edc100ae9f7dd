//! Rosters: import, listing per unit and subtree, search without diacritics,
//! Vietnamese order, and editing one member.

use serde_json::json;

use crate::helpers::*;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn rosters_list_per_unit_and_per_subtree() {
    let (_app, org) = seeded().await;

    assert_eq!(
        sorted(org.member_codes(&[("unit", COMMUNE_A)]).await),
        ["0012001", "0012003", "0012005"],
        "the commune's own roster, not its cell's"
    );
    assert_eq!(
        sorted(org.member_codes(&[("unit", CELL_A)]).await),
        ["0012002", "0012004"]
    );
    assert_eq!(
        sorted(
            org.member_codes(&[("unit", COMMUNE_A), ("subtree", "true")])
                .await
        ),
        MEMBERS_OF_A
    );
    assert_eq!(
        sorted(
            org.member_codes(&[("unit", COMMUNE_B), ("subtree", "true")])
                .await
        ),
        MEMBERS_OF_B
    );
    let all = org
        .members(&[("unit", PROVINCE), ("subtree", "true")])
        .await
        .expect(200);
    assert_eq!(all["total"], MEMBER_COUNT);
    assert_eq!(org.members(&[]).await.expect(200)["total"], MEMBER_COUNT);

    let party = org.members(&[("category", "đảng viên")]).await.expect(200);
    assert_eq!(party["total"], 4);
    assert_eq!(org.unit(COMMUNE_A).await.expect(200)["member_count"], 3);

    let page = org
        .members(&[("limit", "2"), ("offset", "6")])
        .await
        .expect(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["total"], MEMBER_COUNT);
}

#[tokio::test]
async fn search_without_diacritics_finds_vietnamese_names() {
    let (_app, org) = seeded().await;

    let found = org.members(&[("q", "nguyen van a")]).await.expect(200);
    let names = codes(&found["items"], "full_name");
    assert!(names.contains(&"Nguyễn Văn A".to_string()), "{names:?}");
    assert_eq!(found["items"][0]["unit_code"], COMMUNE_A);
    assert_eq!(found["items"][0]["unit_name"], "Xã Bằng Thành");

    assert_eq!(
        org.member_codes(&[("q", "NGUYỄN VĂN A")]).await,
        ["0012001"]
    );
    assert_eq!(org.member_codes(&[("q", "duc")]).await, ["0012005"]);
    assert_eq!(org.member_codes(&[("q", "dang thi")]).await, ["0023001"]);
    // An exact member code.
    assert_eq!(org.member_codes(&[("q", "0012003")]).await, ["0012003"]);
    assert!(
        org.member_codes(&[("q", "khong ai ten nay")])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn names_written_decomposed_are_stored_composed() {
    let (_app, org) = seeded().await;
    // "Nguyễn Thị Ngọc" typed with combining marks (NFD), as some tools save it.
    let nfd = "Nguye\u{0302}\u{0303}n Thi\u{0323} Ngo\u{0323}c";
    let nfc = "Nguyễn Thị Ngọc";
    assert_ne!(nfd, nfc);
    let csv =
        format!("member_code,full_name,category,unit_code\n0012010,{nfd},party_member,{CELL_A}\n");
    org.import_members(csv).await.expect(200);

    let member = org.member("0012010").await.expect(200);
    assert_eq!(
        member["full_name"].as_str().unwrap().as_bytes(),
        nfc.as_bytes()
    );
    assert_eq!(
        org.member_codes(&[("q", "nguyen thi ngoc")]).await,
        ["0012010"]
    );
    assert_eq!(org.member_codes(&[("q", nfc)]).await, ["0012010"]);
}

#[tokio::test]
async fn members_sort_by_given_name_in_vietnamese_order() {
    let (_app, org) = seeded().await;
    let listed = org
        .members(&[("unit", COMMUNE_A), ("subtree", "true")])
        .await
        .expect(200);
    // A < An < Ánh < Bình < Đức; "Lê Văn An" before "Trần Văn Bình".
    assert_eq!(
        codes(&listed["items"], "full_name"),
        [
            "Nguyễn Văn A",
            "Lê Văn An",
            "Phạm Thị Ánh",
            "Trần Văn Bình",
            "Hoàng Minh Đức"
        ]
    );

    // Same letters in the given name: the family name decides (B < Đ).
    let csv = "member_code,full_name,category,unit_code\n\
               0012020,Trần Thị An,guest,05800\n\
               0012021,Đỗ Văn Dũng,guest,05800\n\
               0012022,Bùi Văn Dung,guest,05800\n";
    org.import_members(csv).await.expect(200);
    let names = codes(
        &org.members(&[("unit", COMMUNE_A), ("category", "guest")])
            .await
            .expect(200)["items"],
        "full_name",
    );
    assert_eq!(names, ["Trần Thị An", "Bùi Văn Dung", "Đỗ Văn Dũng"]);
    let all = codes(
        &org.members(&[("unit", COMMUNE_A), ("subtree", "true")])
            .await
            .expect(200)["items"],
        "full_name",
    );
    let pos = |n: &str| all.iter().position(|x| x == n).unwrap();
    assert!(pos("Lê Văn An") < pos("Trần Thị An"), "{all:?}");
    assert!(pos("Trần Thị An") < pos("Phạm Thị Ánh"), "{all:?}");
    assert!(pos("Bùi Văn Dung") < pos("Hoàng Minh Đức"), "{all:?}");
}

#[tokio::test]
async fn create_edit_and_remove_a_member() {
    let (_app, org) = seeded().await;

    let created = org
        .create_member(json!({
            "code": "0012099",
            "full_name": "  Triệu   Thị Mai ",
            "category": "Đảng viên",
            "unit_code": CELL_A
        }))
        .await
        .expect(201);
    assert_eq!(created["code"], "0012099");
    assert_eq!(created["full_name"], "Triệu Thị Mai");
    assert_eq!(created["category"], "party_member");
    assert_eq!(created["category_label"], "đảng viên");
    assert_eq!(created["unit_code"], CELL_A);
    assert!(created["updated_at"].as_str().unwrap().ends_with("+07:00"));

    let edited = org
        .patch_member(
            "0012099",
            json!({"full_name": "Triệu Thị Mây", "category": "cong chuc", "unit_code": COMMUNE_B}),
        )
        .await
        .expect(200);
    assert_eq!(edited["full_name"], "Triệu Thị Mây");
    assert_eq!(edited["category"], "civil_servant");
    assert_eq!(edited["unit_code"], COMMUNE_B);
    assert!(
        org.member_codes(&[("unit", COMMUNE_B)])
            .await
            .contains(&"0012099".to_string())
    );

    let bad = org
        .patch_member("0012099", json!({"category": "siêu nhân"}))
        .await
        .error(400, "member.category_invalid");
    assert_eq!(bad["field"], "category");

    org.delete_member("0012099").await.expect(204);
    org.member("0012099").await.error(404, "member.not_found");
    org.delete_member("0012099")
        .await
        .error(404, "member.not_found");
    assert_eq!(org.members(&[]).await.expect(200)["total"], MEMBER_COUNT);
}

#[tokio::test]
async fn a_taken_member_code_conflicts() {
    let (_app, org) = seeded().await;
    let taken = org
        .create_member(json!({
            "code": "0012001",
            "full_name": "Người Khác",
            "category": "guest",
            "unit_code": COMMUNE_B
        }))
        .await
        .error(409, "member.code_taken");
    assert_eq!(taken["field"], "code");
    assert_eq!(
        org.member("0012001").await.expect(200)["full_name"],
        "Nguyễn Văn A"
    );

    let unknown_unit = org
        .create_member(json!({"code": "X1", "full_name": "Ai Đó", "category": "guest", "unit_code": "KHONG-CO"}))
        .await
        .error(404, "unit.not_found");
    assert_eq!(unknown_unit["field"], "unit_code");
}

#[tokio::test]
async fn member_import_is_all_or_nothing_and_updates_existing_codes() {
    let (_app, org) = seeded().await;

    let csv = "member_code,full_name,category,unit_code\n\
               0012001,Nguyễn Văn A (đổi),party_member,05800\n\
               0099001,Người Mới,guest,05800\n\
               0099002,Người Lạc,guest,KHONG-CO\n\
               0099003,Người Lạ,siêu nhân,05800\n\
               0099001,Trùng Mã,guest,05800\n";
    let problems = org.import_members(csv).await.import_problems();
    assert_eq!(
        problems,
        [
            (5, "member.category_invalid".to_string()),
            (6, "member.code_duplicate".to_string()),
        ],
        "parse errors first"
    );
    let csv = "member_code,full_name,category,unit_code\n\
               0012001,Nguyễn Văn A (đổi),party_member,05800\n\
               0099001,Người Mới,guest,05800\n\
               0099002,Người Lạc,guest,KHONG-CO\n";
    let problems = org.import_members(csv).await.import_problems();
    assert_eq!(problems, [(4, "unit.not_found".to_string())]);
    assert_eq!(org.members(&[]).await.expect(200)["total"], MEMBER_COUNT);
    assert_eq!(
        org.member("0012001").await.expect(200)["full_name"],
        "Nguyễn Văn A"
    );
    org.member("0099001").await.error(404, "member.not_found");

    let csv = "member_code,full_name,category,unit_code\n\
               0012001,Nguyễn Văn A (đổi),party_member,CB-BT1\n\
               0099001,Người Mới,guest,05800\n";
    let report = org.import_members(csv).await.expect(200);
    assert_eq!(
        (report["created"].as_i64(), report["updated"].as_i64()),
        (Some(1), Some(1))
    );
    let moved = org.member("0012001").await.expect(200);
    assert_eq!(moved["full_name"], "Nguyễn Văn A (đổi)");
    assert_eq!(moved["unit_code"], CELL_A);
    assert_eq!(
        org.members(&[]).await.expect(200)["total"],
        MEMBER_COUNT + 1
    );
}

#[tokio::test]
async fn a_large_roster_imports_in_one_request() {
    let (_app, org) = seeded().await;
    let mut csv = String::from("member_code,full_name,category,unit_code\n");
    for i in 0..20_000 {
        let unit = if i % 2 == 0 { CELL_A } else { CELL_B };
        csv.push_str(&format!(
            "9{i:07},Nguyễn Thị Thu Hương {i},party_member,{unit}\n"
        ));
    }
    assert!(csv.len() > 1024 * 1024, "bigger than any JSON body");
    let report = org.import_members(csv).await.expect(200);
    assert_eq!(report["created"], 20_000);
    assert_eq!(
        org.members(&[]).await.expect(200)["total"],
        MEMBER_COUNT + 20_000
    );
    let cell = org
        .members(&[("unit", CELL_B), ("limit", "1")])
        .await
        .expect(200);
    assert_eq!(cell["total"], 10_000 + 1);
    assert_eq!(
        org.member_codes(&[("q", "thu huong 12345")]).await,
        ["90012345"]
    );
}

/// A roster big enough for the bulk path (SQLite rebuilds its sort index,
/// PostgreSQL streams with COPY) with one bad row at its end: nothing of it
/// is written, the index is back, and a later import still works.
#[tokio::test]
async fn a_bad_last_row_rejects_a_big_roster_whole() {
    let (_app, org) = seeded().await;
    let rows = 100_000;
    let mut csv = String::from("member_code,full_name,category,unit_code\n");
    for i in 0..rows {
        csv.push_str(&format!("8{i:07},Trần Văn Bình {i},cadre,{CELL_A}\n"));
    }
    let valid = csv.clone();
    csv.push_str("8999999,Người Lạc,guest,KHONG-CO\n");
    csv.push_str("80000007,Trùng Mã,guest,05800\n");
    let problems = org.import_members(csv.clone()).await.import_problems();
    assert_eq!(problems, [(rows + 3, "member.code_duplicate".to_string())]);
    csv.truncate(csv.len() - "80000007,Trùng Mã,guest,05800\n".len());
    let problems = org.import_members(csv).await.import_problems();
    assert_eq!(problems, [(rows + 2, "unit.not_found".to_string())]);
    assert_eq!(org.members(&[]).await.expect(200)["total"], MEMBER_COUNT);
    org.member("80000000").await.error(404, "member.not_found");

    let report = org.import_members(valid).await.expect(200);
    assert_eq!(report["created"], rows);
    let page = org
        .members(&[("unit", CELL_A), ("q", "binh 42424"), ("limit", "5")])
        .await
        .expect(200);
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["code"], "80042424");
}

/// The first load of a big roster into an empty database (PostgreSQL copies
/// it straight into the table): a bad last row still rejects it whole.
#[tokio::test]
async fn the_first_big_roster_is_all_or_nothing_too() {
    let app = TestApp::start().await;
    let org = app.organizer().await;
    org.import_units("code,name,kind,parent_code\nP0,Tỉnh Thử Nghiệm,province,\n")
        .await
        .expect(200);
    let rows = 100_000;
    let mut csv = String::from("member_code,full_name,category,unit_code\n");
    for i in 0..rows {
        csv.push_str(&format!("{i:08},Phạm Thị Hoa {i},worker,P0\n"));
    }
    let valid = csv.clone();
    csv.push_str("99999999,Người Lạc,guest,KHONG-CO\n");
    let problems = org.import_members(csv).await.import_problems();
    assert_eq!(problems, [(rows + 2, "unit.not_found".to_string())]);
    assert_eq!(org.members(&[]).await.expect(200)["total"], 0);

    let report = org.import_members(valid).await.expect(200);
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64()),
        (Some(rows), Some(0))
    );
    let page = org
        .members(&[("unit", "P0"), ("q", "hoa 77777"), ("limit", "5")])
        .await
        .expect(200);
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["full_name"], "Phạm Thị Hoa 77777");
    // Still checked by the database afterwards: a member needs a real unit.
    org.import_units("code,name,kind,parent_code\nP1,Tỉnh Khác,province,\n")
        .await
        .expect(200);
    let report = org
        .import_members(
            "member_code,full_name,category,unit_code\n00000001,Phạm Thị Hoa,worker,P1\n",
        )
        .await
        .expect(200);
    assert_eq!(report["updated"], 1);
}
