//! Abuse limits, keyed on what is being abused — a member code, a point — and
//! never on the client IP alone: a whole commune hall shares one address.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

/// Fixed-window counters: at most `max` events per key per `window_ms`.
///
/// Keys are kept as 64-bit hashes (a national session counts millions of
/// member codes in one window), and past windows are dropped once, when a
/// new window begins.
pub struct RateLimiter {
    max: u32,
    window_ms: i64,
    hasher: RandomState,
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    /// The newest window seen: older entries are dropped when it moves on.
    current: i64,
    counts: HashMap<u64, (i64, u32)>,
}

impl RateLimiter {
    pub fn new(max: u32, window_ms: i64) -> Self {
        RateLimiter {
            max,
            window_ms,
            hasher: RandomState::new(),
            windows: Mutex::new(Windows::default()),
        }
    }

    /// Whether `key` is already over the limit, without counting an event.
    pub fn exceeded(&self, key: &str, now_ms: i64) -> bool {
        let window = now_ms.div_euclid(self.window_ms);
        let key = self.hasher.hash_one(key);
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows
            .counts
            .get(&key)
            .is_some_and(|(w, n)| *w == window && *n >= self.max)
    }

    /// Counts one event for `key`; false when over the limit.
    pub fn allow(&self, key: &str, now_ms: i64) -> bool {
        let window = now_ms.div_euclid(self.window_ms);
        let key = self.hasher.hash_one(key);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if window > windows.current {
            windows.current = window;
            windows.counts.retain(|_, (w, _)| *w >= window); // forget past windows
        }
        let entry = windows.counts.entry(key).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        entry.1 <= self.max
    }
}

/// The limits the server applies.
pub struct Limits {
    /// Self check-in attempts per member code (stops guessing codes one by one).
    pub per_member: RateLimiter,
    /// Self check-ins per point (a room fills in minutes, not seconds).
    pub per_point: RateLimiter,
    /// Failed sign-ins per account name (password guessing).
    pub failed_logins: RateLimiter,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_member: RateLimiter::new(10, 60_000),
            per_point: RateLimiter::new(600, 60_000),
            failed_logins: RateLimiter::new(10, 15 * 60_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_window() {
        let l = RateLimiter::new(2, 1000);
        assert!(l.allow("a", 0));
        assert!(l.allow("a", 10));
        assert!(!l.allow("a", 20));
        assert!(l.allow("b", 20));
        assert!(l.allow("a", 1000));
    }
}
