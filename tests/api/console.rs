//! The point console over WebSocket, as the console page speaks it: a ticket,
//! the upgrade, `welcome`, check-ins acknowledged once durable, the same id
//! answered the same way after a reconnect, and the closing codes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use diemcau::domain::time::{now_ms, to_local};
use diemcau::domain::tokens;

use crate::helpers::*;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A point of a session open now, with its operator.
struct Console {
    session: i64,
    point: i64,
    name: String,
    op: Api,
}

async fn open_point(app: &TestApp, org: &Api, unit: &str, name: &str) -> Console {
    let session = org.open_session(AGENCY, PROVINCE).await;
    let (point, secret) = org.new_point(session, unit, name).await;
    Console {
        session,
        point,
        name: name.to_string(),
        op: app.operator(&secret),
    }
}

async fn ticket(op: &Api) -> String {
    let t = op.post_empty("/api/operator/ws-ticket").await.expect(200);
    t["ticket"].as_str().expect("ticket").to_string()
}

/// Opens the console with a fresh ticket; returns it after its `welcome`.
async fn connect(app: &TestApp, op: &Api) -> (Ws, Value) {
    let url = app.console_url(&ticket(op).await, 1);
    let (mut ws, response) = connect_async(url).await.expect("console connects");
    assert_eq!(response.status(), 101);
    let welcome = next(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (ws, welcome)
}

/// The status and error code of a refused upgrade: the WebSocket client
/// sees the status, a plain HTTP request with the upgrade headers the body.
async fn refused_upgrade(app: &TestApp, ticket: &str, version: u32) -> (u16, Value) {
    let status = match connect_async(app.console_url(ticket, version)).await {
        Ok(_) => panic!("the upgrade with {ticket:?} v={version} should have been refused"),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected handshake error: {e}"),
    };
    let anonymous = app.anonymous();
    let request = anonymous
        .request(reqwest::Method::GET, "/api/operator/ws")
        .query(&[("ticket", ticket), ("v", &version.to_string())])
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    let reply = anonymous.send(request).await;
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    (status, reply.json["error"]["code"].clone())
}

/// The next message, skipping the QR code sent every 20 s.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let frame = timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the connection is open")
            .expect("a frame");
        match frame {
            Message::Text(text) => {
                let v: Value = serde_json::from_str(text.as_str()).expect("JSON message");
                if v["type"] != "qr" {
                    return v;
                }
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("sent");
}

/// Sends a message and returns the answer.
async fn ask(ws: &mut Ws, message: Value) -> Value {
    send(ws, message).await;
    next(ws).await
}

/// Reads until the server closes; returns the messages seen and the close code.
async fn until_closed(ws: &mut Ws, within: Duration) -> (Vec<Value>, Option<u16>) {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("not closed within {within:?}; saw {seen:?}"));
        match frame {
            Some(Ok(Message::Text(text))) => {
                seen.push(serde_json::from_str(text.as_str()).expect("JSON message"));
            }
            Some(Ok(Message::Close(frame))) => {
                return (seen, frame.map(|f| u16::from(f.code)));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("connection failed instead of closing: {e}"),
            None => return (seen, None),
        }
    }
}

fn checkin(id: &str, code: &str) -> Value {
    json!({"type": "checkin", "id": id, "method": "roster", "member_code": code,
           "taken_at": to_local(now_ms()).to_rfc3339(), "replayed": false})
}

fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .timestamp_millis()
}

