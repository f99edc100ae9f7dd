//! Check-in as people take it: a member scans the point's QR code with a
//! phone and types their code; an operator ticks the roster or scans member
//! cards, live or from an offline queue; two rooms race for the same member.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use diemcau::domain::time::{now_ms, to_local};
use diemcau::domain::tokens::{self, CardSigner, QR_PERIOD_MS};

use crate::helpers::*;

/// A connection point and its operator.
struct Point {
    id: i64,
    name: String,
    op: Api,
}

async fn add_point(app: &TestApp, org: &Api, session: i64, unit: &str, name: &str) -> Point {
    let (id, secret) = org.new_point(session, unit, name).await;
    Point {
        id,
        name: name.to_string(),
        op: app.operator(&secret),
    }
}

impl Point {
    /// The token of the QR code on the room screen now.
    async fn token(&self) -> String {
        let qr = self.op.get("/api/operator/qr").await.expect(200);
        qr["token"].as_str().expect("token").to_string()
    }

    async fn checked_in(&self) -> i64 {
        self.op.operator_point().await.expect(200)["stats"]["checked_in"]
            .as_i64()
            .expect("stats.checked_in")
    }

    /// The point's roster line of a member (there must be exactly one).
    async fn line(&self, code: &str) -> Value {
        let roster = self.op.get("/api/operator/roster").await.expect(200);
        let lines: Vec<&Value> = roster
            .as_array()
            .expect("roster is a list")
            .iter()
            .filter(|l| l["code"] == code)
            .collect();
        assert_eq!(lines.len(), 1, "one roster line for {code}: {roster}");
        lines[0].clone()
    }

    /// `POST /api/operator/checkins` with these items (asserting 200).
    async fn batch(&self, items: Value) -> Value {
        self.op
            .post("/api/operator/checkins", json!({ "items": items }))
            .await
            .expect(200)
    }
}

/// A member's phone posting the code typed on the check-in page.
async fn scan(phone: &Api, token: &str, code: &str, client_id: &str) -> Reply {
    phone
        .post(
            "/api/checkin",
            json!({"token": token, "member_code": code, "client_id": client_id}),
        )
        .await
}

/// Milliseconds of an RFC 3339 time in a JSON answer.
fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap_or_else(|e| panic!("{v} is RFC 3339: {e}"))
        .timestamp_millis()
}

/// An RFC 3339 time `minutes` from now, in Vietnam time.
fn minutes_from_now(minutes: i64) -> String {
    to_local(now_ms() + minutes * 60_000).to_rfc3339()
}

/// Tests that compare tokens of neighbouring QR periods must not straddle a
/// period change: when less than 3 s of the current period remain, wait for
/// the next one.
async fn away_from_period_edge() {
    let into = now_ms().rem_euclid(QR_PERIOD_MS);
    if into > QR_PERIOD_MS - 3_000 {
        tokio::time::sleep(Duration::from_millis((QR_PERIOD_MS - into + 100) as u64)).await;
    }
}

/// `n` extra members in cell A, for the race.
fn extra_members(n: usize) -> (String, Vec<String>) {
    let mut csv = String::from("member_code,full_name,category,unit_code\n");
    let mut codes = Vec::new();
    for i in 1..=n {
        let code = format!("00190{i:02}");
        csv.push_str(&format!("{code},Đoàn Thị Thu {i},party_member,{CELL_A}\n"));
        codes.push(code);
    }
    (csv, codes)
}

#[tokio::test]
async fn member_checks_in_by_scanning_the_point_qr() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã Bằng Thành").await;
    let token = hall.token().await;
    let phone = app.anonymous();

    let before = now_ms();
    let first = scan(&phone, &token, " 0012002 ", "phone-binh-1").await;
    let after = now_ms();
    let first_text = first.text.clone();
    let first = first.expect(200);
    assert_eq!(first["result"], "checked_in", "{first}");
    assert_eq!(first["member"]["code"], "0012002");
    assert_eq!(first["member"]["full_name"], "Trần Văn Bình");
    assert_eq!(first["member"]["unit_name"], "Chi bộ thôn Nà Lạ");
    assert_eq!(first["point"], hall.name);
    assert_eq!(first["method"], "qr_self");
    let at = ms(&first["at"]);
    assert!(before <= at && at <= after, "{first}");
    assert!(first["at"].as_str().unwrap().ends_with("+07:00"), "{first}");
    assert!(
        first["message"].as_str().unwrap().contains("Trần Văn Bình"),
        "{first}"
    );

    // The phone lost the answer and sends again: the very same answer.
    let again = scan(&phone, &token, "0012002", "phone-binh-1").await;
    assert_eq!(again.text, first_text);

    // Someone else's phone types the same code: already, when and where first.
    let other = scan(&phone, &token, "0012002", "phone-other")
        .await
        .expect(200);
    assert_eq!(other["result"], "already_checked_in", "{other}");
    assert_eq!(other["at"], first["at"]);
    assert_eq!(other["point"], hall.name);
    assert_eq!(other["method"], "qr_self");
    assert_eq!(other["member"], first["member"]);
    // A phone that sends no id at all is answered the same way.
    let bare = phone
        .post(
            "/api/checkin",
            json!({"token": token, "member_code": "0012002"}),
        )
        .await
        .expect(200);
    assert_eq!(bare["result"], "already_checked_in");
    assert_eq!(bare["at"], first["at"]);

    // Counted once, at this point, by QR.
    assert_eq!(hall.checked_in().await, 1);
    let line = hall.line("0012002").await;
    assert_eq!(line["checked_in_at"], first["at"]);
    assert_eq!(line["checked_in_point"], hall.name);
    assert_eq!(line["checkin_method"], "qr_self");
    assert_eq!(hall.line("0012001").await["checked_in_at"], Value::Null);
}

