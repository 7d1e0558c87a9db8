//! The collection library against the simulator: accounting, licensing, leavers.

mod client_support;

use client_support::*;
use jumpcloud_operator::collect::{CollectOptions, DirSnapshot, KindStatus, NoProgress, collect};
use jumpcloud_operator::simulator::OrgSize;

#[tokio::test]
async fn requests_equal_the_fewest_possible_and_every_total_is_met() {
    for size in [OrgSize::small(), OrgSize::medium()] {
        fewest_requests_for(size).await;
    }
}

async fn fewest_requests_for(size: OrgSize) {
    let sim = simulator(size.clone()).await;
    let client = client(&sim);
    let dir = tempfile::tempdir().unwrap();
    let sink = DirSnapshot::create(&dir.path().join("s")).unwrap();
    let report = collect(&client, sink, &CollectOptions::default(), &NoProgress)
        .await
        .unwrap();
    let server_total = control(&sim).counters().await.unwrap().total;
    assert_eq!(report.total_requests, server_total);
    for kind in &report.kinds {
        assert_eq!(kind.requests, kind.min_requests, "{}", kind.kind);
    }
    // Every request the client made is accounted to a kind or to identity.
    let per_kind: u64 = report.kinds.iter().map(|kind| kind.requests).sum();
    assert_eq!(per_kind + report.identity_requests, report.total_requests);
    assert_eq!(report.identity_requests, 2);
    assert_eq!(report.min_requests, report.total_requests);
    let users = report.kinds.iter().find(|k| k.kind == "users").unwrap();
    assert_eq!(users.records, size.users as u64);
    let devices = report.kinds.iter().find(|k| k.kind == "devices").unwrap();
    assert_eq!(devices.records, size.devices as u64);
}

#[tokio::test]
async fn unlicensed_directory_insights_is_recorded_not_failed() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim).set_directory_insights(false).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = DirSnapshot::create(&dir.path().join("s")).unwrap();
    let report = collect(&client(&sim), sink, &CollectOptions::default(), &NoProgress)
        .await
        .unwrap();
    let events = report
        .manifest
        .kinds
        .iter()
        .find(|k| k.kind == "directory_insights_events")
        .unwrap();
    assert_eq!(events.status, KindStatus::NotLicensed);
    assert_eq!(events.records, 0);
}

#[tokio::test]
async fn leaver_bindings_are_read_for_suspended_users_only() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let sink = DirSnapshot::create(&out).unwrap();
    collect(&client(&sim), sink, &CollectOptions::default(), &NoProgress)
        .await
        .unwrap();
    let lines = |file: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(out.join(file))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let suspended: std::collections::HashSet<String> = lines("users.ndjson")
        .into_iter()
        .filter(|user| user["suspended"] == true || user["state"] == "SUSPENDED")
        .map(|user| user["_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!suspended.is_empty(), "the simulated org has leavers");
    let bindings = lines("suspended_user_systems.ndjson");
    assert!(
        !bindings.is_empty(),
        "the simulated leavers still have devices"
    );
    for binding in bindings {
        let user = binding["user_id"].as_str().unwrap();
        assert!(suspended.contains(user), "{user} is not suspended");
        assert!(binding["record"].is_object());
    }
}
