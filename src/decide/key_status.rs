//! What reading the Secret, and identifying or checking the key, write into the status:
//! `apiKey`, `organization`, `KeyValid` and `LeastPrivilege`.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::plan::{SecretRead, rejected_at_generation};
use super::{Subject, add, format_time, is_rejection, time};
use crate::conditions::{self, Desired, KEY_VALID, LEAST_PRIVILEGE, Reason, Status};
use crate::crd::{CredentialRef, CredentialStatus, JumpCloudConnectionStatus, OrganizationStatus};
use crate::jumpcloud::{CredentialKind, TokenRejection};
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
    /// A service account's client id and (where JumpCloud tells it) name.
    pub client_id: Option<String>,
    pub name: Option<String>,
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
    /// The token endpoint refused a service account's client id and secret (OAuth
    /// `invalid_client`), for `cause`. `accepted_by` as for [`KeyCheck::Rejected`].
    ClientRefused {
        cause: TokenRejection,
        accepted_by: Option<Region>,
        /// The account's client id, for the message.
        client_id: String,
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

/// Records when the service account's current access token expires, while the credential it
/// belongs to is accepted (a refused credential's old token says nothing useful).
pub fn set_token_expiry(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    expires_at: Option<Timestamp>,
) {
    let accepted =
        conditions::find(&status.conditions, KEY_VALID).is_some_and(|c| c.status == "True");
    if let Some(key) = status
        .credential
        .as_mut()
        .filter(|key| key.fingerprint == fingerprint)
    {
        // Whole seconds, as every time in the status.
        key.token_expires_at = expires_at
            .filter(|_| accepted)
            .and_then(|t| Timestamp::from_second(t.as_second()).ok())
            .map(Time);
    }
}

/// Records what reading the Secret showed when it is unusable.
pub fn apply_secret_problem(
    status: &mut JumpCloudConnectionStatus,
    secret: &SecretRead,
    subject: &Subject<'_>,
) {
    let Ok(credential) = subject.spec.credential_ref() else {
        return;
    };
    let ns = subject.namespace;
    let name = credential.secret_name();
    // What the Secret holds, and the keys it holds it under (for the kubectl example).
    let (what, example, field) = match credential {
        CredentialRef::ApiKey(r) => (
            "the JumpCloud API key".to_owned(),
            format!("--from-file={}=<file holding the key>", r.key),
            "spec.apiKeySecretRef.key",
        ),
        CredentialRef::ServiceAccount(r) => (
            "the service account's client id and client secret".to_owned(),
            format!(
                "--from-file={}=<file holding the client id> --from-file={}=<file holding the client secret>",
                r.client_id_key, r.client_secret_key
            ),
            "spec.serviceAccountSecretRef.clientIdKey / clientSecretKey",
        ),
    };
    let (reason, message) = match secret {
        SecretRead::NotFound => (
            Reason::SecretNotFound,
            format!(
                "Secret {name:?} was not found in namespace {ns}. Create it with {what}, e.g. kubectl create secret generic {name} -n {ns} {example}."
            ),
        ),
        SecretRead::KeyMissing { key, available } => {
            let keys = if available.is_empty() {
                "no keys at all".to_owned()
            } else {
                format!("the keys {}", available.join(", "))
            };
            (
                Reason::SecretKeyMissing,
                format!(
                    "Secret {ns}/{name} has no key {key:?}; it has {keys}. Set {field} to the key that holds it, or add {key:?} to the Secret."
                ),
            )
        }
        SecretRead::Empty { key } => (
            Reason::KeyEmpty,
            format!("Secret {ns}/{name} has an empty {key:?}. Put {what} in it."),
        ),
        SecretRead::Malformed { key } => (
            Reason::KeyMalformed,
            format!(
                "Secret {ns}/{name} holds whitespace or control characters inside {key:?} (surrounding whitespace is trimmed). Put the value in it exactly as JumpCloud shows it."
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

/// The status of the credential with this fingerprint; a new one replaces the entry of the
/// previous credential (remembered as `previous` when it was an accepted key, `now` being when).
fn key_status_at<'s>(
    status: &'s mut JumpCloudConnectionStatus,
    fingerprint: &str,
    now: Timestamp,
) -> &'s mut CredentialStatus {
    if status
        .credential
        .as_ref()
        .is_none_or(|key| key.fingerprint != fingerprint)
    {
        let previous = status
            .credential
            .take()
            .and_then(|old| super::old_keys::replaced(old, now));
        status.credential = Some(CredentialStatus {
            fingerprint: fingerprint.to_owned(),
            previous,
            ..CredentialStatus::default()
        });
    }
    // Just ensured above.
    status
        .credential
        .get_or_insert_with(CredentialStatus::default)
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
        .credential
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
            key_status_at(status, fingerprint, subject.now).last_rejected_time = Some(Time(now));
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
            key_status_at(status, fingerprint, subject.now).last_rejected_time = Some(Time(now));
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
        KeyCheck::ClientRefused {
            cause,
            accepted_by,
            client_id,
        } => apply_client_refused(
            status,
            fingerprint,
            (*cause, *accepted_by, client_id),
            previously_accepted,
            subject,
        ),
        KeyCheck::Inconclusive { .. } => apply_inconclusive(status, fingerprint, subject),
    }
    let kind = if subject.service_account() {
        CredentialKind::ServiceAccount
    } else {
        CredentialKind::ApiKey
    };
    if let Some(key) = status
        .credential
        .as_mut()
        .filter(|key| key.fingerprint == fingerprint)
    {
        key.type_ = Some(kind.as_str().to_owned());
    }
}

/// The token endpoint refused the service account's client: KeyValid False, with what it
/// said (expired secret, disabled account) or, for a plain `invalid_client`, whether this
/// secret worked before (then it was deleted) or never did.
fn apply_client_refused(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    (cause, accepted_by, client_id): (TokenRejection, Option<Region>, &str),
    previously_accepted: Option<Timestamp>,
    subject: &Subject<'_>,
) {
    let keep_wrong_region = accepted_by.is_none()
        && rejected_at_generation(status, fingerprint, subject.generation)
        && conditions::find(&status.conditions, KEY_VALID)
            .is_some_and(|c| c.reason == Reason::WrongRegion);
    let key = key_status_at(status, fingerprint, subject.now);
    key.last_rejected_time = Some(Time(subject.now));
    if keep_wrong_region {
        return;
    }
    let account = format!("service account {client_id}");
    let secret = subject.secret_text();
    let region = subject.spec.region;
    let (reason, message) = match (cause, accepted_by.filter(|r| *r != region)) {
        (_, Some(other)) => (
            Reason::WrongRegion,
            format!(
                "The {region} region's token endpoint refuses {account}, but the {other} region's accepts it. Set spec.region to {other}."
            ),
        ),
        (TokenRejection::SecretExpired, None) => (
            Reason::ClientSecretExpired,
            format!(
                "The client secret (fingerprint {fingerprint}) of {account} has expired. Put the account's other client secret in {secret}, or create a new one in the JumpCloud console (Settings > Service Accounts) and put it there; the operator retries at once when the Secret changes."
            ),
        ),
        (TokenRejection::AccountDisabled, None) => (
            Reason::ServiceAccountDisabled,
            format!(
                "JumpCloud says {account} is disabled or deleted. Enable it in the JumpCloud console (Settings > Service Accounts), or create a new service account with the Read Only role and put its client id and secret in {secret}."
            ),
        ),
        (TokenRejection::InvalidClient, None) => match previously_accepted {
            Some(accepted) => (
                Reason::ClientSecretRevoked,
                format!(
                    "JumpCloud's token endpoint now refuses the client secret (fingerprint {fingerprint}) of {account}, which it accepted at {}: the secret was deleted (rotated away) or the account removed. Put the account's current client secret in {secret}; the operator retries at once when the Secret changes, otherwise at most once an hour.",
                    format_time(accepted)
                ),
            ),
            None => (
                Reason::ClientSecretRejected,
                format!(
                    "JumpCloud's token endpoint ({region} region) refuses {account} with this client secret (fingerprint {fingerprint}), which this connection has never seen accepted: the client id or secret is wrong, or the account belongs to another region. Check {secret} and spec.region; the operator retries at once when the Secret changes, otherwise at most once an hour."
                ),
            ),
        },
    };
    subject.set(
        status,
        Desired::new(KEY_VALID, Status::False, reason, message),
    );
}

/// JumpCloud accepted the key: its identity (when learnt) and LeastPrivilege, KeyValid True.
fn apply_accepted(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    identity: Option<&KeyIdentity>,
    subject: &Subject<'_>,
) {
    let key = key_status_at(status, fingerprint, subject.now);
    key.last_accepted_time = Some(Time(subject.now));
    key.last_rejected_time = None;
    if let Some(identity) = identity {
        key.administrator = identity.administrator.clone();
        key.client_id = identity.client_id.clone();
        key.name = identity.name.clone();
        key.role = identity.role.clone();
        key.expires_at = identity.expires_at.map(Time);
        status.organization = Some(identity.organization.clone());
        subject.set(status, least_privilege(identity, subject));
    }
    set_key_accepted(status, subject);
}

/// LeastPrivilege for the role of the key's administrator.
fn least_privilege(identity: &KeyIdentity, subject: &Subject<'_>) -> Desired {
    if subject.service_account() {
        return service_account_privilege(identity, subject);
    }
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

/// LeastPrivilege for a service account's role.
fn service_account_privilege(identity: &KeyIdentity, subject: &Subject<'_>) -> Desired {
    let account = match (&identity.name, &identity.client_id) {
        (Some(name), _) => format!("The service account {name:?}"),
        (None, Some(id)) => format!("The service account {id}"),
        (None, None) => "The service account".to_owned(),
    };
    match identity.role.as_deref() {
        Some(READ_ONLY_ROLE) => Desired::new(
            LEAST_PRIVILEGE,
            Status::True,
            Reason::ReadOnly,
            format!("{account} has the Read Only role, which is all evidence collection needs."),
        ),
        Some(role) => Desired::new(
            LEAST_PRIVILEGE,
            Status::False,
            Reason::PrivilegedRole,
            format!(
                "{account} has the role {role:?}, which can change the organization. Create a service account with the Read Only role in the JumpCloud console (Settings > Service Accounts) and put its client id and secret in {}.",
                subject.secret_text()
            ),
        ),
        None => Desired::new(
            LEAST_PRIVILEGE,
            Status::Unknown,
            Reason::RoleUnknown,
            format!(
                "JumpCloud did not tell the role of {} (GET /api/users/getSelf, undocumented, gave no role); check in the console (Settings > Service Accounts) that it is Read Only.",
                account.trim_start_matches("The ")
            ),
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
    let key = key_status_at(status, fingerprint, subject.now);
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
        .credential
        .as_ref()
        .is_none_or(|key| key.fingerprint != fingerprint)
    {
        key_status_at(status, fingerprint, subject.now);
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
    let Some(key) = status.credential.clone() else {
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
    if subject.service_account() {
        let account = match (&key.name, &key.client_id) {
            (Some(name), Some(id)) => format!("service account {name:?} (client id {id})"),
            (None, Some(id)) => format!("service account {id}"),
            _ => "the service account".to_owned(),
        };
        let desired = Desired::new(
            KEY_VALID,
            Status::True,
            Reason::Accepted,
            format!(
                "JumpCloud accepts {account} with the client secret of fingerprint {}{org}.",
                key.fingerprint
            ),
        );
        subject.set(status, desired);
        return;
    }
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
