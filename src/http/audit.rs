//! The audit log: who did what — imports, points and their operator links,
//! undo, accounts and roles, exports of personal data. Organizers read it.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::{ApiQuery, Paging, ts};
use crate::app::AppState;
use crate::error::AppResult;
use crate::store::points::PointRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_log))
}

/// Records an action of a signed-in account. The action has already
/// happened: a failure to record it is logged, never turned into an error.
pub async fn by_account(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: Option<String>,
    details: Value,
) {
    let actor = format!("account:{}", caller.account.id);
    let name = format!(
        "{} ({})",
        caller.account.display_name, caller.account.username
    );
    record(state, &actor, &name, action, target, details).await;
}

/// Records an action of a point operator (through the operator link).
pub async fn by_operator(
    state: &AppState,
    point: &PointRecord,
    action: &str,
    target: Option<String>,
    details: Value,
) {
    let actor = format!("point:{}", point.id);
    let name = point
        .operator_name
        .clone()
        .unwrap_or_else(|| point.name.clone());
    record(state, &actor, &name, action, target, details).await;
}

async fn record(
    state: &AppState,
    actor: &str,
    name: &str,
    action: &str,
    target: Option<String>,
    details: Value,
) {
    let details = (!details.is_null()).then(|| details.to_string());
    if let Err(e) = state
        .db()
        .audit(actor, name, action, target.as_deref(), details.as_deref())
        .await
    {
        tracing::error!(error = %e, action, actor, "cannot write the audit log");
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::FixedOffset>,
    /// `account:<id>`, `point:<id>` or `system`.
    pub actor: String,
    pub actor_name: String,
    pub action: String,
    pub target: Option<String>,
    pub details: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An action or its prefix, e.g. `units.` or `point.link_rotated`.
    pub action: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The audit log, newest first (organizers only).
#[utoipa::path(get, path = "/audit", tag = "accounts", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = crate::error::ErrorEnvelope)))]
async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Json<AuditPage>> {
    caller.require_organizer()?;
    let (limit, offset) = Paging {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve()?;
    let action = q
        .action
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty() && a.len() <= 64);
    let (items, total) = state.db().audit_entries(action, limit, offset).await?;
    Ok(Json(AuditPage {
        items: items
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: ts(r.at),
                actor: r.actor,
                actor_name: r.actor_name,
                action: r.action,
                target: r.target,
                details: r.details.and_then(|d| serde_json::from_str(&d).ok()),
            })
            .collect(),
        total,
    }))
}