#[tokio::test]
async fn qr_link_opens_the_checkin_page_with_point_and_theme() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, CELL_A, "Nhà văn hóa thôn Nà Lạ").await;
    let qr = hall.op.get("/api/operator/qr").await.expect(200);
    let token = qr["token"].as_str().unwrap();
    let link = qr["link"].as_str().unwrap();
    assert_eq!(link, format!("{}/c/{token}", app.base_url));

    let phone = app.anonymous();
    let info = phone
        .get(&format!("/api/checkin/{token}"))
        .await
        .expect(200);
    assert_eq!(info["point"], "Nhà văn hóa thôn Nà Lạ");
    assert_eq!(info["unit"], "Chi bộ thôn Nà Lạ");
    assert_eq!(
        info["theme"],
        "Học tập chuyên đề: Nêu cao tinh thần trách nhiệm"
    );
    assert_eq!(info["status"], "open");
    // Valid for the rest of this period and the next one.
    assert!(ms(&info["valid_until"]) - ms(&qr["expires_at"]) == QR_PERIOD_MS);

    let page = phone.get(&format!("/c/{token}")).await;
    assert_eq!(page.status, 200);
    let content_type = page.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.text.contains("<form"), "{}", page.text);
    assert!(page.text.contains("Mã thành viên"), "{}", page.text);

    phone
        .get("/api/checkin/khong-phai-ma-qr")
        .await
        .error(400, "checkin.token_invalid");
}

#[tokio::test]
async fn self_checkin_refuses_unknown_codes_and_members_of_other_communes() {
    let (app, org) = seeded().await;
    // Commune A's own session: commune B and the agency are not expected.
    let session = org.open_session(COMMUNE_A, COMMUNE_A).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let token = hall.token().await;
    let phone = app.anonymous();

    let unknown = scan(&phone, &token, "0099999", "p1")
        .await
        .error(404, "member.unknown");
    assert!(unknown["message"].as_str().unwrap().contains("0099999"));
    let outside = scan(&phone, &token, "0023001", "p2")
        .await
        .error(403, "member.outside_session");
    assert!(
        outside["message"]
            .as_str()
            .unwrap()
            .contains("Đặng Thị Hoa"),
        "{outside}"
    );
    scan(&phone, &token, "0031001", "p3")
        .await
        .error(403, "member.outside_session");
    scan(&phone, &token, "   ", "p4")
        .await
        .error(400, "member.code_invalid");
    scan(&phone, &token, "0012001", "có dấu cách")
        .await
        .error(400, "request.invalid_field");

    assert_eq!(hall.checked_in().await, 0);
    // A member of the session is still welcome.
    let ok = scan(&phone, &token, "0012001", "p5").await.expect(200);
    assert_eq!(ok["result"], "checked_in");
    assert_eq!(hall.checked_in().await, 1);
}

#[tokio::test]
async fn self_checkin_follows_the_session_status_and_window() {
    let (app, org) = seeded().await;
    let session = org
        .create_session(session_now_body(AGENCY, PROVINCE))
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let phone = app.anonymous();

    // Still scheduled: nobody may check in yet, and nothing is recorded.
    let token = hall.token().await;
    scan(&phone, &token, "0012001", "a-1")
        .await
        .error(409, "session.not_open");
    assert_eq!(hall.checked_in().await, 0);

    org.set_status(session, "open").await.expect(200);
    let first = scan(&phone, &token, "0012001", "a-2").await;
    let first_text = first.text.clone();
    assert_eq!(first.expect(200)["result"], "checked_in");
    org.set_status(session, "live").await.expect(200);
    let live = scan(&phone, &hall.token().await, "0012003", "c-1")
        .await
        .expect(200);
    assert_eq!(live["result"], "checked_in");

    org.set_status(session, "ended").await.expect(200);
    let token = hall.token().await;
    scan(&phone, &token, "0012002", "b-1")
        .await
        .error(409, "session.ended");
    // The phone that lost its answer before the end gets that answer again.
    assert_eq!(
        scan(&phone, &token, "0012001", "a-2").await.text,
        first_text
    );
    assert_eq!(hall.checked_in().await, 2);

    // An open session whose check-in window has closed, or not opened yet.
    let at = |minutes: i64| minutes_from_now(minutes);
    let closed = org
        .create_session(json!({
            "theme": "Buổi sáng",
            "host_unit_code": AGENCY,
            "scope_unit_code": PROVINCE,
            "starts_at": at(-180),
            "ends_at": at(60),
            "checkin_opens_at": at(-200),
            "checkin_closes_at": at(-60),
        }))
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    org.set_status(closed, "open").await.expect(200);
    let room = add_point(&app, &org, closed, COMMUNE_A, "Phòng họp").await;
    scan(&phone, &room.token().await, "0012004", "d-1")
        .await
        .error(409, "session.closed");
    let later = org
        .create_session(json!({
            "theme": "Buổi chiều",
            "host_unit_code": AGENCY,
            "scope_unit_code": PROVINCE,
            "starts_at": at(120),
            "ends_at": at(240),
            "checkin_opens_at": at(60),
        }))
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    org.set_status(later, "open").await.expect(200);
    let room = add_point(&app, &org, later, COMMUNE_A, "Phòng họp").await;
    scan(&phone, &room.token().await, "0012004", "d-2")
        .await
        .error(409, "session.not_open");
    assert_eq!(room.checked_in().await, 0);
}

