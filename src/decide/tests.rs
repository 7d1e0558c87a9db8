use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::plan::first_rejection_possible;
use super::*;
use crate::conditions::{KEY_VALID, LEAST_PRIVILEGE, READY, RECONCILING, STALLED, SYNCED};
use crate::crd::{OrganizationStatus, SnapshotStatus};
use crate::region::Region;

const FP: &str = "aaaaaaaaaaaa";
const OTHER_FP: &str = "bbbbbbbbbbbb";

fn spec() -> JumpCloudConnectionSpec {
    serde_json::from_value(serde_json::json!({
        "apiKeySecretRef": {"name": "jc"},
        "interval": "6h",
        "keyCheckInterval": "5m",
    }))
    .unwrap()
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn present(fp: &str, version: &str) -> SecretRead {
    SecretRead::Present {
        key: crate::jumpcloud::ApiKey::new("jca_test").unwrap(),
        fingerprint: fp.to_owned(),
        version: Some(version.to_owned()),
    }
}

#[derive(Clone)]
struct World {
    spec: JumpCloudConnectionSpec,
    status: JumpCloudConnectionStatus,
    secret: SecretRead,
    request: Option<String>,
    retry_not_before: Option<Timestamp>,
    now: Timestamp,
    generation: i64,
}

impl World {
    fn new() -> Self {
        World {
            spec: spec(),
            status: JumpCloudConnectionStatus::default(),
            secret: present(FP, "1"),
            request: None,
            retry_not_before: None,
            now: at(0),
            generation: 1,
        }
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            namespace: "team",
            name: "prod",
            generation: Some(self.generation),
            spec: &self.spec,
            status: &self.status,
            sync_requested_at: self.request.as_deref(),
            secret: &self.secret,
            retry_not_before: self.retry_not_before,
            rejected_key_retry: REJECTED_KEY_RETRY,
            now: self.now,
        }
    }

    fn subject(&self) -> Subject<'_> {
        Subject {
            namespace: "team",
            name: "prod",
            generation: Some(self.generation),
            spec: &self.spec,
            now: self.now,
        }
    }

    fn plan(&self) -> Plan {
        decide(&self.inputs())
    }

    fn check(&mut self, check: KeyCheck) {
        let fp = match &self.secret {
            SecretRead::Present { fingerprint, .. } => fingerprint.clone(),
            _ => panic!("no key"),
        };
        let version = match &self.secret {
            SecretRead::Present { version, .. } => version.clone(),
            _ => None,
        };
        let mut status = self.status.clone();
        apply_key_check(
            &mut status,
            &fp,
            version.as_deref(),
            &check,
            &self.subject(),
        );
        self.status = status;
    }

    fn sync(&mut self, result: SyncResult, trigger: SyncTrigger) {
        let mut status = self.status.clone();
        apply_sync(&mut status, &result, &trigger, &self.subject());
        self.status = status;
    }

    fn finish(&mut self, plan: &Plan) {
        let mut status = self.status.clone();
        finish(&mut status, plan, self.retry_not_before, &self.subject());
        self.status = status;
    }

    fn cond(&self, type_: &str) -> Option<&Condition> {
        conditions::find(&self.status.conditions, type_)
    }

    fn reason(&self, type_: &str) -> Option<Reason> {
        self.cond(type_).and_then(|c| Reason::parse(&c.reason))
    }
}

fn identity(role: &str, expires_at: Option<Timestamp>) -> KeyCheck {
    KeyCheck::Accepted {
        identity: Some(KeyIdentity {
            organization: OrganizationStatus {
                id: "5f0c1b2a3d4e5f6a7b8c9d0e".into(),
                name: "Acme".into(),
            },
            administrator: Some("ro@acme.test".into()),
            role: Some(role.into()),
            expires_at,
        }),
    }
}

fn counts() -> BTreeMap<String, u64> {
    BTreeMap::from([
        ("devices".into(), 55),
        ("users".into(), 60),
        ("roles".into(), 4),
    ])
}

fn snapshot() -> SnapshotStatus {
    SnapshotStatus {
        id: "20261129T032605.123456Z-3f9a0c2b71d4e8a5".into(),
        digest: format!("sha256:3f9a0c2b71d4e8a5{}", "0".repeat(48)),
        sequence: 3,
        time: Time(at(0)),
        signed: false,
    }
}

