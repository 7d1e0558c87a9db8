//! Retry policy and backoff maths. Pure: the random source and the clock are passed in, so the
//! arithmetic is unit-tested without sleeping.

use std::time::Duration;

/// How hard the client tries before giving up on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry (before jitter).
    pub base_delay: Duration,
    /// Ceiling of the exponential delay (before jitter).
    pub max_delay: Duration,
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: 8,
        }
    }
}

/// What to do after a retryable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait this long, then try again.
    Wait(Duration),
    /// Stop and return the last error: the attempt cap was reached (`next_wait: None`), or the
    /// next wait would pass the deadline.
    GiveUp { next_wait: Option<Duration> },
}

/// Decides whether and when to retry after `failed_attempts` failures (1 after the first).
///
/// - `retry_after`: the server's `Retry-After`, honoured as given (never shortened).
/// - `jitter`: a uniform sample from `[0, 1)`. Without `Retry-After` the wait is "equal jitter":
///   half the exponential delay plus a random part of the other half, so clients that failed
///   together do not retry together, and no wait is ever zero.
/// - `remaining`: time left before the total deadline; a wait that would cross it gives up now.
pub fn decide_retry(
    policy: &RetryPolicy,
    failed_attempts: u32,
    retry_after: Option<Duration>,
    jitter: f64,
    remaining: Duration,
) -> RetryDecision {
    if failed_attempts >= policy.max_attempts {
        return RetryDecision::GiveUp { next_wait: None };
    }
    let wait = match retry_after {
        Some(wait) => wait,
        None => exponential_with_jitter(policy, failed_attempts, jitter),
    };
    if wait > remaining {
        RetryDecision::GiveUp {
            next_wait: Some(wait),
        }
    } else {
        RetryDecision::Wait(wait)
    }
}

fn exponential_with_jitter(policy: &RetryPolicy, failed_attempts: u32, jitter: f64) -> Duration {
    let doublings = failed_attempts.saturating_sub(1).min(30);
    let exponential = policy
        .base_delay
        .saturating_mul(1u32 << doublings)
        .min(policy.max_delay);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    exponential.mul_f64(0.5 + 0.5 * jitter)
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (relative to `now`). Dates in the
/// past mean "now". Unparseable values are ignored (the caller falls back to backoff).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let millis = date.as_millisecond().saturating_sub(now.as_millisecond());
    Some(Duration::from_millis(u64::try_from(millis).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_attempts: 5,
        }
    }

    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn backoff_doubles_and_is_capped() {
        let wait = |attempt, jitter| decide_retry(&policy(), attempt, None, jitter, LONG);
        // jitter 1.0 = full exponential delay; 0.0 = half of it.
        assert_eq!(
            wait(1, 1.0),
            RetryDecision::Wait(Duration::from_millis(100))
        );
        assert_eq!(
            wait(2, 1.0),
            RetryDecision::Wait(Duration::from_millis(200))
        );
        assert_eq!(
            wait(3, 1.0),
            RetryDecision::Wait(Duration::from_millis(400))
        );
        assert_eq!(
            wait(3, 0.0),
            RetryDecision::Wait(Duration::from_millis(200))
        );
        assert_eq!(
            wait(3, 0.5),
            RetryDecision::Wait(Duration::from_millis(300))
        );
        let capped = RetryPolicy {
            max_attempts: 100,
            ..policy()
        };
        assert_eq!(
            decide_retry(&capped, 60, None, 1.0, LONG),
            RetryDecision::Wait(Duration::from_secs(2))
        );
    }

    #[test]
    fn jitter_stays_within_half_to_full_delay() {
        for sample in [0.0, 0.1, 0.42, 0.999_999, -3.0, 7.0, f64::NAN] {
            let RetryDecision::Wait(wait) = decide_retry(&policy(), 2, None, sample, LONG) else {
                panic!("should retry")
            };
            assert!(wait >= Duration::from_millis(100) && wait <= Duration::from_millis(200));
        }
    }

    #[test]
    fn retry_after_is_honoured_not_shortened() {
        let decision = decide_retry(&policy(), 1, Some(Duration::from_secs(7)), 0.0, LONG);
        assert_eq!(decision, RetryDecision::Wait(Duration::from_secs(7)));
    }

    #[test]
    fn gives_up_after_max_attempts_or_past_the_deadline() {
        assert_eq!(
            decide_retry(&policy(), 5, None, 0.5, LONG),
            RetryDecision::GiveUp { next_wait: None }
        );
        assert_eq!(
            decide_retry(
                &policy(),
                1,
                Some(Duration::from_secs(10)),
                0.5,
                Duration::from_secs(9)
            ),
            RetryDecision::GiveUp {
                next_wait: Some(Duration::from_secs(10))
            }
        );
        assert_eq!(
            decide_retry(&policy(), 1, None, 1.0, Duration::from_millis(99)),
            RetryDecision::GiveUp {
                next_wait: Some(Duration::from_millis(100))
            }
        );
    }

    #[test]
    fn parses_retry_after_seconds_and_dates() {
        let now: jiff::Timestamp = "2015-10-21T07:28:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
