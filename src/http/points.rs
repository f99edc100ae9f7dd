//! Connection points (điểm cầu) and their operator links.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::sessions::visible_session;
use super::units::visible_unit;
use super::{ApiJson, ApiPath, parse_id, text_field, ts};
use crate::app::AppState;
use crate::domain::tally::TallyEvent;
use crate::domain::{PointKind, SessionStatus, parse_name, parse_optional_text, parse_phone, tree};
use crate::error::{AppError, AppResult};
use crate::live::{PointStatus, Presence};
use crate::security;
use crate::store::points::{PointFields, PointRecord};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_points, create_point))
        .routes(routes!(get_point, update_point, delete_point))
        .routes(routes!(rotate_operator_link, revoke_operator_link))
}

#[derive(Serialize, ToSchema)]
pub struct PointView {
    pub id: i64,
    pub session_id: i64,
    pub unit_code: String,
    pub unit_name: String,
    pub name: String,
    pub location: Option<String>,
    pub kind: PointKind,
    pub kind_label: String,
    pub capacity: Option<i64>,
    pub operator_name: Option<String>,
    pub operator_phone: Option<String>,
    /// False once the operator link has been revoked.
    pub operator_link_active: bool,
    pub operator_link_issued_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// From the console's heartbeats: online, stale (silent for 45 s) or offline.
    pub status: PointStatus,
    pub last_seen_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

impl PointView {
    /// The view with the point's live status from the console connections.
    pub fn live(p: &PointRecord, presence: &Presence) -> Self {
        let mut view = PointView::from(p);
        let (status, last_seen) = presence.status(p.id);
        view.status = status;
        view.last_seen_at = last_seen.map(ts);
        view
    }
}

impl From<&PointRecord> for PointView {
    fn from(p: &PointRecord) -> Self {
        let kind = PointKind::parse(&p.kind).unwrap_or(PointKind::Video);
        PointView {
            id: p.id,
            session_id: p.session_id,
            unit_code: p.unit_code.clone(),
            unit_name: p.unit_name.clone(),
            name: p.name.clone(),
            location: p.location.clone(),
            kind,
            kind_label: kind.label().to_string(),
            capacity: p.capacity,
            operator_name: p.operator_name.clone(),
            operator_phone: p.operator_phone.clone(),
            operator_link_active: p.has_operator_link,
            operator_link_issued_at: p.operator_token_issued_at.map(ts),
            status: PointStatus::Offline,
            last_seen_at: None,
        }
    }
}

/// A point with its operator link: shown only when the link is made.
#[derive(Serialize, ToSchema)]
pub struct PointWithLink {
    pub point: PointView,
    /// Give this to the point's operator; it opens the point console. Only a
    /// hash is kept, so it cannot be shown again: rotate to get a new one.
    pub operator_link: String,
}

/// Points of a session at units in the caller's scope.
#[utoipa::path(get, path = "/sessions/{id}/points", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<PointView>), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn list_points(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<Json<Vec<PointView>>> {
    let session = visible_session(&state, &caller, &id).await?;
    let points = state.db().list_points(session.id, &caller.scope).await?;
    Ok(Json(
        points
            .iter()
            .map(|p| PointView::live(p, state.presence()))
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointInput {
    /// The unit the room belongs to (inside the session's subtree).
    pub unit_code: Option<String>,
    pub name: Option<String>,
    pub location: Option<String>,
    /// `video` (video-conference room) or `broadcast` (room following the TV broadcast).
    pub kind: Option<String>,
    pub capacity: Option<i64>,
    pub operator_name: Option<String>,
    /// Vietnamese phone number, e.g. 0912345678.
    pub operator_phone: Option<String>,
}

async fn point_fields(
    state: &AppState,
    caller: &Caller,
    session_scope_path: &str,
    req: &PointInput,
    old: Option<&PointRecord>,
) -> AppResult<PointFields> {
    let unit = match (&req.unit_code, old) {
        (Some(code), _) => {
            let unit = visible_unit(state, caller, code)
                .await
                .map_err(|e| e.with_field("unit_code"))?;
            if !tree::is_in_subtree(&unit.path, session_scope_path) {
                return Err(AppError::invalid(
                    "point.unit_outside_session",
                    "unit_code",
                    "Đơn vị này không thuộc phạm vi tham gia của buổi học.",
                ));
            }
            unit.id
        }
        (None, Some(p)) => p.unit_id,
        (None, None) => {
            return Err(AppError::invalid(
                "request.invalid_field",
                "unit_code",
                "Thiếu trường \"unit_code\".",
            ));
        }
    };
    let name = match (&req.name, old) {
        (Some(n), _) => {
            parse_name(n, 200).map_err(text_field("name", "point.name_invalid", "Tên điểm cầu"))?
        }
        (None, Some(p)) => p.name.clone(),
        (None, None) => {
            return Err(AppError::invalid(
                "request.invalid_field",
                "name",
                "Thiếu trường \"name\".",
            ));
        }
    };
    let location = match (&req.location, old) {
        (Some(l), _) => parse_optional_text(Some(l), 300).map_err(text_field(
            "location",
            "point.location_invalid",
            "Địa điểm",
        ))?,
        (None, Some(p)) => p.location.clone(),
        (None, None) => None,
    };
    let kind = match (&req.kind, old) {
        (Some(k), _) => PointKind::parse(k).ok_or_else(|| {
            AppError::invalid(
                "point.kind_invalid",
                "kind",
                format!(
                    "Loại điểm cầu không hợp lệ. Dùng một trong: {}.",
                    PointKind::codes()
                ),
            )
        })?,
        (None, Some(p)) => PointKind::parse(&p.kind).unwrap_or(PointKind::Video),
        (None, None) => PointKind::Video,
    };
    let capacity = match (req.capacity, old) {
        (Some(c), _) if !(1..=100_000).contains(&c) => {
            return Err(AppError::invalid(
                "point.capacity_invalid",
                "capacity",
                "Sức chứa phải từ 1 đến 100.000 người.",
            ));
        }
        (Some(c), _) => Some(c),
        (None, Some(p)) => p.capacity,
        (None, None) => None,
    };
    let operator_name = match (&req.operator_name, old) {
        (Some(n), _) => parse_optional_text(Some(n), 120).map_err(text_field(
            "operator_name",
            "point.operator_invalid",
            "Tên người phụ trách",
        ))?,
        (None, Some(p)) => p.operator_name.clone(),
        (None, None) => None,
    };
    let operator_phone = match (&req.operator_phone, old) {
        (Some(p), _) if p.trim().is_empty() => None,
        (Some(p), _) => Some(parse_phone(p).ok_or_else(|| {
            AppError::invalid(
                "point.phone_invalid",
                "operator_phone",
                "Số điện thoại phải có 10 chữ số, bắt đầu bằng 0 (hoặc +84).",
            )
        })?),
        (None, Some(p)) => p.operator_phone.clone(),
        (None, None) => None,
    };
    Ok(PointFields {
        unit_id: unit,
        name,
        location,
        kind,
        capacity,
        operator_name,
        operator_phone,
    })
}

pub fn operator_link(state: &AppState, secret: &str) -> String {
    format!("{}/diem-cau#{secret}", state.config().public_url())
}

/// Registers a connection point for a session and makes its operator link.
#[utoipa::path(post, path = "/sessions/{id}/points", tag = "points", params(("id" = i64, Path)), request_body = PointInput,
    responses((status = 201, body = PointWithLink), (status = 400, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)))]
async fn create_point(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(req): ApiJson<PointInput>,
) -> AppResult<(StatusCode, Json<PointWithLink>)> {
    let session = visible_session(&state, &caller, &id).await?;
    if SessionStatus::parse(&session.status) == Some(SessionStatus::Ended) {
        return Err(AppError::conflict(
            "session.ended",
            "Buổi học đã kết thúc, không thể đăng ký thêm điểm cầu.",
        ));
    }
    let fields = point_fields(&state, &caller, &session.scope_unit_path, &req, None).await?;
    let secret = security::new_secret();
    match state
        .db()
        .create_point(session.id, &fields, &security::hash_token(&secret))
        .await
    {
        Ok(point_id) => {
            state.hub().publish(session.id, TallyEvent::Reload);
            let point = state
                .db()
                .point_by_id(point_id)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("point vanished")))?;
            super::audit::by_account(&state, &caller, "point.registered", Some(format!("point:{}", point.id)),
                serde_json::json!({"session_id": session.id, "unit_code": point.unit_code, "name": point.name})).await;
            Ok((
                StatusCode::CREATED,
                Json(PointWithLink {
                    point: PointView::from(&point),
                    operator_link: operator_link(&state, &secret),
                }),
            ))
        }
        Err(e) if crate::store::is_unique_violation(&e) => Err(AppError::conflict(
            "point.name_taken",
            "Đơn vị này đã có điểm cầu cùng tên trong buổi học.",
        )
        .with_field("name")),
        Err(e) => Err(e.into()),
    }
}

