//! Check-in rules, shared by the member's check-in page, the operator's HTTP
//! batch endpoint and the point console over WebSocket.
//!
//! Order of checks: the session must be open (no point telling someone their
//! code is unknown when nobody may check in yet), then the member must exist
//! and belong to the session's subtree, then the store records the check-in
//! in one transaction and only then is the answer given.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::tally::TallyEvent;
use crate::domain::{CheckinMethod, SessionStatus, time, tree};
use crate::live::hub::LiveHub;
use crate::store::checkin_batch::{BatchItem, BatchOutcome};
use crate::store::checkins::{PriorCheckin, Recorded};
use crate::store::members::MemberRecord;
use crate::store::points::PointRecord;
use crate::store::sessions::SessionRecord;

mod writer;
pub use writer::CheckinWriter;

/// How far a device clock may be ahead before its time is not believed.
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Offline check-ins replayed up to this long after the window closed are kept.
const REPLAY_GRACE_MS: i64 = 24 * 3600 * 1000;
/// An operator may annul a check-in made at their point within this window.
pub const UNDO_WINDOW_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MemberBrief {
    pub code: String,
    pub full_name: String,
    pub unit_name: String,
}

/// The answer to one check-in. The same operation id always gets the same answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CheckinAnswer {
    /// Recorded now, durably.
    CheckedIn {
        member: MemberBrief,
        /// When it was taken (device time for consoles, server time otherwise).
        at: DateTime<FixedOffset>,
        point: Option<String>,
        method: CheckinMethod,
        message: String,
    },
    /// The member had already checked in: when and where the first time.
    AlreadyCheckedIn {
        member: MemberBrief,
        at: DateTime<FixedOffset>,
        point: Option<String>,
        method: CheckinMethod,
        message: String,
    },
    /// Not recorded, for the reason given.
    Refused { code: String, message: String },
}

