//! `jumpcloud-operator collect`: one evidence snapshot from an API key (or the simulator).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use url::Url;

use super::credential_args::CredentialArgs;
use super::exit::{self, FailOn};
use super::progress::Progress;
use crate::collect::{
    CollectError, CollectOptions, CollectionReport, EvaluateControls, collect_with,
};
use crate::controls::{ControlResult, ControlSettings, SettingsSource};
use crate::jumpcloud::{
    ApiKey, ClientConfig, Credential, CredentialKind, JumpCloudClient, JumpCloudError,
};
use crate::region::Region;
use crate::store::{
    CommittedSnapshot, ConnectionId, EvidenceStore, SigningKey, StoreError, StoreSink,
};

/// Where the other subcommands read `--store` from.
const STORE_ENV: &str = "JUMPCLOUD_OPERATOR_STORE";

/// Connection of snapshots collected without `--connection`.
pub const DEFAULT_CONNECTION: &str = "collect/default";

/// Collect one evidence snapshot into the evidence store: every evidence kind as NDJSON
/// (records exactly as JumpCloud returned them) in content-addressed blobs, the control results,
/// and a manifest chained to the previous snapshot, committed last.
///
/// Exit codes (README "Exit codes"): 0 success; 2 bad arguments, key file or store; 3 key
/// rejected or not allowed (401/403, org selection); 4 incomplete, inconsistent or malformed data
/// from the API, or a request the API refused as invalid (400, 402 outside Directory Insights,
/// 404); nothing is committed; 5 JumpCloud unavailable (rate limits, 5xx, timeouts, network)
/// after retries; 6 the snapshot could not be stored; 8 with --fail-on, controls fail (the
/// snapshot is committed).
///
/// Retries and their waits are logged on stderr as warnings (`RUST_LOG` changes the level).
#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("key").required(true).args(["api_key_file", "api_key_env", "client_id_file", "client_id_env", "simulate"])),
    // Not required: without either, the store comes from JUMPCLOUD_OPERATOR_STORE (read in
    // `execute`, not by clap, so that the variable does not conflict with an explicit --out).
    group(clap::ArgGroup::new("target").args(["store", "out"])),
    after_help = "Examples:\n  jumpcloud-operator collect --simulate --out evidence\n  \
                  jumpcloud-operator collect --api-key-file key.txt --region eu --store s3://bucket/jumpcloud --connection compliance/eu-prod\n  \
                  jumpcloud-operator collect --client-id-file id.txt --client-secret-file secret.txt --out evidence"
)]
pub struct CollectArgs {
    #[command(flatten)]
    credential: CredentialArgs,

    /// Collect from a built-in simulated JumpCloud org (no account needed), using its Read Only
    /// administrator's key. The simulator serves region us on its own address, so --region,
    /// --base-url and --org-id cannot be combined with it.
    #[arg(long, conflicts_with_all = ["region", "base_url", "org_id", "client_id_file", "client_id_env", "api_key_file", "api_key_env"])]
    simulate: bool,

    /// Size of the simulated org (with --simulate).
    #[arg(long, value_enum, default_value_t = SimulatedSize::Small, requires = "simulate")]
    simulate_size: SimulatedSize,

    /// JumpCloud region of the org (us, eu, in). A key sent to another region is rejected (401).
    #[arg(long, default_value = "us", value_name = "REGION")]
    region: Region,

    /// Organization id; required for multi-tenant (MSP) administrators.
    #[arg(long, value_name = "ID")]
    org_id: Option<String>,

    /// FOR TESTING AND PRIVATE ENDPOINTS ONLY: send every request to this base URL instead of
    /// the region's JumpCloud hosts.
    #[arg(long, value_name = "URL")]
    base_url: Option<Url>,

    /// The most requests in flight at once. Within it the client adapts: it starts at 4, grows
    /// while answers come back fast, halves on 429 (and paces its rate after one), and waits out
    /// every `Retry-After`. 1 means one request at a time.
    #[arg(long, default_value_t = crate::defaults::MAX_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,

    /// Days of Directory Insights events to collect when the store holds none yet for this
    /// connection (JumpCloud keeps at most 90); later collections continue where the stored
    /// events end.
    #[arg(long, default_value_t = crate::defaults::EVENTS_DAYS, value_parser = clap::value_parser!(u32).range(1..=90))]
    events_days: u32,

