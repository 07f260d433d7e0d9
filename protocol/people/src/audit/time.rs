//! RFC 3339 UTC timestamps with whole seconds, from Unix milliseconds (no clock read here).

use protocol_core::time::Millis;

/// `2026-11-22T10:00:00Z` for `at` (milliseconds are dropped).
#[must_use]
pub fn rfc3339(at: Millis) -> String {
    let secs = at.0 / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01 (never negative here).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_as_rfc3339_utc_seconds() {
        assert_eq!(rfc3339(Millis(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(Millis(1_000_000_000_999)), "2001-09-09T01:46:40Z");
        assert_eq!(rfc3339(Millis(1_795_341_600_000)), "2026-11-22T10:00:00Z");
        assert_eq!(rfc3339(Millis(951_782_400_000)), "2000-02-29T00:00:00Z");
        assert!(rfc3339(Millis(u64::MAX)).ends_with('Z'));
    }
}
