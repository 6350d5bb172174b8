//! Secrets at rest: passwords and client secrets as argon2id hashes (compared in constant time by
//! the argon2 crate), tokens as 256 random bits stored only as their SHA-256.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// An argon2id PHC string for `secret`.
pub fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any input")
        .to_string()
}

/// `true` if `secret` matches the PHC string (constant-time comparison inside argon2).
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
}

/// Spends the same work as a real verification, so an unknown user or client takes as long to
/// refuse as a wrong password.
pub fn verify_nothing(secret: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_secret("statuskit-timing-equaliser"));
    let _ = verify_secret(secret, phc);
}

/// A new random string of `bytes` random bytes, base64url without padding.
pub fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new opaque token: 256 random bits.
pub fn new_token() -> String {
    random_string(32)
}

/// What is stored of a token: its SHA-256, hex. Tokens carry 256 bits of entropy, so a fast hash
/// is enough (no dictionary to attack).
pub fn token_hash(token: &str) -> String {
    digest_hex(&token_digest(token))
}

/// The SHA-256 of a token, as bytes: what the token cache is keyed by (no hex to write, and half
/// the bytes to hash on every lookup).
pub fn token_digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// A token's SHA-256.
pub type TokenDigest = [u8; 32];

/// `digest` as [`token_hash`] writes it: lower-case hex.
pub fn digest_hex(digest: &TokenDigest) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for &b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_secret("pw");
        assert!(verify_secret("pw", &a));
        assert!(!verify_secret("pw2", &a));
        assert!(!verify_secret("pw", "not a phc string"));
        assert_ne!(a, hash_secret("pw"), "salted");
        assert!(a.starts_with("$argon2id$"));
    }

    #[test]
    fn tokens_are_long_and_hashed() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, new_token());
        assert_eq!(token_hash(&t).len(), 64);
        assert!(!token_hash(&t).contains(&t));
    }
}
