//! Calendar arithmetic for the `Date` header, `Retry-After` and v4 scopes, on `SystemTime`
//! values that callers pass in (the core never reads the clock): formatting, and the one
//! HTTP-date parser (all three forms of RFC 9110).

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

/// Why a `Retry-After` value or an HTTP-date could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryAfterError {
    /// The value is empty or only whitespace.
    #[error("empty Retry-After / HTTP-date value")]
    Empty,
    /// The value is neither delay-seconds nor an HTTP-date.
    #[error("{value:?} is neither delay-seconds nor an HTTP-date: {reason}")]
    Invalid {
        /// The value as received.
        value: String,
        /// What was wrong with it.
        reason: &'static str,
    },
}

/// Parses an HTTP-date (RFC 9110 §5.6.7) in any of its three forms:
///
/// * IMF-fixdate (RFC 1123): `Sun, 06 Nov 1994 08:49:37 GMT`
/// * obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
/// * obsolete asctime: `Sun Nov  6 08:49:37 1994`
///
/// Names compare case-insensitively and runs of whitespace count as one; `UTC` is accepted
/// for `GMT`. The weekday must be a valid name but is not checked against the date. `now`
/// only resolves the two-digit years of the RFC 850 form: a year more than 50 years in the
/// future means the most recent past year with those digits.
///
/// # Errors
///
/// [`RetryAfterError`] naming what is malformed (an invalid calendar date such as
/// `31 Feb`, a time beyond `23:59:60`, an unknown month, a missing `GMT` …).
pub fn parse_http_date(value: &str, now: SystemTime) -> Result<SystemTime, RetryAfterError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(RetryAfterError::Empty);
    }
    let bad = |reason: &'static str| invalid(value, reason);
    let parts = if let Some((weekday, rest)) = trimmed.split_once(',') {
        if !is_weekday(weekday.trim()) {
            return Err(bad("unknown day name"));
        }
        let tokens: Vec<&str> = rest.split_whitespace().collect();
        match tokens.as_slice() {
            // IMF-fixdate: day month year time zone
            [day, month, year, time, zone] => {
                check_zone(zone).ok_or_else(|| bad("the time zone must be GMT"))?;
                if year.len() != 4 {
                    return Err(bad("the year must have four digits"));
                }
                DateParts {
                    year: number(year).ok_or_else(|| bad("invalid year"))?,
                    month: month_number(month).ok_or_else(|| bad("unknown month name"))?,
                    day: day_number(day).ok_or_else(|| bad("invalid day of month"))?,
                    time: parse_time(time).ok_or_else(|| bad("invalid time of day"))?,
                }
            }
            // RFC 850: day-month-yy time zone
            [date, time, zone] => {
                check_zone(zone).ok_or_else(|| bad("the time zone must be GMT"))?;
                let mut fields = date.split('-');
                let (Some(day), Some(month), Some(year), None) =
                    (fields.next(), fields.next(), fields.next(), fields.next())
                else {
                    return Err(bad("expected a day-month-year date"));
                };
                if year.len() != 2 {
                    return Err(bad("an RFC 850 date must have a two-digit year"));
                }
                let short_year = number(year).ok_or_else(|| bad("invalid year"))?;
                DateParts {
                    year: resolve_two_digit_year(short_year, now),
                    month: month_number(month).ok_or_else(|| bad("unknown month name"))?,
                    day: day_number(day).ok_or_else(|| bad("invalid day of month"))?,
                    time: parse_time(time).ok_or_else(|| bad("invalid time of day"))?,
                }
            }
            _ => return Err(bad("unrecognised date layout after the day name")),
        }
    } else {
        // asctime: weekday month day time year
        let tokens: Vec<&str> = trimmed.split_whitespace().collect();
        let [weekday, month, day, time, year] = tokens.as_slice() else {
            return Err(bad("unrecognised date layout"));
        };
        if !is_weekday(weekday) {
            return Err(bad("unknown day name"));
        }
        if year.len() != 4 {
            return Err(bad("the year must have four digits"));
        }
        DateParts {
            year: number(year).ok_or_else(|| bad("invalid year"))?,
            month: month_number(month).ok_or_else(|| bad("unknown month name"))?,
            day: day_number(day).ok_or_else(|| bad("invalid day of month"))?,
            time: parse_time(time).ok_or_else(|| bad("invalid time of day"))?,
        }
    };
    if parts.day > days_in_month(parts.year, parts.month) {
        return Err(bad("the day does not exist in that month"));
    }
    let (hour, minute, second) = parts.time;
    let seconds = days_from_civil(parts.year, parts.month, parts.day) * 86_400
        + i64::from(hour) * 3_600
        + i64::from(minute) * 60
        + i64::from(second);
    let offset = Duration::from_secs(seconds.unsigned_abs());
    let at = if seconds >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    at.ok_or_else(|| bad("the date is outside the range of the system clock"))
}

