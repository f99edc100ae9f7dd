//! Study sessions: theme, host, the subtree expected to take part, schedule,
//! check-in window and broadcast.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::units::visible_unit;
use super::{ApiJson, ApiPath, ApiQuery, ClientTime, Paging, parse_id, text_field, ts};
use crate::app::AppState;
use crate::domain::{SessionStatus, parse_name, parse_optional_text, parse_url};
use crate::error::{AppError, AppResult};
use crate::store::sessions::{SessionFields, SessionRecord};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions, create_session))
        .routes(routes!(get_session, update_session))
        .routes(routes!(set_status))
}

/// Longest session accepted: a conference is a few hours, a week is plenty.
const MAX_SESSION_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Serialize, ToSchema)]
pub struct UnitRef {
    pub code: String,
    pub name: String,
}

/// The TV broadcast and stream of a session.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Broadcast {
    /// e.g. "Kênh TN1 – Đài Phát thanh và Truyền hình tỉnh"
    pub tv_channel: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, deserialize_with = "optional_client_time")]
    pub air_time: Option<DateTime<FixedOffset>>,
    /// Live stream address (http/https).
    pub stream_url: Option<String>,
    /// Recording address, for self-study afterwards.
    pub recording_url: Option<String>,
}

/// Reads a time like every other client time: the offset is optional.
fn optional_client_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    Ok(Option::<ClientTime>::deserialize(d)?.map(|t| t.0))
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub theme: String,
    pub description: Option<String>,
    /// The unit that hosts the conference.
    pub host: UnitRef,
    /// The root of the subtree expected to take part.
    pub scope: UnitRef,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    pub checkin_opens_at: DateTime<FixedOffset>,
    pub checkin_closes_at: DateTime<FixedOffset>,
    pub status: SessionStatus,
    pub status_label: String,
    pub broadcast: Broadcast,
    /// Connection points registered (in the whole session).
    pub point_count: i64,
    /// Whether the caller may edit the session and move its status (its
    /// subtree lies inside the caller's).
    pub can_edit: bool,
    /// Share of the recording a member must watch to count as studied by
    /// make-up (0.5–1, default 0.8).
    pub makeup_threshold: f64,
}

impl SessionView {
    /// The view for a signed-in caller, with `can_edit` filled in.
    pub fn for_caller(s: &SessionRecord, caller: &Caller) -> Self {
        let mut view = SessionView::from(s);
        view.can_edit = caller.scope.contains(&s.scope_unit_path);
        view
    }
}

impl From<&SessionRecord> for SessionView {
    fn from(s: &SessionRecord) -> Self {
        let status = SessionStatus::parse(&s.status).unwrap_or(SessionStatus::Scheduled);
        SessionView {
            id: s.id,
            theme: s.theme.clone(),
            description: s.description.clone(),
            host: UnitRef {
                code: s.host_unit_code.clone(),
                name: s.host_unit_name.clone(),
            },
            scope: UnitRef {
                code: s.scope_unit_code.clone(),
                name: s.scope_unit_name.clone(),
            },
            starts_at: ts(s.starts_at),
            ends_at: ts(s.ends_at),
            checkin_opens_at: ts(s.checkin_opens_at),
            checkin_closes_at: ts(s.checkin_closes_at),
            status,
            status_label: status.label().to_string(),
            broadcast: Broadcast {
                tv_channel: s.tv_channel.clone(),
                air_time: s.air_time.map(ts),
                stream_url: s.stream_url.clone(),
                recording_url: s.recording_url.clone(),
            },
            point_count: s.point_count,
            can_edit: false,
            makeup_threshold: s.makeup_threshold,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// Only sessions in this state.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Sessions whose subtree overlaps the caller's, newest first.
#[utoipa::path(get, path = "/sessions", tag = "sessions", params(SessionQuery),
    responses((status = 200, body = Vec<SessionView>)))]
async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SessionQuery>,
) -> AppResult<Json<Vec<SessionView>>> {
    let (limit, offset) = Paging {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve()?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(SessionStatus::parse(s).ok_or_else(|| {
            AppError::invalid(
                "request.invalid_query",
                "status",
                format!(
                    "Trạng thái không hợp lệ. Dùng một trong: {}.",
                    SessionStatus::codes()
                ),
            )
        })?),
    };
    let sessions = state
        .db()
        .list_sessions(&caller.scope, status, limit, offset)
        .await?;
    Ok(Json(
        sessions
            .iter()
            .map(|s| SessionView::for_caller(s, &caller))
            .collect(),
    ))
}

