//! Pure decisions of the controller: what to do next for one connection, and what the status
//! and events must say afterwards. No IO here; the reconcile shell in [`crate::controller`]
//! gathers the inputs, acts on the [`Plan`], and writes what these functions compute.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::conditions::{
    self, Desired, KEY_VALID, LEAST_PRIVILEGE, READY, RECONCILING, STALLED, SYNCED, Status, reason,
};
use crate::crd::{
    ApiKeyStatus, EvidenceStatus, Intervals, JumpCloudConnectionSpec, JumpCloudConnectionStatus,
    OrganizationStatus, SnapshotStatus,
};
use crate::region::Region;

pub mod classify;
pub mod controls;

/// After JumpCloud rejected a key, at most one request per this period with that same key
/// until the Secret changes: hammering the API with a dead key looks like credential stuffing.
pub const REJECTED_KEY_RETRY: Duration = Duration::from_secs(60 * 60);

/// Event reason: retention could not remove some expired evidence.
pub const RETENTION_INCOMPLETE: &str = "RetentionIncomplete";
/// Event action of retention.
pub const APPLY_RETENTION: &str = "ApplyRetention";

/// The role that is enough to read evidence and cannot change anything.
pub const READ_ONLY_ROLE: &str = "Read Only";

/// What reconcile found in the referenced Secret. Holds no key material, only its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRead {
    NotFound,
    /// The Secret exists but has no entry under the configured key; `available` lists the keys
    /// it has (names only, never values).
    KeyMissing {
        available: Vec<String>,
    },
    Empty,
    /// Whitespace or control characters inside the key (surrounding whitespace is trimmed).
    Malformed,
    Present {
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

/// Everything [`decide`] looks at.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
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

/// Key checks are due this fraction of `keyCheckInterval` early, so the requeue jitter (at most
/// +10% of the wait, see [`requeue_after`]) never pushes a check past one interval.
const KEY_CHECK_EARLY: f64 = 0.1;

fn add(at: Timestamp, duration: Duration) -> Timestamp {
    // Durations here are bounded by the schema (at most days); saturate rather than fail.
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn time(t: &Option<Time>) -> Option<Timestamp> {
    t.as_ref().map(|t| t.0)
}

/// KeyValid reasons that mean JumpCloud (not the Secret) refused the key or configuration.
fn is_rejection(reason: &str) -> bool {
    matches!(
        reason,
        reason::KEY_REJECTED
            | reason::KEY_REVOKED
            | reason::KEY_EXPIRED
            | reason::WRONG_REGION
            | reason::ORG_ID_REQUIRED
            | reason::ORG_NOT_ACCESSIBLE
    )
}

/// Synced reasons worth retrying soon.
pub fn is_transient_sync_reason(reason: &str) -> bool {
    matches!(
        reason,
        reason::RATE_LIMITED
            | reason::JUMPCLOUD_UNAVAILABLE
            | reason::TIMEOUT
            | reason::TRUNCATED_COLLECTION
            | reason::EVIDENCE_WRITE_FAILED
            | reason::SYNC_FAILED
    )
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
    if let SecretRead::Unreadable { error } = inputs.secret {
        return Plan::SecretUnreadable(error.clone());
    }
    let SecretRead::Present {
        fingerprint,
        version,
    } = inputs.secret
    else {
        return Plan::SecretProblem;
    };
    let status = inputs.status;
    let now = inputs.now;
    let key_known = status
        .api_key
        .as_ref()
        .is_some_and(|key| &key.fingerprint == fingerprint);
    let secret_changed = status.observed_secret_version != *version;
    let generation_changed = status.observed_generation != inputs.generation;
    let user_changed_something = !key_known || secret_changed || generation_changed;
    let key_condition = conditions::find(&status.conditions, KEY_VALID);
    let rejected = key_condition.is_some_and(|c| c.status == "False" && is_rejection(&c.reason));

    if rejected && !user_changed_something {
        let last_rejected = status
            .api_key
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
    let expiry_unchecked = status.api_key.as_ref().is_some_and(|key| {
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
    match reason {
        Some(reason::ORG_ID_REQUIRED | reason::ORG_NOT_ACCESSIBLE) => KeyRequest::Organizations,
        _ => KeyRequest::Cheap,
    }
}

/// Whether a rejection of `fingerprint` now would be its first for this spec: the key was
/// never accepted and no rejection of it is recorded at this generation. Only then are the
/// other regions probed, so the key is not sent to more hosts every hour.
fn first_rejection_possible(
    status: &JumpCloudConnectionStatus,
    fingerprint: &str,
    generation: Option<i64>,
) -> bool {
    let Some(key) = status
        .api_key
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
fn rejected_at_generation(
    status: &JumpCloudConnectionStatus,
    fingerprint: &str,
    generation: Option<i64>,
) -> bool {
    let same_key = status
        .api_key
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
        Some(success) if add(success, intervals.sync) <= inputs.now => {
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

/// When the next key check is due: a tenth of `keyCheckInterval` early (see
/// [`KEY_CHECK_EARLY`]), so with the requeue jitter it happens within one interval.
fn next_key_check(status: &JumpCloudConnectionStatus, intervals: &Intervals) -> Timestamp {
    match time(&status.last_key_check_time) {
        Some(last) => add(last, intervals.key_check.mul_f64(1.0 - KEY_CHECK_EARLY)),
        None => Timestamp::UNIX_EPOCH,
    }
}

/// When something becomes due: the next key check, the next sync, the end of a backoff, or the
/// moment the key enters its expiry warning window or expires.
fn next_wake(inputs: &Inputs<'_>, intervals: &Intervals) -> Timestamp {
    let status = inputs.status;
    let now = inputs.now;
    let mut candidates = vec![
        next_key_check(status, intervals),
        next_sync_time(status, intervals),
    ];
    if let Some(retry) = inputs.retry_not_before {
        candidates.push(retry);
    }
    if let Some(expires_at) = status
        .api_key
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

fn next_sync_time(status: &JumpCloudConnectionStatus, intervals: &Intervals) -> Timestamp {
    match time(&status.last_successful_sync_time) {
        Some(success) => add(success, intervals.sync),
        None => Timestamp::UNIX_EPOCH,
    }
}

// ---------------------------------------------------------------------------------------------
// Outcomes of acting, and the status they lead to.

/// Who the key is, as far as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdentity {
    pub organization: OrganizationStatus,
    pub administrator: Option<String>,
    pub role: Option<String>,
    pub expires_at: Option<Timestamp>,
}

/// Result of identifying or checking the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// `identity` is `None` for the cheap check, which learns nothing new.
    Accepted {
        identity: Option<KeyIdentity>,
    },
    /// HTTP 401 (or 403 on the identity routes). `accepted_by` names another region whose host
    /// accepted the key, when one was probed and did.
    Rejected {
        accepted_by: Option<Region>,
    },
    OrgIdRequired {
        organizations: usize,
    },
    OrgNotAccessible {
        org_id: String,
    },
    /// Could not tell (rate limit, outage, timeout): the key state is left as it was.
    Inconclusive {
        reason: &'static str,
        message: String,
    },
}

/// Result of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResult {
    Succeeded {
        counts: BTreeMap<String, u64>,
        /// The committed snapshot.
        snapshot: SnapshotStatus,
        /// The controls evaluated on the new snapshot (stored with it).
        /// (Boxed: it is much larger than the other variant.)
        controls: Box<controls::ControlsEvaluation>,
        /// Why retention could not remove everything due, if so (WORM buckets refuse deletes).
        retention_problem: Option<String>,
    },
    Failed {
        reason: &'static str,
        message: String,
        transient: bool,
    },
}

/// Context the status messages need.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub generation: Option<i64>,
    pub spec: &'a JumpCloudConnectionSpec,
    pub now: Timestamp,
}

impl Subject<'_> {
    fn secret_text(&self) -> String {
        format!(
            "Secret {}/{} (key {:?})",
            self.namespace, self.spec.api_key_secret_ref.name, self.spec.api_key_secret_ref.key
        )
    }

    fn set(&self, status: &mut JumpCloudConnectionStatus, desired: Desired) {
        conditions::set(&mut status.conditions, desired, self.generation, self.now);
    }
}

fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Records what reading the Secret showed when it is unusable.
pub fn apply_secret_problem(
    status: &mut JumpCloudConnectionStatus,
    secret: &SecretRead,
    subject: &Subject<'_>,
) {
    let secret_ref = &subject.spec.api_key_secret_ref;
    let ns = subject.namespace;
    let (reason, message) = match secret {
        SecretRead::NotFound => (
            reason::SECRET_NOT_FOUND,
            format!(
                "Secret {:?} was not found in namespace {ns}. Create it with the JumpCloud API key under the key {:?}, e.g. kubectl create secret generic {} -n {ns} --from-file={}=<file holding the key>.",
                secret_ref.name, secret_ref.key, secret_ref.name, secret_ref.key
            ),
        ),
        SecretRead::KeyMissing { available } => {
            let keys = if available.is_empty() {
                "no keys at all".to_owned()
            } else {
                format!("the keys {}", available.join(", "))
            };
            (
                reason::SECRET_KEY_MISSING,
                format!(
                    "Secret {ns}/{} has no key {:?}; it has {keys}. Set spec.apiKeySecretRef.key to the key that holds the API key, or add {:?} to the Secret.",
                    secret_ref.name, secret_ref.key, secret_ref.key
                ),
            )
        }
        SecretRead::Empty => (
            reason::KEY_EMPTY,
            format!(
                "{} is empty. Put the JumpCloud API key in it.",
                subject.secret_text()
            ),
        ),
        SecretRead::Malformed => (
            reason::KEY_MALFORMED,
            format!(
                "{} holds whitespace or control characters inside the key (surrounding whitespace is trimmed). Put the API key in it exactly as JumpCloud shows it.",
                subject.secret_text()
            ),
        ),
        SecretRead::Present { .. } | SecretRead::Unreadable { .. } => return,
    };
    subject.set(
        status,
        Desired::new(KEY_VALID, Status::False, reason, message),
    );
    conditions::remove(&mut status.conditions, LEAST_PRIVILEGE);
}

/// Records that the Secret could not be read: KeyValid no longer claims anything about the key
/// (Unknown), except a JumpCloud rejection, which stays: it is a fact about that key whatever
/// the Secret holds now, and it keeps the dead key from being tried again when the Secret can
/// be read once more.
pub fn apply_secret_unreadable(
    status: &mut JumpCloudConnectionStatus,
    error: &str,
    subject: &Subject<'_>,
) {
    let rejected = conditions::find(&status.conditions, KEY_VALID)
        .is_some_and(|c| c.status == "False" && is_rejection(&c.reason));
    if rejected {
        return;
    }
    subject.set(
        status,
        Desired::new(
            KEY_VALID,
            Status::Unknown,
            reason::SECRET_UNREADABLE,
            secret_unreadable_message(error, subject),
        ),
    );
}

fn secret_unreadable_message(error: &str, subject: &Subject<'_>) -> String {
    format!(
        "{} cannot be read from the Kubernetes API ({error}), so the key is not known to be valid now. The operator retries with backoff; if this persists, check the API server and that the operator may get this Secret.",
        subject.secret_text()
    )
}

fn key_status<'s>(
    status: &'s mut JumpCloudConnectionStatus,
    fingerprint: &str,
) -> &'s mut ApiKeyStatus {
    if status
        .api_key
        .as_ref()
        .is_none_or(|key| key.fingerprint != fingerprint)
    {
        status.api_key = Some(ApiKeyStatus {
            fingerprint: fingerprint.to_owned(),
            ..ApiKeyStatus::default()
        });
    }
    // Just ensured above.
    status.api_key.get_or_insert_with(ApiKeyStatus::default)
}

/// Records the outcome of identifying or checking the key with this fingerprint.
pub fn apply_key_check(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    secret_version: Option<&str>,
    check: &KeyCheck,
    subject: &Subject<'_>,
) {
    let now = subject.now;
    let region = subject.spec.region;
    let previously_accepted = status
        .api_key
        .as_ref()
        .filter(|key| key.fingerprint == fingerprint)
        .and_then(|key| time(&key.last_accepted_time));
    status.observed_secret_version = secret_version.map(str::to_owned);
    if !matches!(check, KeyCheck::Inconclusive { .. }) {
        status.last_key_check_time = Some(Time(now));
    }
    match check {
        KeyCheck::Accepted { identity } => {
            let key = key_status(status, fingerprint);
            key.last_accepted_time = Some(Time(now));
            key.last_rejected_time = None;
            if let Some(identity) = identity {
                key.administrator = identity.administrator.clone();
                key.role = identity.role.clone();
                key.expires_at = identity.expires_at.map(Time);
                status.organization = Some(identity.organization.clone());
                let least_privilege = match identity.role.as_deref() {
                    Some(READ_ONLY_ROLE) => Desired::new(
                        LEAST_PRIVILEGE,
                        Status::True,
                        reason::READ_ONLY,
                        "The key's administrator has the Read Only role, which is all evidence collection needs.",
                    ),
                    Some(role) => Desired::new(
                        LEAST_PRIVILEGE,
                        Status::False,
                        reason::PRIVILEGED_ROLE,
                        format!(
                            "The key belongs to {} with the role {role:?}, which can change the organization. Create an administrator with the Read Only role, generate its API key and put it in {}.",
                            identity
                                .administrator
                                .as_deref()
                                .unwrap_or("an administrator"),
                            subject.secret_text()
                        ),
                    ),
                    None => Desired::new(
                        LEAST_PRIVILEGE,
                        Status::Unknown,
                        reason::ROLE_UNKNOWN,
                        "JumpCloud did not say which role the key's administrator has; check in the console that it is Read Only.",
                    ),
                };
                subject.set(status, least_privilege);
            }
            set_key_accepted(status, subject);
        }
        KeyCheck::Rejected { accepted_by } => {
            // A re-check that asked only the configured region and was rejected again keeps
            // the WrongRegion verdict of the first rejection: the answer did not change.
            let keep_wrong_region = accepted_by.is_none()
                && rejected_at_generation(status, fingerprint, subject.generation)
                && conditions::find(&status.conditions, KEY_VALID)
                    .is_some_and(|c| c.reason == reason::WRONG_REGION);
            let key = key_status(status, fingerprint);
            key.last_rejected_time = Some(Time(now));
            if keep_wrong_region {
                return;
            }
            let expired_at = time(&key.expires_at).filter(|at| *at <= now);
            let administrator = key
                .administrator
                .clone()
                .unwrap_or_else(|| "the key's administrator".to_owned());
            let (reason, message) = if let Some(other) = accepted_by.filter(|r| *r != region) {
                (
                    reason::WRONG_REGION,
                    format!(
                        "The {region} region's host rejected the key, but the {other} region ({}) accepts it. Set spec.region to {other}.",
                        other.console_base()
                    ),
                )
            } else if let Some(expired_at) = expired_at {
                (
                    reason::KEY_EXPIRED,
                    format!(
                        "The key (fingerprint {fingerprint}) expired at {}. Generate a new API key for {administrator} in the JumpCloud console and put it in {}.",
                        format_time(expired_at),
                        subject.secret_text()
                    ),
                )
            } else if let Some(accepted) = previously_accepted {
                (
                    reason::KEY_REVOKED,
                    format!(
                        "JumpCloud now rejects the key (fingerprint {fingerprint}) that it accepted at {}. A new API key was probably generated for {administrator}, which revokes the previous one. Put the new key in {}; the operator retries at once when the Secret changes, otherwise at most once an hour.",
                        format_time(accepted),
                        subject.secret_text()
                    ),
                )
            } else {
                (
                    reason::KEY_REJECTED,
                    format!(
                        "JumpCloud ({region} region) rejects the key (fingerprint {fingerprint}), which this connection has never seen accepted. Check that {} holds the current API key of an administrator of the organization and that spec.region is right; the operator retries at once when the Secret changes, otherwise at most once an hour.",
                        subject.secret_text()
                    ),
                )
            };
            subject.set(
                status,
                Desired::new(KEY_VALID, Status::False, reason, message),
            );
        }
        KeyCheck::OrgIdRequired { organizations } => {
            key_status(status, fingerprint).last_rejected_time = Some(Time(now));
            subject.set(
                status,
                Desired::new(
                    KEY_VALID,
                    Status::False,
                    reason::ORG_ID_REQUIRED,
                    format!(
                        "The key belongs to a multi-tenant administrator who reaches {organizations} organizations. Set spec.orgId to the id of the organization to collect evidence from."
                    ),
                ),
            );
        }
        KeyCheck::OrgNotAccessible { org_id } => {
            key_status(status, fingerprint).last_rejected_time = Some(Time(now));
            subject.set(
                status,
                Desired::new(
                    KEY_VALID,
                    Status::False,
                    reason::ORG_NOT_ACCESSIBLE,
                    format!(
                        "The key cannot reach organization {org_id} (spec.orgId). Correct spec.orgId, or use the key of an administrator of that organization."
                    ),
                ),
            );
        }
        KeyCheck::Inconclusive { .. } => {
            // A new key that could not be checked yet: show it as unknown, not as the old one.
            if status
                .api_key
                .as_ref()
                .is_none_or(|key| key.fingerprint != fingerprint)
            {
                key_status(status, fingerprint);
                subject.set(
                    status,
                    Desired::new(
                        KEY_VALID,
                        Status::Unknown,
                        reason::NOT_CHECKED,
                        "The key has not been checked yet because JumpCloud could not be reached; retrying.",
                    ),
                );
            }
        }
    }
}

/// KeyValid True, as Accepted or ExpiresSoon depending on the expiry and `now`.
fn set_key_accepted(status: &mut JumpCloudConnectionStatus, subject: &Subject<'_>) {
    let Some(key) = status.api_key.clone() else {
        return;
    };
    let warning = subject
        .spec
        .intervals()
        .map(|i| i.key_expiry_warning)
        .unwrap_or(Duration::from_secs(14 * 24 * 3600));
    let expires_at = time(&key.expires_at);
    let who = key
        .administrator
        .as_deref()
        .map(|a| format!(" of {a}"))
        .unwrap_or_default();
    let org = status
        .organization
        .as_ref()
        .map(|o| format!(" for organization {:?}", o.name))
        .unwrap_or_default();
    let desired = match expires_at {
        Some(at) if add(subject.now, warning) >= at => Desired::new(
            KEY_VALID,
            Status::True,
            reason::EXPIRES_SOON,
            format!(
                "JumpCloud accepts the key (fingerprint {}){who}, but it expires at {}. Generate a new API key before then and put it in {}.",
                key.fingerprint,
                format_time(at),
                subject.secret_text()
            ),
        ),
        _ => Desired::new(
            KEY_VALID,
            Status::True,
            reason::ACCEPTED,
            format!(
                "JumpCloud accepts the key (fingerprint {}){who}{org}.",
                key.fingerprint
            ),
        ),
    };
    subject.set(status, desired);
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
            events = controls::control_events(status.controls.as_ref(), evaluation);
            status.controls = Some(controls::controls_status(evaluation));
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
                counts: counts.clone(),
                snapshot: Some(snapshot.clone()),
            });
            subject.set(
                status,
                Desired::new(
                    SYNCED,
                    Status::True,
                    reason::SUCCEEDED,
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
                    reason,
                    format!("Evidence sync failed: {message}.{kept}{next}"),
                ),
            );
        }
    }
    events
}

