//! A collection's memory does not grow with the number of tables or devices: the large pages
//! (10,000 System Insights rows or Directory Insights events) it holds at once are bounded,
//! while small pages still go many at a time.

mod client_support;

use std::time::Duration;

use client_support::*;
use jumpcloud_operator::collect::{CollectOptions, NoProgress, collect};
use jumpcloud_operator::jumpcloud::LARGE_PAGES_IN_MEMORY;
use jumpcloud_operator::store::StoreSink;
use jumpcloud_simulator::control::RequestRecord;
use jumpcloud_simulator::{INSIGHT_TABLES, OrgSize, Simulator, SimulatorConfig};

/// The most requests of `requests` in progress at the same moment.
fn most_at_once(requests: &[&RequestRecord]) -> usize {
    let mut edges: Vec<(u64, i64)> = requests
        .iter()
        .flat_map(|r| [(r.started_ms, 1), (r.finished_ms, -1)])
        .collect();
    // An answer ready at the moment another request arrives does not overlap it.
    edges.sort();
    let (mut now, mut most) = (0i64, 0i64);
    for (_, change) in edges {
        now += change;
        most = most.max(now);
    }
    most as usize
}

#[tokio::test]
async fn a_collection_holds_a_bounded_number_of_large_pages_at_once() {
    let sim = Simulator::start(SimulatorConfig {
        org: OrgSize::small(),
        response_delay: Duration::from_millis(20),
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    // Two pages of every table: twelve large pages wanted at once.
    for table in INSIGHT_TABLES {
        control(&sim)
            .set_insights_rows(table, 10_001)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = StoreSink::open(store_in(dir.path())).await.unwrap();
    let report = collect(
        &client(&sim),
        sink,
        &CollectOptions {
            events_days: 30,
            ..CollectOptions::default()
        },
        &NoProgress,
    )
    .await
    .unwrap();
    let insights = report
        .kinds
        .iter()
        .filter(|kind| kind.kind.starts_with("system_insights_"))
        .count();
    assert_eq!(insights, INSIGHT_TABLES.len());

    let requests = control(&sim).requests().await.unwrap();
    let large: Vec<&RequestRecord> = requests
        .iter()
        .filter(|r| r.param("limit").as_deref() == Some("10000") || r.path.ends_with("/events"))
        .collect();
    let small: Vec<&RequestRecord> = requests
        .iter()
        .filter(|r| r.param("limit").as_deref() == Some("100"))
        .collect();
    assert!(
        large.len() >= 2 * INSIGHT_TABLES.len(),
        "{} large pages",
        large.len()
    );
    assert!(
        most_at_once(&large) <= LARGE_PAGES_IN_MEMORY,
        "{} large pages were requested at once",
        most_at_once(&large)
    );
    assert!(
        most_at_once(&small) > LARGE_PAGES_IN_MEMORY,
        "small pages still go many at a time ({} at most)",
        most_at_once(&small)
    );
}