/// A session the caller may see: its subtree overlaps the caller's.
pub async fn visible_session(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> AppResult<SessionRecord> {
    let id = parse_id(raw_id, "session.not_found", "buổi học")?;
    match state.db().session_by_id(id).await? {
        Some(s)
            if caller.scope.contains(&s.scope_unit_path)
                || s.scope_unit_path.len() <= caller.scope.root_path().len()
                    && caller.scope.root_path().starts_with(&s.scope_unit_path) =>
        {
            Ok(s)
        }
        _ => Err(AppError::not_found(
            "session.not_found",
            format!("Không tìm thấy buổi học \"{raw_id}\"."),
        )),
    }
}

/// A session the caller may change: its subtree lies inside the caller's.
pub async fn editable_session(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> AppResult<SessionRecord> {
    let session = visible_session(state, caller, raw_id).await?;
    if !caller.scope.contains(&session.scope_unit_path) {
        return Err(AppError::forbidden());
    }
    Ok(session)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// e.g. "Nêu cao tinh thần trách nhiệm, linh hoạt, sáng tạo, hành động quyết liệt…"
    pub theme: String,
    pub description: Option<String>,
    pub host_unit_code: String,
    /// Root of the subtree expected to take part; the host when absent.
    pub scope_unit_code: Option<String>,
    pub starts_at: ClientTime,
    pub ends_at: ClientTime,
    /// One hour before the start when absent.
    pub checkin_opens_at: Option<ClientTime>,
    /// The end of the session when absent.
    pub checkin_closes_at: Option<ClientTime>,
    #[serde(default)]
    pub broadcast: Broadcast,
    /// Share of the recording to watch for make-up, 0.5–1 (default 0.8).
    pub makeup_threshold: Option<f64>,
}

/// Checked broadcast: channel, air time (ms), stream and recording addresses.
type BroadcastFields = (Option<String>, Option<i64>, Option<String>, Option<String>);

fn check_broadcast(b: &Broadcast) -> AppResult<BroadcastFields> {
    let channel = parse_optional_text(b.tv_channel.as_deref(), 200).map_err(text_field(
        "broadcast.tv_channel",
        "session.channel_invalid",
        "Kênh truyền hình",
    ))?;
    let url = |raw: &Option<String>, field: &str| -> AppResult<Option<String>> {
        match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => parse_url(s).map(Some).ok_or_else(|| {
                AppError::invalid(
                    "session.url_invalid",
                    field,
                    "Địa chỉ phải bắt đầu bằng http:// hoặc https:// và không chứa khoảng trắng.",
                )
            }),
        }
    };
    let stream = url(&b.stream_url, "broadcast.stream_url")?;
    let recording = url(&b.recording_url, "broadcast.recording_url")?;
    Ok((
        channel,
        b.air_time.map(|t| t.timestamp_millis()),
        stream,
        recording,
    ))
}

fn check_threshold(t: Option<f64>) -> AppResult<Option<f64>> {
    match t {
        Some(v) if !(0.5..=1.0).contains(&v) || !v.is_finite() => Err(AppError::invalid(
            "session.threshold_invalid",
            "makeup_threshold",
            "Tỷ lệ xem bản ghi để tính học bù phải từ 0,5 đến 1.",
        )),
        other => Ok(other),
    }
}

fn check_schedule(starts: i64, ends: i64, opens: i64, closes: i64) -> AppResult<()> {
    if ends <= starts {
        return Err(AppError::invalid(
            "session.schedule_invalid",
            "ends_at",
            "Giờ kết thúc phải sau giờ bắt đầu.",
        ));
    }
    if ends - starts > MAX_SESSION_MS {
        return Err(AppError::invalid(
            "session.schedule_invalid",
            "ends_at",
            "Buổi học không được kéo dài quá 7 ngày.",
        ));
    }
    if closes <= opens {
        return Err(AppError::invalid(
            "session.window_invalid",
            "checkin_closes_at",
            "Giờ đóng điểm danh phải sau giờ mở điểm danh.",
        ));
    }
    if opens > ends || closes < starts {
        return Err(AppError::invalid(
            "session.window_invalid",
            "checkin_opens_at",
            "Khung giờ điểm danh phải giao với thời gian buổi học.",
        ));
    }
    Ok(())
}

/// Plans a session (state `scheduled`).
#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = CreateSession,
    responses((status = 201, body = SessionView), (status = 400, body = crate::error::ErrorEnvelope)))]
