//! The evidence store as the target of a collection ([`StoreSink`]), driven directly through
//! the `SnapshotSink` / `KindSink` traits the collector uses, without any HTTP: incremental
//! Directory Insights history, its coverage (`events_since`), unlicensed periods, the
//! one-organization-per-connection guard, stored control results, signatures and blob sharing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jumpcloud_operator::collect::{
    BeforeCommit, COLLECTION_FORMAT, CollectError, CommitAsCollected, EVENTS_RETENTION_DAYS,
    EvaluateControls, EventsWindow, KindEntry, KindSink, KindStatus, Manifest, ManifestOrg,
    SnapshotSink, events_window,
};
use jumpcloud_operator::controls::{ControlSettings, ControlStatus, evaluate_all};
use jumpcloud_operator::region::Region;
use jumpcloud_operator::store::verify::{ProblemKind, verify_connection};
use jumpcloud_operator::store::{
    CommittedSnapshot, ConnectionStore, EvidenceStore, Records, SigningKey, Snapshot,
    StagedSnapshot, StoreSink, load_controls, load_evidence, snapshot_meta,
};
use serde_json::json;

const ORG_ID: &str = "5f3c8a1e9b2d4c0012ab34cd";
const OTHER_ORG_ID: &str = "60a1b2c3d4e5f60718293a4b";
const EVENTS: &str = "directory_insights_events";
const CONNECTION: &str = "test/acme";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn store_in(dir: &Path) -> ConnectionStore {
    EvidenceStore::open(dir.to_str().unwrap())
        .unwrap()
        .connection(&CONNECTION.parse().unwrap())
}

async fn sink(dir: &Path) -> StoreSink {
    StoreSink::open(store_in(dir)).await.unwrap()
}

/// One Directory Insights event as JumpCloud returns it.
fn event(id: &str, timestamp: &str, user_id: &str, username: &str) -> String {
    json!({
        "id": id,
        "timestamp": timestamp,
        "event_type": "user_login_attempt",
        "service": "sso",
        "success": true,
        "client_ip": "203.0.113.24",
        "organization": ORG_ID,
        "initiated_by": {"id": user_id, "type": "user", "username": username},
        "username": username,
        "useragent": {"name": "Firefox", "os": "Mac OS X", "major": "132"},
        "auth_method": "password",
        "mfa": true,
        "geoip": {"country_code": "DE", "timezone": "Europe/Berlin"},
    })
    .to_string()
}

/// Every event that ever happened in the org: the record, its time, and since when JumpCloud
/// returns it (events are ingested a little after they happen). JumpCloud answers a window
/// with the events whose time lies in it, the start included.
fn all_events() -> Vec<(String, Timestamp, Timestamp)> {
    [
        ("ev-0001", "2026-10-30T09:15:00Z", "u-alice", "alice", None),
        // Two events at the same instant: the position keeps both ids.
        ("ev-0002", "2026-11-01T10:00:00Z", "u-bob", "bob", None),
        ("ev-0003", "2026-11-01T10:00:00Z", "u-alice", "alice", None),
        // At the same instant too, but ingested only after the first collection started.
        (
            "ev-0004",
            "2026-11-01T10:00:00Z",
            "u-carol",
            "carol",
            Some("2026-11-01T12:30:00Z"),
        ),
        ("ev-0005", "2026-11-02T08:30:00.417Z", "u-bob", "bob", None),
        ("ev-0006", "2027-01-15T07:45:12Z", "u-alice", "alice", None),
        (
            "ev-0007",
            "2027-02-27T16:02:41.5Z",
            "u-carol",
            "carol",
            None,
        ),
    ]
    .into_iter()
    .map(|(id, time, user, name, ingested)| {
        let ingested = ingested.map_or(at(time) + jiff::SignedDuration::from_secs(60), at);
        (event(id, time, user, name), at(time), ingested)
    })
    .collect()
}