#[tokio::test]
async fn console_welcomes_then_acknowledges_each_checkin_once() {
    let (app, org) = seeded().await;
    let c = open_point(&app, &org, COMMUNE_A, "Hội trường xã Bằng Thành").await;
    let (mut ws, welcome) = connect(&app, &c.op).await;

    assert_eq!(welcome["protocol"], 1);
    assert_eq!(welcome["point"]["id"], c.point);
    assert_eq!(welcome["point"]["name"], c.name);
    assert_eq!(welcome["session"]["id"], c.session);
    assert_eq!(welcome["session"]["status"], "open");
    assert_eq!(
        welcome["stats"],
        json!({"checked_in": 0, "head_count": null})
    );
    assert_eq!(
        welcome["card_public_key"],
        app.card_signer().await.public_key()
    );
    assert_eq!(welcome["undo_window_seconds"], 600);
    assert!((ms(&welcome["server_time"]) - now_ms()).abs() < 60_000);
    let qr = &welcome["qr"];
    let token = qr["token"].as_str().unwrap();
    assert_eq!(
        tokens::verify_qr(&app.qr_key().await, token, now_ms()),
        Ok(c.point)
    );
    assert_eq!(qr["link"], format!("{}/c/{token}", app.base_url));
    assert!(qr["svg"].as_str().unwrap().contains("<svg"));

    let beat = ask(&mut ws, json!({"type": "heartbeat", "id": "hb-1"})).await;
    assert_eq!(beat["type"], "heartbeat");
    assert!((ms(&beat["server_time"]) - now_ms()).abs() < 60_000);

    let ack = ask(&mut ws, checkin("dev-1", "0012001")).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["id"], "dev-1");
    assert_eq!(ack["answer"]["result"], "checked_in");
    assert_eq!(ack["answer"]["member"]["full_name"], "Nguyễn Văn A");
    assert_eq!(ack["answer"]["point"], c.name);
    assert_eq!(ack["stats"]["checked_in"], 1);
    // Durable by the time the ack arrived: HTTP sees it.
    assert_eq!(
        c.op.operator_point().await.expect(200)["stats"]["checked_in"],
        1
    );

    // The same id again (the console did not see the ack): the same ack.
    let again = ask(&mut ws, checkin("dev-1", "0012001")).await;
    assert_eq!(again, ack);

    // A card, and a refusal that is still an ack (the item leaves the queue).
    let card = app.card_signer().await.card("0012002");
    let ack = ask(
        &mut ws,
        json!({"type": "checkin", "id": "dev-2", "method": "card", "card": card,
               "taken_at": to_local(now_ms()).to_rfc3339(), "replayed": false}),
    )
    .await;
    assert_eq!(ack["answer"]["result"], "checked_in");
    assert_eq!(ack["answer"]["method"], "card");
    assert_eq!(ack["stats"]["checked_in"], 2);
    let refused = ask(&mut ws, checkin("dev-3", "0099999")).await;
    assert_eq!(refused["type"], "ack");
    assert_eq!(refused["answer"]["result"], "refused");
    assert_eq!(refused["answer"]["code"], "member.unknown");
    assert_eq!(refused["stats"]["checked_in"], 2);

    // Malformed frames get an error and the console carries on.
    // Valid JSON, but not a message.
    let error = ask(&mut ws, json!("{not json")).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "protocol.invalid_message");
    ws.send(Message::text("{not json")).await.unwrap();
    let error = next(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "protocol.invalid_message");
    assert_eq!(error["id"], Value::Null);
    assert!(error["message"].as_str().unwrap().contains("không hợp lệ"));
    let error = ask(&mut ws, json!({"type": "checkin", "id": "dev-4"})).await;
    assert_eq!(error["code"], "protocol.invalid_message");
    assert_eq!(error["id"], "dev-4");
    let error = ask(&mut ws, json!({"type": "dance", "id": "dev-5"})).await;
    assert_eq!(error["code"], "protocol.invalid_message");
    assert_eq!(error["id"], "dev-5");
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(next(&mut ws).await["code"], "protocol.binary");

    let beat = ask(&mut ws, json!({"type": "heartbeat"})).await;
    assert_eq!(beat["type"], "heartbeat");
    let ack = ask(&mut ws, checkin("dev-6", "0012003")).await;
    assert_eq!(ack["answer"]["result"], "checked_in");
    assert_eq!(ack["stats"]["checked_in"], 3);

    let refreshed = ask(&mut ws, json!({"type": "refresh"})).await;
    assert_eq!(refreshed["type"], "welcome");
    assert_eq!(refreshed["stats"]["checked_in"], 3);
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn console_reports_head_counts_absences_and_undos() {
    let (app, org) = seeded().await;
    let c = open_point(&app, &org, COMMUNE_A, "Hội trường xã").await;
    let (mut ws, _) = connect(&app, &c.op).await;

    let done = ask(
        &mut ws,
        json!({"type": "head_count", "id": "hc-1", "count": 14, "taken_at": to_local(now_ms()).to_rfc3339()}),
    )
    .await;
    assert_eq!(
        done,
        json!({"type": "done", "id": "hc-1", "op": "head_count", "stats": {"checked_in": 0, "head_count": 14}})
    );

    let done = ask(
        &mut ws,
        json!({"type": "absent", "id": "ab-1", "member_code": "0012004", "reason": "Ốm",
               "taken_at": to_local(now_ms()).to_rfc3339()}),
    )
    .await;
    assert_eq!(done["type"], "done", "{done}");
    assert_eq!(done["op"], "absent");
    let roster = c.op.get("/api/operator/roster").await.expect(200);
    let line = roster
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == "0012004")
        .unwrap();
    assert_eq!(line["absent_reason"], "Ốm");

    let ack = ask(&mut ws, checkin("ci-1", "0012005")).await;
    assert_eq!(ack["stats"]["checked_in"], 1);
    let error = ask(
        &mut ws,
        json!({"type": "absent", "id": "ab-2", "member_code": "0012005", "reason": "Ốm"}),
    )
    .await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["id"], "ab-2");
    assert_eq!(error["code"], "absence.checked_in");

    let done = ask(
        &mut ws,
        json!({"type": "undo", "id": "un-1", "member_code": "0012005", "reason": "Nhầm"}),
    )
    .await;
    assert_eq!(done["type"], "done", "{done}");
    assert_eq!(done["op"], "undo");
    assert_eq!(done["stats"]["checked_in"], 0);
    let error = ask(
        &mut ws,
        json!({"type": "undo", "id": "un-2", "member_code": "0012005"}),
    )
    .await;
    assert_eq!(error["code"], "checkin.not_found");
    assert_eq!(error["id"], "un-2");
    // Checked in again after the undo, under a new id.
    let ack = ask(&mut ws, checkin("ci-2", "0012005")).await;
    assert_eq!(ack["answer"]["result"], "checked_in");
    assert_eq!(ack["stats"]["checked_in"], 1);
}