fn success() -> SyncResult {
    SyncResult::Succeeded {
        counts: counts(),
        snapshot: snapshot(),
        controls: Box::new(control_status::ControlsEvaluation::of(&[], at(0))),
        retention_problem: None,
    }
}

/// A connection whose key was accepted and which synced at `at(0)`.
fn healthy() -> World {
    let mut w = World::new();
    w.check(identity(READ_ONLY_ROLE, None));
    w.sync(success(), SyncTrigger::First);
    w.finish(&Plan::Sync {
        trigger: SyncTrigger::First,
    });
    w
}

#[test]
fn suspend_makes_no_calls_and_says_how_to_resume() {
    let mut w = healthy();
    w.spec.suspend = true;
    let plan = w.plan();
    assert_eq!(plan, Plan::Suspended);
    w.finish(&plan);
    let ready = w.cond(READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", Reason::Suspended.as_str())
    );
    assert!(ready.message.contains("spec.suspend"));
    assert!(w.cond(STALLED).is_none() && w.cond(RECONCILING).is_none());
    assert!(w.status.next_sync_time.is_none());
}

#[test]
fn a_new_key_is_identified_and_synced_first() {
    let w = World::new();
    assert_eq!(
        w.plan(),
        Plan::Identify {
            then_sync: Some(SyncTrigger::First),
            probe_regions: true,
        }
    );
}

#[test]
fn secret_problems_stall_without_calls_and_list_key_names_only() {
    let mut w = World::new();
    w.secret = SecretRead::KeyMissing {
        available: vec!["apikey".into(), "token".into()],
    };
    let plan = w.plan();
    assert_eq!(plan, Plan::SecretProblem);
    let mut status = w.status.clone();
    apply_secret_problem(&mut status, &w.secret, &w.subject());
    w.status = status;
    w.finish(&plan);
    let key = w.cond(KEY_VALID).unwrap();
    assert_eq!(key.reason, Reason::SecretKeyMissing);
    assert!(key.message.contains("apikey, token"), "{}", key.message);
    assert!(key.message.contains("spec.apiKeySecretRef.key"));
    assert_eq!(w.reason(READY), Some(Reason::SecretKeyMissing));
    assert_eq!(w.reason(STALLED), Some(Reason::SecretKeyMissing));

    for (secret, expected) in [
        (SecretRead::NotFound, Reason::SecretNotFound),
        (SecretRead::Empty, Reason::KeyEmpty),
        (SecretRead::Malformed, Reason::KeyMalformed),
    ] {
        let mut w = World::new();
        w.secret = secret;
        let mut status = w.status.clone();
        apply_secret_problem(&mut status, &w.secret, &w.subject());
        assert_eq!(
            conditions::find(&status.conditions, KEY_VALID)
                .unwrap()
                .reason,
            expected
        );
    }
}

/// A Secret the Kubernetes API did not answer for (500, 403, timeout) in `w`, reconciled.
fn reconcile_unreadable(w: &mut World) -> Plan {
    w.secret = SecretRead::Unreadable {
        error: "HTTP 500 InternalError: etcd is down".into(),
    };
    let plan = w.plan();
    if let Plan::SecretUnreadable(error) = &plan {
        let mut status = w.status.clone();
        apply_secret_unreadable(&mut status, error, &w.subject());
        w.status = status;
    }
    w.finish(&plan);
    plan
}

#[test]
fn an_unreadable_secret_claims_nothing_about_the_key_and_retries() {
    let mut w = healthy();
    assert_eq!(w.reason(READY), Some(Reason::Succeeded));
    let plan = reconcile_unreadable(&mut w);
    assert_eq!(
        plan,
        Plan::SecretUnreadable("HTTP 500 InternalError: etcd is down".into())
    );
    for type_ in [KEY_VALID, READY] {
        let c = w.cond(type_).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("Unknown", Reason::SecretUnreadable.as_str()),
            "{type_}"
        );
        assert!(c.message.contains("Secret team/jc"), "{}", c.message);
        assert!(c.message.contains("etcd is down"), "{}", c.message);
    }
    // Retrying on its own is progress, not a stall for a human.
    assert_eq!(w.reason(RECONCILING), Some(Reason::SecretUnreadable));
    assert!(w.cond(STALLED).is_none());
    // The last sync is history and stays.
    assert_eq!(w.reason(SYNCED), Some(Reason::Succeeded));
    let before = healthy();
    let events = events(&before.status.conditions, &w.status.conditions);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].kind, events[0].reason.as_str()),
        (EventKind::Warning, Reason::SecretUnreadable.as_str())
    );

    // Readable again: the key is identified again before anything claims it is valid.
    w.secret = present(FP, "1");
    assert!(matches!(w.plan(), Plan::Identify { .. }), "{:?}", w.plan());
}

