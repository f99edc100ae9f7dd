//! Fan-out of tally events: every change to attendance is published here
//! after it is durable; each session someone watches has one task that
//! applies the events to its in-memory tally and bumps a version that
//! dashboards wait on (a `watch` channel coalesces bursts by itself).

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tokio::sync::{broadcast, watch};

use crate::domain::tally::{Tally, TallyEvent};
use crate::domain::time;
use crate::store::Db;
use crate::store::sessions::SessionRecord;

/// Minutes of check-in history kept for the per-minute chart.
pub const CHART_MINUTES: usize = 120;

pub struct SessionLive {
    pub session_id: i64,
    pub scope_path: String,
    pub tally: RwLock<Tally>,
    /// Check-ins per minute: (minute since epoch, count), oldest first.
    pub per_minute: Mutex<VecDeque<(i64, i64)>>,
    version: watch::Sender<u64>,
    /// Times the tally was rebuilt from the database (what was built from it
    /// must be rebuilt too).
    reloads: AtomicU64,
    /// What the session's dashboards share (`http::live`), made with the first.
    pub dashboards: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl SessionLive {
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::SeqCst)
    }

    fn note_checkin(&self, at_ms: i64) {
        let minute = at_ms.div_euclid(60_000);
        let mut chart = self.per_minute.lock().unwrap_or_else(|e| e.into_inner());
        match chart.back_mut() {
            Some((m, n)) if *m == minute => *n += 1,
            _ => chart.push_back((minute, 1)),
        }
        while chart.len() > CHART_MINUTES {
            chart.pop_front();
        }
    }
}

/// Changes published together: a writer's batch of check-ins, or one change.
/// One message per batch keeps the channel's cost per batch, not per
/// check-in, and its buffer small.
pub type Published = Arc<[(i64, TallyEvent)]>;

pub struct LiveHub {
    /// Where the live figures are kept and sent; see [`LiveHub::spawn`].
    runtime: tokio::runtime::Handle,
    events: broadcast::Sender<Published>,
    outbox: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Published>>,
    sessions: tokio::sync::Mutex<HashMap<i64, Arc<SessionLive>>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        LiveHub {
            runtime: live_thread(),
            // Batches, not check-ins: 16,384 of them is half a minute of
            // 64 HTTP clients' check-ins at 30,000 a second (a burst's
            // batches are larger), or five seconds of TV viewers joining
            // one by one at 3,000 a second. A follower that falls further
            // behind reloads its tally from the database, which takes
            // seconds at two million check-ins. One slot per check-in
            // (262,144) took 19 MB up front; this is under 1 MB.
            events: broadcast::channel(1 << 14).0,
            outbox: std::sync::OnceLock::new(),
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }
}

/// The session id under which an event concerns every session.
pub const EVERY_SESSION: i64 = 0;

/// Starts the thread that runs the live figures: a runtime of its own, so
/// that dashboards are not queued behind the tasks of tens of thousands of
/// consoles when a burst of check-ins keeps the main workers busy. The
/// operating system schedules it as a thread of its own, which wakes for
/// each frame and sleeps in between.
fn live_thread() -> tokio::runtime::Handle {
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("live".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the live runtime starts");
            let _ = handle_tx.send(runtime.handle().clone());
            // Runs the tasks spawned on it for as long as the process lives.
            runtime.block_on(std::future::pending::<()>());
        })
        .expect("the live thread starts");
    handle_rx.recv().expect("the live runtime's handle")
}

