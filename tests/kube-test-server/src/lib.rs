//! In-process Kubernetes API server for tests: stateful, generic over resources, faithful where
//! an operator's behaviour depends on it (resourceVersions, watches, status subresource,
//! server-side apply, CRD schema validation, finalizers, garbage collection), and reachable by
//! `kube::Client` and the real `kubectl`. See README.md for what it does not implement.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kube_test_server::Error> {
//! let server = kube_test_server::KubeTestServer::start().await?;
//! let client = server.client().await;
//! // ... run the operator with KUBECONFIG=server.kubeconfig_path(), or kubectl:
//! let out = server.kubectl().args(["get", "ns"]).output().await?;
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod discovery;
mod faults;
mod patch;
mod proto;
mod proxy;
mod rbac;
mod reviews;
mod select;
mod server;
mod status;
mod store;
mod table;
mod validation;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faults::lock;
pub use faults::{Faults, RecordedRequest};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("test server I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("test server thread did not start")]
    Start,
}

/// Tunables; `Options::default()` is what [`KubeTestServer::start`] uses.
#[derive(Clone, Debug)]
pub struct Options {
    /// Number of watch events retained; watches from older resourceVersions get 410 Gone.
    pub history_limit: usize,
    /// How often open watches that asked for bookmarks get one (when something changed).
    pub bookmark_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(1),
        }
    }
}

/// A running server. Dropping it stops the server (open connections are closed).
pub struct KubeTestServer {
    shared: Arc<server::Shared>,
    url: url::Url,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl KubeTestServer {
    /// Starts a server on 127.0.0.1 on a free port, serving plain HTTP.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Starts a server with explicit [`Options`].
    ///
    /// The server runs on its own thread and runtime, so tests may block their own runtime
    /// (e.g. waiting on a `std::process::Command`) without stalling it.
    pub async fn start_with(options: Options) -> Result<Self, Error> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (drop_tx, _) = tokio::sync::watch::channel(0u64);
        let shared = Arc::new(server::Shared {
            state: Mutex::new(store::State::new(options.history_limit)),
            faults: Faults {
                state: Arc::default(),
                drop_watches: Arc::new(drop_tx),
            },
            requests: Mutex::default(),
            addr: addr.to_string(),
            bookmark_interval: options.bookmark_interval,
            tokens: Mutex::default(),
            backends: Mutex::default(),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), std::io::Error>>();
        let app = server::router(shared.clone());
        std::thread::Builder::new()
            .name(format!("kube-test-server-{}", addr.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let serve = axum::serve(listener, app);
                    tokio::select! {
                        _ = serve => {}
                        _ = stop_rx => {}
                    }
                });
                drop(rt);
                let _ = stopped_tx.send(());
            })?;
        ready_rx.await.map_err(|_| Error::Start)??;

        let url = url::Url::parse(&format!("http://{addr}")).map_err(|_| Error::Start)?;
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&url))?;
        Ok(Self {
            shared,
            url,
            dir,
            kubeconfig,
            stop: Some(stop_tx),
            stopped: Some(stopped_rx),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> url::Url {
        self.url.clone()
    }

    /// A kubeconfig (context `kube-test-server`, namespace `default`, no credentials).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A `kube::Client` built from [`Self::kubeconfig_path`].
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            // The file was written by `start` with a fixed, valid layout.
            .expect("kubeconfig written by start() is readable");
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("kubeconfig written by start() is valid");
        kube::Client::try_from(config).expect("plain-HTTP client from a valid config")
    }

    /// `kubectl --kubeconfig <ours> --cache-dir <private>` (a tokio Command: await its output).
    pub fn kubectl(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("kubectl");
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"));
        c.kill_on_drop(true);
        c
    }

    /// Registers a bearer token: a TokenReview of it authenticates `username` with `groups`
    /// (plus `system:authenticated`). Unknown tokens are not authenticated.
    pub fn add_token(&self, token: &str, username: &str, groups: &[&str]) {
        lock(&self.shared.tokens).insert(
            token.to_owned(),
            reviews::TokenUser {
                username: username.to_owned(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
            },
        );
    }

    /// Makes the service proxy `/api/v1/namespaces/{namespace}/services/{name}:{port}/proxy/...`
    /// forward to `url` (`port` is the port name; "" matches any).
    pub fn set_service_backend(&self, namespace: &str, name: &str, port: &str, url: url::Url) {
        lock(&self.shared.backends).insert(
            (namespace.to_owned(), name.to_owned(), port.to_owned()),
            url,
        );
    }

    /// A kubeconfig like [`Self::kubeconfig_path`] whose user authenticates with `token`
    /// (written next to it as `kubeconfig-<user>`).
    pub fn kubeconfig_with_token(&self, user: &str, token: &str) -> std::io::Result<PathBuf> {
        let path = self.dir.path().join(format!("kubeconfig-{user}"));
        let yaml = kubeconfig_yaml(&self.url)
            .replace("  user: {}\n", &format!("  user:\n    token: {token}\n"));
        std::fs::write(&path, yaml)?;
        Ok(path)
    }

    /// Fault injection handle.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Every request so far, in arrival order of completion.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The RBAC rules the requests so far needed: `(apiGroup, resource[/subresource])` to verbs,
    /// for comparison with a Role or ClusterRole. `include` selects the requests to count (e.g.
    /// by user agent or field manager; kube-rs sends no user agent, kubectl does).
    pub fn rbac_usage(
        &self,
        include: impl Fn(&RecordedRequest) -> bool,
    ) -> BTreeMap<(String, String), BTreeSet<String>> {
        let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for r in lock(&self.shared.requests)
            .iter()
            .filter(|r| r.is_resource_request() && include(r))
        {
            let resource = match &r.subresource {
                Some(s) => format!("{}/{s}", r.resource),
                None => r.resource.clone(),
            };
            out.entry((r.group.clone(), resource))
                .or_default()
                .insert(r.verb.clone());
        }
        out
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Drops the watch event history, as etcd compaction does: every watch (re)started from an
    /// older resourceVersion gets a 410 Gone ERROR event and the client must relist.
    pub fn compact_history(&self) {
        lock(&self.shared.state).compact();
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.state).rv
    }

    /// Stops the server and waits until its thread has finished.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(r) = self.stopped.take() {
            let _ = r.await;
        }
    }
}

impl Drop for KubeTestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn kubeconfig_yaml(url: &url::Url) -> String {
    let server = url.as_str().trim_end_matches('/');
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-test-server\n  cluster:\n    server: {server}\nusers:\n- name: kube-test-server\n  user: {{}}\ncontexts:\n- name: kube-test-server\n  context:\n    cluster: kube-test-server\n    user: kube-test-server\n    namespace: default\ncurrent-context: kube-test-server\n"
    )
}