/// Everything that follows from the other fields: Ready, Reconciling, Stalled, the display name,
/// observedGeneration, nextSyncTime, and KeyValid's Accepted/ExpiresSoon as time passes.
pub fn finish(
    status: &mut JumpCloudConnectionStatus,
    plan: &Plan,
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
            _ => Some(next_sync_time(status, &intervals).max(now)),
        };
        status.next_sync_time = if subject.spec.suspend {
            None
        } else {
            next.map(Time)
        };
    }

    let key = conditions::find(&status.conditions, KEY_VALID).cloned();
    let synced = conditions::find(&status.conditions, SYNCED).cloned();
    type Abnormal = Option<(&'static str, String)>;
    let (ready, reconciling, stalled): (Desired, Abnormal, Abnormal) = match (plan, &key, &synced) {
        (Plan::Suspended, _, _) => (
            Desired::new(
                READY,
                Status::False,
                reason::SUSPENDED,
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
                    reason::SECRET_UNREADABLE,
                    message.clone(),
                ),
                Some((reason::SECRET_UNREADABLE, message)),
                None,
            )
        }
        (Plan::InvalidSpec(problem), _, _) => {
            let message = format!("The spec cannot be used: {problem}. Correct the spec.");
            (
                Desired::new(READY, Status::False, reason::INVALID_SPEC, message.clone()),
                None,
                Some((reason::INVALID_SPEC, message)),
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
                reason::SUCCEEDED,
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
                    Some((reason::PROGRESSING_WITH_RETRY, synced.message.clone())),
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
                Desired::new(READY, Status::Unknown, reason::PROGRESSING, message),
                Some((reason::PROGRESSING, message.to_owned())),
                None,
            )
        }
    };
    subject.set(status, ready);
    let generation = subject.generation;
    conditions::set_abnormal(
        &mut status.conditions,
        RECONCILING,
        reconciling,
        generation,
        now,
    );
    conditions::set_abnormal(&mut status.conditions, STALLED, stalled, generation, now);
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
            reason::SYNCING,
            format!("Evidence sync in progress ({why})."),
        )),
        subject.generation,
        subject.now,
    );
}

