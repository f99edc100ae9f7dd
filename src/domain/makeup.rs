//! Make-up by recording (học bù): a member who missed the session watches the
//! recording from a personal link; once they have watched a set share of it
//! (80% by default) they count as having studied it.
//!
//! The page reports the intervals it actually played. Skipping ahead plays
//! nothing in between, so it earns nothing; and the server credits no more
//! new seconds than the wall-clock time since the previous report allows, so
//! a forged report cannot claim an hour in a minute.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Playing faster than this (or reports bunching up) is not credited beyond it.
pub const MAX_SPEED: f64 = 2.0;
/// Slack for network delays between reports, in seconds.
pub const SLACK_S: f64 = 15.0;

fn tag(key: &[u8], session_id: i64, member_code: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("diemcau-makeup:1:{session_id}:{member_code}").as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..12])
}

/// The token of a member's personal make-up link: `<session>.<member code>.<tag>`.
pub fn token(key: &[u8], session_id: i64, member_code: &str) -> String {
    format!(
        "{session_id}.{member_code}.{}",
        tag(key, session_id, member_code)
    )
}

/// The session and member code a genuine token names.
pub fn verify(key: &[u8], token: &str) -> Option<(i64, String)> {
    let (session, rest) = token.split_once('.')?;
    let (code, sent) = rest.rsplit_once('.')?;
    let session: i64 = session.parse().ok()?;
    crate::security::constant_time_eq(&tag(key, session, code), sent)
        .then(|| (session, code.to_string()))
}

/// Merges intervals (seconds) into a sorted list without overlaps.
pub fn merge(mut intervals: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    intervals.retain(|(a, b)| a.is_finite() && b.is_finite() && b > a);
    intervals.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(intervals.len());
    for (a, b) in intervals {
        match out.last_mut() {
            // Only overlapping or touching intervals: bridging a gap would
            // credit time nobody watched.
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

pub fn total(intervals: &[(f64, f64)]) -> f64 {
    intervals.iter().map(|(a, b)| b - a).sum()
}

/// Adds newly reported intervals to what was already credited, crediting at
/// most `budget_s` new seconds (earliest first). Returns the new watched set.
pub fn credit(
    watched: &[(f64, f64)],
    reported: &[(f64, f64)],
    duration_s: f64,
    budget_s: f64,
) -> Vec<(f64, f64)> {
    let clamp = |(a, b): (f64, f64)| (a.clamp(0.0, duration_s), b.clamp(0.0, duration_s));
    let before = merge(watched.to_vec());
    let mut budget = budget_s.max(0.0);
    let mut result = before.clone();
    for &(a, b) in merge(reported.iter().copied().map(clamp).collect()).iter() {
        if budget <= 0.0 {
            break;
        }
        // The part of [a, b] not yet watched, piece by piece.
        let mut cursor = a;
        for &(wa, wb) in &before {
            if wb <= cursor || wa >= b {
                continue;
            }
            if wa > cursor {
                let take = (wa.min(b) - cursor).min(budget);
                result.push((cursor, cursor + take));
                budget -= take;
            }
            cursor = cursor.max(wb);
        }
        if cursor < b && budget > 0.0 {
            let take = (b - cursor).min(budget);
            result.push((cursor, cursor + take));
            budget -= take;
        }
    }
    merge(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_personal() {
        let t = token(b"k", 3, "00123");
        assert_eq!(verify(b"k", &t), Some((3, "00123".into())));
        assert_eq!(verify(b"k", &t.replace("00123", "00124")), None);
        assert_eq!(verify(b"other", &t), None);
    }

    #[test]
    fn overlapping_reports_count_once() {
        let w = credit(&[], &[(0.0, 60.0), (30.0, 90.0)], 600.0, 1000.0);
        assert_eq!(total(&w), 90.0);
        let w = credit(&w, &[(0.0, 90.0)], 600.0, 1000.0);
        assert_eq!(total(&w), 90.0);
    }

    #[test]
    fn skipping_ahead_earns_only_what_was_played() {
        // Watched 0–60 s, jumped to 500 s, watched to 540 s.
        let w = credit(&[], &[(0.0, 60.0), (500.0, 540.0)], 600.0, 1000.0);
        assert_eq!(total(&w), 100.0);
    }

    #[test]
    fn claims_beyond_the_elapsed_time_are_not_credited() {
        // A report claiming the whole hour after 2 minutes earns 2 minutes' worth.
        let w = credit(&[], &[(0.0, 3600.0)], 3600.0, 120.0);
        assert_eq!(total(&w), 120.0);
        // Intervals past the end of the recording are clipped.
        let w = credit(&[], &[(3500.0, 9000.0)], 3600.0, 10_000.0);
        assert_eq!(total(&w), 100.0);
    }
}
