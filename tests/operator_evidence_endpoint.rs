//! END-TO-END TEST of the evidence endpoint (issue 14): the real operator binary against the
//! Kubernetes API test server (TokenReview, SubjectAccessReview over real RBAC objects, the
//! service proxy) and the JumpCloud simulator. An allowed user gets the reports, the CSV ZIP,
//! manifests and blobs and re-verifies them offline; a denied user gets 403 and an index
//! without the connection; no token is a 401; `report --from-cluster` goes through the proxy.

mod operator_support;

use std::path::Path;

use jumpcloud_operator::region::Region;
use operator_support::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ALICE: &str = "alice-token-5b1f0c9e7d";
const MALLORY: &str = "mallory-token-0a8e44d2c1";

/// The address an operator logged for its evidence server.
async fn evidence_addr(operator: &Operator) -> String {
    let found = eventually(DEFAULT_WAIT, || async {
        operator.log().lines().find_map(|line| {
            let value: Value = serde_json::from_str(line).ok()?;
            let fields = &value["fields"];
            (fields["message"] == "listening" && fields["server"] == "evidence")
                .then(|| fields["addr"].as_str().map(str::to_owned))
                .flatten()
        })
    })
    .await;
    found.unwrap_or_else(|| panic!("no evidence address logged:\n{}", operator.log()))
}

fn token_reviews(env: &Env) -> usize {
    env.kube
        .requests()
        .iter()
        .filter(|r| r.resource == "tokenreviews")
        .count()
}

async fn create(env: &Env, path: &str, body: Value) {
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    env.client.request::<Value>(request).await.expect("created");
}

/// alice may get team-a/acme only (a Role with resourceNames); mallory is bound to nothing.
async fn grant(env: &Env) {
    env.kube.add_token(ALICE, "alice", &["auditors"]);
    env.kube.add_token(MALLORY, "mallory", &[]);
    let rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a";
    create(
        env,
        &format!("{rbac}/roles"),
        json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "acme-evidence", "namespace": "team-a"},
        "rules": [{"apiGroups": ["jumpcloud-operator.io"], "resources": ["jumpcloudconnections"],
                   "verbs": ["get"], "resourceNames": ["acme"]}]}),
    )
    .await;
    create(env, &format!("{rbac}/rolebindings"), json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "alice-acme-evidence", "namespace": "team-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "acme-evidence"},
        "subjects": [{"kind": "User", "name": "alice"}]})).await;
}

struct Caller {
    http: reqwest::Client,
    base: String,
    /// Every response body, for the token-leak scan.
    seen: std::sync::Mutex<Vec<String>>,
}

impl Caller {
    async fn get(
        &self,
        token: Option<&str>,
        path: &str,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("evidence endpoint answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body").to_vec();
        let mut seen = self.seen.lock().unwrap();
        seen.push(String::from_utf8_lossy(&body).into_owned());
        seen.push(format!("{headers:?}"));
        (status, headers, body)
    }

    async fn text(&self, token: Option<&str>, path: &str) -> (u16, String) {
        let (status, _, body) = self.get(token, path).await;
        (status, String::from_utf8(body).expect("text"))
    }

