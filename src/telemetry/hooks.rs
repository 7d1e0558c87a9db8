//! Glue between the operator's own types and [`Metrics`]: condition reasons to [`KeyState`],
//! sync results to [`SyncResultLabel`], request labels to bounded `&'static str` groups, and the
//! request observer the JumpCloud client calls after every HTTP attempt.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use std::time::Duration;

use super::{KeyState, Metrics, StatusClass, SyncResultLabel};
use crate::conditions::Reason;
use crate::decide::SyncResult;

/// At most this many distinct endpoint groups get their own label value; the rest are `other`.
/// Request labels are evidence kinds compiled into the binary, so this is a safety net only.
const MAX_GROUPS: usize = 128;

/// Label value for groups beyond `MAX_GROUPS` or with unexpected characters.
pub const OTHER_GROUP: &str = "other";

/// A bounded `&'static str` for a request label (an evidence kind such as `devices`).
/// Each distinct accepted label is leaked once; at most `MAX_GROUPS` ever are.
pub fn endpoint_group(label: &str) -> &'static str {
    static GROUPS: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let valid = !label.is_empty()
        && label.len() <= 64
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return OTHER_GROUP;
    }
    let mut groups = GROUPS
        .get_or_init(|| Mutex::new(BTreeSet::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = groups.get(label) {
        return known;
    }
    if groups.len() >= MAX_GROUPS {
        return OTHER_GROUP;
    }
    let leaked: &'static str = Box::leak(label.to_owned().into_boxed_str());
    groups.insert(leaked);
    leaked
}

/// Called by the JumpCloud client after every HTTP attempt with the request label and the
/// response status (`None`: no response arrived). Cheap to clone.
#[derive(Clone)]
pub struct RequestObserver(Arc<ObserveFn>);

type ObserveFn = dyn Fn(&str, Option<u16>) + Send + Sync;

impl RequestObserver {
    pub fn new(f: impl Fn(&str, Option<u16>) + Send + Sync + 'static) -> Self {
        RequestObserver(Arc::new(f))
    }

    /// Counts every attempt in `metrics` (`jumpcloud_requests_total`).
    pub fn metrics(metrics: Arc<Metrics>) -> Self {
        RequestObserver::new(move |label, status| {
            let class = match status {
                Some(code) => StatusClass::from_status(code),
                None => StatusClass::Transport,
            };
            metrics.record_request(endpoint_group(label), class);
        })
    }

    pub fn observe(&self, label: &str, status: Option<u16>) {
        (self.0)(label, status)
    }
}

impl std::fmt::Debug for RequestObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestObserver")
    }
}

/// Resolves once `store` has its initial list.
///
/// `Store::wait_until_ready` (kube-runtime 5.0) wakes only the *last* task that polled it: its
/// one-shot receiver keeps a single waker, and the controller's own runner polls it too. So
/// this re-polls it every 200 ms; readiness is reported at most that late.
pub async fn store_ready<K>(
    store: &kube::runtime::reflector::Store<K>,
) -> Result<(), kube::runtime::reflector::store::WriterDropped>
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        if let Ok(outcome) = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            store.wait_until_ready(),
        )
        .await
        {
            return outcome;
        }
    }
}

/// The key state of a `KeyValid` condition reason (`None`: no condition yet).
pub fn key_state(reason: Option<&str>) -> KeyState {
    match reason.and_then(Reason::parse) {
        Some(Reason::Accepted) => KeyState::Accepted,
        Some(Reason::ExpiresSoon) => KeyState::ExpiresSoon,
        Some(Reason::SecretNotFound) => KeyState::SecretNotFound,
        Some(Reason::SecretKeyMissing) => KeyState::SecretKeyMissing,
        Some(Reason::KeyEmpty) | Some(Reason::KeyMalformed) => KeyState::KeyEmpty,
        Some(Reason::KeyRejected) => KeyState::KeyRejected,
        Some(Reason::KeyRevoked) => KeyState::KeyRevoked,
        Some(Reason::KeyExpired) => KeyState::KeyExpired,
        Some(Reason::WrongRegion) => KeyState::WrongRegion,
        Some(Reason::OrgIdRequired) => KeyState::OrgIdRequired,
        Some(Reason::OrgNotAccessible) => KeyState::OrgNotAccessible,
        Some(Reason::ClientSecretRejected) => KeyState::ClientSecretRejected,
        Some(Reason::ClientSecretRevoked) => KeyState::ClientSecretRevoked,
        Some(Reason::ClientSecretExpired) => KeyState::ClientSecretExpired,
        Some(Reason::ServiceAccountDisabled) => KeyState::ServiceAccountDisabled,
        _ => KeyState::Unknown,
    }
}

