//! What anyone may see and do without an account: the public session page,
//! the TV overlay's figures, checking in from home by the QR code shown on
//! TV, and an iCalendar feed of upcoming sessions.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::checkin::{check_client_id, rate_limited, refusal_error};
use super::{ApiJson, ApiPath, ApiQuery, parse_id, ts};
use crate::app::AppState;
use crate::attendance::{self, CheckinAnswer, CheckinCommand, window_refusal};
use crate::domain::tally::TallyEvent;
use crate::domain::{CheckinMethod, SessionStatus, text, time, tree};
use crate::error::{AppError, AppResult};
use crate::live::PointStatus;
use crate::store::Scope;
use crate::store::sessions::SessionRecord;
use crate::store::units::UnitFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upcoming_sessions))
        .routes(routes!(public_session))
        .routes(routes!(public_figures))
        .routes(routes!(home_qr))
        .routes(routes!(home_units))
        .routes(routes!(home_checkin))
}

async fn session(state: &AppState, raw: &str) -> AppResult<SessionRecord> {
    let id = parse_id(raw, "session.not_found", "buổi học")?;
    state.db().session_by_id(id).await?.ok_or_else(|| {
        AppError::not_found(
            "session.not_found",
            format!("Không tìm thấy buổi học \"{raw}\"."),
        )
    })
}

fn status_of(s: &SessionRecord) -> SessionStatus {
    SessionStatus::parse(&s.status).unwrap_or(SessionStatus::Scheduled)
}

/// The address viewers at home open from the QR code on TV.
pub fn home_link(state: &AppState, session_id: i64) -> String {
    format!("{}/tv/{session_id}", state.config().public_url())
}

#[derive(Serialize, ToSchema)]
pub struct PublicSession {
    pub id: i64,
    pub theme: String,
    pub description: Option<String>,
    pub host: String,
    pub scope: String,
    pub starts_at: chrono::DateTime<chrono::FixedOffset>,
    pub ends_at: chrono::DateTime<chrono::FixedOffset>,
    pub status: SessionStatus,
    pub status_label: String,
    pub tv_channel: Option<String>,
    pub air_time: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The live stream, while check-in is open or the session is live.
    pub stream_url: Option<String>,
    /// The recording, for self-study.
    pub recording_url: Option<String>,
    /// Where viewers at home check in.
    pub home_link: String,
}

fn public_view(state: &AppState, s: &SessionRecord) -> PublicSession {
    let status = status_of(s);
    PublicSession {
        id: s.id,
        theme: s.theme.clone(),
        description: s.description.clone(),
        host: s.host_unit_name.clone(),
        scope: s.scope_unit_name.clone(),
        starts_at: ts(s.starts_at),
        ends_at: ts(s.ends_at),
        status,
        status_label: status.label().to_string(),
        tv_channel: s.tv_channel.clone(),
        air_time: s.air_time.map(ts),
        stream_url: s
            .stream_url
            .clone()
            .filter(|_| matches!(status, SessionStatus::Open | SessionStatus::Live)),
        recording_url: s.recording_url.clone(),
        home_link: home_link(state, s.id),
    }
}

/// Sessions not yet ended, soonest first.
#[utoipa::path(get, path = "/public/sessions", tag = "public", responses((status = 200, body = Vec<PublicSession>)))]
async fn upcoming_sessions(State(state): State<AppState>) -> AppResult<Json<Vec<PublicSession>>> {
    Ok(Json(
        upcoming(&state)
            .await?
            .iter()
            .map(|s| public_view(&state, s))
            .collect(),
    ))
}

async fn upcoming(state: &AppState) -> AppResult<Vec<SessionRecord>> {
    let mut sessions = state.db().list_sessions(&Scope::All, None, 500, 0).await?;
    sessions.retain(|s| status_of(s) != SessionStatus::Ended);
    sessions.sort_by_key(|s| s.starts_at);
    Ok(sessions)
}

/// A session's public page data.
#[utoipa::path(get, path = "/public/sessions/{id}", tag = "public", params(("id" = i64, Path)),
    responses((status = 200, body = PublicSession), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn public_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath,
) -> AppResult<Json<PublicSession>> {
    let s = session(&state, &id).await?;
    Ok(Json(public_view(&state, &s)))
}

/// The running totals shown on TV.
#[derive(Serialize, ToSchema)]
pub struct PublicFigures {
    pub version: u64,
    pub status: SessionStatus,
    pub participants: i64,
    pub points_connected: i64,
    pub points_registered: i64,
    /// Viewers who checked in from home (members and the public).
    pub following_broadcast: i64,
    pub summary: String,
}