struct DateParts {
    year: i64,
    month: u32,
    day: u32,
    time: (u32, u32, u32),
}

pub(crate) fn invalid(value: &str, reason: &'static str) -> RetryAfterError {
    RetryAfterError::Invalid {
        value: value.to_owned(),
        reason,
    }
}

fn is_weekday(name: &str) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    DAYS.iter().any(|day| {
        name.eq_ignore_ascii_case(day) || day.get(..3).is_some_and(|s| name.eq_ignore_ascii_case(s))
    })
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    MONTHS
        .iter()
        .position(|m| name.eq_ignore_ascii_case(m))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn check_zone(zone: &str) -> Option<()> {
    (zone.eq_ignore_ascii_case("GMT") || zone.eq_ignore_ascii_case("UTC")).then_some(())
}

/// A number made of ASCII digits only (at most 9, so it cannot overflow).
fn number(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn day_number(text: &str) -> Option<u32> {
    if text.len() > 2 {
        return None;
    }
    number(text)
        .and_then(|d| u32::try_from(d).ok())
        .filter(|d| (1..=31).contains(d))
}

/// `HH:MM:SS` with two digits each; the second may be 60 (leap second).
fn parse_time(text: &str) -> Option<(u32, u32, u32)> {
    let mut fields = text.split(':');
    let (Some(h), Some(m), Some(s), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return None;
    };
    let two = |t: &str| {
        (t.len() == 2)
            .then(|| number(t))
            .flatten()
            .and_then(|n| u32::try_from(n).ok())
    };
    let (h, m, s) = (two(h)?, two(m)?, two(s)?);
    (h <= 23 && m <= 59 && s <= 60).then_some((h, m, s))
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The calendar year (UTC) of `now`.
fn current_year(now: SystemTime) -> i64 {
    let seconds = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    // Inverse of `days_from_civil`, year only.
    let days = seconds.div_euclid(86_400) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let year = year_of_era + era * 400;
    if month_from_march >= 10 {
        year + 1
    } else {
        year
    }
}

/// RFC 9110: a two-digit year more than 50 years in the future is the most recent past
/// year with the same last two digits.
fn resolve_two_digit_year(short_year: i64, now: SystemTime) -> i64 {
    let current = current_year(now);
    let mut year = current - current.rem_euclid(100) + short_year;
    if year > current + 50 {
        year -= 100;
    } else if year <= current - 50 {
        year += 100;
    }
    year
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
            assert_eq!(
                parse_http_date(&format_http_date(t), UNIX_EPOCH),
                Ok(t),
                "{secs}"
            );
        }
        assert_eq!(
            parse_http_date("Tue, 01 Dec 2026 02:54:44 GMT", UNIX_EPOCH),
            Ok(UNIX_EPOCH + Duration::from_secs(1_796_093_684))
        );
        assert!(parse_http_date("garbage", UNIX_EPOCH).is_err());
        assert!(parse_http_date("Mon, 32 Jan 2024 00:00:00 GMT", UNIX_EPOCH).is_err());
    }
}
