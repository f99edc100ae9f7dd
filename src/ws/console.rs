//! One task per console connection: `select!` over inbound frames, the QR
//! rotation timer, an idle timeout and server shutdown. Authentication (a
//! ticket) and the protocol version are checked before the upgrade.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::time::{Instant, sleep_until};

use super::protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
use super::ticket;
use crate::app::AppState;
use crate::domain::{time, tokens};
use crate::error::AppError;
use crate::http::ApiQuery;
use crate::http::operator::{self, link_invalid};
use crate::store::points::PointRecord;

/// Largest frame a console may send: a check-in is a few hundred bytes.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// Read buffer of each console socket: a console's messages are a few
/// hundred bytes (a longer one grows it); 40,000 consoles hold one each.
const SOCKET_BUFFER_BYTES: usize = 1024;
/// A console that stops reading is dropped once this much waits unsent.
const MAX_UNSENT_BYTES: usize = 256 * 1024;
/// A console that says nothing for this long is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Close code telling the console its link was revoked: do not reconnect.
const CLOSE_LINK_REVOKED: u16 = 4401;

#[derive(Deserialize)]
pub struct ConsoleQuery {
    ticket: String,
    v: Option<u32>,
}

pub async fn console_ws(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConsoleQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if q.v.unwrap_or(PROTOCOL_VERSION) != PROTOCOL_VERSION {
        return AppError::new(
            StatusCode::BAD_REQUEST,
            "protocol.version",
            format!("Phiên bản giao thức không được hỗ trợ; máy chủ dùng phiên bản {PROTOCOL_VERSION}. Hãy tải lại trang."),
        )
        .into_response();
    }
    let (point, link_hash) = match authenticate(&state, &q.ticket).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    // Tens of thousands of consoles stay connected: small buffers (the
    // defaults are 128 KiB each way) keep each one to a few KiB.
    upgrade
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_UNSENT_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| run(state, point, link_hash, socket))
}

/// The point of a ticket, with the hash of the operator link it was made
/// from (the console closes when the link changes).
async fn authenticate(state: &AppState, raw: &str) -> Result<(PointRecord, String), AppError> {
    let point_id = ticket::point_of(raw).ok_or_else(link_invalid)?;
    let hash = state
        .db()
        .operator_token_hash(point_id)
        .await?
        .ok_or_else(link_invalid)?;
    if !ticket::verify(&state.keys().qr, raw, &hash, time::now_ms()) {
        return Err(link_invalid());
    }
    let point = state
        .db()
        .point_by_id(point_id)
        .await?
        .ok_or_else(link_invalid)?;
    Ok((point, hash))
}

async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> bool {
    let text = serde_json::to_string(msg).expect("server messages serialize");
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// Consoles take their new code at a moment of their own within this long
/// after a period starts (the code they show is accepted for the whole next
/// period). Taken all at once, 40,000 consoles' codes were a second of both
/// cores every 20 s, delaying every acknowledgement and dashboard meanwhile.
const ROTATION_SPREAD_MS: i64 = 5_000;

/// When this point's console next takes a new code (ms since the epoch):
/// after the next period starts, by the point's own share of the spread.
fn rotation_at(point_id: i64, now_ms: i64) -> i64 {
    let offset = 50 + point_id.wrapping_mul(7_919).rem_euclid(ROTATION_SPREAD_MS);
    (tokens::qr_period(now_ms) + 1) * tokens::QR_PERIOD_MS + offset
}

fn next_rotation(point_id: i64) -> Instant {
    let now = time::now_ms();
    let wait = (rotation_at(point_id, now) - now).max(0) as u64;
    Instant::now() + Duration::from_millis(wait)
}

async fn welcome(state: &AppState, point: &PointRecord) -> Result<ServerMessage, AppError> {
    Ok(ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        view: Box::new(operator::operator_view(state, point).await?),
        qr: operator::qr_view(state, point.id)?,
    })
}

