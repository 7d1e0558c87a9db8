//! The operator writes each connection's control results as a PolicyReport and/or an
//! OpenReports Report: the real binary against the Kubernetes API test server with the
//! published CRDs (`tests/crds/`, whose schemas validate every report written) and the
//! simulator.

mod operator_support;

use jumpcloud_operator::controls::CATALOG;
use jumpcloud_operator::crd::JumpCloudConnection;
use jumpcloud_operator::region::Region;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube_test_server::RecordedRequest;
use operator_support::*;
use serde_json::{Value, json};

const POLICY_REPORT_CRD: &str = "wgpolicyk8s.io_policyreports.yaml";
const OPEN_REPORTS_CRD: &str = "openreports.io_reports.yaml";
const DISK: &str = "JC-E1-DISK-ENCRYPTION";

fn policy_reports(env: &Env, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: "wgpolicyk8s.io".into(),
        version: "v1alpha2".into(),
        api_version: "wgpolicyk8s.io/v1alpha2".into(),
        kind: "PolicyReport".into(),
        plural: "policyreports".into(),
    };
    Api::namespaced_with(env.client.clone(), ns, &resource)
}

fn open_reports(env: &Env, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: "openreports.io".into(),
        version: "v1alpha1".into(),
        api_version: "openreports.io/v1alpha1".into(),
        kind: "Report".into(),
        plural: "reports".into(),
    };
    Api::namespaced_with(env.client.clone(), ns, &resource)
}

/// The report as JSON once it exists and `check` holds.
async fn wait_report(
    api: &Api<DynamicObject>,
    name: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let found = eventually(DEFAULT_WAIT, || async {
        let report = api.get_opt(name).await.expect("report readable")?;
        let report = serde_json::to_value(report).unwrap();
        check(&report).then_some(report)
    })
    .await;
    match found {
        Some(report) => report,
        None => panic!(
            "report {name} not as expected: {:?}",
            api.get_opt(name).await
        ),
    }
}

/// Successful writes (server-side apply) of the operator to `resource`.
fn writes(env: &Env, resource: &str) -> usize {
    env.kube
        .requests()
        .iter()
        .filter(|r| operator_call(r) && r.resource == resource)
        .filter(|r| matches!(r.verb.as_str(), "patch" | "update" | "create") && r.status < 400)
        .count()
}

fn operator_call(r: &RecordedRequest) -> bool {
    r.user_agent
        .as_deref()
        .is_some_and(|ua| ua.starts_with("jumpcloud-operator/"))
}

fn calls_to(env: &Env, resource: &str) -> usize {
    env.kube
        .requests()
        .iter()
        .filter(|r| operator_call(r) && r.resource == resource)
        .count()
}

fn synced(c: &JumpCloudConnection, request: &str) -> bool {
    is_ready(c)
        && c.status.as_ref().is_some_and(|s| {
            s.last_handled_sync_request.as_deref() == Some(request) && s.controls.is_some()
        })
}

async fn request_sync(env: &Env, request: &str) -> JumpCloudConnection {
    env.patch_connection(
        "compliance",
        "acme",
        json!({"metadata": {"annotations": {"jumpcloud-operator.io/sync-requested-at": request}}}),
    )
    .await;
    env.wait_for("compliance", "acme", DEFAULT_WAIT, request, |c| {
        synced(c, request)
    })
    .await
}

/// What each result says, without when and in which snapshot.
fn said(report: &Value) -> Vec<Value> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["policy"],
                r["rule"],
                r["result"],
                r["severity"],
                r["category"],
                r["message"],
                r["properties"]["failing"],
                r["properties"]["soc2"],
                r["properties"]["iso27001"]
            ])
        })
        .collect()
}

fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["policy"] == id)
        .unwrap_or_else(|| panic!("no result for {id}: {report}"))
}