async fn visible_point(state: &AppState, caller: &Caller, raw_id: &str) -> AppResult<PointRecord> {
    let id = parse_id(raw_id, "point.not_found", "điểm cầu")?;
    match state.db().point_by_id(id).await? {
        Some(p) if caller.scope.contains(&p.unit_path) => Ok(p),
        _ => Err(AppError::not_found(
            "point.not_found",
            format!("Không tìm thấy điểm cầu \"{raw_id}\"."),
        )),
    }
}

/// One point.
#[utoipa::path(get, path = "/points/{id}", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = PointView), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn get_point(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<Json<PointView>> {
    Ok(Json(PointView::live(
        &visible_point(&state, &caller, &id).await?,
        state.presence(),
    )))
}

/// Edits a point.
#[utoipa::path(patch, path = "/points/{id}", tag = "points", params(("id" = i64, Path)), request_body = PointInput,
    responses((status = 200, body = PointView), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn update_point(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(req): ApiJson<PointInput>,
) -> AppResult<Json<PointView>> {
    let point = visible_point(&state, &caller, &id).await?;
    let session = state
        .db()
        .session_by_id(point.session_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("session vanished")))?;
    let fields = point_fields(
        &state,
        &caller,
        &session.scope_unit_path,
        &req,
        Some(&point),
    )
    .await?;
    let updated = state.db().update_point(point.id, &fields).await;
    state.hot().forget_point(point.id);
    match updated {
        Ok(()) => state.hub().publish(point.session_id, TallyEvent::Reload),
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "point.name_taken",
                "Đơn vị này đã có điểm cầu cùng tên trong buổi học.",
            )
            .with_field("name"));
        }
        Err(e) => return Err(e.into()),
    }
    let point = state
        .db()
        .point_by_id(point.id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("point vanished")))?;
    Ok(Json(PointView::live(&point, state.presence())))
}

