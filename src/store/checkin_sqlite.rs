//! The SQLite check-in writer's own connection.
//!
//! Through sqlx, every statement and every returned row crosses a channel to
//! the connection's worker thread; for a batch of a thousand check-ins that
//! is thousands of thread wake-ups, which cost far more than SQLite's own
//! work. The writer therefore keeps one plain connection (rusqlite) on its
//! own thread, with prepared statements kept across batches, and records a
//! batch item by item inside one `BEGIN IMMEDIATE` transaction. The rules
//! and answers are those of [`Db::record_checkin_batch`] (the PostgreSQL
//! path); the API tests run both.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::checkin_batch::{BatchItem, BatchOutcome};
use super::checkins::{PriorCheckin, REMEMBER_ANSWER, Recorded, SELECT_LIVE_CHECKIN};
use super::members::{MemberRecord, SELECT_MEMBER};
use crate::domain::time;

pub struct SqliteCheckins {
    conn: Connection,
    wal: WalKeeper,
    points: PointCounts,
}

/// Live check-ins per point, as the writer last counted them plus what it
/// recorded since: a console's acknowledgement carries its point's count,
/// and counting it again for every batch was an index range per point per
/// batch (one per check-in in a national burst, when each batch holds a
/// thousand consoles). Only the writer inserts check-ins, but other
/// connections annul, move and purge them: whenever another connection has
/// committed anything (SQLite's `data_version`), every count is forgotten
/// and counted again when next asked for.
#[derive(Default)]
struct PointCounts {
    data_version: i64,
    live: HashMap<i64, i64>,
}

