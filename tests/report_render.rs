//! Report rendering: escaping, CSV quoting, determinism, changes, the snapshot loader and the
//! `report` command.

mod report_support;

use clap::Parser;
use jumpcloud_operator::cli::Cli;
use jumpcloud_operator::controls::{ControlSettings, ControlStatus, KindState, evaluate_all};
use jumpcloud_operator::report::{
    Baseline, build_report, render_csv, render_html, render_json, render_markdown, summary_table,
};
use jumpcloud_operator::store::Records;
use report_support::*;
use serde_json::json;

const HOSTILE: &str =
    "<script>alert('x')</script>\"><img src=x onerror=alert(1)> & | , \"quoted\"\nnext";

fn hostile_org() -> Org {
    let mut org = passing_org();
    org.record("devices", "d-mac")["displayName"] = json!(HOSTILE);
    org.record("devices", "d-mac")["fde"]["active"] = json!(false);
    org
}

#[test]
fn html_escapes_hostile_names_and_is_self_contained() {
    let mut evidence = hostile_org().build();
    evidence.meta.org_name = format!("Evil {HOSTILE}");
    let report = build_report(&evidence, None, &ControlSettings::default(), now());
    let html = render_html(&report);
    assert!(!html.contains("<script"), "unescaped script tag");
    assert!(!html.contains("<img"), "unescaped img tag");
    assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt;&quot;&gt;&lt;img"));
    // Self-contained: no scripts, no external assets, no links out of the document.
    let html = render_html(&build_report(
        &passing_org().build(),
        None,
        &ControlSettings::default(),
        now(),
    ));
    for needle in [
        "<script", "<link", "src=", "http://", "https://", "@import", "url(",
    ] {
        assert!(!html.contains(needle), "{needle} in the HTML");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("JC-E1-DISK-ENCRYPTION"));
}

#[test]
fn csv_quotes_every_awkward_value_and_round_trips() {
    let report = build_report(
        &hostile_org().build(),
        None,
        &ControlSettings::default(),
        now(),
    );
    let files = render_csv(&report).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"summary.csv"));
    assert_eq!(files.len(), report.results.len() + 1);
    let (_, e1) = files
        .iter()
        .find(|(n, _)| n == "JC-E1-DISK-ENCRYPTION.csv")
        .unwrap();
    let mut reader = csv::Reader::from_reader(e1.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][2], "d-mac");
    assert_eq!(&rows[0][3], HOSTILE);
    let (_, summary) = files.iter().find(|(n, _)| n == "summary.csv").unwrap();
    let mut reader = csv::Reader::from_reader(summary.as_bytes());
    assert_eq!(reader.records().count(), report.results.len());
}

#[test]
fn markdown_escapes_table_cells() {
    let report = build_report(
        &hostile_org().build(),
        None,
        &ControlSettings::default(),
        now(),
    );
    let md = render_markdown(&report);
    // Markup stays text by backslash escapes, never by HTML entities a reader would see.
    assert!(md.contains("\\<script\\>"), "{md}");
    assert!(
        md.match_indices('<')
            .all(|(at, _)| md[..at].ends_with('\\')),
        "an unescaped < in {md}"
    );
    assert!(!md.contains("&lt;") && !md.contains("&amp;"), "{md}");
    assert!(md.contains("\\| , \"quoted\" next"));
    assert!(md.contains("## How to verify this snapshot"));
}

#[test]
fn same_snapshot_gives_identical_json_and_report_content() {
    let dir = tempfile::tempdir().unwrap();
    write_snapshot(&hostile_org(), dir.path());
    let render = || {
        let evidence = load_latest(dir.path(), Records::ForControls);
        // The evaluation time comes from the snapshot, not the clock.
        let report = build_report(
            &evidence,
            None,
            &ControlSettings::default(),
            jiff::Timestamp::now(),
        );
        (
            render_json(&report),
            render_html(&report),
            render_markdown(&report),
        )
    };
    let first = render();
    let second = render();
    assert_eq!(first, second);
    assert!(first.0.contains("\"status\": \"fail\""));
}

