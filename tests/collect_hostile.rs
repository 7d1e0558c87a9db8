//! Collections against faults that used to commit wrong evidence: repeated System Insights
//! rows, a missing undocumented `/api/users`, a Directory Insights licence that lapses for one
//! collection, and events that keep arriving while the window is paged.

mod client_support;

use client_support::*;
use jumpcloud_operator::collect::{
    CollectOptions, EvaluateControls, KindStatus, NoProgress, collect_with,
};
use jumpcloud_operator::controls::{ControlResult, ControlSettings, ControlStatus};
use jumpcloud_operator::store::{CommittedSnapshot, StoreSink};
use jumpcloud_simulator::OrgSize;
use jumpcloud_simulator::control::{Fault, FaultKind};

async fn collect_evaluated(
    client: &jumpcloud_operator::jumpcloud::JumpCloudClient,
    dir: &std::path::Path,
) -> Result<
    jumpcloud_operator::collect::CollectionReport<CommittedSnapshot>,
    jumpcloud_operator::collect::CollectError,
> {
    let sink = StoreSink::open(store_in(dir)).await.unwrap();
    let evaluate = EvaluateControls::new(
        ControlSettings::default(),
        jumpcloud_operator::controls::SettingsSource::Default,
    );
    collect_with(
        client,
        sink,
        &evaluate,
        &CollectOptions::default(),
        &NoProgress,
    )
    .await
}

fn results(committed: &CommittedSnapshot) -> &[ControlResult] {
    &committed.controls.as_ref().expect("evaluated").results
}

fn dormant(committed: &CommittedSnapshot) -> &ControlResult {
    results(committed)
        .iter()
        .find(|r| r.title == "No dormant accounts")
        .expect("the dormant-accounts control")
}

#[tokio::test]
async fn a_shifted_system_insights_page_commits_nothing() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .set_insights_rows("disk_encryption", 10_005)
        .await
        .unwrap();
    control(&sim)
        .inject(
            Fault::new(FaultKind::Shift { by: 5 })
                .times(2)
                .on_path("/api/v2/systeminsights/disk_encryption"),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let error = collect_evaluated(&client(&sim), dir.path())
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(error.reason(), "DuplicateRecord");
    assert!(
        error
            .to_string()
            .contains("/api/v2/systeminsights/disk_encryption"),
        "{error}"
    );
    assert!(store_in(dir.path()).latest().await.unwrap().is_none());
}

#[tokio::test]
async fn a_missing_admin_list_is_recorded_unavailable_and_its_controls_say_so() {
    let sim = simulator(OrgSize::small()).await;
    for status in [404, 405] {
        control(&sim)
            .set_route_status("/api/users", Some(status))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let report = collect_evaluated(&client(&sim), dir.path()).await.unwrap();
        let admins = report
            .manifest
            .kinds
            .iter()
            .find(|k| k.kind == "administrators")
            .unwrap();
        assert_eq!(admins.status, KindStatus::Unavailable);
        assert_eq!(admins.records, 0);
        let reason = admins.reason.as_deref().unwrap();
        assert!(
            reason.contains(&format!("HTTP {status}")) && reason.contains("/api/users"),
            "{reason}"
        );
        let stored = report.committed.snapshot.kind("administrators").unwrap();
        assert_eq!(stored.status, "unavailable");
        // Every control that reads the administrators is an error naming why, never a pass.
        let needing: Vec<&ControlResult> = results(&report.committed)
            .iter()
            .filter(|r| r.evidence_kinds.iter().any(|k| k == "administrators"))
            .collect();
        assert!(!needing.is_empty());
        for result in needing {
            assert_eq!(result.status, ControlStatus::Error, "{}", result.id);
            assert!(
                result.summary.contains("administrators")
                    && result.summary.contains("not available")
                    && result.summary.contains(&format!("HTTP {status}")),
                "{}: {}",
                result.id,
                result.summary
            );
        }
        // The rest of the snapshot is there.
        let users = report.kinds.iter().find(|k| k.kind == "users").unwrap();
        assert_eq!(users.records, 60);
    }
}

