//! Several instances behind a load balancer, sharing one PostgreSQL database
//! — no cluster protocol of our own:
//!
//! - **Events**: each change published on one instance is sent to the others
//!   with PostgreSQL `NOTIFY` (batched every 20 ms) and republished locally
//!   there. Tallies ignore what they have already counted, and after any gap
//!   in listening every tally is rebuilt from the database.
//! - **Presence**: each instance beats every few seconds and writes which
//!   point consoles are connected to it; the others read that, ignoring
//!   instances that stopped beating — so when an instance dies its points
//!   show as disconnected, not online forever.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener, PgPool};
use tokio::sync::mpsc;

use crate::app::AppState;
use crate::domain::tally::TallyEvent;
use crate::domain::time;
use crate::live::hub::{EVERY_SESSION, Published};

const CHANNEL: &str = "diemcau_events";
const BEAT: Duration = Duration::from_secs(3);
/// An instance silent for this long is dead: its consoles no longer count.
pub const INSTANCE_TIMEOUT_MS: i64 = 12_000;
/// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD: usize = 7_000;

#[derive(Serialize, Deserialize)]
struct Envelope {
    from: String,
    /// Numbers this instance's notifications 1, 2, 3…: a listener that sees
    /// one skipped rebuilds its tallies rather than stay short.
    seq: u64,
    events: Vec<(i64, TallyEvent)>,
}

/// Events waiting to be sent beyond this are dropped for one reload order
/// (a database out for minutes must not grow the outbox without bound).
const MAX_PENDING: usize = 1_000_000;

/// Starts the bridge when the database is PostgreSQL; nothing on SQLite.
pub fn spawn(state: AppState) {
    let crate::store::Db::Postgres(pool) = state.db().clone() else {
        return;
    };
    let me = crate::security::new_secret()[..12].to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    state.hub().set_outbox(tx);
    tokio::spawn(send_events(pool.clone(), me.clone(), rx));
    tokio::spawn(receive_events(state.clone(), pool.clone(), me.clone()));
    tokio::spawn(beat(state, pool, me));
}

/// Sends this instance's events to the others, in order, on a connection of
/// its own: through the shared pool, which a burst keeps busy, each NOTIFY
/// waited seconds for a connection and dashboards on the other instances fell
/// half a minute behind. A send that fails is retried on a new connection;
/// nothing acknowledged here is left out of the others' tallies.
async fn send_events(pool: PgPool, me: String, mut rx: mpsc::UnboundedReceiver<Published>) {
    let options = pool.connect_options();
    let mut conn: Option<PgConnection> = None;
    let mut seq: u64 = 0;
    let mut pending: Vec<(i64, TallyEvent)> = Vec::new();
    let mut failures: u32 = 0;
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(first) => pending.extend(first.iter().cloned()),
                None => return,
            }
            // Gather what arrives within 20 ms into as few notifications as fit.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while let Ok(events) = rx.try_recv() {
            pending.extend(events.iter().cloned());
        }
        if pending.len() > MAX_PENDING {
            pending = vec![(EVERY_SESSION, TallyEvent::Reload)];
        }
        let payloads = payloads(&me, seq, &pending);
        let sent = match conn.as_mut() {
            Some(c) => notify(c, &payloads).await,
            None => match PgConnection::connect_with(&options).await {
                Ok(c) => notify(conn.insert(c), &payloads).await,
                Err(e) => Err(e),
            },
        };
        match sent {
            Ok(()) => {
                seq += payloads.len() as u64;
                pending.clear();
                failures = 0;
            }
            Err(e) => {
                // Keep the events and the numbers: a listener ignores a
                // notification it already has, should this one have gone out.
                failures += 1;
                tracing::warn!(error = %e, failures, "cannot notify other instances; retrying");
                conn = None;
                tokio::time::sleep(Duration::from_millis(100 * u64::from(failures.min(20)))).await;
            }
        }
    }
}