#[tokio::test]
async fn replaying_an_undo_and_a_new_checkin_keeps_the_member_checked_in() {
    let (app, org) = seeded().await;
    let c = open_point(&app, &org, COMMUNE_A, "Hội trường xã").await;
    let (mut ws, _) = connect(&app, &c.op).await;
    let ack = ask(&mut ws, checkin("ci-1", "0012002")).await;
    assert_eq!(ack["stats"]["checked_in"], 1);

    // The operator annuls a mistaken tick, then the member really arrives:
    // both go out together, and the link drops before the answers are seen.
    let undo =
        json!({"type": "undo", "id": "un-1", "member_code": "0012002", "reason": "Bấm nhầm"});
    let again = checkin("ci-2", "0012002");
    send(&mut ws, undo.clone()).await;
    send(&mut ws, again.clone()).await;
    let done = next(&mut ws).await;
    assert_eq!(done["type"], "done", "{done}");
    let first_ack = next(&mut ws).await;
    assert_eq!(first_ack["answer"]["result"], "checked_in", "{first_ack}");
    assert_eq!(first_ack["stats"]["checked_in"], 1);
    drop(ws);

    // The console replays both, in order, with their ids.
    let (mut ws, _) = connect(&app, &c.op).await;
    let replayed_undo = ask(&mut ws, undo).await;
    assert_eq!(replayed_undo["type"], "done", "{replayed_undo}");
    assert_eq!(replayed_undo["id"], "un-1");
    let replayed_ack = ask(&mut ws, again).await;
    assert_eq!(replayed_ack["answer"], first_ack["answer"]);
    // The answer said checked in: so must the database.
    assert_eq!(replayed_ack["stats"]["checked_in"], 1, "{replayed_ack}");
    let roster = c.op.get("/api/operator/roster").await.expect(200);
    let line = roster
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == "0012002")
        .unwrap();
    assert_eq!(line["checked_in_point"], c.name, "{line}");
}

