//! The fleet benchmark (issue 15, the MSP case): the project's Kubernetes API test server, the
//! simulator serving N small organizations behind one multi-tenant key (20 ms per response by
//! default), and the operator (a binary given with `--operator`, e.g. a release build copied
//! to /tmp) managing N connections, one per `orgId`, each with its own Secret holding that key.
//! With `--shards K`, K operator processes split the fleet by the label `shard` through
//! `--connection-selector`, as K releases would.
//!
//! Prints: time until every connection is Ready (from the operators' start), peak RSS and CPU
//! of each operator over the idle window (`--idle-seconds`, 300 in the issue), status writes,
//! Events, log bytes, JumpCloud requests (per connection per hour, and key checks) during the
//! idle window, and the Secret-update-to-Ready latency (p50, p99) of `--secret-updates`
//! connections whose Secret is updated one at a time.
//!
//! ```text
//! cargo build --release && cp target/release/jumpcloud-operator /tmp/jco
//! cargo run --release --example bench_fleet -- --operator /tmp/jco --connections 1000
//! ```
//!
//! A benchmark, not a test: it asserts nothing and prints figures (BENCHMARKS.md records them).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use jumpcloud_operator::crd::JumpCloudConnection;
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::CustomResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube_test_server::KubeTestServer;
use secrecy::ExposeSecret;
use serde_json::json;

const NS: &str = "fleet";

#[derive(Parser)]
struct Args {
    /// The operator binary (copy a release build aside: a rebuild must not swap it).
    #[arg(long)]
    operator: PathBuf,
    /// Connections (= organizations).
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Operator processes splitting the fleet by `--connection-selector shard=sK`.
    #[arg(long, default_value_t = 1)]
    shards: usize,
    /// `--concurrency` of each operator.
    #[arg(long, default_value_t = 4)]
    concurrency: u16,
    /// Simulator delay per response, in milliseconds.
    #[arg(long, default_value_t = 20)]
    delay_ms: u64,
    /// Idle window after everything is Ready, in seconds (the issue's is 300).
    #[arg(long, default_value_t = 300)]
    idle_seconds: u64,
    /// Connections whose Secret is updated (one at a time) for the latency figures.
    #[arg(long, default_value_t = 50)]
    secret_updates: usize,
    /// Give up waiting for Ready after this many seconds.
    #[arg(long, default_value_t = 1800)]
    ready_timeout: u64,
}

/// One operator process and what it wrote to stdout and stderr (counted, not kept).
struct Operator {
    child: Child,
    log_bytes: Arc<AtomicU64>,
}

