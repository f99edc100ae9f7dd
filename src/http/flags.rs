//! Proxy-attendance flags of a session ("Cần xem xét"), for organizers and
//! managers within their view, and their review. The rules are in
//! [`crate::store::flags`]; flags never block a check-in.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::sessions::visible_session;
use super::{ApiJson, ApiPath, ApiQuery, ts};
use crate::app::AppState;
use crate::domain::time;
use crate::error::{AppError, AppResult};
use crate::store::flags::{FarRow, FlagReviewRecord, SHARED_DEVICE_MIN_MEMBERS, SharedDeviceRow};
use crate::store::sessions::SessionRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session_flags))
        .routes(routes!(review_flag))
}

/// At most this many flags are listed; the counts cover them all.
const LIST_LIMIT: i64 = 200;
/// A review looks the key up among this many flags of the caller's view.
const REVIEW_SEARCH_LIMIT: i64 = 100_000;
const NOTE_MAX_CHARS: usize = 500;

#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// One phone checked in many different members at one point.
    SharedDevice,
    /// The point is in another commune of the member's province.
    OtherCommune,
    /// The point is in another province.
    OtherProvince,
}

#[derive(Serialize, ToSchema, Default)]
pub struct FlagCounts {
    pub shared_device: i64,
    pub other_commune: i64,
    pub other_province: i64,
}

