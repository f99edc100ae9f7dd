//! Attendance: check-ins (at most one live per member per session, decided by
//! a unique index), absences, head counts, and the answers given to
//! client-generated operation ids.
//!
//! A check-in carries the operation id that made it (`source`, `client_id`),
//! so a resend of a new check-in is recognised from the member's live
//! check-in and answered again from that row ([`Recorded::Resent`]); only the
//! other answers (already checked in, head counts, absences, undos) and the
//! answer of an annulled check-in are kept in `operations`.

use crate::domain::time;

use super::{BeginWrite, Db, on_pool};

/// A check-in to record.
#[derive(Debug, Clone)]
pub struct CheckinInsert {
    pub session_id: i64,
    pub member_id: i64,
    pub point_id: Option<i64>,
    pub method: &'static str,
    /// Who made the operation id: `p:<point>` or `m:<member code>`.
    pub source: Option<String>,
    pub client_id: Option<String>,
    pub taken_at: i64,
    pub replayed: bool,
    /// Short hash of the phone's device id (self check-in only), for proxy flags.
    pub device: Option<String>,
}

/// The live check-in that was already there.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PriorCheckin {
    pub id: i64,
    pub taken_at: i64,
    pub point_id: Option<i64>,
    pub point_name: Option<String>,
    pub method: String,
    /// The operation id that made it (none for rows older than migration 0010).
    pub source: Option<String>,
    pub client_id: Option<String>,
}

impl PriorCheckin {
    /// Whether this check-in was made by the operation id `(source, client_id)`.
    pub fn made_by(&self, source: Option<&str>, client_id: Option<&str>) -> bool {
        matches!(
            (self.source.as_deref(), self.client_id.as_deref(), source, client_id),
            (Some(a), Some(b), Some(s), Some(c)) if a == s && b == c
        )
    }
}

/// The columns of a [`PriorCheckin`], from `checkins c LEFT JOIN points p`.
macro_rules! prior_columns {
    () => {
        "c.id, c.taken_at, c.point_id, p.name AS point_name, c.method, c.source, c.client_id"
    };
}
pub const PRIOR_COLUMNS: &str = prior_columns!();

/// A member's live check-in in a session, as a [`PriorCheckin`]
/// (`$1` session, `$2` member). SQLite numbers `$n` parameters in order of
/// appearance, so the writer's own connection binds it by position too.
pub const SELECT_LIVE_CHECKIN: &str = concat!(
    "SELECT ",
    prior_columns!(),
    " FROM checkins c LEFT JOIN points p ON p.id = c.point_id \
     WHERE c.session_id = $1 AND c.member_id = $2 AND c.annulled_at IS NULL"
);

/// Keeps the answer given to an operation id (`$1` source, `$2` client id,
/// `$3` answer, `$4` time); the first answer wins.
pub const REMEMBER_ANSWER: &str = "INSERT INTO operations (source, client_id, answer, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

#[derive(Debug, Clone)]
pub enum Recorded {
    /// Newly recorded and durable.
    New { id: i64, received_at: i64 },
    /// The member was already checked in for this session.
    Already(PriorCheckin),
    /// The same operation id was seen before: here is the answer given then.
    Repeat(String),
    /// The same operation id made this live check-in earlier: its answer is
    /// made again from the row (nothing recorded now).
    Resent(PriorCheckin),
}

/// A roster line as the point console shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RosterEntry {
    pub code: String,
    pub full_name: String,
    pub category: String,
    pub unit_code: String,
    pub unit_name: String,
    pub checked_in_at: Option<i64>,
    pub checked_in_point: Option<String>,
    pub checked_in_point_id: Option<i64>,
    pub checkin_method: Option<String>,
    pub absent_reason: Option<String>,
    pub absent: bool,
}

/// The live check-ins of each of `n` points (`$1`…`$n`), counted: `(point_id,
/// count)`, a row for each point. SQLite's way (see [`Db::count_at_points_sql`]).
///
/// Written so that PostgreSQL too could only answer it point by point from
/// `checkins_point`, whatever its statistics: a national session's table
/// grows by a million rows before autovacuum first analyzes it, and meanwhile
/// the plain form (`WHERE point_id IN (…) AND annulled_at IS NULL`) was
/// answered from the whole partial index `checkins_once` or a scan of the
/// table (1.5 s a batch at 700,000 rows). Hence one subquery per point, and
/// "live" as a FILTER, which no partial index matches.
pub fn count_at_points_sql(n: usize) -> String {
    format!(
        "WITH p (id) AS (VALUES {}) \
         SELECT p.id, (SELECT count(*) FILTER (WHERE c.annulled_at IS NULL) FROM checkins c WHERE c.point_id = p.id) FROM p",
        super::placeholders(n, 1, 1)
    )
}

