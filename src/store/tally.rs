//! Loads what a session's live tally is built from.

use crate::domain::tally::{CATEGORIES, TallySource};
use crate::domain::{Category, CheckinMethod, tree};

use super::{Db, on_pool};

type UnitRow = (
    i64,
    Option<i64>,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// Rows as read: units, roster counts, points, live check-ins, head counts.
type Loaded = (
    Vec<UnitRow>,
    Vec<(i64, String, i64)>,
    Vec<(i64, i64, String)>,
    Vec<(i64, i64, String, String, Option<i64>)>,
    Vec<(i64, i64, i64, i64)>,
);

const SELECT_UNITS: &str = "SELECT id, parent_id, code, name, kind, expected_cadre, expected_party_member, \
     expected_civil_servant, expected_public_employee, expected_worker, expected_guest \
     FROM units WHERE path >= $1 AND path < $2";
const SELECT_ROSTER: &str = "SELECT m.unit_id, m.category, count(*) FROM members m JOIN units u ON u.id = m.unit_id \
     WHERE u.path >= $1 AND u.path < $2 GROUP BY m.unit_id, m.category";
const SELECT_POINTS: &str = "SELECT id, unit_id, name FROM points WHERE session_id = $1";
const SELECT_CHECKINS: &str = "SELECT c.id, m.unit_id, m.category, c.method, c.point_id \
     FROM checkins c JOIN members m ON m.id = c.member_id \
     WHERE c.session_id = $1 AND c.annulled_at IS NULL";
const SELECT_HEAD_COUNTS: &str = "SELECT h.point_id, h.id, h.taken_at, h.count FROM head_counts h \
     JOIN points p ON p.id = h.point_id WHERE p.session_id = $1";

/// The same queries on a plain connection of its own, in one read
/// transaction (a consistent snapshot, as the pool's).
fn read_sqlite(
    path: &std::path::Path,
    session_id: i64,
    scope: &str,
    end: &str,
) -> rusqlite::Result<Loaded> {
    use rusqlite::{OpenFlags, params};
    let mut conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    let units = tx
        .prepare(SELECT_UNITS)?
        .query_map(params![scope, end], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })?
        .collect::<Result<Vec<UnitRow>, _>>()?;
    let roster = tx
        .prepare(SELECT_ROSTER)?
        .query_map(params![scope, end], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let points = tx
        .prepare(SELECT_POINTS)?
        .query_map([session_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let checkins = tx
        .prepare(SELECT_CHECKINS)?
        .query_map([session_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let head_counts = tx
        .prepare(SELECT_HEAD_COUNTS)?
        .query_map([session_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    tx.commit()?;
    Ok((units, roster, points, checkins, head_counts))
}

impl Db {
    /// Units of the session's subtree, rosters, points, live check-ins,
    /// head counts and home viewers, read in one transaction so they agree.
    pub async fn tally_source(
        &self,
        session_id: i64,
        scope_path: &str,
    ) -> Result<TallySource, sqlx::Error> {
        let end = tree::subtree_end(scope_path);
        let (units, roster, points, checkins, head_counts): Loaded = match self {
            // A national session has millions of check-ins; through sqlx's
            // SQLite worker each row is a message between threads (30 s and
            // more for two million), read directly they take a second or two.
            Db::Sqlite(pool) if super::is_file(pool) => {
                let path = pool.connect_options().get_filename().to_path_buf();
                let scope = scope_path.to_string();
                tokio::task::spawn_blocking(move || {
                    read_sqlite(&path, session_id, &scope, &end)
                        .map_err(|e| sqlx::Error::Protocol(format!("tally: {e}")))
                })
                .await
                .map_err(|e| sqlx::Error::Protocol(format!("tally: {e}")))??
            }
            _ => on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                let units = sqlx::query_as(SELECT_UNITS)
                    .bind(scope_path)
                    .bind(&end)
                    .fetch_all(&mut *tx)
                    .await?;
                let roster = sqlx::query_as(SELECT_ROSTER)
                    .bind(scope_path)
                    .bind(&end)
                    .fetch_all(&mut *tx)
                    .await?;
                let points = sqlx::query_as(SELECT_POINTS)
                    .bind(session_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let checkins = sqlx::query_as(SELECT_CHECKINS)
                    .bind(session_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let head_counts = sqlx::query_as(SELECT_HEAD_COUNTS)
                    .bind(session_id)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>((units, roster, points, checkins, head_counts))
            })?,
        };
        // Stored codes match exactly: no folding per row (millions of them).
        let category = |c: &str| {
            Category::ALL
                .iter()
                .copied()
                .find(|x| x.code() == c)
                .or_else(|| Category::parse(c))
                .unwrap_or(Category::Guest)
        };
        Ok(TallySource {
            units: units
                .into_iter()
                .map(|(id, parent, code, name, kind, e0, e1, e2, e3, e4, e5)| {
                    let expected: [i64; CATEGORIES] =
                        [e0, e1, e2, e3, e4, e5].map(|e| e.unwrap_or(0));
                    (id, parent, code, name, kind, expected)
                })
                .collect(),
            roster: roster
                .into_iter()
                .map(|(unit, c, n)| (unit, category(&c), n))
                .collect(),
            points,
            checkins: checkins
                .into_iter()
                .map(|(id, unit, c, m, point)| {
                    (
                        id,
                        unit,
                        category(&c),
                        CheckinMethod::ALL
                            .iter()
                            .copied()
                            .find(|x| x.code() == m)
                            .or_else(|| CheckinMethod::parse(&m))
                            .unwrap_or(CheckinMethod::Roster),
                        point,
                    )
                })
                .collect(),
            head_counts,
            public_viewers: self.public_viewers(session_id).await?,
        })
    }
}

impl Db {
    /// Check-ins per minute since `since_ms`, oldest first.
    pub async fn checkins_per_minute(
        &self,
        session_id: i64,
        since_ms: i64,
    ) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT received_at / 60000 AS minute, count(*) FROM checkins \
             WHERE session_id = $1 AND received_at >= $2 AND annulled_at IS NULL GROUP BY received_at / 60000 ORDER BY minute",
        )
        .bind(session_id).bind(since_ms)
        .fetch_all(pool)
        .await
        })
    }
}

impl Db {
    /// Counts a member of the public at home, once per device per session.
    /// Returns the new viewer's id, or None when the device was already counted.
    pub async fn add_public_viewer(
        &self,
        session_id: i64,
        unit_id: i64,
        device_id: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        let now = crate::domain::time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO public_viewers (session_id, unit_id, device_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(session_id).bind(unit_id).bind(device_id).bind(now)
        .fetch_optional(pool)
        .await
        })
    }

    pub async fn public_viewers(&self, session_id: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, unit_id FROM public_viewers WHERE session_id = $1"
        )
        .bind(session_id)
        .fetch_all(pool)
        .await)
    }
}
