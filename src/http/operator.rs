//! The point operator: no account, only the secret of the operator link,
//! sent as `Authorization: Operator <secret>`. It reaches its own point only:
//! the point's rotating QR code, its roster, check-ins (roster tick, member
//! card), absences, head counts and undo. The console does the same over
//! WebSocket (`ws/`); these HTTP routes serve other clients and batches.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::checkin::check_client_id;
use super::points::PointView;
use super::sessions::SessionView;
use super::{ApiJson, ts};
use crate::app::AppState;
use crate::attendance::{self, CheckinAnswer, CheckinCommand, UNDO_WINDOW_MS};
use crate::domain::tally::TallyEvent;
use crate::domain::tokens;
use crate::domain::{Category, CheckinMethod, time};
use crate::error::{AppError, AppResult};
use crate::security;
use crate::store::points::PointRecord;
use crate::store::sessions::SessionRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_point))
        .routes(routes!(current_qr))
        .routes(routes!(current_qr_png))
        .routes(routes!(roster))
        .routes(routes!(batch_checkins))
        .routes(routes!(report_head_count))
        .routes(routes!(mark_absent))
        .routes(routes!(undo_checkin))
        .routes(routes!(ws_ticket))
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
            None => Err(link_invalid()),
        }
    }
}

pub fn link_invalid() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "operator.link_invalid",
        "Đường dẫn điểm cầu không còn hiệu lực (đã được thay hoặc thu hồi). Hãy liên hệ ban tổ chức để nhận đường dẫn mới.",
    )
}

async fn session_of(
    state: &AppState,
    point: &PointRecord,
) -> AppResult<std::sync::Arc<SessionRecord>> {
    state
        .hot()
        .session(state.db(), point.session_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("session vanished")))
}

/// Counts the console shows.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
pub struct PointStats {
    /// Members checked in at this point.
    pub checked_in: i64,
    /// The latest head count of people not on any roster.
    pub head_count: Option<i64>,
}

pub async fn point_stats(state: &AppState, point_id: i64) -> AppResult<PointStats> {
    Ok(PointStats {
        checked_in: state.db().point_checkin_count(point_id).await?,
        head_count: state.db().latest_head_count(point_id).await?,
    })
}

#[derive(Serialize, ToSchema)]
pub struct OperatorView {
    pub point: PointView,
    pub session: SessionView,
    pub stats: PointStats,
    /// ECDSA P-256 public key (SEC1 uncompressed, base64url) for verifying
    /// member cards offline.
    pub card_public_key: String,
    /// How long after a check-in the operator may still annul it.
    pub undo_window_seconds: i64,
    pub server_time: chrono::DateTime<chrono::FixedOffset>,
}

pub async fn operator_view(state: &AppState, point: &PointRecord) -> AppResult<OperatorView> {
    let session = session_of(state, point).await?;
    Ok(OperatorView {
        point: PointView::from(point),
        session: SessionView::from(&*session),
        stats: point_stats(state, point.id).await?,
        card_public_key: state.keys().cards.public_key(),
        undo_window_seconds: UNDO_WINDOW_MS / 1000,
        server_time: ts(time::now_ms()),
    })
}

/// The operator's own point, its session and counts.
#[utoipa::path(get, path = "/operator/point", tag = "operator",
    responses((status = 200, body = OperatorView), (status = 401, body = crate::error::ErrorEnvelope)),
    security(("operator_link" = [])))]
async fn my_point(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
) -> AppResult<Json<OperatorView>> {
    Ok(Json(operator_view(&state, &point).await?))
}

/// The point's current QR code: show it on the room screen.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct QrView {
    pub token: String,
    /// The link the QR code encodes (the member check-in page).
    pub link: String,
    /// When the next code replaces this one (the previous one is still
    /// accepted for one more period).
    pub expires_at: chrono::DateTime<chrono::FixedOffset>,
    /// The QR code as an SVG image.
    pub svg: String,
}

pub fn qr_view(state: &AppState, point_id: i64) -> AppResult<QrView> {
    let (token, expires) = tokens::issue_qr(&state.keys().qr, point_id, time::now_ms());
    let link = format!("{}/c/{token}", state.config().public_url());
    Ok(QrView {
        svg: super::qr::svg(&link)?,
        token,
        link,
        expires_at: ts(expires),
    })
}