/// A rejection as this process computed it, kept in memory next to the status: when writing
/// the status fails, the next reconcile still knows the key is dead and does not try it again
/// on the Kubernetes-error backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub fingerprint: String,
    pub secret_version: Option<String>,
    pub generation: Option<i64>,
    pub api_key: ApiKeyStatus,
    pub key_valid: Condition,
    pub last_key_check_time: Option<Time>,
}

/// The rejection `status` records, if KeyValid says JumpCloud refused the key.
pub fn rejection_of(status: &JumpCloudConnectionStatus) -> Option<Rejection> {
    let key_valid = conditions::find(&status.conditions, KEY_VALID)
        .filter(|c| c.status == "False" && is_rejection(&c.reason))?;
    let api_key = status
        .api_key
        .as_ref()
        .filter(|key| key.last_rejected_time.is_some())?;
    Some(Rejection {
        fingerprint: api_key.fingerprint.clone(),
        secret_version: status.observed_secret_version.clone(),
        generation: key_valid.observed_generation,
        api_key: api_key.clone(),
        key_valid: key_valid.clone(),
        last_key_check_time: status.last_key_check_time.clone(),
    })
}

/// Puts a remembered rejection back into a status that lacks it (its write failed, or the
/// cache lags), as long as it is about the same key, Secret version and generation. Returns
/// whether anything was restored.
pub fn restore_rejection(
    status: &mut JumpCloudConnectionStatus,
    rejection: &Rejection,
    secret: &SecretRead,
    generation: Option<i64>,
) -> bool {
    let SecretRead::Present {
        fingerprint,
        version,
    } = secret
    else {
        return false;
    };
    if *fingerprint != rejection.fingerprint
        || *version != rejection.secret_version
        || generation != rejection.generation
    {
        return false;
    }
    let recorded = status
        .api_key
        .as_ref()
        .filter(|key| key.fingerprint == rejection.fingerprint)
        .and_then(|key| time(&key.last_rejected_time));
    let remembered = time(&rejection.api_key.last_rejected_time);
    if recorded.is_some() && recorded >= remembered {
        return false;
    }
    status.api_key = Some(rejection.api_key.clone());
    status.observed_secret_version = rejection.secret_version.clone();
    status.observed_generation = rejection.generation;
    status.last_key_check_time = rejection.last_key_check_time.clone();
    conditions::put(&mut status.conditions, rejection.key_valid.clone());
    true
}