    /// When device access (who may log in to each device, with sudo; one request per device) is
    /// collected: auto (when the org has at most --device-access-max-devices devices), always
    /// or never. A skipped kind is recorded in the manifest as `skipped`, with the reason.
    #[arg(long, value_enum, default_value_t = crate::device_access::DeviceAccessMode::Auto)]
    device_access: crate::device_access::DeviceAccessMode,

    /// The most devices for which --device-access auto collects device access.
    #[arg(long, value_name = "DEVICES", default_value_t = crate::device_access::DEFAULT_MAX_DEVICES, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    device_access_max_devices: u32,
    /// Days of policy results history to collect when the store holds none yet for this
    /// connection (JumpCloud does not document how long it keeps results; 90 is assumed); later
    /// collections continue where the stored results end.
    #[arg(long, default_value_t = crate::defaults::POLICY_RESULTS_DAYS, value_parser = clap::value_parser!(u32).range(1..=90))]
    policy_results_days: u32,

    /// Largest response body accepted, in bytes: a larger page (or object) fails the collection
    /// while it is being read, so a broken or hostile server cannot exhaust memory.
    #[arg(long, value_name = "BYTES", default_value_t = crate::jumpcloud::DEFAULT_MAX_PAGE_BYTES, value_parser = clap::value_parser!(u64).range(1024..))]
    max_page_bytes: u64,

    /// Largest single record accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::jumpcloud::DEFAULT_MAX_RECORD_BYTES, value_parser = clap::value_parser!(u64).range(1024..))]
    max_record_bytes: u64,

    /// Evidence store URL: `file:///absolute/dir` or `s3://bucket/prefix` (credentials and
    /// endpoint from the standard AWS_* environment). Without --store and --out: the
    /// JUMPCLOUD_OPERATOR_STORE environment variable, as for `report`, `snapshots`, `verify`
    /// and `diff`.
    #[arg(long, value_name = "URL")]
    store: Option<String>,

    /// Shorthand for `--store` with a local directory (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Connection the snapshot belongs to (`namespace/name`, lowercase): its own history and
    /// hash chain in the store. One connection holds one organization.
    #[arg(long, value_name = "NAMESPACE/NAME", default_value = DEFAULT_CONNECTION)]
    connection: ConnectionId,

    /// Sign the snapshot manifest with this Ed25519 private key (PEM or hex seed).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,

    /// Control settings (the CRD's `spec.controls`) as YAML or JSON, for the control results
    /// stored with the snapshot. Default: the documented defaults.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,

    /// For CI: after the snapshot is committed, exit 8 when a control fails (`failing`), or
    /// fails or is in error (`error`).
    #[arg(long, value_enum, value_name = "WHEN")]
    fail_on: Option<FailOn>,

    /// No progress on stderr (neither the opening line, the live bar on a terminal nor the
    /// line per kind elsewhere); warnings, errors and the commit line remain.
    #[arg(long, short)]
    quiet: bool,

    /// Write run statistics as JSON to this file (used by `bench`).
    #[arg(long, value_name = "FILE", hide = true)]
    stats_out: Option<PathBuf>,
}

/// Size of a simulated org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimulatedSize {
    Small,
    Medium,
    Large,
}

/// CLI-layer failures, each with its exit code.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Client(#[from] JumpCloudError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("evidence store: {0}")]
    Store(#[from] StoreError),
}

/// How far a run got: only a run that started collecting can have left a snapshot uncommitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Preparing,
    Collecting,
    Committed,
}

