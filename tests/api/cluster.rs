//! Two real server processes sharing one PostgreSQL database: a check-in
//! taken on one reaches a dashboard on the other, and point presence
//! survives an instance dying (its points show as disconnected).

use std::time::Duration;

use diemcau::domain::Role;
use diemcau::store::Db;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::*;

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

type Console =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A point console on the instance at `base_url`, past its welcome.
async fn open_console(base_url: &str, secret: &str) -> Console {
    let operator = remote_api(base_url).as_operator(secret);
    let ticket = operator
        .post_empty("/api/operator/ws-ticket")
        .await
        .expect(200)["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let ws_url = format!(
        "{}/api/operator/ws?ticket={ticket}&v=1",
        base_url.replacen("http://", "ws://", 1)
    );
    let (mut console, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("console connects");
    let welcome: Value = match console.next().await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
            serde_json::from_str(&t).unwrap()
        }
        other => panic!("no welcome: {other:?}"),
    };
    assert_eq!(welcome["type"], "welcome");
    console
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
    let console = open_console(&a.base_url, &secret).await;
    eventually(Duration::from_secs(20), || async {
        point_status(&on_b, session, point).await == "online"
    })
    .await;

    // A link revoked through B closes its console on A (A reads the links
    // of its consoles again every 10 s).
    let (point_b, secret_b) = on_a.new_point(session, COMMUNE_B, "Nhà văn hóa xã").await;
    let mut console_b = open_console(&a.base_url, &secret_b).await;
    assert_eq!(on_b.revoke_link(point_b).await.status, 204);
    let revoked_at = std::time::Instant::now();
    let code = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match console_b.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                    return frame.map(|f| u16::from(f.code));
                }
                Some(Ok(_)) => {}
                other => panic!("console on A failed instead of closing: {other:?}"),
            }
        }
    })
    .await
    .expect("the console on A closes within 20 s of the revocation on B");
    assert_eq!(code, Some(4401));
    eprintln!(
        "a link revoked on B closed its console on A after {:?}",
        revoked_at.elapsed()
    );

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
