//! Service accounts end to end: the real operator binary, the Kubernetes API test server and the
//! simulator's OAuth token endpoint. A connection with `serviceAccountSecretRef` becomes Ready
//! and shows the credential type, client id, role and token expiry; rotation to the account's
//! second secret is picked up within seconds with no failed sync; each refusal (wrong, expired
//! or revoked secret, disabled account) has its own reason; a token is renewed during a long
//! sync; a secret revoked mid-sync fails that sync and keeps the last good snapshot; neither the
//! client secret nor a token appears in any output.

mod operator_support;

use std::time::Duration;

use jumpcloud_operator::region::Region;
use operator_support::*;
use secrecy::ExposeSecret;
use serde_json::json;

const NS: &str = "compliance";

fn account_spec(secret: &str) -> serde_json::Value {
    json!({"serviceAccountSecretRef": {"name": secret}, "keyCheckInterval": "30s"})
}

async fn account_secret(env: &Env, name: &str, client_id: &str, secret: &str) {
    env.secret(
        NS,
        name,
        &[("client-id", client_id), ("client-secret", secret)],
    )
    .await;
}

/// Neither a client secret nor an access token in logs, statuses, Events or evidence.
async fn assert_no_token_leak(env: &Env) {
    env.assert_no_key_leak().await;
    let logs = env.all_logs();
    assert!(
        !logs.contains("jcat_"),
        "an access token in the operator log"
    );
    let out = env
        .kubectl(&["get", "jcc,events", "-A", "-o", "json"], None)
        .await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("jcat_"));
}

