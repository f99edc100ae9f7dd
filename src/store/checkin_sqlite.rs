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
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::checkin_batch::{BatchItem, BatchOutcome};
use super::checkins::{PriorCheckin, Recorded};
use super::members::{MemberRecord, SELECT_MEMBER};
use crate::domain::time;

pub struct SqliteCheckins {
    conn: Connection,
    /// Dropped with the writer, which stops the checkpoint thread.
    _checkpointer: std::sync::mpsc::Sender<()>,
}

impl SqliteCheckins {
    /// Opens a second connection to the database file the pool uses.
    pub fn open(path: &Path) -> rusqlite::Result<SqliteCheckins> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
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
        let checkpointer = spawn_checkpointer(path)?;
        Ok(SqliteCheckins {
            conn,
            _checkpointer: checkpointer,
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
        let received_at = time::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(items.len());
        {
            let mut seen_op = tx.prepare_cached(
                "SELECT answer FROM operations WHERE source = ?1 AND client_id = ?2",
            )?;
            let mut member_by_code =
                tx.prepare_cached(&format!("{SELECT_MEMBER} WHERE m.code = ?1"))?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO checkins (session_id, member_id, point_id, method, client_id, taken_at, received_at, replayed, device) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING RETURNING id",
            )?;
            let mut clear_absence =
                tx.prepare_cached("DELETE FROM absences WHERE session_id = ?1 AND member_id = ?2")?;
            let mut prior = tx.prepare_cached(
                "SELECT c.id, c.taken_at, c.point_id, p.name, c.method FROM checkins c \
                 LEFT JOIN points p ON p.id = c.point_id \
                 WHERE c.session_id = ?1 AND c.member_id = ?2 AND c.annulled_at IS NULL",
            )?;
            let mut remember = tx.prepare_cached(
                "INSERT INTO operations (source, client_id, answer, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?;

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
                let id: Option<i64> = insert
                    .query_row(
                        params![
                            it.session_id,
                            member.id,
                            it.point_id,
                            it.method,
                            it.client_id,
                            it.taken_at,
                            received_at,
                            it.replayed,
                            it.device
                        ],
                        |r| r.get(0),
                    )
                    .optional()?;
                let recorded = match id {
                    Some(id) => {
                        // Present after all: the check-in supersedes an absence.
                        clear_absence.execute(params![it.session_id, member.id])?;
                        Recorded::New { id, received_at }
                    }
                    None => Recorded::Already(prior.query_row(
                        params![it.session_id, member.id],
                        |r| {
                            Ok(PriorCheckin {
                                id: r.get(0)?,
                                taken_at: r.get(1)?,
                                point_id: r.get(2)?,
                                point_name: r.get(3)?,
                                method: r.get(4)?,
                            })
                        },
                    )?),
                };
                let text = answer(i, &member, &recorded);
                if let (Some(source), Some(client_id)) = (&it.source, &it.client_id) {
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
        if !counted.is_empty() {
            let mut count = tx.prepare_cached(&super::checkins::count_at_points_sql(1))?;
            for point_id in counted {
                let found = count.query_row([point_id], |r| r.get(1)).optional()?;
                point_counts.insert(point_id, found.unwrap_or(0));
            }
        }
        tx.commit()?;
        Ok((outcomes, point_counts))
    }
}

/// Checkpoints the WAL every 200 ms on its own connection (PASSIVE: it
/// never waits for, nor blocks, the writer or readers), until the returned
/// sender is dropped.
fn spawn_checkpointer(path: &Path) -> rusqlite::Result<std::sync::mpsc::Sender<()>> {
    use std::sync::mpsc::RecvTimeoutError;
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(1))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("wal-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_millis(200))
            {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    Ok(stop)
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