#[test]
fn an_unreadable_secret_keeps_a_rejection_so_the_dead_key_is_not_tried_again() {
    let mut w = healthy();
    w.now = at(600);
    w.check(KeyCheck::Rejected { accepted_by: None });
    w.finish(&Plan::CheckKey);
    assert_eq!(w.reason(KEY_VALID), Some(Reason::KeyRevoked));
    w.now = at(700);
    reconcile_unreadable(&mut w);
    assert_eq!(w.reason(KEY_VALID), Some(Reason::KeyRevoked));
    assert_eq!(w.reason(READY), Some(Reason::SecretUnreadable));
    w.secret = present(FP, "1");
    assert!(matches!(w.plan(), Plan::Blocked { .. }), "{:?}", w.plan());
}

#[test]
fn healthy_connection_waits_then_checks_the_key_then_syncs_on_interval() {
    let mut w = healthy();
    assert_eq!(w.reason(READY), Some(Reason::Succeeded));
    assert!(w.cond(RECONCILING).is_none() && w.cond(STALLED).is_none());
    // Status writes re-trigger reconcile: nothing is due, so no call (no hot loop).
    // The key check is due a tenth of keyCheckInterval (5m) early, so the requeue jitter never
    // pushes it past one interval.
    assert_eq!(w.plan(), Plan::Wait { until: at(270) });
    w.now = at(270);
    assert_eq!(w.plan(), Plan::CheckKey);
    w.check(KeyCheck::Accepted { identity: None });
    assert_eq!(w.plan(), Plan::Wait { until: at(540) });
    // The sync interval is timed from the last successful sync (restarts cause no storm).
    w.now = at(6 * 3600);
    assert_eq!(
        w.plan(),
        Plan::Sync {
            trigger: SyncTrigger::Interval
        }
    );
}

#[test]
fn sync_request_annotation_forces_one_sync() {
    let mut w = healthy();
    w.request = Some("2026-01-01T00:00:00Z".into());
    let trigger = SyncTrigger::Requested("2026-01-01T00:00:00Z".into());
    assert_eq!(
        w.plan(),
        Plan::Sync {
            trigger: trigger.clone()
        }
    );
    w.sync(success(), trigger);
    assert!(matches!(w.plan(), Plan::Wait { .. }));
}

#[test]
fn revoked_key_is_named_blocked_for_an_hour_and_unblocked_by_a_secret_change() {
    let mut w = healthy();
    w.now = at(300);
    w.check(KeyCheck::Rejected { accepted_by: None });
    let plan = w.plan();
    w.finish(&plan);
    let key = w.cond(KEY_VALID).unwrap();
    assert_eq!(key.reason, Reason::KeyRevoked);
    assert!(
        key.message
            .contains("new API key was probably generated for ro@acme.test")
    );
    assert!(key.message.contains("Secret team/jc"));
    assert_eq!(w.reason(READY), Some(Reason::KeyRevoked));
    assert_eq!(w.cond(READY).unwrap().status, "False");
    assert_eq!(w.reason(STALLED), Some(Reason::KeyRevoked));

    // No request with the dead key for an hour, whatever else is due.
    assert_eq!(plan, Plan::Blocked { until: at(3900) });
    w.now = at(3899);
    w.request = Some("now".into());
    assert_eq!(w.plan(), Plan::Blocked { until: at(3900) });
    w.now = at(3900);
    assert_eq!(w.plan(), Plan::Recheck(KeyRequest::Cheap));

    // A Secret update with a new key is acted on at once.
    w.now = at(400);
    w.secret = present(OTHER_FP, "2");
    assert!(matches!(w.plan(), Plan::Identify { .. }));
    w.check(identity(READ_ONLY_ROLE, None));
    let plan = w.plan();
    w.finish(&plan);
    assert_eq!(w.reason(KEY_VALID), Some(Reason::Accepted));
    assert_eq!(w.reason(READY), Some(Reason::Succeeded));
    assert!(w.cond(STALLED).is_none());
}

