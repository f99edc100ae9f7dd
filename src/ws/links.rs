//! Whether the operator links that opened the consoles still stand.
//!
//! A rotated or revoked link closes its open consoles (4401). Asking the
//! database per console would be 40,000 consoles × one query every few
//! seconds at national scale; instead each instance keeps the current link
//! hash of the points whose consoles it holds, and
//! - learns its own rotations, revocations and deletions at once
//!   ([`LinkWatch::set`]);
//! - reads all of them again every [`SWEEP_PERIOD`] in a few queries, which
//!   catches changes made on another instance (or by retention).
//!
//! Each console watches its point's value and closes when it is no longer the
//! hash of the link it connected with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::store::Db;

/// How often the held points' links are read again (changes made on another
/// instance reach its consoles within this).
pub const SWEEP_PERIOD: Duration = Duration::from_secs(10);

/// Points read in one query of a sweep.
const SWEEP_CHUNK: usize = 1000;

/// The current link hash (`None`: revoked, or the point is gone).
type LinkState = Option<String>;

pub struct LinkWatch {
    db: Db,
    points: Mutex<HashMap<i64, watch::Sender<LinkState>>>,
}

impl LinkWatch {
    /// Starts the sweep; it stops when the last handle is dropped.
    pub fn spawn(db: Db) -> Arc<LinkWatch> {
        let links = Arc::new(LinkWatch {
            db,
            points: Mutex::default(),
        });
        tokio::spawn(sweep_forever(Arc::downgrade(&links)));
        links
    }

    /// Watches the link of `point_id` for a console that connected with the
    /// link whose hash is `hash`.
    pub fn watch(self: &Arc<Self>, point_id: i64, hash: String) -> LinkSubscription {
        let (mut rx, differs) = {
            let mut points = self.points.lock().expect("link map");
            match points.get(&point_id) {
                Some(tx) => (
                    tx.subscribe(),
                    tx.borrow().as_deref() != Some(hash.as_str()),
                ),
                None => {
                    let (tx, rx) = watch::channel(Some(hash.clone()));
                    points.insert(point_id, tx);
                    (rx, false)
                }
            }
        };
        rx.mark_unchanged();
        if differs {
            // Either this console's link is newer than the last sweep saw, or
            // it was rotated just after the console's ticket was checked: the
            // database decides, for this console and the others alike.
            let links = self.clone();
            tokio::spawn(async move { links.reread(&[point_id]).await });
        }
        LinkSubscription {
            links: self.clone(),
            point_id,
            hash,
            rx,
        }
    }

    /// Tells the consoles of `point_id` its link now (after this instance
    /// rotated, revoked or deleted it).
    pub fn set(&self, point_id: i64, hash: LinkState) {
        if let Some(tx) = self.points.lock().expect("link map").get(&point_id) {
            tx.send_if_modified(|current| {
                let changed = *current != hash;
                *current = hash;
                changed
            });
        }
    }

    /// Reads the links of `ids` from the database. A database that does not
    /// answer is no reason to close anything: the next sweep asks again.
    async fn reread(&self, ids: &[i64]) {
        for chunk in ids.chunks(SWEEP_CHUNK) {
            match self.db.operator_token_hashes(chunk).await {
                Ok(found) => {
                    let found: HashMap<i64, LinkState> = found.into_iter().collect();
                    for id in chunk {
                        // A point that is gone has no link.
                        self.set(*id, found.get(id).cloned().flatten());
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, points = chunk.len(), "could not read operator links");
                    return;
                }
            }
        }
    }

    fn held_points(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .points
            .lock()
            .expect("link map")
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }
}

async fn sweep_forever(links: Weak<LinkWatch>) {
    let mut tick = tokio::time::interval(SWEEP_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(links) = links.upgrade() else { return };
        let ids = links.held_points();
        links.reread(&ids).await;
    }
}

/// One console's watch on its point's link; leaving drops the point from the
/// sweep once no console of it is left.
pub struct LinkSubscription {
    links: Arc<LinkWatch>,
    point_id: i64,
    hash: String,
    rx: watch::Receiver<LinkState>,
}

impl LinkSubscription {
    /// Waits until the link this console connected with stops standing.
    /// Never returns while it stands.
    pub async fn revoked(&mut self) {
        loop {
            if self.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
            if self.rx.borrow_and_update().as_deref() != Some(self.hash.as_str()) {
                return;
            }
        }
    }
}

impl Drop for LinkSubscription {
    fn drop(&mut self) {
        let mut points = self.links.points.lock().expect("link map");
        // Ours is the last receiver: no console of this point is left here.
        if points
            .get(&self.point_id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            points.remove(&self.point_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn memory_db() -> Db {
        Db::connect("sqlite::memory:").await.expect("db")
    }

    #[tokio::test]
    async fn a_console_hears_its_own_link_change_but_not_a_repeat_of_it() {
        let links = LinkWatch::spawn(memory_db().await);
        let mut sub = links.watch(7, "h1".into());
        links.set(7, Some("h1".into()));
        let early = tokio::time::timeout(Duration::from_millis(50), sub.revoked()).await;
        assert!(early.is_err(), "the same link is not a change");
        links.set(7, Some("h2".into()));
        tokio::time::timeout(Duration::from_secs(1), sub.revoked())
            .await
            .expect("a rotated link is heard");
    }

    #[tokio::test]
    async fn the_last_console_of_a_point_removes_it_from_the_sweep() {
        let links = LinkWatch::spawn(memory_db().await);
        let a = links.watch(3, "h".into());
        let b = links.watch(3, "h".into());
        let other = links.watch(4, "k".into());
        assert_eq!(links.held_points(), vec![3, 4]);
        drop(a);
        assert_eq!(links.held_points(), vec![3, 4]);
        drop(b);
        assert_eq!(links.held_points(), vec![4]);
        drop(other);
        assert!(links.held_points().is_empty());
    }
}
