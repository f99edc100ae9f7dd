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

impl Db {
    /// Units of the session's subtree, rosters, points, live check-ins,
    /// head counts and home viewers, read in one transaction so they agree.
    pub async fn tally_source(
        &self,
        session_id: i64,
        scope_path: &str,
    ) -> Result<TallySource, sqlx::Error> {
        let end = tree::subtree_end(scope_path);
        let (units, roster, points, checkins, head_counts): Loaded = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let units = sqlx::query_as(
                "SELECT id, parent_id, code, name, kind, expected_cadre, expected_party_member, expected_civil_servant, \
                 expected_public_employee, expected_worker, expected_guest FROM units WHERE path >= $1 AND path < $2",
            )
            .bind(scope_path).bind(&end)
            .fetch_all(&mut *tx)
            .await?;
            let roster = sqlx::query_as(
                "SELECT m.unit_id, m.category, count(*) FROM members m JOIN units u ON u.id = m.unit_id \
                 WHERE u.path >= $1 AND u.path < $2 GROUP BY m.unit_id, m.category",
            )
            .bind(scope_path).bind(&end)
            .fetch_all(&mut *tx)
            .await?;
            let points =
                sqlx::query_as("SELECT id, unit_id, name FROM points WHERE session_id = $1")
                    .bind(session_id)
                    .fetch_all(&mut *tx)
                    .await?;
            let checkins = sqlx::query_as(
                "SELECT c.id, m.unit_id, m.category, c.method, c.point_id FROM checkins c JOIN members m ON m.id = c.member_id \
                 WHERE c.session_id = $1 AND c.annulled_at IS NULL",
            )
            .bind(session_id)
            .fetch_all(&mut *tx)
            .await?;
            let head_counts = sqlx::query_as(
                "SELECT h.point_id, h.id, h.taken_at, h.count FROM head_counts h JOIN points p ON p.id = h.point_id WHERE p.session_id = $1",
            )
            .bind(session_id)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>((units, roster, points, checkins, head_counts))
        })?;
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
