//! The decision: from what reconcile gathered (the connection, its status, the Secret read,
//! the backoff) to the one [`Plan`] the shell acts on.

use std::time::Duration;

use jiff::Timestamp;

use super::timing::{next_key_check, next_sync_time, next_wake};
use super::{add, is_rejection, is_transient_sync_reason, time};
use crate::conditions::{self, KEY_VALID, Reason, SYNCED};
use crate::crd::{Intervals, JumpCloudConnectionSpec, JumpCloudConnectionStatus};
use crate::jumpcloud::Credential;

/// After JumpCloud rejected a key, at most one request per this period with that same key
/// until the Secret changes: hammering the API with a dead key looks like credential stuffing.
pub const REJECTED_KEY_RETRY: Duration = Duration::from_secs(60 * 60);

/// What reconcile found in the referenced Secret. The key itself travels only in `Present`, for
/// the shell's JumpCloud calls: the decisions look at its fingerprint, and its `Debug` shows
/// nothing else.
#[derive(Debug, Clone)]
pub enum SecretRead {
    NotFound,
    /// The Secret exists but has no entry under the configured key; `available` lists the keys
    /// it has (names only, never values).
    KeyMissing {
        /// The data key that is missing.
        key: String,
        available: Vec<String>,
    },
    /// The value under the data key `key` is empty.
    Empty {
        key: String,
    },
    /// Whitespace or control characters inside the value under `key` (surrounding whitespace
    /// is trimmed).
    Malformed {
        key: String,
    },
    Present {
        /// The API key, or the service account's client id and secret.
        key: Credential,
        fingerprint: String,
        /// The Secret's resourceVersion.
        version: Option<String>,
    },
    /// The Kubernetes API did not answer the read (an error other than 404): whether the
    /// Secret exists, and which key it holds, is unknown. `error` describes the failure and
    /// holds no Secret data.
    Unreadable {
        error: String,
    },
}

/// Equal when everything but the key is: the fingerprint stands for the key.
impl PartialEq for SecretRead {
    fn eq(&self, other: &Self) -> bool {
        use SecretRead::*;
        match (self, other) {
            (NotFound, NotFound) => true,
            (Empty { key: a }, Empty { key: b }) | (Malformed { key: a }, Malformed { key: b }) => {
                a == b
            }
            (
                KeyMissing {
                    key: ka,
                    available: a,
                },
                KeyMissing {
                    key: kb,
                    available: b,
                },
            ) => ka == kb && a == b,
            (
                Present {
                    fingerprint: fa,
                    version: va,
                    ..
                },
                Present {
                    fingerprint: fb,
                    version: vb,
                    ..
                },
            ) => fa == fb && va == vb,
            (Unreadable { error: a }, Unreadable { error: b }) => a == b,
            _ => false,
        }
    }
}

impl Eq for SecretRead {}

/// Everything [`decide`] looks at.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The connection's uid: its periodic syncs' slot in the interval
    /// ([`super::spread`]). Without one, syncs are due exactly one interval apart.
    pub uid: Option<&'a str>,
    pub generation: Option<i64>,
    pub spec: &'a JumpCloudConnectionSpec,
    pub status: &'a JumpCloudConnectionStatus,
    /// Value of the `sync-requested-at` annotation.
    pub sync_requested_at: Option<&'a str>,
    pub secret: &'a SecretRead,
    /// Set by the per-connection backoff after a transient failure.
    pub retry_not_before: Option<Timestamp>,
    /// How long a rejected key rests before its re-check: [`REJECTED_KEY_RETRY`] (tests
    /// shorten it).
    pub rejected_key_retry: Duration,
    pub now: Timestamp,
}

/// Why a sync runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncTrigger {
    /// Never synced successfully.
    First,
    /// `interval` has passed since the last successful sync.
    Interval,
    /// The `sync-requested-at` annotation has a value not handled yet.
    Requested(String),
    /// The previous attempt failed transiently.
    Retry,
}

/// What the reconcile shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// `spec.suspend`: no call to JumpCloud at all.
    Suspended,
    /// The spec cannot be used (only when the schema was bypassed).
    InvalidSpec(String),
    /// The Secret or the key in it is unusable: no call to JumpCloud.
    SecretProblem,
    /// The Secret could not be read (the error): no call to JumpCloud, nothing claimed about
    /// the key, and a retry on the backoff.
    SecretUnreadable(String),
    /// The key was rejected and neither the Secret nor the spec changed: no call until `until`.
    Blocked {
        until: Timestamp,
    },
    /// Nothing due before `until`.
    Wait {
        until: Timestamp,
    },
    /// A key or configuration not verified yet: identify it (organization, administrator), then
    /// sync when `then_sync` is given. `probe_regions`: when the configured region rejects the
    /// key, ask the other regions' hosts whether it belongs there (only on the first rejection
    /// of a key that was never accepted, for this spec).
    Identify {
        then_sync: Option<SyncTrigger>,
        probe_regions: bool,
    },
    /// One cheap request to check the key is still accepted.
    CheckKey,
    /// The hourly re-check of a rejected key: the same question that got the rejection, asked
    /// of the configured region only (no region probe), so an unchanged answer changes nothing.
    Recheck(KeyRequest),
    Sync {
        trigger: SyncTrigger,
    },
}

