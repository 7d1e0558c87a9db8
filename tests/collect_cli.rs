//! The `collect` binary end to end against the simulator: the snapshot verifies against its
//! manifest, the key appears nowhere, and failures leave no snapshot behind.

mod client_support;

use std::path::{Path, PathBuf};

use client_support::*;
use jumpcloud_operator::collect::{KindStatus, Manifest};
use jumpcloud_operator::region::Region;
use jumpcloud_operator::store::{ConnectionStore, EvidenceStore};
use jumpcloud_simulator::control::{Fault, FaultKind};
use jumpcloud_simulator::{OrgSize, Simulator};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary off the async workers so the in-process simulator keeps answering.
async fn run(args: Vec<String>) -> Run {
    run_with_log(args, None).await
}

/// As [`run`], with `RUST_LOG` set to `log` (unset when `None`).
async fn run_with_log(args: Vec<String>, log: Option<&'static str>) -> Run {
    tokio::task::spawn_blocking(move || {
        let mut command = assert_cmd::Command::cargo_bin("jumpcloud-operator").unwrap();
        command.args(&args).env_remove("RUST_LOG");
        if let Some(log) = log {
            command.env("RUST_LOG", log);
        }
        let output = command.output().unwrap();
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

fn key_file(dir: &Path, key: &SecretString) -> PathBuf {
    let path = dir.join("key.txt");
    // As `echo KEY > key.txt` writes it: with a trailing newline.
    std::fs::write(&path, format!("{}\n", key.expose_secret())).unwrap();
    path
}

fn args_for(sim: &Simulator, key: &Path, out: &Path) -> Vec<String> {
    vec![
        "collect".into(),
        "--api-key-file".into(),
        key.display().to_string(),
        "--base-url".into(),
        sim.base_url(Region::Us).unwrap().to_string(),
        "--out".into(),
        out.display().to_string(),
    ]
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn store(out: &Path) -> ConnectionStore {
    EvidenceStore::open(out.to_str().unwrap())
        .unwrap()
        .connection(&"collect/default".parse().unwrap())
}

/// `verify` accepts the store, and every kind of the latest snapshot matches the collection's
/// manifest: line count, SHA-256, size, and (for complete kinds with a reported total) the
/// total. Returns the collection's manifest.
async fn verify_snapshot(out: &Path) -> Manifest {
    let verified = run(vec![
        "verify".into(),
        "--store".into(),
        out.display().to_string(),
    ])
    .await;
    assert_eq!(
        verified.code,
        Some(0),
        "{}{}",
        verified.stdout,
        verified.stderr
    );
    let store = store(out);
    let snapshot = store.latest().await.unwrap().expect("a snapshot");
    let mut collection = snapshot.manifest.collection.clone();
    collection["kinds"] = snapshot.index.sources.clone();
    let manifest: Manifest = serde_json::from_value(collection).unwrap();
    assert_eq!(manifest.kinds.len(), 39);
    for kind in &manifest.kinds {
        let stored = snapshot.kind(&kind.kind).unwrap();
        let bytes = if kind.kind == "directory_insights_events" {
            // The stored history; the collection's entry describes only its new segment: the
            // chunks after the previous snapshot's.
            assert!(stored.records >= kind.records);
            let earlier = match &snapshot.manifest.previous {
                Some(previous) => store
                    .resolve(&previous.id)
                    .await
                    .unwrap()
                    .kind(&kind.kind)
                    .map_or(0, |k| k.blobs.len()),
                None => 0,
            };
            let mut segment = Vec::new();
            for chunk in &stored.blobs[earlier..] {
                segment.extend_from_slice(&store.read_blob(&chunk.sha256).await.unwrap());
            }
            segment
        } else {
            store.read_kind(stored).await.unwrap()
        };
        let lines = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64;
        assert_eq!(lines, kind.records, "{}", kind.kind);
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            kind.sha256,
            "{}",
            kind.kind
        );
        assert_eq!(bytes.len() as u64, kind.bytes, "{}", kind.kind);
        if kind.status == KindStatus::Complete
            && let Some(total) = kind.total_reported
        {
            if kind.kind == "directory_insights_events" {
                // Events already stored are not stored again.
                assert!(total >= kind.records);
            } else {
                assert_eq!(total, kind.records, "{}", kind.kind);
            }
        }
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            serde_json::from_slice::<serde_json::Value>(line)
                .unwrap_or_else(|error| panic!("{}: {error}", kind.kind));
        }
    }
    manifest
}

#[tokio::test(flavor = "multi_thread")]
async fn collect_simulate_writes_a_verifiable_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot");
    let run = run(vec![
        "collect".into(),
        "--simulate".into(),
        "--out".into(),
        out.display().to_string(),
    ])
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let manifest = verify_snapshot(&out).await;
    let users = manifest.kinds.iter().find(|k| k.kind == "users").unwrap();
    assert_eq!(users.records, OrgSize::small().users as u64);
    assert_eq!(manifest.administrator_role.as_deref(), Some("Read Only"));
    assert_eq!(manifest.key_fingerprint.len(), 12);
    assert!(
        run.stdout.contains("users"),
        "summary table: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("JC-E1-DISK-ENCRYPTION") && run.stdout.contains("FAIL"),
        "control summary after the collection: {}",
        run.stdout
    );
    assert!(
        run.stderr.contains("users"),
        "progress lines: {}",
        run.stderr
    );
    // The auditor report is stored next to the snapshot, and the command to write it is shown.
    let latest = store(&out).latest().await.unwrap().unwrap();
    let html = store(&out).read_report(&latest.id).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&html).contains(&latest.sha256));
    assert!(
        run.stdout.contains("jumpcloud-operator report --store"),
        "{}",
        run.stdout
    );
    // Only the store is left next to it: no temp directories.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// The statistics `bench` reads from its `collect` children: the collection apart from the