/// What JumpCloud returns for a window, optionally as if nothing was ingested after `until`.
fn events_in(window: &EventsWindow, until: Option<Timestamp>) -> Vec<String> {
    all_events()
        .into_iter()
        .filter(|(_, time, ingested)| {
            *time >= window.start && *time <= window.end && *ingested <= window.end
        })
        .filter(|(_, _, ingested)| until.is_none_or(|until| *ingested <= until))
        .map(|(json, _, _)| json)
        .collect()
}

fn organization(id: &str) -> String {
    json!({
        "_id": id,
        "displayName": "Acme Corp",
        "settings": {
            "features": {"directoryInsights": {"enabled": true}},
            "passwordPolicy": {
                "enableMinLength": true, "minLength": 14,
                "needsLowercase": true, "needsUppercase": true,
                "needsNumeric": true, "needsSymbolic": true,
                "enablePasswordExpirationInDays": true, "passwordExpirationInDays": 90,
                "enableMaxHistory": true, "maxHistory": 5,
                "enableLockoutTimeInSeconds": true, "lockoutTimeInSeconds": 300,
                "enableMaxLoginAttempts": true, "maxLoginAttempts": 6
            }
        }
    })
    .to_string()
}

fn users() -> Vec<String> {
    [
        ("u-alice", "alice", "2025-01-10T09:00:00Z", true),
        ("u-bob", "bob", "2025-03-02T14:30:00Z", true),
        ("u-carol", "carol", "2025-06-20T08:00:00Z", false),
        ("u-dave", "dave", "2024-11-05T11:00:00Z", false),
    ]
    .into_iter()
    .map(|(id, name, created, totp)| {
        json!({
            "_id": id,
            "username": name,
            "email": format!("{name}@acme.example"),
            "firstname": name,
            "created": created,
            "state": "ACTIVATED",
            "activated": true,
            "suspended": false,
            "account_locked": false,
            "totp_enabled": totp,
            "mfa": {"configured": totp, "exclusion": false},
            "mfaEnrollment": {"overallStatus": if totp { "ENROLLED" } else { "NOT_ENROLLED" }},
        })
        .to_string()
    })
    .collect()
}

fn devices() -> Vec<String> {
    [
        ("d-mbp-alice", "mbp-alice", true, "2026-10-31T08:00:00Z"),
        ("d-win-bob", "win-bob", false, "2026-10-29T17:20:00Z"),
    ]
    .into_iter()
    .map(|(id, host, fde, contact)| {
        json!({
            "_id": id,
            "hostname": host,
            "displayName": host,
            "os": if fde { "Mac OS X" } else { "Windows" },
            "version": if fde { "15.1" } else { "10.0.22631" },
            "fde": {"active": fde, "keyPresent": fde},
            "lastContact": contact,
            "active": true,
        })
        .to_string()
    })
    .collect()
}

/// The Directory Insights events of one collection.
enum Events {
    /// Licensed: the events JumpCloud returns for the window.
    Returned(Vec<String>),
    NotLicensed,
}

/// What one collection reads from the org (besides the events, which depend on the window).
struct Org {
    id: &'static str,
}

impl Org {
    fn acme() -> Self {
        Org { id: ORG_ID }
    }

    fn kinds(&self) -> Vec<(&'static str, Vec<String>)> {
        vec![
            ("devices", devices()),
            ("organization", vec![organization(self.id)]),
            ("users", users()),
        ]
    }
}

/// One driven collection.
struct Collected {
    /// What `begin` answered: where the stored events end.
    resumed_from: Option<Timestamp>,
    manifest: Manifest,
    committed: CommittedSnapshot,
}

impl Collected {
    fn snapshot(&self) -> &Snapshot {
        &self.committed.snapshot
    }
}

fn entry(
    kind: &str,
    written: jumpcloud_operator::collect::WrittenFile,
    status: KindStatus,
) -> KindEntry {
    KindEntry {
        kind: kind.to_owned(),
        file: written.file,
        records: written.records,
        total_reported: Some(written.records),
        sha256: written.sha256,
        bytes: written.bytes,
        endpoints: vec![format!("/api/{kind}")],
        status,
        parent_field: None,
        reason: None,
    }
}