impl SqliteCheckins {
    /// Opens a second connection to the database file the pool uses.
    pub fn open(path: &Path) -> rusqlite::Result<SqliteCheckins> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(WRITER_BUSY_TIMEOUT)?;
        // As the pool: a committed check-in survives a power cut.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Members and check-ins of a national session: keep their pages.
        conn.pragma_update(None, "cache_size", -128 * 1024)?;
        conn.set_prepared_statement_cache_capacity(32);
        // Copying the WAL back into the database (and its fsync) would
        // otherwise happen inside every thousandth page's commit, with
        // check-ins waiting on it; a thread of its own does it instead.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A log that grew (a reader held a checkpoint back) shrinks again
        // when the writer starts it over; see `WalKeeper`.
        conn.pragma_update(None, "journal_size_limit", 2 * RESTART_FRAMES * 4096)?;
        let wal = WalKeeper::spawn(path, RESTART_FRAMES)?;
        Ok(SqliteCheckins {
            conn,
            wal,
            points: PointCounts::default(),
        })
    }

    /// Records `items` in one transaction; see [`Db::record_checkin_batch`]
    /// for `rules` and `answer`. On error nothing is written.
    pub fn record<R, A>(
        &mut self,
        items: &[BatchItem],
        rules: R,
        answer: A,
    ) -> rusqlite::Result<(Vec<BatchOutcome>, HashMap<i64, i64>)>
    where
        R: Fn(usize, &MemberRecord) -> Result<(), String>,
        A: Fn(usize, &MemberRecord, &Recorded) -> String,
    {
        self.wal.before_write(&self.conn);
        let received_at = time::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // The write lock is ours: nobody else commits until this batch has.
        let data_version: i64 = tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if data_version != self.points.data_version {
            self.points.live.clear();
            self.points.data_version = data_version;
        }
        // An absence to clear needs a lookup per check-in; in a burst no
        // session has any yet.
        let mut has_absences: HashMap<i64, bool> = HashMap::new();
        // New check-ins of this batch per point, for the counts kept.
        let mut new_at_point: HashMap<i64, i64> = HashMap::new();
        let mut outcomes = Vec::with_capacity(items.len());
        {
            let mut any_absence =
                tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM absences WHERE session_id = ?1)")?;
            let mut seen_op = tx.prepare_cached(
                "SELECT answer FROM operations WHERE source = ?1 AND client_id = ?2",
            )?;
            let mut member_by_code =
                tx.prepare_cached(&format!("{SELECT_MEMBER} WHERE m.code = ?1"))?;
            // No `RETURNING`: SQLite runs it as a trigger, which makes every
            // insert a statement of its own inside the transaction, copying
            // each page it touches (20–36 KB) to a statement journal in
            // memory and freeing it again: a fifth of this thread's time
            // went to the copies and to glibc returning the freed memory to
            // the system (madvise) each time. The new row's id is the
            // connection's last insert rowid instead.
            let mut insert = tx.prepare_cached(
                "INSERT INTO checkins (session_id, member_id, point_id, method, source, client_id, taken_at, received_at, replayed, device) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
            )?;
            let mut clear_absence =
                tx.prepare_cached("DELETE FROM absences WHERE session_id = ?1 AND member_id = ?2")?;
            let mut prior = tx.prepare_cached(SELECT_LIVE_CHECKIN)?;
            let mut remember = tx.prepare_cached(REMEMBER_ANSWER)?;

            for (i, it) in items.iter().enumerate() {
                // Each statement sees the earlier items of this transaction,
                // so repeats and duplicates inside the batch come out right.
                if let (Some(source), Some(client_id)) = (&it.source, &it.client_id)
                    && let Some(text) = seen_op
                        .query_row(params![source, client_id], |r| r.get::<_, String>(0))
                        .optional()?
                {
                    outcomes.push(BatchOutcome::Repeat(text));
                    continue;
                }
                let Some(member) = member_by_code
                    .query_row(params![it.member_code], member_from_row)
                    .optional()?
                else {
                    outcomes.push(BatchOutcome::UnknownMember);
                    continue;
                };
                if let Err(refusal) = rules(i, &member) {
                    outcomes.push(BatchOutcome::Refused(refusal));
                    continue;
                }
                let inserted = insert.execute(params![
                    it.session_id,
                    member.id,
                    it.point_id,
                    it.method,
                    it.source,
                    it.client_id,
                    it.taken_at,
                    received_at,
                    it.replayed,
                    it.device
                ])?;
                let id = (inserted == 1).then(|| tx.last_insert_rowid());
                let recorded = match id {
                    Some(id) => {
                        // Present after all: the check-in supersedes an absence.
                        let absences = match has_absences.get(&it.session_id) {
                            Some(known) => *known,
                            None => {
                                let any = any_absence.query_row([it.session_id], |r| r.get(0))?;
                                has_absences.insert(it.session_id, any);
                                any
                            }
                        };
                        if absences {
                            clear_absence.execute(params![it.session_id, member.id])?;
                        }
                        if let Some(point_id) = it.point_id {
                            *new_at_point.entry(point_id).or_default() += 1;
                        }
                        Recorded::New { id, received_at }
                    }
                    None => {
                        let prior = prior.query_row(params![it.session_id, member.id], |r| {
                            Ok(PriorCheckin {
                                id: r.get(0)?,
                                taken_at: r.get(1)?,
                                point_id: r.get(2)?,
                                point_name: r.get(3)?,
                                method: r.get(4)?,
                                source: r.get(5)?,
                                client_id: r.get(6)?,
                            })
                        })?;
                        if prior.made_by(it.source.as_deref(), it.client_id.as_deref()) {
                            // A resend of the operation that checked them in.
                            let text = answer(i, &member, &Recorded::Resent(prior));
                            outcomes.push(BatchOutcome::Repeat(text));
                            continue;
                        }
                        Recorded::Already(prior)
                    }
                };
                let text = answer(i, &member, &recorded);
                // A new check-in keeps its operation id on its row; other
                // answers are remembered against the id.
                if let (Recorded::Already(_), Some(source), Some(client_id)) =
                    (&recorded, &it.source, &it.client_id)
                {
                    remember.execute(params![source, client_id, text, received_at])?;
                }
                outcomes.push(BatchOutcome::Recorded {
                    member: Box::new(member),
                    recorded,
                    answer: text,
                });
            }
        }
        let counted: BTreeSet<i64> = items
            .iter()
            .filter(|it| it.want_point_count)
            .filter_map(|it| it.point_id)
            .collect();
        let mut point_counts = HashMap::new();
        let mut counted_now = Vec::new();
        if !counted.is_empty() {
            let mut count = tx.prepare_cached(&super::checkins::count_at_points_sql(1))?;
            for point_id in counted {
                let kept = self
                    .points
                    .live
                    .get(&point_id)
                    .map(|n| n + new_at_point.get(&point_id).copied().unwrap_or(0));
                let n = match kept {
                    Some(n) if !cfg!(debug_assertions) => n,
                    _ => {
                        let found = count.query_row([point_id], |r| r.get(1)).optional()?;
                        let n = found.unwrap_or(0);
                        // Debug builds (the tests) count every time and check
                        // what was kept against it.
                        if let Some(kept) = kept {
                            assert_eq!(kept, n, "the count kept for point {point_id}");
                        }
                        counted_now.push((point_id, n));
                        n
                    }
                };
                point_counts.insert(point_id, n);
            }
        }
        tx.commit()?;
        // Kept only once committed: a failed batch leaves them as they were.
        for (point_id, new) in new_at_point {
            if let Some(n) = self.points.live.get_mut(&point_id) {
                *n += new;
            }
        }
        for (point_id, n) in counted_now {
            self.points.live.insert(point_id, n);
        }
        Ok((outcomes, point_counts))
    }
}

