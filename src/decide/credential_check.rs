//! One key check per credential: connections whose key has the same fingerprint and whose
//! region resolves to the same host (an MSP's one multi-tenant key, one connection per
//! `orgId`) ask JumpCloud the same question (the cheap check carries no `x-org-id`), so one
//! answer serves them all. These decide which connections share an answer and when an
//! answer is still good; the shell asks once per credential and fans the answer out.

use std::time::Duration;

use jiff::Timestamp;

use super::key_status::KeyCheck;
use super::timing::BACKOFF_BASE;
use super::{add, time};
use crate::crd::JumpCloudConnectionStatus;
use crate::region::Region;

/// What makes two connections' cheap key checks the same request: the key (by fingerprint),
/// the region and the base URL it is sent to. A rotated Secret changes the fingerprint, so the
/// connection leaves the group at once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedCredential {
    pub fingerprint: String,
    pub region: Region,
    /// The endpoint override the region resolves to (`None`: JumpCloud's own host).
    pub base_url: Option<String>,
}

/// A cheap key check's answer, kept for the other connections of its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCheck {
    /// When the request was answered: the time every connection the answer serves records
    /// as its `lastKeyCheckTime`, so the group stays due together and asks once.
    pub checked_at: Timestamp,
    pub check: KeyCheck,
    /// The server's wait hint of an inconclusive answer.
    pub retry_after: Option<Duration>,
}

/// The answer a connection due for a cheap key check may take instead of asking: one that is
/// newer than what the connection already knows (`floor`, see [`check_floor`]) and younger
/// than the connection's own re-check period, i.e. an answer after which this connection would
/// not be due yet had it asked itself. An inconclusive answer (rate limit, outage) serves only
/// for [`BACKOFF_BASE`]: the group then waits on its backoff instead of repeating the request.
pub fn reusable(
    shared: Option<&SharedCheck>,
    floor: Option<Timestamp>,
    key_check_interval: Duration,
    now: Timestamp,
) -> Option<&SharedCheck> {
    let shared = shared?;
    if floor.is_some_and(|floor| shared.checked_at <= floor) || shared.checked_at > now {
        return None;
    }
    let good_for = match shared.check {
        KeyCheck::Inconclusive { .. } => key_check_interval.min(BACKOFF_BASE),
        _ => key_check_interval.mul_f64(1.0 - super::timing::KEY_CHECK_EARLY),
    };
    (now < add(shared.checked_at, good_for)).then_some(shared)
}

/// Whether a listing of what the key reaches (its organizations and administrator), answered
/// at `answered_at`, may identify a connection now: when it is younger than the connection's
/// key check period, the staleness a key check allows anyway. The shell takes it only when it
/// holds the connection's organization, so a listing from before an organization was added
/// never rejects that organization's connection: it asks afresh.
pub fn reach_reusable(
    answered_at: Timestamp,
    key_check_interval: Duration,
    now: Timestamp,
) -> bool {
    answered_at <= now
        && now
            < add(
                answered_at,
                key_check_interval.mul_f64(1.0 - super::timing::KEY_CHECK_EARLY),
            )
}

/// The time a shared answer must be newer than for this connection: its last key check, and a
/// key expiry already past (an answer from before the expiry says nothing about after it).
pub fn check_floor(status: &JumpCloudConnectionStatus, now: Timestamp) -> Option<Timestamp> {
    let expired_at = status
        .credential
        .as_ref()
        .and_then(|key| time(&key.expires_at))
        .filter(|at| *at < now);
    time(&status.last_key_check_time).max(expired_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::Reason;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    const INTERVAL: Duration = Duration::from_secs(300);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn accepted(seconds: i64) -> SharedCheck {
        SharedCheck {
            checked_at: at(seconds),
            check: KeyCheck::Accepted { identity: None },
            retry_after: None,
        }
    }

    #[test]
    fn an_answer_serves_the_group_until_a_check_of_its_own_would_be_due() {
        let shared = accepted(0);
        assert_eq!(
            reusable(Some(&shared), None, INTERVAL, at(10)),
            Some(&shared)
        );
        // 90% of the interval: when the connection would have been due after asking itself.
        assert_eq!(
            reusable(Some(&shared), None, INTERVAL, at(269)),
            Some(&shared)
        );
        assert_eq!(reusable(Some(&shared), None, INTERVAL, at(270)), None);
        assert_eq!(reusable(None, None, INTERVAL, at(10)), None);
        // A connection with a shorter period of its own asks sooner.
        assert_eq!(
            reusable(Some(&shared), None, Duration::from_secs(60), at(60)),
            None
        );
    }

    #[test]
    fn an_answer_no_newer_than_what_the_connection_knows_is_not_taken() {
        let shared = accepted(100);
        assert_eq!(
            reusable(Some(&shared), Some(at(100)), INTERVAL, at(110)),
            None
        );
        assert_eq!(
            reusable(Some(&shared), Some(at(99)), INTERVAL, at(110)),
            Some(&shared)
        );
        // A clock that moved back never takes an answer from the future.
        assert_eq!(reusable(Some(&shared), None, INTERVAL, at(50)), None);
    }

    #[test]
    fn an_inconclusive_answer_serves_only_the_first_backoff() {
        let shared = SharedCheck {
            checked_at: at(0),
            check: KeyCheck::Inconclusive {
                reason: Reason::RateLimited,
                message: "429".into(),
            },
            retry_after: Some(Duration::from_secs(30)),
        };
        assert!(reusable(Some(&shared), None, INTERVAL, at(4)).is_some());
        assert!(reusable(Some(&shared), None, INTERVAL, at(5)).is_none());
    }

    #[test]
    fn a_listing_serves_identifications_for_the_check_period() {
        assert!(reach_reusable(at(0), INTERVAL, at(0)));
        assert!(reach_reusable(at(0), INTERVAL, at(269)));
        assert!(!reach_reusable(at(0), INTERVAL, at(270)));
        assert!(!reach_reusable(at(10), INTERVAL, at(9)));
    }

    #[test]
    fn the_floor_is_the_last_check_or_a_past_expiry() {
        let mut status = JumpCloudConnectionStatus {
            last_key_check_time: Some(Time(at(10))),
            credential: Some(crate::crd::CredentialStatus {
                fingerprint: "fp".into(),
                expires_at: Some(Time(at(20))),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(check_floor(&status, at(15)), Some(at(10)));
        assert_eq!(check_floor(&status, at(25)), Some(at(20)));
        status.last_key_check_time = None;
        assert_eq!(check_floor(&status, at(15)), None);
    }
}