impl CliError {
    fn exit_code(&self) -> u8 {
        let api = match self {
            CliError::Usage(_) => return exit::USAGE,
            CliError::Store(StoreError::InvalidUrl { .. } | StoreError::Key { .. }) => {
                return exit::USAGE;
            }
            CliError::Store(_) => return exit::NOT_STORED,
            CliError::Client(error) => error,
            CliError::Collect(error) => match error.api_error() {
                Some(error) => error,
                None => {
                    return match error {
                        CollectError::Target(_) => exit::USAGE,
                        _ => exit::NOT_STORED,
                    };
                }
            },
        };
        match api.last_attempt() {
            JumpCloudError::InvalidConfig(_) => exit::USAGE,
            JumpCloudError::Unauthorized { .. }
            | JumpCloudError::TokenRejected { .. }
            | JumpCloudError::TokenRefused { .. }
            | JumpCloudError::Forbidden { .. }
            | JumpCloudError::OrgIdRequired { .. }
            | JumpCloudError::OrgNotAccessible { .. }
            | JumpCloudError::NoOrganization => exit::KEY_REJECTED,
            JumpCloudError::TruncatedCollection { .. }
            | JumpCloudError::TotalChanged { .. }
            | JumpCloudError::DuplicateRecord { .. }
            | JumpCloudError::MalformedResponse { .. }
            | JumpCloudError::ResponseTooLarge { .. }
            | JumpCloudError::TooManyRecords { .. }
            | JumpCloudError::KeyEchoed { .. }
            | JumpCloudError::BadRequest { .. }
            | JumpCloudError::TokenRequestRefused { .. }
            | JumpCloudError::NotFound { .. }
            | JumpCloudError::NotLicensed { .. } => exit::BAD_DATA,
            JumpCloudError::RateLimited { .. }
            | JumpCloudError::Server { .. }
            | JumpCloudError::Timeout { .. }
            | JumpCloudError::Transport { .. }
            | JumpCloudError::Unreachable { .. } => exit::UNAVAILABLE,
            // `last_attempt` never answers the wrapper itself.
            JumpCloudError::RetriesExhausted { .. } => exit::UNAVAILABLE,
        }
    }
}

/// Where the data comes from.
struct Source {
    key: Credential,
    region: Region,
    base_url: Option<Url>,
    /// Keeps the in-process simulator alive for the collection.
    simulator: Option<jumpcloud_simulator::Simulator>,
}

impl CollectArgs {
    pub async fn run(self) -> ExitCode {
        init_logging();
        let fail_on = self.fail_on;
        let mut stage = Stage::Preparing;
        match self.execute(&mut stage).await {
            Ok(results) => match exit::fail_on(fail_on, &results) {
                Some((code, message)) => {
                    eprintln!("{message} (the snapshot is committed)");
                    ExitCode::from(code)
                }
                None => ExitCode::SUCCESS,
            },
            Err(error) => {
                eprintln!("error: {error}");
                // An argument, key file or store refused before the first request leaves
                // nothing to reassure about; a failed collection does.
                if stage == Stage::Collecting {
                    eprintln!(
                        "no snapshot was committed; the store's latest snapshot is unchanged"
                    );
                }
                ExitCode::from(error.exit_code())
            }
        }
    }

    /// Collects and commits; answers the control results stored with the snapshot.
    async fn execute(self, stage: &mut Stage) -> Result<Vec<ControlResult>, CliError> {
        let settings = match &self.settings {
            Some(path) => super::report::load_settings(path)
                .map_err(|error| CliError::Usage(error.to_string()))?,
            None => ControlSettings::default(),
        };
        let settings_source = if self.settings.is_some() {
            SettingsSource::SettingsFile
        } else {
            SettingsSource::Default
        };
        let signer = self
            .signing_key
            .as_deref()
            .map(SigningKey::from_file)
            .transpose()?;
        let url = match (&self.store, &self.out) {
            (Some(url), _) => url.clone(),
            (None, Some(dir)) => dir.display().to_string(),
            (None, None) => match std::env::var(STORE_ENV) {
                Ok(url) if !url.is_empty() => url,
                _ => {
                    return Err(CliError::Usage(format!(
                        "give --store URL or --out DIR, or set {STORE_ENV}"
                    )));
                }
            },
        };
        let store = EvidenceStore::open(&url)?;
        let connection = store.connection(&self.connection);
        let sink = StoreSink::open(connection.clone()).await?.signed_by(signer);

        let source = self.source().await?;
        let mut config = ClientConfig::new(source.region);
        config.base_url_override = source.base_url.clone();
        config.org_id = self.org_id.clone();
        config.concurrency = usize::from(self.concurrency);
        config.max_page_bytes = self.max_page_bytes;
        config.max_record_bytes = self.max_record_bytes;
        config.token_url_override = self.credential.token_url().cloned();
        let client = JumpCloudClient::new(config, source.key)?;
        let progress = Progress::new(client.clone(), !self.quiet);
        if !self.quiet {
            eprintln!(
                "collecting from {} (region {}, {} {}) into {url} as {}",
                source
                    .base_url
                    .as_ref()
                    .map_or_else(|| source.region.console_base().to_owned(), Url::to_string),
                source.region,
                match client.credential_kind() {
                    CredentialKind::ApiKey => "key",
                    CredentialKind::ServiceAccount => "service account secret",
                },
                client.key_fingerprint(),
                self.connection,
            );
        }
        let options = CollectOptions {
            events_days: self.events_days,
            device_access: crate::device_access::DeviceAccess {
                mode: self.device_access,
                max_devices: self.device_access_max_devices,
            },
            policy_results_days: self.policy_results_days,
        };
        let evaluate = EvaluateControls::new(settings, settings_source);
        *stage = Stage::Collecting;
        let result = collect_with(&client, sink, &evaluate, &options, &progress).await;
        progress.clear();
        if let Some(simulator) = source.simulator {
            simulator.shutdown().await;
        }
        let report = result?;
        *stage = Stage::Committed;
        print_summary(&report, &url);
        if let Some(path) = &self.stats_out {
            let collection_peak = progress.collection_peak_rss_kib.load(Ordering::Relaxed);
            write_stats(path, &report, collection_peak)?;
        }
        publish(&connection, &report.committed, &url).await;
        Ok(report
            .committed
            .controls
            .map(|controls| controls.results)
            .unwrap_or_default())
    }

