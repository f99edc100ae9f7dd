//! Webhooks: other systems (a party-member records system, say) are told of
//! check-ins and session events.
//!
//! A follower of the live event stream queues a delivery per subscribed
//! webhook in the database (once per event id: receivers deduplicate on
//! it); a worker sends them signed, retries with exponential backoff, and
//! leases each delivery so that several instances never send it at once.
//!
//! Signature: `X-Diemcau-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" with the webhook's secret>`.

use std::sync::RwLock;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::{Notify, broadcast};

use crate::app::AppState;
use crate::domain::tally::TallyEvent;
use crate::domain::time;
use crate::live::hub::Published;
use crate::store::webhooks::WebhookRecord;

pub const EVENT_TYPES: [&str; 3] = [
    "checkin.created",
    "checkin.annulled",
    "session.status_changed",
];
/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 12;
const LEASE_MS: i64 = 60_000;

#[derive(Default)]
pub struct Webhooks {
    active: RwLock<Vec<WebhookRecord>>,
    wake: Notify,
}

impl Webhooks {
    pub fn set(&self, hooks: Vec<WebhookRecord>) {
        *self.active.write().unwrap_or_else(|e| e.into_inner()) =
            hooks.into_iter().filter(|h| h.active).collect();
        // The worker sleeps while there is no webhook: this may be its first.
        self.wake.notify_one();
    }

    fn wanting(&self, event_type: &str) -> Vec<WebhookRecord> {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|h| h.wants(event_type))
            .cloned()
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

pub fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// Delay before attempt `attempts + 1`: 10 s, 20 s, 40 s… up to an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    (10_000i64 << attempts.clamp(0, 20)).min(3_600_000)
}

/// Starts the follower and the delivery worker.
pub fn spawn(state: AppState) {
    let rx = state.hub().subscribe();
    tokio::spawn(follow(state.clone(), rx));
    tokio::spawn(deliver(state));
}

/// Reloads the list of webhooks (after a change).
pub async fn reload(state: &AppState) {
    if let Ok(hooks) = state.db().webhooks().await {
        state.webhooks().set(hooks);
    }
}

async fn follow(state: AppState, mut rx: broadcast::Receiver<Published>) {
    reload(&state).await;
    loop {
        let events = match rx.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "webhook follower fell behind the event stream");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if state.webhooks().is_empty() {
            continue;
        }
        for (session_id, event) in events.iter() {
            queue(&state, *session_id, event).await;
        }
    }
}

/// Queues a delivery of the event to each webhook that wants it.
async fn queue(state: &AppState, session_id: i64, event: &TallyEvent) {
    let Some((event_type, event_id, data)) = describe(state, session_id, event).await else {
        return;
    };
    let hooks = state.webhooks().wanting(event_type);
    if hooks.is_empty() {
        return;
    }
    let payload = json!({"id": event_id, "type": event_type, "created_at": time::to_local(time::now_ms()), "data": data}).to_string();
    for hook in hooks {
        if let Err(e) = state
            .db()
            .enqueue_delivery(hook.id, &event_id, event_type, &payload)
            .await
        {
            tracing::error!(error = %e, webhook = hook.id, "cannot queue a webhook delivery");
        }
    }
    state.webhooks().wake.notify_one();
}

async fn describe(
    state: &AppState,
    session_id: i64,
    event: &TallyEvent,
) -> Option<(&'static str, String, serde_json::Value)> {
    match event {
        TallyEvent::CheckedIn { checkin_id, .. } | TallyEvent::Annulled { checkin_id } => {
            let c = state.db().checkin_details(*checkin_id).await.ok()??;
            let (kind, id) = match event {
                TallyEvent::CheckedIn { .. } => ("checkin.created", format!("checkin-{}", c.id)),
                _ => ("checkin.annulled", format!("checkin-{}-annulled", c.id)),
            };
            Some((
                kind,
                id,
                json!({
                    "checkin_id": c.id, "session_id": c.session_id, "member_code": c.member_code, "full_name": c.full_name,
                    "category": c.category, "unit_code": c.unit_code, "method": c.method, "point_id": c.point_id,
                    "point_name": c.point_name, "taken_at": time::to_local(c.taken_at), "received_at": time::to_local(c.received_at),
                    "replayed": c.replayed, "annulled_at": c.annulled_at.map(time::to_local),
                }),
            ))
        }
        TallyEvent::StatusChanged { status } => Some((
            "session.status_changed",
            format!("session-{session_id}-{}", status.code()),
            json!({"session_id": session_id, "status": status.code()}),
        )),
        _ => None,
    }
}

async fn deliver(state: AppState) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("diemcau/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client unavailable");
            return;
        }
    };
    let mut shutdown = state.shutdown_signal();
    loop {
        if state.webhooks().is_empty() {
            // Nothing to deliver to: no polling until a webhook is added.
            tokio::select! {
                _ = state.webhooks().wake.notified() => continue,
                _ = shutdown.changed() => return,
            }
        }
        let now = time::now_ms();
        let due = state
            .db()
            .claim_due_deliveries(now, now + LEASE_MS, 20)
            .await
            .unwrap_or_default();
        let hooks = if due.is_empty() {
            Vec::new()
        } else {
            state.db().webhooks().await.unwrap_or_default()
        };
        for d in &due {
            let Some(hook) = hooks.iter().find(|h| h.id == d.webhook_id) else {
                continue;
            };
            let t = time::now_ms() / 1000;
            let result = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("x-diemcau-event", &d.event_type)
                .header("x-diemcau-delivery", &d.event_id)
                .header("x-diemcau-signature", sign(&hook.secret, t, &d.payload))
                .body(d.payload.clone())
                .send()
                .await;
            let done = time::now_ms();
            let outcome = match result {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                Err(e) => Err(e.to_string()),
            };
            let update = match outcome {
                Ok(()) => {
                    state
                        .db()
                        .finish_delivery(d.id, Some(done), d.next_attempt_at, None)
                        .await
                }
                Err(error) if d.attempts + 1 >= MAX_ATTEMPTS => {
                    tracing::warn!(webhook = hook.id, event = %d.event_id, %error, "webhook delivery given up");
                    state
                        .db()
                        .finish_delivery(
                            d.id,
                            None,
                            i64::MAX,
                            Some(&format!("Đã dừng sau {MAX_ATTEMPTS} lần thử: {error}")),
                        )
                        .await
                }
                Err(error) => {
                    state
                        .db()
                        .finish_delivery(d.id, None, done + backoff_ms(d.attempts), Some(&error))
                        .await
                }
            };
            if let Err(e) = update {
                tracing::error!(error = %e, "cannot record a webhook delivery");
            }
        }
        if due.len() == 20 {
            continue; // more waiting
        }
        tokio::select! {
            _ = state.webhooks().wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_backoff() {
        let s = sign("bí mật", 1_700_000_000, "{}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(s, sign("khác", 1_700_000_000, "{}"));
        assert_eq!(backoff_ms(0), 10_000);
        assert_eq!(backoff_ms(3), 80_000);
        assert_eq!(backoff_ms(30), 3_600_000);
    }
}
