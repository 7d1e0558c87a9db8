//! The generated data over real HTTP: the same seed gives byte-identical answers, and the graph
//! routes agree with the policy results.

mod simulator_support;

use std::collections::HashSet;

use jumpcloud_simulator::{OrgSize, Region, SimulatorConfig};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use simulator_support::*;

#[tokio::test]
async fn same_seed_gives_byte_identical_orgs() {
    async fn snapshot(seed: u64) -> Vec<Vec<u8>> {
        let sim = start_with(SimulatorConfig {
            seed,
            now: Some(fixed_now()),
            ..SimulatorConfig::default()
        })
        .await;
        let api = Api::new(&sim, Region::Us);
        let (_, _, policies) = api.json("api/v2/policies?limit=100").await;
        let policy = policies[0]["id"].as_str().unwrap().to_string();
        let mut out = Vec::new();
        for path in [
            "api/systemusers?limit=100".to_string(),
            "api/systems?limit=100".into(),
            "api/applications?limit=100".into(),
            "api/users?limit=100".into(),
            "api/v2/usergroups?limit=100".into(),
            "api/v2/authn/policies?limit=100".into(),
            "api/v2/systeminsights/os_version?limit=10000".into(),
            format!("api/v2/policies/{policy}/policystatuses?limit=100"),
        ] {
            out.push(
                api.get(&path)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
                    .to_vec(),
            );
        }
        let events = api.events(
            json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z", "limit": 10000}),
        );
        out.push(events.send().await.unwrap().bytes().await.unwrap().to_vec());
        out.push(
            sim.read_only_key(Region::Us)
                .expose_secret()
                .as_bytes()
                .to_vec(),
        );
        out
    }
    let a = snapshot(7).await;
    let b = snapshot(7).await;
    assert!(a == b, "same seed, same bytes");
    let c = snapshot(8).await;
    assert!(
        a[0] != c[0] && a[a.len() - 1] != c[c.len() - 1],
        "another seed, another org and keys"
    );
}

