//! The audit log: appended to, never changed.

use super::{Db, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub actor_name: String,
    pub action: String,
    pub target: Option<String>,
    pub details: Option<String>,
}

impl Db {
    pub async fn audit(
        &self,
        actor: &str,
        actor_name: &str,
        action: &str,
        target: Option<&str>,
        details: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let now = crate::domain::time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO audit_log (at, actor, actor_name, action, target, details) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now).bind(actor).bind(actor_name).bind(action).bind(target).bind(details)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }

    /// Newest first; optionally one action, or actions starting with a prefix ("units.").
    pub async fn audit_entries(
        &self,
        action_prefix: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AuditRecord>, i64), sqlx::Error> {
        let pattern = action_prefix.map(|p| format!("{}%", p.replace(['%', '_', '\\'], "")));
        on_pool!(self, |pool| {
            let items = sqlx::query_as::<_, AuditRecord>(
                "SELECT id, at, actor, actor_name, action, target, details FROM audit_log \
                 WHERE ($1 IS NULL OR action LIKE $1) ORDER BY id DESC LIMIT $2 OFFSET $3",
            )
            .bind(&pattern)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let total: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM audit_log WHERE ($1 IS NULL OR action LIKE $1)",
            )
            .bind(&pattern)
            .fetch_one(pool)
            .await?;
            Ok((items, total))
        })
    }
}