/// The point's current QR code (changes every 20 seconds).
#[utoipa::path(get, path = "/operator/qr", tag = "operator",
    responses((status = 200, body = QrView), (status = 401, body = crate::error::ErrorEnvelope)), security(("operator_link" = [])))]
async fn current_qr(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
) -> AppResult<Json<QrView>> {
    Ok(Json(qr_view(&state, point.id)?))
}

/// The current QR code as a PNG image.
#[utoipa::path(get, path = "/operator/qr.png", tag = "operator",
    responses((status = 200, content_type = "image/png", body = Vec<u8>)), security(("operator_link" = [])))]
async fn current_qr_png(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
) -> AppResult<impl IntoResponse> {
    let qr = qr_view(&state, point.id)?;
    let png = super::qr::png(&qr.link, 512)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct RosterLine {
    pub code: String,
    pub full_name: String,
    pub category: Category,
    pub unit_code: String,
    pub unit_name: String,
    pub checked_in_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Where the member checked in (this point or another).
    pub checked_in_point: Option<String>,
    /// The point's id, to tell "checked in here" from elsewhere.
    pub checked_in_point_id: Option<i64>,
    pub checkin_method: Option<CheckinMethod>,
    pub absent: bool,
    pub absent_reason: Option<String>,
}

/// The roster of the point's unit and its subunits, in Vietnamese order,
/// with who has checked in (anywhere) and who is marked absent.
#[utoipa::path(get, path = "/operator/roster", tag = "operator",
    responses((status = 200, body = Vec<RosterLine>)), security(("operator_link" = [])))]
async fn roster(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
) -> AppResult<Json<Vec<RosterLine>>> {
    let entries = state
        .db()
        .point_roster(point.session_id, &point.unit_path)
        .await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| RosterLine {
                category: Category::parse(&e.category).unwrap_or(Category::Guest),
                checkin_method: e.checkin_method.as_deref().and_then(CheckinMethod::parse),
                checked_in_at: e.checked_in_at.map(ts),
                code: e.code,
                full_name: e.full_name,
                unit_code: e.unit_code,
                unit_name: e.unit_name,
                checked_in_point: e.checked_in_point,
                checked_in_point_id: e.checked_in_point_id,
                absent: e.absent,
                absent_reason: e.absent_reason,
            })
            .collect(),
    ))
}

/// One check-in taken by an operator.
#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OperatorCheckin {
    /// Made on the device; resending the same id returns the same answer.
    pub id: String,
    /// `roster` (ticked from the list) or `card` (member card scanned).
    pub method: CheckinMethod,
    /// For `roster`.
    pub member_code: Option<String>,
    /// For `card`: the text of the card's QR code.
    pub card: Option<String>,
    /// When it was taken on the device (RFC 3339).
    pub taken_at: Option<super::ClientTime>,
    /// True when sent from the offline queue.
    #[serde(default)]
    pub replayed: bool,
    /// When given, must be this point's session.
    pub session_id: Option<i64>,
    /// When given, must be this point.
    pub point_id: Option<i64>,
}