/// Cuts the events into notifications that fit, numbered from `seq + 1`.
fn payloads(me: &str, seq: u64, events: &[(i64, TallyEvent)]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, e) in events.iter().enumerate() {
        let len = serde_json::to_string(e).map(|s| s.len()).unwrap_or(0) + 1;
        if size + len > MAX_PAYLOAD && i > start {
            payloads.push(envelope(
                me,
                seq + payloads.len() as u64 + 1,
                &events[start..i],
            ));
            start = i;
            size = 0;
        }
        size += len;
    }
    if start < events.len() {
        payloads.push(envelope(
            me,
            seq + payloads.len() as u64 + 1,
            &events[start..],
        ));
    }
    payloads
}

fn envelope(me: &str, seq: u64, events: &[(i64, TallyEvent)]) -> String {
    serde_json::to_string(&Envelope {
        from: me.to_string(),
        seq,
        events: events.to_vec(),
    })
    .expect("events serialize")
}

/// Sends the payloads in order, in one statement: one transaction, so all
/// of them reach the listeners or none do.
async fn notify(conn: &mut PgConnection, payloads: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t (p, n) ORDER BY n",
    )
    .bind(CHANNEL)
    .bind(payloads)
    .execute(conn)
    .await
    .map(|_| ())
}

/// What a listener makes of a notification from another instance.
#[derive(Debug, PartialEq)]
enum Received {
    /// The next one from that instance (or the first heard from it).
    InOrder,
    /// Already applied: a send that was retried.
    Repeated,
    /// Some before it never arrived: rebuild, then apply it.
    AfterGap,
}

/// Tracks the last notification number heard from each instance.
#[derive(Default)]
struct Sequences(HashMap<String, u64>);

impl Sequences {
    fn receive(&mut self, from: &str, seq: u64) -> Received {
        match self.0.get(from).copied() {
            Some(last) if seq <= last => Received::Repeated,
            Some(last) if seq > last + 1 => {
                self.0.insert(from.to_string(), seq);
                Received::AfterGap
            }
            _ => {
                self.0.insert(from.to_string(), seq);
                Received::InOrder
            }
        }
    }
}

async fn receive_events(state: AppState, pool: PgPool, me: String) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other instances; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for other instances; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Anything missed while not listening: rebuild every tally. Numbers
        // heard before do not say what came while deaf, so start afresh.
        state
            .hub()
            .publish_local(vec![(EVERY_SESSION, TallyEvent::Reload)]);
        let mut sequences = Sequences::default();
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<Envelope>(n.payload()) {
                    Ok(env) if env.from != me => match sequences.receive(&env.from, env.seq) {
                        Received::Repeated => {}
                        received => {
                            if received == Received::AfterGap {
                                tracing::warn!(from = %env.from, seq = env.seq, "missed notifications from another instance; rebuilding tallies");
                                state
                                    .hub()
                                    .publish_local(vec![(EVERY_SESSION, TallyEvent::Reload)]);
                            }
                            state.hub().publish_local(env.events);
                        }
                    },
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable notification from another instance")
                    }
                },
                // The connection dropped: notifications may have been lost.
                Ok(None) => {
                    sequences = Sequences::default();
                    state
                        .hub()
                        .publish_local(vec![(EVERY_SESSION, TallyEvent::Reload)]);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the listening connection; reconnecting");
                    break;
                }
            }
        }
    }
}

/// A console's last heartbeat is shared again once it moved by this much
/// (heartbeats come every 15 s; written ≤ 20 s + a beat late, a point still
/// reads as online on the other instances until it is 45 s silent).
const SEEN_RESOLUTION_MS: i64 = 20_000;

