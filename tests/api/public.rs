//! The public side of a session, as viewers use it without an account: the
//! session page (stream only while it runs), the TV overlay's figures,
//! checking in from home by the QR code shown on TV, and the calendar feed.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

use crate::helpers::*;

/// A session running now with a TV broadcast; not yet open (scheduled).
async fn broadcast_session(org: &Api, theme: &str) -> i64 {
    let mut body = session_now_body(AGENCY, PROVINCE);
    body["theme"] = json!(theme);
    body["broadcast"] = json!({
        "tv_channel": "Kênh TN1 – Đài Phát thanh và Truyền hình tỉnh",
        "stream_url": "https://truyenhinh.example.vn/truc-tiep",
        "recording_url": "https://truyenhinh.example.vn/ghi-hinh/2026",
    });
    org.create_session(body).await.expect(201)["id"]
        .as_i64()
        .expect("id")
}

async fn home_checkin(app: &TestApp, session: i64, body: Value) -> Reply {
    app.anonymous()
        .post(
            &format!("/api/public/sessions/{session}/home-checkin"),
            body,
        )
        .await
}

async fn figures(app: &TestApp, session: i64) -> Value {
    app.anonymous()
        .get(&format!("/api/public/sessions/{session}/figures"))
        .await
        .expect(200)
}

/// Polls the public figures until `ok` holds (events apply asynchronously).
async fn figures_until(app: &TestApp, session: i64, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let f = figures(app, session).await;
        if ok(&f) {
            return f;
        }
        assert!(Instant::now() < deadline, "figures did not converge: {f}");
        sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_public_page_shows_the_stream_only_while_the_session_runs() {
    let (app, org) = seeded().await;
    let session = broadcast_session(&org, "Học tập chuyên đề năm 2026").await;
    let public = app.anonymous();
    let page = |public: Api| async move {
        public
            .get(&format!("/api/public/sessions/{session}"))
            .await
            .expect(200)
    };

    let scheduled = page(public.clone()).await;
    assert_eq!(scheduled["status"], "scheduled");
    assert_eq!(scheduled["stream_url"], Value::Null);
    assert_eq!(
        scheduled["tv_channel"],
        "Kênh TN1 – Đài Phát thanh và Truyền hình tỉnh"
    );
    assert_eq!(
        scheduled["home_link"],
        format!("{}/tv/{session}", app.base_url)
    );
    assert_eq!(scheduled["scope"], "Tỉnh Thái Nguyên");
    assert_eq!(scheduled["host"], "Sở Y tế");

    for status in ["open", "live"] {
        org.set_status(session, status).await.expect(200);
        let running = page(public.clone()).await;
        assert_eq!(running["status"], status);
        assert_eq!(
            running["stream_url"], "https://truyenhinh.example.vn/truc-tiep",
            "{running}"
        );
    }
    let listed = public.get("/api/public/sessions").await.expect(200);
    assert_eq!(codes_of_ids(&listed), vec![session]);

    org.set_status(session, "ended").await.expect(200);
    let ended = page(public.clone()).await;
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["stream_url"], Value::Null, "{ended}");
    assert_eq!(
        ended["recording_url"],
        "https://truyenhinh.example.vn/ghi-hinh/2026"
    );
    let listed = public.get("/api/public/sessions").await.expect(200);
    assert!(codes_of_ids(&listed).is_empty(), "{listed}");

    public
        .get("/api/public/sessions/9999")
        .await
        .error(404, "session.not_found");
    public
        .get("/api/public/sessions/9999/figures")
        .await
        .error(404, "session.not_found");
}