    async fn json(&self, token: &str, path: &str) -> Value {
        let (status, body) = self.text(Some(token), path).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Downloads every manifest of the connection and every blob they reference into `dir` in the
/// store layout (`<ns>/<name>/snapshots/<file>`, `<ns>/<name>/blobs/sha256/<hex>`).
async fn download_store(caller: &Caller, dir: &Path, ns: &str, name: &str) -> usize {
    let base = format!("/connections/{ns}/{name}");
    let list = caller.json(ALICE, &format!("{base}/snapshots")).await;
    let snapshots = list["snapshots"].as_array().unwrap().clone();
    let root = dir.join(ns).join(name);
    std::fs::create_dir_all(root.join("snapshots")).unwrap();
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let mut blobs = std::collections::BTreeSet::new();
    for snapshot in &snapshots {
        let id = snapshot["id"].as_str().unwrap();
        let (status, headers, bytes) = caller
            .get(Some(ALICE), &format!("{base}/snapshots/{id}/manifest"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            format!("sha256:{}", sha256(&bytes)),
            snapshot["manifestDigest"].as_str().unwrap()
        );
        let disposition = headers["content-disposition"].to_str().unwrap();
        let file = disposition.split('"').nth(1).expect("a file name");
        std::fs::write(root.join("snapshots").join(file), &bytes).unwrap();
        let manifest: Value = serde_json::from_slice(&bytes).unwrap();
        blobs.insert(manifest["index"]["sha256"].as_str().unwrap().to_owned());
        if let Some(controls) = manifest["controls"]["sha256"].as_str() {
            blobs.insert(controls.to_owned());
        }
        let index_digest = manifest["index"]["sha256"].as_str().unwrap();
        let (_, _, index) = caller
            .get(Some(ALICE), &format!("{base}/blobs/sha256/{index_digest}"))
            .await;
        let index: Value = serde_json::from_slice(&index).unwrap();
        for kind in index["kinds"].as_array().unwrap() {
            for blob in kind["blobs"].as_array().unwrap() {
                blobs.insert(blob["sha256"].as_str().unwrap().to_owned());
            }
        }
    }
    for digest in &blobs {
        let (status, _, bytes) = caller
            .get(Some(ALICE), &format!("{base}/blobs/sha256/{digest}"))
            .await;
        assert_eq!(status, 200, "blob {digest}");
        assert_eq!(&sha256(&bytes), digest, "a blob's SHA-256 equals its name");
        std::fs::write(root.join("blobs/sha256").join(digest), &bytes).unwrap();
    }
    snapshots.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_user_gets_the_evidence_and_a_denied_one_gets_nothing() {
    let env = Env::without_operator(&[Region::Us, Region::Eu], true)
        .await
        .with_operator(&[])
        .await;
    let us = env.read_only_key(Region::Us);
    let eu = env.read_only_key(Region::Eu);
    env.secret("team-a", "jc", &[("api-key", &us)]).await;
    env.secret("team-b", "jc", &[("api-key", &eu)]).await;
    env.connection("team-a", "acme", spec("jc")).await;
    env.connection(
        "team-b",
        "beta",
        json!({"apiKeySecretRef": {"name": "jc"}, "region": "eu"}),
    )
    .await;
    let has_snapshot = |c: &jumpcloud_operator::crd::JumpCloudConnection| {
        is_ready(c)
            && c.status
                .as_ref()
                .and_then(|s| s.evidence.as_ref())
                .and_then(|e| e.snapshot.as_ref())
                .is_some()
    };
    let acme = env
        .wait_for("team-a", "acme", DEFAULT_WAIT, "a snapshot", has_snapshot)
        .await;
    env.wait_for("team-b", "beta", DEFAULT_WAIT, "a snapshot", has_snapshot)
        .await;
    grant(&env).await;
    let caller = Caller {
        http: reqwest::Client::new(),
        base: format!("http://{}", evidence_addr(env.operator()).await),
        seen: Default::default(),
    };

    // No token, a bad token: 401, for the index too, with the fix named.
    let (status, body) = caller.text(None, "/").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("Authorization: Bearer") && body.contains("X-Jumpcloud-Operator-Token"),
        "{body}"
    );
    assert_eq!(
        caller.text(Some("not-a-token"), "/connections").await.0,
        401
    );
    assert_eq!(
        caller.text(None, "/connections/team-a/acme/report").await.0,
        401
    );

    // The index: alice sees acme (a resourceNames grant), not beta.
    let (status, html) = caller.text(Some(ALICE), "/").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("team-a/acme") && !html.contains("team-b/beta"),
        "{html}"
    );
    assert!(html.contains("href=\"connections/team-a/acme/report?format=html\""));
    let index = caller.json(ALICE, "/connections").await;
    let entries = index["connections"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    assert_eq!(entries[0]["ready"], "True");
    let snapshot_status = acme
        .status
        .as_ref()
        .unwrap()
        .evidence
        .as_ref()
        .unwrap()
        .snapshot
        .clone()
        .unwrap();
    assert_eq!(
        entries[0]["lastSnapshot"]["id"],
        snapshot_status.id.as_str()
    );

    // Reports: HTML (the default), JSON, Markdown, and CSV as a ZIP of exactly the files the
    // `report` command writes.
    let (status, html) = caller
        .text(Some(ALICE), "/connections/team-a/acme/report")
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("JumpCloud compliance report"), "{html}");
    let report = caller
        .json(ALICE, "/connections/team-a/acme/report?format=json")
        .await;
    assert_eq!(
        report["snapshot"]["snapshotId"],
        snapshot_status.id.as_str()
    );
    let (status, markdown) = caller
        .text(
            Some(ALICE),
            "/connections/team-a/acme/report?format=markdown",
        )
        .await;
    assert_eq!(status, 200);
    assert!(markdown.starts_with('#'), "{markdown}");
    // OSCAL: the assessment results of this snapshot and the plan they import.
    let results = caller
        .json(ALICE, "/connections/team-a/acme/report?format=oscal")
        .await;
    let imported = results["assessment-results"]["import-ap"]["href"]
        .as_str()
        .expect("import-ap.href");
    let plan = caller
        .json(ALICE, "/connections/team-a/acme/report?format=oscal-plan")
        .await;
    let plan_uuid = plan["assessment-plan"]["uuid"].as_str().expect("plan uuid");
    let resources = results["assessment-results"]["back-matter"]["resources"]
        .as_array()
        .expect("back-matter");
    assert!(
        resources.iter().any(
            |r| format!("#{}", r["uuid"].as_str().unwrap_or("")) == imported
                && r.to_string().contains("assessment-plan")
        ),
        "import-ap {imported} names the plan {plan_uuid}: {resources:?}"
    );
    assert!(
        results
            .to_string()
            .contains(&snapshot_status.digest["sha256:".len()..])
            || results.to_string().contains(&snapshot_status.digest),
        "the results name the manifest digest"
    );
    let (status, body) = caller
        .text(Some(ALICE), "/connections/team-a/acme/report?format=pdf")
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("html") && body.contains("csv"), "{body}");
    let (status, headers, zip) = caller
        .get(Some(ALICE), "/connections/team-a/acme/report?format=csv")
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/zip");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"team-a-acme-")
    );
    let files = jumpcloud_operator::report::read_zip(&zip).expect("a valid ZIP");
    let local = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(operator_binary())
        .args(["report", "--store"])
        .arg(env.evidence.path())
        .args(["--connection", "team-a/acme", "--format", "csv", "--out"])
        .arg(local.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut written: Vec<String> = std::fs::read_dir(local.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    let mut zipped: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
    zipped.sort();
    assert_eq!(zipped, written);
    for (name, contents) in &files {
        assert_eq!(
            contents,
            &std::fs::read(local.path().join(name)).unwrap(),
            "{name}"
        );
    }

    // TokenReview answers are reused for a while: more requests with the same token cost no
    // review (at most one, should the 30 s cache expire in between on a slow machine).
    let before = token_reviews(&env);
    for _ in 0..5 {
        assert_eq!(
            caller
                .text(Some(ALICE), "/connections/team-a/acme/snapshots")
                .await
                .0,
            200
        );
    }
    assert!(
        token_reviews(&env) - before <= 1,
        "{} TokenReviews for 5 requests",
        token_reviews(&env) - before
    );

    // A standby replica (not the lease holder) serves the evidence too.
    let standby = env.spawn_operator(&["--instance", "operator-standby"]);
    standby
        .wait_for_log("waiting for the leader lease", DEFAULT_WAIT)
        .await;
    let standby_base = format!("http://{}", evidence_addr(&standby).await);
    let from_standby = caller
        .http
        .get(format!(
            "{standby_base}/connections/team-a/acme/report?format=json"
        ))
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap();
    assert_eq!(from_standby.status().as_u16(), 200);
    assert!(
        !standby.log().contains("became the leader"),
        "the second replica must be a standby"
    );
    let (_, standby_log) = standby.stop().await;
    assert!(!standby_log.contains(ALICE));

    // The token may come in the proxy header too.
    let via_header = caller
        .http
        .get(format!("{}/connections/team-a/acme/snapshots", caller.base))
        .header("X-Jumpcloud-Operator-Token", ALICE)
        .send()
        .await
        .unwrap();
    assert_eq!(via_header.status().as_u16(), 200);

    // Manifest and blobs, byte for byte; the whole chain re-verifies offline.
    let (status, _, manifest) = caller
        .get(
            Some(ALICE),
            &format!(
                "/connections/team-a/acme/snapshots/{}/manifest",
                snapshot_status.id
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        format!("sha256:{}", sha256(&manifest)),
        snapshot_status.digest
    );
    let offline = tempfile::tempdir().unwrap();
    assert!(download_store(&caller, offline.path(), "team-a", "acme").await >= 1);
    let verify = std::process::Command::new(operator_binary())
        .args(["verify", "--store"])
        .arg(offline.path())
        .args(["--connection", "team-a/acme"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "offline verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    // Only this connection's subtree: no traversal, no other connection's blobs.
    let beta = env.latest_snapshot("team-b", "beta").await.unwrap();
    let beta_digest = beta.manifest.index.sha256.clone();
    assert!(
        env.latest_snapshot("team-a", "acme")
            .await
            .unwrap()
            .blob_digests()
            .all(|d| d != beta_digest)
    );
    assert_eq!(
        caller
            .text(
                Some(ALICE),
                &format!("/connections/team-a/acme/blobs/sha256/{beta_digest}")
            )
            .await
            .0,
        404
    );
    for path in [
        "/connections/team-a/acme/blobs/sha256/..%2F..%2F..%2Fteam-b%2Fbeta%2Fsnapshots".to_owned(),
        format!(
            "/connections/team-a/acme/blobs/sha256/{}",
            beta_digest.to_uppercase()
        ),
        "/connections/team-a/acme%2F..%2F..%2Fteam-b%2Fbeta/report".to_owned(),
        "/connections/..%2Fteam-b/beta/report".to_owned(),
    ] {
        let (status, body) = caller.text(Some(ALICE), &path).await;
        assert!(status == 400 || status == 403, "{path}: {status} {body}");
        assert!(!body.contains("JumpCloud compliance report"), "{path}");
    }
    let (status, _) = caller
        .text(
            Some(ALICE),
            "/connections/team-a/acme/blobs/sha256/../../../team-b/beta/report",
        )
        .await;
    assert!(status == 400 || status == 403 || status == 404, "{status}");

    // alice may not get beta; mallory may get nothing and sees an empty index.
    let (status, body) = caller
        .text(Some(ALICE), "/connections/team-b/beta/report")
        .await;
    assert_eq!(status, 403);
    assert!(
        body.contains(
            "get jumpcloudconnections.jumpcloud-operator.io \"beta\" in namespace \"team-b\""
        ),
        "{body}"
    );
    assert_eq!(
        caller
            .text(
                Some(ALICE),
                &format!("/connections/team-b/beta/blobs/sha256/{beta_digest}")
            )
            .await
            .0,
        403
    );
    let (status, body) = caller
        .text(Some(MALLORY), "/connections/team-a/acme/report?format=json")
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("snapshot"), "{body}");
    let index = caller.json(MALLORY, "/connections").await;
    assert_eq!(index["connections"], json!([]), "{index}");
    let (status, html) = caller.text(Some(MALLORY), "/").await;
    assert_eq!(status, 200);
    assert!(!html.contains("team-a/acme") && !html.contains("team-b/beta"));

    // Through the API server's service proxy (which strips Authorization), with the user's
    // kubeconfig: one command.
    env.kube.set_service_backend(
        "jumpcloud-operator",
        "jumpcloud-operator",
        "evidence",
        url::Url::parse(&caller.base).unwrap(),
    );
    let kubeconfig = env.kube.kubeconfig_with_token("alice", ALICE).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let report_file = out_dir.path().join("report.html");
    let fetched = tokio::process::Command::new(operator_binary())
        .args(["report", "--from-cluster", "team-a/acme", "--out"])
        .arg(&report_file)
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .await
        .unwrap();
    assert!(
        fetched.status.success(),
        "report --from-cluster: {}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let fetched_html = std::fs::read_to_string(&report_file).unwrap();
    assert_eq!(fetched_html, html_report_of(&caller).await);
    assert!(
        env.kube
            .requests()
            .iter()
            .any(|r| r.resource == "services" && r.subresource.as_deref() == Some("proxy"))
    );
    let denied = tokio::process::Command::new(operator_binary())
        .args(["report", "--from-cluster", "team-b/beta"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .await
        .unwrap();
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains("403") && stderr.contains("\"beta\" in namespace \"team-b\""),
        "{stderr}"
    );
    assert!(!stderr.contains(ALICE));

    // The CSV through the proxy arrives unpacked, the files of the local command.
    let csv_dir = out_dir.path().join("csv");
    let fetched = tokio::process::Command::new(operator_binary())
        .args([
            "report",
            "--from-cluster",
            "team-a/acme",
            "--format",
            "csv",
            "--out",
        ])
        .arg(&csv_dir)
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .await
        .unwrap();
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    for name in &written {
        assert_eq!(
            std::fs::read(csv_dir.join(name)).unwrap(),
            std::fs::read(local.path().join(name)).unwrap(),
            "{name}"
        );
    }
    // Straight to the endpoint (a port-forward) with a token file.
    let token_file = out_dir.path().join("token");
    std::fs::write(&token_file, format!("{ALICE}\n")).unwrap();
    let fetched = tokio::process::Command::new(operator_binary())
        .args([
            "report",
            "--from-cluster",
            "team-a/acme",
            "--format",
            "json",
            "--endpoint",
            &caller.base,
            "--token-file",
        ])
        .arg(&token_file)
        .output()
        .await
        .unwrap();
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let fetched: Value = serde_json::from_slice(&fetched.stdout).unwrap();
    assert_eq!(
        fetched["snapshot"]["snapshotId"],
        snapshot_status.id.as_str()
    );
    // A kubeconfig without a bearer token: the error names --token-file.
    let no_token = tokio::process::Command::new(operator_binary())
        .args(["report", "--from-cluster", "team-a/acme"])
        .env("KUBECONFIG", env.kube.kubeconfig_path())
        .output()
        .await
        .unwrap();
    assert!(!no_token.status.success());
    assert!(
        String::from_utf8_lossy(&no_token.stderr).contains("--token-file"),
        "{}",
        String::from_utf8_lossy(&no_token.stderr)
    );

    // Evidence missing from the store: 409 and no report, as the `report` command refuses.
    let latest = env.latest_snapshot("team-a", "acme").await.unwrap();
    let kind_blob = latest
        .index
        .kinds
        .iter()
        .flat_map(|k| &k.blobs)
        .next()
        .unwrap()
        .sha256
        .clone();
    std::fs::remove_file(
        env.evidence
            .path()
            .join("team-a/acme/blobs/sha256")
            .join(format!("{kind_blob}.zst")),
    )
    .unwrap();
    for format in ["html", "json", "csv"] {
        let (status, body) = caller
            .text(
                Some(ALICE),
                &format!("/connections/team-a/acme/report?format={format}"),
            )
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body.contains("refusing")
                && body.contains("missing")
                && !body.contains("JumpCloud compliance report"),
            "{body}"
        );
    }

    // The tokens appear in no log line and no response.
    let logs = env.all_logs();
    let seen = caller.seen.lock().unwrap().join("\n");
    for token in [ALICE, MALLORY] {
        assert!(
            !logs.contains(token),
            "a bearer token leaked into the operator log"
        );
        assert!(
            !seen.contains(token),
            "a bearer token was echoed in a response"
        );
    }
    env.assert_no_key_leak().await;
}

async fn html_report_of(caller: &Caller) -> String {
    caller
        .text(Some(ALICE), "/connections/team-a/acme/report?format=html")
        .await
        .1
}
