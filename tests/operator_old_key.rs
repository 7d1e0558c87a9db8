//! Who still uses the old key, end to end: a connection moves to its administrator's new key
//! (which revokes the old one); something else presents the old key; the next sync finds the
//! `admin_old_api_key_attempt` event and says so in status and in a Warning Event.

mod operator_support;

use jumpcloud_operator::region::Region;
use operator_support::*;

const NS: &str = "compliance";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_use_of_the_replaced_key_shows_in_status_and_a_warning() {
    let env = Env::start(&[Region::Us]).await;
    let admin = env.admin(Region::Us, "Read Only");
    let old_key = env.read_only_key(Region::Us);
    env.secret(NS, "jc", &[("api-key", &old_key)]).await;
    env.connection(NS, "acme", spec("jc")).await;
    let c = env
        .wait_for(NS, "acme", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let old_fingerprint = c.status.unwrap().credential.unwrap().fingerprint;

    // A new key for the administrator revokes the old one; the connection gets the new key.
    let new_key = env
        .control(Region::Us)
        .issue_key(&admin.id, None)
        .await
        .unwrap();
    let new_key = secrecy::ExposeSecret::expose_secret(&new_key).to_owned();
    env.secret(NS, "jc", &[("api-key", &new_key)]).await;
    let c = env
        .wait_for(NS, "acme", DEFAULT_WAIT, "the new key accepted", |c| {
            c.status
                .as_ref()
                .and_then(|s| s.credential.as_ref())
                .is_some_and(|k| k.fingerprint != old_fingerprint && k.last_accepted_time.is_some())
        })
        .await;
    let previous = c
        .status
        .unwrap()
        .credential
        .unwrap()
        .previous
        .expect("the old key is remembered");
    assert_eq!(previous.fingerprint, old_fingerprint);
    assert_eq!(
        previous.administrator.as_deref(),
        Some(admin.email.as_str())
    );
    assert_eq!(previous.uses, 0);

    // Another integration still has the old key.
    let base = env.sim.base_url(Region::Us).unwrap();
    let status = reqwest::Client::new()
        .get(base.join("api/systemusers").unwrap())
        .header("x-api-key", &old_key)
        .header("user-agent", "legacy-collector/2.3 (nightly export)")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);

    env.request_sync(NS, "acme", "after-rotation").await;
    let c = env
        .wait_for(
            NS,
            "acme",
            DEFAULT_WAIT,
            "the old key's use recorded",
            |c| {
                c.status
                    .as_ref()
                    .and_then(|s| s.credential.as_ref())
                    .and_then(|k| k.previous.as_ref())
                    .is_some_and(|p| p.uses > 0)
            },
        )
        .await;
    let previous = c
        .status
        .clone()
        .unwrap()
        .credential
        .unwrap()
        .previous
        .unwrap();
    assert_eq!(previous.uses, 1);
    let last = previous.last_use.unwrap();
    assert_eq!(last.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(last.user_agent.as_deref(), Some("legacy-collector/2.3"));
    assert!(
        is_ready(&c),
        "a use of the old key does not fail the connection"
    );
    let event = env.wait_event(NS, "acme", "OldKeyUsed", DEFAULT_WAIT).await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    let note = event.note.unwrap_or_default();
    assert!(
        note.contains(&format!("the previous key of {}", admin.email))
            && note.contains("from 127.0.0.1 with legacy-collector/2.3")
            && note.contains("another integration still has it"),
        "{note}"
    );
    env.assert_no_key_leak().await;
}