#[test]
fn loader_reads_the_stored_layout_and_names_the_manifest_digest() {
    let dir = tempfile::tempdir().unwrap();
    let mut org = passing_org();
    org.di_not_licensed = true;
    let snapshot = write_snapshot(&org, dir.path());
    let evidence = load_latest(dir.path(), Records::All);
    assert_eq!(
        evidence.meta.manifest_sha256.as_deref(),
        Some(snapshot.sha256.as_str())
    );
    assert_eq!(evidence.meta.sequence, Some(0));
    assert_eq!(
        evidence.meta.snapshot_id.as_deref(),
        Some(snapshot.id.as_str())
    );
    assert_eq!(evidence.meta.connection.as_deref(), Some("test/acme"));
    assert_eq!(evidence.meta.org_name, "Acme Corp");
    assert_eq!(
        evidence.state("directory_insights_events"),
        KindState::NotLicensed
    );
    assert_eq!(evidence.state("nonexistent"), KindState::Missing);
    let statuses = evidence.children("policy_statuses").unwrap();
    assert_eq!(statuses[0].0, "p-lock-mac");
    assert_eq!(statuses[0].1["systemID"], "d-mac");
    let devices = &evidence.kinds["devices"];
    assert!(devices.sha256.as_ref().is_some_and(|s| s.len() == 64));
    // Same results from the store as from memory, and from the trimmed load evaluations use.
    let settings = ControlSettings::default();
    assert_eq!(
        evaluate_all(&evidence, &settings, now()),
        evaluate_all(&org.build(), &settings, now())
    );
    let trimmed = load_latest(dir.path(), Records::ForControls);
    assert_eq!(
        evaluate_all(&trimmed, &settings, now()),
        evaluate_all(&evidence, &settings, now())
    );
    assert_eq!(trimmed.counts(), evidence.counts());
    // Evaluations hold the fields the controls read, and policy results only reduced.
    assert!(
        trimmed.kinds["devices"].records[0]
            .get("serialNumber")
            .is_none()
    );
    assert!(
        evidence.kinds["devices"].records[0]
            .get("serialNumber")
            .is_some()
    );
    let statuses = &trimmed.kinds["policy_statuses"];
    assert!(statuses.records.is_empty() && statuses.aggregate.is_some());
    assert!(
        trimmed.records("policy_statuses").is_err(),
        "reading the records a load did not keep fails, never reads as none"
    );
}

#[test]
fn changes_since_previous_snapshot_show_count_deltas_and_status_changes() {
    let previous = Baseline::evaluate(&passing_org().build(), &ControlSettings::default());
    let mut org = passing_org();
    org.kind("devices").pop();
    org.record("devices", "d-mac")["fde"]["active"] = json!(false);
    let report = build_report(
        &org.build(),
        Some(&previous),
        &ControlSettings::default(),
        now(),
    );
    let changes = report.changes.as_ref().unwrap();
    let devices = changes.kinds.iter().find(|k| k.kind == "devices").unwrap();
    assert_eq!((devices.previous, devices.current), (Some(3), Some(2)));
    assert_eq!(devices.counts_text(), "3 -> 2 (-1)");
    // Only kinds that changed are listed: no rows of `+0`.
    assert!(
        changes
            .kinds
            .iter()
            .all(|k| k.previous != k.current || k.records.is_some()),
        "{:?}",
        changes.kinds
    );
    assert!(changes.unchanged_kinds > 0);
    let e1 = changes
        .controls
        .iter()
        .find(|c| c.id == "JC-E1-DISK-ENCRYPTION")
        .unwrap();
    assert_eq!(
        (e1.previous, e1.current),
        (ControlStatus::Pass, ControlStatus::Fail)
    );
    let html = render_html(&report);
    assert!(html.contains("Changes since the previous snapshot"));
    assert!(html.contains("3 -&gt; 2 (-1)"));
    assert!(!html.contains("(+0)"));
    let markdown = render_markdown(&report);
    assert!(
        markdown.contains("| devices | 3 -\\> 2 (-1) |"),
        "{markdown}"
    );
    assert!(!markdown.contains("+0"));
}

