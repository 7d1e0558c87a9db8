//! `jumpcloud-operator simulate`: runs the JumpCloud simulator in the foreground.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use jiff::Timestamp;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::region::Region;
use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig, SimulatorError};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SizePreset {
    /// 60 users, 55 devices.
    Small,
    /// 1,000 users, 1,000 devices.
    Medium,
    /// 10,000 users, 10,000 devices.
    Large,
}

/// Serve a simulated JumpCloud organization on 127.0.0.1 until Ctrl-C or SIGTERM.
///
/// Prints one JSON line to stdout with the base URL of every region
/// (`{"regions":{"us":"http://127.0.0.1:PORT"},...}`); point the client at it with `--base-url`.
/// API keys and client secrets are never printed: use `--credentials-file` to get them
/// (written with mode 0600).
/// The control API (revoke keys, inject faults, read counters) lives under `/__simulator/`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Port of the first region's listener (0 = pick a free port). Other regions use free ports.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the generated organization: same seed and sizes give the same org.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Organization size preset; the per-kind options below override single counts.
    #[arg(long, value_enum, default_value_t = SizePreset::Small)]
    size: SizePreset,
    #[command(flatten)]
    counts: Box<OrgCounts>,
    /// Regions to serve, comma-separated (each gets its own port, org and keys).
    #[arg(long, value_delimiter = ',', default_value = "us")]
    regions: Vec<Region>,
    /// Delay added to every API response, in milliseconds (models WAN latency).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Anchor for generated timestamps (RFC 3339); default: now. Fix it for reproducible orgs.
    #[arg(long)]
    now: Option<Timestamp>,
    /// Answer API requests beyond N per second (per region; bursts of one second's worth) with
    /// 429 and Retry-After, as a rate-limited API does. Default: no limit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: Option<u32>,
    /// Write administrators and their API keys to this file (JSON, mode 0600).
    #[arg(long)]
    credentials_file: Option<PathBuf>,
}

