//! The control API's own behaviour: request counters per path, key and status, and a response
//! delay that slows the API but not the control API.

mod simulator_support;

use std::time::Duration;

use jumpcloud_simulator::{OrgSize, Region, SimulatorConfig};
use secrecy::ExposeSecret;

use simulator_support::*;

#[tokio::test]
async fn counters_count_requests_per_path_key_and_status() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let control = api.control();
    let manager = admin(&sim, "Manager");
    api.json("api/systemusers").await;
    api.json("api/systemusers?skip=10").await;
    api.json("api/v2/policies").await;
    let revoked_key = manager.api_key.clone().unwrap();
    control.revoke_key(&manager.id).await.unwrap();
    api.with_key(revoked_key.clone()).json("api/systems").await;
    send(api.http.get(api.base.join("api/systems").unwrap())).await;

    let counters = control.counters().await.unwrap();
    assert_eq!(counters.total, 5, "control requests are not counted");
    assert_eq!(counters.by_path["/api/systemusers"], 2);
    assert_eq!(counters.for_path_prefix("/api/v2/"), 1);
    assert_eq!(counters.for_key(&api.key), 3);
    assert_eq!(counters.for_key(&revoked_key), 1);
    assert_eq!(counters.by_key["none"], 1);
    assert_eq!(counters.by_status["200"], 3);
    assert_eq!(counters.by_status["401"], 2);
    let printed = serde_json::to_string(&counters).unwrap();
    assert!(
        !printed.contains(api.key.expose_secret()),
        "counters hold fingerprints, not keys"
    );

    control.reset().await.unwrap();
    assert_eq!(control.counters().await.unwrap().total, 0);
}

#[tokio::test]
async fn response_delay_applies_to_the_api_but_not_to_the_control_api() {
    let sim = start_with(SimulatorConfig {
        response_delay: Duration::from_secs(5),
        now: Some(fixed_now()),
        ..SimulatorConfig::default()
    })
    .await;
    let api = Api::new(&sim, Region::Us);
    let error = api
        .get("api/systems")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let control = sim.control(Region::Us).unwrap();
    let admins = control.admins().await.unwrap();
    assert_eq!(admins.len(), sim.admins(Region::Us).len());
    let read_only = admins.iter().find(|a| a.role_name == "Read Only").unwrap();
    assert_eq!(
        read_only.api_key.as_deref(),
        Some(sim.read_only_key(Region::Us).expose_secret())
    );
    let orgs = control.orgs().await.unwrap();
    let org = &orgs[&sim.org_id(Region::Us).unwrap()];
    assert_eq!(org["users"], OrgSize::small().users);
    assert_eq!(org["systems"], OrgSize::small().devices);
    assert_eq!(org["events"], OrgSize::small().events);
    assert!(sim.control(Region::Eu).is_none() && sim.base_url(Region::Eu).is_none());
}