#[test]
fn a_kind_no_longer_collected_is_not_a_count() {
    let mut before = passing_org();
    before
        .kind("directory_insights_events")
        .push(json!({"id": "e1"}));
    let previous = Baseline::evaluate(&before.build(), &ControlSettings::default());
    let mut org = passing_org();
    org.kind("directory_insights_events")
        .push(json!({"id": "e1"}));
    org.di_not_licensed = true;
    let report = build_report(
        &org.build(),
        Some(&previous),
        &ControlSettings::default(),
        now(),
    );
    let changes = report.changes.as_ref().unwrap();
    let events = changes
        .kinds
        .iter()
        .find(|k| k.kind == "directory_insights_events")
        .expect("listed: it stopped being collected");
    assert_eq!(events.current, None);
    assert!(events.counts_text().ends_with("-> not collected"));
    let markdown = render_markdown(&report);
    assert!(markdown.contains("not collected"), "{markdown}");
    assert!(!markdown.contains("1 -\\> 1 (+0)"));
}

#[test]
fn summary_table_lists_every_control() {
    let results = evaluate_all(&hostile_org().build(), &ControlSettings::default(), now());
    let table = summary_table(&results);
    assert_eq!(table.lines().count(), results.len() + 2);
    let e1 = table
        .lines()
        .find(|l| l.starts_with("JC-E1-DISK-ENCRYPTION "))
        .unwrap();
    assert!(e1.contains(" FAIL "), "{e1}");
    assert!(table.ends_with(&format!(
        "{} passing, 1 failing, 0 not applicable, 0 error\n",
        results.len() - 1
    )));
}