impl LiveHub {
    /// Runs a task of the live figures (a tally's follower, a session's
    /// frame feed, a dashboard's socket) on the live thread.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(task)
    }

    /// Publishes a durable change. Nobody listening is fine. With several
    /// instances the change also goes to the others (see `live::cluster`).
    pub fn publish(&self, session_id: i64, event: TallyEvent) {
        self.publish_all(vec![(session_id, event)]);
    }

    /// Publishes durable changes made together (a batch of check-ins), in
    /// their order, as one message.
    pub fn publish_all(&self, events: Vec<(i64, TallyEvent)>) {
        if events.is_empty() {
            return;
        }
        let events: Published = events.into();
        if let Some(outbox) = self.outbox.get() {
            let _ = outbox.send(events.clone());
        }
        let _ = self.events.send(events);
    }

    /// Publishes changes that came from another instance (not sent back out).
    pub fn publish_local(&self, events: Vec<(i64, TallyEvent)>) {
        if !events.is_empty() {
            let _ = self.events.send(events.into());
        }
    }

    /// Sends every change published here to other instances too.
    pub fn set_outbox(&self, outbox: tokio::sync::mpsc::UnboundedSender<Published>) {
        let _ = self.outbox.set(outbox);
    }

    /// Units or members changed: every tally is rebuilt from the database
    /// (its rosters, expected head counts and tree may be different).
    pub fn rosters_changed(&self) {
        self.publish(EVERY_SESSION, TallyEvent::Reload);
    }

    /// Every event, for other followers (webhooks).
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.events.subscribe()
    }

    /// The live tally of a session, built on first use.
    pub async fn session(
        &self,
        db: &Db,
        session: &SessionRecord,
    ) -> Result<Arc<SessionLive>, sqlx::Error> {
        let mut sessions = self.sessions.lock().await;
        if let Some(live) = sessions.get(&session.id) {
            return Ok(live.clone());
        }
        // Subscribe before loading: events published meanwhile are applied
        // after the load, and the tally ignores those it already counted.
        let rx = self.events.subscribe();
        let tally = Tally::build(
            db.tally_source(session.id, &session.scope_unit_path)
                .await?,
        );
        let per_minute = db
            .checkins_per_minute(session.id, time::now_ms() - CHART_MINUTES as i64 * 60_000)
            .await?;
        let live = Arc::new(SessionLive {
            session_id: session.id,
            scope_path: session.scope_unit_path.clone(),
            version: watch::channel(tally.version).0,
            tally: RwLock::new(tally),
            per_minute: Mutex::new(per_minute.into_iter().collect()),
            reloads: AtomicU64::new(0),
            dashboards: OnceLock::new(),
        });
        sessions.insert(session.id, live.clone());
        self.spawn(follow(db.clone(), live.clone(), rx));
        Ok(live)
    }
}

/// Applies the session's events to its tally for as long as the server runs.
async fn follow(db: Db, live: Arc<SessionLive>, mut rx: broadcast::Receiver<Published>) {
    loop {
        let first = match rx.recv().await {
            Ok(e) => Some(e),
            Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let mut batch: Vec<Published> = first.into_iter().collect();
        let mut lagged = batch.is_empty();
        // Take whatever else is waiting: one version bump per burst.
        loop {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
                Err(_) => break,
            }
        }
        let reload = batch.iter().flat_map(|b| b.iter()).any(|(s, e)| {
            (*s == live.session_id || *s == EVERY_SESSION) && *e == TallyEvent::Reload
        });
        if lagged || reload {
            // Fell behind the event stream, or what the tally was built from
            // changed: rebuild from the database. Until it answers, the lost
            // events are known nowhere else: ask again rather than carry on
            // with a tally that would stay short.
            let mut attempt: u64 = 0;
            let src = loop {
                match db.tally_source(live.session_id, &live.scope_path).await {
                    Ok(src) => break src,
                    Err(e) => {
                        attempt += 1;
                        tracing::warn!(error = %e, session = live.session_id, attempt, "cannot rebuild the live tally; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(attempt.min(10))).await;
                    }
                }
            };
            // Seconds of work at two million check-ins: off the live thread,
            // whose other sessions' dashboards go on meanwhile.
            let built = tokio::task::spawn_blocking(move || Tally::build(src))
                .await
                .expect("building a tally does not panic");
            let mut tally = live.tally.write().unwrap_or_else(|e| e.into_inner());
            let version = tally.version + 1;
            *tally = built;
            tally.version = version;
            live.reloads.fetch_add(1, Ordering::SeqCst);
        }
        let now = time::now_ms();
        {
            let mut tally = live.tally.write().unwrap_or_else(|e| e.into_inner());
            for (session_id, event) in batch.iter().flat_map(|b| b.iter()) {
                if *session_id == live.session_id
                    && tally.apply(event)
                    && matches!(event, TallyEvent::CheckedIn { .. })
                {
                    live.note_checkin(now);
                }
            }
        }
        let version = live.tally.read().unwrap_or_else(|e| e.into_inner()).version;
        live.version.send_if_modified(|v| {
            let changed = *v != version;
            *v = version;
            changed
        });
    }
}