    async fn source(&self) -> Result<Source, CliError> {
        if self.simulate {
            return simulated_source(self.simulate_size).await;
        }
        let key = self
            .credential
            .credential()
            .map_err(CliError::Usage)?
            .ok_or_else(|| {
                CliError::Usage(
                    "give --api-key-file, --api-key-env, --client-id-file with --client-secret-file, or --simulate"
                        .to_owned(),
                )
            })?;
        Ok(Source {
            key,
            region: self.region,
            base_url: self.base_url.clone(),
            simulator: None,
        })
    }
}

/// Warnings (retries with their waits, named by endpoint and status) and the commit on stderr;
/// `RUST_LOG` overrides the level. Nothing logged carries the key: the client logs paths and
/// statuses.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // Warnings, and the commit line (connection, sequence, id, digest): an anchor for
        // `verify --expect-head`.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,jumpcloud_operator::store=info")
        });
    // A subscriber set earlier (tests calling `run` twice in one process) stays in place.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(super::terminal::log_colour())
        .with_target(false)
        .try_init();
}

async fn simulated_source(size: SimulatedSize) -> Result<Source, CliError> {
    use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig};
    let org = match size {
        SimulatedSize::Small => OrgSize::small(),
        SimulatedSize::Medium => OrgSize::medium(),
        SimulatedSize::Large => OrgSize::large(),
    };
    let config = SimulatorConfig {
        org,
        now: Some(simulated_now(jiff::Timestamp::now())),
        ..SimulatorConfig::default()
    };
    let region = Region::Us;
    let simulator = Simulator::start(config)
        .await
        .map_err(|error| CliError::Usage(format!("cannot start the simulator: {error}")))?;
    let base_url = simulator
        .base_url(region)
        .ok_or_else(|| CliError::Usage("the simulator serves no US region".to_owned()))?;
    let key = ApiKey::from(simulator.read_only_key(region)).into();
    Ok(Source {
        key,
        region,
        base_url: Some(base_url),
        simulator: Some(simulator),
    })
}

/// The simulated org's clock: the start of the current UTC day. The org is drawn from a fixed
/// seed, and every timestamp in it is relative to this anchor, so two collections on one day
/// see the same org (`diff` shows only the Directory Insights events the second one reads
/// again at the boundary), while its devices, sign-ins and events stay within the last day and
/// the collector's events window.
fn simulated_now(now: jiff::Timestamp) -> jiff::Timestamp {
    const DAY: i64 = 86_400;
    jiff::Timestamp::from_second(now.as_second().div_euclid(DAY) * DAY).unwrap_or(now)
}

/// Shows what the evidence says right away and stores the auditor report next to the
/// snapshot. A failure here is only a warning: the snapshot itself is already committed.
async fn publish(store: &crate::store::ConnectionStore, committed: &CommittedSnapshot, url: &str) {
    if let Some(controls) = &committed.controls {
        outln!(
            "\ncompliance controls ({} settings)\n{}",
            if controls.settings == ControlSettings::default() {
                "default"
            } else {
                "custom"
            },
            crate::report::summary_table(&controls.results)
        );
    }
    match crate::report::publish_report(store, &committed.snapshot).await {
        Ok(_) => outln!(
            "auditor report stored with the snapshot; write it out with:\n  \
             jumpcloud-operator report --store {url} --connection {} --format html --out report.html",
            store.connection()
        ),
        Err(error) => eprintln!("warning: the auditor report was not stored: {error}"),
    }
}

