//! What every subcommand does the same way: one table of exit codes, quiet ends under a closed
//! pipe, logs without colour when they go to a pipe or file, `--fail-on` for CI after the
//! commit, the store from `JUMPCLOUD_OPERATOR_STORE`, and a simulated org that stays the same
//! between two collections of one day.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn operator() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jumpcloud-operator"));
    command
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env_remove("JUMPCLOUD_OPERATOR_STORE");
    command
}

fn run(args: &[&str]) -> Output {
    operator().args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn collect_simulated(store: &Path) -> Output {
    run(&["collect", "--simulate", "--out", store.to_str().unwrap()])
}

fn snapshot_ids(store: &Path) -> Vec<String> {
    let out = run(&["snapshots", "--store", store.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    listed[0]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

fn utc_day() -> i64 {
    jiff::Timestamp::now().as_second().div_euclid(86_400)
}

#[test]
fn a_closed_stdout_ends_the_printing_commands_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    for _ in 0..2 {
        let out = collect_simulated(&store);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let ids = snapshot_ids(&store);
    let url = store.to_str().unwrap();
    let commands: [Vec<&str>; 6] = [
        // The HTML report is larger than a pipe's buffer (64 KiB): it is still writing when
        // the reader goes away.
        vec!["report", "--store", url],
        vec!["report", "--store", url, "--format", "json"],
        vec!["diff", "--store", url, &ids[0], &ids[1], "--json"],
        vec!["snapshots", "--store", url, "--json"],
        vec!["verify", "--store", url],
        // The summary goes first, the report is stored after it, then --fail-on decides.
        vec![
            "collect",
            "--simulate",
            "--quiet",
            "--out",
            url,
            "--fail-on",
            "failing",
        ],
    ];
    for args in commands {
        let mut child = operator()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        // The command's own code, not a panic's 101 nor a signal's death.
        let expected = if args[0] == "collect" { 8 } else { 0 };
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {stderr}");
    }
    // Output lost otherwise (a full disk) is a failure, not a quiet end.
    if Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = operator()
            .args(["report", "--store", url])
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot write to standard output"),
            "{}",
            text(&out)
        );
    }
    // The collection under the closed pipe still committed and stored its report.
    assert_eq!(snapshot_ids(&store).len(), 3);
    let out = run(&["verify", "--store", url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_empty_store_is_exit_7_and_a_missing_one_exit_2_for_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = tmp.path().join("typo");
    for (store, code) in [(&empty, 7), (&missing, 2)] {
        let url = store.to_str().unwrap();
        for args in [
            vec!["report", "--store", url],
            vec!["diff", "--store", url, "a", "b"],
            vec!["snapshots", "--store", url],
            vec!["verify", "--store", url],
        ] {
            let out = run(&args);
            assert_eq!(out.status.code(), Some(code), "{args:?}\n{}", text(&out));
        }
    }
    // A connection named but never written is as empty as an empty store.
    let out = run(&[
        "report",
        "--store",
        empty.to_str().unwrap(),
        "--connection",
        "team/none",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
}

#[test]
fn an_empty_key_file_is_named_and_an_early_error_promises_nothing_about_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("empty-key.txt");
    std::fs::write(&key, "\n").unwrap();
    let out = run(&[
        "collect",
        "--api-key-file",
        key.to_str().unwrap(),
        "--out",
        tmp.path().join("store").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("empty-key.txt"), "{stderr}");
    assert!(!stderr.contains("no snapshot was committed"), "{stderr}");

    let out = run(&["collect", "--simulate", "--store", "ftp://example/evidence"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("no snapshot was committed"),
        "{}",
        text(&out)
    );
}

#[test]
fn fail_on_exits_8_after_the_snapshot_is_committed_and_the_store_comes_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let url = store.to_str().unwrap();
    // The simulated org fails some controls.
    let out = operator()
        .args(["collect", "--simulate", "--fail-on", "failing"])
        .env("JUMPCLOUD_OPERATOR_STORE", url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--fail-on failing"), "{stderr}");
    assert!(!stderr.contains("no snapshot was committed"), "{stderr}");
    // Logs to a pipe carry no colour codes.
    assert!(!out.stderr.contains(&0x1b), "{stderr}");
    assert!(stderr.contains("evidence snapshot committed"), "{stderr}");

    assert_eq!(snapshot_ids(&store).len(), 1);
    // An explicit --out wins over the variable; neither is a usage error naming both.
    let out_dir = tmp.path().join("out");
    let out = operator()
        .args(["collect", "--simulate", "--quiet", "--out"])
        .arg(&out_dir)
        .env("JUMPCLOUD_OPERATOR_STORE", url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(snapshot_ids(&store).len(), 1);
    assert_eq!(snapshot_ids(&out_dir).len(), 1);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("[1/39]"),
        "--quiet: {}",
        text(&out)
    );
    let out = run(&["collect", "--simulate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("JUMPCLOUD_OPERATOR_STORE"),
        "{}",
        text(&out)
    );
    let verify = run(&["verify", "--store", url]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));

    let report = |extra: &[&str]| {
        let mut args = vec!["report", "--store", url, "--format", "json"];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = report(&["--fail-on", "error"]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        !out.stdout.is_empty(),
        "the report is written before the exit"
    );
    let out = report(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn two_simulated_collections_of_one_day_change_nothing_but_events() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    // Two runs straddling a UTC midnight see two days of the org: run the pair again then.
    let ids = loop {
        let day = utc_day();
        for _ in 0..2 {
            let out = collect_simulated(&store);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        }
        if utc_day() == day {
            let ids = snapshot_ids(&store);
            break ids[ids.len() - 2..].to_vec();
        }
    };
    let out = run(&[
        "diff",
        "--store",
        store.to_str().unwrap(),
        &ids[0],
        &ids[1],
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changed: Vec<&str> = diff["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kind| kind["kind"].as_str().unwrap())
        .collect();
    // Only Directory Insights events may legitimately change: a later collection reads what is
    // newer than the stored events (the simulated org has none newer within one day). Before
    // the clock was anchored, administrators were re-created and every timestamp of users,
    // devices and applications moved by the seconds between the runs.
    assert!(
        changed
            .iter()
            .all(|kind| *kind == "directory_insights_events"),
        "{changed:?}\n{}",
        text(&out)
    );

    // Counts are a JSON object per snapshot, not an array of pairs.
    let out = run(&["snapshots", "--store", store.to_str().unwrap(), "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let counts = &listed[0]["snapshots"][0]["counts"];
    assert!(counts["users"].as_u64().unwrap() > 0, "{counts}");
}
