//! The live picture of a session: tallies rolled up the unit tree, per point,
//! with the points' connection status. Over HTTP for any client; over a
//! WebSocket for dashboards (a snapshot, then versioned changes of only the
//! nodes the page shows, a few times a second at most).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;
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

/// Dashboards receive changes at most this often. Each frame is built once
/// for all of a session's dashboards, so this can be short.
const COALESCE: Duration = Duration::from_millis(100);
/// Point statuses (online → stale) change with time, not events: a frame
/// at least this often.
const PRESENCE_REFRESH: Duration = Duration::from_secs(5);
/// Point statuses are rolled up again at most this often.
const PRESENCE_EVERY: Duration = Duration::from_secs(1);

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
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq, Default)]
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
    ids: &[i64],
    statuses: &HashMap<i64, (PointStatus, Option<i64>)>,
) -> Vec<PointLiveView> {
    let code = tally
        .units
        .get(&unit_id)
        .map(|u| u.code.clone())
        .unwrap_or_default();
    let mut points: Vec<PointLiveView> = ids
        .iter()
        .filter_map(|id| tally.points.get(id))
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
    let unit_points: Vec<i64> = tally
        .points
        .values()
        .filter(|p| p.unit_id == unit_id)
        .map(|p| p.id)
        .collect();
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
        points: point_views(&tally, unit_id, &unit_points, &statuses),
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
    /// otherwise send `resync`. Nodes and points are merge patches: their
    /// key and the fields that changed (docs/live-protocol.md).
    Update {
        version: u64,
        base_version: u64,
        headline: NodeView,
        summary: String,
        nodes: Vec<Value>,
        points: Vec<Value>,
        per_minute: Vec<MinuteCount>,
    },
    Error {
        code: String,
        message: String,
    },
}

/// Everything dashboards show of a session at one version, shared by all of
/// them: every unit's figures and every unit's points, kept current by the
/// feed (only what changed is rebuilt).
#[derive(Clone, Default)]
struct FrameState {
    nodes: HashMap<i64, Arc<NodeView>>,
    /// Points registered at each unit, by name.
    points: HashMap<i64, Arc<Vec<PointLiveView>>>,
    parents: Arc<HashMap<i64, i64>>,
    children: Arc<HashMap<i64, Vec<i64>>>,
    per_minute: Arc<Vec<MinuteCount>>,
}

/// One step of a session's live figures, as every dashboard receives it.
pub struct Frame {
    /// Consecutive frames differ by one: a dashboard that missed one (a slow
    /// connection) gets a snapshot instead of an update.
    seq: u64,
    version: u64,
    /// The version of the frame before, which updates are relative to.
    base_version: u64,
    /// What changed since the frame before; `None` after a rebuild of the
    /// tally (every dashboard gets a snapshot).
    changed: Option<Changes>,
    state: FrameState,
    /// Messages already serialized for a view: built once per frame and
    /// view, the same bytes go to every dashboard showing it.
    cache: Mutex<HashMap<(bool, ViewKey), Utf8Bytes>>,
}

/// Units and points changed since the frame before, with what they were
/// then: an update sends only the fields that differ.
struct Changes {
    /// Changed units and their figures in the frame before (`None`: new).
    units: HashMap<i64, Option<Arc<NodeView>>>,
    points: HashSet<i64>,
    /// The points of each unit with a changed point, in the frame before.
    points_before: HashMap<i64, Arc<Vec<PointLiveView>>>,
}

/// The JSON Merge Patch (RFC 7396) from `old` to `new`: the fields of `new`
/// that differ, nested objects patched the same way; `None` when equal.
/// Our views never drop a field (absent ones are `null`), so no removals.
fn merge_patch(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let patch: serde_json::Map<String, Value> = new
                .iter()
                .filter_map(|(k, v)| match old.get(k) {
                    Some(was) => merge_patch(was, v).map(|p| (k.clone(), p)),
                    None => Some((k.clone(), v.clone())),
                })
                .collect();
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        _ => (old != new).then(|| new.clone()),
    }
}