async fn beat(state: AppState, pool: PgPool, me: String) {
    let started = time::now_ms();
    let mut shutdown = state.shutdown_signal();
    // What the database holds for this instance's consoles: only changes are
    // written (40,000 consoles rewritten every beat were 13,000 row writes a
    // second).
    let mut written: HashMap<i64, (i64, i64)> = HashMap::new();
    loop {
        let now = time::now_ms();
        let local: HashMap<i64, (i64, i64)> = state
            .presence()
            .local_snapshot()
            .into_iter()
            .map(|(point, connections, seen)| (point, (connections, seen)))
            .collect();
        let changed: Vec<(i64, i64, i64)> = local
            .iter()
            .filter(|(point, (connections, seen))| match written.get(point) {
                Some((c, s)) => c != connections || seen - s >= SEEN_RESOLUTION_MS,
                None => true,
            })
            .map(|(point, (connections, seen))| (*point, *connections, *seen))
            .collect();
        let gone: Vec<i64> = written
            .keys()
            .filter(|point| !local.contains_key(point))
            .copied()
            .collect();
        let result: Result<Vec<(i64, i64, i64)>, sqlx::Error> = async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO instances (id, started_at, last_beat_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET last_beat_at = excluded.last_beat_at",
            )
            .bind(&me)
            .bind(started)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for chunk in changed.chunks(1000) {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO point_presence (point_id, instance_id, connections, last_seen_at) ");
                qb.push_values(chunk, |mut b, (point, connections, seen)| {
                    b.push_bind(*point).push_bind(&me).push_bind(*connections).push_bind(*seen);
                });
                qb.push(" ON CONFLICT (point_id, instance_id) DO UPDATE SET connections = excluded.connections, last_seen_at = excluded.last_seen_at");
                qb.build().execute(&mut *tx).await?;
            }
            for chunk in gone.chunks(1000) {
                sqlx::query("DELETE FROM point_presence WHERE instance_id = $1 AND point_id = ANY($2)")
                    .bind(&me)
                    .bind(chunk)
                    .execute(&mut *tx)
                    .await?;
            }
            // Forget instances long dead.
            sqlx::query("DELETE FROM point_presence WHERE instance_id IN (SELECT id FROM instances WHERE last_beat_at < $1)")
                .bind(now - 10 * INSTANCE_TIMEOUT_MS)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM instances WHERE last_beat_at < $1").bind(now - 10 * INSTANCE_TIMEOUT_MS).execute(&mut *tx).await?;
            tx.commit().await?;
            sqlx::query_as(
                "SELECT p.point_id, CAST(sum(p.connections) AS BIGINT), max(p.last_seen_at) FROM point_presence p \
                 JOIN instances i ON i.id = p.instance_id \
                 WHERE i.id <> $1 AND i.last_beat_at >= $2 GROUP BY p.point_id",
            )
            .bind(&me)
            .bind(now - INSTANCE_TIMEOUT_MS)
            .fetch_all(&pool)
            .await
        }
        .await;
        if result.is_ok() {
            // Committed: the database now holds these.
            for (point, connections, seen) in &changed {
                written.insert(*point, (*connections, *seen));
            }
            for point in &gone {
                written.remove(point);
            }
        }
        match result {
            Ok(remote) => state.presence().set_remote(remote),
            Err(e) => tracing::warn!(error = %e, "cannot share presence with other instances"),
        }
        tokio::select! {
            _ = tokio::time::sleep(BEAT) => {}
            _ = shutdown.changed() => {
                // Leave cleanly: our consoles are gone.
                let _ = sqlx::query("DELETE FROM point_presence WHERE instance_id = $1").bind(&me).execute(&pool).await;
                let _ = sqlx::query("DELETE FROM instances WHERE id = $1").bind(&me).execute(&pool).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_notification_is_a_gap_and_a_resent_one_is_ignored() {
        let mut seen = Sequences::default();
        assert_eq!(seen.receive("a", 7), Received::InOrder);
        assert_eq!(seen.receive("a", 8), Received::InOrder);
        assert_eq!(seen.receive("a", 8), Received::Repeated);
        assert_eq!(seen.receive("a", 5), Received::Repeated);
        assert_eq!(seen.receive("b", 1), Received::InOrder);
        assert_eq!(seen.receive("a", 10), Received::AfterGap);
        assert_eq!(seen.receive("a", 11), Received::InOrder);
    }

    #[test]
    fn payloads_fit_a_notification_and_are_numbered_in_order() {
        let events: Vec<(i64, TallyEvent)> = (0..1_000)
            .map(|i| (1, TallyEvent::Annulled { checkin_id: i }))
            .collect();
        let payloads = payloads("me", 41, &events);
        assert!(payloads.len() > 1);
        let mut all = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            assert!(p.len() < 8_000, "payload of {} bytes", p.len());
            let env: Envelope = serde_json::from_str(p).unwrap();
            assert_eq!(env.seq, 42 + i as u64);
            all.extend(env.events);
        }
        assert_eq!(all, events);
    }
}