/// Drives `sink` the way the collector does: begin, each kind streamed, the manifest committed
/// last. `events` picks the Directory Insights answer from the window the collection asks for.
async fn collect(
    sink: StoreSink,
    org: &Org,
    started_at: &str,
    events: impl FnOnce(&EventsWindow) -> Events,
) -> Result<Collected, CollectError> {
    collect_with(sink, &CommitAsCollected, org, started_at, events).await
}

/// [`collect`], evaluating the controls with `settings` before the commit as the collector does.
async fn collect_evaluated(
    sink: StoreSink,
    settings: ControlSettings,
    org: &Org,
    started_at: &str,
    events: impl FnOnce(&EventsWindow) -> Events,
) -> Result<Collected, CollectError> {
    collect_with(
        sink,
        &EvaluateControls::new(
            settings,
            jumpcloud_operator::controls::SettingsSource::SettingsFile,
        ),
        org,
        started_at,
        events,
    )
    .await
}

async fn collect_with(
    mut sink: StoreSink,
    before_commit: &impl BeforeCommit<StagedSnapshot>,
    org: &Org,
    started_at: &str,
    events: impl FnOnce(&EventsWindow) -> Events,
) -> Result<Collected, CollectError> {
    let started_at = at(started_at);
    let manifest_org = ManifestOrg {
        id: org.id.to_owned(),
        name: "Acme Corp".to_owned(),
    };
    let resumed_from = sink.begin(&manifest_org)?;
    let window = events_window(started_at, EVENTS_RETENTION_DAYS, resumed_from);
    let mut kinds = Vec::new();
    for (kind, records) in org.kinds() {
        let mut writer = sink.open_kind(kind).await?;
        for record in &records {
            writer.write_record(record.as_bytes()).await?;
        }
        kinds.push(entry(kind, writer.finish().await?, KindStatus::Complete));
    }
    let mut writer = sink.open_kind(EVENTS).await?;
    let status = match events(&window) {
        Events::Returned(records) => {
            for record in &records {
                writer.write_record(record.as_bytes()).await?;
            }
            KindStatus::Complete
        }
        Events::NotLicensed => KindStatus::NotLicensed,
    };
    let mut events_entry = entry(EVENTS, writer.finish().await?, status);
    events_entry.endpoints = vec!["/insights/directory/v1/events".to_owned()];
    kinds.push(events_entry);
    kinds.sort_by(|a, b| a.kind.cmp(&b.kind));
    let manifest = Manifest {
        format: COLLECTION_FORMAT,
        collector_version: "0.0.0-test".to_owned(),
        org: manifest_org,
        region: Region::Us,
        key_fingerprint: "sha256:0f1e2d3c4b5a6978".to_owned(),
        administrator_role: Some("Administrator With Billing".to_owned()),
        administrator_key_expires_at: None,
        started_at,
        finished_at: started_at + jiff::SignedDuration::from_secs(95),
        events_window: window,
        histories: Default::default(),
        kinds,
    };
    let mut staged = sink.stage(&manifest)?;
    before_commit.before_commit(&mut staged).await?;
    let committed = sink.commit(staged).await?;
    Ok(Collected {
        resumed_from,
        manifest,
        committed,
    })
}

/// The events JumpCloud returns for the window.
fn returned(window: &EventsWindow) -> Events {
    Events::Returned(events_in(window, None))
}

/// The events JumpCloud returns for the window, as if nothing was ingested after `until`.
fn returned_until(until: &str) -> impl FnOnce(&EventsWindow) -> Events {
    let until = at(until);
    move |window| Events::Returned(events_in(window, Some(until)))
}

