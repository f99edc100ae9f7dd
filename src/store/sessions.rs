//! Study sessions (buổi học tập chuyên đề) and their broadcast.

use crate::domain::{SessionStatus, time};

use super::{Db, Scope, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: i64,
    pub theme: String,
    pub description: Option<String>,
    pub host_unit_id: i64,
    pub host_unit_code: String,
    pub host_unit_name: String,
    pub host_unit_path: String,
    pub scope_unit_id: i64,
    pub scope_unit_code: String,
    pub scope_unit_name: String,
    pub scope_unit_path: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub checkin_opens_at: i64,
    pub checkin_closes_at: i64,
    pub status: String,
    pub tv_channel: Option<String>,
    pub air_time: Option<i64>,
    pub stream_url: Option<String>,
    pub recording_url: Option<String>,
    pub point_count: i64,
    /// Share of the recording to watch for make-up (0.5–1).
    pub makeup_threshold: f64,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT_SESSION: &str = "SELECT s.id, s.theme, s.description, s.host_unit_id, h.code AS host_unit_code, \
     h.name AS host_unit_name, h.path AS host_unit_path, s.scope_unit_id, sc.code AS scope_unit_code, \
     sc.name AS scope_unit_name, sc.path AS scope_unit_path, s.starts_at, s.ends_at, s.checkin_opens_at, \
     s.checkin_closes_at, s.status, s.tv_channel, s.air_time, s.stream_url, s.recording_url, \
     (SELECT count(*) FROM points p WHERE p.session_id = s.id) AS point_count, s.makeup_threshold, s.created_at, s.updated_at \
     FROM sessions s JOIN units h ON h.id = s.host_unit_id JOIN units sc ON sc.id = s.scope_unit_id";

/// A session is visible to a caller when its expected subtree overlaps the
/// caller's: it covers the caller's unit, or lies inside the caller's subtree.
const VISIBLE: &str = "((length(sc.path) <= length($1) AND substr($1, 1, length(sc.path)) = sc.path) \
     OR (sc.path >= $2 AND sc.path < $3))";

#[derive(Debug, Clone)]
pub struct SessionFields {
    pub theme: String,
    pub description: Option<String>,
    pub host_unit_id: i64,
    pub scope_unit_id: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub checkin_opens_at: i64,
    pub checkin_closes_at: i64,
    pub tv_channel: Option<String>,
    pub air_time: Option<i64>,
    pub stream_url: Option<String>,
    pub recording_url: Option<String>,
}

impl Db {
    pub async fn session_by_id(&self, id: i64) -> Result<Option<SessionRecord>, sqlx::Error> {
        let sql = format!("{SELECT_SESSION} WHERE s.id = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, SessionRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
    }

    /// Sessions visible in `scope`, newest first; optionally only one status.
    pub async fn list_sessions(
        &self,
        scope: &Scope,
        status: Option<SessionStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<SessionRecord>, sqlx::Error> {
        let (lo, hi) = scope.path_range();
        let sql = format!(
            "{SELECT_SESSION} WHERE {VISIBLE} AND ($4 IS NULL OR s.status = $4) ORDER BY s.starts_at DESC, s.id DESC LIMIT $5 OFFSET $6"
        );
        on_pool!(self, |pool| sqlx::query_as::<_, SessionRecord>(&sql)
            .bind(scope.root_path())
            .bind(&lo)
            .bind(&hi)
            .bind(status.map(|s| s.code()))
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)
    }

    pub async fn create_session(&self, f: &SessionFields) -> Result<i64, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO sessions (theme, description, host_unit_id, scope_unit_id, starts_at, ends_at, checkin_opens_at, \
             checkin_closes_at, status, tv_channel, air_time, stream_url, recording_url, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9, $10, $11, $12, $13, $13) RETURNING id",
        )
        .bind(&f.theme).bind(&f.description).bind(f.host_unit_id).bind(f.scope_unit_id)
        .bind(f.starts_at).bind(f.ends_at).bind(f.checkin_opens_at).bind(f.checkin_closes_at)
        .bind(&f.tv_channel).bind(f.air_time).bind(&f.stream_url).bind(&f.recording_url).bind(now)
        .fetch_one(pool)
        .await
        })
    }

    pub async fn update_session(&self, id: i64, f: &SessionFields) -> Result<(), sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query(
            "UPDATE sessions SET theme = $1, description = $2, host_unit_id = $3, scope_unit_id = $4, starts_at = $5, \
             ends_at = $6, checkin_opens_at = $7, checkin_closes_at = $8, tv_channel = $9, air_time = $10, \
             stream_url = $11, recording_url = $12, updated_at = $13 WHERE id = $14",
        )
        .bind(&f.theme).bind(&f.description).bind(f.host_unit_id).bind(f.scope_unit_id)
        .bind(f.starts_at).bind(f.ends_at).bind(f.checkin_opens_at).bind(f.checkin_closes_at)
        .bind(&f.tv_channel).bind(f.air_time).bind(&f.stream_url).bind(&f.recording_url).bind(now).bind(id)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }

    pub async fn set_makeup_threshold(&self, id: i64, threshold: f64) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE sessions SET makeup_threshold = $1 WHERE id = $2"
        )
        .bind(threshold)
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    /// The share of the recording a member must watch for make-up.
    pub async fn session_makeup_threshold(&self, id: i64) -> Result<Option<f64>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT makeup_threshold FROM sessions WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)
    }

    /// Moves a session to `next` only if it is still in `current`: two
    /// organizers pressing buttons at once cannot move it backwards.
    pub async fn set_session_status(
        &self,
        id: i64,
        current: SessionStatus,
        next: SessionStatus,
    ) -> Result<bool, sqlx::Error> {
        let now = time::now_ms();
        let done = on_pool!(self, |pool| sqlx::query(
            "UPDATE sessions SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4"
        )
        .bind(next.code())
        .bind(now)
        .bind(id)
        .bind(current.code())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}
