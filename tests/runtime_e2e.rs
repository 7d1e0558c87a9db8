//! Production runtime end to end: `/metrics`, `/healthz`, `/readyz`, leader election between
//! two real operator processes, graceful shutdown, and the record of the operator's Kubernetes
//! API calls that the chart test compares with the chart's RBAC.

mod operator_support;

use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jumpcloud_operator::region::Region;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_test_server::RecordedRequest;
use operator_support::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// An operator process this file controls directly (SIGTERM and SIGKILL).
struct Proc {
    child: tokio::process::Child,
    log: Arc<Mutex<String>>,
    name: String,
}

impl Proc {
    fn spawn(env: &Env, name: &str, extra: &[&str]) -> Proc {
        let mut args = vec!["--instance", name, "--log-format", "json"];
        args.extend_from_slice(extra);
        let mut child = env
            .operator_command(&args)
            .spawn()
            .expect("operator starts");
        let log = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        Proc {
            child,
            log,
            name: name.to_owned(),
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    async fn wait_for_log(&self, needle: &str, deadline: Duration) {
        let found = eventually(deadline, || async {
            self.log().contains(needle).then_some(())
        })
        .await;
        assert!(
            found.is_some(),
            "{}: log never contained {needle:?}:\n{}",
            self.name,
            tail(&self.log(), 40)
        );
    }

    /// The address a server logged (`"server":"metrics"` or `"health"`).
    async fn addr(&self, server: &str) -> String {
        let start = Instant::now();
        loop {
            for line in self.log().lines() {
                let Ok(value) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let fields = &value["fields"];
                if fields["message"] == "listening" && fields["server"] == server {
                    return fields["addr"].as_str().unwrap().to_owned();
                }
            }
            assert!(
                start.elapsed() < DEFAULT_WAIT,
                "{}: no {server} address logged:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await; // polling interval
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running");
        let ok = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success());
    }

    async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("operator exits within 30 s")
            .expect("exit status")
    }
}

async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.unwrap_or_default()))
}

async fn wait_status(url: &str, want: u16, deadline: Duration) {
    let answered = eventually(deadline, || async {
        (get(url).await.map(|(status, _)| status) == Some(want)).then_some(())
    })
    .await;
    assert!(
        answered.is_some(),
        "{url} never answered {want} (last: {:?})",
        get(url).await
    );
}

fn by(name: &str) -> impl Fn(&RecordedRequest) -> bool + '_ {
    move |r| {
        r.user_agent.as_deref().is_some_and(|ua| {
            ua.starts_with("jumpcloud-operator/") && ua.contains(&format!("({name})"))
        })
    }
}

fn status_writes(env: &Env, name: &str) -> usize {
    env.kube
        .requests()
        .iter()
        .filter(|r| by(name)(r))
        .filter(|r| {
            r.resource == "jumpcloudconnections"
                && r.subresource.as_deref() == Some("status")
                && r.verb == "patch"
        })
        .count()
}

async fn lease_holder(env: &Env) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), "default");
    leases
        .get_opt("jumpcloud-operator")
        .await
        .expect("lease readable")
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

async fn wait_holder(env: &Env, want: &str, deadline: Duration) -> Duration {
    let start = Instant::now();
    let held = eventually(deadline, || async {
        (lease_holder(env).await.as_deref() == Some(want)).then(|| start.elapsed())
    })
    .await;
    match held {
        Some(elapsed) => elapsed,
        None => panic!(
            "{want} never took the lease (holder: {:?})",
            lease_holder(env).await
        ),
    }
}

/// Where a record for the chart tests (`tests/chart`) goes: `$<env_var>`, else `<target>/<file>`.
fn chart_test_record(env_var: &str, file: &str) -> std::path::PathBuf {
    std::env::var_os(env_var)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| {
                    // <target>/<profile>/jumpcloud-operator
                    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_jumpcloud-operator"));
                    exe.parent().unwrap().parent().unwrap().to_owned()
                });
            target.join(file)
        })
}