#[test]
fn settings_schema_is_camel_case_and_yaml_settings_are_honoured_by_the_cli() {
    let schema = serde_json::to_value(schemars::schema_for!(ControlSettings)).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for key in [
        "staleDeviceDays",
        "screenLockMinutes",
        "passwordMinLength",
        "osBaselines",
        "antivirusAllowList",
        "dormantAccountDays",
        "mfaExclusions",
        "excludedDeviceGroupIds",
        "disabledControls",
    ] {
        assert!(
            properties.contains_key(key),
            "{key} missing from the schema"
        );
    }
    assert_eq!(
        serde_json::to_string(&ControlSettings::default()).unwrap(),
        "{}"
    );

    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snap");
    write_snapshot(&hostile_org(), &snapshot);
    let settings = dir.path().join("controls.yaml");
    std::fs::write(
        &settings,
        "disabledControls: [JC-E1-DISK-ENCRYPTION]\nscreenLockMinutes: 5\n",
    )
    .unwrap();
    // Through the library entry point: the shared target directory's binary may belong to
    // another branch while tests run.
    let cli = |args: Vec<&std::ffi::OsStr>| {
        let mut argv = vec![
            std::ffi::OsStr::new("jumpcloud-operator"),
            std::ffi::OsStr::new("report"),
        ];
        argv.extend(args);
        format!("{:?}", Cli::try_parse_from(argv).unwrap().run())
    };
    let ok = format!("{:?}", std::process::ExitCode::SUCCESS);
    let json_out = dir.path().join("report.json");
    let code = cli(vec![
        "--format".as_ref(),
        "json".as_ref(),
        "--store".as_ref(),
        snapshot.as_os_str(),
        "--settings".as_ref(),
        settings.as_os_str(),
        "--out".as_ref(),
        json_out.as_os_str(),
    ]);
    assert_eq!(code, ok);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_out).unwrap()).unwrap();
    let e1 = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "JC-E1-DISK-ENCRYPTION")
        .unwrap();
    assert_eq!(e1["status"], "not-applicable");
    let e2 = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "JC-E2-SCREEN-LOCK")
        .unwrap();
    assert_eq!(e2["status"], "fail");
    // Each applied threshold says where it came from.
    assert_eq!(
        json["settingsSources"]["screenLockMinutes"],
        "settings-file"
    );
    assert_eq!(json["settingsSources"]["staleDeviceDays"], "default");
    let md_out = dir.path().join("report.md");
    let code = cli(vec![
        "--format".as_ref(),
        "markdown".as_ref(),
        "--store".as_ref(),
        snapshot.as_os_str(),
        "--settings".as_ref(),
        settings.as_os_str(),
        "--out".as_ref(),
        md_out.as_os_str(),
    ]);
    assert_eq!(code, ok);
    let markdown = std::fs::read_to_string(&md_out).unwrap();
    assert!(
        markdown.contains("- Threshold screenLockMinutes: 5 (settings-file)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- Threshold staleDeviceDays: 30 (default)"),
        "{markdown}"
    );

    let csv_dir = dir.path().join("csv");
    let code = cli(vec![
        "--format".as_ref(),
        "csv".as_ref(),
        "--store".as_ref(),
        snapshot.as_os_str(),
        "--out".as_ref(),
        csv_dir.as_os_str(),
    ]);
    assert_eq!(code, ok);
    let summary = std::fs::read_to_string(csv_dir.join("summary.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(summary.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id_at, time_at) = (column("snapshotId"), column("snapshotTime"));
    let row = reader.records().next().unwrap().unwrap();
    assert!(!row[id_at].is_empty(), "{summary}");
    // Second precision, UTC.
    assert_eq!(
        row[time_at].len(),
        "2026-12-01T00:00:00Z".len(),
        "{summary}"
    );
    assert!(row[time_at].ends_with('Z'));
    assert!(csv_dir.join("JC-I1-USER-MFA.csv").exists());

    // csv without --out, and invalid settings, fail.
    let code = cli(vec![
        "--format".as_ref(),
        "csv".as_ref(),
        "--store".as_ref(),
        snapshot.as_os_str(),
    ]);
    assert_ne!(code, ok);
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "screenLockMinutes: many\n").unwrap();
    let code = cli(vec![
        "--store".as_ref(),
        snapshot.as_os_str(),
        "--settings".as_ref(),
        bad.as_os_str(),
    ]);
    assert_ne!(code, ok);
}

