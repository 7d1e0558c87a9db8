//! `jumpcloud-operator bench`: collection speed, request count and memory against the simulator.
//!
//! Each collection runs in a child process (`collect --stats-out`) so that its peak memory is
//! its own: the simulator, which holds the whole generated org, stays in this process.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use jumpcloud_simulator::{OrgSize, Region, Simulator, SimulatorConfig};
use secrecy::ExposeSecret;

use super::collect::{RunStats, SimulatedSize};

const KEY_VARIABLE: &str = "JUMPCLOUD_OPERATOR_BENCH_API_KEY";

/// Benchmark a full collection from the simulator: concurrent vs sequential (one request at a
/// time), request count vs the fewest possible, and peak memory (org size vs a small org).
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Size of the simulated org.
    #[arg(long, value_enum, default_value_t = SimulatedSize::Large)]
    size: SimulatedSize,

    /// Delay added to every simulator response, modelling WAN latency to JumpCloud.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    delay_ms: u64,

    /// The most requests in flight in the concurrent run (the adaptive limit's maximum).
    #[arg(long, default_value_t = crate::defaults::MAX_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,

    /// Make the simulator answer 429 with Retry-After beyond N requests per second (bursts of
    /// one second's worth), to measure how the client adapts to a rate limit it is not told.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: Option<u32>,

    /// Skip the sequential run (it takes a while on a large org).
    #[arg(long)]
    skip_sequential: bool,

    /// Skip collecting a small org for the memory comparison.
    #[arg(long)]
    skip_small: bool,

    /// Override the number of users of the chosen size (e.g. 20000 to check that memory stays
    /// flat beyond org L).
    #[arg(long, value_name = "N")]
    users: Option<usize>,

    /// Override the number of devices of the chosen size.
    #[arg(long, value_name = "N")]
    devices: Option<usize>,

    /// Instead: a first snapshot and DAYS daily ones of an org changing as real orgs do, into
    /// one store (0 ms responses), printing its size day by day (see `bench_history`).
    #[arg(long, value_name = "DAYS")]
    history_days: Option<u32>,
}

struct Run {
    name: String,
    stats: RunStats,
    /// The most requests in flight the run allowed.
    concurrency: u16,
    /// Answers the simulator gave, and how many of them were 429.
    answered: u64,
    throttled: u64,
}

impl Run {
    /// Time the collection would take if every request took exactly the simulator's delay
    /// with `concurrency` always in flight, and no faster than a rate limit allows.
    fn floor_seconds(&self, delay: Duration, rate_limit: Option<u32>) -> f64 {
        let requests = self.stats.total_requests as f64;
        let latency = requests * delay.as_secs_f64() / f64::from(self.concurrency.max(1));
        let rate = rate_limit.map_or(0.0, |per_second| requests / f64::from(per_second));
        latency.max(rate)
    }
}

fn org_size(size: SimulatedSize) -> OrgSize {
    match size {
        SimulatedSize::Small => OrgSize::small(),
        SimulatedSize::Medium => OrgSize::medium(),
        SimulatedSize::Large => OrgSize::large(),
    }
}

