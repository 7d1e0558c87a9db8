//! End to end: the simulator's generated org, collected by the real client into a snapshot,
//! loaded and evaluated.

mod client_support;

use client_support::*;
use jumpcloud_operator::collect::{CollectOptions, EvaluateControls, NoProgress, collect_with};
use jumpcloud_operator::controls::{ControlSettings, ControlStatus, EvidenceSet, evaluate_all};
use jumpcloud_operator::report::{build_report, render_html, render_json, summary_table};
use jumpcloud_operator::store::{EvidenceStore, Records, StoreSink, load_evidence};
use jumpcloud_simulator::{OrgSize, Simulator};

/// Collects the simulator's org into a store in `dir` (30 days of events) and loads it back.
/// The results stored with the snapshot, evaluated phase by phase from projected records, must
/// equal an evaluation of the whole records.
async fn collected(sim: &Simulator, dir: &std::path::Path) -> EvidenceSet {
    let store = EvidenceStore::open(dir.to_str().unwrap())
        .unwrap()
        .connection(&"test/sim".parse().unwrap());
    let settings = ControlSettings {
        dormant_account_days: Some(20),
        ..Default::default()
    };
    let sink = StoreSink::open(store.clone()).await.unwrap();
    let evaluate = EvaluateControls::new(
        settings.clone(),
        jumpcloud_operator::controls::SettingsSource::SettingsFile,
    );
    let options = CollectOptions {
        events_days: 30,
        ..CollectOptions::default()
    };
    let report = collect_with(&client(sim), sink, &evaluate, &options, &NoProgress)
        .await
        .unwrap();
    let evidence = load_evidence(&store, &report.committed.snapshot, Records::All)
        .await
        .unwrap();
    let stored = report
        .committed
        .controls
        .expect("evaluated before the commit");
    assert_eq!(
        stored.results,
        evaluate_all(&evidence, &settings, stored.evaluated_at)
    );
    evidence
}

#[tokio::test]
async fn simulator_org_evaluates_end_to_end() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    let evidence = collected(&sim, dir.path()).await;
    let now = evidence.meta.finished_at.unwrap();
    let results = evaluate_all(&evidence, &ControlSettings::default(), now);
    println!("{}", summary_table(&results));

    for result in &results {
        if result.id == "JC-I5-DORMANT-ACCOUNTS" {
            // A 30-day collection window is shorter than the 90-day threshold.
            assert_eq!(result.status, ControlStatus::Error, "{result:#?}");
        } else {
            assert_ne!(result.status, ControlStatus::Error, "{result:#?}");
        }
    }
    let failing = results
        .iter()
        .filter(|r| r.status == ControlStatus::Fail)
        .count();
    assert!(
        failing >= 5,
        "the simulated org has unencrypted, stale and MFA-less resources"
    );

    // Stale devices, recomputed independently from the raw records.
    let mut stale: Vec<String> = evidence.kinds["devices"]
        .records
        .iter()
        .filter(|d| {
            d["lastContact"].as_str().is_none_or(|t| {
                let t: jiff::Timestamp = t.parse().unwrap();
                now.as_second() - t.as_second() > 31 * 86_400 - 1
            })
        })
        .map(|d| d["_id"].as_str().unwrap().to_owned())
        .collect();
    stale.sort();
    let e7 = results
        .iter()
        .find(|r| r.id == "JC-E7-STALE-DEVICES")
        .unwrap();
    let e7_ids: Vec<String> = e7.failing.iter().map(|f| f.id.clone()).collect();
    assert_eq!(e7_ids, stale);

    // MDM: the simulator's unenrolled macOS and Windows devices (vendor `none`) fail, and only
    // they; enrolled ones pass.
    let mut unenrolled: Vec<String> = evidence.kinds["devices"]
        .records
        .iter()
        .filter(|d| d["osFamily"] == "darwin" || d["osFamily"] == "windows")
        .filter(|d| d["mdm"]["vendor"] == "none")
        .map(|d| d["_id"].as_str().unwrap().to_owned())
        .collect();
    unenrolled.sort();
    let e10 = results
        .iter()
        .find(|r| r.id == "JC-E10-MDM-ENROLLMENT")
        .unwrap();
    let e10_ids: Vec<String> = e10.failing.iter().map(|f| f.id.clone()).collect();
    assert!(
        !unenrolled.is_empty(),
        "the simulated org has unenrolled devices"
    );
    assert_eq!(e10_ids, unenrolled);
    assert!(e10.evaluated > unenrolled.len() as u64, "{e10:#?}");

    // Leavers: exactly the suspended users that still have a binding row.
    let mut bound: Vec<String> = [
        "suspended_user_systems",
        "suspended_user_applications",
        "suspended_user_groups",
    ]
    .iter()
    .flat_map(|kind| evidence.children(kind).unwrap())
    .map(|(user, _)| user.to_owned())
    .collect();
    bound.sort();
    bound.dedup();
    let i6 = results
        .iter()
        .find(|r| r.id == "JC-I6-LEAVERS-NO-ACCESS")
        .unwrap();
    let i6_ids: Vec<String> = i6.failing.iter().map(|f| f.id.clone()).collect();
    assert_eq!(i6_ids, bound);

    // A shorter dormancy threshold that fits the window evaluates.
    let settings = ControlSettings {
        dormant_account_days: Some(20),
        ..Default::default()
    };
    let i5 = evaluate_all(&evidence, &settings, now)
        .into_iter()
        .find(|r| r.id == "JC-I5-DORMANT-ACCOUNTS")
        .unwrap();
    assert_ne!(i5.status, ControlStatus::Error, "{i5:#?}");
    assert!(i5.evaluated > 0);

    // Determinism: loading and evaluating the stored snapshot again gives the same bytes.
    let store = EvidenceStore::open(dir.path().to_str().unwrap())
        .unwrap()
        .connection(&"test/sim".parse().unwrap());
    let latest = store.latest().await.unwrap().unwrap();
    let again = load_evidence(&store, &latest, Records::ForControls)
        .await
        .unwrap();
    let a = build_report(
        &evidence,
        None,
        &ControlSettings::default(),
        jiff::Timestamp::now(),
    );
    let b = build_report(
        &again,
        None,
        &ControlSettings::default(),
        jiff::Timestamp::now(),
    );
    assert_eq!(render_json(&a), render_json(&b));
    assert_eq!(render_html(&a), render_html(&b));
    sim.shutdown().await;
}

