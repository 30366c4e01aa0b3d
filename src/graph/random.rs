//! Non-cryptographic randomness for retry jitter and assertion ids, from the standard
//! library's per-process random hasher keys (no extra dependency; unpredictability across
//! processes and calls is all either use needs).

use std::hash::{BuildHasher, Hasher};

/// A fresh 64-bit random value: a newly keyed hasher over the current time.
pub(crate) fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}