fn codes_of_ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|s| s["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn figures_count_viewers_at_home_once_per_device() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let (_, secret) = org
        .new_point(session, COMMUNE_A, "Hội trường xã Bằng Thành")
        .await;
    org.new_point(session, CELL_B, "Nhà văn hóa thôn Nà Pài")
        .await;
    let start = figures(&app, session).await;
    assert_eq!(start["status"], "open");
    assert_eq!(start["participants"], 0);
    assert_eq!(start["following_broadcast"], 0);
    assert_eq!(start["points_registered"], 2);
    assert_eq!(start["points_connected"], 0);

    // The home page offers the communes of the session, found without diacritics.
    let communes = app
        .anonymous()
        .get(&format!("/api/public/sessions/{session}/units"))
        .await
        .expect(200);
    assert_eq!(
        communes,
        json!([{"code": COMMUNE_A, "name": "Xã Bằng Thành"}, {"code": COMMUNE_B, "name": "Xã Nghiên Loan"}])
    );
    let found = app
        .anonymous()
        .get_with(
            &format!("/api/public/sessions/{session}/units"),
            &[("q", "nghien loan")],
        )
        .await
        .expect(200);
    assert_eq!(codes(&found, "code"), vec![COMMUNE_B]);

    // A member follows from home.
    let first = home_checkin(
        &app,
        session,
        json!({"member_code": "0012001", "device_id": "dien-thoai-1"}),
    )
    .await
    .expect(200);
    assert_eq!(first["result"], "checked_in", "{first}");
    assert_eq!(first["method"], "broadcast");
    assert_eq!(first["member"]["full_name"], "Nguyễn Văn A");
    // The same member again, from the same phone or another: counted once.
    for device in ["dien-thoai-1", "dien-thoai-2"] {
        let again = home_checkin(
            &app,
            session,
            json!({"member_code": "0012001", "device_id": device}),
        )
        .await
        .expect(200);
        assert_ne!(again["result"], "refused", "{again}");
        assert_eq!(again["member"]["code"], "0012001");
    }
    let again = home_checkin(
        &app,
        session,
        json!({"member_code": "0012001", "device_id": "dien-thoai-3"}),
    )
    .await
    .expect(200);
    assert_eq!(again["result"], "already_checked_in", "{again}");

    // Members of the public pick their commune; a phone counts once, even
    // when it picks another commune the second time.
    let viewer = home_checkin(
        &app,
        session,
        json!({"unit_code": COMMUNE_A, "device_id": "nhan-dan-1"}),
    )
    .await
    .expect(200);
    assert_eq!(viewer["result"], "checked_in", "{viewer}");
    assert_eq!(viewer["member"]["unit_name"], "Xã Bằng Thành");
    let repeat = home_checkin(
        &app,
        session,
        json!({"unit_code": COMMUNE_B, "device_id": "nhan-dan-1"}),
    )
    .await
    .expect(200);
    assert_eq!(repeat["result"], "already_checked_in", "{repeat}");
    let other = home_checkin(
        &app,
        session,
        json!({"unit_code": COMMUNE_B, "device_id": "nhan-dan-2"}),
    )
    .await
    .expect(200);
    assert_eq!(other["result"], "checked_in", "{other}");

    // A member ticked in a hall takes part, but does not follow the broadcast.
    let hall = app.operator(&secret);
    let batch = hall
        .post(
            "/api/operator/checkins",
            json!({"items": [{"id": "t-1", "method": "roster", "member_code": "0012003"}]}),
        )
        .await
        .expect(200);
    assert_eq!(batch["results"][0]["answer"]["result"], "checked_in");

    let f = figures_until(&app, session, |f| f["participants"] == 4).await;
    assert_eq!(
        f["following_broadcast"], 3,
        "one member and two phones: {f}"
    );
    assert_eq!(f["points_registered"], 2);
    assert!(
        f["summary"]
            .as_str()
            .expect("summary")
            .contains("với tổng số 4 cán bộ"),
        "{f}"
    );
    // The organizer's tally agrees, per commune.
    let a = org.tally(session, Some(COMMUNE_A)).await.expect(200);
    assert_eq!(a["node"]["public_viewers"], 1);
    assert_eq!(a["node"]["by_method"]["broadcast"], 1);
    assert_eq!(a["node"]["by_method"]["roster"], 1);
    let b = org.tally(session, Some(COMMUNE_B)).await.expect(200);
    assert_eq!(b["node"]["public_viewers"], 1);
    assert_eq!(b["node"]["members"], 0);
}

