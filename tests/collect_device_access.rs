//! Device access and commands against the simulator: every listing counted against its total,
//! one `/api/v2/systems/{id}/users` listing per device, and the `spec.evidence.deviceAccess`
//! setting: a skipped kind is recorded (status `skipped`, with the reason), sends no request,
//! puts the sudo control in error, and the snapshot still verifies.

mod client_support;

use std::collections::BTreeSet;

use client_support::*;
use jumpcloud_operator::collect::{
    CollectOptions, CollectionReport, EvaluateControls, KindStatus, NoProgress, collect_with,
};
use jumpcloud_operator::controls::{ControlSettings, ControlStatus, SettingsSource};
use jumpcloud_operator::device_access::{DeviceAccess, DeviceAccessMode};
use jumpcloud_operator::store::verify::verify_connection;
use jumpcloud_operator::store::{CommittedSnapshot, StoreSink};
use jumpcloud_simulator::OrgSize;

async fn collect(
    sim: &jumpcloud_simulator::Simulator,
    dir: &std::path::Path,
    device_access: DeviceAccess,
) -> CollectionReport<CommittedSnapshot> {
    let sink = StoreSink::open(store_in(dir)).await.unwrap();
    let evaluate = EvaluateControls::new(ControlSettings::default(), SettingsSource::Default);
    let options = CollectOptions {
        device_access,
        ..CollectOptions::default()
    };
    collect_with(&client(sim), sink, &evaluate, &options, &NoProgress)
        .await
        .expect("collection succeeds")
}

fn entry<'a>(
    report: &'a CollectionReport<CommittedSnapshot>,
    kind: &str,
) -> &'a jumpcloud_operator::collect::KindEntry {
    report
        .manifest
        .kinds
        .iter()
        .find(|k| k.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} in the manifest"))
}

fn sudo_result(
    report: &CollectionReport<CommittedSnapshot>,
) -> &jumpcloud_operator::controls::ControlResult {
    let controls = report.committed.controls.as_ref().expect("evaluated");
    controls
        .results
        .iter()
        .find(|r| r.id == "JC-I13-DEVICE-SUDO")
        .expect("the sudo control")
}

async fn asked_paths(sim: &jumpcloud_simulator::Simulator) -> BTreeSet<String> {
    control(sim)
        .requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect()
}

fn device_users_path(path: &str) -> bool {
    path.starts_with("/api/v2/systems/") && path.ends_with("/users")
}

#[tokio::test(flavor = "multi_thread")]
async fn device_access_and_commands_are_collected_per_device_and_command_against_their_totals() {
    let size = OrgSize::small();
    let sim = simulator(size.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = collect(&sim, dir.path(), DeviceAccess::default()).await;
    for kind in [
        "device_access",
        "commands",
        "command_systems",
        "command_system_groups",
    ] {
        let entry = entry(&report, kind);
        assert_eq!(entry.status, KindStatus::Complete, "{kind}");
        assert_eq!(entry.total_reported, Some(entry.records), "{kind}");
        assert!(entry.records > 0, "{kind}");
        let figures = report.kinds.iter().find(|k| k.kind == kind).unwrap();
        assert_eq!(figures.requests, figures.min_requests, "{kind}");
    }
    let access = entry(&report, "device_access");
    assert_eq!(access.parent_field.as_deref(), Some("system_id"));
    assert_eq!(access.endpoints, ["/api/v2/systems/{id}/users"]);
    let paths = asked_paths(&sim).await;
    let per_device = paths.iter().filter(|p| device_users_path(p)).count();
    assert_eq!(per_device, size.devices, "one listing per device");
    assert!(paths.contains("/api/commands"), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.starts_with("/api/commands/")),
        "a command by id (with its script) was asked: {paths:?}"
    );
    // The generated org grants sudo outside any allowlisted group on some devices: the control
    // fails for them, with the user and the path named.
    let sudo = sudo_result(&report);
    assert_eq!(sudo.status, ControlStatus::Fail, "{sudo:#?}");
    assert!(sudo.failing.len() < size.devices, "{}", sudo.failing.len());
    assert!(
        sudo.failing.iter().all(|f| f.why.contains("sudo")),
        "{sudo:#?}"
    );
    // The v1 list is sorted by its unique key; the graph routes take no sort.
    let requests = control(&sim).requests().await.unwrap();
    for request in &requests {
        if request.path == "/api/commands" {
            assert!(request.query.contains("sort=_id"), "{request:?}");
        } else if device_users_path(&request.path) || request.path.starts_with("/api/v2/commands/")
        {
            assert!(!request.query.contains("sort="), "{request:?}");
        }
    }
    let verified = verify_connection(&store_in(dir.path()), None)
        .await
        .unwrap();
    assert!(verified.ok(), "{:?}", verified.problems);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_org_above_the_threshold_skips_device_access_records_why_and_still_verifies() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    let setting = DeviceAccess {
        mode: DeviceAccessMode::Auto,
        max_devices: 10,
    };
    let report = collect(&sim, dir.path(), setting).await;
    let access = entry(&report, "device_access");
    assert_eq!(access.status, KindStatus::Skipped);
    assert_eq!(access.records, 0);
    let reason = access.reason.as_deref().unwrap();
    assert!(
        reason.contains("55 devices")
            && reason.contains("deviceAccessMaxDevices (10)")
            && reason.contains("spec.evidence.deviceAccess"),
        "{reason}"
    );
    let stored = report.committed.snapshot.kind("device_access").unwrap();
    assert_eq!(stored.status, "skipped");
    assert!(!asked_paths(&sim).await.iter().any(|p| device_users_path(p)));
    let sudo = sudo_result(&report);
    assert_eq!(sudo.status, ControlStatus::Error, "{sudo:#?}");
    assert!(
        sudo.summary.contains("device_access") && sudo.summary.contains("deviceAccessMaxDevices"),
        "{}",
        sudo.summary
    );
    let verified = verify_connection(&store_in(dir.path()), None)
        .await
        .unwrap();
    assert!(verified.ok(), "{:?}", verified.problems);
}