fn print_summary(report: &CollectionReport<CommittedSnapshot>, url: &str) {
    let width = report
        .kinds
        .iter()
        .map(|kind| kind.kind.len())
        .max()
        .unwrap_or(4)
        .max(4);
    outln!(
        "{:<width$}  {:>9}  {:>8}  {:>8}  status",
        "kind",
        "records",
        "requests",
        "seconds"
    );
    for kind in &report.kinds {
        let status = kind.status.as_str();
        outln!(
            "{:<width$}  {:>9}  {:>8}  {:>8.2}  {status}",
            kind.kind,
            kind.records,
            kind.requests,
            kind.seconds
        );
    }
    let records: u64 = report.kinds.iter().map(|kind| kind.records).sum();
    outln!(
        "{:<width$}  {:>9}  {:>8}  {:>8.2}",
        "total",
        records,
        report.total_requests,
        report.seconds
    );
    let snapshot = &report.committed.snapshot;
    outln!(
        "snapshot {} of org {} ({}) committed to {url} ({} requests; fewest possible {})",
        snapshot.id,
        report.manifest.org.name,
        report.manifest.org.id,
        report.total_requests,
        report.min_requests
    );
    outln!(
        "digest sha256:{}, sequence {} of connection {}{}",
        snapshot.sha256,
        snapshot.manifest.sequence,
        snapshot.manifest.connection,
        if snapshot.manifest.previous.is_some() {
            ", chained to the previous snapshot"
        } else {
            ", the first of its chain"
        }
    );
}

/// Statistics a `bench` child run hands back to its parent.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct RunStats {
    /// The whole run: collection, evaluation of the controls and commit.
    pub seconds: f64,
    /// The collection alone: from the first request to the last record stored.
    pub collection_seconds: f64,
    pub total_requests: u64,
    pub min_requests: u64,
    pub records: u64,
    pub users_total: Option<u64>,
    pub devices_total: Option<u64>,
    /// Peak resident memory of the process (VmHWM), in KiB: the collection, the evaluation of
    /// the controls and the commit.
    pub peak_rss_kib: Option<u64>,
    /// Peak resident memory when every kind was stored, before the evaluation, in KiB.
    pub collection_peak_rss_kib: Option<u64>,
}

fn write_stats(
    path: &Path,
    report: &CollectionReport<CommittedSnapshot>,
    collection_peak_rss_kib: u64,
) -> Result<(), CliError> {
    let total_of = |kind: &str| {
        report
            .manifest
            .kinds
            .iter()
            .find(|entry| entry.kind == kind)
            .and_then(|entry| entry.total_reported)
    };
    let stats = RunStats {
        seconds: report.seconds,
        collection_seconds: report
            .manifest
            .finished_at
            .duration_since(report.manifest.started_at)
            .as_secs_f64(),
        total_requests: report.total_requests,
        min_requests: report.min_requests,
        records: report.kinds.iter().map(|kind| kind.records).sum(),
        users_total: total_of("users"),
        devices_total: total_of("devices"),
        peak_rss_kib: peak_rss_kib(),
        collection_peak_rss_kib: (collection_peak_rss_kib > 0).then_some(collection_peak_rss_kib),
    };
    let json = serde_json::to_vec_pretty(&stats)
        .map_err(|error| CliError::Usage(format!("cannot serialise statistics: {error}")))?;
    std::fs::write(path, json).map_err(|error| {
        CliError::Usage(format!(
            "cannot write statistics to {}: {error}",
            path.display()
        ))
    })
}

/// Peak resident set size of this process, from /proc (Linux only).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_clock_is_the_start_of_the_utc_day() {
        let morning: jiff::Timestamp = "2026-12-07T07:19:27.5Z".parse().unwrap();
        let evening: jiff::Timestamp = "2026-12-07T23:59:59Z".parse().unwrap();
        let midnight: jiff::Timestamp = "2026-12-07T00:00:00Z".parse().unwrap();
        assert_eq!(simulated_now(morning), midnight);
        assert_eq!(simulated_now(evening), midnight);
        assert_eq!(simulated_now(midnight), midnight);
    }
}
