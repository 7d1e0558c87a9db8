//! The plan and the summary conditions: suspend, first steps, messages, events, stability.

use super::*;

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
        SecretRead::KeyMissing {
            key: "api-key".into(),
            available: vec![],
        },
        SecretRead::Empty {
            key: "api-key".into(),
        },
        SecretRead::Malformed {
            key: "api-key".into(),
        },
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

/// A key check that changed no condition is routine (logged at debug); one that found the key
/// revoked, a sync or an identification is not.
#[test]
fn only_waits_and_unchanged_key_checks_are_routine() {
    let w = healthy();
    let conditions = w.status.conditions.clone();
    assert!(crate::decide::is_routine(
        &Plan::CheckKey,
        &conditions,
        &conditions
    ));
    assert!(crate::decide::is_routine(
        &Plan::Wait { until: at(1) },
        &conditions,
        &conditions
    ));
    let sync = Plan::Sync {
        trigger: SyncTrigger::Interval,
    };
    assert!(!crate::decide::is_routine(&sync, &conditions, &conditions));
    let mut revoked = w.clone();
    revoked.check(KeyCheck::Rejected { accepted_by: None });
    assert!(!crate::decide::is_routine(
        &Plan::CheckKey,
        &conditions,
        &revoked.status.conditions
    ));
}
