//! The collector's System Insights tables and the simulator's are two lists in two crates: a
//! table only the collector knows fails every simulated collection at that table, and a table
//! only the simulator serves is evidence nothing collects. This test keeps them equal.

use std::collections::BTreeSet;

#[test]
fn the_simulator_serves_exactly_the_system_insights_tables_the_collector_collects() {
    let collected: BTreeSet<&str> = jumpcloud_operator::collect::INSIGHTS_TABLES
        .into_iter()
        .collect();
    let served: BTreeSet<&str> = jumpcloud_simulator::INSIGHT_TABLES
        .iter()
        .copied()
        .collect();
    let not_served: Vec<_> = collected.difference(&served).collect();
    let not_collected: Vec<_> = served.difference(&collected).collect();
    assert!(
        not_served.is_empty(),
        "collected but not served by the simulator: {not_served:?}; add them to \
         INSIGHT_TABLES and their rows in crates/jumpcloud-simulator/src/generate.rs"
    );
    assert!(
        not_collected.is_empty(),
        "served by the simulator but not collected: {not_collected:?}; add them to \
         INSIGHTS_TABLES in src/collect/collector.rs or remove them from the simulator"
    );
    assert_eq!(
        collected.len(),
        jumpcloud_operator::collect::INSIGHTS_TABLES.len(),
        "the collector lists a table twice"
    );
    assert_eq!(
        served.len(),
        jumpcloud_simulator::INSIGHT_TABLES.len(),
        "the simulator lists a table twice"
    );
}