/// evaluation and commit that follow it.
#[tokio::test(flavor = "multi_thread")]
async fn bench_statistics_split_the_collection_from_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let stats_path = dir.path().join("stats.json");
    let run = run(vec![
        "collect".into(),
        "--simulate".into(),
        "--out".into(),
        dir.path().join("snapshot").display().to_string(),
        "--stats-out".into(),
        stats_path.display().to_string(),
    ])
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stats_path).unwrap()).unwrap();
    let number = |field: &str| {
        stats[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{field}: {stats}"))
    };
    assert!(number("collection_seconds") > 0.0);
    assert!(number("collection_seconds") <= number("seconds"), "{stats}");
    assert_eq!(number("total_requests"), number("min_requests"), "{stats}");
    assert_eq!(number("users_total"), OrgSize::small().users as f64);
    if cfg!(target_os = "linux") {
        let collection = number("collection_peak_rss_kib");
        assert!(
            collection > 0.0 && collection <= number("peak_rss_kib"),
            "{stats}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_appears_in_no_output_and_no_file() {
    let sim = simulator(OrgSize::small()).await;
    let key = sim.read_only_key(Region::Us);
    let dir = tempfile::tempdir().unwrap();
    let key_path = key_file(dir.path(), &key);
    let out = dir.path().join("snapshot");
    // Every log line of every crate, retries included: none may carry the key.
    control(&sim)
        .inject(
            Fault::new(FaultKind::Status {
                status: 503,
                retry_after_secs: None,
            })
            .on_path("/api/systems"),
        )
        .await
        .unwrap();
    let run = run_with_log(args_for(&sim, &key_path, &out), Some("trace")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("retrying /api/systems"),
        "{}",
        run.stderr
    );
    let manifest = verify_snapshot(&out).await;
    let secret = key.expose_secret();
    assert!(!run.stdout.contains(secret));
    assert!(!run.stderr.contains(secret));
    for file in files_under(&out) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} contains the key",
            file.display()
        );
    }
    let expected = jumpcloud_operator::jumpcloud::ApiKey::new(secret)
        .unwrap()
        .fingerprint();
    assert_eq!(manifest.key_fingerprint, expected);
    assert!(
        run.stderr.contains(&expected),
        "the fingerprint identifies the key"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_fails_clearly_and_writes_nothing() {
    let sim = simulator(OrgSize::small()).await;
    let admin = read_only_admin(&sim);
    let key = admin.api_key.clone().unwrap();
    control(&sim).revoke_key(&admin.id).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = key_file(dir.path(), &key);
    let out = dir.path().join("snapshot");
    let run = run(args_for(&sim, &key_path, &out)).await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(
        run.stderr.contains("the API key was rejected"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("check --region"), "{}", run.stderr);
    // A collection that started and failed says what it left behind.
    assert!(
        run.stderr.contains("no snapshot was committed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(key.expose_secret()));
    assert!(!run.stdout.contains(key.expose_secret()));
    assert!(
        files_under(&out).is_empty(),
        "nothing stored: {:?}",
        files_under(&out)
    );
    assert_eq!(
        control(&sim).counters().await.unwrap().total,
        1,
        "a rejected key is not retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_collection_keeps_the_previous_snapshot() {
    let sim = simulator(OrgSize::small()).await;
    let key = sim.read_only_key(Region::Us);
    let dir = tempfile::tempdir().unwrap();
    let key_path = key_file(dir.path(), &key);
    let out = dir.path().join("snapshot");
    assert_eq!(run(args_for(&sim, &key_path, &out)).await.code, Some(0));
    let before = store(&out).latest().await.unwrap().unwrap();

    control(&sim)
        .inject(
            // One 500 is retried; a lasting one meets its attempt cap of 4.
            Fault::new(FaultKind::Status {
                status: 500,
                retry_after_secs: None,
            })
            .times(100)
            .on_path("/api/systems"),
        )
        .await
        .unwrap();
    let run = run(args_for(&sim, &key_path, &out)).await;
    assert_eq!(run.code, Some(5), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("gave up after 4 attempts: the attempt cap of 4 was reached"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("collecting devices"), "{}", run.stderr);
    assert!(run.stderr.contains("/api/systems"), "{}", run.stderr);
    assert!(
        run.stderr.contains("latest snapshot is unchanged"),
        "{}",
        run.stderr
    );
    let after = store(&out).list_snapshots().await.unwrap();
    assert_eq!(
        after,
        std::slice::from_ref(&before.id),
        "the failed run committed nothing"
    );
    verify_snapshot(&out).await;

    // A good run follows the previous snapshot in the chain.
    control(&sim).reset().await.unwrap();
    assert_eq!(run_again(&sim, &key_path, &out).await, Some(0));
    verify_snapshot(&out).await;
    let latest = store(&out).latest().await.unwrap().unwrap();
    assert_eq!(latest.manifest.sequence, 1);
    assert_eq!(latest.manifest.previous.unwrap().sha256, before.sha256);
}

async fn run_again(sim: &Simulator, key: &Path, out: &Path) -> Option<i32> {
    run(args_for(sim, key, out)).await.code
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_tenant_without_org_id_names_the_fix() {
    let sim = simulator(OrgSize::small()).await;
    let admin = read_only_admin(&sim);
    let second = control(&sim)
        .add_org(std::slice::from_ref(&admin.id))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = key_file(dir.path(), &sim.read_only_key(Region::Us));
    let out = dir.path().join("snapshot");
    let run_without = run(args_for(&sim, &key_path, &out)).await;
    assert_eq!(run_without.code, Some(3));
    assert!(
        run_without.stderr.contains("--org-id"),
        "{}",
        run_without.stderr
    );

    let mut args = args_for(&sim, &key_path, &out);
    args.extend(["--org-id".to_owned(), second.clone()]);
    let run_with = run(args).await;
    assert_eq!(run_with.code, Some(0), "{}", run_with.stderr);
    assert_eq!(verify_snapshot(&out).await.org.id, second);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_key_sources_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let out = dir.path().join("snapshot").display().to_string();
    let run_empty = run(vec![
        "collect".into(),
        "--api-key-file".into(),
        empty.display().to_string(),
        "--out".into(),
        out.clone(),
    ])
    .await;
    assert_eq!(run_empty.code, Some(2));
    assert!(run_empty.stderr.contains("empty"), "{}", run_empty.stderr);
    let run_env = run(vec![
        "collect".into(),
        "--api-key-env".into(),
        "JUMPCLOUD_OPERATOR_TEST_UNSET_VARIABLE".into(),
        "--out".into(),
        out,
    ])
    .await;
    assert_eq!(run_env.code, Some(2));
    assert!(
        run_env
            .stderr
            .contains("JUMPCLOUD_OPERATOR_TEST_UNSET_VARIABLE")
    );
}

/// Runs a collection that must fail with `code`, and checks that it committed nothing: the
/// store still holds exactly `before` and verifies.
async fn fails_without_committing(
    sim: &Simulator,
    key: &Path,
    out: &Path,
    before: &jumpcloud_operator::store::SnapshotId,
    code: i32,
) -> String {
    let run = run(args_for(sim, key, out)).await;
    assert_eq!(run.code, Some(code), "{}", run.stderr);
    assert!(
        run.stderr.contains("latest snapshot is unchanged"),
        "{}",
        run.stderr
    );
    let snapshots = store(out).list_snapshots().await.unwrap();
    assert_eq!(
        snapshots,
        vec![before.clone()],
        "the failed run committed nothing"
    );
    verify_snapshot(out).await;
    run.stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_inconsistent_data_exit_4_and_commit_nothing() {
    // 250 users: three pages, so a total can change between them.
    let sim = simulator(org_with_users(250)).await;
    let dir = tempfile::tempdir().unwrap();
    let key_path = key_file(dir.path(), &sim.read_only_key(Region::Us));
    let out = dir.path().join("snapshot");
    assert_eq!(run(args_for(&sim, &key_path, &out)).await.code, Some(0));
    let before = store(&out).latest().await.unwrap().unwrap().id;

    // Malformed JSON: the endpoint and the byte offset are named.
    control(&sim)
        .inject(Fault::new(FaultKind::Malformed).on_path("/api/systems"))
        .await
        .unwrap();
    let stderr = fails_without_committing(&sim, &key_path, &out, &before, 4).await;
    assert!(
        stderr.contains("/api/systems: malformed response at byte "),
        "{stderr}"
    );

    // The total changes between pages.
    control(&sim).reset().await.unwrap();
    control(&sim)
        .inject(
            Fault::new(FaultKind::Grow {
                records: jumpcloud_simulator::control::GrowRecords::Users,
                count: 1,
            })
            .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let stderr = fails_without_committing(&sim, &key_path, &out, &before, 4).await;
    assert!(stderr.contains("/api/systemusers"), "{stderr}");
    assert!(stderr.contains("total changed from 250 to 251"), "{stderr}");

    // A page that shifted: the count matches, one user arrives twice.
    control(&sim).reset().await.unwrap();
    control(&sim)
        .inject(
            Fault::new(FaultKind::Shift { by: 1 })
                .times(3)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let stderr = fails_without_committing(&sim, &key_path, &out, &before, 4).await;
    assert!(stderr.contains("/api/systemusers"), "{stderr}");
    assert!(stderr.contains("arrived twice"), "{stderr}");

    // A list without its total.
    control(&sim).reset().await.unwrap();
    control(&sim)
        .inject(Fault::new(FaultKind::NoTotal).on_path("/api/v2/usergroups"))
        .await
        .unwrap();
    let stderr = fails_without_committing(&sim, &key_path, &out, &before, 4).await;
    assert!(stderr.contains("/api/v2/usergroups"), "{stderr}");
    assert!(stderr.contains("x-total-count"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_get_self_still_commits_without_the_admin() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim).set_get_self_status(Some(404)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = key_file(dir.path(), &sim.read_only_key(Region::Us));
    let out = dir.path().join("snapshot");
    let run = run(args_for(&sim, &key_path, &out)).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let manifest = verify_snapshot(&out).await;
    assert_eq!(manifest.administrator_role, None);
    assert_eq!(manifest.administrator_key_expires_at, None);
    let counters = control(&sim).counters().await.unwrap();
    assert_eq!(counters.by_status.get("404"), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn simulate_refuses_flags_it_would_ignore() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot").display().to_string();
    for (flag, value) in [
        ("--region", "eu"),
        ("--base-url", "http://127.0.0.1:9/"),
        ("--org-id", "5f0000000000000000000000"),
    ] {
        let run = run(vec![
            "collect".into(),
            "--simulate".into(),
            flag.into(),
            value.into(),
            "--out".into(),
            out.clone(),
        ])
        .await;
        assert_eq!(run.code, Some(2), "{flag}: {}", run.stderr);
        assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
        assert!(run.stderr.contains(flag), "{}", run.stderr);
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_are_logged_on_stderr_with_endpoint_status_and_wait() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .inject(
            Fault::new(FaultKind::Status {
                status: 503,
                retry_after_secs: Some(1),
            })
            .on_path("/api/systems"),
        )
        .await
        .unwrap();
    let key = sim.read_only_key(Region::Us);
    let dir = tempfile::tempdir().unwrap();
    let key_path = key_file(dir.path(), &key);
    let out = dir.path().join("snapshot");
    let run = run(args_for(&sim, &key_path, &out)).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|line| line.contains("retrying"))
        .unwrap_or_else(|| panic!("no retry logged: {}", run.stderr));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("/api/systems"), "{line}");
    assert!(line.contains("HTTP 503"), "{line}");
    assert!(line.contains("waiting 1.0s"), "{line}");
    assert!(!run.stderr.contains(key.expose_secret()));
    assert_eq!(
        run.stderr.matches("retrying").count(),
        1,
        "warnings only: {}",
        run.stderr
    );
}
