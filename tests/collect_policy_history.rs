//! The policy results history against the simulator over several simulated days: the first
//! collection reads the whole window, the next ones only what ended since, every result is
//! stored exactly once, the coverage is recorded and the snapshots verify.

mod client_support;

use client_support::*;
use jumpcloud_operator::store::Records;
use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig};

const KIND: &str = "policy_results_history";
const PATH: &str = "/api/v2/policyresults";

/// The ids of the stored history of the latest snapshot, and its record count.
async fn stored_results(dir: &std::path::Path) -> (Vec<String>, u64) {
    let store = store_in(dir);
    let latest = store.latest().await.unwrap().unwrap();
    let kind = latest.kind(KIND).expect("the kind is stored").clone();
    let bytes = store.read_kind(&kind).await.unwrap();
    let ids = bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_slice(line).unwrap();
            value["id"].as_str().unwrap().to_owned()
        })
        .collect();
    (ids, kind.records)
}

/// The `filter` values of the history requests, and their number.
async fn history_requests(sim: &Simulator) -> (Vec<String>, usize) {
    let log = control(sim).requests().await.unwrap();
    let requests: Vec<_> = log.iter().filter(|r| r.path == PATH).collect();
    let mut filters: Vec<String> = requests
        .iter()
        .flat_map(|r| url::form_urlencoded::parse(r.query.as_bytes()).into_owned())
        .filter(|(name, _)| name == "filter")
        .map(|(_, value)| value)
        .collect();
    filters.sort();
    filters.dedup();
    (filters, requests.len())
}

