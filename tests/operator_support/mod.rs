//! End-to-end harness: the real operator binary against the Kubernetes API test server and the
//! JumpCloud simulator. Waits are on conditions with deadlines, never sleeps.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jumpcloud_operator::crd::JumpCloudConnection;
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::control::SimulatorControl;
use jumpcloud_simulator::{SimAdmin, Simulator, SimulatorConfig};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{CustomResourceExt, ResourceExt};
use kube_test_server::KubeTestServer;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

pub struct Env {
    pub kube: KubeTestServer,
    pub client: kube::Client,
    pub sim: Simulator,
    pub evidence: tempfile::TempDir,
    /// Every key handed to the operator, for the leak scan.
    pub keys: Mutex<Vec<String>>,
    pub operator: Option<Operator>,
    /// Logs of operators that were stopped.
    pub old_logs: Mutex<String>,
}

pub struct Operator {
    child: tokio::process::Child,
    log: Arc<Mutex<String>>,
    /// The tasks copying stdout and stderr into `log`; they end at EOF.
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Operator {
    /// Starts `command` and copies its stdout and stderr into the log.
    pub fn spawn(mut command: tokio::process::Command) -> Operator {
        let mut child = command.spawn().expect("operator starts");
        let log = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            readers.push(tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }));
        }
        Operator {
            child,
            log,
            readers,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, deadline: Duration) {
        let found = eventually(deadline, || async {
            self.log().contains(needle).then_some(())
        });
        if found.await.is_none() {
            panic!("operator log never contained {needle:?}:\n{}", self.log());
        }
    }

    /// Waits until the log contains one of `needles`.
    pub async fn wait_for_any_log(&self, needles: &[&str], deadline: Duration) {
        let found = eventually(deadline, || async {
            let log = self.log();
            needles
                .iter()
                .any(|needle| log.contains(needle))
                .then_some(())
        });
        if found.await.is_none() {
            panic!(
                "operator log never contained any of {needles:?}:\n{}",
                self.log()
            );
        }
    }

    /// Waits until `needle` occurs at least `count` times in the log.
    pub async fn wait_for_log_count(&self, needle: &str, count: usize, deadline: Duration) {
        let found = eventually(deadline, || async {
            (self.log().matches(needle).count() >= count).then_some(())
        });
        if found.await.is_none() {
            panic!(
                "operator log never had {count} x {needle:?}:\n{}",
                tail(&self.log(), 40)
            );
        }
    }

    /// SIGTERM, then the exit status.
    pub async fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("operator running");
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("operator exits within 30 s of SIGTERM")
            .expect("operator exit status");
        // The log readers end at EOF of the exited process's pipes: join them so the log (and
        // the key-leak scan) has every line it wrote.
        for reader in std::mem::take(&mut self.readers) {
            tokio::time::timeout(Duration::from_secs(30), reader)
                .await
                .expect("log readers reach EOF within 30 s of exit")
                .expect("log reader task");
        }
        let text = self.log.lock().unwrap().clone();
        (status, text)
    }
}

/// The binary under test. `JUMPCLOUD_OPERATOR_BIN` overrides it: on machines where several
/// branches share one cargo target directory, another branch's build can replace
/// `target/debug/jumpcloud-operator` while these tests run, so copy it aside and point here.
pub fn operator_binary() -> std::path::PathBuf {
    std::env::var_os("JUMPCLOUD_OPERATOR_BIN")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_jumpcloud-operator").into())
}