#[test]
fn stored_reports_compare_with_the_previous_snapshot_in_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_snapshot(&passing_org(), dir.path());
    let mut org = passing_org();
    org.kind("devices").pop();
    org.record("devices", "d-mac")["fde"]["active"] = json!(false);
    let second = write_snapshot(&org, dir.path());
    let store = store_at(dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime
        .block_on(jumpcloud_operator::report::stored_report(
            &store, &second, None,
        ))
        .unwrap();
    let changes = report.changes.as_ref().expect("compared with the first");
    assert_eq!(changes.chained, Some(true));
    assert_eq!(
        changes.previous.manifest_sha256.as_deref(),
        Some(first.sha256.as_str())
    );
    let devices = changes.kinds.iter().find(|k| k.kind == "devices").unwrap();
    assert_eq!(devices.counts_text(), "3 -> 2 (-1)");
    // Who and what, from the store's record diff: names before ids.
    let records = devices.records.as_ref().expect("the store's diff was read");
    assert_eq!(records.removed, ["alice-ubuntu (d-lin)"]);
    assert!(
        records
            .changed
            .iter()
            .any(|c| c.starts_with("Alice-MacBook (d-mac): ")
                && c.contains("fde.active true -> false")),
        "{records:?}"
    );
    assert_eq!(report.signed, Some(false));
    // The device owner, read from the stored devices and users though the results were stored.
    let owners = report
        .device_owners
        .as_ref()
        .expect("device records were read");
    assert!(owners["d-mac"].ends_with("(u1)"), "{owners:?}");
    let markdown = render_markdown(&report);
    assert!(
        markdown.contains("| Name | Resource id | Owner | Why |"),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!("| Alice-MacBook | d-mac | {} |", owners["d-mac"])),
        "{markdown}"
    );
    // The device owner, read from the stored devices and users though the results were stored.
    let owners = report
        .device_owners
        .as_ref()
        .expect("device records were read");
    assert!(owners["d-mac"].ends_with("(u1)"), "{owners:?}");
    let markdown = render_markdown(&report);
    assert!(
        markdown.contains("| Name | Resource id | Owner | Why |"),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!(
            "| Alice\\-MacBook | d\\-mac | {} |",
            owners["d-mac"]
        )) || markdown.contains(&format!("| Alice-MacBook | d-mac | {} |", owners["d-mac"])),
        "{markdown}"
    );
    // The first snapshot was committed without results: said, not counted as a pass.
    let trend = report.trend.as_ref().unwrap();
    assert_eq!(trend.without_results, [first.id.to_string()]);
    assert_eq!(trend.points.len(), 1);
    assert!(trend.note().is_some());
    assert!(
        changes
            .controls
            .iter()
            .any(|c| c.id == "JC-E1-DISK-ENCRYPTION" && c.current == ControlStatus::Fail)
    );
    let position = jumpcloud_operator::report::chain_position(&report.snapshot);
    assert!(
        position.starts_with("snapshot #2 of connection test/acme"),
        "{position}"
    );
    assert!(position.contains(&first.sha256), "{position}");
    let html = render_html(&report);
    assert!(html.contains(second.id.as_str()) && html.contains("snapshot #2"));
    assert!(html.contains("alice-ubuntu (d-lin)"));
    assert!(html.contains("no: the snapshot carries no signature"));
    assert!(html.contains("have no stored control results and are not counted"));
    assert!(html.contains("id=\"trend-note\"") && !html.contains("<svg id=\"trend-chart\""));

    // Retention removed the first snapshot: still a report, without changes.
    std::fs::remove_file(dir.path().join(format!(
        "test/acme/snapshots/{:020}.json",
        first.manifest.sequence
    )))
    .unwrap();
    let report = runtime
        .block_on(jumpcloud_operator::report::stored_report(
            &store, &second, None,
        ))
        .unwrap();
    assert!(report.changes.is_none());
}

#[test]
fn not_evaluated_resources_are_named_with_the_reason_in_every_format() {
    let mut org = passing_org();
    org.record("devices", "d-win")["osFamily"] = json!("plan9");
    org.record("devices", "d-win")["os"] = json!("Plan 9");
    let report = build_report(&org.build(), None, &ControlSettings::default(), now());
    let reason =
        "not evaluated (OS family not recognised: osFamily=plan9, os=Plan 9): ALICE-WIN (d-win)";
    for (format, text) in [
        ("html", render_html(&report)),
        ("markdown", render_markdown(&report)),
    ] {
        assert!(text.contains(reason), "{format} lacks: {reason}");
    }
    let json = render_json(&report);
    assert!(json.contains(reason), "json lacks: {reason}");
}

#[test]
fn a_blob_changed_after_the_commit_fails_the_load_though_it_still_parses() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = write_snapshot(&passing_org(), dir.path());
    let digest = snapshot.kind("devices").unwrap().blobs[0].sha256.clone();
    let path = dir
        .path()
        .join(format!("test/acme/blobs/sha256/{digest}.zst"));
    assert!(
        path.is_file(),
        "the devices blob is stored under its digest"
    );
    // Still NDJSON with the same records, well compressed: only a name changed, which parsing
    // and decompressing alone accept.
    let text =
        String::from_utf8(zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap()).unwrap();
    let changed = text.replacen("\"displayName\":\"", "\"displayName\":\"X", 1);
    assert_ne!(text, changed);
    std::fs::write(&path, zstd::encode_all(changed.as_bytes(), 3).unwrap()).unwrap();
    let store = store_at(dir.path());
    for records in [Records::ForControls, Records::All] {
        let error = runtime()
            .block_on(jumpcloud_operator::store::load_evidence(
                &store, &snapshot, records,
            ))
            .unwrap_err();
        assert!(
            matches!(&error, jumpcloud_operator::store::StoreError::CorruptBlob { path } if path.contains(&digest)),
            "{records:?}: {error}"
        );
    }
}

