//! Client secrets recently verified with argon2, remembered by their SHA-256, so a client that
//! authenticates again with the same secret costs no hash and no attempt against the limit.
//!
//! This is what keeps guessers from locking out an active client: wrong secrets spend the
//! client id's attempts ([`super::login_limit`]), but a secret this process verified in the last
//! [`TTL`] is accepted without counting. A right secret it has not seen recently waits out the
//! limit like a wrong one (the service cannot tell them apart without hashing).
//!
//! An entry holds the PHC string it was verified against: a client whose secret changed in the
//! store no longer matches, so a rotated secret is never accepted from memory.

use std::time::Duration;

use moka::sync::Cache;

use super::secrets::{token_digest, TokenDigest};

/// How long a verified secret is remembered.
pub const TTL: Duration = Duration::from_secs(10 * 60);

/// Most clients remembered (only successful verifications are stored, so guessers cannot fill it).
const CAPACITY: u64 = 10_000;

/// Client id → (SHA-256 of the verified secret, the PHC string it matched).
#[derive(Debug)]
pub struct VerifiedSecrets {
    cache: Cache<String, (TokenDigest, String)>,
}

impl Default for VerifiedSecrets {
    fn default() -> Self {
        VerifiedSecrets { cache: Cache::builder().time_to_live(TTL).max_capacity(CAPACITY).build() }
    }
}

impl VerifiedSecrets {
    /// `true` if `secret` was verified for `client_id` against this same `phc` within [`TTL`].
    /// The digests are compared in constant time.
    pub fn matches(&self, client_id: &str, secret: &str, phc: &str) -> bool {
        let Some((digest, known_phc)) = self.cache.get(client_id) else {
            return false;
        };
        let presented = token_digest(secret);
        let diff = digest.iter().zip(presented.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0 && known_phc == phc
    }

    /// Remembers that `secret` matched `phc` for `client_id`.
    pub fn insert(&self, client_id: &str, secret: &str, phc: &str) {
        self.cache.insert(client_id.to_owned(), (token_digest(secret), phc.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_and_hash_match() {
        let v = VerifiedSecrets::default();
        assert!(!v.matches("c", "s", "$phc1"));
        v.insert("c", "s", "$phc1");
        assert!(v.matches("c", "s", "$phc1"));
        assert!(!v.matches("c", "t", "$phc1"), "another secret");
        assert!(!v.matches("c", "s", "$phc2"), "the stored secret changed");
        assert!(!v.matches("d", "s", "$phc1"), "another client");
    }
}