async fn run(state: AppState, point: PointRecord, hash_at_start: String, mut socket: WebSocket) {
    let _guard = state.track_socket();
    let presence = state.presence();
    presence.connected(point.id);
    state.connection_notes().note(point.id).await;
    tracing::info!(point = point.id, "console connected");
    let mut shutdown = state.shutdown_signal();
    // The latest head count, shown with each acknowledgement; refreshed by
    // this console's own reports (and on reconnect or refresh).
    let mut head_count = None;
    // The handlers' futures are boxed: awaited inline they would make every
    // idle console's task as big as the largest of them (a check-in's).
    let mut ok = match Box::pin(welcome(&state, &point)).await {
        Ok(msg) => {
            if let ServerMessage::Welcome { view, .. } = &msg {
                head_count = view.stats.head_count;
            }
            send(&mut socket, &msg).await
        }
        Err(_) => false,
    };
    let mut rotation = next_rotation(point.id);
    let mut link = state.links().watch(point.id, hash_at_start);
    let mut idle_deadline = Instant::now() + IDLE_TIMEOUT;
    while ok {
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    idle_deadline = Instant::now() + IDLE_TIMEOUT;
                    presence.heartbeat(point.id);
                    let reply = Box::pin(handle(&state, &point, &mut head_count, &text)).await;
                    ok = send(&mut socket, &reply).await;
                }
                Some(Ok(Message::Binary(_))) => {
                    ok = send(&mut socket, &ServerMessage::Error { id: None, code: "protocol.binary".into(), message: "Chỉ nhận tin nhắn văn bản JSON.".into() }).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                    idle_deadline = Instant::now() + IDLE_TIMEOUT;
                    presence.heartbeat(point.id);
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            },
            // A rotated or revoked link closes the console (see ws::links).
            _ = link.revoked() => {
                let _ = send(&mut socket, &ServerMessage::Error { id: None, code: "operator.link_invalid".into(), message: link_invalid().message }).await;
                let _ = socket.send(Message::Close(Some(CloseFrame { code: CLOSE_LINK_REVOKED, reason: "link revoked".into() }))).await;
                break;
            }
            _ = sleep_until(rotation) => {
                rotation = next_rotation(point.id);
                ok = match operator::qr_view(&state, point.id) {
                    Ok(qr) => send(&mut socket, &ServerMessage::Qr(qr)).await,
                    Err(_) => true,
                };
            }
            _ = sleep_until(idle_deadline) => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1000, reason: "idle".into() }))).await;
                break;
            }
            _ = shutdown.changed() => {
                // 1001 "going away": the console reconnects to another instance or after restart.
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server restarting".into() }))).await;
                break;
            }
        }
    }
    presence.disconnected(point.id);
    state.connection_notes().note(point.id).await;
    tracing::info!(point = point.id, "console disconnected");
}

fn error_message(id: Option<String>, err: AppError) -> ServerMessage {
    ServerMessage::Error {
        id,
        code: err.code.to_string(),
        message: err.message,
    }
}

async fn handle(
    state: &AppState,
    point: &PointRecord,
    head_count: &mut Option<i64>,
    text: &str,
) -> ServerMessage {
    let msg: ClientMessage = match super::protocol::parse_client_message(text) {
        Ok(m) => m,
        Err(e) => {
            // Name the operation if the frame had an id, so the console can match it.
            let id = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
            return ServerMessage::Error {
                id,
                code: "protocol.invalid_message".into(),
                message: format!("Tin nhắn không hợp lệ: {e}"),
            };
        }
    };
    match msg {
        ClientMessage::Heartbeat { .. } => ServerMessage::Heartbeat {
            server_time: time::to_local(time::now_ms()),
        },
        ClientMessage::Refresh => match Box::pin(welcome(state, point)).await {
            Ok(w) => w,
            Err(e) => error_message(None, e),
        },
        ClientMessage::Checkin(item) => {
            let session = match state.hot().session(state.db(), point.session_id).await {
                Ok(Some(s)) => s,
                _ => {
                    return error_message(
                        Some(item.id),
                        AppError::internal(anyhow::anyhow!("session vanished")),
                    );
                }
            };
            match operator::operator_checkin(state, point, &session, &item).await {
                Ok((answer, Some(checked_in))) => ServerMessage::Ack {
                    id: item.id,
                    answer,
                    stats: operator::PointStats {
                        checked_in,
                        head_count: *head_count,
                    },
                },
                Ok((answer, None)) => match operator::point_stats(state, point.id).await {
                    Ok(stats) => ServerMessage::Ack {
                        id: item.id,
                        answer,
                        stats,
                    },
                    Err(e) => error_message(Some(item.id), e),
                },
                // Not durable: no ack, the console keeps it queued and retries.
                Err(e) => error_message(Some(item.id), e),
            }
        }
        ClientMessage::HeadCount(report) => match operator::head_count(state, point, &report).await
        {
            Ok(stats) => {
                *head_count = stats.head_count;
                ServerMessage::Done {
                    id: report.id,
                    op: "head_count",
                    stats,
                }
            }
            Err(e) => error_message(report.id, e),
        },
        ClientMessage::Absent(report) => match operator::absence(state, point, &report).await {
            Ok(()) => match operator::point_stats(state, point.id).await {
                Ok(stats) => ServerMessage::Done {
                    id: report.id,
                    op: "absent",
                    stats,
                },
                Err(e) => error_message(report.id, e),
            },
            Err(e) => error_message(report.id, e),
        },
        ClientMessage::Undo(req) => match operator::undo(state, point, &req).await {
            Ok(stats) => ServerMessage::Done {
                id: req.id,
                op: "undo",
                stats,
            },
            Err(e) => error_message(req.id, e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consoles_take_new_codes_spread_over_the_start_of_the_next_period() {
        let now = 1_795_000_012_345;
        let next_start = (tokens::qr_period(now) + 1) * tokens::QR_PERIOD_MS;
        let mut per_second = [0; 5];
        for point_id in 1..=1_000 {
            let at = rotation_at(point_id, now);
            assert!(
                (next_start + 50..next_start + 50 + ROTATION_SPREAD_MS).contains(&at),
                "point {point_id} at {at}"
            );
            // The same moment in every period, whenever it is asked.
            assert_eq!(rotation_at(point_id, at), at + tokens::QR_PERIOD_MS);
            per_second[((at - next_start - 50) / 1_000) as usize] += 1;
        }
        assert!(
            per_second.iter().all(|n| (150..=250).contains(n)),
            "{per_second:?}"
        );
    }
}
