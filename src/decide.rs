//! Pure decisions of the controller: what to do next for one connection, and what the status
//! and events must say afterwards. No IO here; the reconcile shell in [`crate::controller`]
//! gathers the inputs, acts on the [`Plan`], and writes what these functions compute.
//!
//! Layout: [`plan`] (the inputs and the decision), [`key_status`] and [`sync_status`] (what a
//! key check or a sync writes into the status), [`summary`] (Ready, Reconciling, Stalled and the
//! fields that follow from the rest), [`rejection`] (the in-memory rejection), [`events`](mod@events),
//! [`timing`] (when things are due, backoff, requeue), [`shared_keys`], [`credential_check`]
//! (one key check per credential), [`priority`] (who goes first to JumpCloud), [`spread`]
//! (periodic syncs spread over the interval), [`control_status`] (the
//! controls' part of the status and their events). This file holds what they share.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::conditions::{self, Desired, Reason};
use crate::crd::{JumpCloudConnectionSpec, JumpCloudConnectionStatus};

pub mod control_status;
pub mod credential_check;
pub mod events;
pub mod key_status;
pub mod old_keys;
pub mod plan;
pub mod priority;
pub mod rejection;
pub mod shared_keys;
pub mod spread;
pub mod summary;
pub mod sync_status;
pub mod timing;

pub use credential_check::{SharedCheck, SharedCredential, check_floor, reach_reusable, reusable};
pub use events::{EventKind, EventSpec, events};
pub use key_status::{
    KeyCheck, KeyIdentity, READ_ONLY_ROLE, apply_key_check, apply_secret_problem,
    apply_secret_unreadable, set_token_expiry,
};
pub use old_keys::{OLD_KEY_USED, apply_old_key_attempts, old_key_question};
pub use plan::{
    Inputs, KeyRequest, Plan, REJECTED_KEY_RETRY, SecretRead, SyncTrigger, decide, is_routine,
};
pub use priority::{Priority, priority};
pub use rejection::{Rejection, rejection_of, restore_rejection};
pub use shared_keys::{sample_of, set_shared_with, shared_key_peers, to_warn};
pub use summary::{finish, syncing};
pub use sync_status::{APPLY_RETENTION, RETENTION_INCOMPLETE, SyncResult, apply_sync};
pub use timing::{BACKOFF_BASE, BACKOFF_MAX, RETRY_AFTER_MAX, backoff_delay, requeue_after};

pub(crate) fn add(at: Timestamp, duration: Duration) -> Timestamp {
    // Durations here are bounded by the schema (at most days); saturate rather than fail.
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

pub(crate) fn time(t: &Option<Time>) -> Option<Timestamp> {
    t.as_ref().map(|t| t.0)
}

/// KeyValid reasons that mean JumpCloud (not the Secret) refused the key or configuration.
pub(crate) fn is_rejection(reason: &str) -> bool {
    matches!(
        Reason::parse(reason),
        Some(
            Reason::KeyRejected
                | Reason::KeyRevoked
                | Reason::KeyExpired
                | Reason::WrongRegion
                | Reason::OrgIdRequired
                | Reason::OrgNotAccessible
                | Reason::ClientSecretRejected
                | Reason::ClientSecretRevoked
                | Reason::ClientSecretExpired
                | Reason::ServiceAccountDisabled
        )
    )
}

/// Synced reasons worth retrying soon.
pub fn is_transient_sync_reason(reason: &str) -> bool {
    matches!(
        Reason::parse(reason),
        Some(
            Reason::RateLimited
                | Reason::JumpCloudUnavailable
                | Reason::Timeout
                | Reason::TruncatedCollection
                | Reason::EvidenceWriteFailed
                | Reason::SyncFailed
        )
    )
}

/// Context the status messages need.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The connection's uid, for its sync slot ([`spread`]).
    pub uid: Option<&'a str>,
    pub generation: Option<i64>,
    pub spec: &'a JumpCloudConnectionSpec,
    pub now: Timestamp,
}

impl Subject<'_> {
    pub(crate) fn secret_text(&self) -> String {
        match self.spec.credential_ref() {
            Ok(credential) => credential.describe(self.namespace),
            Err(_) => "the connection's Secret".to_owned(),
        }
    }

    /// Whether the connection names a service account (not an API key).
    pub(crate) fn service_account(&self) -> bool {
        matches!(
            self.spec.credential_ref(),
            Ok(crate::crd::CredentialRef::ServiceAccount(_))
        )
    }

    pub(crate) fn set(&self, status: &mut JumpCloudConnectionStatus, desired: Desired) {
        conditions::set(&mut status.conditions, desired, self.generation, self.now);
    }
}

pub(crate) fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests;
