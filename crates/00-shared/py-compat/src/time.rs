//! A time as Python's `time.ctime()` prints it.

use std::time::{SystemTime, UNIX_EPOCH};

/// The time in the layout of Python's `time.ctime()`, `Sun May 27 21:43:58 2018` (the day
/// padded with a space to two characters), in UTC: std knows no time zones, so the local
/// time Python prints is out of reach. A time before 1970 prints as 1 January 1970.
pub fn ctime(now: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[(days % 7) as usize], // 1 January 1970 was a Thursday
        MONTHS[(month - 1) as usize],
        day,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        year
    )
}

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01, by Howard
/// Hinnant's civil-from-days algorithm (eras of 400 years starting on 1 March).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> String {
        ctime(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn ctime_matches_python_for_known_instants() {
        // Expected strings from Python: time.asctime(time.gmtime(secs)).
        let cases = [
            (0, "Thu Jan  1 00:00:00 1970"),
            (31_535_999, "Thu Dec 31 23:59:59 1970"),
            (1_527_457_438, "Sun May 27 21:43:58 2018"),
            // Leap days: 2000 is a leap year (divisible by 400), 2100 is not (by 100).
            (951_782_400, "Tue Feb 29 00:00:00 2000"),
            (951_868_800, "Wed Mar  1 00:00:00 2000"),
            (1_709_164_800, "Thu Feb 29 00:00:00 2024"),
            (1_709_251_199, "Thu Feb 29 23:59:59 2024"),
            (1_709_251_200, "Fri Mar  1 00:00:00 2024"),
            (4_107_542_399, "Sun Feb 28 23:59:59 2100"),
            (4_107_542_400, "Mon Mar  1 00:00:00 2100"),
            (1_798_761_600, "Fri Jan  1 00:00:00 2027"),
            (253_402_300_799, "Fri Dec 31 23:59:59 9999"),
        ];
        for (secs, text) in cases {
            assert_eq!(at(secs), text, "{secs}");
        }
    }

    #[test]
    fn a_time_before_1970_prints_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(ctime(before), "Thu Jan  1 00:00:00 1970");
    }

    #[test]
    fn civil_from_days_walks_across_month_and_era_boundaries() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(10_956), (1999, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
    }
}