/// Removes a point that has no attendance recorded.
#[utoipa::path(delete, path = "/points/{id}", tag = "points", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)))]
async fn delete_point(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    let point = visible_point(&state, &caller, &id).await?;
    let deleted = state.db().delete_point(point.id).await?;
    state.hot().forget_point(point.id);
    if deleted {
        state.links().set(point.id, None);
        state.hub().publish(point.session_id, TallyEvent::Reload);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::conflict(
            "point.in_use",
            "Không thể xóa: điểm cầu đã có dữ liệu điểm danh.",
        ))
    }
}

/// Makes a new operator link; the old one stops working at once.
#[utoipa::path(post, path = "/points/{id}/operator-link", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = PointWithLink), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn rotate_operator_link(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<Json<PointWithLink>> {
    let point = visible_point(&state, &caller, &id).await?;
    let secret = security::new_secret();
    let hash = security::hash_token(&secret);
    state.db().set_operator_token(point.id, Some(&hash)).await?;
    state.links().set(point.id, Some(hash));
    let point = state
        .db()
        .point_by_id(point.id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("point vanished")))?;
    tracing::info!(
        point = point.id,
        account = caller.account.id,
        "operator link rotated"
    );
    super::audit::by_account(
        &state,
        &caller,
        "point.link_rotated",
        Some(format!("point:{}", point.id)),
        serde_json::json!({"name": point.name}),
    )
    .await;
    Ok(Json(PointWithLink {
        point: PointView::from(&point),
        operator_link: operator_link(&state, &secret),
    }))
}

/// Revokes the operator link; the console stops working until a new one is made.
#[utoipa::path(delete, path = "/points/{id}/operator-link", tag = "points", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn revoke_operator_link(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    let point = visible_point(&state, &caller, &id).await?;
    state.db().set_operator_token(point.id, None).await?;
    state.links().set(point.id, None);
    tracing::info!(
        point = point.id,
        account = caller.account.id,
        "operator link revoked"
    );
    super::audit::by_account(
        &state,
        &caller,
        "point.link_revoked",
        Some(format!("point:{}", point.id)),
        serde_json::json!({"name": point.name}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
