//! The live picture of a session: tallies rolled up the unit tree, per point,
//! with the points' connection status. Over HTTP for any client; over a
//! WebSocket for dashboards (a snapshot, then versioned changes of only the
//! nodes the page shows, a few times a second at most).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::sessions::visible_session;
use super::{ApiPath, ApiQuery, ts};
use crate::app::AppState;
use crate::domain::report;
use crate::domain::tally::{Figures, Tally};
use crate::domain::tree;
use crate::error::{AppError, AppResult};
use crate::live::PointStatus;
use crate::live::hub::SessionLive;
use crate::store::sessions::SessionRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(session_tally))
}

/// Dashboards receive changes at most this often.
const COALESCE: Duration = Duration::from_millis(250);
/// Point statuses (online → stale) change with time, not events.
const PRESENCE_REFRESH: Duration = Duration::from_secs(5);

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq, Default)]
pub struct CategoryCounts {
    pub cadre: i64,
    pub party_member: i64,
    pub civil_servant: i64,
    pub public_employee: i64,
    pub worker: i64,
    pub guest: i64,
}

impl From<[i64; 6]> for CategoryCounts {
    fn from(a: [i64; 6]) -> Self {
        let [
            cadre,
            party_member,
            civil_servant,
            public_employee,
            worker,
            guest,
        ] = a;
        CategoryCounts {
            cadre,
            party_member,
            civil_servant,
            public_employee,
            worker,
            guest,
        }
    }
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq, Default)]
pub struct MethodCounts {
    /// Self check-in with the point's QR code.
    pub qr_self: i64,
    pub roster: i64,
    pub card: i64,
    /// Following the TV broadcast from home.
    pub broadcast: i64,
    pub makeup: i64,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq, Default)]
pub struct PointCounts {
    pub registered: i64,
    pub online: i64,
    pub stale: i64,
    pub offline: i64,
}