#[test]
fn a_key_never_accepted_is_rejected_not_revoked_and_wrong_region_is_named() {
    let mut w = World::new();
    w.check(KeyCheck::Rejected { accepted_by: None });
    assert_eq!(w.reason(KEY_VALID), Some(Reason::KeyRejected));

    let mut w = World::new();
    w.check(KeyCheck::Rejected {
        accepted_by: Some(Region::Eu),
    });
    let key = w.cond(KEY_VALID).unwrap();
    assert_eq!(key.reason, Reason::WrongRegion);
    assert!(
        key.message.contains("Set spec.region to eu"),
        "{}",
        key.message
    );
}

#[test]
fn expired_and_expiring_keys() {
    let expiry = at(10 * 24 * 3600);
    let mut w = World::new();
    w.check(identity(READ_ONLY_ROLE, Some(expiry)));
    w.finish(&Plan::CheckKey);
    // Within the default 14-day window.
    let key = w.cond(KEY_VALID).unwrap();
    assert_eq!(
        (key.status.as_str(), key.reason.as_str()),
        ("True", Reason::ExpiresSoon.as_str())
    );

    let mut w = World::new();
    w.check(identity(READ_ONLY_ROLE, Some(at(30 * 24 * 3600))));
    w.sync(success(), SyncTrigger::First);
    w.finish(&Plan::CheckKey);
    assert_eq!(w.reason(KEY_VALID), Some(Reason::Accepted));
    // Time passes into the window: finish() flips the reason without a request.
    w.now = at(20 * 24 * 3600);
    w.finish(&Plan::CheckKey);
    assert_eq!(w.reason(KEY_VALID), Some(Reason::ExpiresSoon));
    // The key is checked as soon as it expires, not at the next interval.
    w.status.last_key_check_time = Some(Time(at(30 * 24 * 3600 - 10)));
    w.status.last_successful_sync_time = Some(Time(at(30 * 24 * 3600 - 60)));
    w.status.last_sync_time = w.status.last_successful_sync_time.clone();
    w.now = at(30 * 24 * 3600 + 1);
    assert_eq!(w.plan(), Plan::CheckKey);
    // After expiry JumpCloud rejects it: KeyExpired rather than KeyRevoked.
    w.check(KeyCheck::Rejected { accepted_by: None });
    assert_eq!(w.reason(KEY_VALID), Some(Reason::KeyExpired));
}

#[test]
fn least_privilege_names_a_broader_role() {
    let mut w = World::new();
    w.check(identity("Administrator", None));
    let lp = w.cond(LEAST_PRIVILEGE).unwrap();
    assert_eq!(
        (lp.status.as_str(), lp.reason.as_str()),
        ("False", Reason::PrivilegedRole.as_str())
    );
    assert!(lp.message.contains("\"Administrator\""));
    let mut w = World::new();
    w.check(KeyCheck::Accepted {
        identity: Some(KeyIdentity {
            organization: OrganizationStatus {
                id: "x".into(),
                name: "y".into(),
            },
            administrator: None,
            role: None,
            expires_at: None,
        }),
    });
    assert_eq!(w.cond(LEAST_PRIVILEGE).unwrap().status, "Unknown");
}

#[test]
fn multi_tenant_problems_are_fixed_by_a_spec_change() {
    let mut w = World::new();
    w.check(KeyCheck::OrgIdRequired { organizations: 2 });
    assert_eq!(w.reason(KEY_VALID), Some(Reason::OrgIdRequired));
    assert!(w.cond(KEY_VALID).unwrap().message.contains("spec.orgId"));
    w.finish(&Plan::Identify {
        then_sync: None,
        probe_regions: true,
    });
    assert!(matches!(w.plan(), Plan::Blocked { .. }));
    w.generation = 2;
    assert!(matches!(w.plan(), Plan::Identify { .. }));
}

