//! Tickets to open the console WebSocket: `<point>.<expires ms>.<tag>`, the
//! tag an HMAC over the point, the expiry and the hash of the operator secret
//! at the time. Stateless, so any instance can check it; and a rotated or
//! revoked link invalidates every ticket made from it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn tag(key: &[u8], point_id: i64, expires: i64, token_hash: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("diemcau-ws:1:{point_id}:{expires}:{token_hash}").as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
}

pub fn issue(key: &[u8], point_id: i64, expires: i64, token_hash: &str) -> String {
    format!(
        "{point_id}.{expires}.{}",
        tag(key, point_id, expires, token_hash)
    )
}

/// The point id a ticket claims, before it can be checked.
pub fn point_of(ticket: &str) -> Option<i64> {
    ticket.split('.').next()?.parse().ok()
}

/// Checks a ticket against the point's current operator secret hash.
pub fn verify(key: &[u8], ticket: &str, token_hash: &str, now_ms: i64) -> bool {
    let mut parts = ticket.splitn(3, '.');
    let (Some(Ok(point)), Some(Ok(expires)), Some(sent)) = (
        parts.next().map(str::parse::<i64>),
        parts.next().map(str::parse::<i64>),
        parts.next(),
    ) else {
        return false;
    };
    expires >= now_ms
        && crate::security::constant_time_eq(&tag(key, point, expires, token_hash), sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_expire_and_die_with_the_link() {
        let t = issue(b"k", 3, 1000, "hash-a");
        assert_eq!(point_of(&t), Some(3));
        assert!(verify(b"k", &t, "hash-a", 999));
        assert!(!verify(b"k", &t, "hash-a", 1001));
        assert!(!verify(b"k", &t, "hash-b", 999)); // link rotated
        assert!(!verify(b"k", &t.replacen("3.", "4.", 1), "hash-a", 999));
    }
}
