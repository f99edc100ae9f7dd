//! Self check-in by members: the phone opens the link in the point's QR code
//! (`/c/<token>`), the page posts the member code, the server answers.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiJson, ApiPath, ts};
use crate::app::AppState;
use crate::attendance::{self, CheckinAnswer, CheckinCommand};
use crate::domain::tokens::{self, TokenError};
use crate::domain::{CheckinMethod, SessionStatus, time};
use crate::error::{AppError, AppResult};
use crate::store::points::PointRecord;
use crate::store::sessions::SessionRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(self_checkin))
        .routes(routes!(checkin_info))
}

/// Turns a refused answer into the error envelope with a fitting status.
pub fn refusal_error(code: &str, message: &str) -> AppError {
    let (status, code): (StatusCode, &'static str) = match code {
        "session.not_open" => (StatusCode::CONFLICT, "session.not_open"),
        "session.closed" => (StatusCode::CONFLICT, "session.closed"),
        "session.ended" => (StatusCode::CONFLICT, "session.ended"),
        "member.unknown" => (StatusCode::NOT_FOUND, "member.unknown"),
        "member.outside_session" => (StatusCode::FORBIDDEN, "member.outside_session"),
        "checkin.bad_time" => (StatusCode::BAD_REQUEST, "checkin.bad_time"),
        _ => (StatusCode::BAD_REQUEST, "checkin.refused"),
    };
    AppError::new(status, code, message.to_string())
}

fn token_error(err: TokenError) -> AppError {
    match err {
        TokenError::Expired => AppError::new(
            StatusCode::GONE,
            "checkin.token_expired",
            "Mã QR đã hết hạn. Hãy quét lại mã đang hiển thị trên màn hình tại điểm cầu.",
        ),
        TokenError::Forged => AppError::invalid(
            "checkin.token_forged",
            "token",
            "Mã QR không đúng (đã bị sửa hoặc giả mạo).",
        ),
        TokenError::Malformed => {
            AppError::invalid("checkin.token_invalid", "token", "Mã QR không hợp lệ.")
        }
    }
}

/// Resolves a point QR token to its point and session.
async fn point_of_token(
    state: &AppState,
    token: &str,
) -> AppResult<(Arc<PointRecord>, Arc<SessionRecord>)> {
    let point_id =
        tokens::verify_qr(&state.keys().qr, token, time::now_ms()).map_err(token_error)?;
    let point = state
        .hot()
        .point(state.db(), point_id)
        .await?
        .ok_or_else(|| AppError::not_found("point.not_found", "Điểm cầu này không còn tồn tại."))?;
    let session = state
        .hot()
        .session(state.db(), point.session_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("session vanished")))?;
    Ok((point, session))
}

#[derive(Serialize, ToSchema)]
pub struct CheckinInfo {
    pub point: String,
    pub unit: String,
    pub theme: String,
    pub status: SessionStatus,
    pub starts_at: chrono::DateTime<chrono::FixedOffset>,
    /// When this QR code stops being accepted.
    pub valid_until: chrono::DateTime<chrono::FixedOffset>,
}

/// What a QR code opens: the point and session, for the page to show.
#[utoipa::path(get, path = "/checkin/{token}", tag = "checkin", params(("token" = String, Path)),
    responses((status = 200, body = CheckinInfo), (status = 410, body = crate::error::ErrorEnvelope)))]
async fn checkin_info(
    State(state): State<AppState>,
    ApiPath(token): ApiPath,
) -> AppResult<Json<CheckinInfo>> {
    let (point, session) = point_of_token(&state, &token).await?;
    let period = token
        .split('.')
        .nth(1)
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(0);
    Ok(Json(CheckinInfo {
        point: point.name.clone(),
        unit: point.unit_name.clone(),
        theme: session.theme.clone(),
        status: SessionStatus::parse(&session.status).unwrap_or(SessionStatus::Scheduled),
        starts_at: ts(session.starts_at),
        valid_until: ts((period + 2) * tokens::QR_PERIOD_MS),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfCheckin {
    /// The token from the QR code's link.
    pub token: String,
    pub member_code: String,
    /// An id made on the phone; resending it returns the same answer.
    pub client_id: Option<String>,
    /// A random id the page keeps on the phone (8–64 of `[A-Za-z0-9_-]`):
    /// only its hash is stored, to flag one phone checking in many members.
    pub device: Option<String>,
}

/// Checks a member in at the point whose QR code was scanned.
#[utoipa::path(post, path = "/checkin", tag = "checkin", request_body = SelfCheckin,
    responses((status = 200, body = CheckinAnswer, description = "checked_in or already_checked_in"),
              (status = 404, body = crate::error::ErrorEnvelope, description = "member.unknown"),
              (status = 409, body = crate::error::ErrorEnvelope, description = "session.not_open / closed / ended"),
              (status = 410, body = crate::error::ErrorEnvelope, description = "checkin.token_expired"),
              (status = 429, body = crate::error::ErrorEnvelope)))]
async fn self_checkin(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SelfCheckin>,
) -> AppResult<Json<CheckinAnswer>> {
    let code = req.member_code.trim();
    if code.is_empty() || code.chars().count() > 64 {
        return Err(AppError::invalid(
            "member.code_invalid",
            "member_code",
            "Hãy nhập mã thành viên (mã trên thẻ).",
        ));
    }
    let client_id = check_client_id(req.client_id.as_deref())?;
    let device = device_hash(req.device.as_deref())?;
    let (point, session) = point_of_token(&state, &req.token).await?;
    let now = time::now_ms();
    if !state.limits().per_member.allow(&format!("m:{code}"), now)
        || !state
            .limits()
            .per_point
            .allow(&format!("p:{}", point.id), now)
    {
        return Err(rate_limited());
    }
    let answer = attendance::check_in(
        state.checkins(),
        CheckinCommand {
            session: &session,
            point: Some(&point),
            member_code: code,
            method: CheckinMethod::QrSelf,
            source: Some(format!("m:{code}")),
            client_id,
            taken_at: None,
            replayed: false,
            device,
        },
    )
    .await?;
    match answer {
        CheckinAnswer::Refused { code, message } => Err(refusal_error(&code, &message)),
        answer => Ok(Json(answer)),
    }
}

/// Too many check-in attempts for one member code, point or device.
pub fn rate_limited() -> AppError {
    AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "checkin.rate_limited",
        "Quá nhiều lần điểm danh trong thời gian ngắn. Vui lòng chờ một phút rồi thử lại.",
    )
}

/// The stored form of a phone's device id: the first 16 hex digits of its
/// SHA-256 (enough to tell phones apart at one point, not to track them).
pub fn device_hash(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw {
        None => Ok(None),
        Some(id)
            if (8..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(Some(crate::security::hash_token(id)[..16].to_string()))
        }
        Some(_) => Err(AppError::invalid(
            "request.invalid_field",
            "device",
            "Mã thiết bị (device) phải gồm 8–64 ký tự chữ, số, '_' hoặc '-'.",
        )),
    }
}

/// A client-generated operation id: 1–64 printable ASCII characters.
pub fn check_client_id(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw {
        None => Ok(None),
        Some(id)
            if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(Some(id.to_string()))
        }
        Some(_) => Err(AppError::invalid(
            "request.invalid_field",
            "client_id",
            "Mã thao tác (client_id) phải gồm 1–64 ký tự ASCII in được.",
        )),
    }
}