#[test]
fn transient_sync_failure_keeps_counts_retries_with_backoff_and_recovers() {
    let mut w = healthy();
    w.now = at(6 * 3600);
    w.sync(
        SyncResult::Failed {
            reason: Reason::RateLimited,
            message: "/api/systems: rate limited (HTTP 429)".into(),
            transient: true,
        },
        SyncTrigger::Interval,
    );
    w.retry_not_before = Some(at(6 * 3600 + 10));
    let plan = w.plan();
    w.finish(&plan);
    assert_eq!(w.reason(KEY_VALID), Some(Reason::Accepted));
    assert_eq!(w.reason(SYNCED), Some(Reason::RateLimited));
    assert!(
        w.cond(SYNCED)
            .unwrap()
            .message
            .contains("last good snapshot")
    );
    assert_eq!(w.reason(RECONCILING), Some(Reason::ProgressingWithRetry));
    assert!(w.cond(STALLED).is_none());
    assert_eq!(w.status.evidence.as_ref().unwrap().devices, Some(55));
    assert!(matches!(plan, Plan::Wait { until } if until == at(6 * 3600 + 10)));
    w.now = at(6 * 3600 + 10);
    assert_eq!(
        w.plan(),
        Plan::Sync {
            trigger: SyncTrigger::Interval
        }
    );
    w.sync(success(), SyncTrigger::Retry);
    w.retry_not_before = None;
    w.finish(&Plan::Sync {
        trigger: SyncTrigger::Retry,
    });
    assert_eq!(w.reason(READY), Some(Reason::Succeeded));
    assert!(w.cond(RECONCILING).is_none());
}

#[test]
fn every_false_condition_says_what_to_do() {
    let mut worlds = Vec::new();
    for check in [
        KeyCheck::Rejected { accepted_by: None },
        KeyCheck::OrgIdRequired { organizations: 3 },
        KeyCheck::OrgNotAccessible {
            org_id: "abc".into(),
        },
        identity("Administrator", None),
    ] {
        let mut w = World::new();
        w.check(check);
        w.finish(&Plan::CheckKey);
        worlds.push(w);
    }
    for secret in [
        SecretRead::NotFound,
        SecretRead::KeyMissing { available: vec![] },
        SecretRead::Empty,
        SecretRead::Malformed,
    ] {
        let mut w = World::new();
        w.secret = secret;
        let mut status = w.status.clone();
        apply_secret_problem(&mut status, &w.secret, &w.subject());
        w.status = status;
        w.finish(&Plan::SecretProblem);
        worlds.push(w);
    }
    let mut w = healthy();
    w.sync(
        SyncResult::Failed {
            reason: Reason::ForbiddenEndpoint,
            message: "forbidden".into(),
            transient: false,
        },
        SyncTrigger::Interval,
    );
    w.finish(&Plan::CheckKey);
    worlds.push(w);
    let verbs = [
        "Set ",
        "Put ",
        "Create ",
        "Correct ",
        "Check ",
        "Fix ",
        "Generate ",
    ];
    for w in worlds {
        for c in &w.status.conditions {
            if c.status == "False" {
                assert!(
                    verbs.iter().any(|v| c.message.contains(v)),
                    "{}={} {}: {}",
                    c.type_,
                    c.status,
                    c.reason,
                    c.message
                );
            }
        }
    }
}

#[test]
fn events_on_transitions_only() {
    let mut w = healthy();
    let first = events(&[], &w.status.conditions);
    assert!(first.iter().all(|e| e.kind == EventKind::Normal));
    let before = w.status.conditions.clone();
    w.now = at(300);
    w.check(KeyCheck::Accepted { identity: None });
    w.finish(&Plan::CheckKey);
    assert!(events(&before, &w.status.conditions).is_empty());

    let before = w.status.conditions.clone();
    w.check(KeyCheck::Rejected { accepted_by: None });
    w.finish(&Plan::CheckKey);
    let revoked = events(&before, &w.status.conditions);
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].kind, EventKind::Warning);
    assert_eq!(revoked[0].reason, Reason::KeyRevoked);

    let before = w.status.conditions.clone();
    w.now = at(5000);
    w.check(KeyCheck::Rejected { accepted_by: None });
    w.finish(&Plan::CheckKey);
    assert!(events(&before, &w.status.conditions).is_empty());

    let before = w.status.conditions.clone();
    w.secret = present(OTHER_FP, "2");
    w.check(identity(READ_ONLY_ROLE, None));
    w.finish(&Plan::CheckKey);
    let recovered = events(&before, &w.status.conditions);
    assert_eq!(recovered.len(), 1);
    assert_eq!(
        (recovered[0].kind, recovered[0].reason.as_str()),
        (EventKind::Normal, Reason::Accepted.as_str())
    );
}

#[test]
fn unchanged_inputs_produce_an_identical_status() {
    let mut w = healthy();
    w.now = at(30);
    let before = w.status.clone();
    let plan = w.plan();
    w.finish(&plan);
    assert_eq!(before, w.status);
}

