//! Reading the Secret: problems, and a read the API did not answer.

use super::*;

#[test]
fn secret_problems_stall_without_calls_and_list_key_names_only() {
    let mut w = World::new();
    w.secret = SecretRead::KeyMissing {
        key: "api-key".into(),
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
        (
            SecretRead::Empty {
                key: "api-key".into(),
            },
            Reason::KeyEmpty,
        ),
        (
            SecretRead::Malformed {
                key: "api-key".into(),
            },
            Reason::KeyMalformed,
        ),
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