#[tokio::test]
async fn one_unlicensed_collection_keeps_the_stored_history_and_its_coverage() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    let first = collect_evaluated(&client(&sim), dir.path()).await.unwrap();
    let since = first.committed.snapshot.manifest.events_since.unwrap();
    assert_ne!(
        dormant(&first.committed).status,
        ControlStatus::Error,
        "{}",
        dormant(&first.committed).summary
    );
    let history = first
        .committed
        .snapshot
        .kind("directory_insights_events")
        .unwrap()
        .blobs
        .clone();
    assert!(!history.is_empty());

    control(&sim).set_directory_insights(false).await.unwrap();
    let unlicensed = collect_evaluated(&client(&sim), dir.path()).await.unwrap();
    let snapshot = &unlicensed.committed.snapshot;
    // The history and where it starts are kept; this collection's own window is empty.
    assert_eq!(snapshot.manifest.events_since, Some(since));
    assert_eq!(
        snapshot.kind("directory_insights_events").unwrap().blobs,
        history
    );
    assert_eq!(
        snapshot.kind("directory_insights_events").unwrap().status,
        "not-licensed"
    );
    let window = &unlicensed.manifest.events_window;
    assert_eq!(window.start, window.end, "no events were collected");
    assert!(window.end <= first.manifest.events_window.end);
    let result = dormant(&unlicensed.committed);
    assert_eq!(result.status, ControlStatus::Error);
    assert!(
        result.summary.contains("not licensed"),
        "{}",
        result.summary
    );

    control(&sim).set_directory_insights(true).await.unwrap();
    let relicensed = collect_evaluated(&client(&sim), dir.path()).await.unwrap();
    assert_eq!(
        relicensed.committed.snapshot.manifest.events_since,
        Some(since),
        "the coverage continues from the first collection"
    );
    let result = dormant(&relicensed.committed);
    assert_ne!(result.status, ControlStatus::Error, "{}", result.summary);
}

#[tokio::test]
async fn the_event_count_and_every_page_read_one_window_pinned_at_the_start() {
    // The simulator's clock runs two seconds ahead, so the events it adds are surely newer
    // than the collection's start, whatever the rounding of its start time.
    let sim = jumpcloud_simulator::Simulator::start(jumpcloud_simulator::SimulatorConfig {
        org: OrgSize {
            events: 21_000,
            ..OrgSize::small()
        },
        now: Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2)),
        ..Default::default()
    })
    .await
    .unwrap();
    // Events keep arriving while the window is paged (each request adds one, timestamped by
    // the simulator's clock, after the collection started).
    control(&sim)
        .inject(
            Fault::new(FaultKind::Grow {
                records: jumpcloud_simulator::control::GrowRecords::Events,
                count: 1,
            })
            .times(4)
            .on_path("/insights/directory/v1/events"),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = collect_evaluated(&client(&sim), dir.path()).await.unwrap();
    let window = &report.manifest.events_window;
    let bodies: Vec<serde_json::Value> = control(&sim)
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.path.starts_with("/insights/directory/v1/events"))
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    // The count, then three pages (two full ones and the short last one).
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    for body in &bodies {
        assert_eq!(body["end_time"], window.end.to_string(), "{body}");
        assert_eq!(body["start_time"], window.start.to_string(), "{body}");
    }
    assert!(window.end <= report.manifest.started_at + jiff::SignedDuration::from_secs(1));
    let events = report
        .kinds
        .iter()
        .find(|k| k.kind == "directory_insights_events")
        .unwrap();
    // The count and the pages agree although four events arrived meanwhile.
    assert_eq!(
        Some(events.records),
        report
            .manifest
            .kinds
            .iter()
            .find(|k| k.kind == "directory_insights_events")
            .unwrap()
            .total_reported
    );
    assert!(events.records > 20_000, "{}", events.records);
    let orgs = control(&sim).orgs().await.unwrap();
    let served = orgs.values().next().unwrap()["events"].as_u64().unwrap();
    assert_eq!(served, 21_004, "an event arrived with each request");
}