fn event_ids(snapshot_events: &[jumpcloud_operator::controls::Record]) -> Vec<String> {
    snapshot_events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn stored_event_ids(dir: &Path, snapshot: &Snapshot) -> Vec<String> {
    let evidence = load_evidence(&store_in(dir), snapshot, Records::All)
        .await
        .unwrap();
    event_ids(&evidence.kinds[EVENTS].records)
}

/// Every file under the connection's part of the store, relative to the store root.
fn files(dir: &Path, under: &str) -> BTreeSet<String> {
    fn walk(root: &Path, path: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, &dir.join(CONNECTION).join(under), &mut out);
    out
}

fn blob_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(CONNECTION)
        .join("blobs/sha256")
        .join(format!("{sha256}.zst"))
}

async fn assert_verifies(dir: &Path) {
    let report = verify_connection(&store_in(dir), None).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert!(
        report.notes.is_empty(),
        "normal syncs leave nothing to note: {:?}",
        report.notes
    );
}

#[tokio::test]
async fn first_collection_stores_the_window_as_one_segment_and_the_next_begins_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let first = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-01T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    assert_eq!(first.resumed_from, None);
    assert_eq!(
        first.manifest.events_window.start,
        at("2026-08-03T12:00:00Z")
    );

    let snapshot = first.snapshot();
    let events = snapshot.kind(EVENTS).unwrap();
    assert_eq!(events.status, "complete");
    assert_eq!(events.blobs.len(), 1);
    assert_eq!(events.records, 3);
    let written = first
        .manifest
        .kinds
        .iter()
        .find(|k| k.kind == EVENTS)
        .unwrap();
    assert_eq!(events.blobs[0].sha256, written.sha256);
    assert_eq!(events.blobs[0].bytes, written.bytes);
    assert_eq!(
        zstd::decode_all(&*std::fs::read(blob_path(dir.path(), &written.sha256)).unwrap()).unwrap(),
        events_in(&first.manifest.events_window, None)
            .iter()
            .flat_map(|line| format!("{line}\n").into_bytes())
            .collect::<Vec<u8>>(),
        "the segment holds the records as returned, one per line"
    );

    let position = snapshot.manifest.events.clone().unwrap();
    assert_eq!(position.last_timestamp, at("2026-11-01T10:00:00Z"));
    assert_eq!(
        position.ids_at_last,
        BTreeSet::from(["ev-0002".to_owned(), "ev-0003".to_owned()])
    );
    assert_eq!(
        snapshot.manifest.events_since,
        Some(first.manifest.events_window.start)
    );
    assert_eq!(
        snapshot_meta(snapshot).events_window_start,
        Some(first.manifest.events_window.start)
    );
    assert_eq!(snapshot.manifest.sequence, 0);
    assert!(first.committed.previous.is_none());

    // The next collection continues where the stored events end.
    let mut next = sink(dir.path()).await;
    assert_eq!(next.previous().unwrap().id, snapshot.id);
    let org = ManifestOrg {
        id: ORG_ID.to_owned(),
        name: "Acme Corp".to_owned(),
    };
    assert_eq!(next.begin(&org).unwrap(), Some(position.last_timestamp));
    assert_verifies(dir.path()).await;
}