/// Running totals of a session, for the TV overlay and the public page.
#[utoipa::path(get, path = "/public/sessions/{id}/figures", tag = "public", params(("id" = i64, Path)),
    responses((status = 200, body = PublicFigures), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn public_figures(
    State(state): State<AppState>,
    ApiPath(id): ApiPath,
) -> AppResult<impl IntoResponse> {
    let s = session(&state, &id).await?;
    let live = state.hub().session(state.db(), &s).await?;
    let tally = live.tally.read().unwrap_or_else(|e| e.into_inner());
    let headline = tally.headline();
    let (mut connected, registered) = (0, tally.points.len() as i64);
    for p in tally.points.keys() {
        if state.presence().status(*p).0 != PointStatus::Offline {
            connected += 1;
        }
    }
    let method = crate::domain::tally::method_index(CheckinMethod::Broadcast);
    let body = PublicFigures {
        version: tally.version,
        status: status_of(&s),
        participants: headline.participants(),
        points_connected: connected,
        points_registered: registered,
        following_broadcast: headline.by_method[method] + headline.public_viewers,
        summary: crate::domain::report::summary(
            &s.scope_unit_name,
            connected,
            headline.participants(),
        ),
    };
    // Overlays poll; a second of caching is plenty.
    Ok(([(header::CACHE_CONTROL, "public, max-age=1")], Json(body)))
}

/// The QR code viewers at home scan (SVG), pointing at the home check-in page.
#[utoipa::path(get, path = "/public/sessions/{id}/home-qr.svg", tag = "public", params(("id" = i64, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String)))]
async fn home_qr(
    State(state): State<AppState>,
    ApiPath(id): ApiPath,
) -> AppResult<impl IntoResponse> {
    let s = session(&state, &id).await?;
    let svg = super::qr::svg(&home_link(&state, s.id))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        svg,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnitSearch {
    /// Name without diacritics needed, e.g. "bang thanh".
    pub q: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PublicUnit {
    pub code: String,
    pub name: String,
}

/// Communes and wards of the session, for viewers at home to pick theirs.
#[utoipa::path(get, path = "/public/sessions/{id}/units", tag = "public", params(("id" = i64, Path), UnitSearch),
    responses((status = 200, body = Vec<PublicUnit>)))]
async fn home_units(
    State(state): State<AppState>,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<UnitSearch>,
) -> AppResult<Json<Vec<PublicUnit>>> {
    let s = session(&state, &id).await?;
    let query =
        q.q.as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty() && q.chars().count() <= 100)
            .map(str::to_string);
    let scope = Scope::Subtree {
        unit_id: s.scope_unit_id,
        path: s.scope_unit_path.clone(),
    };
    let mut found = Vec::new();
    for kind in [
        crate::domain::UnitKind::Commune,
        crate::domain::UnitKind::Ward,
        crate::domain::UnitKind::SpecialZone,
    ] {
        let page = state
            .db()
            .list_units(
                &scope,
                &UnitFilter {
                    query: query.clone(),
                    kind: Some(kind),
                    limit: 50,
                    offset: 0,
                    ..Default::default()
                },
            )
            .await?;
        found.extend(page.items.into_iter().map(|u| PublicUnit {
            code: u.code,
            name: u.name,
        }));
    }
    found.sort_by_key(|u| text::collation_key(&u.name));
    found.truncate(50);
    Ok(Json(found))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HomeCheckin {
    /// A member checks in with their member code…
    pub member_code: Option<String>,
    /// …a member of the public picks their commune or ward.
    pub unit_code: Option<String>,
    /// An id the phone keeps: counts a device once, and makes resends safe.
    pub device_id: String,
}

/// Checks a viewer in from home, under "following the broadcast".
#[utoipa::path(post, path = "/public/sessions/{id}/home-checkin", tag = "public", params(("id" = i64, Path)), request_body = HomeCheckin,
    responses((status = 200, body = CheckinAnswer), (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)))]