/// Takes one operator check-in (shared by the HTTP batch and the WebSocket),
/// with the point's live check-ins when they were counted alongside.
pub async fn operator_checkin(
    state: &AppState,
    point: &PointRecord,
    session: &SessionRecord,
    item: &OperatorCheckin,
) -> AppResult<(CheckinAnswer, Option<i64>)> {
    if check_client_id(Some(&item.id)).is_err() {
        return Ok((
            CheckinAnswer::refused(
                "request.invalid_field",
                "Mã thao tác (id) phải gồm 1–64 ký tự ASCII in được.",
            ),
            None,
        ));
    }
    if item.session_id.is_some_and(|s| s != session.id) {
        return Ok((
            CheckinAnswer::refused(
                "checkin.wrong_session",
                "Thao tác này thuộc một buổi học khác với buổi học của điểm cầu.",
            ),
            None,
        ));
    }
    if item.point_id.is_some_and(|p| p != point.id) {
        return Ok((
            CheckinAnswer::refused(
                "checkin.wrong_point",
                "Thao tác này thuộc một điểm cầu khác.",
            ),
            None,
        ));
    }
    let member_code = match (item.method, &item.member_code, &item.card) {
        (CheckinMethod::Card, _, Some(card)) => match state.keys().cards.verify(card) {
            Ok(code) => code,
            Err(tokens::TokenError::Forged) => {
                return Ok((
                    CheckinAnswer::refused(
                        "card.forged",
                        "Thẻ không hợp lệ: chữ ký không đúng (thẻ giả hoặc bị sửa).",
                    ),
                    None,
                ));
            }
            Err(_) => {
                return Ok((
                    CheckinAnswer::refused(
                        "card.invalid",
                        "Không đọc được mã trên thẻ thành viên.",
                    ),
                    None,
                ));
            }
        },
        (CheckinMethod::Roster, Some(code), _) if !code.trim().is_empty() && code.len() <= 64 => {
            code.trim().to_string()
        }
        (CheckinMethod::Roster | CheckinMethod::Card, _, _) => {
            return Ok((
                CheckinAnswer::refused(
                    "request.invalid_field",
                    "Điểm danh theo danh sách cần member_code; quét thẻ cần card.",
                ),
                None,
            ));
        }
        _ => {
            return Ok((
                CheckinAnswer::refused(
                    "checkin.method_invalid",
                    "Điểm cầu chỉ điểm danh theo danh sách (roster) hoặc quét thẻ (card).",
                ),
                None,
            ));
        }
    };
    Ok(attendance::check_in_counted(
        state.checkins(),
        CheckinCommand {
            session,
            point: Some(point),
            member_code: &member_code,
            method: item.method,
            source: Some(format!("p:{}", point.id)),
            client_id: Some(item.id.clone()),
            taken_at: item.taken_at.map(|t| t.0.timestamp_millis()),
            replayed: item.replayed,
            device: None,
        },
        true,
    )
    .await?)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinBatch {
    /// Up to 500 check-ins, applied in order.
    pub items: Vec<OperatorCheckin>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    pub id: String,
    pub answer: CheckinAnswer,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
    pub stats: PointStats,
}

/// Check-ins in a batch (e.g. an offline queue), each answered on its own;
/// every answer given is durable.
#[utoipa::path(post, path = "/operator/checkins", tag = "operator", request_body = CheckinBatch,
    responses((status = 200, body = BatchResponse), (status = 400, body = crate::error::ErrorEnvelope)), security(("operator_link" = [])))]
async fn batch_checkins(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
    ApiJson(batch): ApiJson<CheckinBatch>,
) -> AppResult<Json<BatchResponse>> {
    if batch.items.is_empty() || batch.items.len() > 500 {
        return Err(AppError::invalid(
            "request.invalid_field",
            "items",
            "Mỗi lần gửi từ 1 đến 500 lượt điểm danh.",
        ));
    }
    let session = session_of(&state, &point).await?;
    // All at once: they reach the writer in order (so a member twice in the
    // batch is taken the first time) and share its transactions.
    let answers = futures_util::future::join_all(
        batch
            .items
            .iter()
            .map(|item| operator_checkin(&state, &point, &session, item)),
    )
    .await;
    let mut results = Vec::with_capacity(batch.items.len());
    for (item, answer) in batch.items.iter().zip(answers) {
        results.push(BatchResult {
            id: item.id.clone(),
            answer: answer?.0,
        });
    }
    Ok(Json(BatchResponse {
        results,
        stats: point_stats(&state, point.id).await?,
    }))
}

#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct HeadCountReport {
    pub id: Option<String>,
    /// People in the room who are not on any roster (guests, the public).
    pub count: i64,
    pub taken_at: Option<super::ClientTime>,
}

