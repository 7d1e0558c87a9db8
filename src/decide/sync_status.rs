//! What a sync writes into the status: `Synced`, the evidence counts and snapshot, the
//! control results, and the events that go with them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::control_status::{self, ControlsEvaluation};
use super::events::{EventKind, EventSpec};
use super::plan::SyncTrigger;
use super::{Subject, format_time, time};
use crate::conditions::{Desired, Reason, SYNCED, Status};
use crate::crd::{EvidenceStatus, JumpCloudConnectionStatus, SnapshotStatus};

/// Event reason: retention could not remove some expired evidence.
pub const RETENTION_INCOMPLETE: &str = "RetentionIncomplete";
/// Event action of retention.
pub const APPLY_RETENTION: &str = "ApplyRetention";

/// Result of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResult {
    Succeeded {
        counts: BTreeMap<String, u64>,
        /// The committed snapshot.
        snapshot: SnapshotStatus,
        /// The controls evaluated on the new snapshot (stored with it).
        /// (Boxed: it is much larger than the other variant.)
        controls: Box<ControlsEvaluation>,
        /// Why retention could not remove everything due, if so (WORM buckets refuse deletes).
        retention_problem: Option<String>,
    },
    Failed {
        reason: Reason,
        message: String,
        transient: bool,
    },
}

/// Records a sync outcome. A failure keeps the last good counts, snapshot and control results.
/// Returns the control events (a control started failing or recovered, evaluation problems).
pub fn apply_sync(
    status: &mut JumpCloudConnectionStatus,
    result: &SyncResult,
    trigger: &SyncTrigger,
    subject: &Subject<'_>,
) -> Vec<EventSpec> {
    let now = subject.now;
    let mut events = Vec::new();
    status.last_sync_time = Some(Time(now));
    if let SyncTrigger::Requested(request) = trigger {
        status.last_handled_sync_request = Some(request.clone());
    }
    match result {
        SyncResult::Succeeded {
            counts,
            snapshot,
            controls: evaluation,
            retention_problem,
        } => {
            events = control_status::control_events(
                status.controls.as_ref(),
                evaluation,
                &format!("{}/{}", subject.namespace, subject.name),
            );
            status.controls = Some(control_status::controls_status(evaluation));
            if let Some(problem) = retention_problem {
                events.push(EventSpec {
                    kind: EventKind::Warning,
                    reason: RETENTION_INCOMPLETE.to_owned(),
                    note: format!(
                        "Expired evidence could not all be removed: {problem}. Nothing is lost; if the bucket has object lock (WORM), this is expected until the lock ends."
                    ),
                    action: Some(APPLY_RETENTION.to_owned()),
                });
            }
            status.last_successful_sync_time = Some(Time(now));
            let devices = counts.get("devices").copied();
            let users = counts.get("users").copied();
            let total: u64 = counts.values().sum();
            status.evidence = Some(EvidenceStatus {
                devices,
                users,
                counts: counts
                    .iter()
                    .map(|(kind, n)| (crate::crd::count_key(kind), *n))
                    .collect(),
                snapshot: Some(snapshot.clone()),
            });
            subject.set(
                status,
                Desired::new(
                    SYNCED,
                    Status::True,
                    Reason::Succeeded,
                    format!(
                        "Collected {total} records ({} devices, {} users) at {} into snapshot {} ({}).",
                        devices.unwrap_or(0),
                        users.unwrap_or(0),
                        format_time(now),
                        snapshot.id,
                        snapshot.digest
                    ),
                ),
            );
        }
        SyncResult::Failed {
            reason,
            message,
            transient,
        } => {
            let kept = match time(&status.last_successful_sync_time) {
                Some(at) => format!(
                    " The last good snapshot, from {}, is kept.",
                    format_time(at)
                ),
                None => " No snapshot has been collected yet.".to_owned(),
            };
            let next = if *transient {
                " The operator retries with backoff; nothing to do unless this persists."
            } else {
                " Fix the cause (see the message), then set the jumpcloud-operator.io/sync-requested-at annotation to retry now."
            };
            subject.set(
                status,
                Desired::new(
                    SYNCED,
                    Status::False,
                    *reason,
                    format!("Evidence sync failed: {message}.{kept}{next}"),
                ),
            );
        }
    }
    events
}