#[test]
fn backoff_grows_caps_jitters_and_honours_retry_after() {
    assert_eq!(backoff_delay(1, None, 0.5), Duration::from_secs(5));
    assert_eq!(backoff_delay(2, None, 0.5), Duration::from_secs(10));
    assert_eq!(backoff_delay(30, None, 0.5), BACKOFF_MAX);
    assert_eq!(backoff_delay(1, None, 0.0), Duration::from_millis(4500));
    assert_eq!(backoff_delay(1, None, 1.0), Duration::from_millis(5500));
    assert_eq!(
        backoff_delay(1, Some(Duration::from_secs(42)), 0.5),
        Duration::from_secs(42)
    );
    assert_eq!(
        backoff_delay(1, Some(Duration::from_secs(86_400)), 0.5),
        RETRY_AFTER_MAX
    );
    let r = requeue_after(at(0), at(100), 0.5);
    assert_eq!(r, Duration::from_secs(105));
    assert!(requeue_after(at(0), at(100), 0.0) >= Duration::from_secs(100));
    assert_eq!(requeue_after(at(100), at(0), 0.3), Duration::from_secs(1));
}

#[test]
fn shared_keys_are_found_across_connections() {
    let peers = shared_key_peers(
        "a/one",
        FP,
        [
            ("a/one".to_owned(), Some(FP)),
            ("b/two".to_owned(), Some(FP)),
            ("c/three".to_owned(), Some(OTHER_FP)),
            ("d/four".to_owned(), None),
        ],
    );
    assert_eq!(peers, ["b/two"]);
}

#[test]
fn a_failure_in_the_same_second_as_the_last_success_is_still_retried() {
    let mut w = healthy();
    // The requested sync starts and fails within the second of the previous success.
    w.sync(
        SyncResult::Failed {
            reason: Reason::RateLimited,
            message: "429".into(),
            transient: true,
        },
        SyncTrigger::Requested("x".into()),
    );
    w.request = Some("x".into());
    w.retry_not_before = Some(at(5));
    assert!(matches!(w.plan(), Plan::Wait { until } if until == at(5)));
    w.now = at(5);
    assert_eq!(
        w.plan(),
        Plan::Sync {
            trigger: SyncTrigger::Retry
        }
    );
}

#[test]
fn a_sync_records_the_control_summary_and_a_failed_sync_keeps_it() {
    use crate::controls::{ControlStatus, ResultsSummary};
    use control_status::{ControlBrief, ControlsEvaluation};
    let mut w = healthy();
    w.status.controls = None;
    let evaluation = ControlsEvaluation {
        summary: ResultsSummary {
            passing: 1,
            failing: 1,
            failing_ids: vec!["JC-E1-DISK-ENCRYPTION".into()],
            ..Default::default()
        },
        evaluated_at: at(10),
        controls: vec![
            ControlBrief {
                id: "JC-E1-DISK-ENCRYPTION".into(),
                title: "Full-disk encryption".into(),
                status: ControlStatus::Fail,
                failing: 2,
            },
            ControlBrief {
                id: "JC-I1-MFA".into(),
                title: "MFA".into(),
                status: ControlStatus::Pass,
                failing: 0,
            },
        ],
        report_error: None,
    };
    w.now = at(20);
    let mut status = w.status.clone();
    let events = apply_sync(
        &mut status,
        &SyncResult::Succeeded {
            counts: counts(),
            snapshot: snapshot(),
            controls: Box::new(evaluation),
            retention_problem: None,
        },
        &SyncTrigger::Interval,
        &w.subject(),
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, control_status::CONTROL_FAILING);
    let summary = status.controls.clone().unwrap();
    assert_eq!(summary.failing, 1);
    assert_eq!(summary.failing_ids, ["JC-E1-DISK-ENCRYPTION"]);
    assert_eq!(summary.evaluated_at, Some(Time(at(10))));
    w.status = status;

    let mut status = w.status.clone();
    let events = apply_sync(
        &mut status,
        &SyncResult::Failed {
            reason: Reason::RateLimited,
            message: "rate limited".into(),
            transient: true,
        },
        &SyncTrigger::Interval,
        &w.subject(),
    );
    assert!(events.is_empty());
    assert_eq!(status.controls, Some(summary.clone()));

    // Retention that could not remove everything (a WORM bucket) warns; the sync succeeded.
    let events = apply_sync(
        &mut status,
        &SyncResult::Succeeded {
            counts: counts(),
            snapshot: snapshot(),
            controls: Box::new(control_status::ControlsEvaluation::of(&[], at(10))),
            retention_problem: Some("snapshots/old.json: AccessDenied".into()),
        },
        &SyncTrigger::Interval,
        &w.subject(),
    );
    let retention: Vec<_> = events
        .iter()
        .filter(|e| e.reason == RETENTION_INCOMPLETE)
        .collect();
    assert_eq!(retention.len(), 1);
    assert_eq!(retention[0].kind, EventKind::Warning);
    assert!(retention[0].note.contains("AccessDenied"));
    assert_eq!(status.evidence.unwrap().snapshot, Some(snapshot()));
}

