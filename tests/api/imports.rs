//! Units CSV import: all or nothing, every problem with its line.

use crate::helpers::*;

/// Line 2 renames an existing unit and line 3 adds a new one: both valid, so
/// that a half-applied import would show.
const VALID_START: &str = "\
code,name,kind,parent_code
TN-SYT,Sở Y tế (đã đổi tên),agency,19
NEW1,Chi bộ mới,cell,05800
";

/// Imports a file that must be rejected with exactly `expected` problems,
/// then checks nothing of it was applied.
async fn assert_rejected(org: &Api, csv: impl Into<Vec<u8>>, expected: &[(u64, &str)]) {
    let before = org.unit_count().await;
    let problems = org.import_units(csv).await.import_problems();
    let expected: Vec<(u64, String)> = expected
        .iter()
        .map(|(line, code)| (*line, code.to_string()))
        .collect();
    assert_eq!(problems, expected);

    assert_eq!(org.unit_count().await, before, "no unit was added");
    assert_eq!(org.unit(AGENCY).await.expect(200)["name"], "Sở Y tế");
    org.unit("NEW1").await.error(404, "unit.not_found");
}

#[tokio::test]
async fn unknown_parent_rejects_the_whole_file() {
    let (_app, org) = seeded().await;
    let csv = format!("{VALID_START}X4,Chi bộ X4,cell,KHONG-CO\n");
    assert_rejected(&org, csv, &[(4, "unit.parent_unknown")]).await;
}

#[tokio::test]
async fn duplicate_code_in_the_file_is_rejected_at_its_second_line() {
    let (_app, org) = seeded().await;
    let csv = format!("{VALID_START}X4,Chi bộ X4,cell,19\nNEW1,Chi bộ trùng,cell,19\n");
    assert_rejected(&org, csv, &[(5, "unit.code_duplicate")]).await;
}

#[tokio::test]
async fn cycle_between_two_rows_is_rejected() {
    let (_app, org) = seeded().await;
    let csv = format!("{VALID_START}CY-A,Đơn vị A,other,CY-B\nCY-B,Đơn vị B,other,CY-A\n");
    assert_rejected(&org, csv, &[(4, "unit.cycle")]).await;
}

#[tokio::test]
async fn cycle_through_existing_units_is_rejected() {
    let (_app, org) = seeded().await;
    // The province under its own grandchild: 19 → CB-BT1 → 05800 → 19.
    let csv = format!("{VALID_START}19,Tỉnh Thái Nguyên,province,CB-BT1\n");
    assert_rejected(&org, csv, &[(4, "unit.cycle")]).await;
    assert_eq!(org.unit_codes(&[]).await, [PROVINCE], "still the root");
}

#[tokio::test]
async fn self_parent_is_a_cycle() {
    let (_app, org) = seeded().await;
    let csv = format!("{VALID_START}SELF,Tự trỏ,cell,SELF\n");
    assert_rejected(&org, csv, &[(4, "unit.cycle")]).await;
}

#[tokio::test]
async fn malformed_rows_are_all_reported_with_their_lines() {
    let (_app, org) = seeded().await;
    let csv =
        format!("{VALID_START}X4,Chi bộ X4,hành tinh,19\nX5,,cell,19\nX6,Chi bộ X6,cell,19,thừa\n");
    assert_rejected(
        &org,
        csv,
        &[
            (4, "unit.kind_invalid"),
            (5, "unit.name_invalid"),
            (6, "import.column_count"),
        ],
    )
    .await;
}

#[tokio::test]
async fn problems_name_the_field_and_say_what_is_wrong() {
    let (_app, org) = seeded().await;
    let csv = format!("{VALID_START}X4,Chi bộ X4,cell,KHONG-CO\n");
    let error = org.import_units(csv).await.error(400, "import.rejected");
    let problem = &error["problems"][0];
    assert_eq!(problem["line"], 4);
    assert_eq!(problem["field"], "parent_code");
    assert!(
        problem["message"].as_str().unwrap().contains("KHONG-CO"),
        "{problem}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("dòng 4"),
        "{error}"
    );
}

#[tokio::test]
async fn file_that_is_not_utf8_is_rejected() {
    let (_app, org) = seeded().await;
    let mut csv = VALID_START.as_bytes().to_vec();
    csv.extend_from_slice(b"X4,Chi b\xf4 X4,cell,19\n"); // Latin-1, not UTF-8
    assert_rejected(&org, csv, &[(4, "import.encoding")]).await;
}

