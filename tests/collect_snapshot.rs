//! The collection library against the simulator: accounting, licensing, leavers.

mod client_support;

use client_support::*;
use jumpcloud_operator::collect::KindStatus;
use jumpcloud_operator::store::{Records, load_evidence};
use jumpcloud_simulator::OrgSize;

/// JumpCloud's documented page maxima (jumpcloud-api.md §3), independent of the client's own
/// constants: a client that used smaller pages would need more requests than these allow.
const CONSOLE_PAGE: u64 = 100;
const SYSTEM_INSIGHTS_PAGE: u64 = 10_000;

fn pages(records: u64, page: u64) -> u64 {
    records.div_ceil(page).max(1)
}

/// Kinds served by one listing: their fewest requests follow from the record count alone.
const SINGLE_LISTINGS: [(&str, u64); 29] = [
    ("administrators", CONSOLE_PAGE),
    ("roles", CONSOLE_PAGE),
    ("users", CONSOLE_PAGE),
    ("devices", CONSOLE_PAGE),
    ("policies", CONSOLE_PAGE),
    ("applications", CONSOLE_PAGE),
    ("user_groups", CONSOLE_PAGE),
    ("device_groups", CONSOLE_PAGE),
    ("authn_policies", CONSOLE_PAGE),
    ("commands", CONSOLE_PAGE),
    ("system_insights_disk_encryption", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_bitlocker_info", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_alf", SYSTEM_INSIGHTS_PAGE),
    (
        "system_insights_windows_security_center",
        SYSTEM_INSIGHTS_PAGE,
    ),
    (
        "system_insights_windows_security_products",
        SYSTEM_INSIGHTS_PAGE,
    ),
    ("system_insights_os_version", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_patches", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_programs", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_apps", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_linux_packages", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_sip_config", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_secureboot", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_tpm_info", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_users", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_groups", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_user_groups", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_usb_devices", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_authorized_keys", SYSTEM_INSIGHTS_PAGE),
    ("system_insights_logged_in_users", SYSTEM_INSIGHTS_PAGE),
];

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
    let report = collect_into(&client, dir.path()).await;
    let server_total = control(&sim).counters().await.unwrap().total;
    assert_eq!(report.total_requests, server_total);
    for kind in &report.kinds {
        assert_eq!(kind.requests, kind.min_requests, "{}", kind.kind);
    }
    // The client's own minimum is derived from its own page size; check it against the API's
    // documented maxima too.
    for (name, page) in SINGLE_LISTINGS {
        let kind = report.kinds.iter().find(|k| k.kind == name).unwrap();
        assert_eq!(kind.requests, pages(kind.records, page), "{name}");
    }
    let policies = report.kinds.iter().find(|k| k.kind == "policies").unwrap();
    let details = report.kinds.iter().find(|k| k.kind == "policy_details");
    assert_eq!(
        details.unwrap().requests,
        policies.records,
        "one GET per policy"
    );
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
    let report = collect_into(&client(&sim), dir.path()).await;
    let events = report
        .manifest
        .kinds
        .iter()
        .find(|k| k.kind == "directory_insights_events")
        .unwrap();
    assert_eq!(events.status, KindStatus::NotLicensed);
    assert_eq!(events.records, 0);
    let stored = report.committed.snapshot.kind("directory_insights_events");
    assert_eq!(stored.unwrap().status, "not-licensed");
    // Not licensed is not "no events since": the dormant-account control cannot conclude.
    assert_eq!(report.committed.snapshot.manifest.events_since, None);
}

