//! Now as RFC 3339 UTC text, for the journal and the lock file (`dates::rfc3339` formats).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    crate::dates::rfc3339(secs)
}