#[test]
fn the_trend_reads_the_results_stored_with_every_snapshot_of_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    write_evaluated_snapshot(&passing_org(), dir.path());
    let mut failing = passing_org();
    failing.record("devices", "d-mac")["fde"]["active"] = json!(false);
    let bad = write_evaluated_snapshot(&failing, dir.path());
    // A snapshot committed without results sits in the period: said, not counted, and its
    // failing evidence not re-evaluated into a point.
    write_snapshot(&failing, dir.path());
    let last = write_evaluated_snapshot(&passing_org(), dir.path());
    let store = store_at(dir.path());
    let report = runtime()
        .block_on(jumpcloud_operator::report::stored_report(
            &store, &last, None,
        ))
        .unwrap();
    let trend = report.trend.as_ref().unwrap();
    assert_eq!(trend.points.len(), 3);
    assert_eq!(trend.without_results.len(), 1);
    let failing_counts: Vec<u64> = trend.points.iter().map(|p| p.failing).collect();
    assert_eq!(failing_counts[0], failing_counts[2]);
    assert_eq!(failing_counts[1], failing_counts[0] + 1);
    assert_eq!(trend.points[1].snapshot_id, bad.id.to_string());
    let e1 = trend
        .controls
        .iter()
        .find(|c| c.id == "JC-E1-DISK-ENCRYPTION")
        .unwrap();
    assert_eq!((e1.passed, e1.failed, e1.snapshots), (2, 1, 3));
    assert_eq!(e1.passed_percent(), "66.7%");

    let html = render_html(&report);
    assert!(html.contains("<svg id=\"trend-chart\""), "no chart");
    assert!(
        html.contains("<title id=\"trend-chart-title\">Failing controls per snapshot, 3 snapshots")
    );
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(html.contains("1 snapshots of the period have no stored control results"));
    let markdown = render_markdown(&report);
    assert!(markdown.contains("## Over the audit period"), "{markdown}");
    assert!(
        markdown.contains("| JC-E1-DISK-ENCRYPTION | 2 of 3 | 66.7% | 1 |"),
        "{markdown}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    assert_eq!(json["trend"]["points"].as_array().unwrap().len(), 3);
    assert_eq!(render_html(&report), render_html(&report));
}

#[test]
fn the_framework_view_lists_each_criterion_with_its_controls_in_every_format() {
    let mut org = passing_org();
    org.record("devices", "d-mac")["fde"]["active"] = json!(false);
    let report = build_report(&org.build(), None, &ControlSettings::default(), now());
    let cc61 = report
        .frameworks
        .soc2
        .iter()
        .find(|c| c.reference == "CC6.1")
        .unwrap();
    assert_eq!(cc61.status, ControlStatus::Fail);
    assert!(
        cc61.controls
            .iter()
            .any(|c| c.id == "JC-E1-DISK-ENCRYPTION")
    );
    let a824 = report
        .frameworks
        .iso27001
        .iter()
        .find(|c| c.reference == "A.8.24")
        .unwrap();
    assert!(
        a824.controls
            .iter()
            .any(|c| c.id == "JC-E1-DISK-ENCRYPTION")
    );
    let html = render_html(&report);
    assert!(html.contains("id=\"frameworks\""));
    assert!(html.contains("<td class=\"nowrap\">CC6.6</td>"));
    let markdown = render_markdown(&report);
    assert!(markdown.contains("### SOC 2 Trust Services Criteria"));
    assert!(markdown.contains("| CC6.1 | FAIL |"), "{markdown}");
    assert!(markdown.contains("| A.8.24 | FAIL |"), "{markdown}");
    let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    assert!(json["frameworks"]["iso27001"].as_array().unwrap().len() > 5);
}
