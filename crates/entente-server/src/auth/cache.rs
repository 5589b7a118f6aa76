//! Bounded memo of recently verified access tokens, so repeat requests skip signature checks.

use std::collections::HashMap;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use super::{CLOCK_LEEWAY_SECS, Claims};

/// Tokens are keyed by SHA-256 rather than stored verbatim: a fixed 32 bytes per entry, and a
/// collision (which would let one token borrow another's claims) is computationally infeasible,
/// unlike with a fast non-cryptographic hash.
pub(super) type TokenDigest = [u8; 32];

pub(super) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    claims: Claims,
    generation: u64,
}

pub(super) struct TokenCache {
    entries: RwLock<HashMap<TokenDigest, Entry>>,
    capacity: usize,
}

impl TokenCache {
    pub(super) fn new(capacity: usize) -> TokenCache {
        TokenCache { entries: RwLock::new(HashMap::new()), capacity }
    }

    /// Claims of a token verified under key-set `generation`; the caller must still check
    /// `exp` against the current time.
    pub(super) fn get(&self, digest: &TokenDigest, generation: u64) -> Option<Claims> {
        let entries = self.entries.read();
        let entry = entries.get(digest)?;
        (entry.generation == generation).then(|| entry.claims.clone())
    }

    pub(super) fn insert(&self, digest: TokenDigest, claims: Claims, generation: u64, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write();
        if entries.len() >= self.capacity && !entries.contains_key(&digest) {
            entries.retain(|_, e| {
                e.generation == generation && now <= e.claims.exp.saturating_add(CLOCK_LEEWAY_SECS)
            });
            // Still full of live tokens: start over rather than track recency on the hot path.
            // The cost is one re-verification per active token.
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, Entry { claims, generation });
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.read().len()
    }
}