#[tokio::test]
async fn repeated_collections_store_each_event_once_and_chain() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    let first = collect_into(&client(&sim), dir.path()).await.committed;
    let second = collect_into(&client(&sim), dir.path()).await.committed;
    let events = |snapshot: &jumpcloud_operator::store::Snapshot| {
        snapshot.kind("directory_insights_events").unwrap().clone()
    };
    assert!(events(&first.snapshot).records > 0);
    // Nothing new happened: the second collection adds no segment and no record.
    assert_eq!(events(&second.snapshot), events(&first.snapshot));
    // Its entry names no file rather than an empty one.
    let entry = |snapshot: &jumpcloud_operator::store::Snapshot| {
        snapshot
            .index
            .sources
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == "directory_insights_events")
            .unwrap()
            .clone()
    };
    assert!(entry(&first.snapshot)["file"].is_string());
    assert!(
        entry(&second.snapshot).get("file").is_none(),
        "{}",
        entry(&second.snapshot)
    );
    assert_eq!(
        second.snapshot.manifest.events_since,
        first.snapshot.manifest.events_since
    );
    let previous = second.snapshot.manifest.previous.clone().unwrap();
    assert_eq!(previous.sha256, first.snapshot.sha256);
    assert_eq!(second.snapshot.manifest.sequence, 1);
    // The second window started where the stored events end, not 90 days back.
    let position = first.snapshot.manifest.events.clone().unwrap();
    let window = &second.snapshot.manifest.collection["events_window"];
    assert_eq!(
        window["start"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap(),
        position.last_timestamp
    );
    // Each event id once in the stored history.
    let store = store_in(dir.path());
    let loaded = load_evidence(&store, &second.snapshot, Records::All)
        .await
        .unwrap();
    let ids: Vec<&str> = loaded.kinds["directory_insights_events"]
        .records
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len());
}

#[tokio::test]
async fn leaver_bindings_are_read_for_suspended_users_only() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = collect_into(&client(&sim), dir.path()).await;
    let store = store_in(dir.path());
    let evidence = load_evidence(&store, &report.committed.snapshot, Records::All)
        .await
        .unwrap();
    let lines = |kind: &str| evidence.kinds[kind].records.clone();
    let suspended: std::collections::HashSet<String> = lines("users")
        .into_iter()
        .filter(|user| user["suspended"] == true || user["state"] == "SUSPENDED")
        .map(|user| user["_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!suspended.is_empty(), "the simulated org has leavers");
    let bindings = lines("suspended_user_systems");
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

/// Every list request asks for the largest page the API documents and for a stable sort by a
/// unique field wherever the route has a `sort` parameter (the simulator logs each query).
#[tokio::test]
async fn every_list_request_uses_the_largest_page_and_a_stable_sort() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    collect_into(&client(&sim), dir.path()).await;
    let log = control(&sim).requests().await.unwrap();
    let mut checked = std::collections::BTreeSet::new();
    for request in log.iter().filter(|r| r.method == "GET") {
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        let (limit, sort) = match segments.as_slice() {
            ["api", "organizations", _] | ["api", "users", "getSelf"] => continue,
            ["api", "v2", "policies", _] => continue,
            ["api", "v2", "roles"] => (CONSOLE_PAGE, Some("id")),
            ["api", "v2", "systeminsights", _] => (SYSTEM_INSIGHTS_PAGE, Some("system_id")),
            ["api", "v2", _, _, "membership" | "policystatuses"] => (CONSOLE_PAGE, Some("id")),
            // The one graph traversal route that documents `sort`.
            ["api", "v2", "users", _, "memberof"] => (CONSOLE_PAGE, Some("id")),
            // The other graph traversal routes have no sort parameter.
            ["api", "v2", "users" | "applications", _, _] => (CONSOLE_PAGE, None),
            ["api", "v2", "systems", _, "users"] => (CONSOLE_PAGE, None),
            ["api", "v2", "commands", _, "systems" | "systemgroups"] => (CONSOLE_PAGE, None),
            ["api", "v2", ..] => (CONSOLE_PAGE, Some("id")),
            ["api", _] => (CONSOLE_PAGE, Some("_id")),
            other => panic!("unexpected request {other:?}"),
        };
        assert_eq!(
            request.param("limit"),
            Some(limit.to_string()),
            "{} {}",
            request.path,
            request.query
        );
        assert_eq!(
            request.param("sort").as_deref(),
            sort,
            "{} {}",
            request.path,
            request.query
        );
        checked.insert(segments[..segments.len().min(4)].join("/"));
    }
    for listing in [
        "api/systemusers",
        "api/systems",
        "api/applications",
        "api/users",
        "api/organizations",
        "api/v2/usergroups",
        "api/v2/systeminsights/os_version",
        "api/commands",
    ] {
        assert!(
            checked.contains(listing),
            "{listing} not requested: {checked:?}"
        );
    }
}