#[tokio::test]
async fn home_checkin_is_refused_before_the_session_opens_and_outside_it() {
    let (app, org) = seeded().await;
    // A session of commune A only.
    let mut body = session_now_body(COMMUNE_A, COMMUNE_A);
    body["theme"] = json!("Sinh hoạt chuyên đề xã Bằng Thành");
    let session = org.create_session(body).await.expect(201)["id"]
        .as_i64()
        .expect("id");

    // Scheduled: nobody checks in yet, whoever they are.
    for body in [
        json!({"member_code": "0012001", "device_id": "may-1"}),
        json!({"unit_code": COMMUNE_A, "device_id": "may-2"}),
    ] {
        home_checkin(&app, session, body)
            .await
            .error(409, "session.not_open");
    }
    org.set_status(session, "open").await.expect(200);

    home_checkin(
        &app,
        session,
        json!({"unit_code": "99999", "device_id": "may-3"}),
    )
    .await
    .error(404, "unit.not_found");
    // A commune outside the session's subtree is unknown here too.
    let error = home_checkin(
        &app,
        session,
        json!({"unit_code": COMMUNE_B, "device_id": "may-3"}),
    )
    .await
    .error(404, "unit.not_found");
    assert_eq!(error["field"], "unit_code", "{error}");
    home_checkin(
        &app,
        session,
        json!({"member_code": "0099999", "device_id": "may-4"}),
    )
    .await
    .error(404, "member.unknown");
    home_checkin(
        &app,
        session,
        json!({"member_code": "0023001", "device_id": "may-5"}),
    )
    .await
    .error(403, "member.outside_session");
    home_checkin(&app, session, json!({"device_id": "may-6"}))
        .await
        .error(400, "request.invalid_field");
    home_checkin(
        &app,
        session,
        json!({"unit_code": COMMUNE_A, "device_id": "không hợp lệ"}),
    )
    .await
    .error(400, "request.invalid_field");
    home_checkin(
        &app,
        9999,
        json!({"unit_code": COMMUNE_A, "device_id": "may-7"}),
    )
    .await
    .error(404, "session.not_found");
    // Nothing refused was counted.
    let f = figures(&app, session).await;
    assert_eq!(f["participants"], 0, "{f}");
    assert_eq!(f["following_broadcast"], 0, "{f}");

    let ok = home_checkin(
        &app,
        session,
        json!({"unit_code": CELL_A, "device_id": "may-8"}),
    )
    .await
    .expect(200);
    assert_eq!(ok["result"], "checked_in", "{ok}");

    org.set_status(session, "ended").await.expect(200);
    home_checkin(
        &app,
        session,
        json!({"member_code": "0012002", "device_id": "may-9"}),
    )
    .await
    .error(409, "session.ended");
}

/// Draws the SVG the server renders (a `viewBox` in modules, drawn at
/// `width` pixels; one stroked path of runs of dark modules: `M x y` starts
/// a row, `m gap 0` skips light modules, `h n` draws n dark ones) into a
/// picture for the QR reader.
fn rasterize(svg: &str) -> image::GrayImage {
    let attr = |name: &str| -> &str {
        let start = svg.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        let end = start + svg[start..].find('"').expect("closing quote");
        &svg[start..end]
    };
    let pixels: u32 = attr("width").parse().expect("a width");
    let modules: u32 = attr("viewBox")
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("a viewBox");
    let scale = pixels / modules;
    let mut img = image::GrayImage::from_pixel(pixels, pixels, image::Luma([255]));
    let d_start = svg.rfind(" d=\"").expect("a path") + 4;
    let d = &svg[d_start..d_start + svg[d_start..].find('"').expect("end of path")];
    let (mut x, mut y) = (0u32, 0u32);
    let mut rest = d;
    while let Some(command) = rest.chars().next() {
        let end = rest[1..]
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(rest.len(), |i| i + 1);
        let numbers: Vec<u32> = rest[1..end]
            .split(' ')
            .map(|n| n.parse().expect("a number"))
            .collect();
        match (command, &numbers[..]) {
            ('M', [nx, ny]) => (x, y) = (*nx, *ny),
            ('m', [dx, 0]) => x += dx,
            ('h', [n]) => {
                for py in y * scale..(y + 1) * scale {
                    for px in x * scale..(x + n) * scale {
                        img.put_pixel(px, py, image::Luma([0]));
                    }
                }
                x += n;
            }
            other => panic!("unexpected path command {other:?}"),
        }
        rest = &rest[end..];
    }
    img
}

