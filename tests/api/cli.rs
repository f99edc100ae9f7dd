//! The command line (the real binary) and the demo loader.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use crate::helpers::*;

/// Runs `diemcau ARGS… --database-url URL` in `dir`, feeding `stdin`.
fn diemcau(dir: &Path, args: &[&str], database_url: &str, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .args(args)
        .args(["--database-url", database_url])
        .current_dir(dir)
        .env_remove("DIEMCAU_DATABASE_URL")
        .env("DIEMCAU_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diemcau starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("diemcau finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn database_in(dir: &TempDir) -> String {
    format!("sqlite://{}/cli.db", dir.path().display())
}

#[tokio::test]
async fn admin_create_makes_an_organizer_who_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_in(&dir);
    let out = diemcau(
        dir.path(),
        &[
            "admin",
            "create",
            "--username",
            "BanToChuc.Tinh",
            "--password-stdin",
        ],
        &url,
        "Mat-khau-tu-dong-lenh-1\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("bantochuc.tinh"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !dir.path().join("diemcau.db").exists(),
        "the given database is used"
    );

    // The same username again is refused.
    let again = diemcau(
        dir.path(),
        &[
            "admin",
            "create",
            "--username",
            "bantochuc.tinh",
            "--password-stdin",
        ],
        &url,
        "Mat-khau-khac-hoan-toan\n",
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("đã được dùng"),
        "{}",
        text(&again.stderr)
    );

    let app = TestApp::start_on(&url).await;
    let (web, reply) = app
        .try_login("bantochuc.tinh", "Mat-khau-tu-dong-lenh-1")
        .await;
    let body = reply.expect(200);
    assert_eq!(body["account"]["role"], "organizer");
    assert_eq!(body["account"]["unit_code"], serde_json::Value::Null);
    // And it can do organizer things.
    web.create_unit(
        serde_json::json!({"code": "19", "name": "Tỉnh Thái Nguyên", "kind": "province"}),
    )
    .await
    .expect(201);
    let (_, reply) = app
        .try_login("bantochuc.tinh", "Mat-khau-khac-hoan-toan")
        .await;
    reply.error(401, "auth.bad_credentials");
}

#[tokio::test]
async fn admin_create_refuses_a_weak_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_in(&dir);
    for weak in ["ngan\n", "aaaaaaaaaaaaaa\n", "\n"] {
        let out = diemcau(
            dir.path(),
            &[
                "admin",
                "create",
                "--username",
                "bantochuc",
                "--password-stdin",
            ],
            &url,
            weak,
        );
        assert!(!out.status.success(), "{weak:?} was accepted");
        assert!(
            text(&out.stderr).contains("Mật khẩu"),
            "{}",
            text(&out.stderr)
        );
    }
    let app = TestApp::start_on(&url).await;
    let (_, reply) = app.try_login("bantochuc", "aaaaaaaaaaaaaa").await;
    reply.error(401, "auth.bad_credentials");
}

#[tokio::test]
async fn import_units_from_the_command_line_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_in(&dir);
    let good = dir.path().join("don-vi.csv");
    std::fs::write(&good, TREE_CSV).unwrap();
    let out = diemcau(dir.path(), &["import", "units", "don-vi.csv"], &url, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("6 mới"), "{}", text(&out.stdout));

    // Line 3 renames a unit, line 4 has an unknown parent: nothing applies.
    let bad = dir.path().join("loi.csv");
    std::fs::write(
        &bad,
        "code,name,kind,parent_code\nNEW1,Chi bộ mới,cell,05800\nTN-SYT,Sở Y tế đổi tên,agency,19\nX1,Chi bộ X,cell,KHONG-CO\n",
    )
    .unwrap();
    let out = diemcau(dir.path(), &["import", "units", "loi.csv"], &url, "");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("dòng 4"), "{stderr}");
    assert!(stderr.contains("unit.parent_unknown"), "{stderr}");
    assert!(stderr.contains("KHONG-CO"), "{stderr}");

    // A parse error exits non-zero too, naming its line.
    let malformed = dir.path().join("hong.csv");
    std::fs::write(
        &malformed,
        "code,name,kind,parent_code\nNEW2,Chi bộ,cell,19\nNEW3,,hành tinh,19\n",
    )
    .unwrap();
    let out = diemcau(dir.path(), &["import", "units", "hong.csv"], &url, "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("dòng 3"),
        "{}",
        text(&out.stderr)
    );

    let missing = diemcau(dir.path(), &["import", "units", "khong-co.csv"], &url, "");
    assert!(!missing.status.success());

    let app = TestApp::start_on(&url).await;
    let org = app.organizer().await;
    assert_eq!(org.unit_count().await, TREE_SIZE);
    assert_eq!(org.unit(AGENCY).await.expect(200)["name"], "Sở Y tế");
    org.unit("NEW1").await.error(404, "unit.not_found");
    let cell = org.unit(CELL_A).await.expect(200);
    assert_eq!(
        codes(&cell["ancestors"], "code"),
        [PROVINCE, COMMUNE_A, CELL_A]
    );
}

