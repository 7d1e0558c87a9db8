//! The operator end to end: the real binary, the Kubernetes API test server, the simulator.

mod operator_support;

use std::time::{Duration, Instant};

use jumpcloud_operator::region::Region;
use kube::ResourceExt;
use operator_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_reaches_ready_with_evidence_and_readable_kubectl_output() {
    use jumpcloud_simulator::control::{Fault, FaultKind};
    let env = Env::start(&[Region::Us]).await;
    let key = env.read_only_key(Region::Us);
    env.secret("compliance", "jc", &[("api-key", &key)]).await;
    // The first sync is slow (the device listing answers after 3 s): meanwhile the status says
    // a sync is running, and Ready is there (Unknown).
    env.control(Region::Us)
        .inject(Fault::new(FaultKind::Delay { delay_ms: 3000 }).on_path("/api/systems"))
        .await
        .unwrap();
    env.connection(
        "compliance",
        "acme",
        json!({
            "displayName": "Acme production",
            "apiKeySecretRef": {"name": "jc"},
        }),
    )
    .await;
    let c = env
        .wait_for(
            "compliance",
            "acme",
            DEFAULT_WAIT,
            "Reconciling=True (Syncing) while the first sync runs",
            |c| {
                condition(c, "Reconciling")
                    .is_some_and(|r| r.status == "True" && r.reason == "Syncing")
            },
        )
        .await;
    let ready = condition(&c, "Ready").expect("Ready is present during the sync");
    assert_eq!(ready.status, "Unknown");
    assert!(
        condition(&c, "Reconciling")
            .unwrap()
            .message
            .contains("sync in progress")
    );
    let c = env
        .wait_for("compliance", "acme", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let status = c.status.clone().unwrap();
    assert_eq!(condition(&c, "KeyValid").unwrap().reason, "Accepted");
    assert_eq!(condition(&c, "LeastPrivilege").unwrap().status, "True");
    assert_eq!(condition(&c, "Synced").unwrap().reason, "Succeeded");
    assert!(condition(&c, "Reconciling").is_none() && condition(&c, "Stalled").is_none());
    assert_eq!(status.observed_generation, c.metadata.generation);
    let evidence = status.evidence.unwrap();
    assert_eq!(evidence.devices, Some(55));
    assert_eq!(evidence.users, Some(60));
    let snapshot = env.latest_snapshot("compliance", "acme").await.unwrap();
    assert_eq!(snapshot.kind("devices").unwrap().records, 55);
    let stored = evidence.snapshot.clone().unwrap();
    assert_eq!(stored.id, snapshot.id.to_string());
    assert_eq!(stored.digest, format!("sha256:{}", snapshot.sha256));
    assert_eq!(stored.sequence, snapshot.manifest.sequence);
    assert!(!stored.signed);
    let fingerprint = status.credential.unwrap().fingerprint;
    assert_eq!(fingerprint.len(), 12);

    let out = env.kubectl(&["get", "jcc", "-n", "compliance"], None).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{table}");
    for header in [
        "NAME",
        "DISPLAY NAME",
        "ORG",
        "READY",
        "KEY",
        "PRIVILEGE",
        "DEVICES",
        "ERRORS",
        "USERS",
        "LAST SYNC",
        "AGE",
    ] {
        assert!(table.contains(header), "{header} missing:\n{table}");
    }
    assert!(
        table.contains("Acme production")
            && table.contains("Accepted")
            && table.contains("ReadOnly")
            && table.contains("55")
    );
    let out = env
        .kubectl(&["describe", "jcc", "acme", "-n", "compliance"], None)
        .await;
    let describe = String::from_utf8_lossy(&out.stdout);
    println!("{describe}");
    assert!(out.status.success());
    assert!(describe.contains("KeyValid") && describe.contains(&fingerprint));
    // Status counts in one style: camelCase keys, which describe prints as words.
    assert!(
        describe.contains("Application Users") && !describe.contains("application_users"),
        "{describe}"
    );
    // The wide view names the snapshot, which `report --snapshot` and `diff` take.
    let out = env
        .kubectl(&["get", "jcc", "-n", "compliance", "-o", "wide"], None)
        .await;
    let wide = String::from_utf8_lossy(&out.stdout);
    assert!(
        wide.contains("SNAPSHOT") && wide.contains(snapshot.id.as_str()),
        "{wide}"
    );
    // Also reachable through the categories.
    let out = env.kubectl(&["get", "compliance", "-A"], None).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme"));

    // No hot loop: a reconcile with nothing due writes no status and calls nobody. The operator
    // has settled once the watch event of its own last status write was seen: skipped as its
    // echo, or reconciled to a wait when the echo came with another change.
    env.operator()
        .wait_for_any_log(
            &["own status write; nothing changed", "\"action\":\"Wait\""],
            DEFAULT_WAIT,
        )
        .await;
    let status_writes = || {
        env.kube
            .requests()
            .iter()
            .filter(|r| r.subresource.as_deref() == Some("status") && r.verb == "patch")
            .count()
    };
    let writes = status_writes();
    let calls = env.requests_with_key(&key).await;
    let reconciles = env.operator().log().matches("\"reconciled\"").count();
    env.patch_connection(
        "compliance",
        "acme",
        json!({"metadata": {"annotations": {"example.com/unrelated": "x"}}}),
    )
    .await;
    env.operator()
        .wait_for_log_count("\"reconciled\"", reconciles + 1, DEFAULT_WAIT)
        .await;
    assert_eq!(status_writes(), writes);
    assert_eq!(env.requests_with_key(&key).await, calls);
    // Status goes through server-side apply on /status with our field manager only.
    for request in env.kube.requests() {
        if request.resource == "jumpcloudconnections"
            && request.verb == "patch"
            && request.field_manager.as_deref() == Some("jumpcloud-operator")
        {
            assert_eq!(request.subresource.as_deref(), Some("status"));
            assert_eq!(
                request.content_type.as_deref(),
                Some("application/apply-patch+yaml")
            );
        }
    }
    // Secrets are watched as metadata only.
    assert!(env.kube.requests().iter().any(|r| {
        r.resource == "secrets"
            && r.verb == "watch"
            && r.accept
                .as_deref()
                .is_some_and(|a| a.contains("PartialObjectMetadata"))
    }));
    assert!(!env.kube.requests().iter().any(|r| {
        r.resource == "secrets"
            && (r.verb == "watch" || r.verb == "list")
            && !r
                .accept
                .as_deref()
                .is_some_and(|a| a.contains("PartialObjectMetadata"))
    }));

    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_key_stalls_stops_calls_and_recovers_within_seconds_of_the_secret_update() {
    let env = Env::start(&[Region::Us]).await;
    let admin = env.admin(Region::Us, "Read Only");
    let old_key = env.read_only_key(Region::Us);
    env.secret("team", "jc", &[("api-key", &old_key)]).await;
    env.connection("team", "prod", spec("jc")).await;
    env.wait_for("team", "prod", DEFAULT_WAIT, "Ready", is_ready)
        .await;

    // The status write of the detection fails once (HTTP 500): the operator must not try the
    // dead key again on the Kubernetes-error backoff; it keeps the rejection in memory.
    env.kube.faults().fail_next(
        1,
        Some("patch"),
        Some("jumpcloudconnections"),
        Some("status"),
        500,
    );
    // A new key for the same administrator silently revokes the old one.
    let new_key = env
        .control(Region::Us)
        .issue_key(&admin.id, None)
        .await
        .expect("new key issued");
    let new_key = secrecy::ExposeSecret::expose_secret(&new_key).to_owned();
    env.keys.lock().unwrap().push(new_key.clone());
    // Detected by the next key check (keyCheckInterval 30s) with one request.
    let c = env
        .wait_condition(
            "team",
            "prod",
            "KeyValid",
            "False",
            "KeyRevoked",
            Duration::from_secs(75),
        )
        .await;
    let message = &condition(&c, "KeyValid").unwrap().message;
    assert!(
        message.contains("new API key was probably generated"),
        "{message}"
    );
    assert!(message.contains(&admin.email), "{message}");
    assert_eq!(condition(&c, "Ready").unwrap().status, "False");
    assert_eq!(condition(&c, "Stalled").unwrap().reason, "KeyRevoked");
    let event = env
        .wait_event("team", "prod", "KeyRevoked", DEFAULT_WAIT)
        .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    // Every request with the old key after its revocation is answered 401, and nothing else in
    // this test is: exactly one request with the dead key led to KeyRevoked.
    let rejected = || async {
        env.control(Region::Us)
            .counters()
            .await
            .unwrap()
            .by_status
            .get("401")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(rejected().await, 1, "requests with the revoked key");
    assert!(
        env.kube
            .requests()
            .iter()
            .any(|r| r.resource == "jumpcloudconnections"
                && r.subresource.as_deref() == Some("status")
                && r.status == 500),
        "the injected status-write failure was not hit"
    );

    // Calls with the dead key stop, even when a sync is requested.
    let calls_at_detection = env.requests_with_key(&old_key).await;
    let blocked = "\"plan\":\"Blocked\"";
    let blocked_before = env.operator().log().matches(blocked).count();
    env.patch_connection(
        "team",
        "prod",
        json!({"metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": "now"}}}),
    )
    .await;
    env.operator()
        .wait_for_log_count(blocked, blocked_before + 1, DEFAULT_WAIT)
        .await;
    assert_eq!(env.requests_with_key(&old_key).await, calls_at_detection);
    assert_eq!(rejected().await, 1, "requests with the revoked key");

    // The user puts the new key in the Secret: Ready again within seconds.
    let started = Instant::now();
    env.secret("team", "jc", &[("api-key", &new_key)]).await;
    let c = env
        .wait_for(
            "team",
            "prod",
            Duration::from_secs(10),
            "Ready with the new key",
            |c| is_ready(c) && condition(c, "KeyValid").is_some_and(|k| k.reason == "Accepted"),
        )
        .await;
    let latency = started.elapsed();
    println!(
        "BENCH secret-update-to-ready: {:.0} ms",
        latency.as_secs_f64() * 1000.0
    );
    assert!(condition(&c, "Stalled").is_none());
    assert_eq!(env.requests_with_key(&old_key).await, calls_at_detection);
    // The Accepted Event names the key accepted now, not the first one (an Event's series
    // keeps its first note: a new note is a new Event).
    let new_fingerprint = c
        .status
        .as_ref()
        .unwrap()
        .credential
        .as_ref()
        .unwrap()
        .fingerprint
        .clone();
    let accepted = env
        .wait_events("team", "prod", "Accepted", 2, DEFAULT_WAIT)
        .await;
    assert!(
        accepted.iter().any(|e| e
            .note
            .as_deref()
            .is_some_and(|n| n.contains(&new_fingerprint))),
        "{:?}",
        accepted.iter().map(|e| e.note.clone()).collect::<Vec<_>>()
    );
    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_problems_are_named_and_clear_when_the_secret_is_fixed() {
    let env = Env::start(&[Region::Us]).await;
    let key = env.read_only_key(Region::Us);

    // Missing, then created.
    env.connection("a", "missing", spec("later")).await;
    let c = env
        .wait_condition(
            "a",
            "missing",
            "KeyValid",
            "False",
            "SecretNotFound",
            DEFAULT_WAIT,
        )
        .await;
    assert_eq!(condition(&c, "Stalled").unwrap().reason, "SecretNotFound");
    assert!(
        condition(&c, "Ready")
            .unwrap()
            .message
            .contains("kubectl create secret")
    );
    env.wait_event("a", "missing", "SecretNotFound", DEFAULT_WAIT)
        .await;
    env.secret("a", "later", &[("api-key", &key)]).await;
    env.wait_for(
        "a",
        "missing",
        DEFAULT_WAIT,
        "Ready after the Secret appears",
        is_ready,
    )
    .await;

    // The key is under another name: list the names, never the values.
    env.secret(
        "b",
        "jc",
        &[("apikey", &key), ("note", "not-the-key-value")],
    )
    .await;
    env.connection("b", "wrongkey", spec("jc")).await;
    let c = env
        .wait_condition(
            "b",
            "wrongkey",
            "KeyValid",
            "False",
            "SecretKeyMissing",
            DEFAULT_WAIT,
        )
        .await;
    let message = &condition(&c, "KeyValid").unwrap().message;
    assert!(message.contains("apikey, note"), "{message}");
    assert!(!message.contains("not-the-key-value"));
    env.patch_connection(
        "b",
        "wrongkey",
        json!({"spec": {"apiKeySecretRef": {"key": "apikey"}}}),
    )
    .await;
    env.wait_for(
        "b",
        "wrongkey",
        DEFAULT_WAIT,
        "Ready with the right key name",
        is_ready,
    )
    .await;

    // `echo KEY > file`: the trailing newline is trimmed.
    env.secret("c", "jc", &[("api-key", &format!("{key}\n"))])
        .await;
    env.connection("c", "newline", spec("jc")).await;
    env.wait_for(
        "c",
        "newline",
        DEFAULT_WAIT,
        "Ready despite the newline",
        is_ready,
    )
    .await;

    // An empty value.
    env.secret("d", "jc", &[("api-key", "  \n")]).await;
    env.connection("d", "empty", spec("jc")).await;
    env.wait_condition("d", "empty", "KeyValid", "False", "KeyEmpty", DEFAULT_WAIT)
        .await;

    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_read_error_is_judged_by_its_code_and_never_leaves_ready_true() {
    let env = Env::start(&[Region::Us]).await;
    let key = env.read_only_key(Region::Us);
    env.secret("team", "jc", &[("api-key", &key)]).await;
    env.connection("team", "prod", spec("jc")).await;
    env.wait_for("team", "prod", DEFAULT_WAIT, "Ready", is_ready)
        .await;

    // A Secret that is gone, from an API server that words the 404's reason differently: the
    // code says NotFound.
    let faults = env.kube.faults();
    faults.fail_next_with_reason(usize::MAX, Some("get"), Some("secrets"), None, 404, "Gone");
    env.delete_secret("team", "jc").await;
    let c = env
        .wait_condition(
            "team",
            "prod",
            "KeyValid",
            "False",
            "SecretNotFound",
            DEFAULT_WAIT,
        )
        .await;
    assert_eq!(condition(&c, "Ready").unwrap().status, "False");
    faults.clear();
    env.secret("team", "jc", &[("api-key", &key)]).await;
    env.wait_for("team", "prod", DEFAULT_WAIT, "Ready again", is_ready)
        .await;

    // The API server fails the read (500): nothing is known about the key, so nothing claims
    // it is valid; the operator retries on its own (Reconciling, not Stalled).
    faults.fail_next(usize::MAX, Some("get"), Some("secrets"), None, 500);
    env.patch_connection(
        "team",
        "prod",
        json!({"metadata": {"labels": {"touched": "yes"}}}),
    )
    .await;
    let c = env
        .wait_condition(
            "team",
            "prod",
            "KeyValid",
            "Unknown",
            "SecretUnreadable",
            DEFAULT_WAIT,
        )
        .await;
    let ready = condition(&c, "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("Unknown", "SecretUnreadable")
    );
    assert!(
        ready.message.contains("Secret team/jc"),
        "{}",
        ready.message
    );
    assert!(ready.message.contains("HTTP 500"), "{}", ready.message);
    assert_eq!(
        condition(&c, "Reconciling").unwrap().reason,
        "SecretUnreadable"
    );
    assert!(condition(&c, "Stalled").is_none());
    env.wait_event("team", "prod", "SecretUnreadable", DEFAULT_WAIT)
        .await;

    // Readable again: identified again, then Ready, on the backoff's retry.
    faults.clear();
    env.wait_for(
        "team",
        "prod",
        Duration::from_secs(60),
        "Ready after the read works again",
        is_ready,
    )
    .await;
    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_region_and_multi_tenant_keys_say_which_setting_to_change() {
    let env = Env::start(&[Region::Us, Region::Eu]).await;

    // An EU key configured for the US region.
    env.secret("eu", "jc", &[("api-key", &env.read_only_key(Region::Eu))])
        .await;
    env.connection("eu", "acme", spec("jc")).await;
    let c = env
        .wait_condition(
            "eu",
            "acme",
            "KeyValid",
            "False",
            "WrongRegion",
            DEFAULT_WAIT,
        )
        .await;
    let message = &condition(&c, "KeyValid").unwrap().message;
    assert!(message.contains("Set spec.region to eu"), "{message}");
    env.patch_connection("eu", "acme", json!({"spec": {"region": "eu"}}))
        .await;
    env.wait_for(
        "eu",
        "acme",
        DEFAULT_WAIT,
        "Ready in the EU region",
        is_ready,
    )
    .await;

    // A multi-tenant administrator without orgId.
    let admin = env.admin(Region::Us, "Read Only");
    let first_org = env.sim.org_id(Region::Us).unwrap();
    env.control(Region::Us)
        .add_org(std::slice::from_ref(&admin.id))
        .await
        .expect("second org");
    env.secret("msp", "jc", &[("api-key", &env.read_only_key(Region::Us))])
        .await;
    env.connection("msp", "customer", spec("jc")).await;
    let c = env
        .wait_condition(
            "msp",
            "customer",
            "KeyValid",
            "False",
            "OrgIdRequired",
            DEFAULT_WAIT,
        )
        .await;
    assert!(
        condition(&c, "KeyValid")
            .unwrap()
            .message
            .contains("spec.orgId")
    );
    env.patch_connection("msp", "customer", json!({"spec": {"orgId": first_org}}))
        .await;
    let c = env
        .wait_for(
            "msp",
            "customer",
            DEFAULT_WAIT,
            "Ready with orgId",
            is_ready,
        )
        .await;
    assert_eq!(c.status.unwrap().organization.unwrap().id, first_org);
    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_keys_are_rechecked_with_the_same_question_and_nothing_flaps() {
    // The hourly re-check comes after 3 s here (a test hook of the operator).
    let env = Env::without_operator(&[Region::Us, Region::Eu], true)
        .await
        .with_operator_env(
            &[],
            &[("JUMPCLOUD_OPERATOR_TEST_REJECTED_KEY_RETRY_SECONDS", "3")],
        )
        .await;
    // A multi-tenant key without orgId, and an EU key configured for the US region.
    let admin = env.admin(Region::Us, "Read Only");
    env.control(Region::Us)
        .add_org(std::slice::from_ref(&admin.id))
        .await
        .expect("second org");
    let msp_key = env.read_only_key(Region::Us);
    let eu_key = env.read_only_key(Region::Eu);
    env.secret("msp", "jc", &[("api-key", &msp_key)]).await;
    env.connection("msp", "customer", spec("jc")).await;
    env.secret("eu", "jc", &[("api-key", &eu_key)]).await;
    env.connection("eu", "acme", spec("jc")).await;
    let mut first = Vec::new();
    for (ns, name, reason) in [
        ("msp", "customer", "OrgIdRequired"),
        ("eu", "acme", "WrongRegion"),
    ] {
        let c = env
            .wait_condition(ns, name, "KeyValid", "False", reason, DEFAULT_WAIT)
            .await;
        first.push(c);
    }
    let eu_host_calls = || async {
        env.control(Region::Eu)
            .counters()
            .await
            .unwrap()
            .for_key(&secrecy::SecretString::from(eu_key.clone()))
    };
    // The first rejection asked the EU host once (the region probe).
    let probes = eu_host_calls().await;
    assert_eq!(probes, 1);

    // Past two re-checks of each (lastRejectedTime moves on each one).
    for c in &first {
        let (ns, name) = (c.metadata.namespace.clone().unwrap(), c.name_any());
        let rejected_at = |c: &jumpcloud_operator::crd::JumpCloudConnection| {
            c.status
                .as_ref()
                .and_then(|s| s.credential.as_ref())
                .and_then(|k| k.last_rejected_time.clone())
        };
        let initial = rejected_at(c).expect("lastRejectedTime");
        let once = env
            .wait_for(&ns, &name, DEFAULT_WAIT, "a re-check", |now| {
                rejected_at(now).is_some_and(|t| t != initial)
            })
            .await;
        let once = rejected_at(&once).unwrap();
        let after = env
            .wait_for(&ns, &name, DEFAULT_WAIT, "a second re-check", |now| {
                rejected_at(now).is_some_and(|t| t != once)
            })
            .await;
        // Nothing flapped: KeyValid, Ready and Stalled are exactly as after the first rejection
        // (a flip and back would have moved lastTransitionTime), and no Normal event.
        for type_ in ["KeyValid", "Ready", "Stalled"] {
            let (was, is) = (
                condition(c, type_).unwrap(),
                condition(&after, type_).unwrap(),
            );
            assert_eq!(
                (
                    &was.status,
                    &was.reason,
                    &was.message,
                    &was.last_transition_time
                ),
                (
                    &is.status,
                    &is.reason,
                    &is.message,
                    &is.last_transition_time
                ),
                "{ns}/{name} {type_}"
            );
        }
        let normal: Vec<_> = env
            .events(&ns)
            .await
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Normal"))
            .map(|e| e.reason)
            .collect();
        assert!(normal.is_empty(), "{ns}/{name}: {normal:?}");
    }
    // The re-checks asked the configured (US) host only: no more probes of the EU host.
    assert_eq!(eu_host_calls().await, probes);
    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_expired_and_privileged_keys() {
    let env = Env::start(&[Region::Us]).await;
    let control = env.control(Region::Us);

    // Read Only key expiring in 3 days: Ready, but KeyValid says ExpiresSoon.
    let read_only = env.admin(Region::Us, "Read Only");
    let in_three_days = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(72);
    control
        .set_key_expiry(&read_only.id, Some(in_three_days))
        .await
        .unwrap();
    env.secret("a", "jc", &[("api-key", &env.read_only_key(Region::Us))])
        .await;
    env.connection("a", "soon", spec("jc")).await;
    let c = env
        .wait_for("a", "soon", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    assert_eq!(condition(&c, "KeyValid").unwrap().reason, "ExpiresSoon");
    env.wait_event("a", "soon", "ExpiresSoon", DEFAULT_WAIT)
        .await;

    // A Manager key that expires soon: privileged, then expired. It must outlive the
    // identification, which reads the expiry (on a loaded machine that can take seconds).
    let manager = env.admin(Region::Us, "Manager");
    let expiry = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(20);
    control
        .set_key_expiry(&manager.id, Some(expiry))
        .await
        .unwrap();
    let manager_key =
        secrecy::ExposeSecret::expose_secret(manager.api_key.as_ref().unwrap()).to_owned();
    env.secret("b", "jc", &[("api-key", &manager_key)]).await;
    env.connection("b", "manager", spec("jc")).await;
    let c = env
        .wait_condition(
            "b",
            "manager",
            "LeastPrivilege",
            "False",
            "PrivilegedRole",
            DEFAULT_WAIT,
        )
        .await;
    assert!(
        condition(&c, "LeastPrivilege")
            .unwrap()
            .message
            .contains("\"Manager\"")
    );
    env.wait_event("b", "manager", "PrivilegedRole", DEFAULT_WAIT)
        .await;
    let c = env
        .wait_condition(
            "b",
            "manager",
            "KeyValid",
            "False",
            "KeyExpired",
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(condition(&c, "Stalled").unwrap().reason, "KeyExpired");
    assert!(
        condition(&c, "KeyValid")
            .unwrap()
            .message
            .contains("Generate a new API key")
    );

    // A full administrator.
    let admin = env.admin(Region::Us, "Administrator With Billing");
    let admin_key =
        secrecy::ExposeSecret::expose_secret(admin.api_key.as_ref().unwrap()).to_owned();
    env.secret("c", "jc", &[("api-key", &admin_key)]).await;
    env.connection("c", "admin", spec("jc")).await;
    let c = env
        .wait_for("c", "admin", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let lp = condition(&c, "LeastPrivilege").unwrap();
    assert_eq!(
        (lp.status.as_str(), lp.reason.as_str()),
        ("False", "PrivilegedRole")
    );
    assert!(lp.message.contains("Administrator With Billing"));
    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_sync_requests_shared_keys_and_restart_without_a_sync_storm() {
    let mut env = Env::start(&[Region::Us]).await;
    let key = env.read_only_key(Region::Us);
    env.secret("a", "jc", &[("api-key", &key)]).await;
    env.connection("a", "one", spec("jc")).await;
    env.wait_for("a", "one", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let after_first_sync = env.requests_on(Region::Us, "/api/systems").await;
    assert!(after_first_sync > 0);

    // A second connection with the same key: both are warned, each naming the other.
    env.secret("b", "jc", &[("api-key", &key)]).await;
    env.connection("b", "two", spec("jc")).await;
    env.wait_for("b", "two", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let event = env.wait_event("b", "two", "KeyShared", DEFAULT_WAIT).await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert!(event.note.unwrap().contains("a/one"));
    let event = env.wait_event("a", "one", "KeyShared", DEFAULT_WAIT).await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert!(event.note.unwrap().contains("b/two"));

    // Suspend a connection with a key of its own: not one request with that key.
    let manager = env.admin(Region::Us, "Manager");
    let own_key =
        secrecy::ExposeSecret::expose_secret(manager.api_key.as_ref().unwrap()).to_owned();
    env.secret("s", "jc", &[("api-key", &own_key)]).await;
    env.connection("s", "paused", spec("jc")).await;
    env.wait_for("s", "paused", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    env.patch_connection("s", "paused", json!({"spec": {"suspend": true}}))
        .await;
    env.wait_condition("s", "paused", "Ready", "False", "Suspended", DEFAULT_WAIT)
        .await;
    // No reconcile of a connection runs concurrently with another of it: once Suspended is
    // written, nothing of it is in flight.
    let calls_suspended = env.requests_with_key(&own_key).await;
    let suspended = "\"plan\":\"Suspended\"";
    let seen = env.operator().log().matches(suspended).count();
    env.patch_connection(
        "s",
        "paused",
        json!({"metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": "while-suspended"}}}),
    )
    .await;
    env.operator()
        .wait_for_log_count(suspended, seen + 1, DEFAULT_WAIT)
        .await;
    assert_eq!(
        env.requests_with_key(&own_key).await,
        calls_suspended,
        "a suspended connection called JumpCloud"
    );
    // Resuming resumes: the request made while suspended is handled with a sync.
    env.patch_connection("s", "paused", json!({"spec": {"suspend": false}}))
        .await;
    env.wait_for(
        "s",
        "paused",
        DEFAULT_WAIT,
        "request handled after resume",
        |c| {
            is_ready(c)
                && c.status
                    .as_ref()
                    .and_then(|s| s.last_handled_sync_request.as_deref())
                    == Some("while-suspended")
        },
    )
    .await;
    assert!(env.requests_with_key(&own_key).await > calls_suspended);
    // The shared key is also in both statuses (a/one's at its next reconcile, within its
    // keyCheckInterval), so it does not vanish with the events.
    for (ns, name, peer) in [("b", "two", "a/one"), ("a", "one", "b/two")] {
        env.wait_for(
            ns,
            name,
            Duration::from_secs(60),
            "apiKey.sharedWith",
            |c| {
                c.status
                    .as_ref()
                    .and_then(|s| s.credential.as_ref())
                    .is_some_and(|k| k.shared_with == [peer])
            },
        )
        .await;
    }
    let paused = env.connections("s").get("paused").await.unwrap();
    assert!(
        paused
            .status
            .unwrap()
            .credential
            .unwrap()
            .shared_with
            .is_empty(),
        "s/paused has a key of its own"
    );
    let syncs_before = env.requests_on(Region::Us, "/api/systems").await;

    // A sync request forces exactly one sync.
    env.patch_connection(
        "a",
        "one",
        json!({"metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": "2026-11-29T00:00:00Z"}}}),
    )
    .await;
    let c = env
        .wait_for("a", "one", DEFAULT_WAIT, "request handled", |c| {
            c.status
                .as_ref()
                .and_then(|s| s.last_handled_sync_request.as_deref())
                == Some("2026-11-29T00:00:00Z")
        })
        .await;
    assert!(is_ready(&c));
    let after_request = env.requests_on(Region::Us, "/api/systems").await;
    assert!(
        after_request > syncs_before,
        "the requested sync read devices"
    );

    // Restart: SIGTERM ends the process cleanly; the new one does not sync again.
    let exit = env.stop_operator().await;
    assert!(exit.success(), "{exit:?}");
    env = env.with_operator(&[]).await;
    env.operator()
        .wait_for_log_count("\"reconciled\"", 2, DEFAULT_WAIT)
        .await;
    assert_eq!(
        env.requests_on(Region::Us, "/api/systems").await,
        after_request,
        "a restart must not resync"
    );
    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_storm_fails_the_sync_not_the_key_and_recovers() {
    use jumpcloud_simulator::control::{Fault, FaultKind};
    let env = Env::start(&[Region::Us]).await;
    env.secret("a", "jc", &[("api-key", &env.read_only_key(Region::Us))])
        .await;
    env.connection("a", "storm", spec("jc")).await;
    env.wait_for("a", "storm", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let good_snapshot = env.latest_snapshot("a", "storm").await.unwrap().id;

    // Every attempt of the client's device listing is rate limited, once through.
    env.control(Region::Us)
        .inject(
            Fault::new(FaultKind::Status {
                status: 429,
                retry_after_secs: Some(1),
            })
            .times(8)
            .on_path("/api/systems"),
        )
        .await
        .unwrap();
    env.patch_connection(
        "a",
        "storm",
        json!({"metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": "storm"}}}),
    )
    .await;
    let c = env
        .wait_condition(
            "a",
            "storm",
            "Synced",
            "False",
            "RateLimited",
            Duration::from_secs(60),
        )
        .await;
    // The failed sync keeps the last good snapshot and its counts.
    let latest = env.latest_snapshot("a", "storm").await.unwrap().id;
    assert_eq!(latest, good_snapshot);
    let evidence = c.status.as_ref().unwrap().evidence.as_ref().unwrap();
    assert_eq!(
        evidence.snapshot.as_ref().unwrap().id,
        good_snapshot.to_string()
    );
    assert_eq!(evidence.devices, Some(55));
    assert!(
        condition(&c, "Synced")
            .unwrap()
            .message
            .contains("last good snapshot")
    );
    assert_eq!(condition(&c, "KeyValid").unwrap().status, "True");
    assert_eq!(
        condition(&c, "Reconciling").unwrap().reason,
        "ProgressingWithRetry"
    );
    assert!(condition(&c, "Stalled").is_none());
    env.wait_event("a", "storm", "RateLimited", DEFAULT_WAIT)
        .await;
    // The backoff retries and the storm is over.
    env.wait_for(
        "a",
        "storm",
        Duration::from_secs(60),
        "Ready after the storm",
        is_ready,
    )
    .await;
    // A Normal event on recovery (the first was the initial sync).
    env.wait_events("a", "storm", "Succeeded", 2, DEFAULT_WAIT)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_manifests_are_refused_by_the_schema_with_the_field_named() {
    let env = Env::without_operator(&[Region::Us], true).await;
    env.namespace("a").await;
    let manifest = |spec: &str| {
        format!(
            "apiVersion: jumpcloud-operator.io/v1alpha1\nkind: JumpCloudConnection\nmetadata:\n  name: bad\n  namespace: a\nspec:\n{spec}"
        )
    };
    for (spec, field, words) in [
        (
            "  apiKeySecretRef: {name: jc}\n  region: mars\n",
            "spec.region",
            "Unsupported value",
        ),
        (
            "  apiKeySecretRef: {name: jc}\n  interval: 6 hours\n",
            "spec.interval",
            "must be a duration",
        ),
        (
            "  apiKeySecretRef: {name: jc}\n  interval: 1m\n",
            "spec.interval",
            "between 5m and 168h",
        ),
        (
            "  region: us\n",
            "spec",
            "set exactly one of spec.apiKeySecretRef (an administrator's API key) and spec.serviceAccountSecretRef",
        ),
        (
            "  serviceAccountSecretRef: {name: sa}\n  region: in\n",
            "spec.serviceAccountSecretRef",
            "needs spec.serviceAccountSecretRef.tokenUrl",
        ),
        (
            "  apiKeySecretRef: {name: jc}\n  controls: {staleDeviceDays: -1}\n",
            "spec.controls.staleDeviceDays",
            "greater than or equal to 1",
        ),
        (
            "  apiKeySecretRef: {name: jc}\n  controls: {mfaExclusions: sometimes}\n",
            "spec.controls.mfaExclusions",
            "Unsupported value",
        ),
    ] {
        let out = env
            .kubectl(&["apply", "-f", "-"], Some(&manifest(spec)))
            .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted:\n{spec}");
        assert!(
            stderr.contains(field) && stderr.contains(words),
            "{spec}: {stderr}"
        );
    }
    for example in [
        "connection.yaml",
        "connection-eu.yaml",
        "connection-multi-tenant.yaml",
        "connection-service-account.yaml",
    ] {
        for ns in ["compliance", "msp"] {
            env.namespace(ns).await;
        }
        let path = format!("{}/examples/{example}", env!("CARGO_MANIFEST_DIR"));
        let out = env.kubectl(&["apply", "-f", &path], None).await;
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_without_the_crd_exits_with_a_hint() {
    let env = Env::without_operator(&[Region::Us], false).await;
    let out = tokio::time::timeout(DEFAULT_WAIT, env.operator_command(&[]).output())
        .await
        .expect("operator exits")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("jumpcloud-operator crd | kubectl apply -f -"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_namespaces_and_label_selector_limit_what_the_operator_handles() {
    let env = Env::without_operator(&[Region::Us], true).await;
    let key = env.read_only_key(Region::Us);
    for ns in ["a", "b"] {
        env.secret(ns, "jc", &[("api-key", &key)]).await;
    }
    env.labelled_connection("b", "elsewhere", json!({"team": "x"}), spec("jc"))
        .await;
    env.labelled_connection("a", "unlabelled", json!({}), spec("jc"))
        .await;
    env.labelled_connection("a", "mine", json!({"team": "x"}), spec("jc"))
        .await;
    let env = env
        .with_operator(&["--watch-namespaces", "a", "--selector", "team=x"])
        .await;
    env.wait_for("a", "mine", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    for (ns, name) in [("b", "elsewhere"), ("a", "unlabelled")] {
        let c = env.connections(ns).get(name).await.unwrap();
        assert!(c.status.is_none(), "{ns}/{name} was handled");
    }
    // Namespaced watches only.
    assert!(!env.kube.requests().iter().any(|r| r.verb == "watch"
        && r.namespace.is_none()
        && (r.resource == "secrets" || r.resource == "jumpcloudconnections")));
}