#[tokio::test]
async fn the_home_qr_code_opens_the_home_checkin_page() {
    let (app, org) = seeded().await;
    let session = broadcast_session(&org, "Học tập chuyên đề năm 2026").await;
    let public = app.anonymous();
    let link = public
        .get(&format!("/api/public/sessions/{session}"))
        .await
        .expect(200)["home_link"]
        .as_str()
        .expect("home_link")
        .to_string();
    assert_eq!(link, format!("{}/tv/{session}", app.base_url));

    let reply = public
        .get(&format!("/api/public/sessions/{session}/home-qr.svg"))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "image/svg+xml");
    assert!(reply.text.contains("<svg"), "{}", reply.text);
    let mut prepared = rqrr::PreparedImage::prepare(rasterize(&reply.text));
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(content, link);

    public
        .get("/api/public/sessions/9999/home-qr.svg")
        .await
        .error(404, "session.not_found");
}

/// The feed's content lines, unfolded (RFC 5545 §3.1).
fn unfold(ics: &str) -> Vec<String> {
    ics.replace("\r\n ", "")
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_calendar_feed_lists_sessions_not_yet_ended() {
    let (app, org) = seeded().await;
    let theme = "Nêu cao tinh thần trách nhiệm, linh hoạt, sáng tạo; hành động quyết liệt, \
                 hiệu quả để thực hiện thắng lợi Nghị quyết Đại hội Đảng bộ tỉnh";
    let long = broadcast_session(&org, theme).await;
    let plain = org.new_session(AGENCY, COMMUNE_A).await;
    let ended = org.new_session(AGENCY, COMMUNE_B).await;
    org.set_status(ended, "ended").await.expect(200);
    org.set_status(long, "open").await.expect(200);

    let reply = app.anonymous().get("/api/public/sessions.ics").await;
    assert_eq!(reply.status, 200);
    let content_type = reply.headers["content-type"].to_str().expect("ASCII");
    assert!(content_type.starts_with("text/calendar"), "{content_type}");
    let ics = reply.text;

    // CRLF everywhere, and no line longer than 75 octets.
    assert!(ics.ends_with("\r\n"));
    assert_eq!(
        ics.matches('\n').count(),
        ics.matches("\r\n").count(),
        "bare LF in {ics:?}"
    );
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    assert!(ics.contains("\r\n "), "the long theme is folded");

    let lines = unfold(&ics);
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
    assert!(lines.contains(&"VERSION:2.0".to_string()));
    let events = lines.iter().filter(|l| *l == "BEGIN:VEVENT").count();
    assert_eq!(events, 2, "one VEVENT per session not ended:\n{ics}");
    assert_eq!(lines.iter().filter(|l| *l == "END:VEVENT").count(), 2);
    let uids: Vec<&String> = lines.iter().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids.len(), 2);
    for (id, listed) in [(long, true), (plain, true), (ended, false)] {
        let prefix = format!("UID:session-{id}@");
        assert_eq!(
            uids.iter().any(|u| u.starts_with(&prefix)),
            listed,
            "{prefix}: {uids:?}"
        );
    }

    // Text is escaped: commas and semicolons are preceded by a backslash.
    let escaped = theme.replace(',', "\\,").replace(';', "\\;");
    let summary = format!("SUMMARY:{escaped}");
    assert!(lines.contains(&summary), "{summary:?} in {lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l == "SUMMARY:Học tập chuyên đề năm 2026"),
        "{lines:#?}"
    );
    let location = "LOCATION:Kênh TN1 – Đài Phát thanh và Truyền hình tỉnh";
    assert!(lines.contains(&location.to_string()), "{lines:#?}");
    let description = lines
        .iter()
        .find(|l| l.starts_with("DESCRIPTION:Phát sóng trực tiếp"))
        .expect("the broadcast session's description");
    assert!(
        description.contains(&format!("{}/tv/{long}", app.base_url)),
        "{description}"
    );
    assert!(description.contains("\\n"), "{description}");
    // Times in UTC: 30 minutes before now, Vietnam time minus seven hours.
    let session = org.session(long).await.expect(200);
    let starts = chrono::DateTime::parse_from_rfc3339(session["starts_at"].as_str().expect("time"))
        .expect("RFC 3339")
        .with_timezone(&chrono::Utc)
        .format("DTSTART:%Y%m%dT%H%M%SZ")
        .to_string();
    assert!(lines.contains(&starts), "{starts} in {lines:#?}");
}