#[test]
fn multi_tenant_rechecks_ask_the_organizations_again_and_nothing_flaps_while_unchanged() {
    for check in [
        KeyCheck::OrgIdRequired { organizations: 2 },
        KeyCheck::OrgNotAccessible {
            org_id: "5f0c1b2a3d4e5f6a7b8c9d0e".into(),
        },
    ] {
        let mut w = World::new();
        let plan = w.plan();
        w.check(check.clone());
        w.finish(&plan);
        let before = w.status.clone();
        assert!(matches!(w.plan(), Plan::Blocked { until } if until == at(3600)));
        // An hour later: the identification's organization step again, not the cheap request,
        // which sends no x-org-id and so would be accepted (the hourly flap).
        w.now = at(3600);
        let plan = w.plan();
        assert_eq!(plan, Plan::Recheck(KeyRequest::Organizations));
        w.check(check);
        w.finish(&plan);
        assert!(events(&before.conditions, &w.status.conditions).is_empty());
        for type_ in [KEY_VALID, READY, STALLED] {
            assert_eq!(
                conditions::find(&before.conditions, type_),
                w.cond(type_),
                "{type_} changed"
            );
        }
        assert!(matches!(w.plan(), Plan::Blocked { until } if until == at(7200)));
    }
}

#[test]
fn never_accepted_keys_probe_other_regions_once_then_recheck_with_one_request() {
    let mut w = World::new();
    assert!(matches!(
        w.plan(),
        Plan::Identify {
            probe_regions: true,
            ..
        }
    ));
    // The first rejection probed the other regions: the EU host accepts the key.
    w.check(KeyCheck::Rejected {
        accepted_by: Some(Region::Eu),
    });
    let plan = w.plan();
    w.finish(&plan);
    let before = w.status.clone();
    assert_eq!(w.reason(KEY_VALID), Some(Reason::WrongRegion));
    // The hourly re-check is one cheap request to the configured region, no probe.
    w.now = at(3600);
    let plan = w.plan();
    assert_eq!(plan, Plan::Recheck(KeyRequest::Cheap));
    // Rejected again (no region asked): the WrongRegion verdict and its message stay.
    w.check(KeyCheck::Rejected { accepted_by: None });
    w.finish(&plan);
    assert_eq!(
        conditions::find(&before.conditions, KEY_VALID),
        w.cond(KEY_VALID)
    );
    assert!(events(&before.conditions, &w.status.conditions).is_empty());
    assert_eq!(
        w.status.api_key.as_ref().unwrap().last_rejected_time,
        Some(Time(at(3600)))
    );
    // The same key in a re-applied Secret is not probed again either...
    w.secret = present(FP, "2");
    assert!(matches!(
        w.plan(),
        Plan::Identify {
            probe_regions: false,
            ..
        }
    ));
    // ...but a spec change (e.g. spec.region) asks again.
    w.generation = 2;
    assert!(matches!(
        w.plan(),
        Plan::Identify {
            probe_regions: true,
            ..
        }
    ));

    // A re-check that could not tell (JumpCloud unavailable) waits for its backoff.
    let mut unsure = w.clone();
    unsure.secret = present(FP, "1");
    unsure.generation = 1;
    unsure.now = at(7200);
    assert_eq!(unsure.plan(), Plan::Recheck(KeyRequest::Cheap));
    unsure.retry_not_before = Some(at(10800));
    assert_eq!(unsure.plan(), Plan::Blocked { until: at(10800) });

    // KeyRejected: the same one request an hour, the reason kept.
    let mut w = World::new();
    w.check(KeyCheck::Rejected { accepted_by: None });
    w.finish(&Plan::CheckKey);
    w.now = at(3600);
    assert_eq!(w.plan(), Plan::Recheck(KeyRequest::Cheap));
    w.check(KeyCheck::Rejected { accepted_by: None });
    assert_eq!(w.reason(KEY_VALID), Some(Reason::KeyRejected));
    // An accepted key is never probed.
    let w = healthy();
    assert!(!first_rejection_possible(&w.status, FP, Some(1)));
}

