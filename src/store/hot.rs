//! Short-lived copies of the sessions and points that check-ins name.
//!
//! Every check-in needs its session (window, scope) and point. Reading them
//! from the database each time would cost more than recording the check-in
//! itself once check-ins are batched. A copy is trusted for [`FRESH`]; this
//! instance forgets a copy as soon as it changes the record, and other
//! instances see the change within [`FRESH`] (sessions) or [`POINT_FRESH`],
//! plus the time one read of it takes.
//!
//! A national session's check-ins are spread over 40,000 points, each seen
//! every few seconds: most of them would find their point's copy stale. So
//! while a session's points are in use, all of them are read together in one
//! query every [`POINT_FRESH`]` / 2`, in the background.

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
    /// Bumped by every `forget`: a read begun before it may put back what
    /// was forgotten, and must not.
    forgotten: std::sync::atomic::AtomicU64,
}

struct Copy<T> {
    at: Instant,
    value: Arc<T>,
    /// When a caller set out to read the record again, if one did.
    refreshing: Option<Instant>,
}

impl<T> Copy<T> {
    fn new(at: Instant, value: Arc<T>) -> Self {
        Copy {
            at,
            value,
            refreshing: None,
        }
    }
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
            forgotten: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn generation(&self) -> u64 {
        self.forgotten.load(std::sync::atomic::Ordering::SeqCst)
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
        map.insert(id, Copy::new(Instant::now(), value));
    }

    fn forget(&self, id: i64) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        self.forgotten
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map.remove(&id);
    }

    /// Replaces the copies of one group (`in_group`) with `values`, read
    /// at `read_at`: members of the group that are no longer there are
    /// forgotten. Nothing is put if anything was forgotten since
    /// `generation`, as the read may predate that change.
    fn replace_group(
        &self,
        generation: u64,
        read_at: Instant,
        in_group: impl Fn(&T) -> bool,
        values: Vec<(i64, Arc<T>)>,
    ) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() != generation {
            return false;
        }
        map.retain(|_, copy| !in_group(&copy.value));
        for (id, value) in values {
            map.insert(id, Copy::new(read_at, value));
        }
        true
    }
}

pub struct HotCache {
    sessions: Copies<SessionRecord>,
    points: Arc<Copies<PointRecord>>,
    /// Sessions whose points were all read together: when that began, and
    /// whether a read is under way.
    session_points: Arc<Mutex<HashMap<i64, (Instant, bool)>>>,
}

impl Default for HotCache {
    fn default() -> Self {
        HotCache {
            sessions: Copies::new(FRESH),
            points: Arc::new(Copies::new(POINT_FRESH)),
            session_points: Arc::new(Mutex::new(HashMap::new())),
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
            self.keep_points_fresh(db, p.session_id);
            return Ok(Some(p));
        }
        let Some(point) = db.point_by_id(id).await? else {
            self.points.forget(id);
            return Ok(None);
        };
        let point = Arc::new(point);
        self.points.put(id, point.clone());
        self.keep_points_fresh(db, point.session_id);
        Ok(Some(point))
    }

    /// Reads all the session's points again in the background if that was
    /// last begun more than half of [`POINT_FRESH`] ago.
    fn keep_points_fresh(&self, db: &Db, session_id: i64) {
        {
            let mut loads = self
                .session_points
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match loads.get(&session_id) {
                Some((_, true)) => return,
                Some((at, false)) if at.elapsed() < POINT_FRESH / 2 => return,
                _ => {}
            }
            loads.insert(session_id, (Instant::now(), true));
        }
        let (db, points, loads) = (db.clone(), self.points.clone(), self.session_points.clone());
        tokio::spawn(async move {
            let generation = points.generation();
            let read_at = Instant::now();
            match db.points_of_session(session_id).await {
                Ok(all) => {
                    let all = all.into_iter().map(|p| (p.id, Arc::new(p))).collect();
                    points.replace_group(generation, read_at, |p| p.session_id == session_id, all);
                }
                Err(e) => {
                    tracing::warn!(error = %e, session_id, "cannot read the session's points")
                }
            }
            // Tried: the next try comes after the same interval either way.
            let mut loads = loads.lock().unwrap_or_else(|e| e.into_inner());
            loads.insert(session_id, (read_at, false));
        });
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

    #[test]
    fn a_group_read_replaces_its_members_unless_one_was_forgotten_meanwhile() {
        let copies: Copies<(i64, &str)> = Copies::new(Duration::from_secs(60));
        copies.put(1, Arc::new((7, "a")));
        copies.put(2, Arc::new((7, "gone")));
        copies.put(3, Arc::new((8, "other session")));
        let before = copies.generation();
        let read = vec![(1, Arc::new((7, "a2"))), (4, Arc::new((7, "new")))];
        assert!(copies.replace_group(before, Instant::now(), |v| v.0 == 7, read.clone()));
        assert!(matches!(copies.get(1), Lookup::Use(v) if v.1 == "a2"));
        assert!(
            matches!(copies.get(2), Lookup::Read),
            "a point no longer there is forgotten"
        );
        assert!(matches!(copies.get(3), Lookup::Use(v) if v.1 == "other session"));
        assert!(matches!(copies.get(4), Lookup::Use(v) if v.1 == "new"));
        // A change forgotten while the read ran: the read is not put.
        let before = copies.generation();
        copies.forget(1);
        assert!(!copies.replace_group(before, Instant::now(), |v| v.0 == 7, read));
        assert!(matches!(copies.get(1), Lookup::Read));
    }
}
