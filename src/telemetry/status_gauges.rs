//! The per-connection gauges, derived from the connection's status alone. The controller sets
//! them after every reconcile and refills them from its cache at start, so a restart shows the
//! same values as before it (not nothing until the next sync, hours later).

use std::collections::BTreeMap;

use crate::controls::catalog::CATALOG;
use crate::crd::{ControlsStatus, JumpCloudConnectionSpec, JumpCloudConnectionStatus};

use super::Metrics;
use super::hooks::{endpoint_group, key_state};
use super::labels::{ControlResultLabel, KeyState};

/// What the gauges of one connection show; `None` removes the series (for instance a key
/// without an expiry, or a connection that never synced).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionGauges {
    pub key_state: KeyState,
    /// Unix seconds of `status.lastSuccessfulSyncTime`.
    pub last_successful_sync: Option<i64>,
    /// Unix seconds of `status.credential.expiresAt`.
    pub key_expiry: Option<i64>,
    /// `spec.interval` in seconds (alerts compare the sync age with it).
    pub sync_interval: Option<u64>,
    /// `status.credential.previous.uses`: uses of the replaced key since the rotation.
    pub old_key_uses: Option<u64>,
    /// `status.evidence.snapshot.sequence`.
    pub head_sequence: Option<u64>,
    /// `status.evidence.counts`, with the kinds as bounded label values.
    pub evidence: Vec<(&'static str, u64)>,
    /// `status.controls` counts per result.
    pub control_results: Option<[(ControlResultLabel, u64); 4]>,
    /// The result of each catalog control; empty when the status does not tell them all
    /// consistently (written by another version, or never evaluated).
    pub controls: BTreeMap<&'static str, ControlResultLabel>,
}

