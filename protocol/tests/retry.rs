//! Tests of `maxstorage_protocol::retry`: the retry decision, backoff and jitter,
//! `Retry-After` and HTTP-date parsing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use maxstorage_protocol::retry::{
    FailureClass, GiveUpReason, Idempotency, JitterSource, RetryAfterError, RetryDecision,
    RetryPolicy, SplitMix64, is_retryable_status, parse_http_date, parse_retry_after,
};
use proptest::prelude::*;

use FailureClass::{Connect, Io, Status, Timeout};
use Idempotency::{Idempotent, NonIdempotent};

fn no_jitter() -> RetryPolicy {
    RetryPolicy::default().with_jitter(0.0)
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// 1994-11-06T08:49:37Z, the RFC 9110 example date.
const RFC_EXAMPLE: u64 = 784_111_777;

/// A jitter source returning fixed values, for exercising the clamping.
struct Fixed(f64);

impl JitterSource for Fixed {
    fn next_fraction(&mut self) -> f64 {
        self.0
    }
}

#[test]
fn defaults_match_the_brief() {
    let p = RetryPolicy::default();
    assert_eq!(p.max_attempts, 5);
    assert_eq!(p.initial_backoff, Duration::from_millis(100));
    assert_eq!(p.max_backoff, Duration::from_secs(20));
    assert_eq!(p.multiplier, 2.0);
    assert!((0.0..=1.0).contains(&p.jitter));
    assert_eq!(p.max_retry_after, Duration::from_secs(60));
}

#[test]
fn retryable_statuses() {
    for status in [408, 429, 500, 501, 502, 503, 504, 599] {
        assert!(is_retryable_status(status), "{status}");
    }
    for status in [
        100, 200, 204, 301, 304, 400, 401, 403, 404, 405, 409, 412, 413, 428, 431, 600, 0,
    ] {
        assert!(!is_retryable_status(status), "{status}");
    }
}

#[test]
fn backoff_grows_exponentially_and_is_capped() {
    let p = no_jitter();
    let expected_ms = [100, 200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000];
    for (i, ms) in expected_ms.iter().enumerate() {
        let attempt = u32::try_from(i + 1).unwrap();
        assert_eq!(
            p.backoff(attempt),
            Duration::from_millis(*ms),
            "attempt {attempt}"
        );
    }
    assert_eq!(p.backoff(0), p.backoff(1));
    assert_eq!(p.backoff(u32::MAX), Duration::from_secs(20));
}

#[test]
fn odd_configurations_are_sanitised() {
    let mut rng = SplitMix64::new(1);
    let p = RetryPolicy::default()
        .with_multiplier(f64::NAN)
        .with_jitter(f64::NAN);
    assert_eq!(p.backoff(7), Duration::from_millis(100));
    assert_eq!(p.jittered_backoff(7, &mut rng), Duration::from_millis(100));
    let p = RetryPolicy::default().with_multiplier(0.5).with_jitter(7.0);
    assert_eq!(p.backoff(3), Duration::from_millis(100));
    let p = RetryPolicy::default().with_multiplier(f64::INFINITY);
    assert_eq!(p.backoff(2), Duration::from_secs(20));
    let p = no_jitter().with_initial_backoff(Duration::from_secs(60));
    assert_eq!(p.backoff(1), Duration::from_secs(20));
    let p = RetryPolicy::default().with_max_attempts(0);
    assert_eq!(
        p.decide(1, Connect, Idempotent, None, &mut rng),
        RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts: 1 })
    );
    let p = RetryPolicy::default().with_jitter(1.0);
    assert_eq!(p.jittered_backoff(2, &mut Fixed(5.0)), Duration::ZERO);
    assert_eq!(
        p.jittered_backoff(2, &mut Fixed(-3.0)),
        Duration::from_millis(200)
    );
    assert_eq!(
        p.jittered_backoff(2, &mut Fixed(f64::NAN)),
        Duration::from_millis(200)
    );
}