pub async fn head_count(
    state: &AppState,
    point: &PointRecord,
    report: &HeadCountReport,
) -> AppResult<PointStats> {
    if !(0..=100_000).contains(&report.count) {
        return Err(AppError::invalid(
            "headcount.invalid",
            "count",
            "Số người phải từ 0 đến 100.000.",
        ));
    }
    let source = format!("p:{}", point.id);
    let id = check_client_id(report.id.as_deref())?;
    if let Some(id) = &id
        && state.db().operation_answer(&source, id).await?.is_some()
    {
        return point_stats(state, point.id).await; // already applied
    }
    let taken_at = report
        .taken_at
        .map(|t| t.0.timestamp_millis())
        .unwrap_or_else(time::now_ms)
        .min(time::now_ms() + 300_000);
    let report_id = state
        .db()
        .record_head_count(point.id, report.count, taken_at)
        .await?;
    state.hub().publish(
        point.session_id,
        TallyEvent::HeadCount {
            point_id: point.id,
            report_id,
            taken_at,
            count: report.count,
        },
    );
    if let Some(id) = &id {
        state
            .db()
            .save_operation_answer(&source, id, "head_count")
            .await?;
    }
    point_stats(state, point.id).await
}

/// Reports how many people not on any roster are in the room; the latest
/// report counts.
#[utoipa::path(post, path = "/operator/head-count", tag = "operator", request_body = HeadCountReport,
    responses((status = 200, body = PointStats), (status = 400, body = crate::error::ErrorEnvelope)), security(("operator_link" = [])))]
async fn report_head_count(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
    ApiJson(report): ApiJson<HeadCountReport>,
) -> AppResult<Json<PointStats>> {
    Ok(Json(head_count(&state, &point, &report).await?))
}

#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AbsenceReport {
    pub id: Option<String>,
    pub member_code: String,
    /// e.g. "ốm", "công tác" (vắng có lý do); absent without one when empty.
    pub reason: Option<String>,
    pub taken_at: Option<super::ClientTime>,
}

pub async fn absence(
    state: &AppState,
    point: &PointRecord,
    report: &AbsenceReport,
) -> AppResult<()> {
    let member = state
        .db()
        .member_by_code(report.member_code.trim())
        .await?
        .filter(|m| crate::domain::tree::is_in_subtree(&m.unit_path, &point.unit_path))
        .ok_or_else(|| {
            AppError::not_found(
                "member.unknown",
                "Không tìm thấy thành viên này trong danh sách của điểm cầu.",
            )
        })?;
    let reason = crate::domain::parse_optional_text(report.reason.as_deref(), 300).map_err(
        super::text_field("reason", "absence.reason_invalid", "Lý do vắng"),
    )?;
    // The same id is applied once: a replayed absence must not overwrite a
    // later change (or refuse because the member has checked in since).
    let source = format!("p:{}", point.id);
    let id = check_client_id(report.id.as_deref())?;
    if let Some(id) = &id
        && state.db().operation_answer(&source, id).await?.is_some()
    {
        return Ok(());
    }
    if state
        .db()
        .live_checkin(point.session_id, member.id)
        .await?
        .is_some()
    {
        return Err(AppError::conflict(
            "absence.checked_in",
            format!(
                "{} đã điểm danh có mặt; hãy hủy lượt điểm danh trước khi báo vắng.",
                member.full_name
            ),
        ));
    }
    let taken_at = report
        .taken_at
        .map(|t| t.0.timestamp_millis())
        .unwrap_or_else(time::now_ms);
    state
        .db()
        .record_absence(
            point.session_id,
            member.id,
            point.id,
            reason.as_deref(),
            taken_at,
        )
        .await?;
    if let Some(id) = &id {
        state
            .db()
            .save_operation_answer(&source, id, "absent")
            .await?;
    }
    Ok(())
}