#[tokio::test]
async fn two_consoles_ticking_the_same_members_check_each_in_once() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let (_, hall_secret) = org.new_point(session, COMMUNE_A, "Hội trường xã").await;
    let (_, village_secret) = org.new_point(session, CELL_A, "Nhà văn hóa thôn").await;
    let (mut a, _) = connect(&app, &app.operator(&hall_secret)).await;
    let (mut b, _) = connect(&app, &app.operator(&village_secret)).await;

    // Both rooms tick the whole list at once, without waiting for answers.
    for code in MEMBERS_OF_A {
        send(&mut a, checkin(&format!("a-{code}"), code)).await;
        send(&mut b, checkin(&format!("b-{code}"), code)).await;
    }
    let mut answers = std::collections::HashMap::new();
    for _ in MEMBERS_OF_A {
        for (side, ws) in [("a", &mut a), ("b", &mut b)] {
            let ack = next(ws).await;
            assert_eq!(ack["type"], "ack", "{ack}");
            answers.insert(ack["id"].as_str().unwrap().to_string(), (side, ack));
        }
    }
    let mut wins = 0;
    for code in MEMBERS_OF_A {
        let (_, x) = &answers[&format!("a-{code}")];
        let (_, y) = &answers[&format!("b-{code}")];
        let (x, y) = (&x["answer"], &y["answer"]);
        let (winner, loser) = if x["result"] == "checked_in" {
            (x, y)
        } else {
            (y, x)
        };
        assert_eq!(winner["result"], "checked_in", "{code}: {x} / {y}");
        assert_eq!(loser["result"], "already_checked_in", "{code}: {x} / {y}");
        assert_eq!(loser["point"], winner["point"]);
        assert_eq!(loser["at"], winner["at"]);
        wins += 1;
    }
    assert_eq!(wins, MEMBERS_OF_A.len());
    let hall_count = ask(&mut a, json!({"type": "refresh"})).await["stats"]["checked_in"]
        .as_i64()
        .unwrap();
    let village_count = ask(&mut b, json!({"type": "refresh"})).await["stats"]["checked_in"]
        .as_i64()
        .unwrap();
    assert_eq!(hall_count + village_count, MEMBERS_OF_A.len() as i64);
}

