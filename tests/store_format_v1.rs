//! A store written by the version before compression (format v1: blobs stored as is at
//! `blobs/sha256/<digest>`), committed under tests/fixtures/store-v1: two snapshots of a tiny
//! simulated org collected by that version's `collect`. This version reads it, verifies it,
//! renders its report, appends compressed snapshots to its chain, and still catches tampering
//! with the old blobs; a manifest of a newer format is refused, naming the upgrade.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use jumpcloud_operator::store::verify::{ProblemKind, verify_connection};
use jumpcloud_operator::store::{
    ConnectionStore, EvidenceStore, KindDraft, SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_V1, SnapshotDraft,
};

const CONNECTION: &str = "fixture/old-format";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of the fixture (tests change it).
fn old_store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1"),
        &root,
    );
    (dir, root)
}

fn connection(root: &Path) -> ConnectionStore {
    EvidenceStore::open_existing(&format!("file://{}", root.display()))
        .unwrap()
        .connection(&CONNECTION.parse().unwrap())
}

fn blobs_dir(root: &Path) -> PathBuf {
    root.join(CONNECTION).join("blobs/sha256")
}

fn cli(root: &Path, args: &[&str]) -> std::process::Output {
    let url = format!("file://{}", root.display());
    Command::cargo_bin("jumpcloud-operator")
        .unwrap()
        .args(args)
        .args(["--store", &url, "--connection", CONNECTION])
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Appends a snapshot: the head's kinds, `users` changed (a new, compressed blob).
async fn append_changed_users(c: &ConnectionStore) -> jumpcloud_operator::store::Snapshot {
    let head = c.latest().await.unwrap().unwrap();
    let mut users = c.read_kind(head.kind("users").unwrap()).await.unwrap();
    users.extend_from_slice(b"{\"_id\":\"new-user\",\"username\":\"new\"}\n");
    let blob = c.put_blob(users.into()).await.unwrap();
    let kinds = head
        .index
        .kinds
        .iter()
        .map(|kind| KindDraft {
            kind: kind.kind.clone(),
            status: kind.status.clone(),
            blobs: if kind.kind == "users" {
                vec![blob.clone()]
            } else {
                kind.blobs.clone()
            },
        })
        .collect();
    let draft = SnapshotDraft {
        kinds,
        events: head.manifest.events.clone(),
        events_since: head.manifest.events_since,
        collection: head.manifest.collection.clone(),
        sources: head.index.sources.clone(),
        ..SnapshotDraft::default()
    };
    let now = head.manifest.created_at + jiff::SignedDuration::from_hours(24);
    c.commit_after(Some(&head), draft, None, now).await.unwrap()
}

#[tokio::test]
async fn an_old_store_loads_verifies_and_renders() {
    let (_dir, root) = old_store();
    let c = connection(&root);
    let head = c.latest().await.unwrap().unwrap();
    assert_eq!(head.manifest.format, SNAPSHOT_FORMAT_V1);
    assert_eq!(head.manifest.sequence, 1);
    assert_eq!(c.list_snapshots().await.unwrap().len(), 2);
    c.check_blobs(&head).await.unwrap();
    let users = c.read_kind(head.kind("users").unwrap()).await.unwrap();
    assert_eq!(users.iter().filter(|b| **b == b'\n').count(), 4);

    let report = verify_connection(&c, None).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.snapshots, 2);
    // Stored as is: the bytes stored are the bytes re-hashed.
    assert_eq!(report.stored_bytes, report.blob_bytes);

    let out = cli(&root, &["verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(&root, &["report", "--format", "markdown"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("(61cf9980d5b7932393000001)"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn a_new_snapshot_appended_to_an_old_chain_verifies_as_one_chain() {
    let (_dir, root) = old_store();
    let c = connection(&root);
    let old_head = c.latest().await.unwrap().unwrap();
    let appended = append_changed_users(&c).await;
    assert_eq!(appended.manifest.format, SNAPSHOT_FORMAT);
    assert_eq!(appended.manifest.sequence, 2);
    assert_eq!(
        appended.manifest.previous.as_ref().unwrap().sha256,
        old_head.sha256
    );
    // The unchanged kinds still reference the old blobs, stored as is; the new one is
    // compressed.
    let devices = &appended.kind("devices").unwrap().blobs[0].sha256;
    assert!(blobs_dir(&root).join(devices).is_file());
    assert!(!blobs_dir(&root).join(format!("{devices}.zst")).exists());
    let users = &appended.kind("users").unwrap().blobs[0].sha256;
    assert!(blobs_dir(&root).join(format!("{users}.zst")).is_file());
    c.check_blobs(&appended).await.unwrap();

    let report = verify_connection(&c, None).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.snapshots, 3);
    assert_eq!(report.head.as_ref().unwrap().sequence, 2);
    let out = cli(&root, &["report", "--format", "markdown"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(
        &root,
        &["diff", &old_head.id.to_string(), &appended.id.to_string()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("new-user"), "{}", text(&out));
}

#[tokio::test]
async fn tampering_with_an_old_blob_still_fails_verify_and_report() {
    let (_dir, root) = old_store();
    let c = connection(&root);
    append_changed_users(&c).await;
    let head = c.latest().await.unwrap().unwrap();
    let devices = &head.kind("devices").unwrap().blobs[0].sha256;
    let path = blobs_dir(&root).join(devices);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&path, bytes).unwrap();

    let report = verify_connection(&c, None).await.unwrap();
    let problems: Vec<_> = report.problems.iter().map(|p| (p.kind, &p.path)).collect();
    assert_eq!(
        problems,
        [(
            ProblemKind::BlobCorrupt,
            &format!("{CONNECTION}/blobs/sha256/{devices}")
        )]
    );
    assert!(c.check_blobs(&head).await.is_err());
    let out = cli(&root, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = cli(&root, &["report", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{devices} does not match its digest")),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn a_manifest_of_a_newer_format_is_refused_naming_the_version_and_the_upgrade() {
    let (_dir, root) = old_store();
    let snapshots = root.join(CONNECTION).join("snapshots");
    let current = std::fs::read_to_string(snapshots.join("00000000000000000001.json")).unwrap();
    let mut newer: serde_json::Value = serde_json::from_str(&current).unwrap();
    newer["format"] = "jumpcloud-operator.io/snapshot/v7".into();
    newer["sequence"] = 2.into();
    std::fs::write(
        snapshots.join("00000000000000000002.json"),
        serde_json::to_vec(&newer).unwrap(),
    )
    .unwrap();
    let c = connection(&root);
    let error = c.latest().await.unwrap_err().to_string();
    assert!(
        error.contains("version 7") && error.contains("upgrade jumpcloud-operator"),
        "{error}"
    );
    let report = verify_connection(&c, None).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::ManifestInvalid
                && p.path.ends_with("00000000000000000002.json")
                && p.detail.contains("upgrade jumpcloud-operator")),
        "{:?}",
        report.problems
    );
    let out = cli(&root, &["report", "--format", "markdown"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("upgrade jumpcloud-operator"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn an_old_uncompressed_report_is_still_read_and_a_new_one_is_compressed() {
    let (_dir, root) = old_store();
    let c = connection(&root);
    let head = c.latest().await.unwrap().unwrap();
    // Earlier versions stored the report as is, at reports/<id>.html.
    let reports = root.join(CONNECTION).join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(
        reports.join(format!("{}.html", head.id)),
        "<html>old</html>",
    )
    .unwrap();
    assert_eq!(
        c.read_report(&head.id).await.unwrap().unwrap().as_ref(),
        b"<html>old</html>"
    );
    let appended = append_changed_users(&c).await;
    c.put_report(&appended.id, "<html>new</html>".repeat(1_000))
        .await
        .unwrap();
    let stored = std::fs::read(reports.join(format!("{}.html.zst", appended.id))).unwrap();
    assert!(stored.len() < 1_000, "{} bytes stored", stored.len());
    assert_eq!(
        c.read_report(&appended.id).await.unwrap().unwrap().as_ref(),
        "<html>new</html>".repeat(1_000).as_bytes()
    );
}
