//! Live state of the running server: which point consoles are connected.
//! (Kept in memory; a later step shares it between instances.)

pub mod cluster;
pub mod hub;

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::time;

/// A console sends a heartbeat every 15 s; after 45 s of silence it is stale,
/// and with no connection it is offline.
pub const STALE_AFTER_MS: i64 = 45_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PointStatus {
    Online,
    Stale,
    Offline,
}

#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    connections: u32,
    last_seen_ms: i64,
}

#[derive(Default)]
pub struct Presence {
    points: Mutex<HashMap<i64, Seen>>,
    /// Consoles connected to other instances (PostgreSQL only), refreshed
    /// from the database every few seconds.
    remote: Mutex<HashMap<i64, Seen>>,
}

impl Presence {
    pub fn connected(&self, point_id: i64) {
        let mut points = self.points.lock().unwrap_or_else(|e| e.into_inner());
        let seen = points.entry(point_id).or_default();
        seen.connections += 1;
        seen.last_seen_ms = time::now_ms();
    }

    pub fn heartbeat(&self, point_id: i64) {
        let mut points = self.points.lock().unwrap_or_else(|e| e.into_inner());
        points.entry(point_id).or_default().last_seen_ms = time::now_ms();
    }

    pub fn disconnected(&self, point_id: i64) {
        let mut points = self.points.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(seen) = points.get_mut(&point_id) {
            seen.connections = seen.connections.saturating_sub(1);
        }
    }

    /// This instance's consoles: (point, connections, last heartbeat ms).
    pub fn local_snapshot(&self) -> Vec<(i64, i64, i64)> {
        let points = self.points.lock().unwrap_or_else(|e| e.into_inner());
        points
            .iter()
            .filter(|(_, s)| s.connections > 0)
            .map(|(p, s)| (*p, i64::from(s.connections), s.last_seen_ms))
            .collect()
    }

    /// Replaces what is known of the consoles connected to other instances.
    pub fn set_remote(&self, remote: Vec<(i64, i64, i64)>) {
        let map = remote
            .into_iter()
            .map(|(p, connections, last_seen_ms)| {
                (
                    p,
                    Seen {
                        connections: connections.clamp(0, u32::MAX as i64) as u32,
                        last_seen_ms,
                    },
                )
            })
            .collect();
        *self.remote.lock().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// Status and last heartbeat (ms) of a point.
    pub fn status(&self, point_id: i64) -> (PointStatus, Option<i64>) {
        let local = self
            .points
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&point_id)
            .copied();
        let remote = self
            .remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&point_id)
            .copied();
        let merged = match (local, remote) {
            (Some(a), Some(b)) => Some(Seen {
                connections: a.connections + b.connections,
                last_seen_ms: a.last_seen_ms.max(b.last_seen_ms),
            }),
            (a, b) => a.or(b),
        };
        match merged.as_ref() {
            None => (PointStatus::Offline, None),
            Some(seen) if seen.connections == 0 => (PointStatus::Offline, Some(seen.last_seen_ms)),
            Some(seen) if time::now_ms() - seen.last_seen_ms > STALE_AFTER_MS => {
                (PointStatus::Stale, Some(seen.last_seen_ms))
            }
            Some(seen) => (PointStatus::Online, Some(seen.last_seen_ms)),
        }
    }
}
