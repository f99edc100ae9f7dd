//! The check-in writer: one task that records waiting check-ins together.
//!
//! Request handlers hand their check-in to the writer and wait for its
//! answer. While a transaction commits, the next check-ins queue up; the
//! writer then takes all of them (up to [`MAX_BATCH`]) into the next
//! transaction. Under light load a batch is one check-in and nothing waits;
//! under a national burst thousands share one commit. Answers still leave
//! only after the commit, and the live figures are told in commit order.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::domain::CheckinMethod;
use crate::live::hub::LiveHub;
use crate::store::Db;
use crate::store::checkin_batch::{BatchError, BatchItem, BatchOutcome, MAX_BATCH};
use crate::store::checkin_sqlite::SqliteCheckins;
use crate::store::checkins;

/// Check-ins waiting for the writer; handlers wait (backpressure) beyond it.
const QUEUE: usize = 20_000;

/// What the writer made of one check-in.
pub(super) struct Recorded {
    pub outcome: BatchOutcome,
    /// Live check-ins at the point, when the item asked for it.
    pub point_count: Option<i64>,
}

/// One check-in handed to the writer.
pub(super) struct Job {
    pub item: BatchItem,
    /// The session's scope: the member must belong to it.
    pub scope_path: String,
    pub method: CheckinMethod,
    pub reply: oneshot::Sender<Result<Recorded, sqlx::Error>>,
}

/// Handle to the writer; cheap to clone.
#[derive(Clone)]
pub struct CheckinWriter {
    queue: mpsc::Sender<Job>,
    db: Db,
}

impl CheckinWriter {
    /// Starts the writer. SQLite has one writer at a time anyway; PostgreSQL
    /// takes a few transactions at once, one per lane (see [`dispatch`]).
    pub fn spawn(db: Db, hub: Arc<LiveHub>) -> CheckinWriter {
        let (queue, rx) = mpsc::channel(QUEUE);
        let lanes = match &db {
            Db::Sqlite(pool) if crate::store::is_file(pool) => {
                match SqliteCheckins::open(pool.connect_options().get_filename()) {
                    Ok(conn) => {
                        sqlite_thread(conn, hub, rx);
                        return CheckinWriter { queue, db };
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "check-in writer falls back to the pool");
                        1
                    }
                }
            }
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => 4,
        };
        tokio::spawn(dispatch(db.clone(), hub, rx, lanes));
        CheckinWriter { queue, db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Records one check-in with those waiting alongside it.
    pub(super) async fn submit(
        &self,
        item: BatchItem,
        scope_path: String,
        method: CheckinMethod,
    ) -> Result<Recorded, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            item,
            scope_path,
            method,
            reply,
        };
        if self.queue.send(job).await.is_err() {
            return Err(sqlx::Error::PoolClosed);
        }
        answer.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

/// Starts the thread that records batches on its own SQLite connection
/// (see `store::checkin_sqlite`). It takes its batches from the queue
/// itself: as soon as a batch is committed and answered, everything that
/// arrived meanwhile (up to [`MAX_BATCH`]) is the next one. (Handed over
/// by a task on the runtime instead, the thread sat idle a third of the
/// time in a national burst with a full queue, waiting for that task to
/// be scheduled among the consoles' tasks.)
fn sqlite_thread(mut conn: SqliteCheckins, hub: Arc<LiveHub>, mut rx: mpsc::Receiver<Job>) {
    std::thread::Builder::new()
        .name("checkin-writer".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                record_on_thread(&mut conn, &hub, take_batch(first, &mut rx));
            }
        })
        .expect("the check-in writer thread starts");
}

/// `first` and whatever else is already queued, up to [`MAX_BATCH`].
fn take_batch(first: Job, rx: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut jobs = Vec::with_capacity(64);
    jobs.push(first);
    while jobs.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    jobs
}

fn record_on_thread(conn: &mut SqliteCheckins, hub: &LiveHub, jobs: Vec<Job>) {
    metrics::histogram!("diemcau_checkin_batch_size").record(jobs.len() as f64);
    let started = std::time::Instant::now();
    let items: Vec<BatchItem> = jobs.iter().map(|j| j.item.clone()).collect();
    let result = conn.record(
        &items,
        |i, member| super::membership_refusal(member, &jobs[i].scope_path),
        |i, member, recorded| super::answer_text(&jobs[i].item, jobs[i].method, member, recorded),
    );
    metrics::histogram!("diemcau_checkin_batch_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok((outcomes, point_counts)) => deliver(hub, jobs, outcomes, &point_counts),
        Err(err) if jobs.len() > 1 => {
            tracing::warn!(error = %err, size = jobs.len(), "check-in batch failed; retrying one by one");
            for job in jobs {
                record_on_thread(conn, hub, vec![job]);
            }
        }
        Err(err) => {
            for job in jobs {
                let _ = job.reply.send(Err(sqlx::Error::Protocol(err.to_string())));
            }
        }
    }
}