#[tokio::test]
async fn qr_tokens_last_two_periods_and_cannot_be_forged() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let other = add_point(&app, &org, session, CELL_A, "Nhà văn hóa thôn").await;
    let key = app.qr_key().await;
    let phone = app.anonymous();
    away_from_period_edge().await;
    let now = now_ms();

    // The server's own token of this period is what our key makes.
    let current = hall.token().await;
    assert_eq!(current, tokens::issue_qr(&key, hall.id, now).0);

    // Someone scanned just before the code changed: still accepted.
    let (previous, _) = tokens::issue_qr(&key, hall.id, now - QR_PERIOD_MS);
    assert_ne!(previous, current);
    let ok = scan(&phone, &previous, "0012001", "t-1").await.expect(200);
    assert_eq!(ok["result"], "checked_in");
    assert_eq!(ok["point"], hall.name);
    phone
        .get(&format!("/api/checkin/{previous}"))
        .await
        .expect(200);

    // A photo of the screen sent home a minute ago: expired.
    let (old, _) = tokens::issue_qr(&key, hall.id, now - 3 * QR_PERIOD_MS);
    scan(&phone, &old, "0012002", "t-2")
        .await
        .error(410, "checkin.token_expired");
    phone
        .get(&format!("/api/checkin/{old}"))
        .await
        .error(410, "checkin.token_expired");
    let (future, _) = tokens::issue_qr(&key, hall.id, now + 3 * QR_PERIOD_MS);
    scan(&phone, &future, "0012002", "t-3")
        .await
        .error(410, "checkin.token_expired");

    // Altered tag, or the token moved to another point: forged.
    let (head, tag) = current.rsplit_once('.').unwrap();
    let last = tag.chars().last().unwrap();
    let altered = format!(
        "{head}.{}{}",
        &tag[..tag.len() - 1],
        if last == 'A' { 'B' } else { 'A' }
    );
    let forged = scan(&phone, &altered, "0012002", "t-4")
        .await
        .error(400, "checkin.token_forged");
    assert_eq!(forged["field"], "token");
    let moved = current.replacen(&format!("{}.", hall.id), &format!("{}.", other.id), 1);
    assert!(moved.starts_with(&format!("{}.", other.id)), "{moved}");
    scan(&phone, &moved, "0012002", "t-5")
        .await
        .error(400, "checkin.token_forged");
    let (foreign, _) = tokens::issue_qr(b"not the server key", hall.id, now);
    scan(&phone, &foreign, "0012002", "t-6")
        .await
        .error(400, "checkin.token_forged");

    // Not a token at all.
    for garbage in [
        "hello",
        "1.2.3",
        "",
        "abc.def.0123456789abcdef",
        "-1.5.0123456789abcdef",
    ] {
        scan(&phone, garbage, "0012002", "t-7")
            .await
            .error(400, "checkin.token_invalid");
    }

    // The QR code of a point that was removed.
    let gone = add_point(&app, &org, session, CELL_A, "Phòng họp tạm").await;
    let (gone_token, _) = tokens::issue_qr(&key, gone.id, now);
    org.delete_point(gone.id).await.expect(204);
    scan(&phone, &gone_token, "0012002", "t-8")
        .await
        .error(404, "point.not_found");

    // None of that recorded anything.
    assert_eq!(hall.checked_in().await, 1);
    assert_eq!(other.checked_in().await, 0);
    assert_eq!(hall.line("0012002").await["checked_in_at"], Value::Null);
}