#[tokio::test]
async fn console_refuses_other_versions_and_bad_tickets_before_upgrading() {
    let (app, org) = seeded().await;
    let c = open_point(&app, &org, COMMUNE_A, "Hội trường xã").await;
    let good = ticket(&c.op).await;

    let (status, code) = refused_upgrade(&app, &good, 2).await;
    assert_eq!((status, code.as_str()), (400, Some("protocol.version")));

    for bad in [
        "hello".to_string(),
        "1.99999999999999.AAAAAAAAAAAAAAAAAAAAAA".to_string(),
        format!(
            "{}{}",
            &good[..good.len() - 1],
            if good.ends_with('A') { 'B' } else { 'A' }
        ),
        good.replacen(&format!("{}.", c.point), &format!("{}.", c.point + 1), 1),
    ] {
        let (status, code) = refused_upgrade(&app, &bad, 1).await;
        assert_eq!(
            (status, code.as_str()),
            (401, Some("operator.link_invalid")),
            "{bad}"
        );
    }
    // An expired ticket: made with the server's key, but a minute old.
    let hash = app
        .db
        .operator_token_hash(c.point)
        .await
        .unwrap()
        .expect("the link is active");
    let expired = diemcau::ws::ticket::issue(&app.qr_key().await, c.point, now_ms() - 1_000, &hash);
    let (status, code) = refused_upgrade(&app, &expired, 1).await;
    assert_eq!(
        (status, code.as_str()),
        (401, Some("operator.link_invalid"))
    );
    // The same, still valid: accepted (so the refusal above was the expiry).
    let fresh = diemcau::ws::ticket::issue(&app.qr_key().await, c.point, now_ms() + 30_000, &hash);
    let (mut ws, _) = connect_async(app.console_url(&fresh, 1))
        .await
        .expect("a fresh ticket connects");
    assert_eq!(next(&mut ws).await["type"], "welcome");

    // Without an operator link there is no ticket.
    app.anonymous()
        .post_empty("/api/operator/ws-ticket")
        .await
        .error(401, "operator.link_required");
    app.operator("khong-dung")
        .post_empty("/api/operator/ws-ticket")
        .await
        .error(401, "operator.link_invalid");

    // The good ticket still works with v=1.
    let (mut ws, _) = connect_async(app.console_url(&good, 1))
        .await
        .expect("connects");
    assert_eq!(next(&mut ws).await["type"], "welcome");
}

#[tokio::test]
async fn a_ticket_made_before_the_link_was_rotated_no_longer_connects() {
    let (app, org) = seeded().await;
    let c = open_point(&app, &org, COMMUNE_A, "Hội trường xã").await;
    let old_ticket = ticket(&c.op).await;

    let rotated = org.rotate_link(c.point).await.expect(200);
    let new_op = app.operator(&secret_of(rotated["operator_link"].as_str().unwrap()));

    let (status, code) = refused_upgrade(&app, &old_ticket, 1).await;
    assert_eq!(
        (status, code.as_str()),
        (401, Some("operator.link_invalid"))
    );
    c.op.post_empty("/api/operator/ws-ticket")
        .await
        .error(401, "operator.link_invalid");

    let (mut ws, welcome) = connect(&app, &new_op).await;
    assert_eq!(welcome["point"]["id"], c.point);
    let ack = ask(&mut ws, checkin("after-rotation", "0012001")).await;
    assert_eq!(ack["answer"]["result"], "checked_in");
}