impl Operator {
    fn spawn(
        args: &Args,
        kubeconfig: &std::path::Path,
        endpoint: &str,
        store: &std::path::Path,
        shard: Option<usize>,
    ) -> Operator {
        let mut command = Command::new(&args.operator);
        command
            .arg("run")
            .arg("--evidence-store")
            .arg(store)
            .arg("--region-endpoint")
            .arg(endpoint)
            .arg("--concurrency")
            .arg(args.concurrency.to_string())
            .arg("--leader-election=false")
            .arg("--evidence-endpoint=false")
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .env("POD_NAME", format!("operator-{}", shard.unwrap_or(0)))
            .env("JUMPCLOUD_OPERATOR_BIND_ADDRESS", "127.0.0.1")
            .env("JUMPCLOUD_OPERATOR_METRICS_PORT", "0")
            .env("JUMPCLOUD_OPERATOR_HEALTH_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(shard) = shard {
            command
                .arg("--connection-selector")
                .arg(format!("shard=s{shard}"));
        }
        let mut child = command.spawn().expect("the operator starts");
        let log_bytes = Arc::new(AtomicU64::new(0));
        let streams: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().expect("piped")),
            Box::new(child.stderr.take().expect("piped")),
        ];
        for mut stream in streams {
            let count = log_bytes.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 64 * 1024];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    count.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
        Operator { child, log_bytes }
    }

    fn proc_status(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        text.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Peak resident set size, MiB.
    fn peak_rss_mib(&self) -> f64 {
        self.proc_status("VmHWM:") as f64 / 1024.0
    }

    /// User + system CPU time so far, seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command (which is in parentheses and may hold spaces).
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of /proc/PID/stat: 12 and 13 after the command.
        (ticks(11) + ticks(12)) as f64 / 100.0
    }

    fn stop(mut self) {
        // SIGTERM via kill(1): the operator finishes in-flight work and exits.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn is_ready(c: &JumpCloudConnection) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Status writes and Event writes the test server has recorded so far.
fn writes(kube: &KubeTestServer) -> (usize, usize) {
    let requests = kube.requests();
    let status = requests
        .iter()
        .filter(|r| {
            r.resource == "jumpcloudconnections"
                && r.subresource.as_deref() == Some("status")
                && r.verb == "patch"
        })
        .count();
    let events = requests
        .iter()
        .filter(|r| r.resource == "events" && (r.verb == "create" || r.verb == "patch"))
        .count();
    (status, events)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let n = args.connections;
    let kube = KubeTestServer::start().await.expect("kube test server");
    let client = kube.client().await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    crds.create(&PostParams::default(), &JumpCloudConnection::crd())
        .await
        .expect("CRD created");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NS}})).expect("a namespace"),
        )
        .await
        .expect("namespace created");
    let sim = Simulator::start(SimulatorConfig {
        regions: vec![Region::Us.into()],
        org: OrgSize::small(),
        response_delay: Duration::from_millis(args.delay_ms),
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts");
    let control = sim.control(Region::Us).expect("the US region is served");
    let mut orgs = vec![sim.org_id(Region::Us).expect("an org")];
    while orgs.len() < n {
        orgs.push(control.add_org(&[]).await.expect("org added"));
    }
    let key = sim.read_only_key(Region::Us).expose_secret().to_owned();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let connections: Api<JumpCloudConnection> = Api::namespaced(client.clone(), NS);
    let apply = PatchParams::apply("bench").force();
    for (i, org) in orgs.iter().enumerate() {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("key-{i:04}"), "namespace": NS},
            "data": {"api-key": k8s_openapi::ByteString(key.as_bytes().to_vec())},
        });
        secrets
            .patch(&format!("key-{i:04}"), &apply, &Patch::Apply(&secret))
            .await
            .expect("secret applied");
        let connection = json!({
            "apiVersion": "jumpcloud-operator.io/v1alpha1",
            "kind": "JumpCloudConnection",
            "metadata": {
                "name": format!("org-{i:04}"), "namespace": NS,
                "labels": {"shard": format!("s{}", i % args.shards.max(1))},
            },
            "spec": {"apiKeySecretRef": {"name": format!("key-{i:04}")}, "orgId": org},
        });
        connections
            .patch(&format!("org-{i:04}"), &apply, &Patch::Apply(&connection))
            .await
            .expect("connection applied");
    }
    let store = tempfile::tempdir().expect("a temporary directory");
    let endpoint = format!("us={}", sim.base_url(Region::Us).expect("served"));
    let before_start = control.counters().await.expect("counters").total;
    kube.clear_requests();
    let started = Instant::now();
    let operators: Vec<Operator> = if args.shards <= 1 {
        vec![Operator::spawn(
            &args,
            kube.kubeconfig_path(),
            &endpoint,
            store.path(),
            None,
        )]
    } else {
        (0..args.shards)
            .map(|s| {
                Operator::spawn(
                    &args,
                    kube.kubeconfig_path(),
                    &endpoint,
                    store.path(),
                    Some(s),
                )
            })
            .collect()
    };

    // Cold start: until every connection is Ready.
    let mut ready = 0;
    let mut all_ready_at = None;
    while started.elapsed() < Duration::from_secs(args.ready_timeout) {
        let list = connections
            .list(&ListParams::default())
            .await
            .expect("list");
        ready = list.items.iter().filter(|c| is_ready(c)).count();
        if ready == n {
            all_ready_at = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cold_requests = control.counters().await.expect("counters").total - before_start;
    let (cold_status, cold_events) = writes(&kube);
    let cold_logs: u64 = operators
        .iter()
        .map(|o| o.log_bytes.load(Ordering::Relaxed))
        .sum();
    let cold_cpu: Vec<f64> = operators.iter().map(Operator::cpu_seconds).collect();

    // Idle: nothing changes for the idle window.
    let idle_counters = control.counters().await.expect("counters");
    let idle_logs_before = cold_logs;
    let idle_cpu_before = cold_cpu.clone();
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let after_idle = control.counters().await.expect("counters");
    let idle_requests = after_idle.total - idle_counters.total;
    let key_checks = after_idle.for_path_prefix("/api/organizations")
        - idle_counters.for_path_prefix("/api/organizations");
    let (idle_status, idle_events) = writes(&kube);
    let idle_logs: u64 = operators
        .iter()
        .map(|o| o.log_bytes.load(Ordering::Relaxed))
        .sum::<u64>()
        - idle_logs_before;
    let idle_cpu: Vec<f64> = operators
        .iter()
        .zip(&idle_cpu_before)
        .map(|(o, before)| (o.cpu_seconds() - before) / args.idle_seconds as f64 * 100.0)
        .collect();

    // Secret updates, one at a time: until the connection has seen the new version and is Ready.
    let mut latencies = Vec::new();
    for i in (0..n)
        .step_by((n / args.secret_updates.max(1)).max(1))
        .take(args.secret_updates)
    {
        let name = format!("key-{i:04}");
        let updated = secrets
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {"bench/rotated": format!("{i}")}}}),
                ),
            )
            .await
            .expect("secret updated");
        let version = updated.metadata.resource_version;
        let at = Instant::now();
        loop {
            let c = connections.get(&format!("org-{i:04}")).await.expect("get");
            let seen = c
                .status
                .as_ref()
                .and_then(|s| s.observed_secret_version.clone());
            if seen == version && is_ready(&c) {
                latencies.push(at.elapsed().as_secs_f64());
                break;
            }
            if at.elapsed() > Duration::from_secs(60) {
                latencies.push(f64::INFINITY);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    latencies.sort_by(f64::total_cmp);

    let rss: Vec<String> = operators
        .iter()
        .map(|o| format!("{:.0}", o.peak_rss_mib()))
        .collect();
    println!(
        "fleet: {n} connections, {} operator(s), concurrency {}, {} ms per response",
        operators.len(),
        args.concurrency,
        args.delay_ms
    );
    match all_ready_at {
        Some(t) => println!(
            "  all Ready after     {:.1} s ({} JumpCloud requests, {:.1} per connection)",
            t.as_secs_f64(),
            cold_requests,
            cold_requests as f64 / n as f64
        ),
        None => println!(
            "  NOT all Ready after {} s: {ready}/{n}",
            args.ready_timeout
        ),
    }
    println!(
        "  cold start          {cold_status} status writes, {cold_events} Event writes, {cold_logs} log bytes, CPU {:?} s",
        cold_cpu
            .iter()
            .map(|c| format!("{c:.1}"))
            .collect::<Vec<_>>()
    );
    println!("  peak RSS            {} MiB", rss.join(" + "));
    let hours = args.idle_seconds as f64 / 3600.0;
    println!(
        "  idle {} s           CPU {:?} % of a core, {} status writes, {} Event writes, {} log bytes, {} JumpCloud requests ({} key checks) = {:.2} per connection per hour",
        args.idle_seconds,
        idle_cpu
            .iter()
            .map(|c| format!("{c:.2}"))
            .collect::<Vec<_>>(),
        idle_status - cold_status,
        idle_events - cold_events,
        idle_logs,
        idle_requests,
        key_checks,
        idle_requests as f64 / n as f64 / hours
    );
    println!(
        "  Secret update->Ready p50 {:.3} s, p99 {:.3} s, max {:.3} s ({} updates)",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
    for operator in operators {
        operator.stop();
    }
    sim.shutdown().await;
}