/// What an update says of one node or point: its key (`code`, `id`) and the
/// fields changed since `old`; all of it when there was none.
fn changed_fields<T: Serialize + PartialEq>(old: Option<&T>, new: &T, key: &str) -> Option<Value> {
    let new_json = serde_json::to_value(new).expect("live views serialize");
    let Some(old) = old else {
        return Some(new_json);
    };
    if old == new {
        return None;
    }
    let old_json = serde_json::to_value(old).expect("live views serialize");
    let mut patch = merge_patch(&old_json, &new_json)?;
    if let (Value::Object(fields), Some(id)) = (&mut patch, new_json.get(key)) {
        fields.insert(key.to_string(), id.clone());
    }
    Some(patch)
}

/// What a dashboard shows: its top unit and the units it has expanded.
type ViewKey = (i64, Vec<i64>);

struct View {
    root: i64,
    watched: HashSet<i64>,
    key: ViewKey,
}

impl View {
    fn new(root: i64, mut watched: HashSet<i64>) -> View {
        watched.insert(root);
        let mut sorted: Vec<i64> = watched.iter().copied().collect();
        sorted.sort_unstable();
        View {
            root,
            watched,
            key: (root, sorted),
        }
    }

    /// A unit shown by this view: an expanded one or a child of one.
    fn shows(&self, state: &FrameState, unit: i64) -> bool {
        self.watched.contains(&unit)
            || state
                .parents
                .get(&unit)
                .is_some_and(|p| self.watched.contains(p))
    }
}

impl Frame {
    fn cached(
        &self,
        snapshot: bool,
        view: &View,
        build: impl FnOnce() -> Option<DashboardMessage>,
    ) -> Option<Utf8Bytes> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let key = (snapshot, view.key.clone());
        if let Some(bytes) = cache.get(&key) {
            return Some(bytes.clone());
        }
        let text = serde_json::to_string(&build()?).expect("dashboard messages serialize");
        let bytes = Utf8Bytes::from(text);
        cache.insert(key, bytes.clone());
        Some(bytes)
    }

    fn headline(&self, view: &View) -> (NodeView, String) {
        let headline = self
            .state
            .nodes
            .get(&view.root)
            .map(|n| (**n).clone())
            .unwrap_or_default();
        let summary = report::summary(
            &headline.name,
            headline.points.online + headline.points.stale,
            headline.participants,
        );
        (headline, summary)
    }

    fn snapshot(&self, view: &View) -> Utf8Bytes {
        self.cached(true, view, || {
            let mut shown = HashSet::new();
            for unit in &view.key.1 {
                shown.insert(*unit);
                shown.extend(self.state.children.get(unit).into_iter().flatten());
            }
            let nodes: Vec<NodeView> = shown
                .iter()
                .filter_map(|u| self.state.nodes.get(u).map(|n| (**n).clone()))
                .collect();
            let mut points = Vec::new();
            for unit in &view.key.1 {
                points.extend(
                    self.state
                        .points
                        .get(unit)
                        .into_iter()
                        .flat_map(|p| p.iter().cloned()),
                );
            }
            let (headline, summary) = self.headline(view);
            Some(DashboardMessage::Snapshot {
                version: self.version,
                headline,
                summary,
                nodes,
                points,
                per_minute: self.state.per_minute.to_vec(),
            })
        })
        .expect("a snapshot is always built")
    }

    /// The change since the frame before, for one view; `None` when the view
    /// shows nothing that changed (and the version is the same).
    fn update(&self, view: &View) -> Option<Utf8Bytes> {
        let changes = self.changed.as_ref()?;
        self.cached(false, view, || {
            let mut shown: Vec<(&str, Value)> = changes
                .units
                .iter()
                .filter(|(u, _)| view.shows(&self.state, **u))
                .filter_map(|(u, before)| {
                    let now = self.state.nodes.get(u)?;
                    let patch = changed_fields(before.as_deref(), &**now, "code")?;
                    Some((now.code.as_str(), patch))
                })
                .collect();
            shown.sort_by(|a, b| a.0.cmp(b.0));
            let nodes: Vec<Value> = shown.into_iter().map(|(_, patch)| patch).collect();
            let mut points = Vec::new();
            if !changes.points.is_empty() {
                for unit in &view.key.1 {
                    let Some(now) = self.state.points.get(unit) else {
                        continue;
                    };
                    let before: HashMap<i64, &PointLiveView> = changes
                        .points_before
                        .get(unit)
                        .map(|list| list.iter().map(|p| (p.id, p)).collect())
                        .unwrap_or_default();
                    points.extend(
                        now.iter()
                            .filter(|p| changes.points.contains(&p.id))
                            .filter_map(|p| changed_fields(before.get(&p.id).copied(), p, "id")),
                    );
                }
            }
            if nodes.is_empty() && points.is_empty() && self.version == self.base_version {
                return None;
            }
            let (headline, summary) = self.headline(view);
            // The chart's last two minutes are the ones that may have changed.
            let tail = self.state.per_minute.len().saturating_sub(2);
            Some(DashboardMessage::Update {
                version: self.version,
                base_version: self.base_version,
                headline,
                summary,
                nodes,
                points,
                per_minute: self.state.per_minute[tail..].to_vec(),
            })
        })
    }
}

