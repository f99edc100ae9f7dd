//! Retention with the real binary: the personal data of a session that ended
//! long ago is removed, its figures are kept, and the server reports them
//! as before; recent or unfinished sessions are left alone.

use std::process::{Command, Output};

use serde_json::{Value, json};

use diemcau::domain::time::{now_ms, to_local};
use diemcau::store::Db;

use crate::helpers::*;

const RECORDING: &str = "https://video.example.vn/hoi-nghi-chuyen-de.mp4";

/// `diemcau retention ARGS… --database-url URL`.
fn retention(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .arg("retention")
        .args(args)
        .args(["--database-url", url])
        .env_remove("DIEMCAU_DATABASE_URL")
        .env("DIEMCAU_LOG", "warn")
        .output()
        .expect("diemcau runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "retention failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// What the database holds of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    checkins: i64,
    absences: i64,
    makeup: i64,
    viewers: i64,
    head_counts: i64,
    /// Points still naming an operator (name, phone or link).
    operators: i64,
    summaries: i64,
}

async fn held(db: &Db, s: i64) -> Held {
    let count = |sql: String| async move { db_i64(db, &sql).await };
    Held {
        checkins: count(format!("SELECT count(*) FROM checkins WHERE session_id = {s}")).await,
        absences: count(format!("SELECT count(*) FROM absences WHERE session_id = {s}")).await,
        makeup: count(format!("SELECT count(*) FROM makeup_progress WHERE session_id = {s}")).await,
        viewers: count(format!("SELECT count(*) FROM public_viewers WHERE session_id = {s}")).await,
        head_counts: count(format!(
            "SELECT count(*) FROM head_counts h JOIN points p ON p.id = h.point_id WHERE p.session_id = {s}"
        ))
        .await,
        operators: count(format!(
            "SELECT count(*) FROM points WHERE session_id = {s} AND (operator_name IS NOT NULL \
             OR operator_phone IS NOT NULL OR operator_token_hash IS NOT NULL)"
        ))
        .await,
        summaries: count(format!(
            "SELECT count(*) FROM session_summaries WHERE session_id = {s}"
        ))
        .await,
    }
}

/// What the three sessions hold, read with a connection of its own.
async fn holdings(url: &str, sessions: [i64; 3]) -> [Held; 3] {
    let db = Db::connect(url).await.expect("database opens");
    let out = [
        held(&db, sessions[0]).await,
        held(&db, sessions[1]).await,
        held(&db, sessions[2]).await,
    ];
    db.close().await;
    out
}

/// The report's rows and summary (what must survive the purge).
async fn figures(api: &Api, session: i64, unit: Option<&str>) -> (Value, Value) {
    let r = api.report(session, unit).await.expect(200);
    (r["rows"].clone(), r["summary"].clone())
}

/// `days` days ago, `hours` hours later.
fn days_ago(days: i64, hours: i64) -> String {
    to_local(now_ms() - days * 86_400_000 + hours * 3_600_000).to_rfc3339()
}

const UNITS: [Option<&str>; 5] = [
    None,
    Some(COMMUNE_A),
    Some(CELL_A),
    Some(COMMUNE_B),
    Some(AGENCY),
];

#[tokio::test]
async fn retention_purges_old_ended_sessions_and_their_reports_stay_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let (app, stop, server) = TestApp::start_on_joinable(&url).await;
    let org = app.organizer().await;
    org.import_units(TREE_CSV).await.expect(200);
    org.import_members(MEMBERS_CSV).await.expect(200);
    let (_, manager) = app.manager("quanly.bangthanh", COMMUNE_A).await;
    let phone = app.anonymous();
    let signer = app.card_signer().await;

    // The old session, held now with every kind of record…
    let old = org.open_session(AGENCY, PROVINCE).await;
    org.set_recording(old, RECORDING).await;
    let created = org
        .create_point(
            old,
            json!({"unit_code": COMMUNE_A, "name": "Hội trường xã Bằng Thành",
                   "operator_name": "Lý Văn Vận", "operator_phone": "0912345678"}),
        )
        .await
        .expect(201);
    let hall_id = created["point"]["id"].as_i64().unwrap();
    let hall = app.operator(&secret_of(created["operator_link"].as_str().unwrap()));
    let (_, secret) = org.new_point(old, CELL_B, "Nhà văn hóa thôn Nà Pài").await;
    let village = app.operator(&secret);
    app.connect_console_once(&hall).await;
    let done = hall
        .post(
            "/api/operator/checkins",
            json!({"items": [
                {"id": "o-1", "method": "roster", "member_code": "0012001"},
                {"id": "o-2", "method": "card", "card": signer.card("0012002")},
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(done["stats"]["checked_in"], 2);
    let token = hall.get("/api/operator/qr").await.expect(200)["token"]
        .as_str()
        .unwrap()
        .to_string();
    phone
        .post(
            "/api/checkin",
            json!({"token": token, "member_code": "0012003", "client_id": "phone-an"}),
        )
        .await
        .expect(200);
    let home = format!("/api/public/sessions/{old}/home-checkin");
    phone
        .post(
            &home,
            json!({"member_code": "0023001", "device_id": "tv-hoa"}),
        )
        .await
        .expect(200);
    phone
        .post(
            &home,
            json!({"unit_code": COMMUNE_B, "device_id": "tv-nhan-dan"}),
        )
        .await
        .expect(200);
    village
        .post(
            "/api/operator/head-count",
            json!({"id": "hc-1", "count": 7}),
        )
        .await
        .expect(200);
    let r = hall
        .post(
            "/api/operator/absences",
            json!({"id": "ab-1", "member_code": "0012004", "reason": "Ốm"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let absentees = org.absentees(old, None).await.expect(200);
    let link = |code: &str| {
        absentees["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["member_code"] == code)
            .map(|a| makeup_token_of(a["makeup_link"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{code} absent"))
    };
    app.watch_recording(old, "0012005", &link("0012005"), 5400.0)
        .await;
    let partial = link("0031001");
    app.makeup_report(
        &partial,
        json!({"duration_s": 5400.0, "intervals": [[0.0, 12.0]]}),
    )
    .await;

    // …a recent session, ended…
    let recent = org.open_session(AGENCY, PROVINCE).await;
    let (_, secret) = org.new_point(recent, COMMUNE_A, "Hội trường xã").await;
    let recent_hall = app.operator(&secret);
    recent_hall
        .post(
            "/api/operator/checkins",
            json!({"items": [{"id": "n-1", "method": "roster", "member_code": "0012001"}]}),
        )
        .await
        .expect(200);
    let r = recent_hall
        .post(
            "/api/operator/absences",
            json!({"id": "n-2", "member_code": "0012004", "reason": "Đi công tác"}),
        )
        .await;
    assert_eq!(r.status, 204);
    org.set_status(recent, "ended").await.expect(200);
    // …and an old one that was never ended.
    let unfinished = org.open_session(COMMUNE_B, COMMUNE_B).await;
    let (_, secret) = org.new_point(unfinished, COMMUNE_B, "Hội trường xã").await;
    app.operator(&secret)
        .post(
            "/api/operator/checkins",
            json!({"items": [{"id": "f-1", "method": "roster", "member_code": "0023001"}]}),
        )
        .await
        .expect(200);

    // Two months on: the old sessions' schedules lie in the past.
    for s in [old, unfinished] {
        org.patch_session(
            s,
            json!({"starts_at": days_ago(60, 0), "ends_at": days_ago(60, 3),
                   "checkin_opens_at": days_ago(60, -1), "checkin_closes_at": days_ago(60, 3)}),
        )
        .await
        .expect(200);
    }
    org.set_status(old, "ended").await.expect(200);

    // The figures as reported before.
    let mut before = Vec::new();
    for unit in UNITS {
        before.push(figures(&org, old, unit).await);
    }
    let root = &before[0].0[0];
    assert_eq!(root["points_connected"], 1, "{root}");
    assert_eq!(root["makeup"], 1);
    assert_eq!(root["head_count"], 7);
    assert_eq!(root["broadcast"], 2);
    assert_eq!(root["participants_total"], 13);
    let manager_before = figures(&manager, old, None).await;
    let recent_before = figures(&org, recent, None).await;
    let unfinished_before = figures(&org, unfinished, None).await;
    let history = org.get("/api/members/0012001/history").await.expect(200);
    assert_eq!(history["sessions"].as_array().unwrap().len(), 2);
    let recent_absentees = org.absentees(recent, None).await.expect(200)["total"].clone();
    assert_eq!(recent_absentees, 7);

    // The server stops; the command runs on its database.
    drop((org, manager, phone, hall, village, recent_hall));
    stop.send(()).expect("server running");
    server.await.expect("server stopped");
    drop(app);
    let sessions = [old, recent, unfinished];
    let start = holdings(&url, sessions).await;
    assert_eq!(
        start[0],
        Held {
            checkins: 5,
            absences: 1,
            makeup: 2,
            viewers: 1,
            head_counts: 1,
            operators: 2,
            summaries: 0
        }
    );
    assert!(start[1].checkins == 1 && start[1].absences == 1 && start[2].checkins == 1);

    // A dry run lists the old ended session and changes nothing.
    let out = succeeded(&retention(&url, &["--older-than-days", "30", "--dry-run"]));
    assert!(out.starts_with("1 buổi học"), "{out}");
    assert!(out.contains(&format!("#{old} ")), "{out}");
    assert!(!out.contains(&format!("#{recent} ")), "{out}");
    assert!(out.contains("chạy thử"), "{out}");
    assert_eq!(holdings(&url, sessions).await, start);

    // The real run: that session's personal data is gone, the others stay.
    let out = succeeded(&retention(&url, &["--older-than-days", "30"]));
    assert!(
        out.contains(
            "đã xóa: 5 lượt điểm danh, 1 báo vắng, 1 báo số người, 1 người xem tại nhà, 2 tiến độ học bù"
        ),
        "{out}"
    );
    let after = holdings(&url, sessions).await;
    assert_eq!(
        after[0],
        Held {
            checkins: 0,
            absences: 0,
            makeup: 0,
            viewers: 0,
            head_counts: 0,
            operators: 0,
            summaries: 1
        }
    );
    assert_eq!(after[1], start[1]);
    assert_eq!(after[2], start[2]);

    // Twice is a no-op; fewer than 30 days is refused.
    let out = succeeded(&retention(&url, &["--older-than-days", "30"]));
    assert!(out.starts_with("0 buổi học"), "{out}");
    assert_eq!(holdings(&url, sessions).await, after);
    let refused = retention(&url, &["--older-than-days", "5"]);
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    assert!(
        text(&refused.stderr).contains("30"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(holdings(&url, sessions).await, after);

    // A server on the same database reports the same figures from what was kept.
    let app = TestApp::start_on(&url).await;
    let org = app.bearer(ORGANIZER).await;
    let manager = app.bearer("quanly.bangthanh").await;
    for (unit, want) in UNITS.iter().zip(&before) {
        assert_eq!(
            &figures(&org, old, *unit).await,
            want,
            "report of {unit:?} after the purge"
        );
    }
    assert_eq!(figures(&manager, old, None).await, manager_before);
    assert_eq!(figures(&org, recent, None).await, recent_before);
    assert_eq!(figures(&org, unfinished, None).await, unfinished_before);
    let csv = org
        .get_raw(
            &format!("/api/sessions/{old}/report"),
            &[("unit", COMMUNE_A), ("format", "csv")],
        )
        .await
        .expect(200, "text/csv");
    assert!(String::from_utf8(csv).unwrap().contains("Xã Bằng Thành"));
    // Histories no longer name the purged session; operators are forgotten.
    let history = org.get("/api/members/0012001/history").await.expect(200);
    assert_eq!(history["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(history["sessions"][0]["session_id"], recent);
    let point = org.point(hall_id).await.expect(200);
    assert_eq!(point["operator_name"], Value::Null);
    assert_eq!(point["operator_phone"], Value::Null);
    assert_eq!(point["operator_link_active"], false);
    let theirs = org.get(&format!("/api/sessions/{old}")).await.expect(200);
    assert_eq!(theirs["status"], "ended");
    // Who attended is no longer known: no absentee list, no make-up that
    // would record personal data again.
    org.absentees(old, None).await.error(410, "session.purged");
    let phone = app.anonymous();
    phone
        .get(&format!("/api/makeup/{partial}"))
        .await
        .error(410, "session.purged");
    phone
        .post(
            &format!("/api/makeup/{partial}/progress"),
            json!({"duration_s": 5400.0, "intervals": [[0.0, 12.0]]}),
        )
        .await
        .error(410, "session.purged");
    assert_eq!(
        org.absentees(recent, None).await.expect(200)["total"],
        recent_absentees
    );
}
