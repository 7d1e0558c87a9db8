//! Evidence never holds a secret: a whole collection asks no route that answers with one (the
//! simulator's request log is checked against `routes::returns_secrets`), and the client
//! refuses such a route before sending anything.

mod client_support;

use client_support::*;
use jumpcloud_operator::jumpcloud::JumpCloudError;
use jumpcloud_operator::jumpcloud::routes::returns_secrets;
use jumpcloud_simulator::OrgSize;

#[tokio::test(flavor = "multi_thread")]
async fn a_collection_asks_no_route_that_answers_with_secrets() {
    let sim = simulator(OrgSize::small()).await;
    let client = client(&sim);
    let dir = tempfile::tempdir().unwrap();
    collect_into(&client, dir.path()).await;
    let requests = control(&sim).requests().await.unwrap();
    let paths: std::collections::BTreeSet<&str> =
        requests.iter().map(|r| r.path.as_str()).collect();
    // The collection asked for devices, one per-device route family and the per-user ones: the
    // check below looks at a real route list, not an empty one.
    assert!(paths.contains("/api/systems"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p.starts_with("/api/v2/users/")),
        "{paths:?}"
    );
    let asked: Vec<&&str> = paths.iter().filter(|p| returns_secrets(p)).collect();
    assert!(asked.is_empty(), "secret routes asked: {asked:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_refuses_a_route_that_answers_with_secrets_before_sending_it() {
    let sim = simulator(OrgSize::small()).await;
    let client = client(&sim);
    let before = control(&sim).counters().await.unwrap().total;
    let error = client
        .get_raw("fde", "/api/v2/systems/5f0c1b2a3d4e5f6a7b8c9d0e/fdekey")
        .await
        .unwrap_err();
    assert!(
        matches!(error, JumpCloudError::InvalidConfig(_)),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("answers with secrets"),
        "{error}"
    );
    assert_eq!(
        control(&sim).counters().await.unwrap().total,
        before,
        "nothing was sent"
    );
}