/// How long the writer waits for the database's write lock.
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// WAL frames (4 KiB pages) past which the writer starts the log again
/// from its beginning: 64 MiB.
const RESTART_FRAMES: i64 = 16_384;

/// Keeps the WAL small: a thread checkpoints it every 200 ms on its own
/// connection (PASSIVE: it never waits for, nor blocks, the writer or
/// readers), and the writer starts the log over when it has grown.
///
/// Under a steady stream of check-ins a PASSIVE checkpoint never catches up
/// with the writer, and SQLite only starts the log again from its beginning
/// when a checkpoint has caught up: in a national burst the WAL grew past
/// 2.7 GB, and every page the writer appended landed in new file space,
/// which the kernel zeroes first (a fifth of the writer thread's time) and
/// whose growth each fsync had to journal. So once the log passes
/// `restart_frames` ([`RESTART_FRAMES`]), the writer itself runs a RESTART
/// checkpoint before its next batch: it copies the few frames the passive
/// ones left and waits for readers of the old log, and the next batch
/// overwrites the start of the file. (Run from the checkpoint thread
/// instead, a RESTART waits for the writer lock, which a busy writer
/// never leaves free long enough.)
struct WalKeeper {
    restart_due: Arc<AtomicBool>,
    /// Dropped with the writer, which stops the checkpoint thread.
    _stop: std::sync::mpsc::Sender<()>,
}

impl WalKeeper {
    fn spawn(path: &Path, restart_frames: i64) -> rusqlite::Result<WalKeeper> {
        use std::sync::mpsc::RecvTimeoutError;
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(1))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let restart_due = Arc::new(AtomicBool::new(false));
        let due = restart_due.clone();
        std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Duration::from_millis(200))
                {
                    match checkpoint(&conn, "PASSIVE") {
                        Ok(log_frames) => {
                            due.store(log_frames >= restart_frames, Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                    }
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(WalKeeper {
            restart_due,
            _stop: stop,
        })
    }

    /// Called by the writer between transactions.
    fn before_write(&self, writer: &Connection) {
        if self.restart_due.swap(false, Ordering::Relaxed) {
            // Check-ins wait meanwhile: give a long reader of the old log
            // (a report) 50 ms, then try again after the next passive
            // checkpoint.
            let restarted = writer
                .busy_timeout(Duration::from_millis(50))
                .and_then(|()| checkpoint(writer, "RESTART"));
            if let Err(e) = restarted {
                tracing::debug!(error = %e, "WAL restart checkpoint did not finish");
            }
            if let Err(e) = writer.busy_timeout(WRITER_BUSY_TIMEOUT) {
                tracing::warn!(error = %e, "could not restore the writer's busy timeout");
            }
        }
    }
}

/// Runs one checkpoint in `mode`; returns the frames in the log.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        r.get::<_, i64>(1)
    })
}

