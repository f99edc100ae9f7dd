//! Proxy-attendance flags ("Cần xem xét"): one phone checking in many members
//! at a point, members checking in at a point of another commune or
//! province. Flags are computed from the recorded check-ins, never block one,
//! are cut to the caller's subtree, and can be marked reviewed.

use serde_json::{Value, json};

use diemcau::domain::time::now_ms;
use diemcau::domain::tokens;
use diemcau::store::flags::SHARED_DEVICE_MIN_MEMBERS;

use crate::helpers::*;

/// Two provinces under a national root: commune A (with a cell) and commune
/// B in the first, a ward in the second, and a provincial agency.
const TREE: &str = "\
code,name,kind,parent_code
VN,Toàn quốc,other,
19,Tỉnh Thái Nguyên,province,VN
05800,Xã Bằng Thành,commune,19
CB-BT1,Chi bộ thôn Nà Lạ,cell,05800
01840,Xã Nghiên Loan,commune,19
TN-SYT,Sở Y tế,agency,19
20,Tỉnh Lạng Sơn,province,VN
06100,Phường Đông Kinh,ward,20
";

const MEMBERS: &str = "\
member_code,full_name,category,unit_code
0012001,Nguyễn Văn A,party_member,05800
0012002,Trần Văn Bình,party_member,CB-BT1
0012003,Lê Văn An,cadre,05800
0012004,Phạm Thị Ánh,civil_servant,CB-BT1
0012005,Hoàng Minh Đức,worker,05800
0012006,Đinh Thị Én,party_member,CB-BT1
0012007,Lò Văn Ổn,party_member,CB-BT1
0012008,Mã Thị Út,party_member,05800
0023001,Đặng Thị Hoa,party_member,01840
0031001,Ngô Văn Tâm,public_employee,TN-SYT
0041001,<b>Hà Văn Sơn</b>,party_member,06100
";

const PHONE_1: &str = "dienthoai-cua-chau-1";
const PHONE_2: &str = "dienthoai-cua-chau-2";

struct Setup {
    app: TestApp,
    org: Api,
    session: i64,
    /// Points: at cell A, at commune A, at commune B, at the province hall.
    cell_a: (i64, Api),
    commune_b: (i64, Api),
    key: Vec<u8>,
}

impl Setup {
    async fn new() -> Setup {
        let app = TestApp::start().await;
        let org = app.organizer().await;
        org.import_units(TREE).await.expect(200);
        org.import_members(MEMBERS).await.expect(200);
        let session = org.open_session("VN", "VN").await;
        let (cell_a, cell_secret) = org
            .new_point(session, CELL_A, "Nhà văn hóa thôn Nà Lạ")
            .await;
        let (commune_b, b_secret) = org
            .new_point(session, COMMUNE_B, "Hội trường xã Nghiên Loan")
            .await;
        let key = app.qr_key().await;
        Setup {
            cell_a: (cell_a, app.operator(&cell_secret)),
            commune_b: (commune_b, app.operator(&b_secret)),
            app,
            org,
            session,
            key,
        }
    }

    /// A member's phone scanning the QR code of `point`.
    async fn scan(&self, point: i64, code: &str, device: Option<&str>) -> Reply {
        let (token, _) = tokens::issue_qr(&self.key, point, now_ms());
        let mut body = json!({"token": token, "member_code": code});
        if let Some(d) = device {
            body["device"] = json!(d);
        }
        self.app.anonymous().post("/api/checkin", body).await
    }

    async fn flags(&self, who: &Api) -> Value {
        who.get(&format!("/api/sessions/{}/flags", self.session))
            .await
            .expect(200)
    }
}

fn of_kind<'a>(flags: &'a Value, kind: &str) -> Vec<&'a Value> {
    flags["flags"]
        .as_array()
        .expect("flags listed")
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

fn member_codes(flag: &Value) -> Vec<String> {
    let mut codes = codes(&flag["members"], "code");
    codes.sort();
    codes
}

