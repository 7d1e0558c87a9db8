//! When things are due (the next key check, sync or wake-up) and the maths of backoff and
//! requeue delays.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::plan::Inputs;
use super::spread::{phase, spread_sync_time};
use super::{add, time};
use crate::crd::{Intervals, JumpCloudConnectionStatus};

/// Key checks are due this fraction of `keyCheckInterval` early, so the requeue jitter (at most
/// +10% of the wait, see [`requeue_after`]) never pushes a check past one interval.
pub(super) const KEY_CHECK_EARLY: f64 = 0.1;

/// When the next key check is due: a tenth of `keyCheckInterval` early (see
/// [`KEY_CHECK_EARLY`]), so with the requeue jitter it happens within one interval.
pub(super) fn next_key_check(
    status: &JumpCloudConnectionStatus,
    intervals: &Intervals,
) -> Timestamp {
    match time(&status.last_key_check_time) {
        Some(last) => add(last, intervals.key_check.mul_f64(1.0 - KEY_CHECK_EARLY)),
        None => Timestamp::UNIX_EPOCH,
    }
}

/// When something becomes due: the next key check, the next sync, the end of a backoff, or the
/// moment the key enters its expiry warning window or expires.
pub(super) fn next_wake(inputs: &Inputs<'_>, intervals: &Intervals) -> Timestamp {
    let status = inputs.status;
    let now = inputs.now;
    let mut candidates = vec![
        next_key_check(status, intervals),
        next_sync_time(status, intervals, inputs.uid),
    ];
    if let Some(retry) = inputs.retry_not_before {
        candidates.push(retry);
    }
    if let Some(expires_at) = status
        .credential
        .as_ref()
        .and_then(|key| time(&key.expires_at))
    {
        let warn_from = SignedDuration::try_from(intervals.key_expiry_warning)
            .ok()
            .and_then(|d| expires_at.checked_sub(d).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        candidates.push(warn_from);
        candidates.push(add(expires_at, Duration::from_secs(1)));
    }
    candidates
        .into_iter()
        .filter(|t| *t > now)
        .min()
        .unwrap_or(add(now, intervals.key_check))
}

/// When the next periodic sync is due: on the connection's slot (see
/// [`super::spread::spread_sync_time`]) when its uid is known, one interval after the last
/// success otherwise.
pub(super) fn next_sync_time(
    status: &JumpCloudConnectionStatus,
    intervals: &Intervals,
    uid: Option<&str>,
) -> Timestamp {
    match time(&status.last_successful_sync_time) {
        Some(success) => match uid {
            Some(uid) => spread_sync_time(success, intervals.sync, phase(uid)),
            None => add(success, intervals.sync),
        },
        None => Timestamp::UNIX_EPOCH,
    }
}

/// First retry delay after a transient failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest backoff without a Retry-After.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
/// Longest Retry-After honoured (a bigger one is capped, not trusted blindly).
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(60 * 60);

/// Delay before the next attempt after `failures` consecutive transient failures (1 = first):
/// exponential from [`BACKOFF_BASE`] up to [`BACKOFF_MAX`], ±10% jitter from `unit` in [0, 1),
/// and never shorter than the server's `Retry-After`.
pub fn backoff_delay(failures: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let exponential = BACKOFF_BASE
        .saturating_mul(1u32 << exponent)
        .min(BACKOFF_MAX);
    let factor = 0.9 + 0.2 * unit.clamp(0.0, 1.0);
    let jittered = exponential.mul_f64(factor);
    match retry_after {
        Some(wait) => jittered.max(wait.min(RETRY_AFTER_MAX)),
        None => jittered,
    }
}

/// Requeue delay until `until`, stretched by up to +10% (from `unit` in [0, 1)) so connections
/// created together drift apart; never early, so the decision is due when it runs.
pub fn requeue_after(now: Timestamp, until: Timestamp, unit: f64) -> Duration {
    let remaining = until
        .duration_since(now)
        .try_into()
        .unwrap_or(Duration::ZERO);
    let extra = remaining.mul_f64(0.1 * unit.clamp(0.0, 1.0));
    (remaining + extra).max(Duration::from_secs(1))
}
