//! Secrets, tokens and passwords.
//!
//! Secrets are 256-bit random values in URL-safe base64; the database keeps
//! only their SHA-256, so a leaked database does not leak working links.
//! Passwords are hashed with Argon2id on the blocking pool, so that a burst
//! of logins does not stall the async workers.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Verified against when a username is unknown, so that both answers take
/// the same time.
pub static DUMMY_PASSWORD_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password_blocking(&new_secret()).expect("hashing a random password"));

fn hash_password_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))
}

pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// At least 10 characters, not all the same, and not absurdly long.
pub fn check_password_strength(password: &str) -> AppResult<()> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < 10 {
        return Err(AppError::invalid(
            "auth.weak_password",
            "password",
            "Mật khẩu phải có ít nhất 10 ký tự.",
        ));
    }
    if chars.len() > 256 {
        return Err(AppError::invalid(
            "auth.weak_password",
            "password",
            "Mật khẩu dài quá 256 ký tự.",
        ));
    }
    if chars.iter().all(|c| *c == chars[0]) {
        return Err(AppError::invalid(
            "auth.weak_password",
            "password",
            "Mật khẩu quá đơn giản.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hashes_stable() {
        let a = new_secret();
        assert_ne!(a, new_secret());
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token("x"), hash_token("x"));
        assert_eq!(hash_token("x").len(), 64);
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
    }

    #[tokio::test]
    async fn passwords_round_trip() {
        let hash = hash_password("mật khẩu dài đủ".into()).await.unwrap();
        assert!(verify_password("mật khẩu dài đủ".into(), hash.clone()).await);
        assert!(!verify_password("sai".into(), hash).await);
        assert!(check_password_strength("ngắn").is_err());
        assert!(check_password_strength("aaaaaaaaaaaa").is_err());
    }
}
