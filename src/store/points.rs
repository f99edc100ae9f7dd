//! Connection points (điểm cầu) registered for a session.

use crate::domain::{PointKind, time};

use super::{Db, Scope, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PointRecord {
    pub id: i64,
    pub session_id: i64,
    pub unit_id: i64,
    pub unit_code: String,
    pub unit_name: String,
    pub unit_path: String,
    pub name: String,
    pub location: Option<String>,
    pub kind: String,
    pub capacity: Option<i64>,
    pub operator_name: Option<String>,
    pub operator_phone: Option<String>,
    pub has_operator_link: bool,
    pub operator_token_issued_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT_POINT: &str = "SELECT p.id, p.session_id, p.unit_id, u.code AS unit_code, u.name AS unit_name, \
     u.path AS unit_path, p.name, p.location, p.kind, p.capacity, p.operator_name, p.operator_phone, \
     (p.operator_token_hash IS NOT NULL) AS has_operator_link, p.operator_token_issued_at, p.created_at, p.updated_at \
     FROM points p JOIN units u ON u.id = p.unit_id";

#[derive(Debug, Clone)]
pub struct PointFields {
    pub unit_id: i64,
    pub name: String,
    pub location: Option<String>,
    pub kind: PointKind,
    pub capacity: Option<i64>,
    pub operator_name: Option<String>,
    pub operator_phone: Option<String>,
}

impl Db {
    pub async fn point_by_id(&self, id: i64) -> Result<Option<PointRecord>, sqlx::Error> {
        let sql = format!("{SELECT_POINT} WHERE p.id = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, PointRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
    }

    /// All the points of a session (for the check-in cache, `store::hot`).
    pub async fn points_of_session(
        &self,
        session_id: i64,
    ) -> Result<Vec<PointRecord>, sqlx::Error> {
        let sql = format!("{SELECT_POINT} WHERE p.session_id = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, PointRecord>(&sql)
            .bind(session_id)
            .fetch_all(pool)
            .await)
    }

    /// The point an operator link belongs to (by the secret's hash).
    pub async fn point_by_operator_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<PointRecord>, sqlx::Error> {
        let sql = format!("{SELECT_POINT} WHERE p.operator_token_hash = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, PointRecord>(&sql)
            .bind(token_hash)
            .fetch_optional(pool)
            .await)
    }

    /// Points of a session at units inside `scope`, in tree then name order.
    pub async fn list_points(
        &self,
        session_id: i64,
        scope: &Scope,
    ) -> Result<Vec<PointRecord>, sqlx::Error> {
        let (lo, hi) = scope.path_range();
        let sql = format!(
            "{SELECT_POINT} WHERE p.session_id = $1 AND u.path >= $2 AND u.path < $3 ORDER BY u.depth, u.sort_key, p.name"
        );
        on_pool!(self, |pool| sqlx::query_as::<_, PointRecord>(&sql)
            .bind(session_id)
            .bind(&lo)
            .bind(&hi)
            .fetch_all(pool)
            .await)
    }

    /// Registers a point with its first operator secret (hash only).
    pub async fn create_point(
        &self,
        session_id: i64,
        f: &PointFields,
        token_hash: &str,
    ) -> Result<i64, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO points (session_id, unit_id, name, location, kind, capacity, operator_name, operator_phone, \
             operator_token_hash, operator_token_issued_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10) RETURNING id",
        )
        .bind(session_id).bind(f.unit_id).bind(&f.name).bind(&f.location).bind(f.kind.code()).bind(f.capacity)
        .bind(&f.operator_name).bind(&f.operator_phone).bind(token_hash).bind(now)
        .fetch_one(pool)
        .await
        })
    }

    pub async fn update_point(&self, id: i64, f: &PointFields) -> Result<(), sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query(
            "UPDATE points SET unit_id = $1, name = $2, location = $3, kind = $4, capacity = $5, operator_name = $6, \
             operator_phone = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(f.unit_id).bind(&f.name).bind(&f.location).bind(f.kind.code()).bind(f.capacity)
        .bind(&f.operator_name).bind(&f.operator_phone).bind(now).bind(id)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }

    /// Replaces (rotate) or clears (revoke, `None`) the operator secret.
    pub async fn set_operator_token(
        &self,
        id: i64,
        token_hash: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query("UPDATE points SET operator_token_hash = $1, operator_token_issued_at = $2, updated_at = $3 WHERE id = $4")
            .bind(token_hash).bind(token_hash.map(|_| now)).bind(now).bind(id)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// Notes that the point's console connected or disconnected: reports
    /// count the points that connected at all during the session.
    pub async fn note_point_connections(&self, ids: &[i64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = crate::domain::time::now_ms();
        let sql = format!(
            "UPDATE points SET first_connected_at = COALESCE(first_connected_at, $1), last_connected_at = $1 WHERE id IN {}",
            super::placeholders(1, ids.len(), 2)
        );
        on_pool!(self, |pool| {
            let mut q = sqlx::query(&sql).bind(now);
            for id in ids {
                q = q.bind(*id);
            }
            q.execute(pool).await.map(|_| ())
        })
    }

    /// Points of a session that connected at least once, by unit id.
    pub async fn connected_points(&self, session_id: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_as("SELECT id, unit_id FROM points WHERE session_id = $1 AND first_connected_at IS NOT NULL")
            .bind(session_id)
            .fetch_all(pool)
            .await
        })
    }

    /// The hash of the point's current operator secret (none once revoked).
    pub async fn operator_token_hash(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar::<_, Option<String>>(
            "SELECT operator_token_hash FROM points WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await
        .map(Option::flatten))
    }

    /// The link hashes of those of `ids` that exist (`None`: revoked).
    pub async fn operator_token_hashes(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, Option<String>)>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, operator_token_hash FROM points WHERE id IN {}",
            super::placeholders(1, ids.len(), 1)
        );
        on_pool!(self, |pool| {
            let mut q = sqlx::query_as(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await
        })
    }

    pub async fn delete_point(&self, id: i64) -> Result<bool, sqlx::Error> {
        let result = on_pool!(self, |pool| sqlx::query("DELETE FROM points WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        match result {
            Ok(_) => Ok(true),
            Err(e) if super::is_foreign_key_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
