//! Webhooks, for organizers: register an address to be told of check-ins and
//! session events (see `crate::webhooks` for signing and retries).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::{ApiJson, ApiPath, parse_id, ts};
use crate::app::AppState;
use crate::domain::parse_url;
use crate::error::{AppError, AppResult};
use crate::security;
use crate::webhooks::{self, EVENT_TYPES};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(delete_webhook))
        .routes(routes!(webhook_deliveries))
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// http(s) address that receives POSTed JSON events.
    pub url: String,
    /// Any of `checkin.created`, `checkin.annulled`, `session.status_changed`
    /// (all when absent).
    pub events: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub webhook: WebhookView,
    /// Shown once: verify `X-Diemcau-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
    pub secret: String,
}

/// Registered webhooks (organizers only).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", responses((status = 200, body = Vec<WebhookView>), (status = 403, body = crate::error::ErrorEnvelope)))]
async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<WebhookView>>> {
    caller.require_organizer()?;
    let hooks = state.db().webhooks().await?;
    Ok(Json(
        hooks
            .into_iter()
            .map(|h| WebhookView {
                id: h.id,
                url: h.url,
                events: h.events.split(',').map(str::to_string).collect(),
                active: h.active,
                created_at: ts(h.created_at),
            })
            .collect(),
    ))
}

/// Registers a webhook; its signing secret is returned once.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 400, body = crate::error::ErrorEnvelope), (status = 403, body = crate::error::ErrorEnvelope)))]
async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateWebhook>,
) -> AppResult<(StatusCode, Json<CreatedWebhook>)> {
    caller.require_organizer()?;
    let url = parse_url(&req.url).ok_or_else(|| {
        AppError::invalid(
            "webhook.url_invalid",
            "url",
            "Địa chỉ phải bắt đầu bằng http:// hoặc https://.",
        )
    })?;
    let events: Vec<String> = match req.events {
        None => EVENT_TYPES.iter().map(|e| e.to_string()).collect(),
        Some(list) if list.is_empty() => {
            return Err(AppError::invalid(
                "webhook.events_invalid",
                "events",
                "Chọn ít nhất một loại sự kiện.",
            ));
        }
        Some(list) => {
            if let Some(bad) = list.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
                return Err(AppError::invalid(
                    "webhook.events_invalid",
                    "events",
                    format!(
                        "Sự kiện \"{bad}\" không có. Dùng: {}.",
                        EVENT_TYPES.join(", ")
                    ),
                ));
            }
            list
        }
    };
    let secret = security::new_secret();
    let id = state
        .db()
        .create_webhook(&url, &secret, &events.join(","), caller.account.id)
        .await?;
    webhooks::reload(&state).await;
    tracing::info!(
        webhook = id,
        account = caller.account.id,
        "webhook registered"
    );
    super::audit::by_account(
        &state,
        &caller,
        "webhook.created",
        Some(format!("webhook:{id}")),
        serde_json::json!({"url": url, "events": events}),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: WebhookView {
                id,
                url,
                events,
                active: true,
                created_at: ts(crate::domain::time::now_ms()),
            },
            secret,
        }),
    ))
}

/// Removes a webhook and its pending deliveries.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    caller.require_organizer()?;
    let id = parse_id(&id, "webhook.not_found", "webhook")?;
    if !state.db().delete_webhook(id).await? {
        return Err(AppError::not_found(
            "webhook.not_found",
            "Không tìm thấy webhook này.",
        ));
    }
    webhooks::reload(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub event_id: String,
    pub event_type: String,
    pub attempts: i64,
    pub delivered_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub next_attempt_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub last_error: Option<String>,
}

/// The latest deliveries of a webhook, to see whether the receiver keeps up.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<DeliveryView>), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn webhook_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<Json<Vec<DeliveryView>>> {
    caller.require_organizer()?;
    let id = parse_id(&id, "webhook.not_found", "webhook")?;
    if !state.db().webhooks().await?.iter().any(|h| h.id == id) {
        return Err(AppError::not_found(
            "webhook.not_found",
            "Không tìm thấy webhook này.",
        ));
    }
    let deliveries = state.db().recent_deliveries(id, 100).await?;
    Ok(Json(
        deliveries
            .into_iter()
            .map(|d| DeliveryView {
                event_id: d.event_id,
                event_type: d.event_type,
                attempts: d.attempts,
                delivered_at: d.delivered_at.map(ts),
                next_attempt_at: (d.delivered_at.is_none() && d.next_attempt_at < i64::MAX)
                    .then(|| ts(d.next_attempt_at)),
                last_error: d.last_error,
            })
            .collect(),
    ))
}