/// The same from the counters PostgreSQL keeps (migration 0009): a row only
/// for points that ever had a check-in; the others have none.
pub fn counters_at_points_sql(n: usize) -> String {
    format!(
        "SELECT point_id, checked_in FROM point_checkins WHERE point_id IN {}",
        super::placeholders(1, n, 1)
    )
}

impl Db {
    /// The live check-ins of each of `n` points (`$1`…`$n`) as `(point_id,
    /// count)`; a point with none may have no row. SQLite counts them from
    /// the index alone; on PostgreSQL each fresh row counted would be a heap
    /// visit (half of its busy time in the national burst), so it reads the
    /// counters its triggers keep.
    pub fn count_at_points_sql(&self, n: usize) -> String {
        match self {
            Db::Sqlite(_) => count_at_points_sql(n),
            Db::Postgres(_) => counters_at_points_sql(n),
        }
    }

    /// Records a check-in in one transaction and returns it with the answer
    /// made by `answer` (an "already checked in" answer is stored against the
    /// operation id; a new check-in keeps the id on its row, so that a resend
    /// gets exactly the same answer). Acknowledge only after this returns.
    pub async fn record_checkin<F>(
        &self,
        c: &CheckinInsert,
        answer: F,
    ) -> Result<(Recorded, String), sqlx::Error>
    where
        F: FnOnce(&Recorded) -> String,
    {
        let received_at = time::now_ms();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            if let (Some(source), Some(client_id)) = (&c.source, &c.client_id) {
                let seen: Option<String> = sqlx::query_scalar(
                    "SELECT answer FROM operations WHERE source = $1 AND client_id = $2",
                )
                .bind(source)
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(seen) = seen {
                    tx.rollback().await?;
                    return Ok((Recorded::Repeat(seen.clone()), seen));
                }
            }
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO checkins (session_id, member_id, point_id, method, source, client_id, taken_at, received_at, replayed, device) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(c.session_id).bind(c.member_id).bind(c.point_id).bind(c.method)
            .bind(&c.source).bind(&c.client_id)
            .bind(c.taken_at).bind(received_at).bind(c.replayed).bind(&c.device)
            .fetch_optional(&mut *tx)
            .await?;
            let recorded = match id {
                Some(id) => {
                    // Present after all: the check-in supersedes an absence.
                    sqlx::query("DELETE FROM absences WHERE session_id = $1 AND member_id = $2")
                        .bind(c.session_id)
                        .bind(c.member_id)
                        .execute(&mut *tx)
                        .await?;
                    Recorded::New { id, received_at }
                }
                None => {
                    let prior = sqlx::query_as::<_, PriorCheckin>(SELECT_LIVE_CHECKIN)
                        .bind(c.session_id)
                        .bind(c.member_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if prior.made_by(c.source.as_deref(), c.client_id.as_deref()) {
                        tx.rollback().await?;
                        let resent = Recorded::Resent(prior);
                        let text = answer(&resent);
                        return Ok((Recorded::Repeat(text.clone()), text));
                    }
                    Recorded::Already(prior)
                }
            };
            let text = answer(&recorded);
            if let (Recorded::Already(_), Some(source), Some(client_id)) =
                (&recorded, &c.source, &c.client_id)
            {
                let stored = sqlx::query(REMEMBER_ANSWER)
                    .bind(source)
                    .bind(client_id)
                    .bind(&text)
                    .bind(received_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if stored == 0 {
                    // A concurrent resend of the same id got there first: undo
                    // ours and give its answer.
                    tx.rollback().await?;
                    let first: String = on_pool!(self, |p| sqlx::query_scalar(
                        "SELECT answer FROM operations WHERE source = $1 AND client_id = $2"
                    )
                    .bind(source)
                    .bind(client_id)
                    .fetch_one(p)
                    .await)?;
                    return Ok((Recorded::Repeat(first.clone()), first));
                }
            }
            tx.commit().await?;
            Ok((recorded, text))
        })
    }