#[tokio::test]
async fn overlapping_events_are_stored_once_as_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let first = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-01T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    let second = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-02T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    // JumpCloud returned the boundary events again: ev-0002 and ev-0003 (stored) and ev-0004
    // (new, at the same instant), then ev-0005.
    assert_eq!(second.resumed_from, Some(at("2026-11-01T10:00:00Z")));
    assert_eq!(
        event_ids(
            &events_in(&second.manifest.events_window, None)
                .iter()
                .map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap().into())
                .collect::<Vec<_>>()
        ),
        ["ev-0002", "ev-0003", "ev-0004", "ev-0005"]
    );
    let written = second
        .manifest
        .kinds
        .iter()
        .find(|k| k.kind == EVENTS)
        .unwrap();
    assert_eq!(written.records, 2, "only ev-0004 and ev-0005 are new");

    let before = first.snapshot().kind(EVENTS).unwrap();
    let after = second.snapshot().kind(EVENTS).unwrap();
    assert_eq!(after.blobs.len(), 2);
    assert_eq!(
        after.blobs[0], before.blobs[0],
        "the stored segment is kept as is"
    );
    assert_eq!(after.blobs[1].sha256, written.sha256);
    assert_eq!(after.records, 5);
    assert_eq!(after.bytes, before.bytes + written.bytes);

    assert_eq!(
        second.snapshot().manifest.events_since,
        first.snapshot().manifest.events_since,
        "the window started at the stored position: the history stays complete since the first window"
    );
    let position = second.snapshot().manifest.events.clone().unwrap();
    assert_eq!(position.last_timestamp, at("2026-11-02T08:30:00.417Z"));
    assert_eq!(position.ids_at_last, BTreeSet::from(["ev-0005".to_owned()]));

    assert_eq!(
        stored_event_ids(dir.path(), second.snapshot()).await,
        ["ev-0001", "ev-0002", "ev-0003", "ev-0004", "ev-0005"]
    );
    // The first snapshot still reads as it was.
    assert_eq!(
        stored_event_ids(dir.path(), first.snapshot()).await,
        ["ev-0001", "ev-0002", "ev-0003"]
    );
    assert_eq!(
        second.snapshot().manifest.previous.as_ref().unwrap().sha256,
        first.snapshot().sha256
    );
    assert_verifies(dir.path()).await;
}

#[tokio::test]
async fn a_gap_longer_than_the_retention_restarts_the_coverage_at_the_new_window() {
    let dir = tempfile::tempdir().unwrap();
    for started_at in ["2026-11-01T12:00:00Z", "2026-11-02T12:00:00Z"] {
        collect(sink(dir.path()).await, &Org::acme(), started_at, returned)
            .await
            .unwrap();
    }
    // The operator was down from November to March: JumpCloud no longer has what happened
    // between the stored position and 90 days ago.
    let after_gap = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2027-03-01T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    let window = &after_gap.manifest.events_window;
    assert_eq!(after_gap.resumed_from, Some(at("2026-11-02T08:30:00.417Z")));
    assert_eq!(window.start, at("2026-12-01T12:00:00Z"));
    let snapshot = after_gap.snapshot();
    assert_eq!(snapshot.manifest.events_since, Some(window.start));
    assert_eq!(
        snapshot_meta(snapshot).events_window_start,
        Some(window.start),
        "the controls see coverage only from the window after the gap"
    );
    // The history before the gap is still kept.
    assert_eq!(snapshot.kind(EVENTS).unwrap().blobs.len(), 3);
    assert_eq!(
        stored_event_ids(dir.path(), snapshot).await,
        [
            "ev-0001", "ev-0002", "ev-0003", "ev-0004", "ev-0005", "ev-0006", "ev-0007"
        ]
    );

    // Daily again: the coverage continues from the window after the gap.
    let next_day = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2027-03-02T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    assert_eq!(
        next_day.snapshot().manifest.events_since,
        Some(window.start)
    );
    assert_verifies(dir.path()).await;
}

