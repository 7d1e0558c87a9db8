use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::controller::{self, Settings, StartError};
use crate::evidence_server::EvidenceServer;
use crate::leader::{self, LeaderConfig};
use crate::region::Region;
use crate::telemetry::{self, Metrics, Readiness, RequestObserver};

/// Run the operator: watch JumpCloudConnections, verify keys, collect evidence, report status.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Evidence store: a directory (`/path` or `file:///path`, e.g. a PersistentVolume) or
    /// `s3://bucket/prefix` (credentials, region and endpoint from the standard AWS_*
    /// environment). Each connection writes under `<namespace>/<name>/`.
    #[arg(
        long,
        env = "JUMPCLOUD_OPERATOR_EVIDENCE_STORE",
        default_value = "/var/lib/jumpcloud-operator/evidence",
        value_name = "URL"
    )]
    evidence_store: String,

    /// Sign every snapshot manifest with this Ed25519 private key (PEM or hex seed), e.g. a
    /// mounted Secret; `verify --public-key` checks the signatures.
    #[arg(long, env = "JUMPCLOUD_OPERATOR_SIGNING_KEY_FILE", value_name = "FILE")]
    signing_key_file: Option<PathBuf>,

    /// Only watch these namespaces (comma-separated or repeated); all namespaces when empty.
    #[arg(
        long,
        env = "JUMPCLOUD_OPERATOR_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    watch_namespaces: Vec<String>,

    /// Only handle connections matching this label selector (e.g. team=platform), to split a
    /// large fleet across several operator releases. `--selector` is an alias.
    #[arg(
        long = "connection-selector",
        visible_alias = "selector",
        env = "JUMPCLOUD_OPERATOR_CONNECTION_SELECTOR"
    )]
    selector: Option<String>,

    /// Only watch Secrets matching this label selector (e.g.
    /// jumpcloud-operator.io/credentials=true). Narrows watch traffic; Secrets without the label
    /// are then picked up at the next key check instead of at once.
    #[arg(long, env = "JUMPCLOUD_OPERATOR_SECRET_SELECTOR")]
    secret_selector: Option<String>,

    /// Connections calling JumpCloud at once; new connections, new keys and requested syncs
    /// go before periodic key checks and syncs. Reconciles with nothing to ask JumpCloud never
    /// wait.
    #[arg(long, env = "JUMPCLOUD_OPERATOR_CONCURRENCY", default_value_t = 4)]
    concurrency: u16,

    /// Policy reports written after each sync, one per connection in its namespace: `auto`
    /// writes every kind whose CRD is installed (wgpolicyk8s.io PolicyReport, openreports.io
    /// Report), `policyreport` or `openreports` only that one, `both`, or `off`. The CRDs are
    /// looked up once at start: restart after installing one.
    #[arg(
        long,
        env = "JUMPCLOUD_OPERATOR_POLICY_REPORTS",
        value_enum,
        default_value_t = controller::PolicyReportMode::Auto
    )]
    policy_reports: controller::PolicyReportMode,

    /// FOR TESTS AND PRIVATE ENDPOINTS ONLY: REGION=URL replaces a region's JumpCloud hosts
    /// (comma-separated or repeated). When any is set, regions without one are never contacted.
    #[arg(long = "region-endpoint", env = "JUMPCLOUD_OPERATOR_REGION_ENDPOINTS", value_delimiter = ',', value_parser = parse_endpoint)]
    region_endpoints: Vec<(Region, url::Url)>,

    /// FOR TESTS ONLY: seconds a rejected key rests before its re-check (default one hour), so
    /// end-to-end tests can pass the re-check moment.
    #[arg(
        long,
        hide = true,
        env = "JUMPCLOUD_OPERATOR_TEST_REJECTED_KEY_RETRY_SECONDS"
    )]
    test_rejected_key_retry_seconds: Option<u64>,

    /// Log format: json (default, for log collectors) or text (for people).
    #[arg(long, env = "JUMPCLOUD_OPERATOR_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    log_format: String,

    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info,kube=warn")]
    log_level: String,

    /// Name of this instance in events and the leader lease (the pod name; default
    /// `<hostname>-<pid>` for the lease).
    #[arg(long, env = "POD_NAME")]
    instance: Option<String>,

    /// Address the metrics, health and evidence servers listen on.
    #[arg(long, env = "JUMPCLOUD_OPERATOR_BIND_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    bind_address: IpAddr,

    /// Port of `GET /metrics` (Prometheus). 0 picks a free port (logged).
    #[arg(long, env = "JUMPCLOUD_OPERATOR_METRICS_PORT", default_value_t = 8080)]
    metrics_port: u16,

    /// Port of `GET /healthz` and `GET /readyz`. 0 picks a free port (logged).
    #[arg(long, env = "JUMPCLOUD_OPERATOR_HEALTH_PORT", default_value_t = 8081)]
    health_port: u16,

    /// Port of the evidence endpoint: reports, snapshot lists, manifests and blobs of the
    /// connections a caller may `get` (Kubernetes bearer token, TokenReview and
    /// SubjectAccessReview; see README "Getting the evidence out"). 0 picks a free port (logged).
    #[arg(long, env = "JUMPCLOUD_OPERATOR_EVIDENCE_PORT", default_value_t = 8082)]
    evidence_port: u16,

    /// Serve the evidence endpoint; `--evidence-endpoint=false` does not open its port.
    #[arg(
        long,
        env = "JUMPCLOUD_OPERATOR_EVIDENCE_ENDPOINT",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    evidence_endpoint: bool,

    /// Elect one active replica with a Lease; `--leader-election=false` runs directly.
    #[arg(
        long,
        env = "JUMPCLOUD_OPERATOR_LEADER_ELECTION",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    leader_election: bool,

    /// Namespace of the `jumpcloud-operator` Lease (default: the pod's namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    leader_election_namespace: Option<String>,

    /// How long the lease stays valid after the last renewal: a crashed leader is replaced
    /// after at most this long (e.g. 15s).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_election_lease_duration: Duration,

    /// The leader renews this long before the lease expires (shorter than the duration).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    leader_election_renew_margin: Duration,

    /// How often a standby checks the lease: a released lease is taken over within this.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_election_retry_period: Duration,
}