#[tokio::test(flavor = "multi_thread")]
async fn never_sends_no_device_users_request() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    let setting = DeviceAccess {
        mode: DeviceAccessMode::Never,
        ..DeviceAccess::default()
    };
    let report = collect(&sim, dir.path(), setting).await;
    let access = entry(&report, "device_access");
    assert_eq!(access.status, KindStatus::Skipped);
    assert!(
        access
            .reason
            .as_deref()
            .unwrap()
            .contains("deviceAccess is never")
    );
    let paths = asked_paths(&sim).await;
    assert!(paths.contains("/api/systems"), "{paths:?}");
    assert!(!paths.iter().any(|p| device_users_path(p)), "{paths:?}");
    let figures = report
        .kinds
        .iter()
        .find(|k| k.kind == "device_access")
        .unwrap();
    assert_eq!((figures.requests, figures.min_requests), (0, 0));
}

/// A kind collected once and skipped the next time: the store loads it as skipped with its
/// reason, and the diff says its status changed instead of listing every record as removed.
#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_kind_loads_as_skipped_and_diffs_as_a_status_change() {
    use jumpcloud_operator::controls::KindState;
    use jumpcloud_operator::store::diff::diff_snapshots;
    use jumpcloud_operator::store::{Records, load_evidence};

    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    let first = collect(&sim, dir.path(), DeviceAccess::default()).await;
    let never = DeviceAccess {
        mode: DeviceAccessMode::Never,
        ..DeviceAccess::default()
    };
    let second = collect(&sim, dir.path(), never).await;
    let store = store_in(dir.path());
    let latest = store.latest().await.unwrap().unwrap();
    let evidence = load_evidence(&store, &latest, Records::All).await.unwrap();
    assert_eq!(evidence.state("device_access"), KindState::Skipped);
    let reason = evidence.kinds["device_access"].reason.clone().unwrap();
    assert!(reason.contains("deviceAccess is never"), "{reason}");
    let diff = diff_snapshots(
        &store,
        &first.committed.snapshot,
        &second.committed.snapshot,
    )
    .await
    .unwrap();
    let access = diff
        .kinds
        .iter()
        .find(|k| k.kind == "device_access")
        .expect("the status change is listed");
    assert_eq!(access.status.as_deref(), Some("complete -> skipped"));
    assert!(access.removed.is_empty(), "{access:?}");
    let verified = verify_connection(&store, None).await.unwrap();
    assert!(verified.ok(), "{:?}", verified.problems);
}
