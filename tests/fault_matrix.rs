//! The fault matrix: the real `collect` binary against the simulator, one row per fault. Each
//! row first collects a good snapshot, then collects again under the fault, and checks: the
//! exit code; that stderr names the endpoint; that the store's latest snapshot is unchanged (a
//! failed row) or is a complete new one chained to it (a tolerated row); that `verify` passes;
//! and that no encoding of the key (raw, base64, base64url, URL-encoded, hex) is in stdout,
//! stderr, any file of the store or any `report` format.

mod client_support;

use std::path::{Path, PathBuf};

use client_support::*;
use futures::StreamExt;
use jumpcloud_operator::jumpcloud::key_encodings;
use jumpcloud_operator::region::Region;
use jumpcloud_operator::store::{ConnectionStore, EvidenceStore};
use jumpcloud_simulator::Simulator;
use jumpcloud_simulator::control::{EchoInto, Fault, FaultKind, GrowRecords};
use secrecy::ExposeSecret;

/// Rows run at once: each runs the binary several times; the machine has few cores.
const CONCURRENT_ROWS: usize = 4;

/// Something done to the simulator.
#[derive(Clone)]
enum Act {
    Fault(Fault),
    InsightsRows(&'static str, usize),
    DirectoryInsights(bool),
    RouteStatus(&'static str, u16),
}

/// What the faulted collection must end in.
#[derive(Clone)]
enum Outcome {
    /// Exit code, and the endpoint stderr names; nothing is committed.
    Fails(i32, &'static str),
    /// Exit 0 and a new snapshot chained to the good one, with this kind in this status.
    Tolerated(&'static str, &'static str),
}

struct Row {
    name: &'static str,
    /// Done before the good collection (e.g. a table big enough for two pages).
    prepare: Vec<Act>,
    /// Done before the faulted collection.
    fault: Vec<Act>,
    outcome: Outcome,
}

fn fault(kind: FaultKind, path: &str) -> Act {
    Act::Fault(Fault::new(kind).on_path(path))
}

fn rows() -> Vec<Row> {
    use Outcome::{Fails, Tolerated};
    vec![
        Row {
            name: "shift on a v1 list",
            prepare: vec![],
            fault: vec![Act::Fault(
                Fault::new(FaultKind::Shift { by: 1 })
                    .times(3)
                    .on_path("/api/systemusers"),
            )],
            outcome: Fails(4, "/api/systemusers"),
        },
        Row {
            name: "shift on System Insights",
            prepare: vec![Act::InsightsRows("os_version", 10_005)],
            fault: vec![Act::Fault(
                Fault::new(FaultKind::Shift { by: 5 })
                    .times(2)
                    .on_path("/api/v2/systeminsights/os_version"),
            )],
            outcome: Fails(4, "/api/v2/systeminsights/os_version"),
        },
        Row {
            name: "total changed",
            prepare: vec![],
            fault: vec![fault(
                FaultKind::Grow {
                    records: GrowRecords::Users,
                    count: 1,
                },
                "/api/systemusers",
            )],
            outcome: Fails(4, "/api/systemusers"),
        },
        Row {
            name: "total missing on the first page",
            prepare: vec![],
            fault: vec![fault(FaultKind::NoTotal, "/api/v2/usergroups")],
            outcome: Fails(4, "/api/v2/usergroups"),
        },
        Row {
            name: "total missing on a later page",
            prepare: vec![],
            fault: vec![fault(FaultKind::NoTotalLater, "/api/systemusers")],
            outcome: Fails(4, "/api/systemusers"),
        },
        Row {
            name: "key echoed into a numeric field",
            prepare: vec![],
            fault: vec![fault(
                FaultKind::EchoKey {
                    into: EchoInto::Total,
                },
                "/api/systemusers",
            )],
            outcome: Fails(4, "/api/systemusers"),
        },
        Row {
            name: "key echoed into a string field of a record",
            prepare: vec![],
            fault: vec![fault(
                FaultKind::EchoKey {
                    into: EchoInto::Record,
                },
                "/api/v2/systeminsights/alf",
            )],
            outcome: Fails(4, "/api/v2/systeminsights/alf"),
        },
        Row {
            name: "oversized page",
            prepare: vec![],
            fault: vec![fault(
                FaultKind::Oversized { records: 5_000 },
                "/api/systems",
            )],
            outcome: Fails(4, "/api/systems"),
        },
        Row {
            name: "huge record",
            prepare: vec![],
            fault: vec![fault(
                FaultKind::HugeRecord { bytes: 5_000_000 },
                "/api/applications",
            )],
            outcome: Fails(4, "/api/applications"),
        },
        Row {
            name: "repeated Directory Insights cursor",
            prepare: vec![],
            fault: vec![Act::Fault(
                Fault::new(FaultKind::RepeatCursor)
                    .times(1_000)
                    .on_path("/insights/directory/v1/events"),
            )],
            outcome: Fails(4, "/events"),
        },
        Row {
            name: "HTTP 500 beyond the retries",
            prepare: vec![],
            fault: vec![Act::Fault(
                Fault::new(FaultKind::Status {
                    status: 500,
                    retry_after_secs: None,
                })
                .times(100)
                .on_path("/api/v2/policies"),
            )],
            outcome: Fails(5, "/api/v2/policies"),
        },
        Row {
            name: "402 on Directory Insights after a good sync",
            prepare: vec![],
            fault: vec![Act::DirectoryInsights(false)],
            outcome: Tolerated("directory_insights_events", "not-licensed"),
        },
        Row {
            name: "404 on /api/users",
            prepare: vec![],
            fault: vec![Act::RouteStatus("/api/users", 404)],
            outcome: Tolerated("administrators", "unavailable"),
        },
    ]
}

struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    fn text(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

/// Runs the binary off the async workers so the in-process simulator keeps answering.
async fn run(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let output = assert_cmd::Command::cargo_bin("jumpcloud-operator")
            .unwrap()
            .args(&args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        Run {
            code: output.status.code(),
            stdout: output.stdout,
            stderr: output.stderr,
        }
    })
    .await
    .unwrap()
}

fn collect_args(sim: &Simulator, key: &Path, out: &Path) -> Vec<String> {
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

fn store(out: &Path) -> ConnectionStore {
    EvidenceStore::open(out.to_str().unwrap())
        .unwrap()
        .connection(&"collect/default".parse().unwrap())
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

async fn act(sim: &Simulator, act: &Act) {
    let control = control(sim);
    match act {
        Act::Fault(fault) => control.inject(fault.clone()).await.unwrap(),
        Act::InsightsRows(table, rows) => control.set_insights_rows(table, *rows).await.unwrap(),
        Act::DirectoryInsights(on) => control.set_directory_insights(*on).await.unwrap(),
        Act::RouteStatus(path, status) => {
            control.set_route_status(path, Some(*status)).await.unwrap()
        }
    }
}

/// Every output that must not carry the key, named for the failure message.
async fn outputs(out: &Path, report_dir: &Path, runs: &[(&str, &Run)]) -> Vec<(String, Vec<u8>)> {
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, run) in runs {
        outputs.push((format!("{name} stdout"), run.stdout.clone()));
        outputs.push((format!("{name} stderr"), run.stderr.clone()));
    }
    for dir in [out, report_dir] {
        for file in files_under(dir) {
            outputs.push((file.display().to_string(), std::fs::read(&file).unwrap()));
        }
    }
    outputs
}

async fn check_row(row: Row) {
    let name = row.name;
    let sim = simulator(org_with_users(250)).await;
    let key = sim.read_only_key(Region::Us);
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.txt");
    std::fs::write(&key_path, key.expose_secret()).unwrap();
    let out = dir.path().join("store");
    for prepare in &row.prepare {
        act(&sim, prepare).await;
    }
    let good = run(collect_args(&sim, &key_path, &out)).await;
    assert_eq!(
        good.code,
        Some(0),
        "{name}: good collection\n{}",
        good.text()
    );
    let before = store(&out).latest().await.unwrap().unwrap();

    for fault in &row.fault {
        act(&sim, fault).await;
    }
    let faulted = run(collect_args(&sim, &key_path, &out)).await;
    let stderr = String::from_utf8_lossy(&faulted.stderr).into_owned();
    let snapshots = store(&out).list_snapshots().await.unwrap();
    match row.outcome {
        Outcome::Fails(code, endpoint) => {
            assert_eq!(faulted.code, Some(code), "{name}\n{}", faulted.text());
            let error = stderr
                .lines()
                .find(|line| line.starts_with("error: "))
                .unwrap_or_else(|| panic!("{name}: no error line\n{stderr}"));
            assert!(error.contains(endpoint), "{name}: {error}");
            assert!(
                stderr.contains("latest snapshot is unchanged"),
                "{name}\n{stderr}"
            );
            assert_eq!(
                snapshots,
                std::slice::from_ref(&before.id),
                "{name}: nothing committed"
            );
        }
        Outcome::Tolerated(kind, status) => {
            assert_eq!(faulted.code, Some(0), "{name}\n{}", faulted.text());
            assert_eq!(snapshots.len(), 2, "{name}");
            let latest = store(&out).latest().await.unwrap().unwrap();
            assert_eq!(latest.manifest.sequence, before.manifest.sequence + 1);
            let previous = latest.manifest.previous.as_ref().unwrap();
            assert_eq!(
                previous.sha256, before.sha256,
                "{name}: chained to the good one"
            );
            assert_eq!(latest.kind(kind).unwrap().status, status, "{name}");
            assert_eq!(latest.index.kinds.len(), before.index.kinds.len(), "{name}");
        }
    }

    let store_arg = out.display().to_string();
    let verify = run(vec!["verify".into(), "--store".into(), store_arg.clone()]).await;
    assert_eq!(verify.code, Some(0), "{name}: verify\n{}", verify.text());

    let report_dir = dir.path().join("reports");
    std::fs::create_dir_all(&report_dir).unwrap();
    let mut reports = Vec::new();
    for format in ["html", "json", "markdown", "csv", "oscal", "oscal-plan"] {
        let mut args = vec![
            "report".to_owned(),
            "--store".into(),
            store_arg.clone(),
            "--format".into(),
            format.into(),
        ];
        if format == "csv" {
            args.extend(["--out".into(), report_dir.join("csv").display().to_string()]);
        }
        let report = run(args).await;
        assert_eq!(
            report.code,
            Some(0),
            "{name}: report {format}\n{}",
            report.text()
        );
        assert!(
            format == "csv" || !report.stdout.is_empty(),
            "{name}: report {format} is empty"
        );
        reports.push((format, report));
    }

    let mut runs: Vec<(&str, &Run)> = vec![("good collect", &good), ("faulted collect", &faulted)];
    runs.push(("verify", &verify));
    for (format, report) in &reports {
        runs.push((format, report));
    }
    let forms = key_encodings(key.expose_secret());
    for (origin, bytes) in outputs(&out, &report_dir, &runs).await {
        for form in &forms {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                "{name}: the key ({form}) is in {origin}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_fails_closed_or_is_tolerated_with_a_chained_snapshot() {
    futures::stream::iter(rows())
        .map(|row| tokio::spawn(check_row(row)))
        .buffer_unordered(CONCURRENT_ROWS)
        .for_each(|row| async move { row.unwrap() })
        .await;
}
