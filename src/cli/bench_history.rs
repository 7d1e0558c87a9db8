//! `bench --history-days N`: N days of daily snapshots of an org that changes the way real orgs
//! do (the simulator's clock advanced a day between collections: every device checks in, ~1% of
//! the users change, a day of events arrives), each a real `collect` into one evidence store in
//! a child process. Prints the store's size after each day, one snapshot's stored size and the
//! bytes each day adds: what compression and chunking make of an evidence history.

use std::path::Path;
use std::time::Instant;

use jumpcloud_simulator::{OrgSize, Region, Simulator, SimulatorConfig};

use super::collect::RunStats;

const CONNECTION: &str = "bench/history";
const MB: f64 = 1_000_000.0;

/// Bytes of the files under `dir`, by top-level folder of the connection (`blobs`,
/// `snapshots`, `reports`).
#[derive(Debug, Default, Clone, Copy)]
struct StoreSize {
    blobs: u64,
    snapshots: u64,
    reports: u64,
    files: u64,
}

impl StoreSize {
    fn total(&self) -> u64 {
        self.blobs + self.snapshots + self.reports
    }
}

fn walk(dir: &Path, into: &mut u64, files: &mut u64) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&entry.path(), into, files)?;
        } else {
            *into += meta.len();
            *files += 1;
        }
    }
    Ok(())
}

fn store_size(connection: &Path) -> Result<StoreSize, String> {
    let mut size = StoreSize::default();
    for (name, into) in [
        ("blobs", &mut size.blobs),
        ("snapshots", &mut size.snapshots),
        ("reports", &mut size.reports),
    ] {
        let dir = connection.join(name);
        if dir.is_dir() {
            walk(&dir, into, &mut size.files)
                .map_err(|error| format!("cannot measure {}: {error}", dir.display()))?;
        }
    }
    Ok(size)
}

/// Runs the history benchmark: `days` days after a first snapshot, at `concurrency`.
pub async fn run(org: OrgSize, size_name: &str, days: u32, concurrency: u16) -> Result<(), String> {
    // The simulator's clock starts far enough back that a year of days stays before the wall
    // clock, which ends each collection's events window. That window (the collector's own clock,
    // at most 90 days back while no event is stored) reaches the simulator's events only in the
    // last ~88 simulated days of a year: before that, the days add no events (BENCHMARKS.md
    // says what that leaves out).
    let start_at =
        jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * (i64::from(days) + 2));
    let simulator = Simulator::start(SimulatorConfig {
        org: org.clone(),
        now: Some(start_at),
        ..SimulatorConfig::default()
    })
    .await
    .map_err(|error| format!("cannot start the simulator: {error}"))?;
    let control = simulator
        .control(Region::Us)
        .ok_or("the simulator serves no US region")?;
    let reader = simulator
        .admins(Region::Us)
        .into_iter()
        .find(|admin| admin.role_name == "Read Only")
        .ok_or("the simulator has no Read Only administrator")?;
    // Its key would expire within the simulated year.
    control
        .set_key_expiry(&reader.id, None)
        .await
        .map_err(|error| format!("cannot extend the key: {error}"))?;
    let work = tempfile::tempdir().map_err(|error| format!("cannot create a temp dir: {error}"))?;
    let store = work.path().join("store");
    let connection_dir = store.join(CONNECTION);
    eprintln!(
        "bench history: {size_name} org ({} users, {} devices), {days} days after the first snapshot, \
         0 ms per response, concurrency {concurrency}, store {}",
        org.users,
        org.devices,
        store.display()
    );
    println!("day  collect_s  stored_MB  added_MB  blobs_MB  reports_MB  files");
    let mut first: Option<StoreSize> = None;
    let mut previous = StoreSize::default();
    let mut collect_seconds = Vec::new();
    let mut advance_seconds = Vec::new();
    for day in 0..=days {
        if day > 0 {
            let started = Instant::now();
            control
                .advance_days(1)
                .await
                .map_err(|error| format!("cannot advance the simulator's clock: {error}"))?;
            advance_seconds.push(started.elapsed().as_secs_f64());
        }
        let stats = collect_into(&simulator, &store, concurrency, work.path()).await?;
        collect_seconds.push(stats.seconds);
        let size = store_size(&connection_dir)?;
        println!(
            "{day:>3}  {:>9.2}  {:>9.1}  {:>8.2}  {:>8.1}  {:>10.1}  {:>5}",
            stats.seconds,
            size.total() as f64 / MB,
            (size.total() - previous.total()) as f64 / MB,
            size.blobs as f64 / MB,
            size.reports as f64 / MB,
            size.files
        );
        first.get_or_insert(size);
        previous = size;
    }
    simulator.shutdown().await;
    let first = first.unwrap_or_default();
    let per_day = if days > 0 {
        (previous.total() - first.total()) as f64 / f64::from(days)
    } else {
        0.0
    };
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
    println!();
    println!(
        "one snapshot stored: {:.2} MB ({:.2} MB evidence blobs, {:.2} MB report)",
        first.total() as f64 / MB,
        first.blobs as f64 / MB,
        first.reports as f64 / MB
    );
    println!(
        "store after {days} days: {:.1} MB ({:.1} MB blobs, {:.1} MB manifests, {:.1} MB reports, {} files)",
        previous.total() as f64 / MB,
        previous.blobs as f64 / MB,
        previous.snapshots as f64 / MB,
        previous.reports as f64 / MB,
        previous.files
    );
    println!(
        "added per day: {:.2} MB; at that rate 365 days: {:.0} MB",
        per_day / MB,
        (first.total() as f64 + 365.0 * per_day) / MB
    );
    println!(
        "collect: first {:.2} s, mean {:.2} s over {} runs; advancing a day: mean {:.2} s",
        collect_seconds.first().copied().unwrap_or_default(),
        mean(&collect_seconds),
        collect_seconds.len(),
        mean(&advance_seconds)
    );
    Ok(())
}

/// One `collect` into the store, in a child process (its memory is its own).
async fn collect_into(
    simulator: &Simulator,
    store: &Path,
    concurrency: u16,
    work: &Path,
) -> Result<RunStats, String> {
    let destination = [
        "--connection".into(),
        CONNECTION.into(),
        "--store".into(),
        format!("file://{}", store.display()).into(),
    ];
    super::bench::collect_in_child(simulator, concurrency, &destination, work).await
}