fn member_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MemberRecord> {
    Ok(MemberRecord {
        id: r.get(0)?,
        code: r.get(1)?,
        full_name: r.get(2)?,
        category: r.get(3)?,
        unit_id: r.get(4)?,
        unit_code: r.get(5)?,
        unit_name: r.get(6)?,
        unit_path: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite is built without the two global mutexes `.cargo/config.toml`
    /// removes (about 5 % of the national burst); a build that lost the
    /// flags fails here rather than silently slower.
    #[test]
    fn sqlite_is_built_without_memory_statistics_or_shared_page_cache_groups() {
        let conn = Connection::open_in_memory().unwrap();
        let used = |option: &str| -> i64 {
            conn.query_row("SELECT sqlite_compileoption_used(?1)", [option], |r| {
                r.get(0)
            })
            .unwrap()
        };
        assert_eq!(used("ENABLE_MEMORY_MANAGEMENT"), 0);
        assert_eq!(used("DEFAULT_MEMSTATUS=0"), 1);
    }

    /// What the writer's kept point counts rely on: another connection's
    /// commit changes the writer's `data_version`; the writer's own commits
    /// and the checkpoint thread's checkpoints do not (else the counts would
    /// be forgotten every 200 ms).
    #[test]
    fn data_version_moves_with_other_connections_commits_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .unwrap();
        let version = |c: &Connection| -> i64 {
            c.query_row("PRAGMA data_version", [], |r| r.get(0))
                .unwrap()
        };
        let other = Connection::open(&path).unwrap();
        let v0 = version(&writer);
        writer.execute("INSERT INTO t DEFAULT VALUES", []).unwrap();
        assert_eq!(version(&writer), v0, "the writer's own commit");
        checkpoint(&other, "PASSIVE").unwrap();
        checkpoint(&other, "RESTART").unwrap();
        assert_eq!(version(&writer), v0, "another connection's checkpoint");
        checkpoint(&writer, "RESTART").unwrap();
        assert_eq!(version(&writer), v0, "the writer's own checkpoint");
        other.execute("INSERT INTO t DEFAULT VALUES", []).unwrap();
        assert_ne!(version(&writer), v0, "another connection's commit");
    }

    /// A writer that never pauses, with a reader always in a transaction:
    /// the WAL must still start over instead of growing with everything
    /// written.
    #[test]
    fn the_wal_starts_over_under_a_steady_stream_of_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "synchronous", "OFF").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.busy_timeout(WRITER_BUSY_TIMEOUT).unwrap();
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
            .unwrap();
        let wal = WalKeeper::spawn(&path, 256).unwrap();

        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, done) = (path.clone(), done.clone());
            std::thread::spawn(move || {
                let conn = Connection::open(&path).unwrap();
                while !done.load(Ordering::Relaxed) {
                    let _: i64 = conn
                        .query_row("SELECT max(id) FROM t", [], |r| r.get(0))
                        .unwrap();
                }
            })
        };
        // For 3 s, with a restart due every 256 frames and a checkpoint
        // every 200 ms: each transaction appends about 6 frames.
        let started = std::time::Instant::now();
        let mut transactions = 0u64;
        while started.elapsed() < Duration::from_millis(3000) {
            wal.before_write(&writer);
            let tx = writer.unchecked_transaction().unwrap();
            for _ in 0..5 {
                tx.execute("INSERT INTO t (b) VALUES (zeroblob(4000))", [])
                    .unwrap();
            }
            tx.commit().unwrap();
            transactions += 1;
        }
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        // The WAL header counts the times the log was started over
        // (bytes 12..16, "checkpoint sequence number"); without the
        // restart a writer that never pauses keeps appending to one log.
        let mut header = [0u8; 16];
        let mut wal_file = std::fs::File::open(dir.path().join("wal.db-wal")).unwrap();
        std::io::Read::read_exact(&mut wal_file, &mut header).unwrap();
        let restarts = u32::from_be_bytes(header[12..16].try_into().unwrap());
        let frames_written = transactions * 6;
        assert!(
            restarts >= 2,
            "the log started over {restarts} times in 3 s ({frames_written} frames written)"
        );
    }
}