/// Maps a reason read back from a condition to the fixed set (conditions hold `String`s).
fn static_reason(reason: &str) -> &'static str {
    const KNOWN: [&str; 29] = [
        reason::ACCEPTED,
        reason::EXPIRES_SOON,
        reason::SECRET_NOT_FOUND,
        reason::SECRET_KEY_MISSING,
        reason::SECRET_UNREADABLE,
        reason::KEY_EMPTY,
        reason::KEY_MALFORMED,
        reason::KEY_REJECTED,
        reason::KEY_REVOKED,
        reason::KEY_EXPIRED,
        reason::WRONG_REGION,
        reason::ORG_ID_REQUIRED,
        reason::ORG_NOT_ACCESSIBLE,
        reason::NOT_CHECKED,
        reason::READ_ONLY,
        reason::PRIVILEGED_ROLE,
        reason::ROLE_UNKNOWN,
        reason::SUCCEEDED,
        reason::RATE_LIMITED,
        reason::JUMPCLOUD_UNAVAILABLE,
        reason::TRUNCATED_COLLECTION,
        reason::FORBIDDEN_ENDPOINT,
        reason::TIMEOUT,
        reason::SYNC_FAILED,
        reason::EVIDENCE_WRITE_FAILED,
        reason::PROGRESSING,
        reason::PROGRESSING_WITH_RETRY,
        reason::SYNCING,
        reason::SUSPENDED,
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == reason)
        .unwrap_or(reason::SYNC_FAILED)
}