#[test]
fn key_checks_happen_within_one_interval_whatever_the_jitter() {
    for (interval, seconds) in [("30s", 30), ("5m", 300), ("1h", 3600), ("24h", 86400)] {
        for unit in [0.0, 0.25, 0.5, 0.999_999] {
            let mut w = healthy();
            w.spec.key_check_interval = interval.into();
            w.spec.interval = "168h".into();
            w.check(KeyCheck::Accepted { identity: None });
            let checked = w.now;
            let Plan::Wait { until } = w.plan() else {
                panic!("nothing due right after a check");
            };
            let delay = requeue_after(w.now, until, unit);
            assert!(
                delay <= Duration::from_secs(seconds),
                "{interval} unit {unit}: {delay:?}"
            );
            w.now = checked + SignedDuration::try_from(delay).unwrap();
            assert_eq!(w.plan(), Plan::CheckKey, "{interval} unit {unit}");
        }
    }
}

#[test]
fn a_rejection_kept_in_memory_survives_a_failed_status_write() {
    let stale = healthy();
    let mut w = healthy();
    w.now = at(300);
    w.check(KeyCheck::Rejected { accepted_by: None });
    let plan = w.plan();
    w.finish(&plan);
    let memory = rejection_of(&w.status).expect("a rejection");
    assert!(rejection_of(&stale.status).is_none());

    // The write failed: the next reconcile sees the old status (key accepted, check due).
    let mut r = healthy();
    r.now = at(310);
    assert_eq!(r.plan(), Plan::CheckKey);
    let mut status = r.status.clone();
    assert!(restore_rejection(
        &mut status,
        &memory,
        &r.secret,
        Some(r.generation)
    ));
    r.status = status;
    assert_eq!(r.plan(), Plan::Blocked { until: at(3900) });
    assert_eq!(r.reason(KEY_VALID), Some(Reason::KeyRevoked));
    // Written since: nothing to restore.
    let mut written = w.status.clone();
    assert!(!restore_rejection(
        &mut written,
        &memory,
        &w.secret,
        Some(w.generation)
    ));
    assert_eq!(written, w.status);
    // The user changed the Secret or the spec: the memory does not apply.
    let mut status = stale.status.clone();
    assert!(!restore_rejection(
        &mut status,
        &memory,
        &present(FP, "2"),
        Some(1)
    ));
    assert!(!restore_rejection(
        &mut status,
        &memory,
        &stale.secret,
        Some(2)
    ));
}

#[test]
fn a_sync_in_progress_shows_reconciling_and_a_ready_condition() {
    // First sync: Ready Unknown.
    let mut w = World::new();
    let plan = w.plan();
    w.check(identity(READ_ONLY_ROLE, None));
    let mut status = w.status.clone();
    syncing(&mut status, &plan, &SyncTrigger::First, None, &w.subject());
    let ready = conditions::find(&status.conditions, READY).unwrap();
    assert_eq!(ready.status, "Unknown");
    let reconciling = conditions::find(&status.conditions, RECONCILING).unwrap();
    assert_eq!(
        (reconciling.status.as_str(), reconciling.reason.as_str()),
        ("True", Reason::Syncing.as_str())
    );
    assert!(reconciling.message.contains("sync in progress"));

    // Later syncs: Ready unchanged.
    let mut w = healthy();
    w.now = at(6 * 3600);
    let plan = w.plan();
    let mut status = w.status.clone();
    syncing(
        &mut status,
        &plan,
        &SyncTrigger::Interval,
        None,
        &w.subject(),
    );
    assert_eq!(conditions::find(&status.conditions, READY), w.cond(READY));
    assert_eq!(
        conditions::find(&status.conditions, RECONCILING).map(|c| c.reason.as_str()),
        Some(Reason::Syncing.as_str())
    );
    // Done: Reconciling is removed again.
    w.sync(success(), SyncTrigger::Interval);
    w.finish(&plan);
    assert!(w.cond(RECONCILING).is_none());
}
