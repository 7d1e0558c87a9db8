//! A fleet with work due: the real binary, the Kubernetes API test server, the simulator.
//! Connections whose periodic sync is due queue for JumpCloud behind what a person waits for.

mod operator_support;

use jumpcloud_operator::region::Region;
use jumpcloud_simulator::control::{Fault, FaultKind};
use kube::api::{Patch, PatchParams};
use operator_support::*;
use serde_json::json;

const NS: &str = "fleet";
const DUE: usize = 5;

/// Five connections overdue for their periodic sync, one place to JumpCloud, slow syncs: a
/// connection created while the first periodic sync runs is Ready after at most two of them
/// (it goes next), where a first-come queue made it wait for all five.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_is_served_before_the_periodic_syncs_that_are_due() {
    let mut env = Env::without_operator(&[Region::Us], true)
        .await
        .with_operator(&["--concurrency", "1"])
        .await;
    let key = env.read_only_key(Region::Us);
    env.secret(NS, "jc", &[("api-key", &key)]).await;
    let names: Vec<String> = (0..DUE).map(|i| format!("due-{i}")).collect();
    for name in &names {
        env.connection(NS, name, spec("jc")).await;
    }
    for name in &names {
        env.wait_for(NS, name, DEFAULT_WAIT, "Ready", is_ready)
            .await;
    }
    env.stop_operator().await;

    // A day since every last success: all overdue when the operator comes back.
    let a_day_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    for name in &names {
        env.connections(NS)
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {
                    "lastSuccessfulSyncTime": a_day_ago.to_string(),
                    "lastSyncTime": a_day_ago.to_string(),
                }})),
            )
            .await
            .expect("status patched");
    }
    // Slow syncs: every users page takes a while.
    env.control(Region::Us)
        .inject(
            Fault::new(FaultKind::Delay { delay_ms: 300 })
                .times(1000)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    env.operator = Some(env.spawn_operator(&["--concurrency", "1"]));

    // The first periodic sync runs (its in-progress status is written): a new connection.
    let syncing = |c: &jumpcloud_operator::crd::JumpCloudConnection| {
        condition(c, "Reconciling").is_some_and(|r| r.status == "True")
    };
    let deadline = std::time::Instant::now() + DEFAULT_WAIT;
    let mut running = None;
    while running.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no periodic sync started:\n{}",
            tail(&env.all_logs(), 40)
        );
        for name in &names {
            let c = env.connections(NS).get(name).await.unwrap();
            if syncing(&c) {
                running = Some(name.clone());
            }
        }
        // Polling interval, not synchronisation: the loop ends on the condition.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    env.connection(NS, "new", spec("jc")).await;
    env.wait_for(NS, "new", DEFAULT_WAIT, "Ready", is_ready)
        .await;

    let mut done = 0;
    for name in &names {
        let status = env.connections(NS).get(name).await.unwrap().status.unwrap();
        if status
            .last_successful_sync_time
            .is_some_and(|t| t.0 > a_day_ago)
        {
            done += 1;
        }
    }
    assert!(
        done <= 2,
        "{done} periodic syncs ran before the new connection's first (running first: {running:?})"
    );
    env.stop_operator().await;
}