/// Tells the live figures, then answers each caller (the batch is durable):
/// a dashboard can show a check-in no later than its acknowledgement.
fn deliver(
    hub: &LiveHub,
    jobs: Vec<Job>,
    outcomes: Vec<BatchOutcome>,
    point_counts: &std::collections::HashMap<i64, i64>,
) {
    let new_checkins = jobs
        .iter()
        .zip(&outcomes)
        .filter_map(|(job, outcome)| match outcome {
            BatchOutcome::Recorded {
                member,
                recorded: checkins::Recorded::New { id, .. },
                ..
            } => Some(super::checked_in_event(
                job.item.session_id,
                *id,
                member,
                job.method,
                job.item.point_id,
            )),
            _ => None,
        })
        .collect();
    hub.publish_all(new_checkins);
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        let point_count = job
            .item
            .point_id
            .filter(|_| job.item.want_point_count)
            .map(|p| point_counts.get(&p).copied().unwrap_or(0));
        let _ = job.reply.send(Ok(Recorded {
            outcome,
            point_count,
        }));
    }
}

/// Hands each check-in to its lane. On PostgreSQL an instance records
/// `lanes` batches at once; the database keeps a counter per point, locked
/// until the batch commits (migration 0009), so two batches sharing a point
/// wait for each other. Each point therefore has one lane: batches in flight
/// on one instance never share a point. (In a PostgreSQL burst at a quarter
/// of national size before this, 37 of 83 samples of its busy statements
/// were such a wait.)
async fn dispatch(db: Db, hub: Arc<LiveHub>, mut rx: mpsc::Receiver<Job>, lanes: usize) {
    if lanes <= 1 {
        return run_lane(db, hub, rx).await;
    }
    let mut queues = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (queue, lane_rx) = mpsc::channel(QUEUE / lanes);
        tokio::spawn(run_lane(db.clone(), hub.clone(), lane_rx));
        queues.push(queue);
    }
    while let Some(job) = rx.recv().await {
        let lane = lane_of(&job.item, lanes);
        if queues[lane].send(job).await.is_err() {
            return;
        }
    }
}

/// A point's lane; check-ins without a point spread by member.
fn lane_of(item: &BatchItem, lanes: usize) -> usize {
    let key = match item.point_id {
        Some(point_id) => point_id.unsigned_abs(),
        None => item
            .member_code
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    };
    (key % lanes as u64) as usize
}

/// Records one lane's check-ins, one batch at a time: while a batch
/// commits, the next check-ins pile up and the next batch takes them all.
async fn run_lane(db: Db, hub: Arc<LiveHub>, mut rx: mpsc::Receiver<Job>) {
    let slots = Arc::new(Semaphore::new(1));
    loop {
        // Wait for the batch in flight first, so that check-ins pile up.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let jobs = take_batch(first, &mut rx);
        let (db, hub) = (db.clone(), hub.clone());
        tokio::spawn(async move {
            run_batch(&db, &hub, jobs).await;
            drop(slot);
        });
    }
}

async fn run_batch(db: &Db, hub: &LiveHub, jobs: Vec<Job>) {
    metrics::histogram!("diemcau_checkin_batch_size").record(jobs.len() as f64);
    let started = std::time::Instant::now();
    let items: Vec<BatchItem> = jobs.iter().map(|j| j.item.clone()).collect();
    let result = db
        .record_checkin_batch(
            &items,
            |i, member| super::membership_refusal(member, &jobs[i].scope_path),
            |i, member, recorded| {
                super::answer_text(&jobs[i].item, jobs[i].method, member, recorded)
            },
        )
        .await;
    metrics::histogram!("diemcau_checkin_batch_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok((outcomes, point_counts)) => deliver(hub, jobs, outcomes, &point_counts),
        Err(err) if jobs.len() > 1 => {
            // One bad item must not fail the others: take them one by one.
            tracing::warn!(error = %err, size = jobs.len(), "check-in batch failed; retrying one by one");
            for job in jobs {
                Box::pin(run_batch(db, hub, vec![job])).await;
            }
        }
        Err(err) => {
            let err = match err {
                BatchError::Sql(e) => e,
                BatchError::OperationRace => sqlx::Error::Protocol("operation id race".into()),
            };
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(err));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(point_id: Option<i64>, member_code: &str) -> BatchItem {
        BatchItem {
            session_id: 1,
            member_code: member_code.into(),
            point_id,
            point_name: None,
            method: "roster",
            source: None,
            client_id: None,
            taken_at: 0,
            replayed: false,
            device: None,
            want_point_count: true,
        }
    }

    #[test]
    fn a_point_always_has_the_same_lane_and_points_spread_over_all_lanes() {
        for point in 1..200 {
            let lane = lane_of(&item(Some(point), "A"), 4);
            assert_eq!(lane, lane_of(&item(Some(point), "B"), 4));
            assert!(lane < 4);
        }
        let used: std::collections::BTreeSet<usize> =
            (1..200).map(|p| lane_of(&item(Some(p), "A"), 4)).collect();
        assert_eq!(used.len(), 4);
        let without_point: std::collections::BTreeSet<usize> = (0..200)
            .map(|m| lane_of(&item(None, &format!("HV{m:05}")), 4))
            .collect();
        assert_eq!(
            without_point.len(),
            4,
            "check-ins without a point spread too"
        );
    }
}
