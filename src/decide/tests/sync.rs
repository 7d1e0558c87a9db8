//! Syncs: when they are due, what they record, failures and backoff.

use super::*;

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

/// With its uid known, a connection's periodic sync is due on its own slot in the interval
/// (here earlier than six hours after the first), and status says when.
#[test]
fn a_periodic_sync_is_due_on_the_connections_slot() {
    let mut w = World::new();
    w.uid = Some("3f9c2d4e-uid".into());
    w.check(identity(READ_ONLY_ROLE, None));
    w.sync(success(), SyncTrigger::First);
    w.finish(&Plan::Sync {
        trigger: SyncTrigger::First,
    });
    let slot = crate::decide::spread::spread_sync_time(
        at(0),
        std::time::Duration::from_secs(6 * 3600),
        crate::decide::spread::phase("3f9c2d4e-uid"),
    );
    assert!(slot < at(6 * 3600));
    assert_eq!(w.status.next_sync_time.as_ref().map(|t| t.0), Some(slot));
    w.now = slot - jiff::SignedDuration::from_secs(1);
    w.check(KeyCheck::Accepted { identity: None });
    assert_eq!(w.plan(), Plan::Wait { until: slot });
    w.now = slot;
    w.check(KeyCheck::Accepted { identity: None });
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
    assert_eq!(events[0].reason, control_status::CONTROLS_CHANGED);
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

#[test]
fn controls_the_schema_would_refuse_stop_the_sync_with_the_field_named() {
    let mut w = World::new();
    w.spec.controls = Some(
        serde_json::from_value(serde_json::json!({"osBaselines": {"darwin": "latest"}})).unwrap(),
    );
    let Plan::InvalidSpec(message) = w.plan() else {
        panic!("planned {:?}", w.plan());
    };
    assert!(
        message.starts_with("spec.controls.osBaselines.darwin: \"latest\" is not a version"),
        "{message}"
    );
    w.spec.controls = Some(
        serde_json::from_value(serde_json::json!({"disabledControls": ["JC-E99-NOPE"]})).unwrap(),
    );
    assert!(matches!(w.plan(), Plan::InvalidSpec(m) if m.contains("JC-E99-NOPE")));
    w.spec.controls = Some(
        serde_json::from_value(
            serde_json::json!({"osBaselines": {"darwin": "15.0", "debian": null}}),
        )
        .unwrap(),
    );
    assert!(!matches!(w.plan(), Plan::InvalidSpec(_)));
}
