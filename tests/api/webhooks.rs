//! Webhooks as another system receives them: a small receiver that fails the
//! first request; signed deliveries of check-ins, undos and status changes;
//! the failed one retried after its backoff with the same delivery id.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use diemcau::domain::time::now_ms;

use crate::helpers::*;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    at: Instant,
    headers: HeaderMap,
    body: String,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("header {name} in {:?}", self.headers))
            .to_str()
            .expect("ASCII header")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

type Hits = Arc<Mutex<Vec<Hit>>>;

/// A receiver on 127.0.0.1 that records every request and answers 500 to
/// the first one, 200 to the rest. Returns its address.
async fn receiver() -> (String, Hits) {
    let hits: Hits = Arc::default();
    let seen = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let mut hits = seen.lock().unwrap();
                hits.push(Hit {
                    at: Instant::now(),
                    headers,
                    body,
                });
                if hits.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver runs") });
    (url, hits)
}

/// Waits (30 s at most) until the requests received satisfy `done`.
async fn wait_for(hits: &Hits, what: &str, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        {
            let hits = hits.lock().unwrap();
            if done(&hits) {
                return hits.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 30 s; received {:?}",
                hits.iter()
                    .map(|h| h.headers.get("x-diemcau-delivery").cloned())
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn of_type<'a>(hits: &'a [Hit], event: &str) -> Vec<&'a Hit> {
    hits.iter()
        .filter(|h| h.header("x-diemcau-event") == event)
        .collect()
}

/// Checks `X-Diemcau-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
#[track_caller]
fn assert_signed(hit: &Hit, secret: &str) {
    let signature = hit.header("x-diemcau-signature");
    let (t, v1) = signature
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature {signature:?}"));
    let t: i64 = t.parse().expect("unix seconds");
    assert!((t - now_ms() / 1000).abs() < 120, "signed at {t}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", hit.body).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "HMAC of {:?}", hit.body);
    assert_eq!(signature, diemcau::webhooks::sign(secret, t, &hit.body));
    assert_ne!(signature, diemcau::webhooks::sign("khác", t, &hit.body));
    assert_eq!(hit.header("content-type"), "application/json");
}