/// Builds a session's frames: one per change at most every [`COALESCE`],
/// for every dashboard of the session at once. The presence roll-up, the
/// views of changed units and the messages are made once per frame, not
/// once per dashboard.
pub struct Feed {
    frames: watch::Sender<Arc<Frame>>,
    builder: Mutex<FeedBuilder>,
    /// The units expanded on the session's open dashboards, with how many
    /// show each: frames carry these, their children and their points only.
    expanded: Mutex<HashMap<i64, usize>>,
}

/// A dashboard's expanded units, counted in its feed while it shows them.
struct Showing {
    feed: Arc<Feed>,
    units: Vec<i64>,
}

impl Feed {
    fn show(self: &Arc<Self>, view: &View) -> Showing {
        let mut expanded = self.expanded.lock().unwrap_or_else(|e| e.into_inner());
        for unit in &view.key.1 {
            *expanded.entry(*unit).or_default() += 1;
        }
        Showing {
            feed: self.clone(),
            units: view.key.1.clone(),
        }
    }
}

impl Drop for Showing {
    fn drop(&mut self) {
        let mut expanded = self.feed.expanded.lock().unwrap_or_else(|e| e.into_inner());
        for unit in &self.units {
            if let Some(n) = expanded.get_mut(unit) {
                *n -= 1;
                if *n == 0 {
                    expanded.remove(unit);
                }
            }
        }
    }
}

struct FeedBuilder {
    seq: u64,
    version: u64,
    reloads: u64,
    state: FrameState,
    /// Point statuses rolled up per unit, and each point's status.
    presence: PresenceCounts,
    statuses: HashMap<i64, (PointStatus, Option<i64>)>,
    presence_at: std::time::Instant,
    /// The points of each unit (ids).
    unit_points: HashMap<i64, Vec<i64>>,
}

impl Feed {
    /// The feed of a session's dashboards, started with the first one.
    fn of(state: &AppState, live: &Arc<SessionLive>) -> Arc<Feed> {
        live.dashboards
            .get_or_init(|| {
                let mut builder = FeedBuilder {
                    seq: 0,
                    version: 0,
                    reloads: u64::MAX,
                    state: FrameState::default(),
                    presence: HashMap::new(),
                    statuses: HashMap::new(),
                    presence_at: std::time::Instant::now(),
                    unit_points: HashMap::new(),
                };
                let first = builder
                    .next(state, live, &HashSet::new())
                    .expect("a first frame is complete");
                let feed = Arc::new(Feed {
                    frames: watch::channel(Arc::new(first)).0,
                    builder: Mutex::new(builder),
                    expanded: Mutex::new(HashMap::new()),
                });
                state
                    .hub()
                    .spawn(run_feed(state.clone(), live.clone(), feed.clone()));
                feed as Arc<dyn std::any::Any + Send + Sync>
            })
            .clone()
            .downcast::<Feed>()
            .expect("the dashboards slot holds a feed")
    }

    /// Publishes what changed since the last frame, if anything.
    fn step(&self, state: &AppState, live: &SessionLive) {
        let mut builder = self.builder.lock().unwrap_or_else(|e| e.into_inner());
        let expanded: HashSet<i64> = self
            .expanded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        if let Some(frame) = builder.next(state, live, &expanded) {
            self.frames.send_replace(Arc::new(frame));
        }
    }

