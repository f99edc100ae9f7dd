//! Two real server processes sharing one PostgreSQL database: a check-in
//! taken on one reaches a dashboard on the other, and point presence
//! survives an instance dying (its points show as disconnected).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diemcau::domain::Role;
use diemcau::store::Db;
use serde_json::{Value, json};

use crate::helpers::*;

/// A `diemcau serve` process; killed (SIGKILL) when dropped.
struct Instance {
    child: Child,
    base_url: String,
}

impl Instance {
    fn start(database_url: &str) -> Instance {
        let mut child = Command::new(env!("CARGO_BIN_EXE_diemcau"))
            .args([
                "serve",
                "--database-url",
                database_url,
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("diemcau starts");
        // The banner prints the address once the listener is bound.
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut base_url = None;
        for line in lines.by_ref() {
            let line = line.expect("banner line");
            if let Some(at) = line.find("http://127.0.0.1:") {
                let url = line[at..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/');
                base_url = Some(url.to_string());
                break;
            }
        }
        // Keep reading, or the server dies writing the rest to a closed pipe.
        std::thread::spawn(move || for _ in lines {});
        Instance {
            child,
            base_url: base_url.expect("the banner names the address"),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `probe` until it returns true, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if probe().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not reached within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn point_status(api: &Api, session: i64, point: i64) -> String {
    let points = api
        .get(&format!("/api/sessions/{session}/points"))
        .await
        .expect(200);
    points
        .as_array()
        .expect("points")
        .iter()
        .find(|p| p["id"] == point)
        .map(|p| p["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn two_instances_share_checkins_and_presence() {
    let url = fresh_postgres_database(&postgres_admin_url()).await;
    let mut a = Instance::start(&url);
    let b = Instance::start(&url);

    // Setup through instance A (the database is shared).
    let db = Db::connect(&url).await.expect("database opens");
    let hash = diemcau::security::hash_password(PASSWORD.to_string())
        .await
        .unwrap();
    db.create_account(ORGANIZER, ORGANIZER, &hash, Role::Organizer, None)
        .await
        .unwrap();
    let on_a = remote_api(&a.base_url).sign_in_bearer(ORGANIZER).await;
    let on_b = on_a.at(&b.base_url);
    on_a.import_units(TREE_CSV).await.expect(200);
    on_a.import_members(MEMBERS_CSV).await.expect(200);
    let session = on_a.open_session(AGENCY, PROVINCE).await;
    let (point, secret) = on_a.new_point(session, COMMUNE_A, "Hội trường xã").await;
    let operator_a = remote_api(&a.base_url).as_operator(&secret);

    // B's dashboard is watching before the check-in happens on A.
    let before = on_b.tally(session, None).await.expect(200);
    assert_eq!(before["headline"]["participants"], 0);
    let answer = operator_a
        .post(
            "/api/operator/checkins",
            json!({"items": [{"id": "c-1", "method": "roster", "member_code": "0012001"}]}),
        )
        .await
        .expect(200);
    assert_eq!(answer["results"][0]["answer"]["result"], "checked_in");
    let took = eventually(Duration::from_secs(10), || async {
        on_b.tally(session, None).await.expect(200)["headline"]["participants"] == 1
    })
    .await;
    eprintln!("a check-in on A reached B's tally after {took:?}");

    // A console connected to A shows online on B…
    let ticket = operator_a
        .post_empty("/api/operator/ws-ticket")
        .await
        .expect(200)["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let ws_url = format!(
        "{}/api/operator/ws?ticket={ticket}&v=1",
        a.base_url.replacen("http://", "ws://", 1)
    );
    let (mut console, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("console connects");
    use futures_util::StreamExt;
    let welcome: Value = match console.next().await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
            serde_json::from_str(&t).unwrap()
        }
        other => panic!("no welcome: {other:?}"),
    };
    assert_eq!(welcome["type"], "welcome");
    eventually(Duration::from_secs(20), || async {
        point_status(&on_b, session, point).await == "online"
    })
    .await;

    // …and disconnected once A dies without a word.
    a.kill();
    let took = eventually(Duration::from_secs(40), || async {
        point_status(&on_b, session, point).await == "offline"
    })
    .await;
    eprintln!("B saw A's point offline {took:?} after A was killed");
    // B still answers, with the check-in taken on A.
    assert_eq!(
        on_b.tally(session, None).await.expect(200)["headline"]["participants"],
        1
    );
    drop(console);
}