#[tokio::test]
async fn organizers_register_webhooks_with_a_valid_address_and_known_events() {
    let t = two_communes().await;
    let hook = json!({"url": "https://hethong.example.vn/diemcau"});
    t.a.post("/api/webhooks", hook.clone())
        .await
        .error(403, "auth.forbidden");
    t.a.get("/api/webhooks").await.error(403, "auth.forbidden");
    for url in [
        "ftp://hethong.example.vn/x",
        "hethong.example.vn",
        "https://có dấu cách",
    ] {
        t.org
            .post("/api/webhooks", json!({ "url": url }))
            .await
            .error(400, "webhook.url_invalid");
    }
    for events in [
        json!(["checkin.deleted"]),
        json!([]),
        json!(["checkin.created", "*"]),
    ] {
        t.org
            .post(
                "/api/webhooks",
                json!({"url": "https://hethong.example.vn/diemcau", "events": events}),
            )
            .await
            .error(400, "webhook.events_invalid");
    }
    assert_eq!(t.org.get("/api/webhooks").await.expect(200), json!([]));

    let created = t.org.post("/api/webhooks", hook).await.expect(201);
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.len() >= 32, "{created}");
    assert_eq!(
        created["webhook"]["events"],
        json!([
            "checkin.created",
            "checkin.annulled",
            "session.status_changed"
        ])
    );
    let only = t
        .org
        .post(
            "/api/webhooks",
            json!({"url": "http://127.0.0.1:9/x", "events": ["session.status_changed"]}),
        )
        .await
        .expect(201);
    let listed = t.org.get("/api/webhooks").await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains(secret),
        "the secret is shown once"
    );
    assert_eq!(listed[1]["events"], json!(["session.status_changed"]));
    let id = only["webhook"]["id"].as_i64().unwrap();
    t.a.delete(&format!("/api/webhooks/{id}"))
        .await
        .error(403, "auth.forbidden");
    assert_eq!(
        t.org.delete(&format!("/api/webhooks/{id}")).await.status,
        204
    );
    t.org
        .delete(&format!("/api/webhooks/{id}"))
        .await
        .error(404, "webhook.not_found");
    assert_eq!(
        t.org
            .get("/api/webhooks")
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn checkins_undos_and_status_changes_are_delivered_signed_and_retried() {
    let t = two_communes().await;
    let (app, org) = (&t.app, &t.org);
    let session = org.open_session(AGENCY, PROVINCE).await;
    let (point, secret) = org
        .new_point(session, COMMUNE_A, "Hội trường xã Bằng Thành")
        .await;
    let hall = app.operator(&secret);

    let (url, hits) = receiver().await;
    let created = org
        .post("/api/webhooks", json!({ "url": url }))
        .await
        .expect(201);
    let hook = created["webhook"]["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert_eq!(created["webhook"]["url"], url.as_str());

    // A check-in: the receiver fails the first attempt.
    let done = hall
        .post(
            "/api/operator/checkins",
            json!({"items": [{"id": "w-1", "method": "roster", "member_code": "0012001"}]}),
        )
        .await
        .expect(200);
    assert_eq!(done["results"][0]["answer"]["result"], "checked_in");
    let first = wait_for(&hits, "the check-in's first attempt", |h| !h.is_empty()).await;
    let first = &first[0];
    assert_eq!(first.header("x-diemcau-event"), "checkin.created");
    assert_signed(first, &secret);
    let payload = first.json();
    let checkin = payload["data"]["checkin_id"].as_i64().expect("checkin_id");
    assert_eq!(payload["id"], format!("checkin-{checkin}"));
    assert_eq!(
        first.header("x-diemcau-delivery"),
        format!("checkin-{checkin}")
    );
    assert_eq!(payload["type"], "checkin.created");
    let data = &payload["data"];
    assert_eq!(data["session_id"], session);
    assert_eq!(data["member_code"], "0012001");
    assert_eq!(data["full_name"], "Nguyễn Văn A");
    assert_eq!(data["unit_code"], COMMUNE_A);
    assert_eq!(data["method"], "roster");
    assert_eq!(data["point_id"], point);
    assert_eq!(data["point_name"], "Hội trường xã Bằng Thành");
    assert_eq!(data["annulled_at"], Value::Null);

    // Meanwhile: an undo, and the session goes live. Delivered at once.
    hall.post(
        "/api/operator/undo",
        json!({"id": "w-2", "member_code": "0012001", "reason": "Nhầm người"}),
    )
    .await
    .expect(200);
    org.set_status(session, "live").await.expect(200);

    let all = wait_for(&hits, "the retry, the undo and the status change", |h| {
        of_type(h, "checkin.created").len() == 2
            && of_type(h, "checkin.annulled").len() == 1
            && of_type(h, "session.status_changed").len() == 1
    })
    .await;
    assert_eq!(all.len(), 4, "nothing else was sent");

    // The retry: the same delivery id and body, after the 10 s backoff.
    let created_hits = of_type(&all, "checkin.created");
    let retry = created_hits[1];
    assert_signed(retry, &secret);
    assert_eq!(
        retry.header("x-diemcau-delivery"),
        first.header("x-diemcau-delivery")
    );
    assert_eq!(retry.body, first.body);
    let waited = retry.at - first.at;
    assert!(waited >= Duration::from_secs(9), "retried after {waited:?}");

    let annulled = of_type(&all, "checkin.annulled")[0];
    assert_signed(annulled, &secret);
    let payload = annulled.json();
    assert_eq!(payload["id"], format!("checkin-{checkin}-annulled"));
    assert_eq!(
        annulled.header("x-diemcau-delivery"),
        format!("checkin-{checkin}-annulled")
    );
    assert_eq!(payload["data"]["checkin_id"], checkin);
    assert!(payload["data"]["annulled_at"].is_string(), "{payload}");

    let status = of_type(&all, "session.status_changed")[0];
    assert_signed(status, &secret);
    let payload = status.json();
    assert_eq!(payload["id"], format!("session-{session}-live"));
    assert_eq!(
        payload["data"],
        json!({"session_id": session, "status": "live"})
    );

    // The delivery log: two attempts for the check-in, then delivered.
    let path = format!("/api/webhooks/{hook}/deliveries");
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = org.get(&path).await.expect(200);
        if log
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["delivered_at"].is_string())
        {
            break log;
        }
        assert!(Instant::now() < deadline, "not all delivered: {log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let entry = |id: String| {
        log.as_array()
            .unwrap()
            .iter()
            .find(|d| d["event_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} in {log}"))
            .clone()
    };
    let d = entry(format!("checkin-{checkin}"));
    assert_eq!(d["event_type"], "checkin.created");
    assert_eq!(d["attempts"], 2, "{d}");
    assert_eq!(d["next_attempt_at"], Value::Null);
    assert_eq!(d["last_error"], Value::Null, "{d}");
    assert_eq!(entry(format!("checkin-{checkin}-annulled"))["attempts"], 1);
    assert_eq!(entry(format!("session-{session}-live"))["attempts"], 1);
    assert_eq!(log.as_array().unwrap().len(), 3);
    t.a.get(&path).await.error(403, "auth.forbidden");

    // Removed: nothing more is sent.
    assert_eq!(
        org.delete(&format!("/api/webhooks/{hook}")).await.status,
        204
    );
    org.set_status(session, "ended").await.expect(200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hits.lock().unwrap().len(), 4);
}