    /// A frame with exactly the current figures, for a snapshot.
    fn latest(&self, state: &AppState, live: &SessionLive) -> Arc<Frame> {
        self.step(state, live);
        self.frames.borrow().clone()
    }
}

async fn run_feed(state: AppState, live: Arc<SessionLive>, feed: Arc<Feed>) {
    let mut versions = live.subscribe();
    let mut shutdown = state.shutdown_signal();
    let mut presence_tick = tokio::time::interval(PRESENCE_REFRESH);
    presence_tick.tick().await;
    loop {
        tokio::select! {
            changed = versions.changed() => if changed.is_err() { return },
            _ = presence_tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        versions.borrow_and_update();
        feed.step(&state, &live);
        // At most one frame per interval: a burst of check-ins is one update.
        tokio::time::sleep(COALESCE).await;
    }
}

impl FeedBuilder {
    /// The next frame, or `None` when nothing changed. It holds the units
    /// `expanded` on some dashboard, their children and their points: in a
    /// national burst every commune changes, but a dashboard shows a few.
    fn next(
        &mut self,
        state: &AppState,
        live: &SessionLive,
        expanded: &HashSet<i64>,
    ) -> Option<Frame> {
        let mut tally = live.tally.write().unwrap_or_else(|e| e.into_inner());
        let (dirty_units, dirty_points) = tally.take_dirty();
        let tally = &*tally;
        let reloads = live.reloads();
        let rebuild = reloads != self.reloads;
        let mut shown: HashSet<i64> = expanded
            .iter()
            .flat_map(|u| std::iter::once(u).chain(tally.children.get(u).into_iter().flatten()))
            .copied()
            .filter(|u| tally.units.contains_key(u))
            .collect();
        let shows_point = |p: &i64| {
            tally
                .points
                .get(p)
                .is_some_and(|p| expanded.contains(&p.unit_id))
        };
        let mut units: HashSet<i64> = dirty_units
            .into_iter()
            .filter(|u| shown.contains(u))
            .collect();
        let mut points: HashSet<i64> = dirty_points.into_iter().filter(shows_point).collect();
        if rebuild || self.presence_at.elapsed() >= PRESENCE_EVERY {
            let (presence, statuses) = presence_counts(state, tally);
            if !rebuild {
                units.extend(
                    shown
                        .iter()
                        .filter(|u| presence.get(u) != self.presence.get(u)),
                );
                points.extend(
                    statuses
                        .iter()
                        .filter(|(p, s)| self.statuses.get(p) != Some(s) && shows_point(p))
                        .map(|(p, _)| *p),
                );
            }
            self.presence = presence;
            self.statuses = statuses;
            self.presence_at = std::time::Instant::now();
        }
        if rebuild {
            self.reloads = reloads;
            self.unit_points.clear();
            for p in tally.points.values() {
                self.unit_points.entry(p.unit_id).or_default().push(p.id);
            }
            self.state.parents = Arc::new(
                tally
                    .units
                    .values()
                    .filter_map(|u| u.parent.map(|p| (u.id, p)))
                    .collect(),
            );
            self.state.children = Arc::new(tally.children.clone());
            self.state.nodes.clear();
            self.state.points.clear();
            units = std::mem::take(&mut shown);
            points = tally.points.keys().copied().filter(shows_point).collect();
        } else {
            // Units a dashboard has just expanded, and those none shows now.
            units.extend(shown.iter().filter(|u| !self.state.nodes.contains_key(u)));
            for unit in expanded
                .iter()
                .filter(|u| !self.state.points.contains_key(u))
            {
                points.extend(self.unit_points.get(unit).into_iter().flatten());
            }
            self.state.nodes.retain(|u, _| shown.contains(u));
            self.state.points.retain(|u, _| expanded.contains(u));
            if units.is_empty() && points.is_empty() && tally.version == self.version {
                return None;
            }
        }
        let mut units_before = HashMap::with_capacity(units.len());
        for unit in &units {
            let before = match node_view(tally, *unit, &self.presence) {
                Some(v) => self.state.nodes.insert(*unit, Arc::new(v)),
                None => self.state.nodes.remove(unit),
            };
            units_before.insert(*unit, before);
        }
        let point_units: HashSet<i64> = points
            .iter()
            .filter_map(|p| tally.points.get(p).map(|p| p.unit_id))
            .collect();
        let mut points_before = HashMap::with_capacity(point_units.len());
        for unit in point_units {
            let ids = self
                .unit_points
                .get(&unit)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let now = Arc::new(point_views(tally, unit, ids, &self.statuses));
            if let Some(before) = self.state.points.insert(unit, now) {
                points_before.insert(unit, before);
            }
        }
        self.state.per_minute = Arc::new(
            live.per_minute
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(m, n)| MinuteCount {
                    minute: ts(m * 60_000),
                    count: *n,
                })
                .collect(),
        );
        self.seq += 1;
        let frame = Frame {
            seq: self.seq,
            version: tally.version,
            base_version: self.version,
            changed: (!rebuild).then_some(Changes {
                units: units_before,
                points,
                points_before,
            }),
            state: self.state.clone(),
            cache: Mutex::new(HashMap::new()),
        };
        self.version = tally.version;
        Some(frame)
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
    // A thousand dashboards stay open through a session: small buffers, as
    // the console's, and a dashboard that stops reading is dropped.
    upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(16 * 1024)
        .max_frame_size(16 * 1024)
        .on_upgrade(move |socket| async move {
            // Served from the live thread; the socket stays registered with
            // the main runtime's reactor, which wakes it there when ready.
            let dashboard = run_dashboard(state.clone(), live, root, socket);
            state.hub().spawn(dashboard);
        })
}

async fn send(socket: &mut WebSocket, msg: &DashboardMessage) -> bool {
    let text = serde_json::to_string(msg).expect("dashboard messages serialize");
    socket.send(Message::Text(text.into())).await.is_ok()
}

async fn run_dashboard(state: AppState, live: Arc<SessionLive>, root: i64, mut socket: WebSocket) {
    let _guard = state.track_socket();
    let mut shutdown = state.shutdown_signal();
    let feed = Feed::of(&state, &live);
    let mut frames = feed.frames.subscribe();
    let mut view = View::new(root, HashSet::new());
    // Counted before the frame is taken, so that the frame holds the view.
    let mut _showing = feed.show(&view);
    let frame = feed.latest(&state, &live);
    frames.borrow_and_update();
    let mut seq = frame.seq;
    let mut ok = socket
        .send(Message::Text(frame.snapshot(&view)))
        .await
        .is_ok();
    while ok {
        tokio::select! {
            changed = frames.changed() => {
                if changed.is_err() { break; }
                let frame = frames.borrow_and_update().clone();
                if frame.seq <= seq {
                    continue; // already sent with a snapshot
                }
                // Only the latest frame is kept: a dashboard too slow to take
                // every one gets a snapshot, never a growing backlog.
                let message = if frame.seq == seq + 1 && frame.changed.is_some() {
                    frame.update(&view)
                } else {
                    Some(frame.snapshot(&view))
                };
                seq = frame.seq;
                if let Some(text) = message {
                    ok = socket.send(Message::Text(text)).await.is_ok();
                }
            }
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<DashboardRequest>(&text) {
                    Ok(request) => {
                        if let DashboardRequest::Watch { units } = request {
                            let wanted: HashSet<i64> = {
                                let tally = live.tally.read().unwrap_or_else(|e| e.into_inner());
                                let by_code: HashMap<&str, i64> = tally.units.values().map(|u| (u.code.as_str(), u.id)).collect();
                                units.iter().take(500).filter_map(|code| by_code.get(code.as_str()).copied())
                                    .filter(|id| in_view(&tally, *id, root)).collect()
                            };
                            view = View::new(root, wanted);
                            _showing = feed.show(&view);
                        }
                        let frame = feed.latest(&state, &live);
                        frames.borrow_and_update();
                        seq = frame.seq;
                        ok = socket.send(Message::Text(frame.snapshot(&view))).await.is_ok();
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