impl ConnectionGauges {
    pub fn of(spec: &JumpCloudConnectionSpec, status: &JumpCloudConnectionStatus) -> Self {
        let key_valid = crate::conditions::find(&status.conditions, crate::conditions::KEY_VALID);
        let evidence = status.evidence.as_ref();
        ConnectionGauges {
            key_state: key_state(key_valid.map(|c| c.reason.as_str())),
            last_successful_sync: status
                .last_successful_sync_time
                .as_ref()
                .map(|t| t.0.as_second()),
            key_expiry: status
                .credential
                .as_ref()
                .and_then(|k| k.expires_at.as_ref())
                .map(|t| t.0.as_second()),
            sync_interval: spec.intervals().ok().map(|i| i.sync.as_secs()),
            old_key_uses: status
                .credential
                .as_ref()
                .and_then(|k| k.previous.as_ref())
                .map(|p| p.uses),
            head_sequence: evidence
                .and_then(|e| e.snapshot.as_ref())
                .map(|s| s.sequence),
            evidence: evidence
                .map(|e| {
                    e.counts
                        .iter()
                        .map(|(key, count)| {
                            (endpoint_group(&crate::crd::kind_of_count_key(key)), *count)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            control_results: status.controls.as_ref().map(|c| {
                [
                    (ControlResultLabel::Pass, c.passing),
                    (ControlResultLabel::Fail, c.failing),
                    (ControlResultLabel::NotApplicable, c.not_applicable),
                    (ControlResultLabel::Error, c.error),
                ]
            }),
            controls: status
                .controls
                .as_ref()
                .map(per_control)
                .unwrap_or_default(),
        }
    }
}

/// Each catalog control's result: listed as failing, in error or not applicable, else passing.
/// Fails closed to nothing when an id is not in the catalog or the derived counts differ from
/// the status's counts (a status without `notApplicableIds` would otherwise show them passing).
fn per_control(status: &ControlsStatus) -> BTreeMap<&'static str, ControlResultLabel> {
    let listed = [
        (&status.failing_ids, ControlResultLabel::Fail),
        (&status.error_ids, ControlResultLabel::Error),
        (
            &status.not_applicable_ids,
            ControlResultLabel::NotApplicable,
        ),
    ];
    let mut out: BTreeMap<&'static str, ControlResultLabel> = CATALOG
        .iter()
        .map(|c| (c.id, ControlResultLabel::Pass))
        .collect();
    for (ids, result) in listed {
        for id in ids {
            match out.get_mut(id.as_str()) {
                Some(slot) if *slot == ControlResultLabel::Pass => *slot = result,
                // Unknown, or listed twice: the status is not this catalog's.
                _ => return BTreeMap::new(),
            }
        }
    }
    let count = |want: ControlResultLabel| out.values().filter(|r| **r == want).count() as u64;
    let consistent = count(ControlResultLabel::Pass) == status.passing
        && count(ControlResultLabel::Fail) == status.failing
        && count(ControlResultLabel::Error) == status.error
        && count(ControlResultLabel::NotApplicable) == status.not_applicable;
    if consistent { out } else { BTreeMap::new() }
}

/// Sets every per-connection gauge from the connection's status.
pub fn record_status(
    metrics: &Metrics,
    namespace: &str,
    name: &str,
    spec: &JumpCloudConnectionSpec,
    status: &JumpCloudConnectionStatus,
) {
    metrics.set_connection_gauges(namespace, name, &ConnectionGauges::of(spec, status));
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    use super::*;
    use crate::crd::{CredentialStatus, EvidenceStatus, SnapshotStatus};

    fn spec() -> JumpCloudConnectionSpec {
        serde_json::from_value(serde_json::json!({
            "apiKeySecretRef": {"name": "jc"},
            "interval": "6h",
        }))
        .expect("a valid spec")
    }

    fn time(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(seconds).expect("in range"))
    }

    fn evaluated(failing: &[&str], error: &[&str], not_applicable: &[&str]) -> ControlsStatus {
        let ids = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let listed = failing.len() + error.len() + not_applicable.len();
        ControlsStatus {
            passing: (CATALOG.len() - listed) as u64,
            failing: failing.len() as u64,
            error: error.len() as u64,
            not_applicable: not_applicable.len() as u64,
            failing_ids: ids(failing),
            error_ids: ids(error),
            not_applicable_ids: ids(not_applicable),
            evaluated_at: None,
        }
    }

    fn full_status() -> JumpCloudConnectionStatus {
        JumpCloudConnectionStatus {
            conditions: vec![Condition {
                type_: "KeyValid".into(),
                status: "True".into(),
                reason: "ExpiresSoon".into(),
                message: String::new(),
                last_transition_time: time(0),
                observed_generation: None,
            }],
            last_successful_sync_time: Some(time(1_800_000_000)),
            credential: Some(CredentialStatus {
                fingerprint: "abc".into(),
                expires_at: Some(time(1_900_000_000)),
                ..Default::default()
            }),
            evidence: Some(EvidenceStatus {
                counts: [("devices".to_string(), 55)].into(),
                snapshot: Some(SnapshotStatus {
                    id: "s".into(),
                    digest: "sha256:00".into(),
                    sequence: 7,
                    time: time(1_800_000_000),
                    signed: false,
                }),
                ..Default::default()
            }),
            controls: Some(evaluated(
                &[CATALOG[0].id],
                &[CATALOG[1].id],
                &[CATALOG[2].id],
            )),
            ..Default::default()
        }
    }

    #[test]
    fn every_gauge_comes_from_its_status_field() {
        let gauges = ConnectionGauges::of(&spec(), &full_status());
        assert_eq!(gauges.key_state, KeyState::ExpiresSoon);
        assert_eq!(gauges.last_successful_sync, Some(1_800_000_000));
        assert_eq!(gauges.key_expiry, Some(1_900_000_000));
        assert_eq!(gauges.sync_interval, Some(6 * 3600));
        assert_eq!(gauges.head_sequence, Some(7));
        assert_eq!(gauges.evidence, [("devices", 55)]);
        assert_eq!(gauges.controls.len(), CATALOG.len());
        assert_eq!(gauges.controls[CATALOG[0].id], ControlResultLabel::Fail);
        assert_eq!(gauges.controls[CATALOG[1].id], ControlResultLabel::Error);
        assert_eq!(
            gauges.controls[CATALOG[2].id],
            ControlResultLabel::NotApplicable
        );
        assert_eq!(gauges.controls[CATALOG[3].id], ControlResultLabel::Pass);
    }

    #[test]
    fn an_empty_status_sets_no_optional_series() {
        let gauges = ConnectionGauges::of(&spec(), &JumpCloudConnectionStatus::default());
        assert_eq!(gauges.key_state, KeyState::Unknown);
        assert_eq!(
            (
                gauges.last_successful_sync,
                gauges.key_expiry,
                gauges.head_sequence
            ),
            (None, None, None)
        );
        assert!(gauges.evidence.is_empty() && gauges.controls.is_empty());
        assert_eq!(gauges.control_results, None);
    }

    /// A status written before `notApplicableIds` existed counts 1 not applicable but lists
    /// none: deriving would show that control passing, so no per-control series at all.
    #[test]
    fn per_control_results_fail_closed_on_an_inconsistent_status() {
        let mut old = evaluated(&[CATALOG[0].id], &[], &[]);
        old.passing -= 1;
        old.not_applicable = 1;
        assert!(per_control(&old).is_empty());

        let mut unknown = evaluated(&[], &[], &[]);
        unknown.failing_ids = vec!["JC-NOT-IN-CATALOG".into()];
        unknown.failing = 1;
        unknown.passing -= 1;
        assert!(per_control(&unknown).is_empty());

        let twice = evaluated(&[CATALOG[0].id], &[CATALOG[0].id], &[]);
        assert!(per_control(&twice).is_empty());

        assert_eq!(
            per_control(&evaluated(&[], &[], &[])).len(),
            CATALOG.len(),
            "a consistent status gives every control"
        );
    }
}
