//! The point operator: no account, only the secret of the operator link,
//! sent as `Authorization: Operator <secret>`. It opens its own point only.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::{StatusCode, request::Parts};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::points::PointView;
use super::sessions::SessionView;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::security;
use crate::store::points::PointRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(my_point))
}

/// The point whose operator link the caller holds.
pub struct PointOperator(pub PointRecord);

impl FromRequestParts<AppState> for PointOperator {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Operator "))
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or_else(|| {
                AppError::new(
                    StatusCode::UNAUTHORIZED,
                    "operator.link_required",
                    "Cần mở bằng đường dẫn điểm cầu được cấp.",
                )
            })?;
        match state
            .db()
            .point_by_operator_token(&security::hash_token(secret))
            .await?
        {
            Some(point) => Ok(PointOperator(point)),
            None => Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "operator.link_invalid",
                "Đường dẫn điểm cầu không còn hiệu lực (đã được thay hoặc thu hồi). Hãy liên hệ ban tổ chức để nhận đường dẫn mới.",
            )),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OperatorView {
    pub point: PointView,
    pub session: SessionView,
}

/// The operator's own point and its session.
#[utoipa::path(get, path = "/operator/point", tag = "operator",
    responses((status = 200, body = OperatorView), (status = 401, body = crate::error::ErrorEnvelope)),
    security(("operator_link" = [])))]
async fn my_point(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
) -> AppResult<Json<OperatorView>> {
    let session = state
        .db()
        .session_by_id(point.session_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("session vanished")))?;
    Ok(Json(OperatorView {
        point: PointView::from(&point),
        session: SessionView::from(&session),
    }))
}