async fn home_checkin(
    State(state): State<AppState>,
    ApiPath(id): ApiPath,
    ApiJson(req): ApiJson<HomeCheckin>,
) -> AppResult<Json<CheckinAnswer>> {
    let device = check_client_id(Some(&req.device_id))?.unwrap_or_default();
    let s = session(&state, &id).await?;
    let now = time::now_ms();
    if !state.limits().per_member.allow(&format!("d:{device}"), now) {
        return Err(rate_limited());
    }
    match (
        req.member_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty()),
        req.unit_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty()),
    ) {
        (Some(code), _) => {
            if !state.limits().per_member.allow(&format!("m:{code}"), now) {
                return Err(rate_limited());
            }
            let answer = attendance::check_in(
                state.checkins(),
                CheckinCommand {
                    session: &s,
                    point: None,
                    member_code: code,
                    method: CheckinMethod::Broadcast,
                    source: Some(format!("m:{code}")),
                    client_id: Some(format!("tv:{device}")),
                    taken_at: None,
                    replayed: false,
                    device: None,
                },
            )
            .await?;
            match answer {
                CheckinAnswer::Refused { code, message } => Err(refusal_error(&code, &message)),
                answer => Ok(Json(answer)),
            }
        }
        (None, Some(unit_code)) => {
            if let Some(CheckinAnswer::Refused { code, message }) =
                window_refusal(&s, now, false, now)
            {
                return Err(refusal_error(&code, &message));
            }
            let unit = state
                .db()
                .unit_by_code(unit_code)
                .await?
                .filter(|u| tree::is_in_subtree(&u.path, &s.scope_unit_path))
                .ok_or_else(|| {
                    AppError::not_found(
                        "unit.not_found",
                        "Không tìm thấy xã, phường này trong phạm vi buổi học.",
                    )
                    .with_field("unit_code")
                })?;
            let counted = state.db().add_public_viewer(s.id, unit.id, &device).await?;
            if let Some(viewer_id) = counted {
                state.hub().publish(
                    s.id,
                    TallyEvent::PublicViewer {
                        viewer_id,
                        unit_id: unit.id,
                    },
                );
            }
            let member = attendance::MemberBrief {
                code: String::new(),
                full_name: "Nhân dân".into(),
                unit_name: unit.name.clone(),
            };
            Ok(Json(match counted {
                Some(_) => CheckinAnswer::CheckedIn {
                    member,
                    at: ts(now),
                    point: None,
                    method: CheckinMethod::Broadcast,
                    message: format!("Cảm ơn bạn đã theo dõi buổi học tại {}.", unit.name),
                },
                None => CheckinAnswer::AlreadyCheckedIn {
                    member,
                    at: ts(now),
                    point: None,
                    method: CheckinMethod::Broadcast,
                    message: "Thiết bị này đã được ghi nhận theo dõi buổi học.".to_string(),
                },
            }))
        }
        (None, None) => Err(AppError::invalid(
            "request.invalid_field",
            "member_code",
            "Hãy nhập mã thành viên, hoặc chọn xã, phường nơi bạn theo dõi.",
        )),
    }
}

/// Escapes text for iCalendar (RFC 5545 §3.3.11).
fn ical_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
        .replace('\r', "")
}

/// Folds a content line at 75 octets, never inside a UTF-8 character.
fn ical_fold(line: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in line.chars() {
        if len + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

fn ical_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

pub fn calendar(state: &AppState, sessions: &[SessionRecord]) -> String {
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//diemcau//Hoc tap chuyen de//VI",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:Học tập chuyên đề",
    ] {
        out.push_str(&ical_fold(line));
    }
    let host = state
        .config()
        .public_url()
        .split("://")
        .nth(1)
        .unwrap_or("diemcau")
        .to_string();
    for s in sessions {
        let mut description = String::new();
        if let Some(ch) = &s.tv_channel {
            description.push_str(&format!("Phát sóng trực tiếp: {ch}\n"));
        }
        description.push_str(&format!(
            "Đơn vị chủ trì: {}\nĐiểm danh tại nhà: {}",
            s.host_unit_name,
            home_link(state, s.id)
        ));
        for line in [
            "BEGIN:VEVENT".to_string(),
            format!("UID:session-{}@{host}", s.id),
            format!("DTSTAMP:{}", ical_time(s.updated_at)),
            format!("DTSTART:{}", ical_time(s.starts_at)),
            format!("DTEND:{}", ical_time(s.ends_at)),
            format!("SUMMARY:{}", ical_text(&s.theme)),
            format!("DESCRIPTION:{}", ical_text(&description)),
            format!(
                "LOCATION:{}",
                ical_text(s.tv_channel.as_deref().unwrap_or(&s.host_unit_name))
            ),
            format!("URL:{}/s/{}", state.config().public_url(), s.id),
            "END:VEVENT".to_string(),
        ] {
            out.push_str(&ical_fold(&line));
        }
    }
    out.push_str(&ical_fold("END:VCALENDAR"));
    out
}

/// Upcoming sessions as an iCalendar feed, to subscribe to in a phone's calendar.
#[utoipa::path(get, path = "/public/sessions.ics", tag = "public",
    responses((status = 200, content_type = "text/calendar", body = String)))]
async fn calendar_feed(State(state): State<AppState>) -> AppResult<impl IntoResponse> {
    let sessions = upcoming(&state).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        calendar(&state, &sessions),
    ))
}

pub fn calendar_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(calendar_feed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ical_escapes_and_folds() {
        assert_eq!(ical_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        let long = format!("SUMMARY:{}", "Nêu cao tinh thần trách nhiệm, ".repeat(4));
        let folded = ical_fold(&long);
        for line in folded.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        assert_eq!(folded.replace("\r\n ", ""), format!("{long}\r\n"));
    }
}