/// Counts a finished sync and observes its duration. `result` is `None` when JumpCloud
/// rejected the key before anything was collected. The gauges follow the status the reconcile
/// writes afterwards ([`super::record_status`]).
pub fn record_sync(metrics: &Metrics, result: Option<&SyncResult>, elapsed: Duration) {
    let outcome = match result {
        Some(result) => sync_result_label(result),
        None => SyncResultLabel::KeyRejected,
    };
    metrics.record_sync(outcome, elapsed);
}

/// The `syncs_total` result of a sync.
pub fn sync_result_label(result: &SyncResult) -> SyncResultLabel {
    match result {
        SyncResult::Succeeded { .. } => SyncResultLabel::Success,
        SyncResult::Failed { reason, .. } => match *reason {
            Reason::RateLimited => SyncResultLabel::RateLimited,
            Reason::JumpCloudUnavailable => SyncResultLabel::Unavailable,
            Reason::Timeout => SyncResultLabel::Timeout,
            Reason::TruncatedCollection | Reason::ForbiddenEndpoint => SyncResultLabel::Partial,
            Reason::EvidenceWriteFailed => SyncResultLabel::EvidenceWriteFailed,
            _ => SyncResultLabel::Error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_bounded_and_only_plain_names() {
        assert_eq!(endpoint_group("devices"), "devices");
        assert!(std::ptr::eq(
            endpoint_group("devices"),
            endpoint_group("devices")
        ));
        assert_eq!(endpoint_group("/api/systems/5f1c"), OTHER_GROUP);
        assert_eq!(endpoint_group("Key 0123"), OTHER_GROUP);
        assert_eq!(endpoint_group(""), OTHER_GROUP);
    }

    #[test]
    fn reasons_map_to_key_states() {
        assert_eq!(
            key_state(Some(Reason::KeyRevoked.as_str())),
            KeyState::KeyRevoked
        );
        assert_eq!(
            key_state(Some(Reason::Accepted.as_str())),
            KeyState::Accepted
        );
        assert_eq!(key_state(None), KeyState::Unknown);
        assert_eq!(
            key_state(Some(Reason::NotChecked.as_str())),
            KeyState::Unknown
        );
    }

    #[test]
    fn sync_results_map_to_outcomes() {
        let failed = |reason| SyncResult::Failed {
            reason,
            message: String::new(),
            transient: true,
        };
        assert_eq!(
            sync_result_label(&failed(Reason::RateLimited)),
            SyncResultLabel::RateLimited
        );
        assert_eq!(
            sync_result_label(&failed(Reason::SyncFailed)),
            SyncResultLabel::Error
        );
        assert_eq!(
            sync_result_label(&failed(Reason::EvidenceWriteFailed)),
            SyncResultLabel::EvidenceWriteFailed
        );
        assert_eq!(
            sync_result_label(&SyncResult::Succeeded {
                counts: Default::default(),
                snapshot: crate::crd::SnapshotStatus {
                    id: String::new(),
                    digest: String::new(),
                    sequence: 0,
                    time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        jiff::Timestamp::UNIX_EPOCH
                    ),
                    signed: false,
                },
                controls: Box::new(crate::decide::control_status::ControlsEvaluation::of(
                    &[],
                    jiff::Timestamp::UNIX_EPOCH
                )),
                retention_problem: None,
            }),
            SyncResultLabel::Success
        );
    }
}