// ---------------------------------------------------------------------------------------------
// Events

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Normal,
    Warning,
}

/// An event to publish: a transition into a problem (Warning) or out of one (Normal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub kind: EventKind,
    pub reason: String,
    pub note: String,
    /// The event's action when not the reconcile's. The event recorder merges events with the
    /// same reason and action into one series that keeps the first note, so events about
    /// different subjects (e.g. one per control) need distinct actions.
    pub action: Option<String>,
}

/// Events for the changes between two condition lists; none when nothing changed.
pub fn events(old: &[Condition], new: &[Condition]) -> Vec<EventSpec> {
    let mut out = Vec::new();
    for type_ in [KEY_VALID, LEAST_PRIVILEGE, SYNCED] {
        let Some(after) = conditions::find(new, type_) else {
            continue;
        };
        let before = conditions::find(old, type_);
        let unchanged =
            before.is_some_and(|b| b.status == after.status && b.reason == after.reason);
        if unchanged {
            continue;
        }
        let warning = after.status == "False"
            || (after.status == "True" && after.reason == reason::EXPIRES_SOON)
            || after.reason == reason::SECRET_UNREADABLE;
        let recovered = after.status == "True"
            && before.is_none_or(|b| b.status != "True" || b.reason == reason::EXPIRES_SOON);
        let kind = if warning {
            EventKind::Warning
        } else if recovered {
            EventKind::Normal
        } else {
            continue;
        };
        out.push(EventSpec {
            kind,
            reason: after.reason.clone(),
            note: after.message.clone(),
            action: None,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Requeue and backoff maths

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

/// Records in status which other connections use the same key (`peers`, sorted), so the
/// warning outlives the KeyShared event.
pub fn set_shared_with(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    peers: &[String],
) {
    if let Some(key) = status
        .api_key
        .as_mut()
        .filter(|key| key.fingerprint == fingerprint)
    {
        key.shared_with = peers.to_vec();
    }
}

/// Connections (as `namespace/name`) other than `me` whose last seen key has `fingerprint`.
pub fn shared_key_peers<'a>(
    me: &str,
    fingerprint: &str,
    others: impl IntoIterator<Item = (String, Option<&'a str>)>,
) -> Vec<String> {
    let mut peers: Vec<String> = others
        .into_iter()
        .filter(|(id, fp)| id != me && *fp == Some(fingerprint))
        .map(|(id, _)| id)
        .collect();
    peers.sort();
    peers
}

#[cfg(test)]
mod tests;