/// Parses `500ms`, `2s`, `1m` (a bare number is seconds).
/// Parses `region=url` pairs (flag values or a comma-separated env var).
fn parse_endpoint(text: &str) -> Result<(Region, url::Url), String> {
    let (region, url) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not REGION=URL (e.g. eu=http://127.0.0.1:8080)"))?;
    let region = region.parse().map_err(|e| format!("{e}"))?;
    let url = url::Url::parse(url.trim()).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    Ok((region, url))
}

/// Collects endpoint overrides into a map.
fn endpoints(pairs: Vec<(Region, url::Url)>) -> controller::Endpoints {
    controller::Endpoints {
        overrides: pairs.into_iter().collect(),
        ..controller::Endpoints::default()
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 15s or 1m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "" | "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        _ => Err(format!("{text:?}: unit must be ms, s or m")),
    }
}

/// Exit code when leadership was lost: the pod restarts clean.
const EXIT_LOST_LEADERSHIP: u8 = 3;

impl RunArgs {
    pub async fn run(self) -> ExitCode {
        init_logging(&self.log_format, &self.log_level);
        let identity = leader::default_identity(self.instance.as_deref());
        let client = match kube_client(&identity).await {
            Ok(client) => client,
            Err(error) => {
                eprintln!(
                    "error: cannot configure the Kubernetes client ({error}); run in a pod or set KUBECONFIG"
                );
                return ExitCode::FAILURE;
            }
        };
        // One token stops everything: the controller, both HTTP servers and the lease.
        let shutdown = CancellationToken::new();
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                shutdown_signal().await;
                shutdown.cancel();
            }
        });
        let evidence = match self.evidence_target() {
            Ok(evidence) => evidence,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let metrics = Arc::new(Metrics::new());
        let readiness = Readiness::new();
        // Every replica serves the evidence endpoint, standbys too: it reads the store and
        // lists connections itself, whoever holds the lease.
        let evidence_server = self.evidence_endpoint.then(|| {
            EvidenceServer::new(
                evidence.store.clone(),
                client.clone(),
                self.watch_namespaces.clone(),
            )
        });
        let servers = match self
            .start_servers(&metrics, &readiness, evidence_server, &shutdown)
            .await
        {
            Ok(servers) => servers,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let mut endpoints = endpoints(self.region_endpoints.clone());
        endpoints.observer = Some(RequestObserver::metrics(metrics.clone()));
        let settings = Settings {
            evidence,
            endpoints,
            watch_namespaces: self.watch_namespaces.clone(),
            label_selector: self.selector.clone(),
            secret_selector: self.secret_selector.clone(),
            concurrency: self.concurrency.max(1),
            instance: self.instance.clone(),
            metrics: Some(metrics),
            readiness: Some(readiness.clone()),
            policy_reports: self.policy_reports,
            rejected_key_retry: self
                .test_rejected_key_retry_seconds
                .map_or(crate::decide::REJECTED_KEY_RETRY, Duration::from_secs),
        };
        tracing::info!(
            evidence_store = %settings.evidence.store.url(),
            signed = settings.evidence.signer.is_some(),
            namespaces = ?settings.watch_namespaces,
            leader_election = self.leader_election,
            "starting"
        );
        let code = if self.leader_election {
            self.run_elected(client, settings, &readiness, &shutdown)
                .await
        } else {
            finish(controller::run(client, settings, shutdown.clone().cancelled_owned()).await)
        };
        readiness.set_not_ready();
        shutdown.cancel();
        for server in servers {
            if let Ok(Err(error)) = server.await {
                tracing::warn!(%error, "HTTP server");
            }
        }
        code
    }

    /// Opens the evidence store and reads the signing key, so a wrong URL or key fails at start.
    fn evidence_target(&self) -> Result<controller::EvidenceTarget, crate::store::StoreError> {
        Ok(controller::EvidenceTarget {
            store: crate::store::EvidenceStore::open(&self.evidence_store)?,
            signer: self
                .signing_key_file
                .as_deref()
                .map(crate::store::SigningKey::from_file)
                .transpose()?,
        })
    }

    /// Binds the metrics, health and evidence ports (before anything else, so a port conflict
    /// fails fast) and serves them until `shutdown`.
    async fn start_servers(
        &self,
        metrics: &Arc<Metrics>,
        readiness: &Readiness,
        evidence: Option<EvidenceServer>,
        shutdown: &CancellationToken,
    ) -> Result<Vec<tokio::task::JoinHandle<Result<(), String>>>, String> {
        let bind = |port: u16| {
            let addr = SocketAddr::new(self.bind_address, port);
            async move {
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|error| format!("cannot listen on {addr}: {error}"))
            }
        };
        let metrics_listener = bind(self.metrics_port).await?;
        let health_listener = bind(self.health_port).await?;
        let evidence_listener = match evidence {
            Some(server) => Some((server, bind(self.evidence_port).await?)),
            None => None,
        };
        let mut listening = vec![("metrics", &metrics_listener), ("health", &health_listener)];
        if let Some((_, listener)) = &evidence_listener {
            listening.push(("evidence", listener));
        }
        for (server, listener) in listening {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(server, %addr, "listening");
            }
        }
        let stopped = || shutdown.clone().cancelled_owned();
        let mut servers = vec![
            tokio::spawn({
                let serving =
                    telemetry::serve_metrics_on(metrics_listener, metrics.clone(), stopped());
                async move { serving.await.map_err(|e| e.to_string()) }
            }),
            tokio::spawn({
                let serving =
                    telemetry::serve_health_on(health_listener, readiness.clone(), stopped());
                async move { serving.await.map_err(|e| e.to_string()) }
            }),
        ];
        if let Some((server, listener)) = evidence_listener {
            let serving = server.serve_on(listener, stopped());
            servers.push(tokio::spawn(async move {
                serving.await.map_err(|e| e.to_string())
            }));
        }
        Ok(servers)
    }

    /// Waits for the lease, runs the controller while holding it, releases it after a clean
    /// stop. Losing the lease stops the controller and exits non-zero.
    async fn run_elected(
        &self,
        client: kube::Client,
        settings: Settings,
        readiness: &Readiness,
        shutdown: &CancellationToken,
    ) -> ExitCode {
        let namespace = self
            .leader_election_namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| client.default_namespace().to_owned());
        let config = LeaderConfig {
            namespace,
            lease_name: leader::LEASE_NAME.to_owned(),
            identity: leader::default_identity(self.instance.as_deref()),
            duration: self.leader_election_lease_duration,
            renew_before: self.leader_election_renew_margin,
            retry: self.leader_election_retry_period,
        };
        // A standby is ready: it serves and waits, as controller-runtime reports it.
        readiness.set_ready();
        let leadership = match leader::acquire(&client, &config, shutdown).await {
            Ok(Some(leadership)) => leadership,
            Ok(None) => {
                tracing::info!("stopped before becoming the leader");
                return ExitCode::SUCCESS;
            }
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        readiness.set_not_ready();
        let controller = controller::run(client, settings, shutdown.clone().cancelled_owned());
        tokio::pin!(controller);
        // Keep renewing while the controller runs and while it drains after SIGTERM.
        let outcome = tokio::select! {
            outcome = &mut controller => Ok(outcome),
            lost = leadership.hold() => Err(lost),
        };
        match outcome {
            Ok(outcome) => {
                let code = finish(outcome);
                if let Err(error) = leadership.release().await {
                    tracing::warn!(%error, "the lease expires on its own instead");
                }
                code
            }
            Err(lost) => {
                tracing::error!(error = %lost, "leadership lost; stopping the controller");
                shutdown.cancel();
                let _ = controller.await;
                ExitCode::from(EXIT_LOST_LEADERSHIP)
            }
        }
    }
}

/// The Kubernetes client, with a user agent naming the operator and this instance (audit logs
/// and the end-to-end tests tell replicas apart by it).
async fn kube_client(identity: &str) -> Result<kube::Client, kube::Error> {
    let mut config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    let agent = format!(
        "jumpcloud-operator/{} ({identity})",
        env!("CARGO_PKG_VERSION")
    );
    if let Ok(value) = http::HeaderValue::from_str(&agent) {
        config.headers.push((http::header::USER_AGENT, value));
    }
    kube::Client::try_from(config)
}

fn finish(outcome: Result<(), StartError>) -> ExitCode {
    match outcome {
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

fn init_logging(format: &str, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(super::terminal::log_colour());
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
