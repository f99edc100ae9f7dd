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
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::mpsc;

use crate::app::AppState;
use crate::domain::tally::TallyEvent;
use crate::domain::time;
use crate::live::hub::EVERY_SESSION;

const CHANNEL: &str = "diemcau_events";
const BEAT: Duration = Duration::from_secs(3);
/// An instance silent for this long is dead: its consoles no longer count.
pub const INSTANCE_TIMEOUT_MS: i64 = 12_000;
/// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD: usize = 7_000;

#[derive(Serialize, Deserialize)]
struct Envelope {
    from: String,
    events: Vec<(i64, TallyEvent)>,
}

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

async fn send_events(pool: PgPool, me: String, mut rx: mpsc::UnboundedReceiver<(i64, TallyEvent)>) {
    while let Some(first) = rx.recv().await {
        // Gather what arrives within 20 ms into as few notifications as fit.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut events = vec![first];
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        let mut batch: Vec<(i64, TallyEvent)> = Vec::new();
        let mut size = 0;
        for e in events {
            let len = serde_json::to_string(&e).map(|s| s.len()).unwrap_or(0) + 1;
            if size + len > MAX_PAYLOAD && !batch.is_empty() {
                notify(&pool, &me, std::mem::take(&mut batch)).await;
                size = 0;
            }
            size += len;
            batch.push(e);
        }
        if !batch.is_empty() {
            notify(&pool, &me, batch).await;
        }
    }
}

async fn notify(pool: &PgPool, me: &str, events: Vec<(i64, TallyEvent)>) {
    let payload = serde_json::to_string(&Envelope {
        from: me.to_string(),
        events,
    })
    .expect("events serialize");
    if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(&payload)
        .execute(pool)
        .await
    {
        // Other instances will rebuild when they see the gap; this one is right.
        tracing::warn!(error = %e, "cannot notify other instances");
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
        // Anything missed while not listening: rebuild every tally.
        state.hub().publish_local(EVERY_SESSION, TallyEvent::Reload);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<Envelope>(n.payload()) {
                    Ok(env) if env.from != me => {
                        for (session, event) in env.events {
                            state.hub().publish_local(session, event);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable notification from another instance")
                    }
                },
                // The connection dropped: notifications may have been lost.
                Ok(None) => {
                    state.hub().publish_local(EVERY_SESSION, TallyEvent::Reload);
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