#[derive(Serialize, ToSchema)]
pub struct FlagPoint {
    pub id: i64,
    pub name: String,
    pub unit_code: String,
    pub unit_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct FlagMember {
    pub code: String,
    pub full_name: String,
    pub unit_code: String,
    pub unit_name: String,
    pub checked_in_at: chrono::DateTime<chrono::FixedOffset>,
}

#[derive(Serialize, ToSchema)]
pub struct FlagReview {
    pub at: chrono::DateTime<chrono::FixedOffset>,
    pub by: String,
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct Flag {
    /// Stable key, to review the flag: `device:<point id>:<device>` or
    /// `far:<check-in id>`.
    pub key: String,
    pub kind: FlagKind,
    /// What was seen, in Vietnamese.
    pub summary: String,
    pub point: FlagPoint,
    /// Short hash of the phone (shared-device flags).
    pub device: Option<String>,
    /// The members concerned (one for a far check-in).
    pub members: Vec<FlagMember>,
    /// Far check-ins: the commune (or province) of the member's unit and of
    /// the point.
    pub member_region: Option<String>,
    pub point_region: Option<String>,
    /// How the far check-in was taken (`qr_self`, `roster`, `card`).
    pub method: Option<String>,
    pub reviewed: Option<FlagReview>,
}

#[derive(Serialize, ToSchema)]
pub struct FlagsResponse {
    pub session_id: i64,
    pub unit_code: String,
    pub unit_name: String,
    /// Members one phone may check in at one point before it is flagged.
    pub shared_device_threshold: i64,
    pub counts: FlagCounts,
    /// Flags in all; `flags` holds at most 200 of them.
    pub total: i64,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlagsQuery {
    /// The unit whose subtree to look at (default: the caller's whole view).
    pub unit: Option<String>,
}

/// The unit of the caller's view to look at: its id, code, name and path.
async fn view_unit(
    state: &AppState,
    caller: &Caller,
    session: &SessionRecord,
    unit: Option<&str>,
) -> AppResult<(String, String, String)> {
    let unit = unit.map(str::trim).filter(|u| !u.is_empty());
    let live = state.hub().session(state.db(), session).await?;
    let unit_id = {
        let tally = live.tally.read().unwrap_or_else(|e| e.into_inner());
        super::live::view_and_unit(caller, session, &tally, unit)?.1
    };
    let record = state.db().unit_by_id(unit_id).await?.ok_or_else(|| {
        AppError::not_found(
            "unit.not_found",
            "Không tìm thấy đơn vị trong phạm vi của bạn.",
        )
    })?;
    Ok((record.code, record.name, record.path))
}

/// Flags of the subtree `path`: counts, total, and the first `limit`.
async fn compute(
    state: &AppState,
    session: &SessionRecord,
    path: &str,
    limit: i64,
) -> AppResult<(FlagCounts, i64, Vec<Flag>)> {
    let shared = state
        .db()
        .shared_device_flags(session.id, path, limit)
        .await?;
    let far = state
        .db()
        .far_checkin_flags(session.id, path, limit)
        .await?;
    let reviews: HashMap<String, FlagReviewRecord> = state
        .db()
        .flag_reviews(session.id)
        .await?
        .into_iter()
        .map(|r| (r.flag_key.clone(), r))
        .collect();
    let mut counts = FlagCounts {
        shared_device: shared.first().map_or(0, |r| r.groups_total),
        ..FlagCounts::default()
    };
    if let Some(first) = far.first() {
        counts.other_province = first.other_province;
        counts.other_commune = first.total - first.other_province;
    }
    let total = counts.shared_device + counts.other_commune + counts.other_province;
    let mut flags = shared_device_flags(shared);
    flags.extend(far.into_iter().map(far_flag));
    flags.truncate(limit as usize);
    for flag in &mut flags {
        flag.reviewed = reviews.get(&flag.key).map(|r| FlagReview {
            at: ts(r.reviewed_at),
            by: r.reviewed_by.clone(),
            note: r.note.clone(),
        });
    }
    Ok((counts, total, flags))
}

/// Rows come ordered by group: one flag per (point, device).
fn shared_device_flags(rows: Vec<SharedDeviceRow>) -> Vec<Flag> {
    let mut flags: Vec<Flag> = Vec::new();
    for r in rows {
        let key = format!("device:{}:{}", r.point_id, r.device);
        let member = FlagMember {
            code: r.member_code,
            full_name: r.full_name,
            unit_code: r.unit_code,
            unit_name: r.unit_name,
            checked_in_at: ts(r.taken_at),
        };
        match flags.last_mut() {
            Some(f) if f.key == key => f.members.push(member),
            _ => flags.push(Flag {
                key,
                kind: FlagKind::SharedDevice,
                summary: String::new(),
                point: FlagPoint {
                    id: r.point_id,
                    name: r.point_name,
                    unit_code: r.point_unit_code,
                    unit_name: r.point_unit_name,
                },
                device: Some(r.device),
                members: vec![member],
                member_region: None,
                point_region: None,
                method: None,
                reviewed: None,
            }),
        }
    }
    for f in &mut flags {
        f.summary = format!(
            "Một máy điểm danh cho {} người tại điểm cầu {}.",
            f.members.len(),
            f.point.name
        );
    }
    flags
}

fn far_flag(r: FarRow) -> Flag {
    let province = r.kind == "other_province";
    let (kind, level) = if province {
        (FlagKind::OtherProvince, "tỉnh khác")
    } else {
        (FlagKind::OtherCommune, "xã khác")
    };
    let summary = format!(
        "{} ({}) điểm danh tại điểm cầu {} thuộc {}{}.",
        r.full_name,
        r.member_region.as_deref().unwrap_or(&r.unit_name),
        r.point_name,
        level,
        r.point_region
            .as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default(),
    );
    Flag {
        key: format!("far:{}", r.checkin_id),
        kind,
        summary,
        point: FlagPoint {
            id: r.point_id,
            name: r.point_name,
            unit_code: r.point_unit_code,
            unit_name: r.point_unit_name,
        },
        device: None,
        members: vec![FlagMember {
            code: r.member_code,
            full_name: r.full_name,
            unit_code: r.unit_code,
            unit_name: r.unit_name,
            checked_in_at: ts(r.taken_at),
        }],
        member_region: r.member_region,
        point_region: r.point_region,
        method: Some(r.method),
        reviewed: None,
    }
}

/// Possible proxy attendance in a session: one phone checking in many
/// members at a point, members checking in far from their unit. Flags to
/// review, not refusals.
#[utoipa::path(get, path = "/sessions/{id}/flags", tag = "live", params(("id" = i64, Path), FlagsQuery),
    responses((status = 200, body = FlagsResponse), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn session_flags(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<FlagsQuery>,
) -> AppResult<Json<FlagsResponse>> {
    let session = visible_session(&state, &caller, &id).await?;
    let (unit_code, unit_name, path) =
        view_unit(&state, &caller, &session, q.unit.as_deref()).await?;
    let (counts, total, flags) = compute(&state, &session, &path, LIST_LIMIT).await?;
    Ok(Json(FlagsResponse {
        session_id: session.id,
        unit_code,
        unit_name,
        shared_device_threshold: SHARED_DEVICE_MIN_MEMBERS,
        counts,
        total,
        flags,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// The flag's `key`.
    pub key: String,
    /// What was found, e.g. "Con gái điểm danh giúp bố mẹ" (1–500 characters).
    pub note: String,
}

/// Marks a flag reviewed with a short note (recorded in the audit log). A
/// second review replaces the first.
#[utoipa::path(post, path = "/sessions/{id}/flags/review", tag = "live", params(("id" = i64, Path)),
    request_body = ReviewRequest,
    responses((status = 200, body = FlagReview), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope, description = "session.not_found, flag.not_found")))]
async fn review_flag(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> AppResult<Json<FlagReview>> {
    let session = visible_session(&state, &caller, &id).await?;
    let note = req.note.trim();
    if note.is_empty() || note.chars().count() > NOTE_MAX_CHARS {
        return Err(AppError::invalid(
            "request.invalid_field",
            "note",
            format!("Hãy ghi nhận xét ngắn (1–{NOTE_MAX_CHARS} ký tự)."),
        ));
    }
    let key = req.key.trim();
    let bad_key = || {
        AppError::not_found(
            "flag.not_found",
            "Không tìm thấy mục cần xem xét này trong phạm vi của bạn (có thể lượt điểm danh đã bị hủy).",
        )
    };
    if key.is_empty() || key.len() > 100 {
        return Err(bad_key());
    }
    // Only a flag the caller can see now may be reviewed.
    let (_, _, path) = view_unit(&state, &caller, &session, None).await?;
    let (_, _, flags) = compute(&state, &session, &path, REVIEW_SEARCH_LIMIT).await?;
    let flag = flags.iter().find(|f| f.key == key).ok_or_else(bad_key)?;
    let by = format!(
        "{} ({})",
        caller.account.display_name, caller.account.username
    );
    let now = time::now_ms();
    state
        .db()
        .review_flag(session.id, key, &by, note, now)
        .await?;
    super::audit::by_account(
        &state,
        &caller,
        "flag.reviewed",
        Some(format!("session:{}", session.id)),
        json!({"key": key, "kind": flag.kind, "summary": flag.summary, "note": note}),
    )
    .await;
    Ok(Json(FlagReview {
        at: ts(now),
        by,
        note: note.to_string(),
    }))
}
