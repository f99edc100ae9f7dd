//! The two signed codes of check-in.
//!
//! **Point QR token** — shown on the room screen, rotating every
//! [`QR_PERIOD_MS`]: `"<point id>.<period>.<tag>"`, the tag an HMAC-SHA256 of
//! the point and period under a server key. The current and the previous
//! period are accepted, so a photo sent to someone at home is useless within
//! a minute.
//!
//! **Member card** — printed once, scanned by the console:
//! `"DC1.<member code>.<signature>"`, an ECDSA P-256 signature. The console
//! holds only the public key, so it can verify cards while offline without
//! being able to forge them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::Sha256;

/// How long one QR code is valid before the next one replaces it.
pub const QR_PERIOD_MS: i64 = 20_000;
const QR_TAG_BYTES: usize = 12;
const CARD_PREFIX: &str = "DC1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of ours at all.
    Malformed,
    /// Well-formed, but the signature does not match: forged or altered.
    Forged,
    /// Genuine, but older than the previous period (or from the future).
    Expired,
}

fn qr_tag(key: &[u8], point_id: i64, period: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("diemcau-qr:1:{point_id}:{period}").as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..QR_TAG_BYTES])
}

pub fn qr_period(now_ms: i64) -> i64 {
    now_ms.div_euclid(QR_PERIOD_MS)
}

/// The token for `point_id` now, and when the next one replaces it.
pub fn issue_qr(key: &[u8], point_id: i64, now_ms: i64) -> (String, i64) {
    let period = qr_period(now_ms);
    let token = format!("{point_id}.{period}.{}", qr_tag(key, point_id, period));
    (token, (period + 1) * QR_PERIOD_MS)
}

/// Checks a point QR token; returns the point it belongs to.
pub fn verify_qr(key: &[u8], token: &str, now_ms: i64) -> Result<i64, TokenError> {
    let mut parts = token.trim().splitn(3, '.');
    let (Some(point), Some(period), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let (Ok(point_id), Ok(period)) = (point.parse::<i64>(), period.parse::<i64>()) else {
        return Err(TokenError::Malformed);
    };
    if tag.len() != 16 || point_id <= 0 {
        return Err(TokenError::Malformed);
    }
    let expected = qr_tag(key, point_id, period);
    if !crate::security::constant_time_eq(&expected, tag) {
        return Err(TokenError::Forged);
    }
    let current = qr_period(now_ms);
    if period == current || period == current - 1 {
        Ok(point_id)
    } else {
        Err(TokenError::Expired)
    }
}

/// Signs and checks member cards.
#[derive(Clone)]
pub struct CardSigner {
    key: SigningKey,
}

impl CardSigner {
    pub fn from_bytes(secret: &[u8]) -> Option<Self> {
        SigningKey::from_slice(secret)
            .ok()
            .map(|key| CardSigner { key })
    }

    pub fn generate_secret() -> Vec<u8> {
        SigningKey::random(&mut rand::rngs::OsRng)
            .to_bytes()
            .to_vec()
    }

    /// The public key, SEC1 uncompressed, base64url: what a console imports
    /// with WebCrypto (`importKey("raw", …, {name: "ECDSA", namedCurve: "P-256"})`).
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(
            VerifyingKey::from(&self.key)
                .to_encoded_point(false)
                .as_bytes(),
        )
    }

    fn message(member_code: &str) -> String {
        format!("diemcau-card:1:{member_code}")
    }

    /// The text of a member's card QR code.
    pub fn card(&self, member_code: &str) -> String {
        let signature: Signature = self.key.sign(Self::message(member_code).as_bytes());
        format!(
            "{CARD_PREFIX}.{member_code}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// Checks a card; returns the member code it carries.
    pub fn verify(&self, card: &str) -> Result<String, TokenError> {
        let card = card.trim();
        let rest = card.strip_prefix("DC1.").ok_or(TokenError::Malformed)?;
        let (code, sig) = rest.rsplit_once('.').ok_or(TokenError::Malformed)?;
        if code.is_empty() || code.len() > 64 {
            return Err(TokenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        let signature = Signature::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
        VerifyingKey::from(&self.key)
            .verify(Self::message(code).as_bytes(), &signature)
            .map_err(|_| TokenError::Forged)?;
        Ok(code.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn qr_tokens_rotate_and_expire() {
        let t0 = 1_800_000_000_000;
        let (token, next) = issue_qr(KEY, 7, t0);
        assert_eq!(verify_qr(KEY, &token, t0), Ok(7));
        assert!(next > t0 && next - t0 <= QR_PERIOD_MS);
        // Still accepted during the next period, refused after.
        assert_eq!(verify_qr(KEY, &token, next + 1), Ok(7));
        assert_eq!(
            verify_qr(KEY, &token, next + QR_PERIOD_MS + 1),
            Err(TokenError::Expired)
        );
        // Not before it was issued either (a token from the future).
        assert_eq!(
            verify_qr(KEY, &token, t0 - 2 * QR_PERIOD_MS),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn qr_tokens_cannot_be_moved_or_forged() {
        let t0 = 1_800_000_000_000;
        let (token, _) = issue_qr(KEY, 7, t0);
        let moved = token.replacen("7.", "8.", 1);
        assert_eq!(verify_qr(KEY, &moved, t0), Err(TokenError::Forged));
        assert_eq!(
            verify_qr(b"another key", &token, t0),
            Err(TokenError::Forged)
        );
        assert_eq!(verify_qr(KEY, "hello", t0), Err(TokenError::Malformed));
        assert_eq!(verify_qr(KEY, "1.2.3", t0), Err(TokenError::Malformed));
    }

    #[test]
    fn cards_verify_and_refuse_forgeries() {
        let signer = CardSigner::from_bytes(&CardSigner::generate_secret()).unwrap();
        let card = signer.card("00123456");
        assert!(card.starts_with("DC1.00123456."));
        assert_eq!(signer.verify(&card), Ok("00123456".to_string()));
        let forged = card.replace("00123456", "00123457");
        assert_eq!(signer.verify(&forged), Err(TokenError::Forged));
        let other = CardSigner::from_bytes(&CardSigner::generate_secret()).unwrap();
        assert_eq!(other.verify(&card), Err(TokenError::Forged));
        assert_eq!(signer.verify("DC1.x"), Err(TokenError::Malformed));
        assert_eq!(signer.public_key().len(), 87); // 65 bytes, base64url
    }
}
