//! Short-lived copies of the sessions and points that check-ins name.
//!
//! Every check-in needs its session (window, scope) and point. Reading them
//! from the database each time would cost more than recording the check-in
//! itself once check-ins are batched. A copy is trusted for [`FRESH`]; this
//! instance forgets a copy as soon as it changes the record, and other
//! instances see the change within [`FRESH`] (sessions) or [`POINT_FRESH`],
//! plus the time one read of it takes.

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
    map: Mutex<HashMap<i64, Copy<T>>>,
    fresh: Duration,
}

struct Copy<T> {
    at: Instant,
    value: Arc<T>,
    /// When a caller set out to read the record again, if one did.
    refreshing: Option<Instant>,
}

/// What a caller does with the copy it asked for.
enum Lookup<T> {
    /// Fresh, or stale while another caller reads it again: use it.
    Use(Arc<T>),
    /// Missing, or stale and nobody is reading it: this caller reads it.
    Read,
}

impl<T> Copies<T> {
    fn new(fresh: Duration) -> Self {
        Copies {
            map: Mutex::new(HashMap::new()),
            fresh,
        }
    }

    /// When a copy goes stale under load, one caller reads the record again
    /// and the others keep the stale copy meanwhile: every check-in in
    /// flight reading the same session at once was a burst of identical
    /// queries each second, waiting on a pool the check-ins needed. A read
    /// that has not come back within `fresh` is handed to the next caller.
    fn get(&self, id: i64) -> Lookup<T> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let Some(copy) = map.get_mut(&id) else {
            return Lookup::Read;
        };
        if copy.at.elapsed() < self.fresh {
            return Lookup::Use(copy.value.clone());
        }
        match copy.refreshing {
            Some(since) if since.elapsed() < self.fresh => Lookup::Use(copy.value.clone()),
            _ => {
                copy.refreshing = Some(Instant::now());
                Lookup::Read
            }
        }
    }

    fn put(&self, id: i64, value: Arc<T>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= PRUNE_ABOVE {
            let fresh = self.fresh;
            map.retain(|_, copy| copy.at.elapsed() < fresh);
        }
        map.insert(
            id,
            Copy {
                at: Instant::now(),
                value,
                refreshing: None,
            },
        );
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
        if let Lookup::Use(s) = self.sessions.get(id) {
            return Ok(Some(s));
        }
        let Some(session) = db.session_by_id(id).await? else {
            self.sessions.forget(id);
            return Ok(None);
        };
        let session = Arc::new(session);
        self.sessions.put(id, session.clone());
        Ok(Some(session))
    }

    pub async fn point(&self, db: &Db, id: i64) -> Result<Option<Arc<PointRecord>>, sqlx::Error> {
        if let Lookup::Use(p) = self.points.get(id) {
            return Ok(Some(p));
        }
        let Some(point) = db.point_by_id(id).await? else {
            self.points.forget(id);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_copy_is_read_again_by_one_caller_while_the_others_keep_it() {
        let copies: Copies<&str> = Copies::new(Duration::from_millis(50));
        assert!(matches!(copies.get(1), Lookup::Read));
        copies.put(1, Arc::new("old"));
        assert!(matches!(copies.get(1), Lookup::Use(v) if *v == "old"));
        std::thread::sleep(Duration::from_millis(60));
        // Stale: the first caller reads, the next ones use the old copy.
        assert!(matches!(copies.get(1), Lookup::Read));
        assert!(matches!(copies.get(1), Lookup::Use(v) if *v == "old"));
        // That read never came back: the next caller takes it over.
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(copies.get(1), Lookup::Read));
        copies.put(1, Arc::new("new"));
        assert!(matches!(copies.get(1), Lookup::Use(v) if *v == "new"));
        copies.forget(1);
        assert!(matches!(copies.get(1), Lookup::Read));
    }
}
