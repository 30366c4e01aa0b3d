//! RFC 3339 UTC text of a Unix time: the journal, the lock file and the fake's Graph errors
//! write dates with this one function. Pure (the caller reads the clock); the calendar
//! arithmetic is the `time` crate's.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The last second RFC 3339 can write: 9999-12-31T23:59:59Z.
const LAST: u64 = 253_402_300_799;

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (later than year 9999, which
/// RFC 3339 cannot write, reads as its last second).
pub fn rfc3339(secs: u64) -> String {
    let secs = i64::try_from(secs.min(LAST)).expect("LAST fits in i64");
    OffsetDateTime::from_unix_timestamp(secs)
        .expect("every second of years 1970..=9999 is a valid UTC instant")
        .format(&Rfc3339)
        .expect("Rfc3339 writes every UTC instant of years 0..=9999")
}

#[cfg(test)]
mod tests {
    use super::{LAST, rfc3339};
    use proptest::prelude::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(LAST), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }

    proptest! {
        /// Every instant: fixed width, UTC, the time of day is the seconds' remainder, and
        /// later instants sort later (the journal is read in order, people compare stamps).
        #[test]
        fn every_instant_formats_in_order(secs in 0..LAST, later in 1..86_400u64 * 800) {
            let text = rfc3339(secs);
            prop_assert_eq!(text.len(), 20);
            prop_assert!(text.ends_with('Z'));
            let day = secs % 86_400;
            let clock = format!("T{:02}:{:02}:{:02}Z", day / 3600, day % 3600 / 60, day % 60);
            prop_assert!(text.ends_with(&clock), "{} {}", text, clock);
            let next = (secs + later).min(LAST);
            if next > secs {
                prop_assert!(rfc3339(next) > text);
            }
        }
    }
}
