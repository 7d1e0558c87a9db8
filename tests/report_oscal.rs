//! `report --format oscal` / `oscal-plan` with the real binary on a simulator snapshot, validated
//! by compliance-trestle's OSCAL models and tests/oscal/validate.py (references, digests against
//! the store, one finding per control, the imported plan). Needs `.venv`: run
//! `bash .ci/install-python-deps.sh` (CI does before `cargo test`).

mod client_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use client_support::*;
use jumpcloud_operator::collect::{CollectOptions, EvaluateControls, NoProgress, collect_with};
use jumpcloud_operator::controls::{ControlSettings, SettingsSource};
use jumpcloud_operator::store::{EvidenceStore, StoreSink};
use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig};
use serde_json::Value;

const CONNECTION: &str = "test/sim";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The virtualenv's Python; a missing one fails the test (never skips it) with the fix.
fn python() -> PathBuf {
    let python = repo().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `bash .ci/install-python-deps.sh` to install compliance-trestle (tests/oscal/requirements.txt) into .venv",
        python.display()
    );
    python
}

fn validate(args: &[&Path]) -> Output {
    Command::new(python())
        .arg(repo().join("tests/oscal/validate.py"))
        .args(args)
        .output()
        .expect("python runs")
}

fn render(store: &Path, format: &str, out: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_jumpcloud-operator"))
        .args(["report", "--store"])
        .arg(store)
        .args(["--connection", CONNECTION, "--format", format, "--out"])
        .arg(out)
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "report --format {format}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two collections of the simulator's org into a store at `dir`, each from a fresh simulator:
/// the same seeded org, anchored a day ago and then now, so the second collection finds a day
/// of new events and the second snapshot's Directory Insights events are two blobs. One control is disabled (not applicable) and the default
/// dormancy threshold exceeds the events window (an error), so every status occurs.
async fn collect_twice(dir: &Path) {
    let store = EvidenceStore::open(dir.to_str().unwrap())
        .unwrap()
        .connection(&CONNECTION.parse().unwrap());
    let settings = ControlSettings {
        disabled_controls: vec!["JC-E9-SSH-HARDENING".into()],
        ..Default::default()
    };
    for day in 0..2 {
        let now = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * (1 - day));
        let sim = Simulator::start(SimulatorConfig {
            org: OrgSize::small(),
            now: Some(now),
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let sink = StoreSink::open(store.clone()).await.unwrap();
        let evaluate = EvaluateControls::new(settings.clone(), SettingsSource::SettingsFile);
        collect_with(
            &client(&sim),
            sink,
            &evaluate,
            &CollectOptions {
                events_days: 30,
                ..CollectOptions::default()
            },
            &NoProgress,
        )
        .await
        .unwrap();
        sim.shutdown().await;
    }
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

struct Rendered {
    _dir: tempfile::TempDir,
    store: PathBuf,
    results: PathBuf,
    plan: PathBuf,
    report: PathBuf,
}

async fn rendered() -> Rendered {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    collect_twice(&store).await;
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let rendered = Rendered {
        results: out.join("assessment-results.json"),
        plan: out.join("assessment-plan.json"),
        report: out.join("report.json"),
        store,
        _dir: dir,
    };
    render(&rendered.store, "oscal", &rendered.results);
    render(&rendered.store, "oscal-plan", &rendered.plan);
    render(&rendered.store, "json", &rendered.report);
    rendered
}

#[tokio::test]
async fn oscal_documents_of_a_simulator_snapshot_validate_with_trestle() {
    let r = rendered().await;
    let report = json(&r.report);
    let statuses: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    for status in ["pass", "fail", "not-applicable", "error"] {
        assert!(
            statuses.contains(&status),
            "no {status} control: {statuses:?}"
        );
    }
    let multi_blob = report["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["blobs"].as_array().is_some_and(|b| b.len() > 1));
    assert!(
        multi_blob,
        "the second snapshot has a kind of several blobs"
    );

    let output = validate(&[
        &r.results,
        Path::new("--plan"),
        &r.plan,
        Path::new("--report"),
        &r.report,
        Path::new("--store"),
        &r.store,
    ]);
    assert!(
        output.status.success(),
        "validate.py refused the documents:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("valid: "));

    // Rendering the same snapshot again gives the same bytes (UUIDs included).
    let again = r.results.with_file_name("again.json");
    render(&r.store, "oscal", &again);
    assert_eq!(
        std::fs::read(&r.results).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

type Breakage = Box<dyn Fn(&mut Value)>;

/// The validator can fail: a state OSCAL does not define, a state that contradicts the
/// control's result, a dangling observation reference and a blob the store does not hold are
/// each refused with what is wrong.
#[tokio::test]
async fn the_validator_rejects_broken_documents() {
    let r = rendered().await;
    let original = json(&r.results);
    let broken = r.results.with_file_name("broken.json");
    // (what the validator says, how the document is broken, whether the check needs the store)
    let cases: Vec<(&str, Breakage, bool)> = vec![
        (
            "not a valid OSCAL assessment-results",
            Box::new(|doc| {
                doc["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
                    "passed".into();
            }),
            false,
        ),
        (
            "does not match reason",
            Box::new(|doc| {
                let findings = doc["assessment-results"]["results"][0]["findings"]
                    .as_array_mut()
                    .unwrap();
                let failing = findings
                    .iter_mut()
                    .find(|f| f["target"]["status"]["reason"] == "fail")
                    .unwrap();
                failing["target"]["status"]["state"] = "satisfied".into();
            }),
            false,
        ),
        (
            "does not exist",
            Box::new(|doc| {
                // A UUID of the document, but not of an observation.
                let uuid = doc["assessment-results"]["uuid"].clone();
                doc["assessment-results"]["results"][0]["findings"][0]["related-observations"][0]
                    ["observation-uuid"] = uuid;
            }),
            false,
        ),
        (
            "differ between the document and the manifest's index",
            Box::new(|doc| {
                let resources = doc["assessment-results"]["back-matter"]["resources"]
                    .as_array_mut()
                    .unwrap();
                let blob = resources
                    .iter_mut()
                    .find(|r| r["title"].as_str().unwrap().starts_with("Evidence blob"))
                    .unwrap();
                blob["rlinks"][0]["hashes"][0]["value"] = "0".repeat(64).into();
            }),
            true,
        ),
    ];
    for (expected, break_it, with_store) in cases {
        let mut doc = original.clone();
        break_it(&mut doc);
        std::fs::write(&broken, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let mut args: Vec<&Path> = vec![&broken];
        if with_store {
            args.extend([Path::new("--store"), &r.store]);
        }
        let output = validate(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected} not in:\n{stderr}");
    }
}
