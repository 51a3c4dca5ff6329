//! Tokens, passwords and login throttling.
//!
//! API tokens are 256 random bits, shown once, stored only as their SHA-256. A lookup by the
//! hash of a high-entropy secret leaks nothing through timing (the attacker controls the hash
//! input, not the stored value). Passwords are argon2id hashes checked in constant time.

use crate::error::AppError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use tend_core::Viewer;
use tend_store::Store;

pub const TOKEN_PREFIX: &str = "tend_";

/// A new random API token.
pub fn generate_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn hash_password(pw: &str) -> Result<String, AppError> {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    let salt =
        SaltString::encode_b64(&raw).map_err(|e| AppError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

pub fn verify_password(pw: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// Checks a new password: 10 to 1,000 characters.
pub fn check_password(pw: &str) -> Result<(), AppError> {
    let n = pw.chars().count();
    if n < 10 {
        return Err(AppError::invalid(
            "password",
            "must be at least 10 characters",
        ));
    }
    if n > 1000 {
        return Err(AppError::invalid(
            "password",
            "must be at most 1,000 characters",
        ));
    }
    Ok(())
}

/// Failed-login throttle: per e-mail and per client address, a sliding window.
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
    pub max_failures: usize,
    pub window: Duration,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter {
            failures: Mutex::new(HashMap::new()),
            max_failures: 5,
            window: Duration::minutes(15),
        }
    }
}

impl LoginLimiter {
    /// Err(429) if any key has had too many failures within the window.
    pub fn check(&self, keys: &[&str], now: DateTime<Utc>) -> Result<(), AppError> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            if let Some(v) = map.get_mut(*k) {
                v.retain(|t| *t > now - self.window);
                if v.len() >= self.max_failures {
                    let oldest = v.iter().min().copied().unwrap_or(now);
                    let wait = (oldest + self.window - now).num_seconds().max(1) as u64;
                    return Err(AppError::TooManyRequests {
                        retry_after_secs: wait,
                    });
                }
            }
        }
        Ok(())
    }
    pub fn fail(&self, keys: &[&str], now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, v| v.iter().any(|t| *t > now - self.window));
        }
        for k in keys {
            map.entry(k.to_string()).or_default().push(now);
        }
    }
    pub fn succeed(&self, keys: &[&str]) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            map.remove(*k);
        }
    }
}

/// Resolves tokens to viewers.
#[derive(Default)]
pub struct Authenticator;

impl Authenticator {
    pub async fn viewer_for_token(
        &self,
        store: &dyn Store,
        token: &str,
    ) -> Result<Option<Viewer>, AppError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        Ok(store.viewer_by_token(&hash_token(token)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40);
        assert_eq!(hash_token(&a), hash_token(&a));
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(check_password("short").is_err());
    }

    #[test]
    fn limiter_blocks_after_five_failures_and_forgets_after_the_window() {
        let l = LoginLimiter::default();
        let t0 = Utc::now();
        for _ in 0..5 {
            l.check(&["a@x.de"], t0).unwrap();
            l.fail(&["a@x.de"], t0);
        }
        assert!(matches!(
            l.check(&["a@x.de"], t0),
            Err(AppError::TooManyRequests { .. })
        ));
        assert!(l.check(&["b@x.de"], t0).is_ok());
        assert!(l.check(&["a@x.de"], t0 + Duration::minutes(16)).is_ok());
    }
}
