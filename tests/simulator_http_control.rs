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

/// Every record of a v1 list (`api/systemusers`, `api/systems`), by id, paged by 100.
async fn records(api: &Api, path: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut out = std::collections::BTreeMap::new();
    loop {
        let (status, _, body) = api
            .json(&format!("{path}?limit=100&skip={}&sort=_id", out.len()))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        let results = body["results"].as_array().unwrap();
        for record in results {
            out.insert(record["_id"].as_str().unwrap().to_owned(), record.clone());
        }
        if results.len() < 100 {
            return out;
        }
    }
}

fn time(record: &serde_json::Value, field: &str) -> Option<jiff::Timestamp> {
    record[field].as_str().map(|text| text.parse().unwrap())
}

#[tokio::test]
async fn advancing_the_clock_changes_the_org_as_a_day_changes_a_real_one() {
    let medium = || start(OrgSize::medium());
    let (sim, twin) = tokio::join!(medium(), medium());
    let api = Api::new(&sim, Region::Us);
    let users_before = records(&api, "api/systemusers").await;
    let systems_before = records(&api, "api/systems").await;

    let advanced = api.control().advance_days(1).await.unwrap();
    assert_eq!(advanced.day, 1);
    assert_eq!(
        advanced.now,
        fixed_now() + jiff::SignedDuration::from_hours(24)
    );
    let users = records(&api, "api/systemusers").await;
    let systems = records(&api, "api/systems").await;

    // Every device checked in: its lastContact moved by exactly one day.
    assert_eq!(advanced.changes.devices_checked_in, 1_000);
    assert_eq!(systems.len(), systems_before.len());
    let mut moved = 0;
    for (id, before) in &systems_before {
        match (
            time(before, "lastContact"),
            time(&systems[id], "lastContact"),
        ) {
            (Some(then), Some(now)) => {
                assert_eq!(
                    now.duration_since(then),
                    jiff::SignedDuration::from_hours(24),
                    "{id}"
                );
                moved += 1;
            }
            (None, None) => {}
            other => panic!("{id}: {other:?}"),
        }
    }
    assert!(moved > 900, "{moved}");

    // About 1% of the users changed: one hired, the others suspended, MFA or title.
    assert_eq!(advanced.changes.users_added, 1);
    assert_eq!(users.len(), users_before.len() + 1);
    let changed: Vec<&String> = users_before
        .iter()
        .filter(|(id, before)| users[*id] != **before)
        .map(|(id, _)| id)
        .collect();
    assert!((1..=9).contains(&changed.len()), "{changed:?}");
    assert!(advanced.changes.users_suspended >= 1);
    assert!(
        users_before
            .iter()
            .any(|(id, before)| before["suspended"] == false && users[id]["suspended"] == true)
    );
    assert!(advanced.changes.events_added > 0);

    // Deterministic: the same seed and day give the same org.
    let twin_api = Api::new(&twin, Region::Us);
    assert_eq!(twin_api.control().advance_days(1).await.unwrap(), advanced);
    assert_eq!(records(&twin_api, "api/systemusers").await, users);
    assert_eq!(records(&twin_api, "api/systems").await, systems);
    // And another day changes other users.
    let second = api.control().advance_days(1).await.unwrap();
    assert_eq!(second.day, 2);
    let after_two = records(&api, "api/systemusers").await;
    assert!(second.changes.users_added >= 1);
    assert_eq!(after_two.len(), users.len() + second.changes.users_added);
    assert_ne!(after_two, users);
}