/// Per-kind overrides of the size preset.
#[derive(Debug, clap::Args)]
pub struct OrgCounts {
    /// Number of users.
    #[arg(long)]
    users: Option<usize>,
    /// Number of devices (systems).
    #[arg(long)]
    devices: Option<usize>,
    /// Number of policies.
    #[arg(long)]
    policies: Option<usize>,
    /// Number of SSO applications.
    #[arg(long)]
    applications: Option<usize>,
    /// Number of user groups.
    #[arg(long)]
    user_groups: Option<usize>,
    /// Number of device groups.
    #[arg(long)]
    device_groups: Option<usize>,
    /// Number of Directory Insights events over the last 30 days.
    #[arg(long)]
    events: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
enum SimulateError {
    #[error(transparent)]
    Simulator(#[from] SimulatorError),
    #[error("cannot write the credentials file {path}: {source}")]
    Credentials {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot wait for a shutdown signal: {0}")]
    Signal(std::io::Error),
}

impl SimulateArgs {
    fn config(&self) -> SimulatorConfig {
        let mut org = match self.size {
            SizePreset::Small => OrgSize::small(),
            SizePreset::Medium => OrgSize::medium(),
            SizePreset::Large => OrgSize::large(),
        };
        let overrides = [
            (&mut org.users, self.counts.users),
            (&mut org.devices, self.counts.devices),
            (&mut org.policies, self.counts.policies),
            (&mut org.applications, self.counts.applications),
            (&mut org.user_groups, self.counts.user_groups),
            (&mut org.device_groups, self.counts.device_groups),
            (&mut org.events, self.counts.events),
        ];
        for (field, value) in overrides {
            if let Some(value) = value {
                *field = value;
            }
        }
        SimulatorConfig {
            seed: self.seed,
            org,
            regions: self.regions.iter().map(|&r| r.into()).collect(),
            response_delay: Duration::from_millis(self.delay_ms),
            now: self.now,
            port: self.port,
        }
    }

    pub async fn run(self) -> ExitCode {
        match self.serve().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    }

    async fn serve(self) -> Result<(), SimulateError> {
        let config = self.config();
        let started = std::time::Instant::now();
        let simulator = Simulator::start(config.clone()).await?;
        simulator.set_rate_limit(self.rate_limit);
        let mut regions = serde_json::Map::new();
        let mut orgs = serde_json::Map::new();
        for region in simulator.regions() {
            if let Some(url) = simulator.base_url(region) {
                regions.insert(
                    region.to_string(),
                    json!(url.as_str().trim_end_matches('/')),
                );
            }
            orgs.insert(region.to_string(), json!(simulator.org_id(region)));
        }
        if let Some(path) = &self.credentials_file {
            write_credentials(&simulator, path).map_err(|source| SimulateError::Credentials {
                path: path.clone(),
                source,
            })?;
        }
        eprintln!(
            "JumpCloud simulator ready in {:.1}s: {} users, {} devices, {} policies, {} applications per org (seed {})",
            started.elapsed().as_secs_f64(),
            config.org.users,
            config.org.devices,
            config.org.policies,
            config.org.applications,
            config.seed
        );
        for region in simulator.regions() {
            let url = simulator
                .base_url(region)
                .map(|u| u.to_string())
                .unwrap_or_default();
            eprintln!(
                "  region {region}: {url} (org {})",
                simulator.org_id(region).unwrap_or_default()
            );
            for admin in simulator.admins(region) {
                let key = match (&admin.api_key, admin.key_expires_at) {
                    (None, _) => "no API key".to_string(),
                    (Some(_), None) => "API key, no expiry".to_string(),
                    (Some(_), Some(at)) => format!("API key expiring {at}"),
                };
                eprintln!("    {:<28} {:<40} {key}", admin.role_name, admin.email);
            }
        }
        match &self.credentials_file {
            Some(path) => eprintln!("  API keys written to {}", path.display()),
            None => eprintln!(
                "  API keys are not printed; use --credentials-file or GET /__simulator/admins"
            ),
        }
        eprintln!("Press Ctrl-C to stop.");
        // The machine-readable line comes last: scripts that wait for it may act (or stop the
        // simulator) at once, and must find the human summary already written.
        println!(
            "{}",
            json!({"regions": regions, "orgs": orgs, "seed": config.seed})
        );
        let _ = std::io::stdout().flush();
        wait_for_signal().await.map_err(SimulateError::Signal)?;
        eprintln!("stopping the simulator");
        simulator.shutdown().await;
        Ok(())
    }
}

fn write_credentials(simulator: &Simulator, path: &std::path::Path) -> std::io::Result<()> {
    let mut regions = serde_json::Map::new();
    for region in simulator.regions() {
        let admins: Vec<_> = simulator
            .admins(region)
            .into_iter()
            .map(|a| {
                json!({"id": a.id, "email": a.email, "role_name": a.role_name,
                       "api_key": a.api_key.as_ref().map(|k| k.expose_secret().to_string()),
                       "key_expires_at": a.key_expires_at, "org_ids": a.org_ids})
            })
            .collect();
        let service_accounts: Vec<_> = simulator
            .service_accounts(region)
            .into_iter()
            .map(|a| {
                let secrets: Vec<_> = a
                    .secrets
                    .iter()
                    .map(|(id, secret)| json!({"id": id, "secret": secret.expose_secret()}))
                    .collect();
                json!({"id": a.id, "client_id": a.client_id, "name": a.name,
                       "role_name": a.role_name, "secrets": secrets})
            })
            .collect();
        let base_url = simulator
            .base_url(region)
            .map(|u| u.as_str().trim_end_matches('/').to_string());
        regions.insert(
            region.to_string(),
            json!({"base_url": base_url, "org_id": simulator.org_id(region), "admins": admins,
                   "service_accounts": service_accounts}),
        );
    }
    let body = serde_json::to_vec_pretty(&json!({"regions": regions}))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    // NamedTempFile is created with mode 0600; renaming keeps the mode and never exposes a
    // half-written file.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(&body)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