#[tokio::test]
async fn a_point_token_checks_in_to_its_own_session_only() {
    let (app, org) = seeded().await;
    let morning = org.open_session(AGENCY, PROVINCE).await;
    let afternoon = org.open_session(COMMUNE_A, COMMUNE_A).await;
    let p1 = add_point(&app, &org, morning, COMMUNE_A, "Hội trường xã").await;
    let p2 = add_point(&app, &org, afternoon, COMMUNE_A, "Hội trường xã (buổi 2)").await;
    let phone = app.anonymous();

    let answer = scan(&phone, &p2.token().await, "0012003", "x-1")
        .await
        .expect(200);
    assert_eq!(answer["result"], "checked_in");
    assert_eq!(answer["point"], p2.name);
    assert_eq!(p2.line("0012003").await["checked_in_point"], p2.name);
    assert_eq!(p1.line("0012003").await["checked_in_at"], Value::Null);
    assert_eq!((p1.checked_in().await, p2.checked_in().await), (0, 1));

    // The other session still takes them: one check-in per session.
    let morning_answer = scan(&phone, &p1.token().await, "0012003", "x-2")
        .await
        .expect(200);
    assert_eq!(morning_answer["result"], "checked_in");
    assert_eq!(morning_answer["point"], p1.name);
    assert_eq!((p1.checked_in().await, p2.checked_in().await), (1, 1));

    // An operator's queued item naming another session or point is refused.
    let results = p1
        .batch(json!([
            {"id": "w-1", "method": "roster", "member_code": "0012004", "session_id": afternoon},
            {"id": "w-2", "method": "roster", "member_code": "0012004", "point_id": p2.id},
            {"id": "w-3", "method": "roster", "member_code": "0012004", "session_id": morning, "point_id": p2.id},
            {"id": "w-4", "method": "roster", "member_code": "0012005", "session_id": morning, "point_id": p1.id},
        ]))
        .await;
    let answers: Vec<&Value> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["answer"])
        .collect();
    assert_eq!(answers[0]["result"], "refused");
    assert_eq!(answers[0]["code"], "checkin.wrong_session");
    assert_eq!(answers[1]["code"], "checkin.wrong_point");
    assert_eq!(answers[2]["code"], "checkin.wrong_point");
    assert_eq!(answers[3]["result"], "checked_in", "{results}");
    assert_eq!(results["stats"]["checked_in"], 2);
    assert_eq!(p1.line("0012004").await["checked_in_at"], Value::Null);
    assert_eq!(p2.line("0012004").await["checked_in_at"], Value::Null);
    assert_eq!(p2.checked_in().await, 1);
}

#[tokio::test]
async fn self_checkin_is_limited_per_member_code_not_per_address() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let token = hall.token().await;
    let phone = app.anonymous();
    // The limit counts per wall-clock minute: do not straddle one.
    let into_minute = now_ms().rem_euclid(60_000);
    if into_minute > 55_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into_minute + 100) as u64)).await;
    }

    // Ten tries for one code in a minute are answered…
    for i in 1..=10 {
        let answer = scan(&phone, &token, "0012005", &format!("try-{i}"))
            .await
            .expect(200);
        let expected = if i == 1 {
            "checked_in"
        } else {
            "already_checked_in"
        };
        assert_eq!(answer["result"], expected, "try {i}");
    }
    // …the eleventh is not,
    scan(&phone, &token, "0012005", "try-11")
        .await
        .error(429, "checkin.rate_limited");
    // while the rest of the hall, behind the same address, checks in fine.
    for code in ["0012001", "0012002", "0012003"] {
        let answer = scan(&phone, &token, code, "hall").await.expect(200);
        assert_eq!(answer["result"], "checked_in", "{code}");
    }
    assert_eq!(hall.checked_in().await, 4);
}

#[tokio::test]
async fn qr_png_encodes_the_link_of_the_current_code() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;

    let mut compared = false;
    for _ in 0..3 {
        let qr = hall.op.get("/api/operator/qr").await.expect(200);
        let response = hall
            .op
            .request(Method::GET, "/api/operator/qr.png")
            .send()
            .await
            .expect("qr.png");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/png");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let png = response.bytes().await.expect("body");
        let after = hall.op.get("/api/operator/qr").await.expect(200);
        if after["token"] != qr["token"] {
            continue; // the code changed meanwhile: try again
        }

        let image = image::load_from_memory(&png).expect("a PNG").to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        let (_, content) = grids[0].decode().expect("QR decodes");

        let token = qr["token"].as_str().unwrap();
        assert_eq!(content, qr["link"].as_str().unwrap());
        assert!(content.ends_with(&format!("/c/{token}")), "{content}");
        assert!(content.starts_with(&app.base_url), "{content}");
        assert!(qr["svg"].as_str().unwrap().contains("<svg"));
        // What the phone opens works.
        let info = app
            .anonymous()
            .get(&format!("/api/checkin/{token}"))
            .await
            .expect(200);
        assert_eq!(info["point"], hall.name);
        compared = true;
        break;
    }
    assert!(compared, "the QR code kept changing");
}

