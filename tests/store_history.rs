//! The policy results history in the evidence store, driven through the `SnapshotSink` /
//! `KindSink` traits the collector uses, without HTTP: each collection appends only results not
//! stored before, the position and the coverage are recorded in the manifest, and a gap longer
//! than the API keeps restarts the coverage and says so.

use jiff::Timestamp;
use jumpcloud_operator::collect::{
    COLLECTION_FORMAT, EventsWindow, KindEntry, KindSink, KindStatus, Manifest, ManifestOrg,
    POLICY_RESULTS_KIND, SnapshotSink, history_window,
};
use jumpcloud_operator::region::Region;
use jumpcloud_operator::store::verify::verify_connection;
use jumpcloud_operator::store::{ConnectionStore, EvidenceStore, Snapshot, StoreSink};
use serde_json::{Value, json};

const ORG_ID: &str = "5f3c8a1e9b2d4c0012ab34cd";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn result(id: &str, ended: &str) -> String {
    json!({"id": id, "policyID": "p1", "systemID": "d1", "state": "success", "success": true,
           "endedAt": ended, "startedAt": ended})
    .to_string()
}

/// One collection at `started_at` returning, of `available`, the results of its window; answers
/// what `history_end` said and the snapshot.
async fn collect(
    store: &ConnectionStore,
    started_at: &str,
    available: &[(&str, &str)],
) -> (Option<Timestamp>, Snapshot) {
    let started_at = at(started_at);
    let mut sink = StoreSink::open(store.clone()).await.unwrap();
    let org = ManifestOrg {
        id: ORG_ID.to_owned(),
        name: "Acme Corp".to_owned(),
    };
    sink.begin(&org).unwrap();
    let resumed = sink.history_end(POLICY_RESULTS_KIND);
    let window = history_window(started_at, 90, resumed);
    let mut writer = sink.open_kind(POLICY_RESULTS_KIND).await.unwrap();
    let mut reported = 0;
    for (id, ended) in available {
        let ended_at = at(ended);
        if ended_at >= window.start && ended_at < window.end {
            writer
                .write_record(result(id, ended).as_bytes())
                .await
                .unwrap();
            reported += 1;
        }
    }
    let written = writer.finish().await.unwrap();
    let entry = KindEntry {
        kind: POLICY_RESULTS_KIND.to_owned(),
        file: written.file,
        records: written.records,
        total_reported: Some(reported),
        sha256: written.sha256,
        bytes: written.bytes,
        endpoints: vec!["/api/v2/policyresults".to_owned()],
        status: KindStatus::Complete,
        parent_field: None,
        reason: None,
    };
    let manifest = Manifest {
        format: COLLECTION_FORMAT,
        collector_version: "0.0.0-test".to_owned(),
        org,
        region: Region::Us,
        key_fingerprint: "sha256:0f1e2d3c4b5a6978".to_owned(),
        administrator_role: None,
        administrator_key_expires_at: None,
        started_at,
        finished_at: started_at,
        events_window: EventsWindow {
            start: started_at,
            end: started_at,
        },
        histories: [(POLICY_RESULTS_KIND.to_owned(), window)].into(),
        kinds: vec![entry],
    };
    let staged = sink.stage(&manifest).unwrap();
    let committed = sink.commit(staged).await.unwrap();
    (resumed, committed.snapshot)
}

fn coverage(snapshot: &Snapshot) -> Value {
    snapshot.manifest.collection["history_coverage"][POLICY_RESULTS_KIND].clone()
}

async fn stored_ids(store: &ConnectionStore, snapshot: &Snapshot) -> Vec<String> {
    let kind = snapshot.kind(POLICY_RESULTS_KIND).unwrap();
    let bytes = store.read_kind(kind).await.unwrap();
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_history_grows_by_new_results_only_and_records_its_coverage_and_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::open(dir.path().to_str().unwrap())
        .unwrap()
        .connection(&"test/acme".parse().unwrap());
    let results = [
        ("r1", "2026-03-01T10:00:00.000Z"),
        ("r2", "2026-03-05T10:00:00.000Z"),
        ("r3", "2026-03-05T10:00:00.000Z"),
        ("r4", "2026-03-07T09:00:00.000Z"),
    ];
    // First collection: 90 days back, everything before it.
    let (resumed, first) = collect(&store, "2026-03-06T00:00:00Z", &results).await;
    assert_eq!(resumed, None);
    assert_eq!(stored_ids(&store, &first).await, ["r1", "r2", "r3"]);
    let first_coverage = coverage(&first);
    assert_eq!(first_coverage["completeSince"], "2025-12-06T00:00:00Z");
    assert_eq!(
        first_coverage["position"]["last_timestamp"],
        "2026-03-05T10:00:00Z"
    );
    assert_eq!(
        first_coverage["position"]["ids_at_last"],
        json!(["r2", "r3"])
    );
    assert!(first_coverage.get("restarted").is_none());

    // Two days later: continues at the stored position; r2 and r3 come again and are dropped.
    let (resumed, second) = collect(&store, "2026-03-08T00:00:00Z", &results).await;
    assert_eq!(resumed, Some(at("2026-03-05T10:00:00Z")));
    assert_eq!(stored_ids(&store, &second).await, ["r1", "r2", "r3", "r4"]);
    let second_coverage = coverage(&second);
    assert_eq!(
        second_coverage["completeSince"],
        first_coverage["completeSince"]
    );
    assert_eq!(second_coverage["completeUntil"], "2026-03-08T00:00:00Z");
    let earlier = &first.kind(POLICY_RESULTS_KIND).unwrap().blobs;
    assert!(
        second
            .kind(POLICY_RESULTS_KIND)
            .unwrap()
            .blobs
            .starts_with(earlier)
    );

    // Half a year without a collection: JumpCloud no longer has what ended in between (assumed
    // 90 days), so the coverage restarts at the new window and says why.
    let later = [("r5", "2026-09-01T00:00:00.000Z")];
    let (_, third) = collect(&store, "2026-09-10T00:00:00Z", &later).await;
    let third_coverage = coverage(&third);
    assert_eq!(third_coverage["completeSince"], "2026-06-12T00:00:00Z");
    let why = third_coverage["restarted"].as_str().unwrap();
    assert!(why.contains("complete until 2026-03-08"), "{why}");
    assert_eq!(
        stored_ids(&store, &third).await.len(),
        5,
        "the earlier history is kept"
    );

    // A collection after that continues the restarted coverage, and the chain verifies.
    let (_, fourth) = collect(&store, "2026-09-11T00:00:00Z", &later).await;
    assert_eq!(coverage(&fourth)["completeSince"], "2026-06-12T00:00:00Z");
    assert!(coverage(&fourth).get("restarted").is_none());
    let report = verify_connection(&store, None).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.snapshots, 4);
}