#[tokio::test]
async fn import_members_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_in(&dir);
    std::fs::write(dir.path().join("don-vi.csv"), TREE_CSV).unwrap();
    std::fs::write(dir.path().join("dang-vien.csv"), MEMBERS_CSV).unwrap();
    std::fs::write(
        dir.path().join("sai.csv"),
        "member_code,full_name,category,unit_code\n0099001,Người Lạc,guest,KHONG-CO\n",
    )
    .unwrap();
    let out = diemcau(
        dir.path(),
        &["import", "members", "dang-vien.csv"],
        &url,
        "",
    );
    assert!(!out.status.success(), "members need their units first");
    assert!(text(&out.stderr).contains("unit.not_found"));

    assert!(
        diemcau(dir.path(), &["import", "units", "don-vi.csv"], &url, "")
            .status
            .success()
    );
    let out = diemcau(
        dir.path(),
        &["import", "members", "dang-vien.csv"],
        &url,
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("8 mới"), "{}", text(&out.stdout));
    let out = diemcau(dir.path(), &["import", "members", "sai.csv"], &url, "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("dòng 2"),
        "{}",
        text(&out.stderr)
    );

    let app = TestApp::start_on(&url).await;
    let org = app.organizer().await;
    assert_eq!(org.members(&[]).await.expect(200)["total"], MEMBER_COUNT);
}

#[tokio::test]
async fn demo_loads_accounts_points_and_todays_open_session() {
    let app = TestApp::start().await;
    let demo = diemcau::demo::load(&app.db, &app.base_url)
        .await
        .expect("demo loads");

    assert_eq!(demo.accounts.len(), 3);
    assert_eq!(demo.operator_links.len(), 61);
    let mut organizer = None;
    for account in &demo.accounts {
        let (api, reply) = app.try_login(&account.username, &account.password).await;
        let body = reply.expect(200);
        assert_eq!(body["account"]["role"], account.role.code());
        assert_eq!(
            body["account"]["unit_code"].as_str(),
            account.unit.as_deref()
        );
        if account.role == diemcau::domain::Role::Organizer {
            organizer = Some(api);
        }
    }
    let org = organizer.expect("an organizer among the demo accounts");

    let session = org.session(demo.session_id).await.expect(200);
    assert_eq!(session["status"], "open");
    assert_eq!(session["point_count"], 61);
    assert_eq!(session["scope"]["code"], "19");
    // "Today": check-in is open now and the session starts within the hour.
    let now = chrono::Utc::now();
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(session[field].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    assert!(at("checkin_opens_at") <= now && now < at("checkin_closes_at"));
    assert!(at("starts_at") > now && at("starts_at") - now <= chrono::Duration::hours(1));

    let province = org.unit("19").await.expect(200);
    assert_eq!(province["kind"], "province");
    assert_eq!(province["depth"], 0);
    let communes = org
        .units(&[("kind", "commune"), ("limit", "1")])
        .await
        .expect(200);
    let wards = org
        .units(&[("kind", "ward"), ("limit", "1")])
        .await
        .expect(200);
    let local = communes["total"].as_i64().unwrap() + wards["total"].as_i64().unwrap();
    assert!(local >= 90, "{local} communes and wards");

    // Every operator link is distinct and opens a point of today's session.
    let secrets: std::collections::HashSet<String> = demo
        .operator_links
        .iter()
        .map(|(_, link)| secret_of(link))
        .collect();
    assert_eq!(secrets.len(), 61);
    for (name, link) in demo.operator_links.iter().step_by(20) {
        assert!(link.starts_with(&format!("{}/diem-cau#", app.base_url)));
        let console = app
            .operator(&secret_of(link))
            .operator_point()
            .await
            .expect(200);
        assert_eq!(&console["point"]["name"], name.as_str());
        assert_eq!(console["session"]["id"], demo.session_id);
    }

    // Loading twice is refused.
    assert!(diemcau::demo::load(&app.db, &app.base_url).await.is_err());
}
