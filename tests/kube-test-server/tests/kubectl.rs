//! The real `kubectl` (v1.32 on PATH) against the test server.

mod common;

use std::process::Output;

use kube_test_server::KubeTestServer;

async fn kubectl(server: &KubeTestServer, args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = server.kubectl();
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    let mut child = cmd.spawn().expect("kubectl on PATH");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin piped");
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("kubectl finished in time")
        .expect("kubectl ran")
}

/// Runs kubectl and returns stdout, panicking with stderr on failure.
async fn ok(server: &KubeTestServer, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(server, args, stdin).await;
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\nstdout: {so}\nstderr: {se}"
    );
    so
}

async fn fails(server: &KubeTestServer, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(server, args, stdin).await;
    assert!(
        !out.status.success(),
        "kubectl {args:?} unexpectedly succeeded"
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

const WIDGET: &str =
    "apiVersion: example.test/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n";

#[tokio::test]
async fn kubectl_apply_get_describe_patch_wait_delete() {
    let server = KubeTestServer::start().await.expect("server");
    let out = ok(&server, &["apply", "-f", "-"], Some(common::WIDGET_CRD)).await;
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.test created"),
        "{out}"
    );
    ok(
        &server,
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.test",
            "--timeout=10s",
        ],
        None,
    )
    .await;

    let out = ok(&server, &["apply", "-f", "-"], Some(WIDGET)).await;
    assert!(out.contains("widget.example.test/w1 created"), "{out}");
    let out = ok(&server, &["apply", "-f", "-"], Some(WIDGET)).await;
    assert!(out.contains("widget.example.test/w1 unchanged"), "{out}");
    let out = ok(
        &server,
        &["apply", "-f", "-"],
        Some(&WIDGET.replace("size: 3", "size: 4")),
    )
    .await;
    assert!(out.contains("widget.example.test/w1 configured"), "{out}");

    // Printer columns via server-side Table, short name.
    let out = ok(&server, &["get", "wd"], None).await;
    let header: Vec<&str> = out
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "COLOR", "READY", "AGE"], "{out}");
    // A missing value renders as an empty cell, as with the real apiserver's CRD table convertor.
    let row: Vec<&str> = out
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["w1", "4", "red"], "{out}");
    assert!(
        row.len() == 4 && row[3].ends_with('s'),
        "age like 0s: {out}"
    );

    let yaml = ok(&server, &["get", "widget", "w1", "-o", "yaml"], None).await;
    assert!(
        yaml.contains("maxSize: 10") && yaml.contains("generation: 2") && yaml.contains("uid:"),
        "{yaml}"
    );

    // Status subresource + wait for a condition.
    let status = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Done"}]}}"#;
    let waiter = {
        let mut c = server.kubectl();
        c.args([
            "wait",
            "--for=condition=Ready",
            "widget/w1",
            "--timeout=20s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        c.spawn().expect("kubectl wait")
    };
    ok(
        &server,
        &[
            "patch",
            "widget",
            "w1",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ],
        None,
    )
    .await;
    let waited = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        waiter.wait_with_output(),
    )
    .await
    .expect("wait ended")
    .expect("ran");
    assert!(
        waited.status.success(),
        "kubectl wait: {}",
        String::from_utf8_lossy(&waited.stderr)
    );
    let out = ok(&server, &["get", "widgets"], None).await;
    assert!(out.lines().nth(1).expect("row").contains("True"), "{out}");

    let out = ok(&server, &["describe", "widget", "w1"], None).await;
    assert!(
        out.contains("Name:         w1") && out.contains("Size:") && out.contains("Ready"),
        "{out}"
    );

    // Moving from client-side to server-side apply takes over the fields without conflicts.
    let out = ok(
        &server,
        &["apply", "--server-side", "-f", "-"],
        Some(&WIDGET.replace("size: 3", "size: 6")),
    )
    .await;
    assert!(
        out.contains("widget.example.test/w1 serverside-applied"),
        "{out}"
    );

    // Server-side apply by kubectl, and conflicts between managers.
    let ssa = "apiVersion: example.test/v1\nkind: Widget\nmetadata:\n  name: w2\nspec:\n  size: 5\n  color: green\n";
    let out = ok(&server, &["apply", "--server-side", "-f", "-"], Some(ssa)).await;
    assert!(
        out.contains("widget.example.test/w2 serverside-applied"),
        "{out}"
    );
    let err = fails(
        &server,
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&ssa.replace("size: 5", "size: 6")),
    )
    .await;
    assert!(
        err.contains("conflict") && err.contains(".spec.size"),
        "{err}"
    );
    ok(
        &server,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=other",
            "-f",
            "-",
        ],
        Some(&ssa.replace("size: 5", "size: 6")),
    )
    .await;

    // Invalid objects are refused with the field named.
    let err = fails(
        &server,
        &["apply", "-f", "-"],
        Some(
            &WIDGET
                .replace("w1", "w3")
                .replace("size: 3", "size: 3\n  color: mauve"),
        ),
    )
    .await;
    assert!(
        err.contains(
            r#"spec.color: Unsupported value: "mauve": supported values: "red", "green", "blue""#
        ),
        "{err}"
    );
    let err = fails(
        &server,
        &["apply", "-f", "-"],
        Some(
            &WIDGET
                .replace("w1", "w3")
                .replace("size: 3", "size: 3\n  bogus: 1"),
        ),
    )
    .await;
    assert!(err.contains(r#"unknown field "spec.bogus""#), "{err}");

    let out = ok(&server, &["delete", "widget", "w1"], None).await;
    assert!(out.contains("widget.example.test \"w1\" deleted"), "{out}");
    let err = fails(&server, &["get", "widget", "w1"], None).await;
    assert!(
        err.contains("NotFound") && err.contains("\"w1\" not found"),
        "{err}"
    );
}

#[tokio::test]
async fn kubectl_builtins_and_namespaces() {
    let server = KubeTestServer::start().await.expect("server");
    ok(&server, &["create", "namespace", "team"], None).await;
    ok(
        &server,
        &[
            "-n",
            "team",
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=key=v1",
        ],
        None,
    )
    .await;
    ok(
        &server,
        &[
            "-n",
            "team",
            "create",
            "configmap",
            "cfg",
            "--from-literal=a=b",
        ],
        None,
    )
    .await;
    let out = ok(&server, &["get", "secrets,configmaps", "-n", "team"], None).await;
    assert!(
        out.contains("secret/creds") && out.contains("configmap/cfg"),
        "{out}"
    );
    let out = ok(&server, &["get", "secret", "creds", "-n", "team"], None).await;
    let row: Vec<&str> = out
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["creds", "Opaque", "1"], "{out}");
    let out = ok(
        &server,
        &[
            "get",
            "secret",
            "creds",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.key}",
        ],
        None,
    )
    .await;
    assert_eq!(out, "djE=", "base64 of v1 from the protobuf body");
    let out = ok(&server, &["get", "ns"], None).await;
    assert!(out.contains("team") && out.contains("default"), "{out}");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: team\ndata:\n  a: b\n";
    ok(&server, &["apply", "-f", "-"], Some(cm)).await;
    let out = ok(
        &server,
        &["apply", "-f", "-"],
        Some(&cm.replace("a: b", "a: c")),
    )
    .await;
    assert!(out.contains("configured"), "{out}");
    let out = ok(
        &server,
        &[
            "get",
            "cm",
            "applied",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.a}",
        ],
        None,
    )
    .await;
    assert_eq!(out, "c");
    ok(&server, &["delete", "namespace", "team"], None).await;
    let err = fails(&server, &["get", "secret", "creds", "-n", "team"], None).await;
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test]
async fn kube_recorder_events_show_in_kubectl_describe() {
    use kube::Resource;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let server = KubeTestServer::start().await.expect("server");
    let client = server.client().await;
    common::install_crd(&client).await;
    let widgets: kube::Api<common::Widget> = kube::Api::default_namespaced(client.clone());
    let w = widgets
        .create(&Default::default(), &common::widget("w1", 2))
        .await
        .expect("widget");
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "widget-controller".into(),
            instance: None,
        },
    );
    let ev = Event {
        type_: EventType::Warning,
        reason: "CredentialsRejected".into(),
        note: Some("key revoked".into()),
        action: "Sync".into(),
        secondary: None,
    };
    recorder
        .publish(&ev, &w.object_ref(&()))
        .await
        .expect("published (events.k8s.io/v1)");
    recorder
        .publish(&ev, &w.object_ref(&()))
        .await
        .expect("second publish patches the series");
    let out = ok(&server, &["describe", "widget", "w1"], None).await;
    let line = out
        .lines()
        .find(|l| l.contains("CredentialsRejected"))
        .unwrap_or_else(|| panic!("event missing:\n{out}"));
    assert!(
        line.contains("Warning")
            && line.contains("widget-controller")
            && line.contains("key revoked"),
        "{line}"
    );
    let out = ok(&server, &["get", "events"], None).await;
    let header: Vec<&str> = out
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{out}"
    );
    assert!(
        out.contains("Warning   CredentialsRejected   widget/w1   key revoked"),
        "{out}"
    );
}

#[tokio::test]
async fn kubectl_get_watch_prints_table_rows_for_changes() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = KubeTestServer::start().await.expect("server");
    ok(&server, &["apply", "-f", "-"], Some(common::WIDGET_CRD)).await;
    ok(&server, &["apply", "-f", "-"], Some(WIDGET)).await;
    let mut watch = server.kubectl();
    watch
        .args(["get", "widgets", "--watch", "--output-watch-events"])
        .stdout(std::process::Stdio::piped());
    let mut child = watch.spawn().expect("kubectl get -w");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next_line = async || {
        tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("open")
    };
    let header = next_line().await;
    assert!(
        header.starts_with("EVENT") && header.contains("SIZE"),
        "{header}"
    );
    let added: Vec<String> = next_line()
        .await
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(&added[..4], ["ADDED", "w1", "3", "red"], "{added:?}");
    ok(
        &server,
        &[
            "patch",
            "widget",
            "w1",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":7}}"#,
        ],
        None,
    )
    .await;
    let modified = next_line().await;
    let modified: Vec<&str> = modified.split_whitespace().collect();
    assert_eq!(&modified[..3], ["MODIFIED", "w1", "7"], "{modified:?}");
    child.kill().await.expect("stop kubectl");
}