#[tokio::test]
async fn empty_file_is_rejected() {
    let (_app, org) = seeded().await;
    assert_rejected(&org, "", &[(1, "import.empty")]).await;
    assert_rejected(&org, "code,name,kind,parent_code\n", &[(2, "import.empty")]).await;
}

#[tokio::test]
async fn missing_header_column_is_rejected() {
    let (_app, org) = seeded().await;
    let csv = "code,name,parent_code\nNEW1,Chi bộ mới,05800\n";
    assert_rejected(&org, csv, &[(1, "import.missing_column")]).await;
    let error = org.import_units(csv).await.error(400, "import.rejected");
    assert_eq!(error["problems"][0]["field"], "kind");
}

#[tokio::test]
async fn ten_thousand_rows_import_in_one_request() {
    let app = TestApp::start().await;
    let org = app.organizer().await;

    // One province, 99 communes, 100 cells in each: 10,000 rows.
    let mut csv = String::from("code,name,kind,parent_code\nP0,Tỉnh Thử Nghiệm,province,\n");
    for c in 1..=99 {
        csv.push_str(&format!("C{c:03},Xã Thử Nghiệm {c},commune,P0\n"));
        for k in 1..=100 {
            csv.push_str(&format!("C{c:03}-{k:03},Chi bộ {k} xã {c},cell,C{c:03}\n"));
        }
    }
    assert_eq!(csv.lines().count(), 10_001);

    let report = org.import_units(csv).await.expect(200);
    assert_eq!(report["created"], 10_000);
    assert_eq!(report["updated"], 0);

    assert_eq!(org.unit_count().await, 10_000);
    let cells = org
        .units(&[("kind", "cell"), ("limit", "1")])
        .await
        .expect(200);
    assert_eq!(cells["total"], 9_900);
    let communes = org.units(&[("parent", "P0")]).await.expect(200);
    assert_eq!(communes["total"], 99);
    let one = org.units(&[("parent", "C042")]).await.expect(200);
    assert_eq!(one["total"], 100);
    let leaf = org.unit("C042-007").await.expect(200);
    assert_eq!(
        codes(&leaf["ancestors"], "code"),
        ["P0", "C042", "C042-007"]
    );
    assert_eq!(leaf["depth"], 2);
}

#[tokio::test]
async fn importing_again_updates_names_and_counts_updates() {
    let (_app, org) = seeded().await;
    let renamed = TREE_CSV.replace("Xã Bằng Thành", "Xã Bằng Thành mới");
    let report = org.import_units(renamed).await.expect(200);
    assert_eq!(report["created"], 0);
    assert_eq!(report["updated"], TREE_SIZE);
    assert_eq!(
        org.unit(COMMUNE_A).await.expect(200)["name"],
        "Xã Bằng Thành mới"
    );
    assert_eq!(org.unit_count().await, TREE_SIZE);

    // A re-import may also move units; existing and new rows mix.
    let report = org
        .import_units("code,name,kind,parent_code\nHX,Huyện Chợ Rã,district,19\n05800,Xã Bằng Thành,commune,HX\n")
        .await
        .expect(200);
    assert_eq!(
        (report["created"].as_i64(), report["updated"].as_i64()),
        (Some(1), Some(1))
    );
    let cell = org.unit(CELL_A).await.expect(200);
    assert_eq!(
        codes(&cell["ancestors"], "code"),
        [PROVINCE, "HX", COMMUNE_A, CELL_A]
    );
    assert_eq!(cell["depth"], 3);
}

#[tokio::test]
async fn vietnamese_headers_bom_and_semicolons_are_accepted() {
    let (_app, org) = seeded().await;
    let csv = "\u{FEFF}Mã;Tên;Loại;Mã cha;Dự kiến đảng viên;Ghi chú\n00123;Chi bộ thôn Bản Pục;Chi bộ;05800;1.234;x\n";
    let report = org.import_units(csv).await.expect(200);
    assert_eq!(report["created"], 1);
    assert_eq!(report["ignored_columns"], serde_json::json!(["Ghi chú"]));
    let unit = org.unit("00123").await.expect(200);
    assert_eq!(unit["kind"], "cell");
    assert_eq!(unit["parent_code"], COMMUNE_A);
    assert_eq!(unit["expected"]["party_member"], 1234);
}
