//! The operator evaluates the compliance controls after each sync: the real binary, the
//! Kubernetes API test server and the simulator.

mod operator_support;

use jumpcloud_operator::crd::JumpCloudConnection;
use jumpcloud_operator::region::Region;
use jumpcloud_operator::store::load_controls;
use operator_support::*;
use serde_json::json;

const DISK: &str = "JC-E1-DISK-ENCRYPTION";

fn controls_evaluated_after(c: &JumpCloudConnection, sync: Option<&str>) -> bool {
    let Some(status) = &c.status else {
        return false;
    };
    let synced_after = match sync {
        None => true,
        Some(request) => status.last_handled_sync_request.as_deref() == Some(request),
    };
    is_ready(c) && synced_after && status.controls.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_are_evaluated_reported_summarised_and_configurable() {
    let env = Env::start(&[Region::Us]).await;
    let key = env.read_only_key(Region::Us);
    env.secret("compliance", "jc", &[("api-key", &key)]).await;
    env.connection("compliance", "acme", spec("jc")).await;
    let c = env
        .wait_for(
            "compliance",
            "acme",
            DEFAULT_WAIT,
            "Ready with controls",
            |c| controls_evaluated_after(c, None),
        )
        .await;
    let controls = c.status.unwrap().controls.unwrap();
    assert!(controls.failing > 0, "{controls:?}");
    assert!(
        controls.failing_ids.iter().any(|id| id == DISK),
        "{controls:?}"
    );
    assert_eq!(controls.failing, controls.failing_ids.len() as u64);
    assert!(controls.passing > 0, "{controls:?}");
    assert!(controls.evaluated_at.is_some());

    // The results are stored with the snapshot (its manifest references them), and the
    // auditor report next to it.
    let store = env.store("compliance", "acme");
    let snapshot = env.latest_snapshot("compliance", "acme").await.unwrap();
    let stored = load_controls(&store, &snapshot).await.unwrap().unwrap();
    let results = serde_json::to_value(&stored).unwrap();
    assert_eq!(results["summary"]["failing"], json!(controls.failing));
    let disk = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == DISK)
        .unwrap();
    assert_eq!(disk["status"], "fail");
    let failing_devices = disk["failing"].as_array().unwrap().len();
    assert!(failing_devices > 0);
    let html = store.read_report(&snapshot.id).await.unwrap().unwrap();
    let html = String::from_utf8_lossy(&html);
    assert!(html.contains("<html") && html.contains(DISK));
    assert!(
        html.contains(&snapshot.sha256),
        "the report names the snapshot digest"
    );

    // One Warning Event for the whole evaluation names the failing controls with their counts
    // and the command that gets the per-control detail (not one Event per control).
    let event = env
        .wait_event("compliance", "acme", "ControlsChanged", DEFAULT_WAIT)
        .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    let note = event.note.unwrap_or_default();
    assert!(
        note.contains(&format!("{} newly failing", controls.failing))
            && note.contains(&format!("{DISK} ({failing_devices})"))
            && note.contains("jumpcloud-operator report --from-cluster compliance/acme"),
        "{note}"
    );
    let summary_events = |events: Vec<k8s_openapi::api::events::v1::Event>| {
        events
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("ControlsChanged"))
            .count()
    };
    assert_eq!(summary_events(env.events("compliance").await), 1);

    // kubectl shows the Failing column.
    let out = env.kubectl(&["get", "jcc", "-n", "compliance"], None).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("  ")
        .filter(|s| !s.is_empty())
        .map(str::trim)
        .collect();
    let row = lines.next().unwrap();
    assert!(header.contains(&"FAILING"), "{table}");
    assert!(
        row.split_whitespace()
            .any(|cell| cell == controls.failing.to_string()),
        "{table}"
    );

    // Disabling the control and asking for a sync: it is no longer failing, no new event for
    // controls that keep failing.
    env.patch_connection(
        "compliance",
        "acme",
        json!({
            "metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": "disable-disk"}},
            "spec": {"controls": {"disabledControls": [DISK]}},
        }),
    )
    .await;
    let c = env
        .wait_for(
            "compliance",
            "acme",
            DEFAULT_WAIT,
            "second sync evaluated",
            |c| controls_evaluated_after(c, Some("disable-disk")),
        )
        .await;
    let after = c.status.unwrap().controls.unwrap();
    assert!(!after.failing_ids.iter().any(|id| id == DISK), "{after:?}");
    assert_eq!(after.failing, controls.failing - 1, "{after:?}");
    assert_eq!(after.not_applicable, controls.not_applicable + 1);
    let snapshot = env.latest_snapshot("compliance", "acme").await.unwrap();
    let stored = load_controls(&store, &snapshot).await.unwrap().unwrap();
    let results = serde_json::to_value(&stored).unwrap();
    assert_eq!(results["settings"]["disabledControls"], json!([DISK]));
    assert_eq!(results["settingsSources"]["disabledControls"], json!("crd"));
    assert_eq!(
        results["settingsSources"]["staleDeviceDays"],
        json!("default")
    );
    // The second report shows the chain position and what changed since the first snapshot.
    assert_eq!(snapshot.manifest.sequence, 1);
    let html = store.read_report(&snapshot.id).await.unwrap().unwrap();
    let html = String::from_utf8_lossy(&html);
    assert!(
        html.contains("Changes since the previous snapshot"),
        "{html}"
    );
    assert!(
        html.contains("<code>screenLockMinutes</code> = 15 (default)"),
        "{html}"
    );
    assert_eq!(
        summary_events(env.events("compliance").await),
        1,
        "no new ControlsChanged event when no control changed"
    );

    env.assert_no_key_leak().await;
}