#[tokio::test]
async fn each_collection_reads_only_the_results_that_ended_since_and_stores_each_once() {
    // The simulator's clock starts days back, so that the days advanced stay before the wall
    // clock, which ends each collection's window.
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 10);
    let sim = Simulator::start(SimulatorConfig {
        org: OrgSize::small(),
        now: Some(start),
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim);

    let first = collect_into(&client, dir.path()).await;
    let entry = |report: &jumpcloud_operator::collect::CollectionReport<_>| {
        report
            .manifest
            .kinds
            .iter()
            .find(|k| k.kind == KIND)
            .unwrap()
            .clone()
    };
    let first_entry = entry(&first);
    assert!(first_entry.records > 1_000, "{first_entry:?}");
    assert_eq!(first_entry.total_reported, Some(first_entry.records));
    let (filters, first_requests) = history_requests(&sim).await;
    assert_eq!(filters.len(), 2, "{filters:?}");
    assert!(filters.iter().any(|f| f.starts_with("endedAt:ge:")));
    assert!(filters.iter().any(|f| f.starts_with("endedAt:lt:")));
    assert_eq!(first_requests as u64, first_entry.records.div_ceil(100));
    let coverage = |snapshot: &jumpcloud_operator::store::Snapshot| {
        snapshot.manifest.collection["history_coverage"][KIND].clone()
    };
    let first_coverage = coverage(&first.committed.snapshot);
    let since: jiff::Timestamp = first_coverage["completeSince"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let window_start = first.manifest.histories[KIND].start;
    assert_eq!(since, window_start, "{first_coverage}");
    assert!(
        first.manifest.started_at.as_second() - since.as_second() >= 90 * 86_400 - 1,
        "the first collection reads 90 days"
    );

    // Two simulated days: new results arrive; the next collection asks only from the stored
    // position on and stores only what it did not have.
    control(&sim).reset().await.unwrap();
    control(&sim).advance_days(2).await.unwrap();
    let second = collect_into(&client, dir.path()).await;
    let second_entry = entry(&second);
    let (filters, second_requests) = history_requests(&sim).await;
    let position = first_coverage["position"]["last_timestamp"]
        .as_str()
        .unwrap();
    let position: jiff::Timestamp = position.parse().unwrap();
    let from = filters
        .iter()
        .find_map(|f| f.strip_prefix("endedAt:ge:"))
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    assert_eq!(from, position, "continues from the stored position");
    assert!(second_entry.records > 0, "{second_entry:?}");
    assert!(
        second_entry.records < first_entry.records / 10,
        "{second_entry:?}"
    );
    // The boundary results (at the stored position) are read again and dropped by id.
    let total = second_entry.total_reported.unwrap();
    assert!(total >= second_entry.records && total - second_entry.records <= 10);
    assert_eq!(second_requests as u64, total.div_ceil(100));
    let second_coverage = coverage(&second.committed.snapshot);
    assert_eq!(
        second_coverage["completeSince"],
        first_coverage["completeSince"]
    );

    // A third collection with no day passed reads only the boundary and stores nothing.
    control(&sim).reset().await.unwrap();
    let third = collect_into(&client, dir.path()).await;
    assert_eq!(entry(&third).records, 0);
    let (_, third_requests) = history_requests(&sim).await;
    assert_eq!(third_requests, 1);

    let (ids, records) = stored_results(dir.path()).await;
    assert_eq!(
        records,
        first_entry.records + second_entry.records,
        "the history is the segments of every collection"
    );
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "every result stored exactly once");
    let stored = store_in(dir.path()).latest().await.unwrap().unwrap();
    // The first collection's segment (its chunks) comes first, then the second's.
    let earlier = &first.committed.snapshot.kind(KIND).unwrap().blobs;
    let later = &stored.kind(KIND).unwrap().blobs;
    assert!(later.len() > earlier.len() && later.starts_with(earlier));

    // What the simulator serves from the first window's start on is exactly what is stored (the
    // simulator's clock is 10 days behind the collector's, which starts its first window 90
    // days back from its own).
    let served = client
        .list_all::<serde_json::Value>(jumpcloud_operator::jumpcloud::ListRequest::v2(
            "check", PATH,
        ))
        .await
        .unwrap();
    let served: Vec<_> = served
        .iter()
        .filter(|r| {
            r["endedAt"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                >= window_start
        })
        .collect();
    let missing = served
        .iter()
        .filter(|r| {
            unique
                .binary_search(&r["id"].as_str().unwrap().to_owned())
                .is_err()
        })
        .count();
    assert_eq!(missing, 0, "served results not stored");
    assert_eq!(served.len(), unique.len());

    // The snapshot chain verifies, the new kind's segments included, and the control reads it.
    let report = jumpcloud_operator::store::verify::verify_connection(&store_in(dir.path()), None)
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let evidence = jumpcloud_operator::store::load_evidence(
        &store_in(dir.path()),
        &stored,
        Records::ForControls,
    )
    .await
    .unwrap();
    let held = jumpcloud_operator::controls::evaluate(
        "JC-E8-POLICY-COMPLIANCE-HELD",
        &evidence,
        &Default::default(),
        evidence.meta.finished_at.unwrap(),
    )
    .unwrap();
    // The generated org: most bindings hold, a few fail for a stretch, each with a reason.
    assert_eq!(
        held.status,
        jumpcloud_operator::controls::ControlStatus::Fail,
        "{held:#?}"
    );
    assert!(held.evaluated > 100, "{}", held.evaluated);
    assert!(
        held.failing.len() * 5 < held.evaluated as usize,
        "{}",
        held.failing.len()
    );
    assert!(held.failing.iter().all(|f| f.why.contains("below 95%")));
}

#[tokio::test]
async fn the_simulator_serves_the_documented_filter_and_sort_and_refuses_the_rest() {
    use secrecy::ExposeSecret;
    let sim = simulator(OrgSize::small()).await;
    let base = sim.base_url(jumpcloud_simulator::Region::Us).unwrap();
    let key = sim.read_only_key(jumpcloud_simulator::Region::Us);
    let http = reqwest::Client::new();
    let get = |query: &str| {
        http.get(format!("{base}{PATH}?{query}"))
            .header("x-api-key", key.expose_secret())
            .send()
    };
    let total = |response: &reqwest::Response| -> u64 {
        response.headers()["x-total-count"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let all = get("limit=100").await.unwrap();
    assert_eq!(all.status(), 200);
    let everything = total(&all);
    assert!(everything > 1_000);
    // The newest first: the first result of the descending order ends last.
    let newest: Vec<serde_json::Value> = get("limit=1&sort=-endedAt,-id")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = newest[0]["endedAt"].as_str().unwrap().to_owned();
    // Two filters must both hold; `lt` the newest leaves everything but the results at it.
    let before = get(&format!(
        "filter=endedAt:lt:{at}&filter=endedAt:ge:2000-01-01T00:00:00Z"
    ))
    .await
    .unwrap();
    let at_newest = get(&format!("filter=endedAt:eq:{at}")).await.unwrap();
    let not_newest = get(&format!("filter=endedAt:ne:{at}")).await.unwrap();
    assert_eq!(total(&before) + total(&at_newest), everything);
    assert_eq!(total(&not_newest), total(&before));
    assert!(total(&at_newest) >= 1);
    for query in [
        "filter=state:eq:failed",
        "filter=endedAt:between:2026-01-01T00:00:00Z",
        "filter=endedAt:ge:yesterday",
        "filter=endedAt",
        "sort=name",
        "limit=101",
    ] {
        let response = get(query).await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
    }
}
