//! Make-up by recording (học bù): the member's personal page reports what it
//! played; at the session's threshold (80% by default) the member counts as
//! having studied, by make-up — shown apart from live attendance everywhere.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiJson, ApiPath, ts};
use crate::app::AppState;
use crate::domain::{CheckinMethod, SessionStatus, makeup, time, tree};
use crate::error::{AppError, AppResult};
use crate::store::checkins::{CheckinInsert, Recorded};
use crate::store::members::MemberRecord;
use crate::store::sessions::SessionRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(makeup_page))
        .routes(routes!(report_progress))
}

/// Longest recording accepted (a conference is a few hours).
const MAX_DURATION_S: f64 = 6.0 * 3600.0;

#[derive(Serialize, ToSchema)]
pub struct MakeupProgress {
    pub watched_s: f64,
    pub duration_s: Option<f64>,
    /// Watched share, 0–1.
    pub share: f64,
    pub completed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MakeupView {
    pub session_id: i64,
    pub theme: String,
    pub recording_url: Option<String>,
    pub member_name: String,
    pub unit_name: String,
    /// Share to watch to count as studied, 0–1.
    pub threshold: f64,
    pub progress: MakeupProgress,
    /// Already studied (live or by make-up): how and when.
    pub studied: Option<Studied>,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct Studied {
    pub method: CheckinMethod,
    pub at: chrono::DateTime<chrono::FixedOffset>,
}

fn link_invalid() -> AppError {
    AppError::not_found(
        "makeup.link_invalid",
        "Đường dẫn học bù không đúng. Hãy dùng đường dẫn hoặc mã QR trên phiếu nhắc của bạn.",
    )
}

async fn resolve(state: &AppState, token: &str) -> AppResult<(SessionRecord, MemberRecord)> {
    let (session_id, code) = makeup::verify(&state.keys().qr, token).ok_or_else(link_invalid)?;
    let session = state
        .db()
        .session_by_id(session_id)
        .await?
        .ok_or_else(link_invalid)?;
    if state.db().session_summary(session.id).await?.is_some() {
        return Err(super::reports::purged());
    }
    let member = state
        .db()
        .member_by_code(&code)
        .await?
        .filter(|m| tree::is_in_subtree(&m.unit_path, &session.scope_unit_path))
        .ok_or_else(link_invalid)?;
    Ok((session, member))
}

async fn view(
    state: &AppState,
    session: &SessionRecord,
    member: &MemberRecord,
) -> AppResult<MakeupView> {
    let threshold = super::reports::session_threshold(state, session.id).await?;
    let progress = state.db().makeup_progress(session.id, member.id).await?;
    let studied = state
        .db()
        .live_checkin(session.id, member.id)
        .await?
        .map(|c| Studied {
            method: CheckinMethod::parse(&c.method).unwrap_or(CheckinMethod::Roster),
            at: ts(c.taken_at),
        });
    let (watched_s, duration_s) = progress
        .as_ref()
        .map(|p| (p.watched_s, Some(p.duration_s)))
        .unwrap_or((0.0, None));
    let share = duration_s
        .filter(|d| *d > 0.0)
        .map(|d| (watched_s / d).min(1.0))
        .unwrap_or(0.0);
    let message = match &studied {
        Some(s) if s.method == CheckinMethod::Makeup => {
            "Bạn đã hoàn thành học bù chuyên đề này. Cảm ơn bạn!".to_string()
        }
        Some(s) => format!("Bạn đã học chuyên đề này ({}).", s.method.label()),
        None if session.recording_url.is_none() => {
            "Bản ghi hội nghị chưa có. Vui lòng quay lại sau.".to_string()
        }
        None => format!(
            "Xem ít nhất {}% bản ghi để hoàn thành. Tua nhanh không được tính.",
            (threshold * 100.0).round()
        ),
    };
    Ok(MakeupView {
        session_id: session.id,
        theme: session.theme.clone(),
        recording_url: session.recording_url.clone(),
        member_name: member.full_name.clone(),
        unit_name: member.unit_name.clone(),
        threshold,
        progress: MakeupProgress {
            watched_s,
            duration_s,
            share: (share * 1000.0).round() / 1000.0,
            completed: progress.and_then(|p| p.completed_at).is_some(),
        },
        studied,
        message,
    })
}

/// What the member's make-up page shows.
#[utoipa::path(get, path = "/makeup/{token}", tag = "reports", params(("token" = String, Path)),
    responses((status = 200, body = MakeupView), (status = 404, body = crate::error::ErrorEnvelope), (status = 410, body = crate::error::ErrorEnvelope)))]
