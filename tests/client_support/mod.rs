//! Shared helpers for the client and collect tests: a simulator per test, a client with fast
//! retries, and the simulator's control API.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::time::Duration;

use jumpcloud_operator::jumpcloud::{ApiKey, ClientConfig, JumpCloudClient, RetryPolicy};
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::control::SimulatorControl;
use jumpcloud_simulator::{OrgSize, SimAdmin, Simulator, SimulatorConfig};
use secrecy::{ExposeSecret, SecretString};

pub async fn simulator(org: OrgSize) -> Simulator {
    Simulator::start(SimulatorConfig {
        org,
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// A small org with its lists shrunk to `n` users.
pub fn org_with_users(users: usize) -> OrgSize {
    OrgSize {
        users,
        ..OrgSize::small()
    }
}

pub fn control(sim: &Simulator) -> SimulatorControl {
    SimulatorControl::new(sim.base_url(Region::Us).expect("US is served"))
}

/// Retries fast so tests do not wait (the backoff maths is unit-tested separately).
pub fn fast_config(sim: &Simulator, region: Region) -> ClientConfig {
    let mut config = ClientConfig::new(region);
    config.base_url_override = sim.base_url(region);
    config.request_timeout = Duration::from_secs(10);
    config.total_deadline = Duration::from_secs(30);
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_attempts: 5,
    };
    config
}

pub fn client(sim: &Simulator) -> JumpCloudClient {
    client_with(
        sim,
        fast_config(sim, Region::Us),
        sim.read_only_key(Region::Us),
    )
}

pub fn client_with(_sim: &Simulator, config: ClientConfig, key: SecretString) -> JumpCloudClient {
    JumpCloudClient::new(config, ApiKey::new(key.expose_secret()).expect("valid key"))
        .expect("valid config")
}

pub fn read_only_admin(sim: &Simulator) -> SimAdmin {
    sim.admins(Region::Us)
        .into_iter()
        .find(|admin| admin.role_name == "Read Only")
        .expect("the simulator has a Read Only admin")
}

/// A connection's part of a local evidence store in `dir`.
pub fn store_in(dir: &std::path::Path) -> jumpcloud_operator::store::ConnectionStore {
    jumpcloud_operator::store::EvidenceStore::open(dir.to_str().expect("UTF-8 path"))
        .expect("local store opens")
        .connection(&"test/acme".parse().expect("valid connection"))
}

/// Collects into a store in `dir` and returns the committed snapshot.
pub async fn collect_into(
    client: &JumpCloudClient,
    dir: &std::path::Path,
) -> jumpcloud_operator::collect::CollectionReport<jumpcloud_operator::store::CommittedSnapshot> {
    use jumpcloud_operator::collect::{CollectOptions, NoProgress, collect};
    let sink = jumpcloud_operator::store::StoreSink::open(store_in(dir))
        .await
        .expect("store readable");
    collect(client, sink, &CollectOptions::default(), &NoProgress)
        .await
        .expect("collection succeeds")
}
