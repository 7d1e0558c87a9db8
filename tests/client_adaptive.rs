//! The adaptive request limit against the simulator's rate limit: a collection still completes
//! with every record, every `Retry-After` pauses the whole client, and a throttled client keeps
//! its rate below the limit instead of hammering it.

mod client_support;

use std::time::Duration;

use client_support::*;
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig};

async fn slow_simulator(org: OrgSize) -> Simulator {
    slow_simulator_at(org, None).await
}

/// `now`: the simulated clock's start. Two simulators compared record for record share it: the
/// policy results history's 90-day edge moves with the clock, so simulators started seconds
/// apart can serve a result more or fewer.
async fn slow_simulator_at(org: OrgSize, now: Option<jiff::Timestamp>) -> Simulator {
    Simulator::start(SimulatorConfig {
        org,
        now,
        response_delay: Duration::from_millis(20),
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// A client that retries as production does (`Retry-After` honoured), with a long deadline.
fn patient_client(sim: &Simulator) -> jumpcloud_operator::jumpcloud::JumpCloudClient {
    let mut config = fast_config(sim, Region::Us);
    config.total_deadline = Duration::from_secs(120);
    config.retry.max_attempts = 8;
    client_with(sim, config, sim.read_only_key(Region::Us))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_collection_completes_and_pauses_on_every_retry_after() {
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let unlimited = slow_simulator_at(OrgSize::small(), Some(now)).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = collect_into(&patient_client(&unlimited), dir.path()).await;

    let sim = slow_simulator_at(OrgSize::small(), Some(now)).await;
    sim.set_rate_limit(Some(20));
    let dir = tempfile::tempdir().unwrap();
    let report = collect_into(&patient_client(&sim), dir.path()).await;
    let records = |report: &jumpcloud_operator::collect::CollectionReport<_>| {
        report
            .manifest
            .kinds
            .iter()
            .map(|k| (k.kind.clone(), k.status, k.records))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        records(&report),
        records(&reference),
        "the same evidence as without a limit"
    );

    let requests = control(&sim).requests().await.unwrap();
    let throttled: Vec<_> = requests.iter().filter(|r| r.status == 429).collect();
    assert!(
        !throttled.is_empty(),
        "20/s is below what 16 in flight send: the limit was hit"
    );
    // Retry-After is 1 s: once a 429 is answered, no new request starts for that long. Requests
    // the client had admitted just before it may still arrive within a few milliseconds, so the
    // window starts 100 ms after the answer. (Pacing alone would send about 13 here.)
    for answer in &throttled {
        let paused = answer.finished_ms + 100..answer.finished_ms + 900;
        let started_in_pause: Vec<u64> = requests
            .iter()
            .filter(|r| paused.contains(&r.started_ms))
            .map(|r| r.started_ms)
            .collect();
        assert!(
            started_in_pause.is_empty(),
            "requests started during the Retry-After of the 429 answered at {} ms: {started_in_pause:?}",
            answer.finished_ms
        );
    }
    // After the first throttle the client paces itself: later 429s are rare.
    let first = throttled[0].finished_ms;
    let later = requests.iter().filter(|r| r.started_ms > first + 1000);
    let (all, refused) = later.fold((0, 0), |(all, refused), r| {
        (all + 1, refused + u64::from(r.status == 429))
    });
    assert!(all > 20, "the collection went on after the pause ({all})");
    assert!(
        refused * 10 <= all,
        "{refused} of {all} later requests were refused: the client did not slow down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_limit_the_client_grows_to_its_maximum_and_one_means_one() {
    let sim = slow_simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    collect_into(&patient_client(&sim), dir.path()).await;
    let counters = control(&sim).counters().await.unwrap();
    assert_eq!(counters.by_status.get("429"), None);
    assert!(
        counters.max_in_flight > 8,
        "slow start from 4 reaches past 8 in flight: {}",
        counters.max_in_flight
    );
    assert!(counters.max_in_flight <= 16);

    let sim = slow_simulator(OrgSize::small()).await;
    let mut config = fast_config(&sim, Region::Us);
    config.concurrency = 1;
    let dir = tempfile::tempdir().unwrap();
    collect_into(
        &client_with(&sim, config, sim.read_only_key(Region::Us)),
        dir.path(),
    )
    .await;
    assert_eq!(control(&sim).counters().await.unwrap().max_in_flight, 1);
}