/// Writes the operator's resource requests for the chart's RBAC test (`tests/chart`).
fn write_api_calls(env: &Env) -> std::path::PathBuf {
    let path = chart_test_record("JUMPCLOUD_OPERATOR_API_CALLS", "kube-api-calls.jsonl");
    let mut lines = std::collections::BTreeSet::new();
    for r in env.kube.requests() {
        let ours = r
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("jumpcloud-operator/"));
        if ours && r.is_resource_request() {
            lines.insert(
                json!({
                    "verb": r.verb,
                    "group": r.group,
                    "resource": r.resource,
                    "subresource": r.subresource,
                    "namespace": r.namespace,
                })
                .to_string(),
            );
        }
    }
    let text: String = lines.into_iter().map(|l| l + "\n").collect();
    std::fs::write(&path, text).expect("API call record written");
    path
}

/// A whole operator lifetime with leader election on: start, lease, reconcile, status, events
/// (new and repeated), Secret reads, metrics, graceful stop with the lease released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_a_full_lifetime_of_api_calls() {
    let env = Env::without_operator(&[Region::Us], true).await;
    // Both report CRDs, so the chart's default (`policyReports: auto`) calls are all recorded.
    env.install_crds(&[
        "wgpolicyk8s.io_policyreports.yaml",
        "openreports.io_reports.yaml",
    ])
    .await;
    let key = env.read_only_key(Region::Us);
    let mut op = Proc::spawn(&env, "op-a", &["--leader-election-namespace", "default"]);
    let health = format!("http://{}", op.addr("health").await);
    let metrics = format!("http://{}/metrics", op.addr("metrics").await);
    wait_status(&format!("{health}/healthz"), 200, DEFAULT_WAIT).await;
    op.wait_for_log("became the leader", DEFAULT_WAIT).await;
    wait_status(&format!("{health}/readyz"), 200, DEFAULT_WAIT).await;

    // A missing Secret (Warning event), then the Secret (Ready), then missing again: the
    // repeated event is a series patch.
    env.connection("team-a", "prod", spec("jc")).await;
    env.wait_condition(
        "team-a",
        "prod",
        "KeyValid",
        "False",
        "SecretNotFound",
        DEFAULT_WAIT,
    )
    .await;
    env.secret("team-a", "jc", &[("api-key", &key)]).await;
    env.wait_for("team-a", "prod", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let reports_written = eventually(DEFAULT_WAIT, || async {
        (op.log().matches("policy report written").count() >= 2).then_some(())
    })
    .await;
    assert!(reports_written.is_some(), "{}", tail(&op.log(), 40));
    env.delete_secret("team-a", "jc").await;
    env.wait_condition(
        "team-a",
        "prod",
        "KeyValid",
        "False",
        "SecretNotFound",
        DEFAULT_WAIT,
    )
    .await;
    let start = Instant::now();
    while !env
        .kube
        .requests()
        .iter()
        .any(|r| by("op-a")(r) && r.resource == "events" && r.verb == "patch")
    {
        assert!(
            start.elapsed() < DEFAULT_WAIT,
            "the repeated event was never patched"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // polling interval
    }
    env.secret("team-a", "jc", &[("api-key", &key)]).await;
    env.wait_for("team-a", "prod", DEFAULT_WAIT, "Ready", |c| {
        is_ready(c) && condition(c, "KeyValid").is_some_and(|k| k.reason == "Accepted")
    })
    .await;

    // The documented series, with this connection's labels, and no key material.
    let (code, text) = get(&metrics).await.expect("metrics answer");
    assert_eq!(code, 200);
    println!("{text}");
    for series in [
        "jumpcloud_operator_sync_duration_seconds_bucket",
        "jumpcloud_operator_sync_duration_seconds_count",
        "jumpcloud_operator_syncs_total{result=\"success\"}",
        "jumpcloud_operator_jumpcloud_requests_total{endpoint_group=\"devices\",status_class=\"2xx\"}",
        "jumpcloud_operator_jumpcloud_requests_total{endpoint_group=\"identity\",status_class=\"2xx\"}",
        "jumpcloud_operator_key_state{namespace=\"team-a\",connection=\"prod\",state=\"Accepted\"} 1",
        "jumpcloud_operator_key_state{namespace=\"team-a\",connection=\"prod\",state=\"KeyRevoked\"} 0",
        "jumpcloud_operator_evidence_records{namespace=\"team-a\",connection=\"prod\",kind=\"devices\"} 55",
        "jumpcloud_operator_control_results{namespace=\"team-a\",connection=\"prod\",result=\"fail\"}",
    ] {
        assert!(text.contains(series), "{series} missing from /metrics");
    }
    assert!(text.trim_end().ends_with("# EOF"));
    assert!(!text.contains(&key), "the API key leaked into /metrics");
    let fingerprint = env
        .connections("team-a")
        .get("prod")
        .await
        .unwrap()
        .status
        .unwrap()
        .credential
        .unwrap()
        .fingerprint;
    assert!(!text.contains(&fingerprint));

    // The evidence endpoint checks a caller with a TokenReview and a SubjectAccessReview (a
    // user without a binding: 403), so the recorded calls below include them.
    env.kube.add_token("runtime-e2e-token", "nobody", &[]);
    let evidence = format!("http://{}", op.addr("evidence").await);
    let denied = reqwest::Client::new()
        .get(format!("{evidence}/connections/team-a/prod/snapshots"))
        .bearer_auth("runtime-e2e-token")
        .send()
        .await
        .expect("evidence endpoint answers");
    assert_eq!(denied.status().as_u16(), 403);

    // Deleting the connection removes its series.
    env.connections("team-a")
        .delete("prod", &Default::default())
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let (_, text) = get(&metrics).await.expect("metrics answer");
        if !text.contains("connection=\"prod\"") {
            break;
        }
        assert!(
            start.elapsed() < DEFAULT_WAIT,
            "series of a deleted connection stay:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // polling interval
    }

    // SIGTERM: clean exit, lease released.
    op.signal("-TERM");
    let status = op.wait().await;
    assert!(status.success(), "{status:?}\n{}", tail(&op.log(), 30));
    assert_eq!(lease_holder(&env).await, None);
    assert!(op.log().contains("released the leader lease"));
    assert!(
        get(&format!("{health}/healthz")).await.is_none(),
        "servers stopped"
    );

    let record = write_api_calls(&env);
    let recorded = std::fs::read_to_string(&record).unwrap();
    println!("{}:\n{recorded}", record.display());
    for needed in [
        r#""group":"coordination.k8s.io","namespace":"default","resource":"leases","subresource":null,"verb":"patch""#,
        r#""group":"events.k8s.io","namespace":"team-a","resource":"events","subresource":null,"verb":"create""#,
        r#""resource":"jumpcloudconnections","subresource":"status","verb":"patch""#,
        r#""group":"","namespace":"team-a","resource":"secrets","subresource":null,"verb":"get""#,
        r#""group":"wgpolicyk8s.io","namespace":"team-a","resource":"policyreports","subresource":null,"verb":"patch""#,
        r#""group":"openreports.io","namespace":"team-a","resource":"reports","subresource":null,"verb":"get""#,
        r#""group":"authentication.k8s.io","namespace":null,"resource":"tokenreviews","subresource":null,"verb":"create""#,
        r#""group":"authorization.k8s.io","namespace":null,"resource":"subjectaccessreviews","subresource":null,"verb":"create""#,
    ] {
        assert!(recorded.contains(needed), "{needed} not recorded");
    }
    env.assert_no_key_leak().await;
}

/// The per-connection gauge lines of a scrape (counters and the histogram left out: they count
/// this process's work and start from zero).
fn gauge_lines(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| l.contains("connection=\"prod\""))
        .map(str::to_owned)
        .collect()
}

