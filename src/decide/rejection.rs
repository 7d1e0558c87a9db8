//! The rejection memory: a key JumpCloud refused, kept next to the status so a failed status
//! write cannot lead to more requests with a dead key.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::plan::SecretRead;
use super::{is_rejection, time};
use crate::conditions::{self, KEY_VALID};
use crate::crd::{CredentialStatus, JumpCloudConnectionStatus};

/// A rejection as this process computed it, kept in memory next to the status: when writing
/// the status fails, the next reconcile still knows the key is dead and does not try it again
/// on the Kubernetes-error backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub fingerprint: String,
    pub secret_version: Option<String>,
    pub generation: Option<i64>,
    pub credential: CredentialStatus,
    pub key_valid: Condition,
    pub last_key_check_time: Option<Time>,
}

/// The rejection `status` records, if KeyValid says JumpCloud refused the key.
pub fn rejection_of(status: &JumpCloudConnectionStatus) -> Option<Rejection> {
    let key_valid = conditions::find(&status.conditions, KEY_VALID)
        .filter(|c| c.status == "False" && is_rejection(&c.reason))?;
    let api_key = status
        .credential
        .as_ref()
        .filter(|key| key.last_rejected_time.is_some())?;
    Some(Rejection {
        fingerprint: api_key.fingerprint.clone(),
        secret_version: status.observed_secret_version.clone(),
        generation: key_valid.observed_generation,
        credential: api_key.clone(),
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
        ..
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
        .credential
        .as_ref()
        .filter(|key| key.fingerprint == rejection.fingerprint)
        .and_then(|key| time(&key.last_rejected_time));
    let remembered = time(&rejection.credential.last_rejected_time);
    if recorded.is_some() && recorded >= remembered {
        return false;
    }
    status.credential = Some(rejection.credential.clone());
    status.observed_secret_version = rejection.secret_version.clone();
    status.observed_generation = rejection.generation;
    status.last_key_check_time = rejection.last_key_check_time.clone();
    conditions::put(&mut status.conditions, rejection.key_valid.clone());
    true
}
