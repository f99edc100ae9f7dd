//! Retention: removing the personal data of old sessions while keeping their
//! aggregate figures (see docs/retention.md).

use super::sessions::SessionRecord;
use super::{BeginWrite, Db, Scope, on_pool};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    pub checkins: u64,
    pub absences: u64,
    pub head_counts: u64,
    pub public_viewers: u64,
    pub makeup: u64,
}

impl Db {
    /// Ended sessions that ended before `cutoff_ms` and still hold personal data.
    pub async fn sessions_to_purge(
        &self,
        cutoff_ms: i64,
    ) -> Result<Vec<SessionRecord>, sqlx::Error> {
        let mut out = Vec::new();
        for s in self
            .list_sessions(
                &Scope::All,
                Some(crate::domain::SessionStatus::Ended),
                100_000,
                0,
            )
            .await?
        {
            if s.ends_at < cutoff_ms && self.session_summary(s.id).await?.is_none() {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// The figures kept for a purged session (JSON), if it was purged.
    pub async fn session_summary(&self, session_id: i64) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT figures FROM session_summaries WHERE session_id = $1"
        )
        .bind(session_id)
        .fetch_optional(pool)
        .await)
    }

    /// In one transaction: keeps `figures`, then removes every record that
    /// names a person in this session.
    pub async fn purge_session(
        &self,
        session_id: i64,
        figures: &str,
    ) -> Result<Purged, sqlx::Error> {
        let now = crate::domain::time::now_ms();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO session_summaries (session_id, figures, purged_at) VALUES ($1, $2, $3)")
                .bind(session_id).bind(figures).bind(now)
                .execute(&mut *tx)
                .await?;
            let checkins = sqlx::query("DELETE FROM checkins WHERE session_id = $1")
                .bind(session_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let absences = sqlx::query("DELETE FROM absences WHERE session_id = $1")
                .bind(session_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let head_counts = sqlx::query("DELETE FROM head_counts WHERE point_id IN (SELECT id FROM points WHERE session_id = $1)")
                .bind(session_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let public_viewers = sqlx::query("DELETE FROM public_viewers WHERE session_id = $1")
                .bind(session_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let makeup = sqlx::query("DELETE FROM makeup_progress WHERE session_id = $1")
                .bind(session_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // Operators' names and phones, and their links.
            sqlx::query("UPDATE points SET operator_name = NULL, operator_phone = NULL, operator_token_hash = NULL WHERE session_id = $1")
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Purged {
                checkins,
                absences,
                head_counts,
                public_viewers,
                makeup,
            })
        })
    }

    /// Removes remembered operation answers and webhook payloads (they name
    /// members) older than `cutoff_ms`.
    pub async fn purge_old_records(&self, cutoff_ms: i64) -> Result<(u64, u64), sqlx::Error> {
        on_pool!(self, |pool| {
            let ops = sqlx::query("DELETE FROM operations WHERE created_at < $1")
                .bind(cutoff_ms)
                .execute(pool)
                .await?
                .rows_affected();
            let hooks = sqlx::query("DELETE FROM webhook_deliveries WHERE created_at < $1")
                .bind(cutoff_ms)
                .execute(pool)
                .await?
                .rows_affected();
            Ok((ops, hooks))
        })
    }
}