/// Every gauge is derived from the connection's status, so a restarted operator exports the
/// same values at once, not after the next sync (hours later). The scrape is also the record
/// the chart test checks the PrometheusRule and the dashboard against.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_come_back_from_status_after_a_restart_without_a_sync() {
    let env = Env::without_operator(&[Region::Us], true).await;
    let read_only = env.admin(Region::Us, "Read Only");
    env.control(Region::Us)
        .set_key_expiry(
            &read_only.id,
            Some(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30)),
        )
        .await
        .unwrap();
    env.secret(
        "team-a",
        "jc",
        &[("api-key", &env.read_only_key(Region::Us))],
    )
    .await;
    env.connection("team-a", "prod", spec("jc")).await;
    let mut op = Proc::spawn(&env, "first", &["--leader-election=false"]);
    let metrics = format!("http://{}/metrics", op.addr("metrics").await);
    env.wait_for(
        "team-a",
        "prod",
        DEFAULT_WAIT,
        "a committed snapshot",
        |c| {
            is_ready(c)
                && c.status
                    .as_ref()
                    .and_then(|s| s.evidence.as_ref())
                    .is_some_and(|e| e.snapshot.is_some())
        },
    )
    .await;
    // The status patch and the gauges are set by the same reconcile: wait for the gauges.
    let before = eventually(DEFAULT_WAIT, || async {
        let (_, text) = get(&metrics).await?;
        text.contains("jumpcloud_operator_control_status{")
            .then_some(text)
    })
    .await
    .expect("control_status exported after the sync");
    let status = env
        .connections("team-a")
        .get("prod")
        .await
        .unwrap()
        .status
        .unwrap();
    let failing = &status.controls.as_ref().unwrap().failing_ids;
    assert!(!failing.is_empty(), "the simulator org fails some controls");
    for id in failing {
        let line = format!(
            "jumpcloud_operator_control_status{{namespace=\"team-a\",connection=\"prod\",control=\"{id}\",status=\"fail\"}} 1"
        );
        assert!(before.contains(&line), "{line} missing:\n{before}");
    }
    let sequence = status
        .evidence
        .as_ref()
        .unwrap()
        .snapshot
        .as_ref()
        .unwrap()
        .sequence;
    let synced = status
        .last_successful_sync_time
        .as_ref()
        .unwrap()
        .0
        .as_second();
    for line in [
        format!(
            "jumpcloud_operator_evidence_head_sequence{{namespace=\"team-a\",connection=\"prod\"}} {sequence}"
        ),
        format!(
            "jumpcloud_operator_last_successful_sync_timestamp_seconds{{namespace=\"team-a\",connection=\"prod\"}} {synced}"
        ),
        "jumpcloud_operator_sync_interval_seconds{namespace=\"team-a\",connection=\"prod\"} 21600"
            .to_owned(),
        "jumpcloud_operator_key_expiry_timestamp_seconds{namespace=\"team-a\",connection=\"prod\"}"
            .to_owned(),
    ] {
        assert!(before.contains(&line), "{line} missing:\n{before}");
    }
    let record = chart_test_record("JUMPCLOUD_OPERATOR_METRICS_SCRAPE", "operator-metrics.txt");
    std::fs::write(&record, &before).expect("scrape record written");
    op.signal("-TERM");
    assert!(op.wait().await.success());

    let requests = env.requests_on(Region::Us, "/api").await;
    let mut op = Proc::spawn(&env, "second", &["--leader-election=false"]);
    let metrics = format!("http://{}/metrics", op.addr("metrics").await);
    let after = eventually(DEFAULT_WAIT, || async {
        let (_, text) = get(&metrics).await?;
        (gauge_lines(&text) == gauge_lines(&before)).then_some(text)
    })
    .await;
    let (_, now) = get(&metrics).await.unwrap();
    assert!(
        after.is_some(),
        "the restarted operator's gauges differ:\nbefore:\n{:#?}\nafter:\n{:#?}",
        gauge_lines(&before),
        gauge_lines(&now)
    );
    assert!(
        !now.contains("jumpcloud_operator_syncs_total{"),
        "no sync ran after the restart:\n{now}"
    );
    assert_eq!(
        env.requests_on(Region::Us, "/api").await,
        requests,
        "nothing was collected again"
    );
    op.signal("-TERM");
    assert!(op.wait().await.success());
    env.assert_no_key_leak().await;
}