#[tokio::test]
async fn a_quiet_org_collected_within_the_retention_has_no_gap() {
    // No event for more than JumpCloud's 90 days, yet the collections were never 90 days
    // apart: the window starts 90 days back (after the newest stored event) and still meets
    // the previous collection's window.
    let dir = tempfile::tempdir().unwrap();
    let quiet = "2026-11-02T12:00:00Z";
    let first = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2027-01-10T12:00:00Z",
        returned_until(quiet),
    )
    .await
    .unwrap();
    let since = first.snapshot().manifest.events_since;
    assert_eq!(since, Some(at("2026-10-12T12:00:00Z")));
    for started_at in [
        "2027-01-11T12:00:00Z",
        "2027-02-10T12:00:00Z",
        "2027-02-11T12:00:00Z",
    ] {
        let next = collect(
            sink(dir.path()).await,
            &Org::acme(),
            started_at,
            returned_until(quiet),
        )
        .await
        .unwrap();
        assert_eq!(
            next.snapshot().manifest.events_since,
            since,
            "{started_at}: window from {}, within the previous collection's window",
            next.manifest.events_window.start
        );
    }
    // So a dormancy threshold longer than JumpCloud keeps events can be evaluated.
    let settings = ControlSettings {
        dormant_account_days: Some(120),
        ..ControlSettings::default()
    };
    let evaluated = collect_evaluated(
        sink(dir.path()).await,
        settings,
        &Org::acme(),
        "2027-02-12T12:00:00Z",
        returned_until(quiet),
    )
    .await
    .unwrap();
    let position = evaluated.snapshot().manifest.events.clone().unwrap();
    assert!(evaluated.manifest.events_window.start > position.last_timestamp);
    let controls = evaluated.committed.controls.unwrap();
    let dormant = controls
        .results
        .iter()
        .find(|r| r.title == "No dormant accounts")
        .unwrap();
    assert_eq!(dormant.status, ControlStatus::Fail, "{dormant:?}");
    assert_eq!(
        dormant
            .failing
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>(),
        ["u-dave"]
    );
}

#[tokio::test]
async fn unlicensed_directory_insights_keeps_the_history_and_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let mut licensed = None;
    for started_at in ["2026-11-01T12:00:00Z", "2026-11-02T12:00:00Z"] {
        licensed = Some(
            collect(sink(dir.path()).await, &Org::acme(), started_at, returned)
                .await
                .unwrap(),
        );
    }
    let licensed = licensed.unwrap();
    let unlicensed = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-03T12:00:00Z",
        |_| Events::NotLicensed,
    )
    .await
    .unwrap();
    let snapshot = unlicensed.snapshot();
    let events = snapshot.kind(EVENTS).unwrap();
    assert_eq!(events.status, "not-licensed");
    assert_eq!(
        events.blobs,
        licensed.snapshot().kind(EVENTS).unwrap().blobs
    );
    assert_eq!(events.records, 5);
    // The stored history keeps its start (issue #11: it used to reset, and the dormant
    // check then reported "0 days" of events).
    assert_eq!(
        snapshot.manifest.events_since,
        licensed.snapshot().manifest.events_since
    );
    assert_eq!(
        snapshot.manifest.events,
        licensed.snapshot().manifest.events
    );

    let evidence = load_evidence(&store_in(dir.path()), snapshot, Records::All)
        .await
        .unwrap();
    assert_eq!(
        evidence.kinds[EVENTS].state,
        jumpcloud_operator::controls::KindState::NotLicensed
    );
    assert_verifies(dir.path()).await;

    // Licensed again: collection continues at the carried position, which is within
    // JumpCloud's retention, so the coverage continues from the stored history's start.
    let relicensed = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2027-01-20T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    assert_eq!(
        relicensed.resumed_from,
        Some(at("2026-11-02T08:30:00.417Z"))
    );
    let snapshot = relicensed.snapshot();
    assert_eq!(snapshot.kind(EVENTS).unwrap().status, "complete");
    assert_eq!(
        snapshot.manifest.events_since,
        licensed.snapshot().manifest.events_since
    );
    assert_eq!(
        stored_event_ids(dir.path(), snapshot).await,
        [
            "ev-0001", "ev-0002", "ev-0003", "ev-0004", "ev-0005", "ev-0006"
        ]
    );
    assert_verifies(dir.path()).await;
}