#[tokio::test]
async fn operator_batch_takes_roster_ticks_and_genuine_cards_exactly_once() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let signer = app.card_signer().await;
    let view = hall.op.operator_point().await.expect(200);
    assert_eq!(view["card_public_key"], signer.public_key());

    let genuine = signer.card("0012002");
    let altered = signer.card("0012003").replace("0012003", "0012004");
    let stranger = CardSigner::from_bytes(&CardSigner::generate_secret())
        .unwrap()
        .card("0012004");
    let items = json!([
        {"id": "op-1", "method": "roster", "member_code": "0012001"},
        {"id": "op-2", "method": "card", "card": genuine},
        {"id": "op-3", "method": "card", "card": altered},
        {"id": "op-4", "method": "card", "card": stranger},
        {"id": "op-5", "method": "card", "card": "DC1.0012004"},
        {"id": "op-6", "method": "roster", "member_code": "0012001"},
        {"id": "op-7", "method": "qr_self", "member_code": "0012003"},
        {"id": "op-8", "method": "card", "member_code": "0012003"},
        {"id": "op-9", "method": "roster", "member_code": "0099999"},
    ]);
    let first = hall.batch(items.clone()).await;
    let results = first["results"].as_array().unwrap();
    assert_eq!(results.len(), 9);
    let ids: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "op-1", "op-2", "op-3", "op-4", "op-5", "op-6", "op-7", "op-8", "op-9"
        ]
    );
    let answer = |i: usize| &results[i]["answer"];
    assert_eq!(answer(0)["result"], "checked_in");
    assert_eq!(answer(0)["method"], "roster");
    assert_eq!(answer(0)["point"], hall.name);
    assert_eq!(answer(1)["result"], "checked_in");
    assert_eq!(answer(1)["method"], "card");
    assert_eq!(answer(1)["member"]["code"], "0012002");
    assert_eq!(answer(2)["code"], "card.forged");
    assert_eq!(answer(3)["code"], "card.forged");
    assert_eq!(answer(4)["code"], "card.invalid");
    assert_eq!(answer(5)["result"], "already_checked_in");
    assert_eq!(answer(5)["at"], answer(0)["at"]);
    assert_eq!(answer(6)["code"], "checkin.method_invalid");
    assert_eq!(answer(7)["code"], "request.invalid_field");
    assert_eq!(answer(8)["code"], "member.unknown");
    for i in [2, 3, 4, 6, 7, 8] {
        assert_eq!(answer(i)["result"], "refused", "{}", answer(i));
        assert!(
            !answer(i)["message"].as_str().unwrap().is_ascii(),
            "Vietnamese message: {}",
            answer(i)
        );
    }
    assert_eq!(first["stats"], json!({"checked_in": 2, "head_count": null}));

    // The queue is sent again (the answer was lost): the same answers, no change.
    let again = hall.batch(items).await;
    assert_eq!(again, first);
    assert_eq!(hall.checked_in().await, 2);
    assert_eq!(hall.line("0012002").await["checkin_method"], "card");
    assert_eq!(hall.line("0012001").await["checkin_method"], "roster");
    assert_eq!(hall.line("0012004").await["checked_in_at"], Value::Null);
    assert_eq!(hall.line("0012003").await["checked_in_at"], Value::Null);

    // Empty batches are refused whole.
    hall.op
        .post("/api/operator/checkins", json!({"items": []}))
        .await
        .error(400, "request.invalid_field");
}

/// A new check-in keeps its operation id on its row, and a resend is
/// answered from there: within the same batch, in a later one, and from
/// another point's console (the id belongs to the point that made it).
#[tokio::test]
async fn a_resent_checkin_gets_its_first_answer_from_the_checkin_itself() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let village = add_point(&app, &org, session, CELL_A, "Nhà văn hóa thôn").await;
    let tick = |id: &str, code: &str| json!({"id": id, "method": "roster", "member_code": code});

    // Sent twice in one queue: recorded once, the same answer twice.
    let first = hall
        .batch(json!([tick("r-1", "0012001"), tick("r-1", "0012001")]))
        .await;
    let answer = first["results"][0]["answer"].clone();
    assert_eq!(answer["result"], "checked_in", "{first}");
    assert_eq!(first["results"][1]["answer"], answer);
    assert_eq!(first["stats"]["checked_in"], 1);

    // Resent later, with an "already checked in" of another id between.
    let later = hall
        .batch(json!([tick("r-2", "0012001"), tick("r-1", "0012001")]))
        .await;
    assert_eq!(
        later["results"][0]["answer"]["result"],
        "already_checked_in"
    );
    assert_eq!(later["results"][1]["answer"], answer);
    let replay = hall.batch(json!([tick("r-2", "0012001")])).await;
    assert_eq!(replay["results"][0], later["results"][0]);

    // The same id from another point is that point's own operation.
    let other = village.batch(json!([tick("r-1", "0012001")])).await;
    assert_eq!(
        other["results"][0]["answer"]["result"],
        "already_checked_in"
    );
    assert_eq!(other["results"][0]["answer"]["point"], hall.name);

    // An id reused by the device for a different member is not a resend:
    // that member is checked in, and each id keeps answering as first.
    let reused = hall.batch(json!([tick("r-1", "0012002")])).await;
    assert_eq!(reused["results"][0]["answer"]["result"], "checked_in");
    assert_eq!(reused["results"][0]["answer"]["member"]["code"], "0012002");
    assert_eq!(hall.checked_in().await, 2);
    let again = hall.batch(json!([tick("r-1", "0012001")])).await;
    assert_eq!(again["results"][0]["answer"], answer);
    assert_eq!(hall.checked_in().await, 2);
}