impl CheckinAnswer {
    pub fn refused(code: &str, message: impl Into<String>) -> Self {
        CheckinAnswer::Refused {
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn is_recorded(&self) -> bool {
        !matches!(self, CheckinAnswer::Refused { .. })
    }
}

/// One check-in to take.
pub struct CheckinCommand<'a> {
    pub session: &'a SessionRecord,
    pub point: Option<&'a PointRecord>,
    pub member_code: &'a str,
    pub method: CheckinMethod,
    /// `p:<point>` for consoles, `m:<member>` for phones: scopes operation ids.
    pub source: Option<String>,
    pub client_id: Option<String>,
    /// Device time, when the device sent one.
    pub taken_at: Option<i64>,
    /// Sent from an offline queue.
    pub replayed: bool,
    /// Short hash of the phone's device id (self check-in only), for proxy flags.
    pub device: Option<String>,
}

fn hhmm(ms: i64) -> String {
    time::to_local(ms).format("%H:%M %d/%m/%Y").to_string()
}

/// Whether check-in is open for `session` at `at` (and why not).
pub fn window_refusal(
    session: &SessionRecord,
    at: i64,
    replayed: bool,
    now: i64,
) -> Option<CheckinAnswer> {
    let status = SessionStatus::parse(&session.status).unwrap_or(SessionStatus::Scheduled);
    match status {
        SessionStatus::Scheduled => {
            return Some(CheckinAnswer::refused(
                "session.not_open",
                "Buổi học chưa mở điểm danh. Vui lòng chờ ban tổ chức mở điểm danh.",
            ));
        }
        SessionStatus::Ended if !replayed => {
            return Some(CheckinAnswer::refused(
                "session.ended",
                "Buổi học đã kết thúc, không thể điểm danh. Bạn có thể học bù qua video ghi hình.",
            ));
        }
        _ => {}
    }
    if at < session.checkin_opens_at {
        return Some(CheckinAnswer::refused(
            "session.not_open",
            format!(
                "Chưa đến giờ điểm danh (mở lúc {}).",
                hhmm(session.checkin_opens_at)
            ),
        ));
    }
    if at > session.checkin_closes_at
        || (replayed && now > session.checkin_closes_at + REPLAY_GRACE_MS)
    {
        return Some(CheckinAnswer::refused(
            "session.closed",
            format!(
                "Đã hết giờ điểm danh (đóng lúc {}).",
                hhmm(session.checkin_closes_at)
            ),
        ));
    }
    None
}

/// Tells the live figures (and other instances, webhooks) of a check-in
/// that is now durable.
pub fn publish_new(
    hub: &LiveHub,
    session_id: i64,
    checkin_id: i64,
    member: &MemberRecord,
    method: CheckinMethod,
    point_id: Option<i64>,
) {
    hub.publish_all(vec![checked_in_event(
        session_id, checkin_id, member, method, point_id,
    )]);
}

/// The event of a new check-in, as the live figures and webhooks read it.
pub fn checked_in_event(
    session_id: i64,
    checkin_id: i64,
    member: &MemberRecord,
    method: CheckinMethod,
    point_id: Option<i64>,
) -> (i64, TallyEvent) {
    (
        session_id,
        TallyEvent::CheckedIn {
            checkin_id,
            unit_id: member.unit_id,
            category: crate::domain::Category::parse(&member.category)
                .unwrap_or(crate::domain::Category::Guest),
            method,
            point_id,
        },
    )
}

/// Refuses a member outside the session's units (the JSON of the refusal).
fn membership_refusal(member: &MemberRecord, scope_path: &str) -> Result<(), String> {
    if tree::is_in_subtree(&member.unit_path, scope_path) {
        return Ok(());
    }
    let refusal = CheckinAnswer::refused(
        "member.outside_session",
        format!(
            "Thành viên {} ({}) không thuộc các đơn vị tham gia buổi học này.",
            member.full_name, member.unit_name
        ),
    );
    Err(serde_json::to_string(&refusal).expect("answers serialize"))
}

/// The answer to a recorded check-in, as given to its operation id.
fn answer_text(
    item: &BatchItem,
    method: CheckinMethod,
    member: &MemberRecord,
    recorded: &Recorded,
) -> String {
    let answer = match recorded {
        Recorded::New { .. } => {
            checked_in_answer(member, item.taken_at, item.point_name.as_deref(), method)
        }
        Recorded::Resent(prior) => return resent_answer(member, prior),
        Recorded::Already(prior) => {
            let brief = brief(member);
            let prior_method = CheckinMethod::parse(&prior.method).unwrap_or(CheckinMethod::Roster);
            CheckinAnswer::AlreadyCheckedIn {
                message: match &prior.point_name {
                    Some(p) => format!(
                        "{} đã điểm danh trước đó lúc {} tại {}.",
                        brief.full_name,
                        hhmm(prior.taken_at),
                        p
                    ),
                    None => format!(
                        "{} đã điểm danh trước đó lúc {} ({}).",
                        brief.full_name,
                        hhmm(prior.taken_at),
                        prior_method.label()
                    ),
                },
                member: brief,
                at: time::to_local(prior.taken_at),
                point: prior.point_name.clone(),
                method: prior_method,
            }
        }
        Recorded::Repeat(text) => return text.clone(),
    };
    serde_json::to_string(&answer).expect("answers serialize")
}

/// The answer a check-in got when it was recorded, made again from its row
/// (for a resend of its operation id, or to keep it when it is annulled).
/// The same as [`answer_text`] gave then: the row keeps the time, point and
/// method the answer was made of.
pub fn resent_answer(member: &MemberRecord, checkin: &PriorCheckin) -> String {
    let method = CheckinMethod::parse(&checkin.method).unwrap_or(CheckinMethod::Roster);
    let answer = checked_in_answer(
        member,
        checkin.taken_at,
        checkin.point_name.as_deref(),
        method,
    );
    serde_json::to_string(&answer).expect("answers serialize")
}

fn brief(member: &MemberRecord) -> MemberBrief {
    MemberBrief {
        code: member.code.clone(),
        full_name: member.full_name.clone(),
        unit_name: member.unit_name.clone(),
    }
}

fn checked_in_answer(
    member: &MemberRecord,
    taken_at: i64,
    point_name: Option<&str>,
    method: CheckinMethod,
) -> CheckinAnswer {
    let brief = brief(member);
    CheckinAnswer::CheckedIn {
        message: match point_name {
            Some(p) => format!(
                "Đã điểm danh: {} lúc {} tại {}.",
                brief.full_name,
                hhmm(taken_at),
                p
            ),
            None => format!(
                "Đã điểm danh: {} lúc {} ({}).",
                brief.full_name,
                hhmm(taken_at),
                method.label()
            ),
        },
        member: brief,
        at: time::to_local(taken_at),
        point: point_name.map(str::to_string),
        method,
    }
}

fn parse_answer(text: &str) -> CheckinAnswer {
    serde_json::from_str(text)
        .unwrap_or_else(|_| CheckinAnswer::refused("internal", "Lỗi hệ thống."))
}

/// The answer given before to the operation id `(source, client_id)` for a
/// check-in of `member_code` in the session: kept in `operations`, or, for a
/// new check-in, made again from the member's live check-in when that id
/// made it.
async fn answer_given(
    db: &crate::store::Db,
    session_id: i64,
    member_code: &str,
    source: &str,
    client_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    if let Some(seen) = db.operation_answer(source, client_id).await? {
        return Ok(Some(seen));
    }
    let Some(member) = db.member_by_code(member_code.trim()).await? else {
        return Ok(None);
    };
    Ok(db
        .live_checkin(session_id, member.id)
        .await?
        .filter(|c| c.made_by(Some(source), Some(client_id)))
        .map(|c| resent_answer(&member, &c)))
}

/// Takes one check-in: checks the rules, has the writer record it durably
/// (together with others waiting), answers.
pub async fn check_in(
    writer: &CheckinWriter,
    cmd: CheckinCommand<'_>,
) -> Result<CheckinAnswer, sqlx::Error> {
    Ok(check_in_counted(writer, cmd, false).await?.0)
}

/// [`check_in`], also giving the point's live check-ins when asked and
/// known (counted in the same transaction).
pub async fn check_in_counted(
    writer: &CheckinWriter,
    cmd: CheckinCommand<'_>,
    want_point_count: bool,
) -> Result<(CheckinAnswer, Option<i64>), sqlx::Error> {
    let now = time::now_ms();
    // Live check-ins use the server clock for the window; replayed ones the
    // device time, unless it claims to be in the future.
    let taken_at = match cmd.taken_at {
        Some(t) if cmd.replayed && t <= now + CLOCK_SKEW_MS => Ok(t),
        Some(t) if !cmd.replayed && (t - now).abs() <= CLOCK_SKEW_MS => Ok(t),
        Some(_) if cmd.replayed => Err(CheckinAnswer::refused(
            "checkin.bad_time",
            "Thời gian điểm danh trên thiết bị không hợp lệ (ở tương lai). Hãy kiểm tra đồng hồ của máy.",
        )),
        _ => Ok(now),
    };
    let window_time = if cmd.replayed {
        *taken_at.as_ref().unwrap_or(&now)
    } else {
        now
    };
    let refusal = match &taken_at {
        Err(refusal) => Some(refusal.clone()),
        Ok(_) => window_refusal(cmd.session, window_time, cmd.replayed, now),
    };
    if let Some(refusal) = refusal {
        // A repeated operation id gets its first answer, whatever changed since.
        if let (Some(source), Some(client_id)) = (&cmd.source, &cmd.client_id)
            && let Some(seen) = answer_given(
                writer.db(),
                cmd.session.id,
                cmd.member_code,
                source,
                client_id,
            )
            .await?
        {
            return Ok((parse_answer(&seen), None));
        }
        return Ok((refusal, None));
    }
    let code = cmd.member_code.trim();
    let item = BatchItem {
        session_id: cmd.session.id,
        member_code: code.to_string(),
        point_id: cmd.point.map(|p| p.id),
        point_name: cmd.point.map(|p| p.name.clone()),
        method: cmd.method.code(),
        source: cmd.source,
        client_id: cmd.client_id,
        taken_at: taken_at.unwrap_or(now),
        replayed: cmd.replayed,
        device: cmd.device,
        want_point_count,
    };
    let recorded = writer
        .submit(item, cmd.session.scope_unit_path.clone(), cmd.method)
        .await?;
    let answer = match recorded.outcome {
        BatchOutcome::Repeat(text) | BatchOutcome::Refused(text) => parse_answer(&text),
        BatchOutcome::Recorded { answer, .. } => parse_answer(&answer),
        BatchOutcome::UnknownMember => CheckinAnswer::refused(
            "member.unknown",
            format!("Không tìm thấy mã thành viên \"{code}\". Hãy kiểm tra lại mã trên thẻ."),
        ),
    };
    Ok((answer, recorded.point_count))
}
