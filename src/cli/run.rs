use std::path::PathBuf;
use std::process::ExitCode;

use crate::controller::{self, Settings, StartError};
use crate::region::Region;

/// Run the operator: watch JumpCloudConnections, verify keys, collect evidence, report status.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Where evidence snapshots are written, one folder per namespace/connection.
    #[arg(
        long,
        env = "JUMPCLOUD_OPERATOR_EVIDENCE_DIR",
        default_value = "/var/lib/jumpcloud-operator/evidence"
    )]
    evidence_dir: PathBuf,

    /// Only watch these namespaces (comma-separated or repeated); all namespaces when empty.
    #[arg(
        long,
        env = "JUMPCLOUD_OPERATOR_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    watch_namespaces: Vec<String>,

    /// Only handle connections matching this label selector (e.g. team=platform), to split a
    /// large fleet across several operator releases.
    #[arg(long, env = "JUMPCLOUD_OPERATOR_SELECTOR")]
    selector: Option<String>,

    /// Only watch Secrets matching this label selector (e.g.
    /// jumpcloud-operator.io/credentials=true). Narrows watch traffic; Secrets without the label
    /// are then picked up at the next key check instead of at once.
    #[arg(long, env = "JUMPCLOUD_OPERATOR_SECRET_SELECTOR")]
    secret_selector: Option<String>,

    /// Connections reconciled at once.
    #[arg(long, env = "JUMPCLOUD_OPERATOR_CONCURRENCY", default_value_t = 4)]
    concurrency: u16,

    /// FOR TESTS AND PRIVATE ENDPOINTS ONLY: REGION=URL replaces a region's JumpCloud hosts
    /// (comma-separated or repeated). When any is set, regions without one are never contacted.
    #[arg(long = "region-endpoint", env = "JUMPCLOUD_OPERATOR_REGION_ENDPOINTS", value_delimiter = ',', value_parser = controller::parse_endpoint)]
    region_endpoints: Vec<(Region, url::Url)>,

    /// Log format: json (default, for log collectors) or text (for people).
    #[arg(long, env = "JUMPCLOUD_OPERATOR_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    log_format: String,

    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info,kube=warn")]
    log_level: String,

    /// Name of this instance in events (the pod name).
    #[arg(long, env = "POD_NAME")]
    instance: Option<String>,
}

impl RunArgs {
    pub async fn run(self) -> ExitCode {
        init_logging(&self.log_format, &self.log_level);
        let client = match kube::Client::try_default().await {
            Ok(client) => client,
            Err(error) => {
                eprintln!(
                    "error: cannot configure the Kubernetes client ({error}); run in a pod or set KUBECONFIG"
                );
                return ExitCode::FAILURE;
            }
        };
        let settings = Settings {
            evidence_dir: self.evidence_dir,
            endpoints: controller::endpoints(self.region_endpoints),
            watch_namespaces: self.watch_namespaces,
            label_selector: self.selector,
            secret_selector: self.secret_selector,
            concurrency: self.concurrency.max(1),
            instance: self.instance,
        };
        tracing::info!(
            evidence_dir = %settings.evidence_dir.display(),
            namespaces = ?settings.watch_namespaces,
            "starting"
        );
        match controller::run(client, settings, shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error @ StartError::CrdMissing) => {
                eprintln!("error: {error}");
                ExitCode::from(2)
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    }
}

fn init_logging(format: &str, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Already initialised only in tests that call run twice; keep the first.
    let _ = if format == "text" {
        builder.try_init()
    } else {
        builder.json().with_current_span(true).try_init()
    };
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown requested; finishing in-flight reconciles");
}