#[tokio::test]
async fn unlicensed_directory_insights_makes_di_controls_errors() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim).set_directory_insights(false).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let evidence = collected(&sim, dir.path()).await;
    let settings = ControlSettings {
        dormant_account_days: Some(20),
        ..Default::default()
    };
    let results = evaluate_all(&evidence, &settings, evidence.meta.finished_at.unwrap());
    for id in ["JC-I5-DORMANT-ACCOUNTS", "JC-I10-AUDIT-LOGGING"] {
        let result = results.iter().find(|r| r.id == id).unwrap();
        assert_eq!(result.status, ControlStatus::Error, "{result:#?}");
        assert!(
            result.summary.contains("not licensed"),
            "{}",
            result.summary
        );
    }
    sim.shutdown().await;
}

/// Two collections a simulated day apart: the report's changes list only the kinds that
/// changed, name who and what changed among the users (as the simulator reports it changed
/// them), leave out the devices that only checked in, and the trend has both points.
#[tokio::test]
async fn a_day_later_the_report_says_who_changed_and_the_trend_has_both_snapshots() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    collected(&sim, dir.path()).await;
    let advanced = control(&sim).advance_days(1).await.unwrap();
    collected(&sim, dir.path()).await;
    let store = EvidenceStore::open(dir.path().to_str().unwrap())
        .unwrap()
        .connection(&"test/sim".parse().unwrap());
    let latest = store.latest().await.unwrap().unwrap();
    let report = jumpcloud_operator::report::stored_report(&store, &latest, None)
        .await
        .unwrap();
    let changes = report.changes.as_ref().unwrap();
    assert!(changes.unchanged_kinds > 0, "{changes:#?}");
    assert!(
        changes
            .kinds
            .iter()
            .all(|k| k.previous != k.current || k.records.is_some()),
        "an unchanged kind is listed: {changes:#?}"
    );
    let users = changes.kinds.iter().find(|k| k.kind == "users").unwrap();
    let records = users.records.as_ref().expect("the users' record diff");
    let day = &advanced.changes;
    assert_eq!(
        records.added_total as usize, day.users_added,
        "{records:#?}"
    );
    assert_eq!(
        records.changed_total as usize,
        day.users_suspended + day.users_mfa_changed + day.users_attributes_changed,
        "{records:#?}"
    );
    // Names before ids: `username (id)`.
    assert!(
        records
            .changed
            .iter()
            .all(|c| c.contains(" (") && c.contains("): ")),
        "{records:#?}"
    );
    // Every device checked in and nothing else changed: not a change an auditor reads.
    assert!(day.devices_checked_in > 0);
    assert!(
        changes.kinds.iter().all(|k| k.kind != "devices"),
        "check-ins listed as changes: {changes:#?}"
    );
    let trend = report.trend.as_ref().unwrap();
    assert_eq!(trend.points.len(), 2);
    assert!(trend.without_results.is_empty());
    assert!(render_html(&report).contains("<svg id=\"trend-chart\""));
}
