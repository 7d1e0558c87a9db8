//! The simulator's request rate limit (control API `rate-limit`, `simulate --rate-limit`): a
//! token bucket per region. JumpCloud publishes no limits; this one answers what a rate-limited
//! API answers, 429 with `Retry-After`, so clients can be measured against it.

use std::time::{Duration, Instant};

/// `per_second` requests per second on average, bursts of up to `per_second` (one second's
/// worth) after a quiet spell.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    per_second: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    pub(crate) fn new(per_second: u32, now: Instant) -> Self {
        let per_second = f64::from(per_second.max(1));
        TokenBucket {
            per_second,
            tokens: per_second,
            refilled_at: now,
        }
    }

    /// Takes a token, or says how long until one is there (the `Retry-After`).
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.per_second,
            ))
        }
    }
}

/// `Retry-After` in whole seconds, as HTTP sends it: rounded up, at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(50, start);
        for _ in 0..50 {
            assert_eq!(bucket.take(start), Ok(()));
        }
        let wait = bucket.take(start).expect_err("the burst is spent");
        assert_eq!(wait, Duration::from_millis(20));
        // 100 ms later, 5 tokens came back: five pass, the sixth waits.
        let later = start + Duration::from_millis(100);
        for _ in 0..5 {
            assert_eq!(bucket.take(later), Ok(()));
        }
        assert!(bucket.take(later).is_err());
        // After a long pause the bucket holds one second's worth, never more.
        let idle = later + Duration::from_secs(60);
        for _ in 0..50 {
            assert_eq!(bucket.take(idle), Ok(()));
        }
        assert!(bucket.take(idle).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(20)), 1);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
    }
}