/// Figures of one unit, rolled up over its subtree.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct NodeView {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent_code: Option<String>,
    /// Everyone taking part: members, guests, home viewers.
    pub participants: i64,
    /// Members checked in.
    pub members: i64,
    pub by_category: CategoryCounts,
    pub by_method: MethodCounts,
    /// People not on any roster, from the points' head counts.
    pub guests: i64,
    pub public_viewers: i64,
    /// Roster size (members expected).
    pub roster: i64,
    /// Expected head count where there is no roster.
    pub expected: i64,
    /// What coverage is measured against: rosters, or expected head counts
    /// of units without one.
    pub base: i64,
    /// Share of the roster (or expected head count) taking part, 0–1.
    pub coverage: Option<f64>,
    pub points: PointCounts,
    pub child_count: usize,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct PointLiveView {
    pub id: i64,
    pub name: String,
    pub unit_code: String,
    /// Members checked in at this point.
    pub checked_in: i64,
    /// The latest head count of people not on any roster.
    pub head_count: Option<i64>,
    pub status: PointStatus,
    pub last_seen_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct MinuteCount {
    pub minute: chrono::DateTime<chrono::FixedOffset>,
    pub count: i64,
}

/// Rolled-up point statuses per unit, computed from the presence table.
type PresenceCounts = HashMap<i64, PointCounts>;

fn presence_counts(
    state: &AppState,
    tally: &Tally,
) -> (PresenceCounts, HashMap<i64, (PointStatus, Option<i64>)>) {
    let mut per_unit: PresenceCounts = HashMap::new();
    let mut per_point = HashMap::with_capacity(tally.points.len());
    for point in tally.points.values() {
        let (status, seen) = state.presence().status(point.id);
        per_point.insert(point.id, (status, seen));
        let mut cur = Some(point.unit_id);
        while let Some(id) = cur {
            let c = per_unit.entry(id).or_default();
            c.registered += 1;
            match status {
                PointStatus::Online => c.online += 1,
                PointStatus::Stale => c.stale += 1,
                PointStatus::Offline => c.offline += 1,
            }
            cur = tally.units.get(&id).and_then(|u| u.parent);
        }
    }
    (per_unit, per_point)
}

fn node_view(tally: &Tally, unit_id: i64, presence: &PresenceCounts) -> Option<NodeView> {
    let u = tally.units.get(&unit_id)?;
    let f: &Figures = &u.total;
    let m = f.by_method;
    Some(NodeView {
        code: u.code.clone(),
        name: u.name.clone(),
        kind: u.kind.clone(),
        parent_code: u
            .parent
            .and_then(|p| tally.units.get(&p))
            .map(|p| p.code.clone()),
        participants: f.participants(),
        members: f.members_total(),
        by_category: f.members.into(),
        by_method: MethodCounts {
            qr_self: m[0],
            roster: m[1],
            card: m[2],
            broadcast: m[3],
            makeup: m[4],
        },
        guests: f.guests,
        public_viewers: f.public_viewers,
        roster: f.roster.iter().sum(),
        expected: f.expected.iter().sum(),
        base: f.base,
        coverage: f.coverage().map(|c| (c * 10_000.0).round() / 10_000.0),
        points: presence.get(&unit_id).cloned().unwrap_or_default(),
        child_count: tally.children.get(&unit_id).map_or(0, Vec::len),
    })
}

fn point_views(
    tally: &Tally,
    unit_id: i64,
    statuses: &HashMap<i64, (PointStatus, Option<i64>)>,
) -> Vec<PointLiveView> {
    let code = tally
        .units
        .get(&unit_id)
        .map(|u| u.code.clone())
        .unwrap_or_default();
    let mut points: Vec<PointLiveView> = tally
        .points
        .values()
        .filter(|p| p.unit_id == unit_id)
        .map(|p| {
            let (status, seen) = statuses
                .get(&p.id)
                .copied()
                .unwrap_or((PointStatus::Offline, None));
            PointLiveView {
                id: p.id,
                name: p.name.clone(),
                unit_code: code.clone(),
                checked_in: p.checked_in,
                head_count: p.head_count.map(|(_, _, c)| c),
                status,
                last_seen_at: seen.map(ts),
            }
        })
        .collect();
    points.sort_by(|a, b| a.name.cmp(&b.name));
    points
}

/// The top of the caller's view and the unit asked for (`None`: the top),
/// which must lie in that view; outside it reads as unknown.
pub fn view_and_unit(
    caller: &Caller,
    session: &SessionRecord,
    tally: &Tally,
    unit: Option<&str>,
) -> AppResult<(i64, i64)> {
    let root = view_root(caller, session, tally).ok_or_else(AppError::forbidden)?;
    let unit_id = match unit {
        None => root,
        Some(code) => tally
            .units
            .values()
            .find(|u| u.code == code)
            .map(|u| u.id)
            .filter(|id| in_view(tally, *id, root))
            .ok_or_else(|| {
                AppError::not_found(
                    "unit.not_found",
                    format!("Không tìm thấy đơn vị \"{code}\" trong phạm vi của bạn."),
                )
            })?,
    };
    Ok((root, unit_id))
}

/// The unit a caller's view of a session starts from.
pub fn view_root(caller: &Caller, session: &SessionRecord, tally: &Tally) -> Option<i64> {
    if caller.scope.contains(&session.scope_unit_path) {
        return Some(session.scope_unit_id);
    }
    match &caller.scope {
        crate::store::Scope::Subtree { unit_id, path }
            if tree::is_in_subtree(path, &session.scope_unit_path) =>
        {
            tally.units.contains_key(unit_id).then_some(*unit_id)
        }
        _ => None,
    }
}

pub fn in_view(tally: &Tally, unit_id: i64, root: i64) -> bool {
    let mut cur = Some(unit_id);
    while let Some(id) = cur {
        if id == root {
            return true;
        }
        cur = tally.units.get(&id).and_then(|u| u.parent);
    }
    false
}

#[derive(Serialize, ToSchema)]
pub struct TallyResponse {
    pub session_id: i64,
    /// Increases with every change; equal versions mean equal figures.
    pub version: u64,
    /// The caller's whole view (the session, or the manager's subtree).
    pub headline: NodeView,
    /// e.g. "Toàn Tỉnh Thái Nguyên có 61 điểm cầu kết nối, với tổng số 2.701 … tham gia."
    pub summary: String,
    pub node: NodeView,
    pub children: Vec<NodeView>,
    /// Points registered directly at `node`.
    pub points: Vec<PointLiveView>,
    /// Check-ins per minute over the last two hours.
    pub per_minute: Vec<MinuteCount>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TallyQuery {
    /// The unit to show with its children (default: the top of the caller's view).
    pub unit: Option<String>,
}

fn build_response(
    state: &AppState,
    live: &SessionLive,
    caller: &Caller,
    session: &SessionRecord,
    unit: Option<&str>,
) -> AppResult<TallyResponse> {
    let tally = live.tally.read().unwrap_or_else(|e| e.into_inner());
    let (root, unit_id) = view_and_unit(caller, session, &tally, unit)?;
    let (presence, statuses) = presence_counts(state, &tally);
    let headline = node_view(&tally, root, &presence).expect("root is in the tally");
    let node = node_view(&tally, unit_id, &presence).expect("unit is in the tally");
    let mut children: Vec<NodeView> = tally
        .children
        .get(&unit_id)
        .map(|kids| {
            kids.iter()
                .filter_map(|k| node_view(&tally, *k, &presence))
                .collect()
        })
        .unwrap_or_default();
    children.sort_by(|a, b| {
        crate::domain::text::collation_key(&a.name)
            .cmp(&crate::domain::text::collation_key(&b.name))
    });
    let connected = headline.points.online + headline.points.stale;
    let per_minute = live
        .per_minute
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(m, n)| MinuteCount {
            minute: ts(m * 60_000),
            count: *n,
        })
        .collect();
    Ok(TallyResponse {
        session_id: session.id,
        version: tally.version,
        summary: report::summary(&headline.name, connected, headline.participants),
        points: point_views(&tally, unit_id, &statuses),
        headline,
        node,
        children,
        per_minute,
    })
}

/// Live figures of a session for one unit and its children.
#[utoipa::path(get, path = "/sessions/{id}/tally", tag = "live", params(("id" = i64, Path), TallyQuery),
    responses((status = 200, body = TallyResponse), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn session_tally(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<TallyQuery>,
) -> AppResult<Json<TallyResponse>> {
    let session = visible_session(&state, &caller, &id).await?;
    let live = state.hub().session(state.db(), &session).await?;
    Ok(Json(build_response(
        &state,
        &live,
        &caller,
        &session,
        q.unit.as_deref(),
    )?))
}

// ------------------------------------------------------------ WebSocket

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum DashboardRequest {
    /// The units whose children the page shows (expanded tree nodes).
    Watch { units: Vec<String> },
    /// Send a full snapshot again.
    Resync,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum DashboardMessage {
    Snapshot {
        version: u64,
        headline: NodeView,
        summary: String,
        nodes: Vec<NodeView>,
        points: Vec<PointLiveView>,
        per_minute: Vec<MinuteCount>,
    },
    /// Only what changed since `base_version`; apply if it equals yours,
    /// otherwise send `resync`.
    Update {
        version: u64,
        base_version: u64,
        headline: NodeView,
        summary: String,
        nodes: Vec<NodeView>,
        points: Vec<PointLiveView>,
        per_minute: Vec<MinuteCount>,
    },
    Error {
        code: String,
        message: String,
    },
}

/// Everything a dashboard shows, at one version: version, headline, nodes,
/// points, and the per-minute chart.
type Collected = (
    u64,
    NodeView,
    HashMap<i64, NodeView>,
    HashMap<i64, PointLiveView>,
    Vec<MinuteCount>,
);

/// What one dashboard has been sent, to send it only differences.
struct DashboardView {
    root: i64,
    watched: HashSet<i64>,
    version: u64,
    nodes: HashMap<i64, NodeView>,
    points: HashMap<i64, PointLiveView>,
    per_minute_len: usize,
}

impl DashboardView {
    /// Current views of everything this dashboard shows.
    fn collect(&self, state: &AppState, live: &SessionLive) -> Collected {
        let tally = live.tally.read().unwrap_or_else(|e| e.into_inner());
        let (presence, statuses) = presence_counts(state, &tally);
        let mut nodes = HashMap::new();
        let mut points = HashMap::new();
        for &unit in &self.watched {
            if let Some(v) = node_view(&tally, unit, &presence) {
                nodes.insert(unit, v);
            }
            for kid in tally.children.get(&unit).into_iter().flatten() {
                if let Some(v) = node_view(&tally, *kid, &presence) {
                    nodes.insert(*kid, v);
                }
            }
            for p in point_views(&tally, unit, &statuses) {
                points.insert(p.id, p);
            }
        }
        let headline = node_view(&tally, self.root, &presence).expect("root is in the tally");
        let per_minute = live
            .per_minute
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(m, n)| MinuteCount {
                minute: ts(m * 60_000),
                count: *n,
            })
            .collect();
        (tally.version, headline, nodes, points, per_minute)
    }

    fn snapshot(&mut self, state: &AppState, live: &SessionLive) -> DashboardMessage {
        let (version, headline, nodes, points, per_minute) = self.collect(state, live);
        self.version = version;
        self.nodes = nodes;
        self.points = points;
        self.per_minute_len = per_minute.len();
        DashboardMessage::Snapshot {
            version,
            summary: report::summary(
                &headline.name,
                headline.points.online + headline.points.stale,
                headline.participants,
            ),
            headline,
            nodes: self.nodes.values().cloned().collect(),
            points: self.points.values().cloned().collect(),
            per_minute,
        }
    }

    fn update(&mut self, state: &AppState, live: &SessionLive) -> Option<DashboardMessage> {
        let (version, headline, nodes, points, per_minute) = self.collect(state, live);
        let changed_nodes: Vec<NodeView> = nodes
            .iter()
            .filter(|(id, v)| self.nodes.get(id) != Some(v))
            .map(|(_, v)| v.clone())
            .collect();
        let changed_points: Vec<PointLiveView> = points
            .iter()
            .filter(|(id, v)| self.points.get(id) != Some(v))
            .map(|(_, v)| v.clone())
            .collect();
        if changed_nodes.is_empty() && changed_points.is_empty() && version == self.version {
            return None;
        }
        let base_version = self.version;
        self.version = version;
        self.nodes = nodes;
        self.points = points;
        // The chart's last minutes are small: send the tail that may have changed.
        let tail_from = self.per_minute_len.saturating_sub(1).min(per_minute.len());
        self.per_minute_len = per_minute.len();
        Some(DashboardMessage::Update {
            version,
            base_version,
            summary: report::summary(
                &headline.name,
                headline.points.online + headline.points.stale,
                headline.participants,
            ),
            headline,
            nodes: changed_nodes,
            points: changed_points,
            per_minute: per_minute[tail_from..].to_vec(),
        })
    }
}

/// A dashboard's live connection (signed-in organizers and managers).
pub async fn dashboard_ws(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Another site may not open this socket with the user's cookie.
    if let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) && origin.split("://").nth(1) != Some(host)
    {
        return AppError::new(
            StatusCode::FORBIDDEN,
            "auth.origin",
            "Kết nối từ trang web khác không được phép.",
        )
        .into_response();
    }
    let session = match visible_session(&state, &caller, &id).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let live = match state.hub().session(state.db(), &session).await {
        Ok(l) => l,
        Err(e) => return AppError::from(e).into_response(),
    };
    let root = {
        let tally = live.tally.read().unwrap_or_else(|e| e.into_inner());
        view_root(&caller, &session, &tally)
    };
    let Some(root) = root else {
        return AppError::forbidden().into_response();
    };
    upgrade
        .max_message_size(16 * 1024)
        .on_upgrade(move |socket| run_dashboard(state, live, root, socket))
}

async fn send(socket: &mut WebSocket, msg: &DashboardMessage) -> bool {
    let text = serde_json::to_string(msg).expect("dashboard messages serialize");
    socket.send(Message::Text(text.into())).await.is_ok()
}

async fn run_dashboard(state: AppState, live: Arc<SessionLive>, root: i64, mut socket: WebSocket) {
    let _guard = state.track_socket();
    let mut shutdown = state.shutdown_signal();
    let mut versions = live.subscribe();
    let mut view = DashboardView {
        root,
        watched: HashSet::from([root]),
        version: 0,
        nodes: HashMap::new(),
        points: HashMap::new(),
        per_minute_len: 0,
    };
    let first = view.snapshot(&state, &live);
    let mut ok = send(&mut socket, &first).await;
    let mut presence_tick = tokio::time::interval(PRESENCE_REFRESH);
    presence_tick.tick().await;
    while ok {
        tokio::select! {
            changed = versions.changed() => {
                if changed.is_err() { break; }
                // Coalesce a burst into one message.
                tokio::time::sleep(COALESCE).await;
                versions.borrow_and_update();
                if let Some(update) = view.update(&state, &live) {
                    ok = send(&mut socket, &update).await;
                }
            }
            _ = presence_tick.tick() => {
                if let Some(update) = view.update(&state, &live) {
                    ok = send(&mut socket, &update).await;
                }
            }
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<DashboardRequest>(&text) {
                    Ok(DashboardRequest::Resync) => {
                        let snap = view.snapshot(&state, &live);
                        ok = send(&mut socket, &snap).await;
                    }
                    Ok(DashboardRequest::Watch { units }) => {
                        let wanted: HashSet<i64> = {
                            let tally = live.tally.read().unwrap_or_else(|e| e.into_inner());
                            units.iter().take(500).filter_map(|code| tally.units.values().find(|u| &u.code == code).map(|u| u.id))
                                .filter(|id| in_view(&tally, *id, root)).collect()
                        };
                        view.watched = wanted;
                        view.watched.insert(root);
                        let snap = view.snapshot(&state, &live);
                        ok = send(&mut socket, &snap).await;
                    }
                    Err(e) => {
                        ok = send(&mut socket, &DashboardMessage::Error { code: "protocol.invalid_message".into(), message: format!("Tin nhắn không hợp lệ: {e}") }).await;
                    }
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server restarting".into() }))).await;
                break;
            }
        }
    }
}