#[tokio::test]
async fn a_full_offline_queue_of_500_card_scans_fits_in_one_batch() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let signer = app.card_signer().await;
    let taken_at = minutes_from_now(-3);
    let codes: Vec<String> = MEMBERS_OF_A
        .iter()
        .map(|c| c.to_string())
        .chain((0..495).map(|i| format!("0090{i:03}")))
        .collect();
    let items: Vec<Value> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            json!({"id": format!("00000000-0000-4000-8000-{i:012}"), "method": "card",
                   "card": signer.card(code), "taken_at": taken_at, "replayed": true})
        })
        .collect();
    assert_eq!(items.len(), 500);

    let done = hall.batch(Value::Array(items.clone())).await;
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 500);
    for (i, r) in results.iter().enumerate() {
        let expected = if i < 5 { "checked_in" } else { "refused" };
        assert_eq!(r["answer"]["result"], expected, "{r}");
        assert_eq!(r["id"], items[i]["id"]);
    }
    assert_eq!(results[499]["answer"]["code"], "member.unknown");
    assert_eq!(done["stats"]["checked_in"], 5);

    let mut too_many = items;
    too_many.push(json!({"id": "one-more", "method": "roster", "member_code": "0012001"}));
    let refused = hall
        .op
        .post("/api/operator/checkins", json!({ "items": too_many }))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(refused["field"], "items");
    assert_eq!(hall.checked_in().await, 5);
}

#[tokio::test]
async fn replayed_checkins_keep_the_device_time_and_future_times_are_refused() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;

    let ten_minutes_ago = now_ms() - 10 * 60_000;
    // A device set to UTC: the instant counts, not the offset.
    let twenty_minutes_ago = now_ms() - 20 * 60_000;
    let in_utc = chrono::DateTime::from_timestamp_millis(twenty_minutes_ago)
        .unwrap()
        .to_rfc3339();
    let before = now_ms();
    let results = hall
        .batch(json!([
            {"id": "q-1", "method": "roster", "member_code": "0012003",
             "taken_at": to_local(ten_minutes_ago).to_rfc3339(), "replayed": true},
            {"id": "q-2", "method": "roster", "member_code": "0012004",
             "taken_at": minutes_from_now(60), "replayed": true},
            // Before the window opened (an hour before the start).
            {"id": "q-3", "method": "roster", "member_code": "0012005",
             "taken_at": minutes_from_now(-120), "replayed": true},
            {"id": "q-4", "method": "roster", "member_code": "0012001",
             "taken_at": in_utc, "replayed": true},
            // Live, with a device clock two hours behind: the server's time counts.
            {"id": "q-5", "method": "roster", "member_code": "0012002",
             "taken_at": minutes_from_now(-120)},
        ]))
        .await;
    let after = now_ms();
    let answer = |i: usize| results["results"][i]["answer"].clone();

    assert_eq!(answer(0)["result"], "checked_in", "{results}");
    assert_eq!(ms(&answer(0)["at"]), ten_minutes_ago);
    let line = hall.line("0012003").await;
    assert_eq!(ms(&line["checked_in_at"]), ten_minutes_ago);
    assert_eq!(line["checked_in_point"], hall.name);

    assert_eq!(answer(1)["result"], "refused");
    assert_eq!(answer(1)["code"], "checkin.bad_time");
    assert_eq!(hall.line("0012004").await["checked_in_at"], Value::Null);

    assert_eq!(answer(2)["code"], "session.not_open");
    assert_eq!(hall.line("0012005").await["checked_in_at"], Value::Null);

    assert_eq!(answer(3)["result"], "checked_in");
    assert_eq!(ms(&answer(3)["at"]), twenty_minutes_ago);
    assert!(answer(3)["at"].as_str().unwrap().ends_with("+07:00"));
    assert_eq!(
        ms(&hall.line("0012001").await["checked_in_at"]),
        twenty_minutes_ago
    );

    assert_eq!(answer(4)["result"], "checked_in");
    let live = ms(&answer(4)["at"]);
    assert!(before <= live && live <= after, "{}", answer(4));
    assert_eq!(results["stats"]["checked_in"], 3);

    // After the end, a queue that was offline during the session still counts;
    // a live tick does not.
    org.set_status(session, "ended").await.expect(200);
    let late = hall
        .batch(json!([
            {"id": "q-6", "method": "roster", "member_code": "0012004",
             "taken_at": minutes_from_now(-5), "replayed": true},
            {"id": "q-7", "method": "roster", "member_code": "0012005"},
        ]))
        .await;
    assert_eq!(
        late["results"][0]["answer"]["result"], "checked_in",
        "{late}"
    );
    assert_eq!(late["results"][1]["answer"]["code"], "session.ended");
    assert_eq!(hall.checked_in().await, 4);
}