async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateSession>,
) -> AppResult<(StatusCode, Json<SessionView>)> {
    let theme = parse_name(&req.theme, 500).map_err(text_field(
        "theme",
        "session.theme_invalid",
        "Chủ đề",
    ))?;
    let description = parse_optional_text(req.description.as_deref(), 5000).map_err(text_field(
        "description",
        "session.description_invalid",
        "Mô tả",
    ))?;
    let host = visible_unit(&state, &caller, &req.host_unit_code)
        .await
        .map_err(|e| e.with_field("host_unit_code"))?;
    let scope = match req
        .scope_unit_code
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        Some(code) => visible_unit(&state, &caller, code)
            .await
            .map_err(|e| e.with_field("scope_unit_code"))?,
        None => host.clone(),
    };
    let starts = req.starts_at.0.timestamp_millis();
    let ends = req.ends_at.0.timestamp_millis();
    let opens = req
        .checkin_opens_at
        .map(|t| t.0.timestamp_millis())
        .unwrap_or(starts - 3600 * 1000);
    let closes = req
        .checkin_closes_at
        .map(|t| t.0.timestamp_millis())
        .unwrap_or(ends);
    check_schedule(starts, ends, opens, closes)?;
    let (tv_channel, air_time, stream_url, recording_url) = check_broadcast(&req.broadcast)?;
    let fields = SessionFields {
        theme,
        description,
        host_unit_id: host.id,
        scope_unit_id: scope.id,
        starts_at: starts,
        ends_at: ends,
        checkin_opens_at: opens,
        checkin_closes_at: closes,
        tv_channel,
        air_time,
        stream_url,
        recording_url,
    };
    let threshold = check_threshold(req.makeup_threshold)?;
    let id = state.db().create_session(&fields).await?;
    if let Some(t) = threshold {
        state.db().set_makeup_threshold(id, t).await?;
    }
    let session = state
        .db()
        .session_by_id(id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("session vanished")))?;
    Ok((
        StatusCode::CREATED,
        Json(SessionView::for_caller(&session, &caller)),
    ))
}

