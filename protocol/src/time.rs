//! Calendar arithmetic for the `Date` header and v4 scopes, on `SystemTime` values that
//! callers pass in (the core never reads the clock).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC calendar time with second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcTime {
    /// Year.
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Day 1..=31.
    pub day: u32,
    /// Hour 0..=23.
    pub hour: u32,
    /// Minute 0..=59.
    pub minute: u32,
    /// Second 0..=59.
    pub second: u32,
    /// Day of the week, 0 = Thursday (1970-01-01) .. 6 = Wednesday.
    weekday: u32,
}

impl UtcTime {
    /// The calendar time of `t` (times before 1970 are clamped to the epoch).
    pub fn from_system_time(t: SystemTime) -> UtcTime {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs() as i64;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        UtcTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            weekday: days.rem_euclid(7) as u32,
        }
    }
}

/// Formats `t` as an RFC 1123 date in GMT, e.g. `Mon, 01 Jan 2024 00:00:00 GMT`.
pub fn format_http_date(t: SystemTime) -> String {
    let u = UtcTime::from_system_time(t);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[u.weekday as usize],
        u.day,
        MONTHS[(u.month - 1) as usize],
        u.year,
        u.hour,
        u.minute,
        u.second
    )
}

/// Parses an RFC 1123 date (`Mon, 01 Jan 2024 00:00:00 GMT`). The day name is not checked.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let rest = s.split_once(", ").map(|(_, r)| r).unwrap_or(s);
    let mut it = rest.split_ascii_whitespace();
    let day: u32 = it.next()?.parse().ok()?;
    let month_name = it.next()?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))? as u32
        + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':');
    let hour: u32 = hms.next()?.parse().ok()?;
    let minute: u32 = hms.next()?.parse().ok()?;
    let second: u32 = hms.next()?.parse().ok()?;
    let zone = it.next()?;
    if !(zone == "GMT" || zone == "UTC") || it.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || !(1970..=9999).contains(&year)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// `yyyyMMdd` of `t` in UTC (the v4 credential scope date).
pub fn yyyymmdd(t: SystemTime) -> String {
    let u = UtcTime::from_system_time(t);
    format!("{:04}{:02}{:02}", u.year, u.month, u.day)
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        assert_eq!(format_http_date(t), "Mon, 01 Jan 2024 00:00:00 GMT");
        assert_eq!(yyyymmdd(t), "20240101");
        assert_eq!(
            format_http_date(UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_208_000 + 3723); // 2024-02-29 12:02:03
        assert_eq!(format_http_date(leap), "Thu, 29 Feb 2024 13:02:03 GMT");
    }

    #[test]
    fn parse_round_trip() {
        for secs in [
            0u64,
            1,
            86_399,
            951_782_400,
            1_704_067_200,
            1_764_557_684,
            4_102_444_800,
        ] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(parse_http_date(&format_http_date(t)), Some(t), "{secs}");
        }
        assert_eq!(
            parse_http_date("Tue, 01 Dec 2026 02:54:44 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(1_796_093_684))
        );
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(parse_http_date("Mon, 32 Jan 2024 00:00:00 GMT"), None);
    }
}