    /// The answer already given to an operation id, if any.
    pub async fn operation_answer(
        &self,
        source: &str,
        client_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT answer FROM operations WHERE source = $1 AND client_id = $2"
        )
        .bind(source)
        .bind(client_id)
        .fetch_optional(pool)
        .await)
    }

    /// Remembers the answer to an operation id (first answer wins).
    pub async fn save_operation_answer(
        &self,
        source: &str,
        client_id: &str,
        answer: &str,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query(REMEMBER_ANSWER)
                .bind(source)
                .bind(client_id)
                .bind(answer)
                .bind(time::now_ms())
                .execute(pool)
                .await
                .map(|_| ())
        })
    }

    /// The live check-in of a member for a session.
    pub async fn live_checkin(
        &self,
        session_id: i64,
        member_id: i64,
    ) -> Result<Option<PriorCheckin>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_as::<_, PriorCheckin>(
            SELECT_LIVE_CHECKIN
        )
        .bind(session_id)
        .bind(member_id)
        .fetch_optional(pool)
        .await)
    }

    /// Annuls a live check-in made at `point_id` no earlier than
    /// `not_before` (the undo window). Returns false when there is none.
    /// `made_by` is the check-in's operation id and the answer it was given:
    /// kept in `operations` in the same transaction, since a resend of that
    /// id can no longer be recognised from a live check-in.
    pub async fn annul_checkin(
        &self,
        checkin_id: i64,
        point_id: i64,
        not_before: i64,
        reason: Option<&str>,
        made_by: Option<(&str, &str, &str)>,
    ) -> Result<bool, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let annulled = sqlx::query(
                "UPDATE checkins SET annulled_at = $1, annul_reason = $2 \
                 WHERE id = $3 AND point_id = $4 AND annulled_at IS NULL AND taken_at >= $5",
            )
            .bind(now)
            .bind(reason)
            .bind(checkin_id)
            .bind(point_id)
            .bind(not_before)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !annulled {
                tx.rollback().await?;
                return Ok(false);
            }
            if let Some((source, client_id, answer)) = made_by {
                sqlx::query(REMEMBER_ANSWER)
                    .bind(source)
                    .bind(client_id)
                    .bind(answer)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Records (or updates) that a member is absent, with a reason.
    pub async fn record_absence(
        &self,
        session_id: i64,
        member_id: i64,
        point_id: i64,
        reason: Option<&str>,
        taken_at: i64,
    ) -> Result<(), sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO absences (session_id, member_id, point_id, reason, taken_at, received_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (session_id, member_id) DO UPDATE SET point_id = excluded.point_id, reason = excluded.reason, \
             taken_at = excluded.taken_at, received_at = excluded.received_at",
        )
        .bind(session_id).bind(member_id).bind(point_id).bind(reason).bind(taken_at).bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }

    /// Appends a head-count report for a point.
    pub async fn record_head_count(
        &self,
        point_id: i64,
        count: i64,
        taken_at: i64,
    ) -> Result<i64, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO head_counts (point_id, count, taken_at, received_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(point_id).bind(count).bind(taken_at).bind(now)
        .fetch_one(pool)
        .await
        })
    }

    /// The latest head count of a point (by device time), if any.
    pub async fn latest_head_count(&self, point_id: i64) -> Result<Option<i64>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "SELECT count FROM head_counts WHERE point_id = $1 ORDER BY taken_at DESC, id DESC LIMIT 1",
        )
        .bind(point_id)
        .fetch_optional(pool)
        .await
        })
    }

    /// Live check-ins made at a point.
    pub async fn point_checkin_count(&self, point_id: i64) -> Result<i64, sqlx::Error> {
        let sql = self.count_at_points_sql(1);
        let found: Option<(i64, i64)> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(point_id)
            .fetch_optional(pool)
            .await)?;
        Ok(found.map_or(0, |(_, count)| count))
    }

    /// The roster of a point's unit subtree, with each member's state in the session.
    pub async fn point_roster(
        &self,
        session_id: i64,
        unit_path: &str,
    ) -> Result<Vec<RosterEntry>, sqlx::Error> {
        let end = crate::domain::tree::subtree_end(unit_path);
        on_pool!(self, |pool| {
            sqlx::query_as::<_, RosterEntry>(
            "SELECT m.code, m.full_name, m.category, u.code AS unit_code, u.name AS unit_name, \
             c.taken_at AS checked_in_at, p.name AS checked_in_point, c.point_id AS checked_in_point_id, c.method AS checkin_method, \
             a.reason AS absent_reason, (a.id IS NOT NULL) AS absent \
             FROM members m JOIN units u ON u.id = m.unit_id \
             LEFT JOIN checkins c ON c.member_id = m.id AND c.session_id = $1 AND c.annulled_at IS NULL \
             LEFT JOIN points p ON p.id = c.point_id \
             LEFT JOIN absences a ON a.member_id = m.id AND a.session_id = $1 \
             WHERE u.path >= $2 AND u.path < $3 ORDER BY m.sort_key, m.code",
        )
        .bind(session_id).bind(unit_path).bind(&end)
        .fetch_all(pool)
        .await
        })
    }
}