#[tokio::test]
async fn two_points_racing_for_the_same_members_check_each_in_once() {
    const N: usize = 20;
    let (app, org) = seeded().await;
    let (csv, members) = extra_members(N);
    org.import_members(csv).await.expect(200);
    let session = org.open_session(COMMUNE_A, COMMUNE_A).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let village = add_point(&app, &org, session, CELL_A, "Nhà văn hóa thôn").await;

    let send = |point: &Point, code: &str| {
        let op = point.op.clone();
        let item = json!({"items": [{"id": format!("race-{code}"), "method": "roster", "member_code": code}]});
        async move { op.post("/api/operator/checkins", item).await.expect(200) }
    };
    let races = members.iter().map(|code| {
        let (a, b) = (send(&hall, code), send(&village, code));
        async move { tokio::join!(a, b) }
    });
    let outcomes = join_all(races).await;

    let mut wins = (0, 0);
    for (code, (a, b)) in members.iter().zip(&outcomes) {
        let a = &a["results"][0]["answer"];
        let b = &b["results"][0]["answer"];
        let (winner, loser, winner_name) = match (a["result"].as_str(), b["result"].as_str()) {
            (Some("checked_in"), Some("already_checked_in")) => {
                wins.0 += 1;
                (a, b, &hall.name)
            }
            (Some("already_checked_in"), Some("checked_in")) => {
                wins.1 += 1;
                (b, a, &village.name)
            }
            _ => panic!("{code}: exactly one check-in expected, got {a} and {b}"),
        };
        assert_eq!(winner["point"], winner_name.as_str());
        assert_eq!(loser["point"], winner["point"], "{code}");
        assert_eq!(loser["at"], winner["at"], "{code}");
        assert_eq!(loser["member"]["code"], code.as_str());
    }
    let (h, v) = (hall.checked_in().await, village.checked_in().await);
    assert_eq!((h, v), wins);
    assert_eq!(h + v, N as i64);
    for code in &members {
        let line = hall.line(code).await;
        assert!(!line["checked_in_at"].is_null(), "{line}");
        assert_eq!(
            village.line(code).await["checked_in_point"],
            line["checked_in_point"]
        );
    }
}

#[tokio::test]
async fn undo_annuls_a_checkin_of_this_point_and_the_member_may_check_in_again() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let village = add_point(&app, &org, session, CELL_A, "Nhà văn hóa thôn").await;
    let first = hall
        .batch(json!([
            {"id": "u-1", "method": "roster", "member_code": "0012002"},
            {"id": "u-2", "method": "roster", "member_code": "0012001"},
        ]))
        .await;
    assert_eq!(first["stats"]["checked_in"], 2);

    // Another point cannot annul it.
    village
        .op
        .post(
            "/api/operator/undo",
            json!({"id": "undo-0", "member_code": "0012002", "reason": "Nhầm người"}),
        )
        .await
        .error(404, "checkin.not_found");
    hall.op
        .post("/api/operator/undo", json!({"member_code": "0099999"}))
        .await
        .error(404, "checkin.not_found");

    let stats = hall
        .op
        .post(
            "/api/operator/undo",
            json!({"id": "undo-1", "member_code": "0012002", "reason": "Bấm nhầm người"}),
        )
        .await
        .expect(200);
    assert_eq!(stats["checked_in"], 1);
    assert_eq!(hall.checked_in().await, 1);
    assert_eq!(hall.line("0012002").await["checked_in_at"], Value::Null);
    hall.op
        .post("/api/operator/undo", json!({"member_code": "0012002"}))
        .await
        .error(404, "checkin.not_found");

    // The console resends the old id: the old answer, and nothing changes.
    let resent = hall
        .batch(json!([{"id": "u-1", "method": "roster", "member_code": "0012002"}]))
        .await;
    assert_eq!(resent["results"][0], first["results"][0]);
    assert_eq!(resent["stats"]["checked_in"], 1);

    // The member really arrives, at the village hall this time.
    let again = village
        .batch(json!([{"id": "v-1", "method": "roster", "member_code": "0012002"}]))
        .await;
    assert_eq!(again["results"][0]["answer"]["result"], "checked_in");
    assert_eq!(again["results"][0]["answer"]["point"], village.name);
    assert_eq!(
        (hall.checked_in().await, village.checked_in().await),
        (1, 1)
    );
    let phone = app.anonymous();
    let scanned = scan(&phone, &hall.token().await, "0012002", "ph-1")
        .await
        .expect(200);
    assert_eq!(scanned["result"], "already_checked_in");
    assert_eq!(scanned["point"], village.name);

    // An undo sent again (its answer was lost) after the member was checked
    // in again at the same point: the first undo is not applied twice.
    let undo = json!({"id": "undo-2", "member_code": "0012001", "reason": "Nhầm"});
    let stats = hall
        .op
        .post("/api/operator/undo", undo.clone())
        .await
        .expect(200);
    assert_eq!(stats["checked_in"], 0);
    let back = hall
        .batch(json!([{"id": "u-4", "method": "roster", "member_code": "0012001"}]))
        .await;
    assert_eq!(back["results"][0]["answer"]["result"], "checked_in");
    let resent = hall.op.post("/api/operator/undo", undo).await.expect(200);
    assert_eq!(resent["checked_in"], 1);
    assert_eq!(hall.checked_in().await, 1);
    assert_eq!(hall.line("0012001").await["checked_in_point"], hall.name);
}