/// One session.
#[utoipa::path(get, path = "/sessions/{id}", tag = "sessions", params(("id" = i64, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<Json<SessionView>> {
    Ok(Json(SessionView::for_caller(
        &visible_session(&state, &caller, &id).await?,
        &caller,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSession {
    pub theme: Option<String>,
    /// Empty text clears it.
    pub description: Option<String>,
    pub host_unit_code: Option<String>,
    pub scope_unit_code: Option<String>,
    pub starts_at: Option<ClientTime>,
    pub ends_at: Option<ClientTime>,
    pub checkin_opens_at: Option<ClientTime>,
    pub checkin_closes_at: Option<ClientTime>,
    /// Replaces the whole broadcast block when present.
    pub broadcast: Option<Broadcast>,
    /// Share of the recording to watch for make-up, 0.5–1.
    pub makeup_threshold: Option<f64>,
}

/// Edits a session (e.g. adds the recording address after it ends).
#[utoipa::path(patch, path = "/sessions/{id}", tag = "sessions", params(("id" = i64, Path)), request_body = UpdateSession,
    responses((status = 200, body = SessionView), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn update_session(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(req): ApiJson<UpdateSession>,
) -> AppResult<Json<SessionView>> {
    let s = editable_session(&state, &caller, &id).await?;
    let theme = match &req.theme {
        Some(t) => {
            parse_name(t, 500).map_err(text_field("theme", "session.theme_invalid", "Chủ đề"))?
        }
        None => s.theme.clone(),
    };
    let description = match &req.description {
        Some(d) => parse_optional_text(Some(d), 5000).map_err(text_field(
            "description",
            "session.description_invalid",
            "Mô tả",
        ))?,
        None => s.description.clone(),
    };
    let host_unit_id = match &req.host_unit_code {
        Some(c) => {
            visible_unit(&state, &caller, c)
                .await
                .map_err(|e| e.with_field("host_unit_code"))?
                .id
        }
        None => s.host_unit_id,
    };
    let scope_unit_id = match &req.scope_unit_code {
        Some(c) => {
            visible_unit(&state, &caller, c)
                .await
                .map_err(|e| e.with_field("scope_unit_code"))?
                .id
        }
        None => s.scope_unit_id,
    };
    let pick = |t: &Option<ClientTime>, old: i64| t.map(|t| t.0.timestamp_millis()).unwrap_or(old);
    let starts = pick(&req.starts_at, s.starts_at);
    let ends = pick(&req.ends_at, s.ends_at);
    let opens = pick(&req.checkin_opens_at, s.checkin_opens_at);
    let closes = pick(&req.checkin_closes_at, s.checkin_closes_at);
    check_schedule(starts, ends, opens, closes)?;
    let (tv_channel, air_time, stream_url, recording_url) = match &req.broadcast {
        Some(b) => check_broadcast(b)?,
        None => (
            s.tv_channel.clone(),
            s.air_time,
            s.stream_url.clone(),
            s.recording_url.clone(),
        ),
    };
    let fields = SessionFields {
        theme,
        description,
        host_unit_id,
        scope_unit_id,
        starts_at: starts,
        ends_at: ends,
        checkin_opens_at: opens,
        checkin_closes_at: closes,
        tv_channel,
        air_time,
        stream_url,
        recording_url,
    };
    let threshold = check_threshold(req.makeup_threshold)?;
    state.db().update_session(s.id, &fields).await?;
    state.hot().forget_session(s.id);
    if let Some(t) = threshold {
        state.db().set_makeup_threshold(s.id, t).await?;
    }
    let session = state
        .db()
        .session_by_id(s.id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("session vanished")))?;
    Ok(Json(SessionView::for_caller(&session, &caller)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStatus {
    /// `open` (check-in opens), `live`, or `ended`. Only forward.
    pub status: String,
}

/// Moves a session forward: scheduled → open → live → ended.
#[utoipa::path(post, path = "/sessions/{id}/status", tag = "sessions", params(("id" = i64, Path)), request_body = SetStatus,
    responses((status = 200, body = SessionView), (status = 409, body = crate::error::ErrorEnvelope)))]
async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(req): ApiJson<SetStatus>,
) -> AppResult<Json<SessionView>> {
    let s = editable_session(&state, &caller, &id).await?;
    let next = SessionStatus::parse(&req.status).ok_or_else(|| {
        AppError::invalid(
            "session.status_invalid",
            "status",
            format!(
                "Trạng thái không hợp lệ. Dùng một trong: {}.",
                SessionStatus::codes()
            ),
        )
    })?;
    let current = SessionStatus::parse(&s.status).unwrap_or(SessionStatus::Scheduled);
    let moved =
        current.can_move_to(next) && state.db().set_session_status(s.id, current, next).await?;
    state.hot().forget_session(s.id);
    if !moved {
        return Err(AppError::conflict(
            "session.status_transition",
            format!(
                "Không thể chuyển buổi học từ \"{}\" sang \"{}\": trạng thái chỉ đi tiếp, không quay lại.",
                current.label(),
                next.label()
            ),
        ));
    }
    state.hub().publish(
        s.id,
        crate::domain::tally::TallyEvent::StatusChanged { status: next },
    );
    let session = state
        .db()
        .session_by_id(s.id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("session vanished")))?;
    Ok(Json(SessionView::for_caller(&session, &caller)))
}