async fn token_requests(env: &Env) -> u64 {
    env.requests_on(Region::Us, "/oauth2/token").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_connection_is_ready_and_rotates_to_its_second_secret() {
    let env = Env::start(&[Region::Us]).await;
    let account = env.sim.read_only_service_account(Region::Us);
    let first = account.secrets[0].1.expose_secret().to_owned();
    account_secret(&env, "jc-sa", &account.client_id, &first).await;
    env.connection(NS, "acme", account_spec("jc-sa")).await;

    let c = env
        .wait_for(NS, "acme", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let credential = c.status.as_ref().unwrap().credential.clone().unwrap();
    assert_eq!(credential.type_.as_deref(), Some("ServiceAccount"));
    assert_eq!(
        credential.client_id.as_deref(),
        Some(account.client_id.as_str())
    );
    assert_eq!(credential.name.as_deref(), Some("Compliance evidence"));
    assert_eq!(credential.role.as_deref(), Some("Read Only"));
    assert_eq!(credential.administrator, None);
    let token_expiry = credential
        .token_expires_at
        .expect("token expiry in status")
        .0;
    assert!(token_expiry > jiff::Timestamp::now() + jiff::SignedDuration::from_mins(50));
    let key_valid = condition(&c, "KeyValid").unwrap();
    assert_eq!(key_valid.reason, "Accepted");
    assert!(
        key_valid.message.contains(&account.client_id),
        "{}",
        key_valid.message
    );
    assert_eq!(condition(&c, "LeastPrivilege").unwrap().reason, "ReadOnly");
    assert_eq!(condition(&c, "Synced").unwrap().reason, "Succeeded");
    let first_fingerprint = credential.fingerprint;
    // One token served the identification, the whole sync and the policy of key checks.
    assert_eq!(token_requests(&env).await, 1);
    let out = env
        .kubectl(&["get", "jcc", "acme", "-n", NS, "-o", "wide"], None)
        .await;
    let wide = String::from_utf8_lossy(&out.stdout);
    assert!(
        wide.contains("CREDENTIAL") && wide.contains("ServiceAccount"),
        "{wide}"
    );

    // Rotation: the account's second secret goes into the Secret, then the first is deleted.
    let control = env.control(Region::Us);
    let rotated = control.add_client_secret(&account.id, None).await.unwrap();
    let second = rotated.secrets[1].secret.clone();
    account_secret(&env, "jc-sa", &account.client_id, &second).await;
    let c = env
        .wait_for(
            NS,
            "acme",
            Duration::from_secs(10),
            "the second secret accepted",
            |c| {
                c.status
                    .as_ref()
                    .and_then(|s| s.credential.as_ref())
                    .is_some_and(|k| {
                        k.fingerprint != first_fingerprint && k.last_accepted_time.is_some()
                    })
                    && condition(c, "KeyValid").is_some_and(|k| k.reason == "Accepted")
            },
        )
        .await;
    assert_eq!(
        condition(&c, "Synced").unwrap().reason,
        "Succeeded",
        "no failed sync"
    );
    control
        .revoke_client_secret(&account.id, &account.secrets[0].0)
        .await
        .unwrap();
    // A sync with the second secret after the first is gone.
    env.request_sync(NS, "acme", "after-rotation").await;
    let c = env
        .wait_for(
            NS,
            "acme",
            DEFAULT_WAIT,
            "the requested sync handled",
            |c| {
                c.status.as_ref().is_some_and(|s| {
                    s.last_handled_sync_request.as_deref() == Some("after-rotation")
                })
            },
        )
        .await;
    assert_eq!(condition(&c, "Synced").unwrap().reason, "Succeeded");
    assert!(is_ready(&c));
    // A second connection on the same secret: the warning speaks of the secret, not of an
    // administrator's key.
    env.connection(NS, "acme-copy", account_spec("jc-sa")).await;
    let shared = env
        .wait_event(NS, "acme-copy", "KeyShared", DEFAULT_WAIT)
        .await;
    let note = shared.note.unwrap_or_default();
    assert!(
        note.contains("The service account's client secret") && note.contains("its own secret"),
        "{note}"
    );
    assert_no_token_leak(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_of_a_service_account_has_its_own_reason_and_a_broad_role_shows() {
    let env = Env::start(&[Region::Us, Region::Eu]).await;
    let control = env.control(Region::Us);
    let accounts = env.sim.service_accounts(Region::Us);
    let read_only = accounts
        .iter()
        .find(|a| a.role_name == "Read Only")
        .unwrap();
    let admin = accounts
        .iter()
        .find(|a| a.role_name == "Administrator")
        .unwrap();

    // An Administrator-role account works, but LeastPrivilege says it is too broad.
    account_secret(
        &env,
        "admin-sa",
        &admin.client_id,
        admin.secrets[0].1.expose_secret(),
    )
    .await;
    env.connection(NS, "broad", account_spec("admin-sa")).await;
    let c = env
        .wait_for(NS, "broad", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let privilege = condition(&c, "LeastPrivilege").unwrap();
    assert_eq!(
        (privilege.status.as_str(), privilege.reason.as_str()),
        ("False", "PrivilegedRole")
    );
    assert!(
        privilege.message.contains("Read Only role"),
        "{}",
        privilege.message
    );
    // Visible at a glance, without failing Ready.
    let out = env.kubectl(&["get", "jcc", "broad", "-n", NS], None).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("PRIVILEGE") && table.contains("PrivilegedRole"),
        "{table}"
    );

    account_secret(
        &env,
        "wrong-sa",
        &read_only.client_id,
        "not-the-secret-at-all",
    )
    .await;
    env.connection(NS, "wrong", account_spec("wrong-sa")).await;
    let c = env
        .wait_condition(
            NS,
            "wrong",
            "KeyValid",
            "False",
            "ClientSecretRejected",
            DEFAULT_WAIT,
        )
        .await;
    assert!(
        condition(&c, "KeyValid")
            .unwrap()
            .message
            .contains("Secret compliance/wrong-sa")
    );

    // An EU account on a connection that says us: the EU token endpoint accepts it.
    let eu = env.sim.read_only_service_account(Region::Eu);
    account_secret(
        &env,
        "eu-sa",
        &eu.client_id,
        eu.secrets[0].1.expose_secret(),
    )
    .await;
    env.connection(NS, "elsewhere", account_spec("eu-sa")).await;
    let c = env
        .wait_condition(
            NS,
            "elsewhere",
            "KeyValid",
            "False",
            "WrongRegion",
            DEFAULT_WAIT,
        )
        .await;
    assert!(
        condition(&c, "KeyValid")
            .unwrap()
            .message
            .contains("Set spec.region to eu")
    );

    // An account with an expired secret.
    let expiring = control
        .create_service_account(&jumpcloud_simulator::control::NewServiceAccount {
            name: Some("expiring".into()),
            role_name: None,
            secret_expires_at: None,
        })
        .await
        .unwrap();
    control
        .expire_client_secret(&expiring.id, &expiring.secrets[0].id)
        .await
        .unwrap();
    account_secret(
        &env,
        "expired-sa",
        &expiring.client_id,
        &expiring.secrets[0].secret,
    )
    .await;
    env.connection(NS, "expired", account_spec("expired-sa"))
        .await;
    let c = env
        .wait_condition(
            NS,
            "expired",
            "KeyValid",
            "False",
            "ClientSecretExpired",
            DEFAULT_WAIT,
        )
        .await;
    assert!(
        condition(&c, "KeyValid")
            .unwrap()
            .message
            .contains("other client secret")
    );
    assert!(!is_ready(&c));

    // The read-only account is disabled while a connection uses it.
    account_secret(
        &env,
        "ro-sa",
        &read_only.client_id,
        read_only.secrets[0].1.expose_secret(),
    )
    .await;
    env.connection(NS, "disabled", account_spec("ro-sa")).await;
    env.wait_for(NS, "disabled", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    control
        .set_service_account_disabled(&read_only.id, true)
        .await
        .unwrap();
    env.request_sync(NS, "disabled", "after-disable").await;
    let c = env
        .wait_condition(
            NS,
            "disabled",
            "KeyValid",
            "False",
            "ServiceAccountDisabled",
            DEFAULT_WAIT,
        )
        .await;
    assert!(
        condition(&c, "KeyValid")
            .unwrap()
            .message
            .contains("Enable it")
    );
    let events = env
        .wait_event(NS, "disabled", "ServiceAccountDisabled", DEFAULT_WAIT)
        .await;
    assert_eq!(events.type_.as_deref(), Some("Warning"));

    // A refused credential is not tried again until the Secret changes, even when a sync is
    // requested: the reconcile decides Blocked, and the token endpoint sees nothing new.
    let blocked = "\"plan\":\"Blocked\"";
    let blocked_before = env.operator().log().matches(blocked).count();
    let before = token_requests(&env).await;
    env.request_sync(NS, "expired", "while-refused").await;
    env.operator()
        .wait_for_log_count(blocked, blocked_before + 1, DEFAULT_WAIT)
        .await;
    assert_eq!(
        token_requests(&env).await,
        before,
        "a dead secret is not tried"
    );
    assert_no_token_leak(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_during_a_long_sync_and_a_secret_revoked_mid_sync_keeps_the_last_snapshot()
 {
    use jumpcloud_simulator::control::{Fault, FaultKind};
    let env = Env::start(&[Region::Us]).await;
    let control = env.control(Region::Us);
    let account = env.sim.read_only_service_account(Region::Us);
    control.set_token_lifetime(2).await.unwrap();
    // The device listing answers after 3 s: the sync outlives its first 2 s token.
    control
        .inject(Fault::new(FaultKind::Delay { delay_ms: 3000 }).on_path("/api/systems"))
        .await
        .unwrap();
    account_secret(
        &env,
        "jc-sa",
        &account.client_id,
        account.secrets[0].1.expose_secret(),
    )
    .await;
    env.connection(NS, "acme", account_spec("jc-sa")).await;
    let c = env
        .wait_for(NS, "acme", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    assert_eq!(condition(&c, "Synced").unwrap().reason, "Succeeded");
    assert!(
        token_requests(&env).await >= 2,
        "the token was renewed during the sync"
    );
    let good = env.latest_snapshot(NS, "acme").await.expect("a snapshot");

    // A second sync, slowed down again; the secret is revoked while it runs.
    control.set_token_lifetime(3600).await.unwrap();
    control
        .inject(Fault::new(FaultKind::Delay { delay_ms: 3000 }).on_path("/api/systems"))
        .await
        .unwrap();
    env.request_sync(NS, "acme", "revoked-mid-sync").await;
    env.wait_for(NS, "acme", DEFAULT_WAIT, "the second sync running", |c| {
        condition(c, "Reconciling").is_some_and(|r| r.status == "True" && r.reason == "Syncing")
    })
    .await;
    control
        .revoke_client_secret(&account.id, &account.secrets[0].0)
        .await
        .unwrap();
    let c = env
        .wait_condition(
            NS,
            "acme",
            "KeyValid",
            "False",
            "ClientSecretRevoked",
            DEFAULT_WAIT,
        )
        .await;
    assert!(!is_ready(&c));
    let latest = env.latest_snapshot(NS, "acme").await.unwrap();
    assert_eq!(latest.id, good.id, "the failed sync replaced nothing");
    assert_eq!(
        c.status.unwrap().evidence.unwrap().snapshot.unwrap().id,
        good.id.to_string()
    );
    assert_no_token_leak(&env).await;
}
