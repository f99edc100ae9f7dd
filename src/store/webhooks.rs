//! Webhooks and their delivery queue.

use super::{Db, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRecord {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub events: String,
    pub active: bool,
    pub created_at: i64,
}

impl WebhookRecord {
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.split(',').any(|e| e == event_type || e == "*")
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

const SELECT_DELIVERY: &str = "SELECT id, webhook_id, event_id, event_type, payload, attempts, next_attempt_at, delivered_at, last_error, created_at FROM webhook_deliveries";

impl Db {
    pub async fn create_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &str,
        created_by: i64,
    ) -> Result<i64, sqlx::Error> {
        let now = crate::domain::time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO webhooks (url, secret, events, active, created_by, created_at) VALUES ($1, $2, $3, TRUE, $4, $5) RETURNING id",
        )
        .bind(url).bind(secret).bind(events).bind(created_by).bind(now)
        .fetch_one(pool)
        .await
        })
    }

    pub async fn webhooks(&self) -> Result<Vec<WebhookRecord>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_as::<_, WebhookRecord>(
            "SELECT id, url, secret, events, active, created_at FROM webhooks ORDER BY id"
        )
        .fetch_all(pool)
        .await)
    }

    pub async fn delete_webhook(&self, id: i64) -> Result<bool, sqlx::Error> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query("DELETE FROM webhooks WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Queues an event for a webhook; the same event id is queued once.
    pub async fn enqueue_delivery(
        &self,
        webhook_id: i64,
        event_id: &str,
        event_type: &str,
        payload: &str,
    ) -> Result<(), sqlx::Error> {
        let now = crate::domain::time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5) ON CONFLICT (webhook_id, event_id) DO NOTHING",
        )
        .bind(webhook_id).bind(event_id).bind(event_type).bind(payload).bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }

    /// Claims up to `limit` deliveries that are due, leasing them until
    /// `lease_until` so another instance does not send them at the same time.
    pub async fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, sqlx::Error> {
        let sql = format!(
            "{SELECT_DELIVERY} WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2"
        );
        let due: Vec<DeliveryRecord> =
            on_pool!(self, |pool| sqlx::query_as::<_, DeliveryRecord>(&sql)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await)?;
        let mut claimed = Vec::with_capacity(due.len());
        for d in due {
            let won = on_pool!(self, |pool| {
                sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL",
            )
            .bind(lease_until).bind(d.id).bind(d.next_attempt_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
            })?;
            if won {
                claimed.push(d);
            }
        }
        Ok(claimed)
    }

    pub async fn finish_delivery(
        &self,
        id: i64,
        delivered_at: Option<i64>,
        next_attempt_at: i64,
        error: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
        )
        .bind(delivered_at).bind(next_attempt_at).bind(error).bind(id)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }

    pub async fn recent_deliveries(
        &self,
        webhook_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, sqlx::Error> {
        let sql = format!("{SELECT_DELIVERY} WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2");
        on_pool!(self, |pool| sqlx::query_as::<_, DeliveryRecord>(&sql)
            .bind(webhook_id)
            .bind(limit)
            .fetch_all(pool)
            .await)
    }

    /// What a webhook says about a check-in: who, where, how.
    pub async fn checkin_details(
        &self,
        checkin_id: i64,
    ) -> Result<Option<CheckinDetails>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_as::<_, CheckinDetails>(
            "SELECT c.id, c.session_id, m.code AS member_code, m.full_name, m.category, u.code AS unit_code, c.method, \
             c.point_id, p.name AS point_name, c.taken_at, c.received_at, c.replayed, c.annulled_at \
             FROM checkins c JOIN members m ON m.id = c.member_id JOIN units u ON u.id = m.unit_id \
             LEFT JOIN points p ON p.id = c.point_id WHERE c.id = $1",
        )
        .bind(checkin_id)
        .fetch_optional(pool)
        .await
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckinDetails {
    pub id: i64,
    pub session_id: i64,
    pub member_code: String,
    pub full_name: String,
    pub category: String,
    pub unit_code: String,
    pub method: String,
    pub point_id: Option<i64>,
    pub point_name: Option<String>,
    pub taken_at: i64,
    pub received_at: i64,
    pub replayed: bool,
    pub annulled_at: Option<i64>,
}