#[tokio::test]
async fn revoking_the_link_closes_the_open_console_with_4401() {
    let (app, org) = seeded().await;
    let c = open_point(&app, &org, COMMUNE_A, "Hội trường xã").await;
    let (mut ws, _) = connect(&app, &c.op).await;
    let ack = ask(&mut ws, checkin("before", "0012001")).await;
    assert_eq!(ack["answer"]["result"], "checked_in");

    assert_eq!(org.revoke_link(c.point).await.status, 204);
    c.op.post_empty("/api/operator/ws-ticket")
        .await
        .error(401, "operator.link_invalid");
    c.op.operator_point()
        .await
        .error(401, "operator.link_invalid");

    // This instance revoked it: the console hears it at once.
    let (seen, code) = until_closed(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(code, Some(4401), "messages before the close: {seen:?}");
    let last = seen.last().expect("an error before the close");
    assert_eq!(last["type"], "error");
    assert_eq!(last["code"], "operator.link_invalid");
}

#[tokio::test]
async fn a_console_that_dropped_resends_its_queue_and_each_member_counts_once() {
    let (app, org) = seeded().await;
    org.import_members(
        "member_code,full_name,category,unit_code\n\
         0016001,Lục Văn Sơn,party_member,05800\n\
         0016002,Ma Thị Lan,party_member,05800\n\
         0016003,Hứa Văn Khánh,worker,05800\n\
         0016004,Nông Thị Hạnh,cadre,05800\n",
    )
    .await
    .expect(200);
    let members: Vec<&str> = MEMBERS_OF_A
        .iter()
        .copied()
        .chain(["0016001", "0016002", "0016003", "0016004"])
        .collect();
    assert_eq!(members.len(), 9);
    let c = open_point(&app, &org, COMMUNE_A, "Hội trường xã").await;

    let (mut ws, _) = connect(&app, &c.op).await;
    let mut acked = Vec::new();
    for (i, code) in members[..3].iter().enumerate() {
        let ack = ask(&mut ws, checkin(&format!("dev-{i}"), code)).await;
        assert_eq!(ack["answer"]["result"], "checked_in", "{ack}");
        assert_eq!(ack["stats"]["checked_in"], i + 1);
        acked.push(ack);
    }
    // The fourth goes out and the link drops before its ack is read.
    let fourth = checkin("dev-3", members[3]);
    send(&mut ws, fourth.clone()).await;
    ws.close(None).await.expect("closed");
    drop(ws);

    // Back online: a new ticket, then the queue in order.
    let (mut ws, welcome) = connect(&app, &c.op).await;
    let count = welcome["stats"]["checked_in"].as_i64().unwrap();
    assert!(count == 3 || count == 4, "{welcome}");
    let ack = ask(&mut ws, fourth).await;
    assert_eq!(ack["id"], "dev-3");
    assert_eq!(ack["answer"]["result"], "checked_in", "{ack}");
    assert_eq!(ack["answer"]["member"]["code"], members[3]);
    assert_eq!(ack["stats"]["checked_in"], 4);

    let mut queued_at = Vec::new();
    for (i, code) in members[4..].iter().enumerate() {
        let taken_at = now_ms() - (10 - i as i64) * 60_000;
        queued_at.push((*code, taken_at));
        let ack = ask(
            &mut ws,
            json!({"type": "checkin", "id": format!("queued-{i}"), "method": "roster",
                   "member_code": code, "taken_at": to_local(taken_at).to_rfc3339(),
                   "replayed": true}),
        )
        .await;
        assert_eq!(ack["id"], format!("queued-{i}"));
        assert_eq!(ack["answer"]["result"], "checked_in", "{ack}");
        assert_eq!(ms(&ack["answer"]["at"]), taken_at);
        assert_eq!(ack["stats"]["checked_in"], 5 + i);
    }
    // An item acknowledged before the drop, sent again by a confused queue.
    let again = ask(&mut ws, checkin("dev-0", members[0])).await;
    assert_eq!(again["answer"], acked[0]["answer"]);
    assert_eq!(again["stats"]["checked_in"], 9);

    assert_eq!(
        c.op.operator_point().await.expect(200)["stats"]["checked_in"],
        9
    );
    let roster = c.op.get("/api/operator/roster").await.expect(200);
    let roster = roster.as_array().unwrap();
    for code in &members {
        let lines: Vec<&Value> = roster.iter().filter(|l| l["code"] == *code).collect();
        assert_eq!(lines.len(), 1, "{code}: {lines:?}");
        assert_eq!(lines[0]["checked_in_point"], c.name, "{code}");
        assert_eq!(lines[0]["checkin_method"], "roster");
    }
    for (code, taken_at) in queued_at {
        let line = roster.iter().find(|l| l["code"] == code).unwrap();
        assert_eq!(ms(&line["checked_in_at"]), taken_at, "{code}");
    }
}

#[tokio::test]
async fn shutting_down_closes_consoles_with_1001() {
    let (app, stop) = TestApp::start_stoppable().await;
    let org = app.organizer().await;
    org.import_units(TREE_CSV).await.expect(200);
    org.import_members(MEMBERS_CSV).await.expect(200);
    let c = open_point(&app, &org, COMMUNE_A, "Hội trường xã").await;
    let (mut ws, _) = connect(&app, &c.op).await;
    let ack = ask(&mut ws, checkin("dev-1", "0012001")).await;
    assert_eq!(ack["answer"]["result"], "checked_in");

    drop(stop);
    let (seen, code) = until_closed(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, Some(1001), "messages before the close: {seen:?}");
}
