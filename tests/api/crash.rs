//! Crash safety: check-ins driven at full speed, the server killed with
//! SIGKILL mid-load, restarted on the same database — every check-in that
//! was acknowledged is there, exactly once, and resending it gets the same
//! answer. Runs on the backend of the run (SQLite or PostgreSQL).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diemcau::domain::Role;
use diemcau::store::Db;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::helpers::*;

const MEMBERS: usize = 4000;
const CLIENTS: usize = 16;
const BATCH: usize = 20;

fn member_code(i: usize) -> String {
    format!("K{i:06}")
}

#[tokio::test]
async fn every_acknowledged_checkin_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let mut server = Instance::start(&url);

    let db = Db::connect(&url).await.expect("database opens");
    let hash = diemcau::security::hash_password(PASSWORD.to_string())
        .await
        .unwrap();
    db.create_account(ORGANIZER, ORGANIZER, &hash, Role::Organizer, None)
        .await
        .unwrap();
    let org = remote_api(&server.base_url).sign_in_bearer(ORGANIZER).await;
    org.import_units(TREE_CSV).await.expect(200);
    let mut roster = String::from("member_code,full_name,category,unit_code\n");
    for i in 0..MEMBERS {
        roster.push_str(&format!(
            "{},Thành viên {i},party_member,{COMMUNE_A}\n",
            member_code(i)
        ));
    }
    org.import_members(roster).await.expect(200);
    let session = org.open_session(AGENCY, PROVINCE).await;
    let (_, secret) = org.new_point(session, COMMUNE_A, "Hội trường xã").await;

    // Clients tick disjoint slices of the roster as fast as answers come.
    let acked: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let operator = remote_api(&server.base_url).as_operator(&secret);
        let (acked, count) = (acked.clone(), count.clone());
        clients.push(tokio::spawn(async move {
            let mine: Vec<usize> = (c..MEMBERS).step_by(CLIENTS).collect();
            for chunk in mine.chunks(BATCH) {
                let items: Vec<Value> = chunk
                    .iter()
                    .map(|i| json!({"id": format!("op-{i}"), "method": "roster", "member_code": member_code(*i)}))
                    .collect();
                // Any failure means the server is gone: stop this client.
                let Some(reply) = operator.try_post("/api/operator/checkins", json!({"items": items})).await else { return };
                for (item, result) in items.iter().zip(reply["results"].as_array().unwrap()) {
                    assert_eq!(result["answer"]["result"], "checked_in", "{result}");
                    acked.lock().await.push((item["member_code"].as_str().unwrap().to_string(), result["answer"].clone()));
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // Kill it mid-load, without warning.
    eventually(Duration::from_secs(60), || async {
        count.load(Ordering::SeqCst) >= 800
    })
    .await;
    server.kill();
    for c in clients {
        c.await.expect("client task");
    }
    let acked = acked.lock().await.clone();
    assert!(
        acked.len() >= 800 && acked.len() < MEMBERS,
        "the kill came mid-load: {} acknowledged",
        acked.len()
    );

    // Restart on the same database.
    let restarted = Instance::start(&url);
    let operator = remote_api(&restarted.base_url).as_operator(&secret);
    let lines = operator.get("/api/operator/roster").await.expect(200);
    let present: HashSet<String> = lines
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["checked_in_at"].is_string())
        .map(|l| l["code"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<&String> = acked
        .iter()
        .map(|(code, _)| code)
        .filter(|c| !present.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged check-ins lost: {missing:?}",
        missing.len()
    );
    // Exactly once: the point's count is the number of distinct members present.
    let stats = operator.operator_point().await.expect(200)["stats"].clone();
    assert_eq!(
        stats["checked_in"].as_u64().unwrap() as usize,
        present.len()
    );
    // A console replaying acknowledged operations gets the same answers.
    let sample: Vec<&(String, Value)> = acked.iter().step_by(37).collect();
    let items: Vec<Value> = sample
        .iter()
        .map(|(code, _)| json!({"id": format!("op-{}", code[1..].parse::<usize>().unwrap()), "method": "roster", "member_code": code, "replayed": true}))
        .collect();
    let replay = operator
        .post("/api/operator/checkins", json!({"items": items}))
        .await
        .expect(200);
    for ((_, first), again) in sample.iter().zip(replay["results"].as_array().unwrap()) {
        assert_eq!(&again["answer"], first);
    }
    assert_eq!(
        operator.operator_point().await.expect(200)["stats"]["checked_in"],
        stats["checked_in"]
    );
    eprintln!(
        "{} acknowledged before SIGKILL, {} present after restart, none lost",
        acked.len(),
        present.len()
    );
}