#[tokio::test]
async fn another_organization_on_the_same_connection_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let first = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-01T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    let before = files(dir.path(), "");

    let mut other = sink(dir.path()).await;
    let org = ManifestOrg {
        id: OTHER_ORG_ID.to_owned(),
        name: "Globex".to_owned(),
    };
    let error = other.begin(&org).unwrap_err();
    let CollectError::Target(message) = &error else {
        panic!("expected a target error, got {error:?}");
    };
    assert!(message.contains(ORG_ID), "{message}");
    assert!(message.contains(OTHER_ORG_ID), "{message}");
    assert!(message.contains(CONNECTION), "{message}");
    assert!(message.contains("another connection name"), "{message}");
    assert_eq!(error.reason(), "InvalidTarget");
    drop(other);

    // The same through a whole collection: it stops at begin.
    let refused = collect(
        sink(dir.path()).await,
        &Org { id: OTHER_ORG_ID },
        "2026-11-02T12:00:00Z",
        returned,
    )
    .await;
    assert!(matches!(refused, Err(CollectError::Target(_))));
    assert_eq!(files(dir.path(), ""), before, "nothing was written");
    let latest = store_in(dir.path()).latest().await.unwrap().unwrap();
    assert_eq!(latest.id, first.snapshot().id);
    assert_verifies(dir.path()).await;
}

#[tokio::test]
async fn evaluated_controls_are_stored_with_the_snapshot_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-01T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    let settings = ControlSettings::default();
    // Evaluated over a history of two segments.
    let collected = collect_evaluated(
        sink(dir.path()).await,
        settings.clone(),
        &Org::acme(),
        "2026-11-02T12:00:00Z",
        returned,
    )
    .await
    .unwrap();
    let store = store_in(dir.path());
    let snapshot = collected.snapshot();
    assert_eq!(snapshot.kind(EVENTS).unwrap().blobs.len(), 2);
    let blob = snapshot.manifest.controls.clone().expect("controls blob");
    assert!(blob_path(dir.path(), &blob.sha256).is_file());

    let stored = load_controls(&store, snapshot).await.unwrap().unwrap();
    assert_eq!(Some(&stored), collected.committed.controls.as_ref());
    assert_eq!(stored.settings, settings);
    // Nothing set: every threshold is a default, whatever the settings' origin.
    assert_eq!(stored.settings_sources.len(), 24);
    assert!(
        stored
            .settings_sources
            .values()
            .all(|s| *s == jumpcloud_operator::controls::SettingsSource::Default)
    );
    // Results stored before sources were recorded still read, with no sources.
    let mut older = serde_json::to_value(&stored).unwrap();
    older.as_object_mut().unwrap().remove("settingsSources");
    let older: jumpcloud_operator::store::StoredControls = serde_json::from_value(older).unwrap();
    assert!(older.settings_sources.is_empty());
    assert_eq!(older.results, stored.results);
    assert_eq!(stored.evaluated_at, collected.manifest.finished_at);
    for records in [Records::All, Records::ForControls] {
        let evidence = load_evidence(&store, snapshot, records).await.unwrap();
        assert_eq!(
            stored.results,
            evaluate_all(&evidence, &settings, collected.manifest.finished_at),
            "re-evaluated from {records:?}"
        );
    }
    // The dormant-account control read the whole stored history.
    let dormant = stored
        .results
        .iter()
        .find(|r| r.title == "No dormant accounts")
        .unwrap();
    assert_eq!(
        dormant
            .failing
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>(),
        ["u-dave"],
        "{dormant:?}"
    );

    let report = verify_connection(&store, None).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);

    // Overwrite the control results (same size, other content, compressed again).
    let path = blob_path(dir.path(), &blob.sha256);
    let mut bytes = zstd::decode_all(&*std::fs::read(&path).unwrap()).unwrap();
    let pass = b"\"pass\"";
    let at_pass = bytes
        .windows(pass.len())
        .position(|w| w == pass)
        .expect("some control passes");
    bytes[at_pass..at_pass + pass.len()].copy_from_slice(b"\"fail\"");
    std::fs::write(&path, zstd::encode_all(&*bytes, 3).unwrap()).unwrap();
    let report = verify_connection(&store, None).await.unwrap();
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.kind, p.path.clone()))
        .collect();
    assert_eq!(
        problems,
        [(
            ProblemKind::BlobCorrupt,
            format!("{CONNECTION}/blobs/sha256/{}.zst", blob.sha256)
        )]
    );
    assert!(load_controls(&store, snapshot).await.is_err());
}

