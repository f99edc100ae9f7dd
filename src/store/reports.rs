//! Queries for after the session: absentees, a member's history.

use crate::domain::tree;

use super::{Db, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AbsenteeRecord {
    pub code: String,
    pub full_name: String,
    pub category: String,
    pub unit_code: String,
    pub unit_name: String,
    pub absent_reason: Option<String>,
    pub makeup_watched_s: Option<f64>,
    pub makeup_duration_s: Option<f64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRecord {
    pub session_id: i64,
    pub theme: String,
    pub starts_at: i64,
    pub method: String,
    pub point_name: Option<String>,
    pub taken_at: i64,
    pub replayed: bool,
}

impl Db {
    /// Roster members of the subtree who have not studied the session (no
    /// live check-in of any method, make-up included).
    pub async fn absentees(
        &self,
        session_id: i64,
        unit_path: &str,
    ) -> Result<Vec<AbsenteeRecord>, sqlx::Error> {
        let end = tree::subtree_end(unit_path);
        on_pool!(self, |pool| {
            sqlx::query_as::<_, AbsenteeRecord>(
            "SELECT m.code, m.full_name, m.category, u.code AS unit_code, u.name AS unit_name, a.reason AS absent_reason, \
             mp.watched_s AS makeup_watched_s, mp.duration_s AS makeup_duration_s \
             FROM members m JOIN units u ON u.id = m.unit_id \
             LEFT JOIN checkins c ON c.member_id = m.id AND c.session_id = $1 AND c.annulled_at IS NULL \
             LEFT JOIN absences a ON a.member_id = m.id AND a.session_id = $1 \
             LEFT JOIN makeup_progress mp ON mp.member_id = m.id AND mp.session_id = $1 \
             WHERE u.path >= $2 AND u.path < $3 AND c.id IS NULL \
             ORDER BY u.path, m.sort_key, m.code",
        )
        .bind(session_id).bind(unit_path).bind(&end)
        .fetch_all(pool)
        .await
        })
    }

    /// Every session a member took part in, newest first.
    pub async fn member_history(&self, member_id: i64) -> Result<Vec<HistoryRecord>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_as::<_, HistoryRecord>(
            "SELECT s.id AS session_id, s.theme, s.starts_at, c.method, p.name AS point_name, c.taken_at, c.replayed \
             FROM checkins c JOIN sessions s ON s.id = c.session_id LEFT JOIN points p ON p.id = c.point_id \
             WHERE c.member_id = $1 AND c.annulled_at IS NULL ORDER BY s.starts_at DESC",
        )
        .bind(member_id)
        .fetch_all(pool)
        .await
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MakeupRecord {
    pub duration_s: f64,
    pub watched: String,
    pub watched_s: f64,
    pub last_report_at: i64,
    pub completed_at: Option<i64>,
}

impl Db {
    pub async fn makeup_progress(
        &self,
        session_id: i64,
        member_id: i64,
    ) -> Result<Option<MakeupRecord>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_as::<_, MakeupRecord>(
            "SELECT duration_s, watched, watched_s, last_report_at, completed_at FROM makeup_progress WHERE session_id = $1 AND member_id = $2",
        )
        .bind(session_id).bind(member_id)
        .fetch_optional(pool)
        .await
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn save_makeup_progress(
        &self,
        session_id: i64,
        member_id: i64,
        duration_s: f64,
        watched: &str,
        watched_s: f64,
        position_s: f64,
        completed_at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let now = crate::domain::time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO makeup_progress (session_id, member_id, duration_s, watched, watched_s, last_report_at, last_position_s, completed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (session_id, member_id) DO UPDATE SET duration_s = excluded.duration_s, watched = excluded.watched, \
             watched_s = excluded.watched_s, last_report_at = excluded.last_report_at, last_position_s = excluded.last_position_s, \
             completed_at = COALESCE(makeup_progress.completed_at, excluded.completed_at)",
        )
        .bind(session_id).bind(member_id).bind(duration_s).bind(watched).bind(watched_s).bind(now).bind(position_s).bind(completed_at)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }
}