#[tokio::test]
async fn one_phone_for_many_members_is_flagged_at_the_threshold_not_below() {
    assert_eq!(SHARED_DEVICE_MIN_MEMBERS, 4);
    let s = Setup::new().await;
    let (cell_a, _) = s.cell_a;
    // Phone 1 checks in four members, phone 2 three: both at cell A.
    for code in ["0012001", "0012002", "0012003", "0012004"] {
        s.scan(cell_a, code, Some(PHONE_1)).await.expect(200);
    }
    for code in ["0012005", "0012006", "0012007"] {
        s.scan(cell_a, code, Some(PHONE_2)).await.expect(200);
    }
    // Without a device id nothing is grouped.
    s.scan(cell_a, "0012008", None).await.expect(200);
    let flags = s.flags(&s.org).await;
    assert_eq!(flags["shared_device_threshold"], 4);
    assert_eq!(flags["counts"]["shared_device"], 1, "{flags}");
    let shared = of_kind(&flags, "shared_device");
    assert_eq!(shared.len(), 1, "{flags}");
    let flag = shared[0];
    assert_eq!(
        member_codes(flag),
        ["0012001", "0012002", "0012003", "0012004"]
    );
    assert_eq!(flag["point"]["id"], cell_a);
    assert_eq!(flag["point"]["unit_code"], CELL_A);
    let device = flag["device"].as_str().expect("device hash");
    assert_eq!(
        device.len(),
        16,
        "a short hash, not the phone's id: {device}"
    );
    assert!(!device.contains("dienthoai"));
    assert_eq!(flag["key"], format!("device:{cell_a}:{device}"));
    assert_eq!(flag["members"][0]["full_name"], "Nguyễn Văn A");
    assert_eq!(flag["members"][0]["unit_name"], "Xã Bằng Thành");
    assert!(flag["members"][0]["checked_in_at"].is_string());
    assert!(flag["reviewed"].is_null());
    // Members of cell A at a point of cell A: nothing far.
    assert_eq!(flags["counts"]["other_commune"], 0);
    assert_eq!(flags["counts"]["other_province"], 0);
    assert_eq!(flags["total"], 1);

    // The phone's id is checked and never stored as given.
    let bad = s.scan(cell_a, "0023001", Some("ngan")).await;
    let error = bad.error(400, "request.invalid_field");
    assert_eq!(error["field"], "device");
    let stored = db_i64(
        &s.app.db,
        "SELECT count(*) FROM checkins WHERE device LIKE 'dienthoai%'",
    )
    .await;
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn check_ins_far_from_the_unit_are_flagged_by_commune_or_province() {
    let s = Setup::new().await;
    let (cell_a, cell_op) = &s.cell_a;
    let (commune_b, _) = s.commune_b;
    let (hall, _) = s.org.new_point(s.session, "19", "Hội trường tỉnh").await;
    // Commune B's member ticked on cell A's roster: another commune.
    cell_op
        .post(
            "/api/operator/checkins",
            json!({"items": [{"id": "r-1", "method": "roster", "member_code": "0023001"}]}),
        )
        .await
        .expect(200);
    // Lạng Sơn's member scans at commune B: another province.
    s.scan(commune_b, "0041001", Some(PHONE_1))
        .await
        .expect(200);
    // Not flagged: same commune (commune A's member at its cell), the
    // provincial agency (no commune), a member at the province hall.
    s.scan(*cell_a, "0012001", None).await.expect(200);
    s.scan(*cell_a, "0031001", None).await.expect(200);
    s.scan(hall, "0012003", None).await.expect(200);

    let flags = s.flags(&s.org).await;
    assert_eq!(flags["counts"]["other_commune"], 1, "{flags}");
    assert_eq!(flags["counts"]["other_province"], 1, "{flags}");
    assert_eq!(flags["counts"]["shared_device"], 0);
    assert_eq!(flags["total"], 2);

    let commune = of_kind(&flags, "other_commune");
    assert_eq!(member_codes(commune[0]), ["0023001"]);
    assert_eq!(commune[0]["member_region"], "Xã Nghiên Loan");
    assert_eq!(commune[0]["point_region"], "Xã Bằng Thành");
    assert_eq!(commune[0]["method"], "roster");
    assert_eq!(commune[0]["point"]["id"], *cell_a);
    let summary = commune[0]["summary"].as_str().unwrap();
    assert!(summary.contains("xã khác"), "{summary}");

    let province = of_kind(&flags, "other_province");
    assert_eq!(member_codes(province[0]), ["0041001"]);
    assert_eq!(province[0]["member_region"], "Tỉnh Lạng Sơn");
    assert_eq!(province[0]["point_region"], "Tỉnh Thái Nguyên");
    assert_eq!(province[0]["members"][0]["full_name"], "<b>Hà Văn Sơn</b>");
    let summary = province[0]["summary"].as_str().unwrap();
    assert!(summary.contains("tỉnh khác"), "{summary}");
}

#[tokio::test]
async fn annulled_check_ins_are_not_flagged() {
    let s = Setup::new().await;
    let (cell_a, cell_op) = &s.cell_a;
    for code in ["0012001", "0012002", "0012003", "0012004"] {
        s.scan(*cell_a, code, Some(PHONE_1)).await.expect(200);
    }
    s.scan(*cell_a, "0023001", None).await.expect(200);
    let flags = s.flags(&s.org).await;
    assert_eq!(flags["total"], 2, "{flags}");

    for code in ["0012004", "0023001"] {
        cell_op
            .post(
                "/api/operator/undo",
                json!({"member_code": code, "reason": "Điểm danh hộ"}),
            )
            .await
            .expect(200);
    }
    let flags = s.flags(&s.org).await;
    assert_eq!(flags["total"], 0, "{flags}");
    assert_eq!(flags["counts"]["shared_device"], 0);
    assert_eq!(flags["counts"]["other_commune"], 0);
    assert!(flags["flags"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn managers_see_the_flags_of_their_subtree_only() {
    let s = Setup::new().await;
    let (cell_a, _) = s.cell_a;
    let (commune_b, _) = s.commune_b;
    for code in ["0012001", "0012002", "0012003", "0012004"] {
        s.scan(cell_a, code, Some(PHONE_1)).await.expect(200);
    }
    s.scan(cell_a, "0023001", None).await.expect(200);
    s.scan(commune_b, "0041001", None).await.expect(200);
    let (_, a) = s.app.manager("quanly.bangthanh", COMMUNE_A).await;
    let (_, b) = s.app.manager("quanly.nghienloan", COMMUNE_B).await;
    let (_, ls) = s.app.manager("quanly.dongkinh", "06100").await;

    let kinds = |f: &Value| {
        let mut k: Vec<String> = f["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{}:{}",
                    f["kind"].as_str().unwrap(),
                    member_codes(f).join(",")
                )
            })
            .collect();
        k.sort();
        k
    };
    // A: the phone at its point, B's member at its point.
    let fa = s.flags(&a).await;
    assert_eq!(fa["unit_code"], COMMUNE_A);
    assert_eq!(
        kinds(&fa),
        [
            "other_commune:0023001",
            "shared_device:0012001,0012002,0012003,0012004"
        ]
    );
    // B: its own member away, the visitor from Lạng Sơn at its point.
    let fb = s.flags(&b).await;
    assert_eq!(
        kinds(&fb),
        ["other_commune:0023001", "other_province:0041001"]
    );
    assert_eq!(fb["total"], 2);
    // The ward in Lạng Sơn: its member away.
    assert_eq!(kinds(&s.flags(&ls).await), ["other_province:0041001"]);
    // Everything for the organizer, and for a unit asked for.
    assert_eq!(s.flags(&s.org).await["total"], 3);
    let only_b = s
        .org
        .get_with(
            &format!("/api/sessions/{}/flags", s.session),
            &[("unit", COMMUNE_B)],
        )
        .await
        .expect(200);
    assert_eq!(only_b["total"], 2);

    // Outside the view: a unit of another commune, a session of another commune.
    a.get_with(
        &format!("/api/sessions/{}/flags", s.session),
        &[("unit", COMMUNE_B)],
    )
    .await
    .error(404, "unit.not_found");
    let own = s.org.open_session(COMMUNE_A, COMMUNE_A).await;
    b.get(&format!("/api/sessions/{own}/flags"))
        .await
        .error(404, "session.not_found");
    b.post(
        &format!("/api/sessions/{own}/flags/review"),
        json!({"key": "far:1", "note": "Đã hỏi"}),
    )
    .await
    .error(404, "session.not_found");
    // A manager cannot review a flag outside their view either.
    let far_ls = of_kind(&fb, "other_province")[0]["key"].clone();
    a.post(
        &format!("/api/sessions/{}/flags/review", s.session),
        json!({"key": far_ls, "note": "Đã hỏi"}),
    )
    .await
    .error(404, "flag.not_found");
    s.app
        .anonymous()
        .get(&format!("/api/sessions/{}/flags", s.session))
        .await
        .error(401, "auth.required");
}

#[tokio::test]
async fn a_review_is_shown_and_recorded_in_the_audit_log() {
    let s = Setup::new().await;
    let (cell_a, _) = s.cell_a;
    for code in ["0012001", "0012002", "0012003", "0012004"] {
        s.scan(cell_a, code, Some(PHONE_1)).await.expect(200);
    }
    s.scan(cell_a, "0023001", None).await.expect(200);
    let (_, a) = s.app.manager("quanly.bangthanh", COMMUNE_A).await;
    let flags = s.flags(&a).await;
    let shared = of_kind(&flags, "shared_device")[0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let review = a
        .post(
            &format!("/api/sessions/{}/flags/review", s.session),
            json!({"key": shared, "note": "  Cháu điểm danh giúp ông bà, đã gọi xác nhận.  "}),
        )
        .await
        .expect(200);
    assert_eq!(
        review["note"],
        "Cháu điểm danh giúp ông bà, đã gọi xác nhận."
    );
    assert!(review["by"].as_str().unwrap().contains("quanly.bangthanh"));

    let flags = s.flags(&s.org).await;
    let reviewed: Vec<&Value> = flags["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["reviewed"].is_null())
        .collect();
    assert_eq!(reviewed.len(), 1, "{flags}");
    assert_eq!(reviewed[0]["key"], shared.as_str());
    assert_eq!(
        reviewed[0]["reviewed"]["note"],
        "Cháu điểm danh giúp ông bà, đã gọi xác nhận."
    );
    // Still listed and counted: reviewed, not deleted.
    assert_eq!(flags["total"], 2);

    let audit = s
        .org
        .get_with("/api/audit", &[("action", "flag.")])
        .await
        .expect(200);
    assert_eq!(audit["total"], 1, "{audit}");
    let entry = &audit["items"][0];
    assert_eq!(entry["action"], "flag.reviewed");
    assert_eq!(entry["target"], format!("session:{}", s.session));
    assert!(
        entry["actor_name"]
            .as_str()
            .unwrap()
            .contains("quanly.bangthanh")
    );
    assert_eq!(entry["details"]["key"], shared.as_str());
    assert_eq!(
        entry["details"]["note"],
        "Cháu điểm danh giúp ông bà, đã gọi xác nhận."
    );
}

#[tokio::test]
async fn bad_input_gets_the_error_envelope() {
    let s = Setup::new().await;
    let (cell_a, _) = s.cell_a;
    s.scan(cell_a, "0023001", None).await.expect(200);
    let flags = s.flags(&s.org).await;
    let key = flags["flags"][0]["key"].as_str().unwrap().to_string();
    let review = format!("/api/sessions/{}/flags/review", s.session);

    s.org
        .get("/api/sessions/999999/flags")
        .await
        .error(404, "session.not_found");
    s.org
        .get("/api/sessions/abc/flags")
        .await
        .error(404, "session.not_found");
    s.org
        .get_with(
            &format!("/api/sessions/{}/flags", s.session),
            &[("unit", "KHONG-CO")],
        )
        .await
        .error(404, "unit.not_found");
    for bad_key in ["far:999999", "device:1:abc", "", "x"] {
        s.org
            .post(&review, json!({"key": bad_key, "note": "Đã xem"}))
            .await
            .error(404, "flag.not_found");
    }
    let error = s
        .org
        .post(&review, json!({"key": key, "note": "   "}))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(error["field"], "note");
    s.org
        .post(&review, json!({"key": key, "note": "x".repeat(501)}))
        .await
        .error(400, "request.invalid_field");
    s.org.post(&review, json!({"key": key})).await.expect(400);
    // Nothing was recorded by the refusals.
    assert_eq!(
        db_i64(&s.app.db, "SELECT count(*) FROM flag_reviews").await,
        0
    );
}
