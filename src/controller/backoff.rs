//! Per-connection backoff after transient failures (kube has no per-object rate limiter).
//! In memory on purpose: after a restart one prompt retry is fine.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::decide::backoff_delay;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    retry_not_before: Timestamp,
}

/// Consecutive transient failures and the next allowed attempt, per connection key
/// (`namespace/name`).
#[derive(Debug, Default)]
pub struct BackoffTracker {
    entries: Mutex<HashMap<String, Entry>>,
}

impl BackoffTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned map only means a panic elsewhere; the figures are still usable.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the next attempt may start, if backing off.
    pub fn retry_not_before(&self, key: &str) -> Option<Timestamp> {
        self.lock().get(key).map(|entry| entry.retry_not_before)
    }

    /// Records a transient failure; returns when the next attempt may start.
    pub fn record_failure(
        &self,
        key: &str,
        retry_after: Option<Duration>,
        now: Timestamp,
    ) -> Timestamp {
        let mut entries = self.lock();
        let failures = entries.get(key).map_or(0, |e| e.failures).saturating_add(1);
        let delay = backoff_delay(failures, retry_after, rand::random());
        let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::from_secs(300));
        // Whole seconds, like every other time in status.
        let retry_not_before = now
            .checked_add(delay)
            .map(|t| Timestamp::from_second(t.as_second() + 1).unwrap_or(t))
            .unwrap_or(now);
        entries.insert(
            key.to_owned(),
            Entry {
                failures,
                retry_not_before,
            },
        );
        retry_not_before
    }

    /// Forgets the failures after a success.
    pub fn reset(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_push_the_next_attempt_out_and_success_resets() {
        let tracker = BackoffTracker::default();
        let now = Timestamp::from_second(1_000).unwrap();
        let first = tracker.record_failure("a/b", None, now);
        let second = tracker.record_failure("a/b", None, now);
        assert!(first > now && second > first);
        assert_eq!(tracker.retry_not_before("a/b"), Some(second));
        let honoured = tracker.record_failure("c/d", Some(Duration::from_secs(120)), now);
        assert!(honoured.duration_since(now) >= SignedDuration::from_secs(120));
        tracker.reset("a/b");
        assert_eq!(tracker.retry_not_before("a/b"), None);
    }
}