impl BenchArgs {
    pub async fn run(self) -> ExitCode {
        match self.execute().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        }
    }

    async fn execute(self) -> Result<(), String> {
        let delay = Duration::from_millis(self.delay_ms);
        let mut org = org_size(self.size);
        org.users = self.users.unwrap_or(org.users);
        org.devices = self.devices.unwrap_or(org.devices);
        let size_name = if self.users.is_some() || self.devices.is_some() {
            format!("{}u/{}d", org.users, org.devices)
        } else {
            format!("{:?}", self.size).to_lowercase()
        };
        if let Some(days) = self.history_days {
            return super::bench_history::run(org, &size_name, days, self.concurrency).await;
        }
        let (expected_users, expected_devices) = (org.users as u64, org.devices as u64);
        let mut runs = Vec::new();
        {
            let simulator = start(org, delay).await?;
            simulator.set_rate_limit(self.rate_limit);
            eprintln!(
                "bench: {size_name} org ({expected_users} users, {expected_devices} devices), \
                 {}ms per response{}",
                self.delay_ms,
                self.rate_limit
                    .map(|n| format!(", rate limit {n}/s"))
                    .unwrap_or_default()
            );
            runs.push(
                measured_run(
                    &simulator,
                    format!("{size_name}, concurrency {}", self.concurrency),
                    self.concurrency,
                )
                .await?,
            );
            if !self.skip_sequential {
                runs.push(measured_run(&simulator, format!("{size_name}, sequential"), 1).await?);
            }
            simulator.shutdown().await;
        }
        if !self.skip_small && self.size != SimulatedSize::Small {
            let simulator = start(OrgSize::small(), delay).await?;
            simulator.set_rate_limit(self.rate_limit);
            runs.push(
                measured_run(
                    &simulator,
                    format!("small, concurrency {}", self.concurrency),
                    self.concurrency,
                )
                .await?,
            );
            simulator.shutdown().await;
        }

        let mib = |kib: Option<u64>| {
            kib.map_or_else(
                || "n/a".to_owned(),
                |kib| format!("{:.1}", kib as f64 / 1024.0),
            )
        };
        println!(
            "{:<26} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>8} {:>15} {:>15}",
            "run",
            "collect s",
            "total s",
            "x floor",
            "records",
            "requests",
            "minimum",
            "429s",
            "collection MiB",
            "+controls MiB"
        );
        for run in &runs {
            let floor = run.floor_seconds(delay, self.rate_limit);
            println!(
                "{:<26} {:>9.2} {:>9.2} {:>8.2} {:>9} {:>9} {:>9} {:>8} {:>15} {:>15}",
                run.name,
                run.stats.collection_seconds,
                run.stats.seconds,
                run.stats.collection_seconds / floor.max(f64::EPSILON),
                run.stats.records,
                run.stats.total_requests,
                run.stats.min_requests,
                format!(
                    "{:.2}%",
                    100.0 * run.throttled as f64 / run.answered.max(1) as f64
                ),
                mib(run.stats.collection_peak_rss_kib),
                mib(run.stats.peak_rss_kib),
            );
        }
        println!(
            "collect s: first request to last record stored; total s: also evaluating the \
             controls and committing. x floor: collect s over the floor, requests x {}ms / \
             requests in flight{}. 429s: share of the simulator's answers. Memory: peak \
             resident set of the collect process when every kind was stored, and at exit",
            self.delay_ms,
            self.rate_limit
                .map(|n| format!(" or requests / {n} per second, whichever is longer"))
                .unwrap_or_default()
        );
        let main = &runs[0].stats;
        if let Some(sequential) = runs.iter().find(|run| run.name.ends_with("sequential")) {
            println!(
                "collection speed-up over sequential: {:.1}x",
                sequential.stats.collection_seconds / main.collection_seconds.max(f64::EPSILON)
            );
        }
        println!(
            "requests vs fewest possible: {} vs {} ({})",
            main.total_requests,
            main.min_requests,
            if main.total_requests == main.min_requests {
                "equal"
            } else {
                "MORE than needed"
            }
        );
        println!(
            "users/devices reported vs generated: {}/{} vs {expected_users}/{expected_devices}",
            main.users_total.unwrap_or(0),
            main.devices_total.unwrap_or(0)
        );
        Ok(())
    }
}

async fn start(org: OrgSize, response_delay: Duration) -> Result<Simulator, String> {
    Simulator::start(SimulatorConfig {
        org,
        response_delay,
        ..SimulatorConfig::default()
    })
    .await
    .map_err(|error| format!("cannot start the simulator: {error}"))
}

/// One collection in a child process, with the simulator's count of answers and 429s.
async fn measured_run(
    simulator: &Simulator,
    name: String,
    concurrency: u16,
) -> Result<Run, String> {
    let control = simulator
        .control(Region::Us)
        .ok_or("the simulator serves no US region")?;
    let counters = |error| format!("cannot read the simulator's counters: {error}");
    control.reset().await.map_err(counters)?;
    let work = tempfile::tempdir().map_err(|error| format!("cannot create a temp dir: {error}"))?;
    let destination = ["--out".into(), work.path().join("snapshot").into()];
    let stats = collect_in_child(simulator, concurrency, &destination, work.path()).await?;
    let after = control.counters().await.map_err(counters)?;
    Ok(Run {
        name,
        stats,
        concurrency,
        answered: after.total,
        throttled: after.by_status.get("429").copied().unwrap_or(0),
    })
}

/// Runs `collect` against the simulator in a child process (so its memory is its own) and reads
/// back its statistics. `destination`: where it writes (`--out DIR`, or `--store URL` with
/// `--connection`); `work`: a folder for its statistics file.
pub(super) async fn collect_in_child(
    simulator: &Simulator,
    concurrency: u16,
    destination: &[std::ffi::OsString],
    work: &Path,
) -> Result<RunStats, String> {
    let base_url = simulator
        .base_url(Region::Us)
        .ok_or("the simulator serves no US region")?;
    let key = simulator.read_only_key(Region::Us);
    let exe = std::env::current_exe().map_err(|error| format!("cannot find myself: {error}"))?;
    let stats_path = work.join("stats.json");
    let mut command = Command::new(exe);
    command
        .arg("collect")
        .args(["--api-key-env", KEY_VARIABLE])
        .args(["--base-url", base_url.as_str()])
        .args(["--concurrency", &concurrency.to_string()])
        .args(destination)
        .arg("--stats-out")
        .arg(&stats_path)
        .env(KEY_VARIABLE, key.expose_secret())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|error| format!("collect child panicked: {error}"))?
        .map_err(|error| format!("cannot run collect: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "collect (concurrency {concurrency}) failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    read_stats(&stats_path)
}

fn read_stats(path: &Path) -> Result<RunStats, String> {
    let bytes =
        std::fs::read(path).map_err(|error| format!("no statistics from collect: {error}"))?;
    serde_json::from_slice(&bytes).map_err(|error| format!("bad statistics from collect: {error}"))
}