#[tokio::test]
async fn absences_with_reasons_show_in_the_roster_but_not_for_present_members() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let absent = |code: &str, reason: Option<&str>| {
        hall.op.post(
            "/api/operator/absences",
            json!({"id": format!("abs-{code}"), "member_code": code, "reason": reason, "taken_at": minutes_from_now(-1)}),
        )
    };

    assert_eq!(absent("0012004", Some("Ốm")).await.status, 204);
    assert_eq!(absent("0012005", None).await.status, 204);
    let line = hall.line("0012004").await;
    assert_eq!(line["absent"], true);
    assert_eq!(line["absent_reason"], "Ốm");
    assert_eq!(line["checked_in_at"], Value::Null);
    let line = hall.line("0012005").await;
    assert_eq!(line["absent"], true);
    assert_eq!(line["absent_reason"], Value::Null);
    assert_eq!(hall.line("0012001").await["absent"], false);

    // A second report (a new operation) replaces the first; the first
    // resent (same id) changes nothing.
    let second = hall.op.post(
        "/api/operator/absences",
        json!({"id": "abs-0012004-b", "member_code": "0012004", "reason": "Đi công tác"}),
    );
    assert_eq!(second.await.status, 204);
    assert_eq!(hall.line("0012004").await["absent_reason"], "Đi công tác");
    assert_eq!(absent("0012004", Some("Ốm")).await.status, 204);
    assert_eq!(hall.line("0012004").await["absent_reason"], "Đi công tác");

    // Someone present cannot be marked absent.
    hall.batch(json!([{"id": "c-1", "method": "roster", "member_code": "0012001"}]))
        .await;
    absent("0012001", Some("Ốm"))
        .await
        .error(409, "absence.checked_in");
    assert_eq!(hall.line("0012001").await["absent"], false);
    // Nor someone outside this point's roster.
    absent("0023001", Some("Ốm"))
        .await
        .error(404, "member.unknown");
    assert_eq!(hall.checked_in().await, 1);

    // Reported absent, then turned up after all: the check-in wins.
    hall.batch(json!([{"id": "c-2", "method": "roster", "member_code": "0012005"}]))
        .await;
    let line = hall.line("0012005").await;
    assert_eq!(line["absent"], false);
    assert!(line["checked_in_at"].is_string());
    assert_eq!(line["checked_in_point_id"], hall.id);
}

#[tokio::test]
async fn the_latest_head_count_counts_and_a_repeated_report_applies_once() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = add_point(&app, &org, session, COMMUNE_A, "Hội trường xã").await;
    let report = |id: &str, count: i64, taken_at: &str| {
        hall.op.post(
            "/api/operator/head-count",
            json!({"id": id, "count": count, "taken_at": taken_at}),
        )
    };
    assert_eq!(
        hall.op.operator_point().await.expect(200)["stats"]["head_count"],
        Value::Null
    );

    let stats = report("h-1", 10, &minutes_from_now(-5)).await.expect(200);
    assert_eq!(stats, json!({"checked_in": 0, "head_count": 10}));
    assert_eq!(
        report("h-2", 12, &minutes_from_now(-1)).await.expect(200)["head_count"],
        12
    );
    // A report taken earlier, arriving late from an offline queue, does not win.
    assert_eq!(
        report("h-3", 7, &minutes_from_now(-10)).await.expect(200)["head_count"],
        12
    );

    // Two reports stamped the same second: the later one wins…
    let same = minutes_from_now(0);
    assert_eq!(report("h-4", 30, &same).await.expect(200)["head_count"], 30);
    assert_eq!(report("h-5", 31, &same).await.expect(200)["head_count"], 31);
    // …and resending the first one changes nothing.
    assert_eq!(report("h-4", 30, &same).await.expect(200)["head_count"], 31);
    assert_eq!(
        hall.op.operator_point().await.expect(200)["stats"]["head_count"],
        31
    );
    report("h-6", -1, &same)
        .await
        .error(400, "headcount.invalid");
}

#[tokio::test]
async fn a_manager_prints_the_member_cards_of_their_units_only() {
    let t = two_communes().await;
    t.org
        .create_member(json!({
            "code": "0012099",
            "full_name": "Lò Thị <Mai> & \"Hoa\"",
            "category": "party_member",
            "unit_code": CELL_A
        }))
        .await
        .expect(201);

    let sheet = t.a.get(&format!("/api/units/{CELL_A}/cards")).await;
    assert_eq!(sheet.status, 200, "{}", sheet.text);
    let content_type = sheet.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = &sheet.text;
    assert!(html.contains("Trần Văn Bình"));
    assert!(html.contains("Phạm Thị Ánh"));
    assert!(
        html.contains("Lò Thị &lt;Mai&gt; &amp; &quot;Hoa&quot;"),
        "{html}"
    );
    assert!(!html.contains("<Mai>"));
    assert!(html.contains("<svg"));
    assert_eq!(html.matches("<article class=\"card\"").count(), 3);
    assert_eq!(html.matches("<svg").count(), 3);
    // Only the cell: the commune's own members are not on this sheet.
    assert!(!html.contains("Nguyễn Văn A"));

    let whole =
        t.a.get_with(
            &format!("/api/units/{COMMUNE_A}/cards"),
            &[("subtree", "true")],
        )
        .await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.text.matches("<article class=\"card\"").count(), 6);
    assert!(!whole.text.contains("Đặng Thị Hoa"));

    t.a.get(&format!("/api/units/{COMMUNE_B}/cards"))
        .await
        .error(404, "unit.not_found");
    t.a.get(&format!("/api/units/{CELL_B}/cards"))
        .await
        .error(404, "unit.not_found");
    let theirs = t.b.get(&format!("/api/units/{CELL_B}/cards")).await;
    assert_eq!(theirs.status, 200);
    assert!(theirs.text.contains("Vũ Văn Nam"));
}