/// `/readyz` answers 503 until the connection store has its initial list, `/healthz` 200 all
/// along (here without leader election: the replica is always active).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_flips_once_the_store_is_listed() {
    let env = Env::without_operator(&[Region::Us], true).await;
    // Every API request takes 3 s until the delay is cleared: the store cannot be ready yet.
    env.kube.faults().set_delay(Some(Duration::from_secs(3)));
    let mut op = Proc::spawn(&env, "solo", &["--leader-election=false"]);
    let health = format!("http://{}", op.addr("health").await);
    let (code, _) = get(&format!("{health}/healthz")).await.expect("healthz");
    assert_eq!(code, 200);
    let (code, _) = get(&format!("{health}/readyz")).await.expect("readyz");
    assert_eq!(code, 503);
    env.kube.faults().clear();
    op.wait_for_log("connection store ready", DEFAULT_WAIT)
        .await;
    wait_status(&format!("{health}/readyz"), 200, DEFAULT_WAIT).await;
    assert!(
        env.kube
            .requests()
            .iter()
            .all(|r| !(by("solo")(r) && r.resource == "leases")),
        "--leader-election=false never touches the lease"
    );
    op.signal("-TERM");
    assert!(op.wait().await.success());
}

/// Two replicas: one leader writes status; SIGTERM hands over at once (the lease is released);
/// kill -9 hands over after the lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_writer_and_takeover_on_sigterm_and_after_kill() {
    let env = Env::without_operator(&[Region::Us], true).await;
    let key = env.read_only_key(Region::Us);
    env.secret("team-a", "jc", &[("api-key", &key)]).await;
    env.connection("team-a", "prod", spec("jc")).await;

    // A holds a long lease (20 s): a takeover within seconds can only come from its release.
    let fast = [
        "--leader-election-namespace",
        "default",
        "--leader-election-lease-duration",
        "3s",
        "--leader-election-renew-margin",
        "1s",
        "--leader-election-retry-period",
        "250ms",
    ];
    let mut a = Proc::spawn(
        &env,
        "op-a",
        &[
            "--leader-election-namespace",
            "default",
            "--leader-election-lease-duration",
            "20s",
            "--leader-election-retry-period",
            "250ms",
        ],
    );
    a.wait_for_log("became the leader", DEFAULT_WAIT).await;
    let mut b = Proc::spawn(&env, "op-b", &fast);
    b.wait_for_log("waiting for the leader lease", DEFAULT_WAIT)
        .await;
    let b_health = format!("http://{}", b.addr("health").await);
    wait_status(&format!("{b_health}/readyz"), 200, DEFAULT_WAIT).await;

    env.wait_for("team-a", "prod", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    assert!(status_writes(&env, "op-a") > 0);
    assert_eq!(status_writes(&env, "op-b"), 0, "the standby wrote status");
    assert!(
        !env.kube
            .requests()
            .iter()
            .any(|r| by("op-b")(r) && r.resource == "jumpcloudconnections"),
        "the standby must not even watch connections"
    );
    assert_eq!(lease_holder(&env).await.as_deref(), Some("op-a"));

    // SIGTERM A: B takes over after A's release, well before A's 20 s lease would expire (the
    // deadline is the bound; the figure is printed, not asserted).
    let stopped = Instant::now();
    a.signal("-TERM");
    let takeover = wait_holder(&env, "op-b", Duration::from_secs(15)).await;
    let a_status = a.wait().await;
    assert!(a_status.success(), "{a_status:?}");
    b.wait_for_log("became the leader", DEFAULT_WAIT).await;
    println!(
        "BENCH takeover after SIGTERM (release): {takeover:?} (process gone after {:?})",
        stopped.elapsed()
    );

    // B reconciles now: a sync request is handled and written by B.
    let before = status_writes(&env, "op-a");
    env.patch_connection(
        "team-a",
        "prod",
        json!({"metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": "r1"}}}),
    )
    .await;
    env.wait_for(
        "team-a",
        "prod",
        DEFAULT_WAIT,
        "sync request handled",
        |c| {
            c.status
                .as_ref()
                .and_then(|s| s.last_handled_sync_request.as_deref())
                == Some("r1")
        },
    )
    .await;
    assert!(status_writes(&env, "op-b") > 0);
    assert_eq!(
        status_writes(&env, "op-a"),
        before,
        "the old leader wrote after stopping"
    );

    // kill -9 B (no release): C takes over once B's 3 s lease has expired.
    let mut c = Proc::spawn(&env, "op-c", &fast);
    c.wait_for_log("waiting for the leader lease", DEFAULT_WAIT)
        .await;
    let killed = Instant::now();
    b.signal("-KILL");
    let _ = b.wait().await;
    // The deadline is the bound; the figure is printed, not asserted.
    let takeover = wait_holder(&env, "op-c", Duration::from_secs(20)).await;
    println!(
        "BENCH takeover after kill -9 (lease expiry): {takeover:?} ({:?} since the kill)",
        killed.elapsed()
    );
    c.wait_for_log("became the leader", DEFAULT_WAIT).await;
    env.patch_connection(
        "team-a",
        "prod",
        json!({"metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": "r2"}}}),
    )
    .await;
    env.wait_for(
        "team-a",
        "prod",
        DEFAULT_WAIT,
        "sync request handled",
        |c| {
            c.status
                .as_ref()
                .and_then(|s| s.last_handled_sync_request.as_deref())
                == Some("r2")
        },
    )
    .await;
    assert!(status_writes(&env, "op-c") > 0);
    c.signal("-TERM");
    assert!(c.wait().await.success());
}