pub async fn simulator(regions: &[Region]) -> Simulator {
    Simulator::start(SimulatorConfig {
        regions: regions.iter().map(|&r| r.into()).collect(),
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

impl Env {
    /// The connection's part of the evidence store the operator writes.
    pub fn store(&self, namespace: &str, name: &str) -> jumpcloud_operator::store::ConnectionStore {
        jumpcloud_operator::store::EvidenceStore::open(self.evidence.path().to_str().unwrap())
            .unwrap()
            .connection(&jumpcloud_operator::store::ConnectionId::new(namespace, name).unwrap())
    }

    /// The connection's latest committed snapshot, if any.
    pub async fn latest_snapshot(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<jumpcloud_operator::store::Snapshot> {
        self.store(namespace, name).latest().await.unwrap()
    }

    /// A test server with the CRD installed, a simulator serving `regions`, and a running
    /// operator.
    pub async fn start(regions: &[Region]) -> Env {
        let env = Env::without_operator(regions, true).await;
        env.with_operator(&[]).await
    }

    pub async fn without_operator(regions: &[Region], install_crd: bool) -> Env {
        let kube = KubeTestServer::start().await.expect("kube test server");
        let client = kube.client().await;
        if install_crd {
            let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
                Api::all(client.clone());
            crds.create(&PostParams::default(), &JumpCloudConnection::crd())
                .await
                .expect("CRD created");
        }
        Env {
            kube,
            client,
            sim: simulator(regions).await,
            evidence: tempfile::tempdir().unwrap(),
            keys: Mutex::new(Vec::new()),
            operator: None,
            old_logs: Mutex::new(String::new()),
        }
    }

    /// Installs report CRDs from `tests/crds/` (e.g. `wgpolicyk8s.io_policyreports.yaml`),
    /// before the operator starts: it discovers them once.
    pub async fn install_crds(&self, files: &[&str]) {
        let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(self.client.clone());
        for file in files {
            let path = format!("{}/tests/crds/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let crd = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            crds.create(&PostParams::default(), &crd)
                .await
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }

    pub async fn with_operator(mut self, extra: &[&str]) -> Env {
        self.operator = Some(self.spawn_operator(extra));
        self
    }

    pub fn control(&self, region: Region) -> SimulatorControl {
        SimulatorControl::new(self.sim.base_url(region).expect("region served"))
    }

    pub fn endpoints_arg(&self) -> String {
        self.sim
            .regions()
            .into_iter()
            .map(|r| format!("{r}={}", self.sim.base_url(r).unwrap()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A running operator with extra environment (e.g. test hooks).
    pub async fn with_operator_env(mut self, extra: &[&str], env: &[(&str, &str)]) -> Env {
        let mut command = self.operator_command(extra);
        command.envs(env.iter().copied());
        self.operator = Some(Operator::spawn(command));
        self
    }

    pub fn operator_command(&self, extra: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(operator_binary());
        command
            .arg("run")
            .arg("--evidence-store")
            .arg(self.evidence.path())
            .arg("--region-endpoint")
            .arg(self.endpoints_arg())
            .args(extra)
            .env("KUBECONFIG", self.kube.kubeconfig_path())
            .env("RUST_LOG", "info,jumpcloud_operator=debug,kube=warn")
            .env("POD_NAME", "operator-0")
            // Parallel tests: loopback, free ports (flags given in `extra` win over these).
            .env("JUMPCLOUD_OPERATOR_BIND_ADDRESS", "127.0.0.1")
            .env("JUMPCLOUD_OPERATOR_METRICS_PORT", "0")
            .env("JUMPCLOUD_OPERATOR_HEALTH_PORT", "0")
            .env("JUMPCLOUD_OPERATOR_EVIDENCE_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    pub fn spawn_operator(&self, extra: &[&str]) -> Operator {
        Operator::spawn(self.operator_command(extra))
    }

    pub fn operator(&self) -> &Operator {
        self.operator.as_ref().expect("operator running")
    }

    /// Stops the running operator (SIGTERM) and returns its exit status.
    pub async fn stop_operator(&mut self) -> std::process::ExitStatus {
        let operator = self.operator.take().expect("operator running");
        let (status, log) = operator.stop().await;
        self.old_logs.lock().unwrap().push_str(&log);
        status
    }

    pub fn all_logs(&self) -> String {
        let mut logs = self.old_logs.lock().unwrap().clone();
        if let Some(op) = &self.operator {
            logs.push_str(&op.log());
        }
        logs
    }

    pub fn admin(&self, region: Region, role: &str) -> SimAdmin {
        self.sim
            .admins(region)
            .into_iter()
            .find(|a| a.role_name == role)
            .unwrap_or_else(|| panic!("no {role} admin in {region}"))
    }

    pub fn read_only_key(&self, region: Region) -> String {
        self.sim.read_only_key(region).expose_secret().to_owned()
    }

    pub async fn namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("namespace {name}: {e}"),
        }
    }

    /// Creates or replaces a Secret with one data entry.
    pub async fn secret(&self, ns: &str, name: &str, entries: &[(&str, &str)]) {
        self.namespace(ns).await;
        for (key, value) in entries {
            // A client id is an identifier that status shows; only secrets are scanned for.
            if value.trim().len() > 8 && *key != "client-id" {
                self.keys.lock().unwrap().push(value.trim().to_owned());
            }
        }
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            data: Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        };
        api.patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": ns},
                "data": serde_json::to_value(&secret.data).unwrap(),
            })),
        )
        .await
        .expect("secret applied");
    }

    pub async fn delete_secret(&self, ns: &str, name: &str) {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        api.delete(name, &DeleteParams::default())
            .await
            .expect("secret deleted");
    }

    pub fn connections(&self, ns: &str) -> Api<JumpCloudConnection> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Applies a connection with this spec (server-side apply, manager "test").
    pub async fn connection(&self, ns: &str, name: &str, spec: Value) {
        self.namespace(ns).await;
        self.connections(ns)
            .patch(
                name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&json!({
                    "apiVersion": "jumpcloud-operator.io/v1alpha1",
                    "kind": "JumpCloudConnection",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": spec,
                })),
            )
            .await
            .expect("connection applied");
    }

    /// Applies a connection with labels.
    pub async fn labelled_connection(&self, ns: &str, name: &str, labels: Value, spec: Value) {
        self.namespace(ns).await;
        self.connections(ns)
            .patch(
                name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&json!({
                    "apiVersion": "jumpcloud-operator.io/v1alpha1",
                    "kind": "JumpCloudConnection",
                    "metadata": {"name": name, "namespace": ns, "labels": labels},
                    "spec": spec,
                })),
            )
            .await
            .expect("connection applied");
    }

    /// Merge-patches a connection (spec fields or annotations).
    pub async fn patch_connection(&self, ns: &str, name: &str, patch: Value) {
        self.connections(ns)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("connection patched");
    }

    /// Asks for one sync with the `sync-requested-at` annotation set to `value`.
    pub async fn request_sync(&self, ns: &str, name: &str, value: &str) {
        self.patch_connection(
            ns,
            name,
            json!({"metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": value}}}),
        )
        .await;
    }

    /// Waits until `check` holds for the connection, or panics with its status and the log.
    pub async fn wait_for(
        &self,
        ns: &str,
        name: &str,
        deadline: Duration,
        what: &str,
        check: impl Fn(&JumpCloudConnection) -> bool,
    ) -> JumpCloudConnection {
        let api = self.connections(ns);
        let condition = |obj: Option<&JumpCloudConnection>| obj.is_some_and(&check);
        match tokio::time::timeout(
            deadline,
            kube::runtime::wait::await_condition(api.clone(), name, condition),
        )
        .await
        {
            Ok(Ok(Some(obj))) => obj,
            outcome => {
                let current = api.get_opt(name).await.ok().flatten();
                panic!(
                    "{ns}/{name}: {what} not reached within {deadline:?} ({outcome:?})\nstatus: {}\nlog:\n{}",
                    serde_json::to_string_pretty(&current.and_then(|c| c.status)).unwrap(),
                    tail(&self.all_logs(), 40)
                );
            }
        }
    }

    /// Waits until condition `type_` has `status` and `reason`.
    pub async fn wait_condition(
        &self,
        ns: &str,
        name: &str,
        type_: &str,
        status: &str,
        reason: &str,
        deadline: Duration,
    ) -> JumpCloudConnection {
        self.wait_for(
            ns,
            name,
            deadline,
            &format!("{type_}={status} ({reason})"),
            |c| {
                condition(c, type_)
                    .is_some_and(|cond| cond.status == status && cond.reason == reason)
            },
        )
        .await
    }

    pub async fn events(&self, ns: &str) -> Vec<Event> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
        api.list(&ListParams::default())
            .await
            .expect("events")
            .items
    }

    /// Waits for an event with this reason about `name`.
    pub async fn wait_event(
        &self,
        ns: &str,
        name: &str,
        reason: &str,
        deadline: Duration,
    ) -> Event {
        self.wait_events(ns, name, reason, 1, deadline)
            .await
            .remove(0)
    }

    /// Waits for at least `count` events with this reason about `name`.
    pub async fn wait_events(
        &self,
        ns: &str,
        name: &str,
        reason: &str,
        count: usize,
        deadline: Duration,
    ) -> Vec<Event> {
        let found = eventually(deadline, || async {
            let found: Vec<Event> = self
                .events(ns)
                .await
                .into_iter()
                .filter(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                })
                .collect();
            (found.len() >= count).then_some(found)
        })
        .await;
        match found {
            Some(found) => found,
            None => panic!(
                "no {reason} event for {ns}/{name}; events: {:?}",
                self.events(ns)
                    .await
                    .iter()
                    .map(|e| (e.reason.clone(), e.note.clone()))
                    .collect::<Vec<_>>()
            ),
        }
    }

    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        use tokio::io::AsyncWriteExt;
        let mut cmd = self.kube.kubectl();
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().expect("kubectl on PATH");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).await.unwrap();
            drop(pipe);
        }
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl finished")
            .expect("kubectl ran")
    }

    /// Requests with `key` the simulator has seen, in every region.
    pub async fn requests_with_key(&self, key: &str) -> u64 {
        let mut total = 0;
        for region in self.sim.regions() {
            let counters = self
                .control(region.into())
                .counters()
                .await
                .expect("counters");
            total += counters.for_key(&SecretString::from(key.to_owned()));
        }
        total
    }

    pub async fn requests_on(&self, region: Region, prefix: &str) -> u64 {
        self.control(region)
            .counters()
            .await
            .expect("counters")
            .for_path_prefix(prefix)
    }

    /// The key scan: no key ever given to the operator appears in its logs, in any status or
    /// event, or in any evidence file.
    pub async fn assert_no_key_leak(&self) {
        let keys = self.keys.lock().unwrap().clone();
        assert!(!keys.is_empty());
        let mut haystacks: Vec<(String, String)> = vec![("operator log".into(), self.all_logs())];
        let all: Api<JumpCloudConnection> = Api::all(self.client.clone());
        for c in all.list(&ListParams::default()).await.unwrap().items {
            haystacks.push((
                format!("status of {}", c.name_any()),
                serde_json::to_string(&c).unwrap(),
            ));
        }
        let events: Api<Event> = Api::all(self.client.clone());
        for e in events.list(&ListParams::default()).await.unwrap().items {
            haystacks.push(("event".into(), serde_json::to_string(&e).unwrap()));
        }
        for entry in walk(self.evidence.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            haystacks.push((
                entry.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
        for key in &keys {
            for (what, text) in &haystacks {
                assert!(
                    !text.contains(key.as_str()),
                    "the API key leaked into {what}"
                );
            }
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Polls `check` until it gives a value, or `None` once `deadline` has passed: the one waiting
/// loop of these tests (the pause between polls is a polling interval, not a synchronisation).
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if start.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub fn condition<'a>(
    c: &'a JumpCloudConnection,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    c.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|cond| cond.type_ == type_))
}

pub fn is_ready(c: &JumpCloudConnection) -> bool {
    condition(c, "Ready").is_some_and(|r| r.status == "True")
}

pub fn spec(secret: &str) -> Value {
    json!({"apiKeySecretRef": {"name": secret}, "keyCheckInterval": "30s"})
}