/// The request behind a key check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRequest {
    /// `GET /api/organizations?limit=1` on the configured region: exactly one request. It
    /// never carries `x-org-id`, so it cannot see an organization selection problem.
    Cheap,
    /// The identification's organization listing and selection (one request unless the key
    /// reaches more than a page of organizations), for OrgIdRequired and OrgNotAccessible.
    Organizations,
}

impl Plan {
    /// A stable name for logs (the `plan` field of the `reconciled` line).
    pub fn name(&self) -> &'static str {
        match self {
            Plan::Suspended => "Suspended",
            Plan::InvalidSpec(_) => "InvalidSpec",
            Plan::SecretProblem => "SecretProblem",
            Plan::SecretUnreadable(_) => "SecretUnreadable",
            Plan::Blocked { .. } => "Blocked",
            Plan::Wait { .. } => "Wait",
            Plan::Identify { .. } => "Identify",
            Plan::CheckKey => "CheckKey",
            Plan::Recheck(_) => "Recheck",
            Plan::Sync { .. } => "Sync",
        }
    }
}

/// Whether a reconcile that acted on `plan` was routine: waiting, or a key check or re-check
/// after which every condition has the type, status and reason it had (`before`, `after`).
/// Routine reconciles are what a fleet does all day; the rest is what changed.
pub fn is_routine(
    plan: &Plan,
    before: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    after: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> bool {
    let key = |c: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition| {
        (c.type_.clone(), c.status.clone(), c.reason.clone())
    };
    let mut before: Vec<_> = before.iter().map(key).collect();
    let mut after: Vec<_> = after.iter().map(key).collect();
    before.sort();
    after.sort();
    matches!(
        plan,
        Plan::Wait { .. } | Plan::Blocked { .. } | Plan::CheckKey | Plan::Recheck(_)
    ) && before == after
}

/// The decision: what to do for this connection now.
pub fn decide(inputs: &Inputs<'_>) -> Plan {
    if inputs.spec.suspend {
        return Plan::Suspended;
    }
    let intervals = match inputs.spec.intervals() {
        Ok(intervals) => intervals,
        Err(error) => return Plan::InvalidSpec(error.to_string()),
    };
    // The schema's rule refuses both and neither; a bypassed schema must not guess.
    if let Err(error) = inputs.spec.credential_ref() {
        return Plan::InvalidSpec(error.to_string());
    }
    // The CRD's schema refuses these; under a CRD installed before it did (or a bypassed
    // schema), `darwin: latest` must stop the sync rather than compare as version 0.
    if let Some(Err(error)) = inputs
        .spec
        .controls
        .as_ref()
        .map(crate::controls::ControlSettings::check)
    {
        return Plan::InvalidSpec(format!("spec.controls.{error}"));
    }
    if let SecretRead::Unreadable { error } = inputs.secret {
        return Plan::SecretUnreadable(error.clone());
    }
    let SecretRead::Present {
        fingerprint,
        version,
        ..
    } = inputs.secret
    else {
        return Plan::SecretProblem;
    };
    let status = inputs.status;
    let now = inputs.now;
    let key_known = status
        .credential
        .as_ref()
        .is_some_and(|key| &key.fingerprint == fingerprint);
    let secret_changed = status.observed_secret_version != *version;
    let generation_changed = status.observed_generation != inputs.generation;
    let user_changed_something = !key_known || secret_changed || generation_changed;
    let key_condition = conditions::find(&status.conditions, KEY_VALID);
    let rejected = key_condition.is_some_and(|c| c.status == "False" && is_rejection(&c.reason));

    if rejected && !user_changed_something {
        let last_rejected = status
            .credential
            .as_ref()
            .and_then(|key| time(&key.last_rejected_time))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let until = add(last_rejected, inputs.rejected_key_retry);
        // A re-check that could not tell (rate limit, outage) set a backoff: honour it too.
        let backoff = inputs.retry_not_before.filter(|at| now < *at);
        return if now < until {
            Plan::Blocked { until }
        } else if let Some(until) = backoff {
            Plan::Blocked { until }
        } else {
            Plan::Recheck(recheck_request(key_condition.map(|c| c.reason.as_str())))
        };
    }

    let backing_off = inputs.retry_not_before.is_some_and(|at| now < at);
    let sync = sync_due(inputs, &intervals, backing_off);
    let key_accepted = key_condition.is_some_and(|c| c.status == "True");
    let probe_regions = first_rejection_possible(status, fingerprint, inputs.generation);
    if user_changed_something {
        return Plan::Identify {
            then_sync: sync,
            probe_regions,
        };
    }
    if !key_accepted {
        return if backing_off {
            Plan::Wait {
                until: inputs.retry_not_before.unwrap_or(now),
            }
        } else {
            Plan::Identify {
                then_sync: sync,
                probe_regions,
            }
        };
    }
    if let Some(trigger) = sync {
        return Plan::Sync { trigger };
    }
    let next_check = next_key_check(status, &intervals);
    // A key that just reached its expiry is checked at once rather than at the next interval.
    let expiry_unchecked = status.credential.as_ref().is_some_and(|key| {
        time(&key.expires_at).is_some_and(|at| {
            // Times are whole seconds: a check in the second of the expiry may have been just
            // before it, so only a later one counts.
            at < now && time(&status.last_key_check_time).is_none_or(|checked| checked <= at)
        })
    });
    if (next_check <= now || expiry_unchecked) && !backing_off {
        return Plan::CheckKey;
    }
    Plan::Wait {
        until: next_wake(inputs, &intervals),
    }
}

/// The re-check of a rejected key asks what got it rejected: the organization selection for
/// the multi-tenant reasons (the cheap request cannot see it), the cheap request otherwise.
fn recheck_request(reason: Option<&str>) -> KeyRequest {
    match reason.and_then(Reason::parse) {
        Some(Reason::OrgIdRequired | Reason::OrgNotAccessible) => KeyRequest::Organizations,
        _ => KeyRequest::Cheap,
    }
}

/// Whether a rejection of `fingerprint` now would be its first for this spec: the key was
/// never accepted and no rejection of it is recorded at this generation. Only then are the
/// other regions probed, so the key is not sent to more hosts every hour.
pub(super) fn first_rejection_possible(
    status: &JumpCloudConnectionStatus,
    fingerprint: &str,
    generation: Option<i64>,
) -> bool {
    let Some(key) = status
        .credential
        .as_ref()
        .filter(|key| key.fingerprint == fingerprint)
    else {
        return true;
    };
    if key.last_accepted_time.is_some() {
        return false;
    }
    !rejected_at_generation(status, fingerprint, generation)
}

/// Whether KeyValid records a rejection of `fingerprint` made at `generation`.
pub(super) fn rejected_at_generation(
    status: &JumpCloudConnectionStatus,
    fingerprint: &str,
    generation: Option<i64>,
) -> bool {
    let same_key = status
        .credential
        .as_ref()
        .is_some_and(|key| key.fingerprint == fingerprint && key.last_rejected_time.is_some());
    same_key
        && conditions::find(&status.conditions, KEY_VALID).is_some_and(|c| {
            c.status == "False" && is_rejection(&c.reason) && c.observed_generation == generation
        })
}

fn sync_due(inputs: &Inputs<'_>, intervals: &Intervals, backing_off: bool) -> Option<SyncTrigger> {
    let status = inputs.status;
    if let Some(request) = inputs.sync_requested_at
        && status.last_handled_sync_request.as_deref() != Some(request)
    {
        return Some(SyncTrigger::Requested(request.to_owned()));
    }
    if backing_off {
        return None;
    }
    let last_success = time(&status.last_successful_sync_time);
    let last_attempt = time(&status.last_sync_time);
    // The Synced condition, not the timestamps, says how the last attempt ended: an attempt and
    // a success can fall in the same second.
    let synced = conditions::find(&status.conditions, SYNCED);
    let last_failed = last_attempt.is_some() && synced.is_some_and(|c| c.status == "False");
    let failed_transiently =
        last_failed && synced.is_some_and(|c| is_transient_sync_reason(&c.reason));
    match last_success {
        None if failed_transiently => Some(SyncTrigger::Retry),
        None if last_failed => {
            // A terminal failure (e.g. a forbidden endpoint) waits for the interval.
            let attempt = last_attempt.unwrap_or(Timestamp::UNIX_EPOCH);
            (add(attempt, intervals.sync) <= inputs.now).then_some(SyncTrigger::Interval)
        }
        None => Some(SyncTrigger::First),
        Some(success) if next_sync_time(status, intervals, inputs.uid) <= inputs.now => {
            if last_failed && !failed_transiently {
                let attempt = last_attempt.unwrap_or(success);
                (add(attempt, intervals.sync) <= inputs.now).then_some(SyncTrigger::Interval)
            } else {
                Some(SyncTrigger::Interval)
            }
        }
        Some(_) if failed_transiently => Some(SyncTrigger::Retry),
        Some(_) => None,
    }
}