/// Waits until the simulator has taken its injected fault: the delayed request has arrived.
async fn wait_fault_taken(env: &Env) {
    let start = Instant::now();
    while !env.control(Region::Us).faults().await.unwrap().is_empty() {
        assert!(
            start.elapsed() < DEFAULT_WAIT,
            "the delayed request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await; // polling interval
    }
}

/// SIGTERM during a sync: the sync finishes, its status is written, then the process exits 0.
/// kill -9 during a sync: nothing is published (no manifest in the target).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_sync_in_flight_and_kill_publishes_nothing() {
    use jumpcloud_simulator::control::{Fault, FaultKind};
    let env = Env::without_operator(&[Region::Us], true).await;
    let key = env.read_only_key(Region::Us);
    env.secret("team-a", "jc", &[("api-key", &key)]).await;

    // kill -9 while the devices listing hangs: no manifest appears.
    env.control(Region::Us)
        .inject(Fault::new(FaultKind::Delay { delay_ms: 60_000 }).on_path("/api/systems"))
        .await
        .unwrap();
    let mut op = Proc::spawn(&env, "op-a", &["--leader-election=false"]);
    env.connection("team-a", "prod", spec("jc")).await;
    wait_fault_taken(&env).await;
    op.signal("-KILL");
    let _ = op.wait().await;
    assert!(
        env.latest_snapshot("team-a", "prod").await.is_none(),
        "a sync killed mid-write published a manifest"
    );
    env.control(Region::Us).clear_faults().await.unwrap();

    // SIGTERM while the devices listing takes 2 s: the sync completes before the exit.
    env.control(Region::Us)
        .inject(Fault::new(FaultKind::Delay { delay_ms: 2_000 }).on_path("/api/systems"))
        .await
        .unwrap();
    let mut op = Proc::spawn(&env, "op-b", &["--leader-election=false"]);
    wait_fault_taken(&env).await;
    op.signal("-TERM");
    let status = op.wait().await;
    assert!(status.success(), "{status:?}\n{}", tail(&op.log(), 30));
    assert!(
        env.latest_snapshot("team-a", "prod").await.is_some(),
        "the sync in flight did not finish"
    );
    let c = env.connections("team-a").get("prod").await.unwrap();
    assert_eq!(
        condition(&c, "Synced").map(|s| s.reason.as_str()),
        Some("Succeeded")
    );
}