#[test]
fn jitter_is_reproducible_for_a_seed() {
    let p = RetryPolicy::default();
    let run = |seed: u64| {
        let mut rng = SplitMix64::new(seed);
        (1..=8)
            .map(|a| p.jittered_backoff(a, &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn splitmix64_matches_the_reference_sequence() {
    // Reference output of SplitMix64 (Vigna) for seed 1234567.
    let mut rng = SplitMix64::new(1_234_567);
    let first: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
    assert_eq!(
        first,
        vec![
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ]
    );
    let mut rng = SplitMix64::new(0);
    for _ in 0..10_000 {
        let f = rng.next_f64();
        assert!((0.0..1.0).contains(&f), "{f}");
    }
}

#[test]
fn retries_transient_failures_of_idempotent_calls() {
    let p = no_jitter();
    let mut rng = SplitMix64::new(7);
    for failure in [
        Connect,
        Io,
        Timeout,
        Status(408),
        Status(429),
        Status(500),
        Status(503),
    ] {
        assert_eq!(
            p.decide(1, failure, Idempotent, None, &mut rng),
            RetryDecision::RetryAfter(Duration::from_millis(100)),
            "{failure}"
        );
        assert_eq!(
            p.decide(3, failure, Idempotent, None, &mut rng),
            RetryDecision::RetryAfter(Duration::from_millis(400)),
            "{failure}"
        );
    }
}

#[test]
fn final_statuses_are_never_retried() {
    let p = RetryPolicy::default();
    let mut rng = SplitMix64::new(7);
    for status in [400, 401, 403, 404, 405, 409, 412, 413] {
        for idempotency in [Idempotent, NonIdempotent] {
            assert_eq!(
                p.decide(
                    1,
                    Status(status),
                    idempotency,
                    Some(Duration::from_secs(1)),
                    &mut rng
                ),
                RetryDecision::GiveUp(GiveUpReason::NotRetryableStatus(status))
            );
        }
    }
}

#[test]
fn non_idempotent_calls_are_retried_only_when_nothing_was_sent() {
    let p = no_jitter();
    let mut rng = SplitMix64::new(7);
    assert_eq!(
        p.decide(1, Connect, NonIdempotent, None, &mut rng),
        RetryDecision::RetryAfter(Duration::from_millis(100))
    );
    for failure in [Io, Timeout, Status(429), Status(500), Status(503)] {
        assert_eq!(
            p.decide(1, failure, NonIdempotent, Some(Duration::ZERO), &mut rng),
            RetryDecision::GiveUp(GiveUpReason::NotIdempotent(failure)),
            "{failure}"
        );
    }
    assert!(!Connect.request_may_have_been_processed());
    assert!(Io.request_may_have_been_processed());
}

#[test]
fn attempts_are_bounded_even_for_429() {
    let p = RetryPolicy::default().with_max_attempts(3);
    let mut rng = SplitMix64::new(9);
    let mut attempt = 1;
    loop {
        match p.decide(
            attempt,
            Status(429),
            Idempotent,
            Some(Duration::from_secs(1)),
            &mut rng,
        ) {
            RetryDecision::RetryAfter(delay) => {
                assert_eq!(delay, Duration::from_secs(1));
                attempt += 1;
            }
            RetryDecision::GiveUp(reason) => {
                assert_eq!(reason, GiveUpReason::AttemptsExhausted { attempts: 3 });
                break;
            }
        }
        assert!(attempt <= 3, "retried past max_attempts");
    }
    assert_eq!(
        RetryPolicy::no_retries().decide(1, Connect, Idempotent, None, &mut rng),
        RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts: 1 })
    );
}

#[test]
fn retry_after_is_honoured_and_capped() {
    let p = RetryPolicy::default();
    let mut rng = SplitMix64::new(3);
    assert_eq!(
        p.decide(
            1,
            Status(503),
            Idempotent,
            Some(Duration::from_secs(7)),
            &mut rng
        ),
        RetryDecision::RetryAfter(Duration::from_secs(7))
    );
    assert_eq!(
        p.decide(
            1,
            Status(429),
            Idempotent,
            Some(Duration::from_secs(3600)),
            &mut rng
        ),
        RetryDecision::RetryAfter(Duration::from_secs(60))
    );
    assert_eq!(
        p.decide(1, Status(503), Idempotent, Some(Duration::ZERO), &mut rng),
        RetryDecision::RetryAfter(Duration::ZERO)
    );
    // Retry-After does not consume jitter: the sequence continues unchanged.
    let mut a = SplitMix64::new(11);
    let mut b = SplitMix64::new(11);
    let _ = p.decide(
        1,
        Status(503),
        Idempotent,
        Some(Duration::from_secs(1)),
        &mut a,
    );
    assert_eq!(a, b);
    assert_eq!(a.next_u64(), b.next_u64());
}

#[test]
fn give_up_reasons_explain_themselves() {
    assert_eq!(
        GiveUpReason::AttemptsExhausted { attempts: 5 }.to_string(),
        "gave up after 5 attempt(s)"
    );
    assert_eq!(
        GiveUpReason::NotRetryableStatus(404).to_string(),
        "HTTP status 404 is not retryable"
    );
    assert_eq!(
        GiveUpReason::NotIdempotent(Io).to_string(),
        "not retrying a non-idempotent call after a I/O failure after sending (outcome unknown): \
         the server may have applied it"
    );
}

#[test]
fn retry_after_delay_seconds() {
    let now = at(1_000_000);
    assert_eq!(parse_retry_after("120", now), Ok(Duration::from_secs(120)));
    assert_eq!(parse_retry_after(" 0 ", now), Ok(Duration::ZERO));
    assert_eq!(
        parse_retry_after("99999999999999999999999", now),
        Ok(Duration::from_secs(u64::MAX))
    );
    assert_eq!(parse_retry_after("", now), Err(RetryAfterError::Empty));
    assert_eq!(parse_retry_after("   ", now), Err(RetryAfterError::Empty));
    for bad in ["-1", "1.5", "+3", "12abc", "soon", "1 2"] {
        assert!(
            matches!(
                parse_retry_after(bad, now),
                Err(RetryAfterError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn retry_after_http_date() {
    let now = at(RFC_EXAMPLE - 30);
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
        Ok(Duration::from_secs(30))
    );
    // Obsolete forms (RFC 9110 §5.6.7).
    assert_eq!(
        parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
        Ok(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Sun Nov  6 08:49:37 1994", now),
        Ok(Duration::from_secs(30))
    );
    // A date in the past means "now".
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(RFC_EXAMPLE + 5)),
        Ok(Duration::ZERO)
    );
    // Case and spacing are forgiven.
    assert_eq!(
        parse_retry_after("  sun,  06  NOV 1994 08:49:37 gmt ", now),
        Ok(Duration::from_secs(30))
    );
}

#[test]
fn http_dates_parse_to_the_right_instant() {
    let now = at(1_700_000_000);
    let cases = [
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE),
        ("Mon, 01 Jan 2024 00:00:00 GMT", 1_704_067_200),
        ("Tue, 01 Dec 2026 02:54:47 GMT", 1_796_093_687),
        ("Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000),
        ("Fri, 31 Dec 1999 23:59:60 GMT", 946_684_800),
    ];
    for (text, seconds) in cases {
        assert_eq!(parse_http_date(text, now), Ok(at(seconds)), "{text}");
    }
    assert_eq!(
        parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT", now),
        Ok(UNIX_EPOCH - Duration::from_secs(1))
    );
}

#[test]
fn two_digit_years_resolve_relative_to_now() {
    // In 2026, "94" is 1994 (2094 would be more than 50 years ahead) and "30" is 2030.
    let now = at(1_796_093_687);
    assert_eq!(
        parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now),
        Ok(at(RFC_EXAMPLE))
    );
    assert_eq!(
        parse_http_date("Tuesday, 01-Jan-30 00:00:00 GMT", now),
        Ok(at(1_893_456_000))
    );
}

#[test]
fn malformed_http_dates_are_rejected() {
    let now = at(0);
    for bad in [
        "Sun, 31 Feb 2024 00:00:00 GMT",
        "Sun, 29 Feb 2023 00:00:00 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:49:37 CET",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov 08:49:37 GMT",
        "Sun Nov  6 08:49:37",
        "Sun Nov 32 08:49:37 1994",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT extra",
        "tomorrow",
    ] {
        assert!(
            matches!(
                parse_http_date(bad, now),
                Err(RetryAfterError::Invalid { .. })
            ),
            "{bad:?} should be rejected"
        );
    }
    let err = parse_http_date("Sun, 31 Feb 2024 00:00:00 GMT", now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"Sun, 31 Feb 2024 00:00:00 GMT\" is neither delay-seconds nor an HTTP-date: \
         the day does not exist in that month"
    );
}

/// Formats `seconds` since the epoch as an IMF-fixdate (independent of the parser).
fn imf_fixdate(seconds: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // civil_from_days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[usize::try_from(days.rem_euclid(7)).unwrap()],
        day,
        MONTHS[usize::try_from(month - 1).unwrap()],
        year,
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

proptest! {
    #[test]
    fn jittered_backoff_stays_within_bounds(
        attempt in 1u32..40,
        seed in any::<u64>(),
        jitter in 0.0f64..=1.0,
        initial_ms in 1u64..5_000,
        max_ms in 1u64..120_000,
        multiplier in 1.0f64..5.0,
    ) {
        let p = RetryPolicy::default().with_initial_backoff(Duration::from_millis(initial_ms)).with_max_backoff(Duration::from_millis(max_ms)).with_multiplier(multiplier).with_jitter(jitter);
        let base = p.backoff(attempt);
        prop_assert!(base <= p.max_backoff);
        let mut rng = SplitMix64::new(seed);
        let delay = p.jittered_backoff(attempt, &mut rng);
        prop_assert!(delay <= base);
        let floor = base.as_secs_f64() * (1.0 - jitter);
        prop_assert!(delay.as_secs_f64() >= floor - 1e-9, "{delay:?} < {floor}");
        // Same seed, same delay.
        let mut again = SplitMix64::new(seed);
        prop_assert_eq!(p.jittered_backoff(attempt, &mut again), delay);
    }

    #[test]
    fn backoff_never_shrinks(attempt in 1u32..200, multiplier in 1.0f64..10.0) {
        let p = no_jitter().with_multiplier(multiplier);
        prop_assert!(p.backoff(attempt + 1) >= p.backoff(attempt));
    }

    #[test]
    fn decisions_are_bounded(
        max_attempts in 0u32..20,
        attempt in 0u32..40,
        status in 0u16..700,
        idempotent in any::<bool>(),
        retry_after_s in prop::option::of(0u64..100_000),
        seed in any::<u64>(),
    ) {
        let p = RetryPolicy::default().with_max_attempts(max_attempts);
        let idempotency = if idempotent { Idempotent } else { NonIdempotent };
        let retry_after = retry_after_s.map(Duration::from_secs);
        let mut rng = SplitMix64::new(seed);
        match p.decide(attempt, Status(status), idempotency, retry_after, &mut rng) {
            RetryDecision::RetryAfter(delay) => {
                prop_assert!(is_retryable_status(status));
                prop_assert!(idempotent);
                prop_assert!(attempt.max(1) < max_attempts.max(1));
                prop_assert!(delay <= p.max_backoff.max(p.max_retry_after));
            }
            RetryDecision::GiveUp(GiveUpReason::NotRetryableStatus(s)) => {
                prop_assert_eq!(s, status);
                prop_assert!(!is_retryable_status(status));
            }
            RetryDecision::GiveUp(GiveUpReason::NotIdempotent(_)) => prop_assert!(!idempotent),
            RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts }) => {
                prop_assert!(attempts >= max_attempts.max(1));
            }
        }
    }

    #[test]
    fn imf_fixdates_round_trip(seconds in 0i64..253_402_300_800) {
        let text = imf_fixdate(seconds);
        let expected = UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap());
        prop_assert_eq!(parse_http_date(&text, UNIX_EPOCH), Ok(expected), "{}", text);
    }

    #[test]
    fn retry_after_parser_never_panics(value in ".{0,40}", now_s in any::<u32>()) {
        let _ = parse_retry_after(&value, at(u64::from(now_s)));
    }
}
