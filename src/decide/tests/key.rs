//! Identifying, checking and re-checking the key: rejections, expiry, regions, tenants.

use super::*;

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
            client_id: None,
            name: None,
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
        w.status.credential.as_ref().unwrap().last_rejected_time,
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
