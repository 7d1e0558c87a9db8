//! The kstatus summary and the fields that follow from the rest of the status: `Ready`,
//! `Reconciling`, `Stalled`, the display name, `observedGeneration` and `nextSyncTime`.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::key_status::{secret_unreadable_message, set_key_accepted};
use super::plan::{Plan, SyncTrigger};
use super::timing::next_sync_time;
use super::{Subject, is_transient_sync_reason};
use crate::conditions::{
    self, Desired, KEY_VALID, READY, RECONCILING, Reason, STALLED, SYNCED, Status,
};
use crate::crd::JumpCloudConnectionStatus;

/// Everything that follows from the other fields: Ready, Reconciling, Stalled, the display name,
/// observedGeneration, nextSyncTime, and KeyValid's Accepted/ExpiresSoon as time passes.
pub fn finish(
    status: &mut JumpCloudConnectionStatus,
    plan: &Plan,
    retry_not_before: Option<Timestamp>,
    subject: &Subject<'_>,
) {
    derive_fields(status, retry_not_before, subject);
    let key = conditions::find(&status.conditions, KEY_VALID).cloned();
    let synced = conditions::find(&status.conditions, SYNCED).cloned();
    let (ready, reconciling, stalled) =
        kstatus_summary(plan, key.as_ref(), synced.as_ref(), subject);
    subject.set(status, ready);
    let generation = subject.generation;
    let now = subject.now;
    conditions::set_abnormal(
        &mut status.conditions,
        RECONCILING,
        reconciling,
        generation,
        now,
    );
    conditions::set_abnormal(&mut status.conditions, STALLED, stalled, generation, now);
}

/// An abnormal-true condition's reason and message, when it holds.
type Abnormal = Option<(Reason, String)>;

/// The fields that follow from the rest: observedGeneration, the display name, KeyValid's
/// Accepted/ExpiresSoon as time passes, and nextSyncTime.
fn derive_fields(
    status: &mut JumpCloudConnectionStatus,
    retry_not_before: Option<Timestamp>,
    subject: &Subject<'_>,
) {
    let now = subject.now;
    status.observed_generation = subject.generation;
    status.display_name = Some(
        subject
            .spec
            .display_name
            .clone()
            .unwrap_or_else(|| subject.name.to_owned()),
    );
    if conditions::is(&status.conditions, KEY_VALID, Status::True) {
        set_key_accepted(status, subject);
    }
    if let Ok(intervals) = subject.spec.intervals() {
        let next = match retry_not_before {
            Some(retry) if conditions::is(&status.conditions, SYNCED, Status::False) => Some(retry),
            _ => Some(next_sync_time(status, &intervals, subject.uid).max(now)),
        };
        status.next_sync_time = if subject.spec.suspend {
            None
        } else {
            next.map(Time)
        };
    }
}

/// Ready, Reconciling and Stalled from the plan and the KeyValid and Synced conditions.
fn kstatus_summary(
    plan: &Plan,
    key: Option<&Condition>,
    synced: Option<&Condition>,
    subject: &Subject<'_>,
) -> (Desired, Abnormal, Abnormal) {
    match (plan, key, synced) {
        (Plan::Suspended, _, _) => (
            Desired::new(
                READY,
                Status::False,
                Reason::Suspended,
                "Suspended: no calls to JumpCloud. Set spec.suspend to false to resume.",
            ),
            None,
            None,
        ),
        (Plan::SecretUnreadable(error), _, _) => {
            let message = secret_unreadable_message(error, subject);
            (
                Desired::new(
                    READY,
                    Status::Unknown,
                    Reason::SecretUnreadable,
                    message.clone(),
                ),
                Some((Reason::SecretUnreadable, message)),
                None,
            )
        }
        (Plan::InvalidSpec(problem), _, _) => {
            let message = format!("The spec cannot be used: {problem}. Correct the spec.");
            (
                Desired::new(READY, Status::False, Reason::InvalidSpec, message.clone()),
                None,
                Some((Reason::InvalidSpec, message)),
            )
        }
        (_, Some(key), _) if key.status == "False" => {
            let reason = static_reason(&key.reason);
            (
                Desired::new(READY, Status::False, reason, key.message.clone()),
                None,
                Some((reason, key.message.clone())),
            )
        }
        (_, Some(key), Some(synced)) if key.status == "True" && synced.status == "True" => (
            Desired::new(
                READY,
                Status::True,
                Reason::Succeeded,
                format!("{} {}", key.message, synced.message),
            ),
            None,
            None,
        ),
        (_, Some(key), Some(synced)) if key.status == "True" && synced.status == "False" => {
            let reason = static_reason(&synced.reason);
            if is_transient_sync_reason(&synced.reason) {
                (
                    Desired::new(READY, Status::False, reason, synced.message.clone()),
                    Some((Reason::ProgressingWithRetry, synced.message.clone())),
                    None,
                )
            } else {
                (
                    Desired::new(READY, Status::False, reason, synced.message.clone()),
                    None,
                    Some((reason, synced.message.clone())),
                )
            }
        }
        (_, key, _) => {
            let message = match key {
                Some(key) if key.status == "True" => {
                    "The key is accepted; the first evidence sync has not finished yet."
                }
                _ => "The key has not been checked yet.",
            };
            (
                Desired::new(READY, Status::Unknown, Reason::Progressing, message),
                Some((Reason::Progressing, message.to_owned())),
                None,
            )
        }
    }
}

/// The status to show while a sync runs: what [`finish`] says before the sync (Ready Unknown
/// on a first sync, unchanged otherwise), with Reconciling=True `Syncing`.
pub fn syncing(
    status: &mut JumpCloudConnectionStatus,
    plan: &Plan,
    trigger: &SyncTrigger,
    retry_not_before: Option<Timestamp>,
    subject: &Subject<'_>,
) {
    finish(status, plan, retry_not_before, subject);
    let why = match trigger {
        SyncTrigger::First => "the first sync".to_owned(),
        SyncTrigger::Interval => "spec.interval has passed".to_owned(),
        SyncTrigger::Requested(request) => {
            format!("requested by the sync-requested-at annotation ({request})")
        }
        SyncTrigger::Retry => "retrying after a failure".to_owned(),
    };
    conditions::set_abnormal(
        &mut status.conditions,
        RECONCILING,
        Some((
            Reason::Syncing,
            format!("Evidence sync in progress ({why})."),
        )),
        subject.generation,
        subject.now,
    );
}

/// A reason read back from a condition (conditions hold `String`s); one this version does not
/// write counts as a failed sync.
fn static_reason(reason: &str) -> Reason {
    Reason::parse(reason).unwrap_or(Reason::SyncFailed)
}