/// Starts with the key Secret and the connection `compliance/acme` applied.
async fn connection_env(crds: &[&str], flags: &[&str]) -> Env {
    let env = Env::without_operator(&[Region::Us], true).await;
    env.install_crds(crds).await;
    let env = env.with_operator(flags).await;
    let key = env.read_only_key(Region::Us);
    env.secret("compliance", "jc", &[("api-key", &key)]).await;
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_report_per_connection_written_when_it_changed_and_collected_with_it() {
    let env = connection_env(&[POLICY_REPORT_CRD], &[]).await;
    // The first report write fails: the sync still succeeds, the next sync writes the report.
    env.kube
        .faults()
        .fail_next(1, Some("patch"), Some("policyreports"), None, 500);
    env.connection("compliance", "acme", spec("jc")).await;
    env.wait_for(
        "compliance",
        "acme",
        DEFAULT_WAIT,
        "Ready with controls",
        |c| is_ready(c) && c.status.as_ref().is_some_and(|s| s.controls.is_some()),
    )
    .await;
    env.operator()
        .wait_for_log("cannot write the policy report", DEFAULT_WAIT)
        .await;
    assert_eq!(writes(&env, "policyreports"), 0);
    let reports = policy_reports(&env, "compliance");
    assert!(reports.get_opt("jcc-acme").await.unwrap().is_none());

    let c = request_sync(&env, "first").await;
    let report = wait_report(&reports, "jcc-acme", |_| true).await;
    let status = c.status.clone().unwrap();
    let controls = status.controls.clone().unwrap();
    let snapshot = status.evidence.clone().unwrap().snapshot.unwrap();
    // One result per control; the summary counts them as status.controls does.
    assert_eq!(report["results"].as_array().unwrap().len(), CATALOG.len());
    assert_eq!(
        report["summary"],
        json!({"pass": controls.passing, "fail": controls.failing, "warn": 0,
               "error": controls.error, "skip": controls.not_applicable}),
        "{report}"
    );
    let disk = result(&report, DISK);
    assert_eq!(disk["result"], "fail");
    assert_eq!(disk["severity"], "high");
    assert_eq!(disk["category"], "Endpoint");
    assert_eq!(disk["source"], "jumpcloud-operator");
    assert_eq!(
        disk["properties"]["sinceSnapshotDigest"],
        json!(snapshot.digest)
    );
    assert_eq!(disk["properties"]["sinceSnapshotId"], json!(snapshot.id));
    assert_eq!(disk["properties"]["soc2"], "CC6.1, CC6.7");
    let failing: u64 = disk["properties"]["failing"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(failing > 0);
    assert!(
        disk["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{failing} of ")),
        "{disk}"
    );
    for id in &controls.failing_ids {
        assert_eq!(result(&report, id)["result"], "fail");
    }
    // Scoped to and owned by the connection.
    let uid = c.uid().unwrap();
    assert_eq!(report["scope"]["uid"], json!(uid));
    assert_eq!(report["scope"]["kind"], "JumpCloudConnection");
    assert_eq!(report["metadata"]["ownerReferences"][0]["uid"], json!(uid));
    assert_eq!(report["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(
        report["metadata"]["labels"]["jumpcloud-operator.io/connection"],
        "acme"
    );
    assert_eq!(writes(&env, "policyreports"), 1);
    // The OpenReports CRD is absent: `auto` never touches it.
    assert_eq!(calls_to(&env, "reports"), 0);
    let log = env.operator().log();
    assert_eq!(log.matches("writing policy reports").count(), 1, "{log}");

    // `kubectl get polr -A` shows the summary columns.
    let out = env.kubectl(&["get", "polr", "-A"], None).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    println!("{table}");
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "PASS",
            "FAIL",
            "WARN",
            "ERROR",
            "SKIP",
            "AGE"
        ],
        "{table}"
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let counts = [
        controls.passing,
        controls.failing,
        0,
        controls.error,
        controls.not_applicable,
    ]
    .map(|n| n.to_string());
    assert_eq!(row[..2], ["compliance", "jcc-acme"], "{table}");
    assert_eq!(row[2..7], counts, "{table}");

    // Another sync with the same results writes nothing; the report keeps naming the first
    // snapshot that gave them.
    let unchanged_before = env
        .operator()
        .log()
        .matches("policy report unchanged")
        .count();
    let c = request_sync(&env, "second").await;
    env.operator()
        .wait_for_log_count(
            "policy report unchanged",
            unchanged_before + 1,
            DEFAULT_WAIT,
        )
        .await;
    assert_eq!(writes(&env, "policyreports"), 1);
    let newest = c.status.unwrap().evidence.unwrap().snapshot.unwrap();
    assert_ne!(newest.digest, snapshot.digest);
    let kept = wait_report(&reports, "jcc-acme", |_| true).await;
    assert_eq!(kept, report);

    // Disabling a failing control changes the results: the report is rewritten.
    env.patch_connection(
        "compliance",
        "acme",
        json!({"spec": {"controls": {"disabledControls": [DISK]}}}),
    )
    .await;
    let c = request_sync(&env, "disable-disk").await;
    let rewritten = wait_report(&reports, "jcc-acme", |r| {
        result(r, DISK)["result"] == "skip"
    })
    .await;
    assert!(
        result(&rewritten, DISK)["message"]
            .as_str()
            .unwrap()
            .contains("Disabled in the settings"),
        "{rewritten}"
    );
    assert_eq!(rewritten["summary"]["fail"], json!(controls.failing - 1));
    let newest = c.status.unwrap().evidence.unwrap().snapshot.unwrap();
    assert_eq!(
        result(&rewritten, DISK)["properties"]["sinceSnapshotDigest"],
        json!(newest.digest)
    );
    assert_eq!(writes(&env, "policyreports"), 2);

    // Deleting the connection garbage-collects its report.
    env.connections("compliance")
        .delete("acme", &Default::default())
        .await
        .unwrap();
    let gone = eventually(DEFAULT_WAIT, || async {
        reports
            .get_opt("jcc-acme")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(gone.is_some(), "the report outlived its connection");
    let key = env.read_only_key(Region::Us);
    for report in [&report, &rewritten] {
        assert!(
            !report.to_string().contains(&key),
            "the API key leaked into the report"
        );
    }
    env.assert_no_key_leak().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_both_crds_the_setting_picks_the_kinds_and_auto_writes_both() {
    let mut env = connection_env(
        &[POLICY_REPORT_CRD, OPEN_REPORTS_CRD],
        &["--policy-reports", "openreports"],
    )
    .await;
    env.connection("compliance", "acme", spec("jc")).await;
    let open = open_reports(&env, "compliance");
    let report = wait_report(&open, "jcc-acme", |_| true).await;
    assert_eq!(report["apiVersion"], "openreports.io/v1alpha1");
    assert_eq!(report["source"], "jumpcloud-operator");
    assert_eq!(report["results"].as_array().unwrap().len(), CATALOG.len());
    assert_eq!(result(&report, DISK)["result"], "fail");
    assert_eq!(calls_to(&env, "policyreports"), 0, "openreports only");
    assert_eq!(writes(&env, "reports"), 1);

    // Restarted with `auto`: both kinds. The PolicyReport is written at the next sync; the
    // Report, whose results read the same, is not rewritten.
    env.stop_operator().await;
    env.operator = Some(env.spawn_operator(&[]));
    env.operator()
        .wait_for_log("writing policy reports", DEFAULT_WAIT)
        .await;
    request_sync(&env, "restarted").await;
    let polr = wait_report(&policy_reports(&env, "compliance"), "jcc-acme", |_| true).await;
    env.operator()
        .wait_for_log_count("policy report unchanged", 1, DEFAULT_WAIT)
        .await;
    assert_eq!(writes(&env, "reports"), 1);
    assert_eq!(writes(&env, "policyreports"), 1);
    // The same results; the Report still names the snapshot of its write, before the restart.
    let reread = wait_report(&open, "jcc-acme", |_| true).await;
    assert_eq!(said(&polr), said(&reread));
    assert_eq!(reread, report);
    assert_ne!(
        result(&polr, DISK)["properties"]["sinceSnapshotId"],
        result(&reread, DISK)["properties"]["sinceSnapshotId"]
    );
    assert_eq!(polr["kind"], "PolicyReport");
    assert!(polr.get("source").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_report_crds_one_log_line_and_no_report_calls() {
    let env = connection_env(&[], &[]).await;
    env.connection("compliance", "acme", spec("jc")).await;
    env.wait_for(
        "compliance",
        "acme",
        DEFAULT_WAIT,
        "Ready with controls",
        |c| is_ready(c) && c.status.as_ref().is_some_and(|s| s.controls.is_some()),
    )
    .await;
    request_sync(&env, "again").await;
    let log = env.operator().log();
    let off: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("policy reports"))
        .collect();
    assert_eq!(off.len(), 1, "{log}");
    assert!(
        off[0].contains("policy reports off") && off[0].contains("restart the operator"),
        "{}",
        off[0]
    );
    assert_eq!(calls_to(&env, "policyreports"), 0);
    assert_eq!(calls_to(&env, "reports"), 0);
    assert!(!log.contains("policy report written"));
}