/// What the kubelet does when a sync outlasts `terminationGracePeriodSeconds`: SIGTERM, the
/// operator keeps the sync in flight, then SIGKILL. Nothing is published, the store still
/// verifies (the dead sync's blobs are unreferenced, never a problem), and the next operator
/// runs the sync again and commits it: the chart's grace period need not cover `spec.timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_then_kill_mid_sync_publishes_nothing_and_the_next_operator_commits_it() {
    use jumpcloud_operator::store::verify::verify_connection;
    use jumpcloud_simulator::control::{Fault, FaultKind};
    let env = Env::without_operator(&[Region::Us], true).await;
    let key = env.read_only_key(Region::Us);
    env.secret("team-a", "jc", &[("api-key", &key)]).await;

    // The devices listing hangs past any grace period; the kinds before it are already stored.
    env.control(Region::Us)
        .inject(Fault::new(FaultKind::Delay { delay_ms: 60_000 }).on_path("/api/systems"))
        .await
        .unwrap();
    let mut op = Proc::spawn(&env, "op-a", &["--leader-election=false"]);
    env.connection("team-a", "prod", spec("jc")).await;
    wait_fault_taken(&env).await;
    // The kinds collected alongside the hanging listing are stored before the signal: what
    // the kill leaves behind is then evidence without a manifest, not nothing.
    let store = env.store("team-a", "prod");
    let stored = eventually(DEFAULT_WAIT, || async {
        let report = verify_connection(&store, None).await.ok()?;
        (report.blobs > 0).then_some(())
    })
    .await;
    assert!(
        stored.is_some(),
        "no evidence stored while the device listing hangs"
    );
    op.signal("-TERM");
    op.wait_for_log(
        "shutdown requested; finishing in-flight reconciles",
        DEFAULT_WAIT,
    )
    .await;
    assert!(
        op.child.try_wait().expect("status").is_none(),
        "the operator must keep the sync in flight after SIGTERM:\n{}",
        tail(&op.log(), 30)
    );
    op.signal("-KILL");
    let _ = op.wait().await;

    assert!(
        env.latest_snapshot("team-a", "prod").await.is_none(),
        "a sync killed after SIGTERM published a manifest"
    );
    let report = verify_connection(&store, None)
        .await
        .expect("store readable");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.snapshots, 0);
    assert!(
        report.blobs > 0,
        "the killed sync should have stored some evidence before the hang"
    );

    // The next operator (the next leader) sees the sync still due and commits it.
    env.control(Region::Us).clear_faults().await.unwrap();
    let mut op = Proc::spawn(&env, "op-b", &["--leader-election=false"]);
    env.wait_condition(
        "team-a",
        "prod",
        "Synced",
        "True",
        "Succeeded",
        DEFAULT_WAIT,
    )
    .await;
    let snapshot = env.latest_snapshot("team-a", "prod").await;
    assert!(snapshot.is_some(), "the retried sync committed no snapshot");
    let report = verify_connection(&store, None)
        .await
        .expect("store readable");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.snapshots, 1);
    op.signal("-TERM");
    assert!(op.wait().await.success(), "{}", tail(&op.log(), 30));
}

/// Another holder in the Lease (e.g. a standby took over after a renewal came too late): the
/// leader stops its controller and exits non-zero so the pod restarts clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_the_lease_stops_and_exits_non_zero() {
    let env = Env::without_operator(&[Region::Us], true).await;
    let mut op = Proc::spawn(
        &env,
        "op-a",
        &[
            "--leader-election-namespace",
            "default",
            "--leader-election-retry-period",
            "250ms",
        ],
    );
    op.wait_for_log("became the leader", DEFAULT_WAIT).await;
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), "default");
    leases
        .patch(
            "jumpcloud-operator",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {
                "holderIdentity": "intruder",
                "leaseDurationSeconds": 60,
                "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(jiff::Timestamp::now()),
            }})),
        )
        .await
        .expect("lease patched");
    let status = op.wait().await;
    assert_eq!(status.code(), Some(3), "{}", tail(&op.log(), 20));
    assert!(op.log().contains("leadership lost"));
    assert_eq!(lease_holder(&env).await.as_deref(), Some("intruder"));
}