#[tokio::test]
async fn signed_snapshots_verify_with_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_seed([7; 32]);
    let mut ids = Vec::new();
    for started_at in ["2026-11-01T12:00:00Z", "2026-11-02T12:00:00Z"] {
        let collected = collect(
            sink(dir.path()).await.signed_by(Some(key.clone())),
            &Org::acme(),
            started_at,
            returned,
        )
        .await
        .unwrap();
        let id = collected.snapshot().id.clone();
        assert!(
            dir.path()
                .join(CONNECTION)
                .join(format!("snapshots/{id}.json.sig"))
                .is_file()
        );
        ids.push(id);
    }
    let store = store_in(dir.path());
    let report = verify_connection(&store, Some(&key.verifying_key()))
        .await
        .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.signed, 2);

    let other = SigningKey::from_seed([8; 32]);
    let report = verify_connection(&store, Some(&other.verifying_key()))
        .await
        .unwrap();
    let invalid: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::SignatureInvalid)
        .collect();
    assert_eq!(invalid.len(), 2, "{:?}", report.problems);
}

#[tokio::test]
async fn an_unchanged_org_shares_every_blob_and_adds_only_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let until = "2026-11-01T12:00:00Z";
    let first = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-01T12:00:00Z",
        returned_until(until),
    )
    .await
    .unwrap();
    let blobs_first = files(dir.path(), "blobs");

    // Nothing happened: the window from the stored position returns only the boundary events.
    let second = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-02T12:00:00Z",
        returned_until(until),
    )
    .await
    .unwrap();
    let written = second
        .manifest
        .kinds
        .iter()
        .find(|k| k.kind == EVENTS)
        .unwrap();
    assert_eq!(written.records, 0);
    assert_eq!(written.bytes, 0);
    assert!(
        !blob_path(dir.path(), &written.sha256).exists(),
        "no empty segment is stored"
    );
    assert_eq!(second.snapshot().index.kinds, first.snapshot().index.kinds);
    assert_eq!(
        second.snapshot().manifest.events,
        first.snapshot().manifest.events
    );
    assert_eq!(
        second.snapshot().manifest.events_since,
        first.snapshot().manifest.events_since
    );
    // Every evidence blob is shared. The index may be new: it carries this collection's
    // per-kind details, and this one wrote no events where the first wrote three.
    let index = format!(
        "{CONNECTION}/blobs/sha256/{}.zst",
        second.snapshot().manifest.index.sha256
    );
    let added: BTreeSet<String> = files(dir.path(), "blobs")
        .difference(&blobs_first)
        .cloned()
        .collect();
    assert!(
        added.iter().all(|blob| *blob == index),
        "only the index may be new: {added:?}"
    );

    // And again: now the index is the same too; the snapshot costs one manifest.
    let blobs_second = files(dir.path(), "blobs");
    let snapshots_second = files(dir.path(), "snapshots");
    let third = collect(
        sink(dir.path()).await,
        &Org::acme(),
        "2026-11-03T12:00:00Z",
        returned_until(until),
    )
    .await
    .unwrap();
    assert_eq!(
        third.snapshot().manifest.index,
        second.snapshot().manifest.index
    );
    assert_eq!(files(dir.path(), "blobs"), blobs_second);
    let new_snapshot_files: Vec<String> = files(dir.path(), "snapshots")
        .difference(&snapshots_second)
        .cloned()
        .collect();
    assert_eq!(
        new_snapshot_files,
        [format!(
            "{CONNECTION}/snapshots/{:020}.json",
            third.snapshot().manifest.sequence
        )]
    );
    assert_eq!(
        stored_event_ids(dir.path(), third.snapshot()).await,
        ["ev-0001", "ev-0002", "ev-0003"]
    );
    assert_verifies(dir.path()).await;
}