async fn makeup_page(
    State(state): State<AppState>,
    ApiPath(token): ApiPath,
) -> AppResult<Json<MakeupView>> {
    let (session, member) = resolve(&state, &token).await?;
    Ok(Json(view(&state, &session, &member).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressReport {
    /// The recording's length as the player sees it, in seconds.
    pub duration_s: f64,
    /// Intervals actually played since the page opened, `[[start, end], …]`
    /// in seconds (a jump starts a new interval).
    pub intervals: Vec<(f64, f64)>,
    pub position_s: Option<f64>,
}

/// Reports playback; credits at most what the elapsed time allows.
#[utoipa::path(post, path = "/makeup/{token}/progress", tag = "reports", params(("token" = String, Path)), request_body = ProgressReport,
    responses((status = 200, body = MakeupView), (status = 400, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope), (status = 410, body = crate::error::ErrorEnvelope)))]
async fn report_progress(
    State(state): State<AppState>,
    ApiPath(token): ApiPath,
    ApiJson(req): ApiJson<ProgressReport>,
) -> AppResult<Json<MakeupView>> {
    let (session, member) = resolve(&state, &token).await?;
    if session.recording_url.is_none() {
        return Err(AppError::conflict(
            "makeup.no_recording",
            "Bản ghi hội nghị chưa có, chưa thể học bù.",
        ));
    }
    if SessionStatus::parse(&session.status) == Some(SessionStatus::Scheduled) {
        return Err(AppError::conflict(
            "session.not_open",
            "Buổi học chưa diễn ra.",
        ));
    }
    if !req.duration_s.is_finite() || req.duration_s <= 0.0 || req.duration_s > MAX_DURATION_S {
        return Err(AppError::invalid(
            "makeup.duration_invalid",
            "duration_s",
            "Độ dài bản ghi không hợp lệ.",
        ));
    }
    if req.intervals.len() > 1000
        || req
            .intervals
            .iter()
            .any(|(a, b)| !a.is_finite() || !b.is_finite() || *a < 0.0 || b < a)
    {
        return Err(AppError::invalid(
            "makeup.intervals_invalid",
            "intervals",
            "Các đoạn đã xem không hợp lệ.",
        ));
    }
    if state
        .db()
        .live_checkin(session.id, member.id)
        .await?
        .is_some()
    {
        return Ok(Json(view(&state, &session, &member).await?)); // already studied
    }
    let now = time::now_ms();
    let previous = state.db().makeup_progress(session.id, member.id).await?;
    // The recording cannot be shorter than half the scheduled session, nor
    // shrink between reports: a short claimed length would make 80% easy.
    let scheduled_s = (session.ends_at - session.starts_at) as f64 / 1000.0;
    let duration = req
        .duration_s
        .max(previous.as_ref().map_or(0.0, |p| p.duration_s))
        .max(scheduled_s * 0.5)
        .min(MAX_DURATION_S);
    let watched: Vec<(f64, f64)> = previous
        .as_ref()
        .and_then(|p| serde_json::from_str(&p.watched).ok())
        .unwrap_or_default();
    let elapsed_s = previous
        .as_ref()
        .map_or(0.0, |p| (now - p.last_report_at).max(0) as f64 / 1000.0);
    let budget = elapsed_s * makeup::MAX_SPEED + makeup::SLACK_S;
    let watched = makeup::credit(&watched, &req.intervals, duration, budget);
    let watched_s = makeup::total(&watched);
    let threshold = super::reports::session_threshold(&state, session.id).await?;
    let done = watched_s >= threshold * duration;
    let encoded = serde_json::to_string(&watched).map_err(AppError::internal)?;
    state
        .db()
        .save_makeup_progress(
            session.id,
            member.id,
            duration,
            &encoded,
            watched_s,
            req.position_s.unwrap_or(0.0),
            done.then_some(now),
        )
        .await?;
    if done {
        let insert = CheckinInsert {
            session_id: session.id,
            member_id: member.id,
            point_id: None,
            method: CheckinMethod::Makeup.code(),
            source: Some(format!("m:{}", member.code)),
            client_id: Some(format!("makeup:{}", session.id)),
            taken_at: now,
            replayed: false,
            device: None,
        };
        let (recorded, _) = state
            .db()
            .record_checkin(&insert, |_| "makeup".to_string())
            .await?;
        if let Recorded::New { id, .. } = recorded {
            crate::attendance::publish_new(
                state.hub(),
                session.id,
                id,
                &member,
                CheckinMethod::Makeup,
                None,
            );
            tracing::info!(
                session = session.id,
                member = member.id,
                "make-up completed"
            );
        }
    }
    let v = view(&state, &session, &member).await?;
    Ok(Json(v))
}
