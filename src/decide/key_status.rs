//! What reading the Secret, and identifying or checking the key, write into the status:
//! `apiKey`, `organization`, `KeyValid` and `LeastPrivilege`.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::plan::{SecretRead, rejected_at_generation};
use super::{Subject, add, format_time, is_rejection, time};
use crate::conditions::{self, Desired, KEY_VALID, LEAST_PRIVILEGE, Reason, Status};
use crate::crd::{ApiKeyStatus, JumpCloudConnectionStatus, OrganizationStatus};
use crate::region::Region;

/// The role that is enough to read evidence and cannot change anything.
pub const READ_ONLY_ROLE: &str = "Read Only";

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
        reason: Reason,
        message: String,
    },
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
            Reason::SecretNotFound,
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
                Reason::SecretKeyMissing,
                format!(
                    "Secret {ns}/{} has no key {:?}; it has {keys}. Set spec.apiKeySecretRef.key to the key that holds the API key, or add {:?} to the Secret.",
                    secret_ref.name, secret_ref.key, secret_ref.key
                ),
            )
        }
        SecretRead::Empty => (
            Reason::KeyEmpty,
            format!(
                "{} is empty. Put the JumpCloud API key in it.",
                subject.secret_text()
            ),
        ),
        SecretRead::Malformed => (
            Reason::KeyMalformed,
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
            Reason::SecretUnreadable,
            secret_unreadable_message(error, subject),
        ),
    );
}

pub(super) fn secret_unreadable_message(error: &str, subject: &Subject<'_>) -> String {
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
            apply_accepted(status, fingerprint, identity.as_ref(), subject)
        }
        KeyCheck::Rejected { accepted_by } => apply_rejected(
            status,
            fingerprint,
            *accepted_by,
            previously_accepted,
            subject,
        ),
        KeyCheck::OrgIdRequired { organizations } => {
            key_status(status, fingerprint).last_rejected_time = Some(Time(now));
            subject.set(
                status,
                Desired::new(
                    KEY_VALID,
                    Status::False,
                    Reason::OrgIdRequired,
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
                    Reason::OrgNotAccessible,
                    format!(
                        "The key cannot reach organization {org_id} (spec.orgId). Correct spec.orgId, or use the key of an administrator of that organization."
                    ),
                ),
            );
        }
        KeyCheck::Inconclusive { .. } => apply_inconclusive(status, fingerprint, subject),
    }
}

/// JumpCloud accepted the key: its identity (when learnt) and LeastPrivilege, KeyValid True.
fn apply_accepted(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    identity: Option<&KeyIdentity>,
    subject: &Subject<'_>,
) {
    let key = key_status(status, fingerprint);
    key.last_accepted_time = Some(Time(subject.now));
    key.last_rejected_time = None;
    if let Some(identity) = identity {
        key.administrator = identity.administrator.clone();
        key.role = identity.role.clone();
        key.expires_at = identity.expires_at.map(Time);
        status.organization = Some(identity.organization.clone());
        subject.set(status, least_privilege(identity, subject));
    }
    set_key_accepted(status, subject);
}

/// LeastPrivilege for the role of the key's administrator.
fn least_privilege(identity: &KeyIdentity, subject: &Subject<'_>) -> Desired {
    match identity.role.as_deref() {
        Some(READ_ONLY_ROLE) => Desired::new(
            LEAST_PRIVILEGE,
            Status::True,
            Reason::ReadOnly,
            "The key's administrator has the Read Only role, which is all evidence collection needs.",
        ),
        Some(role) => Desired::new(
            LEAST_PRIVILEGE,
            Status::False,
            Reason::PrivilegedRole,
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
            Reason::RoleUnknown,
            "JumpCloud did not say which role the key's administrator has; check in the console that it is Read Only.",
        ),
    }
}

/// JumpCloud rejected the key: KeyValid False with the most specific verdict (another region
/// accepts it, it expired, it was accepted before, or it never was).
fn apply_rejected(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    accepted_by: Option<Region>,
    previously_accepted: Option<Timestamp>,
    subject: &Subject<'_>,
) {
    let now = subject.now;
    // A re-check that asked only the configured region and was rejected again keeps the
    // WrongRegion verdict of the first rejection: the answer did not change.
    let keep_wrong_region = accepted_by.is_none()
        && rejected_at_generation(status, fingerprint, subject.generation)
        && conditions::find(&status.conditions, KEY_VALID)
            .is_some_and(|c| c.reason == Reason::WrongRegion);
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
    let (reason, message) = rejection_verdict(
        fingerprint,
        accepted_by,
        expired_at,
        previously_accepted,
        &administrator,
        subject,
    );
    subject.set(
        status,
        Desired::new(KEY_VALID, Status::False, reason, message),
    );
}

/// The reason and message of a rejection.
fn rejection_verdict(
    fingerprint: &str,
    accepted_by: Option<Region>,
    expired_at: Option<Timestamp>,
    previously_accepted: Option<Timestamp>,
    administrator: &str,
    subject: &Subject<'_>,
) -> (Reason, String) {
    let region = subject.spec.region;
    if let Some(other) = accepted_by.filter(|r| *r != region) {
        (
            Reason::WrongRegion,
            format!(
                "The {region} region's host rejected the key, but the {other} region ({}) accepts it. Set spec.region to {other}.",
                other.console_base()
            ),
        )
    } else if let Some(expired_at) = expired_at {
        (
            Reason::KeyExpired,
            format!(
                "The key (fingerprint {fingerprint}) expired at {}. Generate a new API key for {administrator} in the JumpCloud console and put it in {}.",
                format_time(expired_at),
                subject.secret_text()
            ),
        )
    } else if let Some(accepted) = previously_accepted {
        (
            Reason::KeyRevoked,
            format!(
                "JumpCloud now rejects the key (fingerprint {fingerprint}) that it accepted at {}. A new API key was probably generated for {administrator}, which revokes the previous one. Put the new key in {}; the operator retries at once when the Secret changes, otherwise at most once an hour.",
                format_time(accepted),
                subject.secret_text()
            ),
        )
    } else {
        (
            Reason::KeyRejected,
            format!(
                "JumpCloud ({region} region) rejects the key (fingerprint {fingerprint}), which this connection has never seen accepted. Check that {} holds the current API key of an administrator of the organization and that spec.region is right; the operator retries at once when the Secret changes, otherwise at most once an hour.",
                subject.secret_text()
            ),
        )
    }
}

/// Could not tell: the key state is left as it was, but a new key that could not be checked
/// yet shows as unknown, not as the old one.
fn apply_inconclusive(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    subject: &Subject<'_>,
) {
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
                Reason::NotChecked,
                "The key has not been checked yet because JumpCloud could not be reached; retrying.",
            ),
        );
    }
}

/// KeyValid True, as Accepted or ExpiresSoon depending on the expiry and `now`.
pub(super) fn set_key_accepted(status: &mut JumpCloudConnectionStatus, subject: &Subject<'_>) {
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
            Reason::ExpiresSoon,
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
            Reason::Accepted,
            format!(
                "JumpCloud accepts the key (fingerprint {}){who}{org}.",
                key.fingerprint
            ),
        ),
    };
    subject.set(status, desired);
}