#[tokio::test]
async fn graph_routes_and_policy_results_are_consistent() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let (systems, _) = page_v1(&api, "api/systems").await;
    let systems: HashSet<String> = systems.into_iter().collect();
    let (_, _, policies) = api.json("api/v2/policies?limit=100").await;
    let mut ghosts = 0;
    for policy in policies.as_array().unwrap() {
        let id = policy["id"].as_str().unwrap();
        let (status, _, detail) = api.json(&format!("api/v2/policies/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(detail["values"].is_array() && detail["template"]["osMetaFamily"].is_string());
        let (_, _, statuses) = api
            .json(&format!("api/v2/policies/{id}/policystatuses?limit=100"))
            .await;
        ghosts += statuses
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !systems.contains(s["systemID"].as_str().unwrap()))
            .count();
    }
    assert!(
        ghosts > 0,
        "results for deleted devices exist (support PR #358)"
    );
    let (_, _, screen_lock) = api
        .json(&format!(
            "api/v2/policies/{}",
            policies[0]["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        screen_lock["values"][0]["value"].as_u64().is_some(),
        "{screen_lock}"
    );

    let (_, _, groups) = api.json("api/v2/usergroups?limit=100").await;
    let all = groups[0]["id"].as_str().unwrap();
    let (_, headers, members) = api
        .json(&format!("api/v2/usergroups/{all}/membership?limit=100"))
        .await;
    assert_eq!(headers["x-total-count"], "60");
    let user = members[0]["id"].as_str().unwrap();
    for route in ["systems", "applications", "memberof"] {
        let (status, headers, _) = api.json(&format!("api/v2/users/{user}/{route}")).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert!(headers.contains_key("x-total-count"));
    }
    let (_, _, apps) = api.json("api/applications?limit=100").await;
    let app = apps["results"][0]["_id"].as_str().unwrap();
    let (_, headers, _) = api
        .json(&format!("api/v2/applications/{app}/users?limit=100"))
        .await;
    assert!(
        headers["x-total-count"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let (status, _, _) = api
        .json(&format!("api/v2/applications/{app}/usergroups"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, sg) = api.json("api/v2/systemgroups?limit=100").await;
    let (status, _, _) = api
        .json(&format!(
            "api/v2/systemgroups/{}/membership",
            sg[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.json("api/v2/users/0123456789abcdef01234567/systems")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.json("api/v2/nothing").await.0, StatusCode::NOT_FOUND);
}

/// The two documented per-object routes the simulator derives from other answers: a user
/// group's direct members agree with its membership, and a device's policy statuses with the
/// statuses listed under each policy. Both page as v2 lists (bare array, `x-total-count`).
#[tokio::test]
async fn group_members_and_device_policy_statuses_page_like_v2_lists() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let (_, _, groups) = api.json("api/v2/usergroups?limit=100").await;
    let all = groups[0]["id"].as_str().unwrap();
    let (membership, _) = page_v2(&api, &format!("api/v2/usergroups/{all}/membership"), 100).await;
    let mut members = Vec::new();
    let mut totals = HashSet::new();
    let mut skip = 0;
    loop {
        // Pages of 7 so that the group's 60 members take several.
        let (status, headers, page) = api
            .json(&format!(
                "api/v2/usergroups/{all}/members?limit=7&skip={skip}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        totals.insert(headers["x-total-count"].to_str().unwrap().to_owned());
        let page = page.as_array().unwrap().clone();
        skip += page.len();
        for connection in &page {
            assert_eq!(connection["to"]["type"], "user", "{connection}");
            members.push(connection["to"]["id"].as_str().unwrap().to_owned());
        }
        if page.len() < 7 {
            break;
        }
    }
    assert_eq!(totals, HashSet::from(["60".to_owned()]));
    assert_eq!(members, membership, "the direct members are the membership");
    assert_eq!(
        api.json("api/v2/usergroups/0123456789abcdef01234567/members")
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Every policy status of every device, gathered both ways.
    let (_, _, policies) = api.json("api/v2/policies?limit=100").await;
    let mut by_policy: HashSet<String> = HashSet::new();
    for policy in policies.as_array().unwrap() {
        let id = policy["id"].as_str().unwrap();
        let (ids, _) = page_v2(&api, &format!("api/v2/policies/{id}/policystatuses"), 100).await;
        by_policy.extend(ids);
    }
    let (systems, _) = page_v1(&api, "api/systems").await;
    let mut by_device: HashSet<String> = HashSet::new();
    let mut a_device_with_several = false;
    for system in &systems {
        let (ids, totals) =
            page_v2(&api, &format!("api/v2/systems/{system}/policystatuses"), 3).await;
        assert_exact(&ids, &totals, ids.len(), system);
        a_device_with_several |= ids.len() > 3;
        let (_, _, first) = api
            .json(&format!("api/v2/systems/{system}/policystatuses?limit=100"))
            .await;
        for status in first.as_array().unwrap() {
            assert_eq!(status["systemID"], system.as_str(), "{status}");
        }
        by_device.extend(ids);
    }
    assert!(a_device_with_several, "some device took more than one page");
    let deleted_devices: HashSet<String> = by_policy.difference(&by_device).cloned().collect();
    assert!(
        by_device.is_subset(&by_policy) && !deleted_devices.is_empty(),
        "each device's statuses are its policies' (deleted devices keep theirs only there)"
    );
    assert_eq!(
        api.json("api/v2/systems/0123456789abcdef01234567/policystatuses")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

/// Device access and commands over HTTP: every device answers its users (the owner among them),
/// commands carry no script body and are not served by id, and their targets answer per
/// command; unknown ids are 404 like the other graph routes.
#[tokio::test]
async fn device_users_and_commands_are_served_with_their_targets() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let (systems, _) = page_v1(&api, "api/systems").await;
    let (_, _, system) = api.json("api/systems?limit=1&skip=0&sort=_id").await;
    let owner = system["results"][0]["primarySystemUser"]["id"].clone();
    let (status, headers, users) = api
        .json(&format!("api/v2/systems/{}/users?limit=100", systems[0]))
        .await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let users = users.as_array().unwrap();
    assert_eq!(
        headers["x-total-count"].to_str().unwrap(),
        users.len().to_string()
    );
    assert!(
        users.iter().any(|u| u["id"] == owner),
        "the owner may log in: {users:?}"
    );
    let (status, _, _) = api
        .json("api/v2/systems/0123456789abcdef01234567/users")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (commands, totals) = page_v1(&api, "api/commands").await;
    assert_eq!(totals.len(), 1);
    assert!(!commands.is_empty());
    let (_, _, listed) = api.json("api/commands?limit=100").await;
    for command in listed["results"].as_array().unwrap() {
        assert!(command.get("command").is_none(), "{command}");
    }
    let (status, _, _) = api.json(&format!("api/commands/{}", commands[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut targeted = 0;
    for id in &commands {
        for route in ["systems", "systemgroups"] {
            let (status, headers, targets) = api
                .json(&format!("api/v2/commands/{id}/{route}?limit=100"))
                .await;
            assert_eq!(status, StatusCode::OK, "{targets}");
            assert!(headers.contains_key("x-total-count"));
            targeted += targets.as_array().unwrap().len();
        }
    }
    assert!(targeted >= commands.len());
}