/// Marks a roster member absent, with a reason (vắng có lý do).
#[utoipa::path(post, path = "/operator/absences", tag = "operator", request_body = AbsenceReport,
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)), security(("operator_link" = [])))]
async fn mark_absent(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
    ApiJson(report): ApiJson<AbsenceReport>,
) -> AppResult<StatusCode> {
    absence(&state, &point, &report).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct UndoRequest {
    pub id: Option<String>,
    pub member_code: String,
    pub reason: Option<String>,
    /// When the operator pressed undo (an undo queued offline is judged by
    /// this, not by when it arrives).
    pub taken_at: Option<super::ClientTime>,
}

pub async fn undo(
    state: &AppState,
    point: &PointRecord,
    req: &UndoRequest,
) -> AppResult<PointStats> {
    let not_found = || {
        AppError::not_found(
            "checkin.not_found",
            "Không có lượt điểm danh nào của thành viên này tại điểm cầu để hủy.",
        )
    };
    // An undo sent again (its answer was lost) must not annul a check-in
    // taken after it: the same id is applied once.
    let source = format!("p:{}", point.id);
    let id = check_client_id(req.id.as_deref())?;
    if let Some(id) = &id
        && state.db().operation_answer(&source, id).await?.is_some()
    {
        return point_stats(state, point.id).await; // already applied
    }
    let member = state
        .db()
        .member_by_code(req.member_code.trim())
        .await?
        .ok_or_else(not_found)?;
    let Some(checkin) = state.db().live_checkin(point.session_id, member.id).await? else {
        return Err(not_found());
    };
    if checkin.point_id != Some(point.id) {
        return Err(not_found());
    }
    let reason = crate::domain::parse_optional_text(req.reason.as_deref(), 300).map_err(
        super::text_field("reason", "undo.reason_invalid", "Lý do hủy"),
    )?;
    // The undo window runs from when the check-in was taken to when undo was
    // pressed (a device time in the future is not believed).
    let now = time::now_ms();
    let pressed_at = req
        .taken_at
        .map(|t| t.0.timestamp_millis())
        .filter(|t| *t <= now)
        .unwrap_or(now);
    let not_before = pressed_at - UNDO_WINDOW_MS;
    // A resend of the check-in's own operation id still gets its answer.
    let first_answer = crate::attendance::resent_answer(&member, &checkin);
    let made_by = match (&checkin.source, &checkin.client_id) {
        (Some(s), Some(c)) => Some((s.as_str(), c.as_str(), first_answer.as_str())),
        _ => None,
    };
    if !state
        .db()
        .annul_checkin(checkin.id, point.id, not_before, reason.as_deref(), made_by)
        .await?
    {
        return Err(AppError::conflict(
            "checkin.undo_expired",
            format!(
                "Chỉ hủy được lượt điểm danh trong vòng {} phút.",
                UNDO_WINDOW_MS / 60_000
            ),
        ));
    }
    if let Some(id) = &id {
        state
            .db()
            .save_operation_answer(&source, id, "undo")
            .await?;
    }
    tracing::info!(point = point.id, checkin = checkin.id, "check-in annulled");
    super::audit::by_operator(
        state,
        point,
        "checkin.annulled",
        Some(format!("member:{}", member.code)),
        serde_json::json!({"checkin_id": checkin.id, "reason": reason}),
    )
    .await;
    state.hub().publish(
        point.session_id,
        TallyEvent::Annulled {
            checkin_id: checkin.id,
        },
    );
    point_stats(state, point.id).await
}

/// Annuls a check-in made at this point within the last 10 minutes. It is
/// kept, marked annulled; the member may check in again.
#[utoipa::path(post, path = "/operator/undo", tag = "operator", request_body = UndoRequest,
    responses((status = 200, body = PointStats), (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)), security(("operator_link" = [])))]
async fn undo_checkin(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
    ApiJson(req): ApiJson<UndoRequest>,
) -> AppResult<Json<PointStats>> {
    Ok(Json(undo(&state, &point, &req).await?))
}

#[derive(Serialize, ToSchema)]
pub struct WsTicket {
    /// Connect to `/api/operator/ws?ticket=<ticket>&v=1` within a minute.
    pub ticket: String,
    pub expires_at: chrono::DateTime<chrono::FixedOffset>,
}

/// A short-lived ticket to open the console WebSocket (browsers cannot send
/// an Authorization header on a WebSocket).
#[utoipa::path(post, path = "/operator/ws-ticket", tag = "operator",
    responses((status = 200, body = WsTicket), (status = 401, body = crate::error::ErrorEnvelope)), security(("operator_link" = [])))]
async fn ws_ticket(
    State(state): State<AppState>,
    PointOperator(point): PointOperator,
) -> AppResult<Json<WsTicket>> {
    let hash = state
        .db()
        .operator_token_hash(point.id)
        .await?
        .ok_or_else(link_invalid)?;
    let expires = time::now_ms() + 60_000;
    Ok(Json(WsTicket {
        ticket: crate::ws::ticket::issue(&state.keys().qr, point.id, expires, &hash),
        expires_at: ts(expires),
    }))
}
