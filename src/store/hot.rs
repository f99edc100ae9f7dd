//! Short-lived copies of the sessions and points that check-ins name.
//!
//! Every check-in needs its session (window, scope) and point. Reading them
//! from the database each time would cost more than recording the check-in
//! itself once check-ins are batched. A copy is trusted for [`FRESH`]; this
//! instance forgets a copy as soon as it changes the record, and other
//! instances see the change within [`FRESH`] (sessions) or [`POINT_FRESH`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Db;
use super::points::PointRecord;
use super::sessions::SessionRecord;

/// How long a session copy is used before it is read again: its status
/// (open, ended) must reach other instances quickly.
pub const FRESH: Duration = Duration::from_secs(1);
/// Points change rarely (a rename, a removal) and there are tens of
/// thousands: each is read again after this long.
pub const POINT_FRESH: Duration = Duration::from_secs(30);
/// Beyond this many copies, stale ones are dropped.
const PRUNE_ABOVE: usize = 100_000;

struct Copies<T> {
    map: Mutex<HashMap<i64, (Instant, Arc<T>)>>,
    fresh: Duration,
}

impl<T> Copies<T> {
    fn new(fresh: Duration) -> Self {
        Copies {
            map: Mutex::new(HashMap::new()),
            fresh,
        }
    }
}

impl<T> Copies<T> {
    fn get(&self, id: i64) -> Option<Arc<T>> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&id)
            .filter(|(at, _)| at.elapsed() < self.fresh)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, id: i64, value: Arc<T>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= PRUNE_ABOVE {
            map.retain(|_, (at, _)| at.elapsed() < self.fresh);
        }
        map.insert(id, (Instant::now(), value));
    }

    fn forget(&self, id: i64) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

pub struct HotCache {
    sessions: Copies<SessionRecord>,
    points: Copies<PointRecord>,
}

impl Default for HotCache {
    fn default() -> Self {
        HotCache {
            sessions: Copies::new(FRESH),
            points: Copies::new(POINT_FRESH),
        }
    }
}

impl HotCache {
    pub async fn session(
        &self,
        db: &Db,
        id: i64,
    ) -> Result<Option<Arc<SessionRecord>>, sqlx::Error> {
        if let Some(s) = self.sessions.get(id) {
            return Ok(Some(s));
        }
        let Some(session) = db.session_by_id(id).await? else {
            return Ok(None);
        };
        let session = Arc::new(session);
        self.sessions.put(id, session.clone());
        Ok(Some(session))
    }

    pub async fn point(&self, db: &Db, id: i64) -> Result<Option<Arc<PointRecord>>, sqlx::Error> {
        if let Some(p) = self.points.get(id) {
            return Ok(Some(p));
        }
        let Some(point) = db.point_by_id(id).await? else {
            return Ok(None);
        };
        let point = Arc::new(point);
        self.points.put(id, point.clone());
        Ok(Some(point))
    }

    /// The session changed (status, times, scope) or was deleted.
    pub fn forget_session(&self, id: i64) {
        self.sessions.forget(id);
    }

    /// The point changed or was deleted.
    pub fn forget_point(&self, id: i64) {
        self.points.forget(id);
    }
}
