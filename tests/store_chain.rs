//! The hash chain: concurrent writers cannot fork it, a store of the earlier layout stays
//! readable, verifiable and appendable, and removals pass `verify` only when retention recorded
//! them (or, for the newest snapshot, only against an anchor kept outside the store).

mod s3_support;

use std::sync::Arc;

use jumpcloud_operator::store::retention::{RetentionPolicy, apply_retention};
use jumpcloud_operator::store::verify::{
    HeadAnchor, ProblemKind, VerifyReport, check_head, verify_connection,
};
use jumpcloud_operator::store::{
    ConnectionId, ConnectionStore, EvidenceStore, KindDraft, SigningKey, Snapshot, SnapshotDraft,
    StoreError,
};

/// Writers racing for one connection: more than the 20 the chain must survive.
const WRITERS: usize = 24;

fn connection() -> ConnectionId {
    "compliance/acme".parse().unwrap()
}

fn day(n: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_767_225_600 + n * 86_400).unwrap()
}

/// A draft of a small org that differs per `seed` (its own blobs), stored in `store`.
async fn draft(
    store: &ConnectionStore,
    seed: u64,
    retention: Option<RetentionPolicy>,
) -> SnapshotDraft {
    let users = format!("{{\"_id\":\"u{seed}\",\"username\":\"user{seed}\"}}\n");
    let blob = store.put_blob(users.into_bytes().into()).await.unwrap();
    SnapshotDraft {
        kinds: vec![KindDraft {
            kind: "users".into(),
            status: "complete".into(),
            blobs: vec![blob],
        }],
        collection: serde_json::json!({"org": {"id": "5f0000000000000000000001"}}),
        sources: serde_json::json!({}),
        retention,
        ..SnapshotDraft::default()
    }
}

async fn commit(
    store: &ConnectionStore,
    seed: u64,
    now: jiff::Timestamp,
    key: &SigningKey,
    retention: Option<RetentionPolicy>,
) -> Snapshot {
    let draft = draft(store, seed, retention).await;
    store.commit(draft, Some(key), now).await.unwrap()
}

async fn verify(store: &ConnectionStore, key: &SigningKey) -> VerifyReport {
    verify_connection(store, Some(&key.verifying_key()))
        .await
        .unwrap()
}

fn kinds(report: &VerifyReport) -> Vec<ProblemKind> {
    report.problems.iter().map(|p| p.kind).collect()
}

/// `WRITERS` tasks commit to one connection at once. All of them first read the same (empty)
/// head and meet at a barrier, so the first round is a real race for sequence 0: exactly one
/// wins and every other gets `Conflict`. Each loser then reads the new head and tries again
/// until it commits. The end: one linear chain of `WRITERS` snapshots that verifies, holding
/// every snapshot a writer was told it committed.
async fn racing_writers_end_in_one_linear_chain(store: EvidenceStore) {
    let c = store.connection(&connection());
    let key = SigningKey::from_seed([3; 32]);
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (c, key, barrier) = (c.clone(), key.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut head = c.latest().await.unwrap();
            barrier.wait().await;
            let mut conflicts = 0;
            loop {
                let draft = draft(&c, writer as u64, None).await;
                match c
                    .commit_after(head.as_ref(), draft, Some(&key), day(1))
                    .await
                {
                    Ok(snapshot) => return (snapshot, conflicts),
                    Err(StoreError::Conflict { sequence, .. }) => {
                        assert_eq!(
                            sequence,
                            head.as_ref().map_or(0, |h| h.manifest.sequence + 1)
                        );
                        conflicts += 1;
                        assert!(conflicts <= WRITERS, "writer {writer} never committed");
                        head = c.latest().await.unwrap();
                    }
                    Err(error) => panic!("writer {writer}: {error}"),
                }
            }
        }));
    }
    let mut committed = Vec::new();
    for task in tasks {
        committed.push(task.await.unwrap());
    }
    // The first round: one winner, everyone else refused.
    let first_round_winners = committed
        .iter()
        .filter(|(_, conflicts)| *conflicts == 0)
        .count();
    let rounds: Vec<(u64, usize)> = committed
        .iter()
        .map(|(s, conflicts)| (s.manifest.sequence, *conflicts))
        .collect();
    assert_eq!(first_round_winners, 1, "(sequence, conflicts): {rounds:?}");

    let chain = c.list_snapshots().await.unwrap();
    assert_eq!(chain.len(), WRITERS);
    let mut sequences: Vec<u64> = committed.iter().map(|(s, _)| s.manifest.sequence).collect();
    sequences.sort();
    assert_eq!(sequences, (0..WRITERS as u64).collect::<Vec<_>>());
    for (snapshot, _) in &committed {
        assert!(chain.contains(&snapshot.id), "{} lost", snapshot.id);
    }
    let report = verify(&c, &key).await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.valid_signatures, WRITERS);
    assert_eq!(report.head.unwrap().sequence, WRITERS as u64 - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commits_on_disk_end_in_one_linear_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::open(dir.path().to_str().unwrap()).unwrap();
    racing_writers_end_in_one_linear_chain(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commits_on_s3_end_in_one_linear_chain() {
    let dir = tempfile::tempdir().unwrap();
    let server = s3_support::serve_dir_atomic(dir.path()).await;
    racing_writers_end_in_one_linear_chain(server.store("prod")).await;
}

/// Turns a store into the layout of earlier versions: each manifest under `<id>.json`, the
/// same bytes (manifests without a retention record serialise exactly as they did).
fn to_legacy_layout(root: &std::path::Path, snapshots: &[Snapshot]) {
    let dir = root.join("compliance/acme/snapshots");
    for snapshot in snapshots {
        let from = dir.join(format!("{:020}.json", snapshot.manifest.sequence));
        std::fs::rename(from, dir.join(format!("{}.json", snapshot.id))).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_of_the_earlier_layout_stays_readable_verifiable_and_appendable() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::open(dir.path().to_str().unwrap()).unwrap();
    let c = store.connection(&connection());
    let key = SigningKey::from_seed([4; 32]);
    let mut old = Vec::new();
    for d in 0..3 {
        old.push(commit(&c, d as u64, day(d), &key, None).await);
    }
    to_legacy_layout(dir.path(), &old);
    assert!(
        dir.path()
            .join(format!("compliance/acme/snapshots/{}.json", old[2].id))
            .exists()
    );

    // Readable: the same ids, the same head, found by id and by digest.
    let ids: Vec<_> = old.iter().map(|s| s.id.clone()).collect();
    assert_eq!(c.list_snapshots().await.unwrap(), ids);
    assert_eq!(c.latest().await.unwrap().unwrap().sha256, old[2].sha256);
    assert_eq!(c.resolve(&old[1].sha256[..12]).await.unwrap().id, old[1].id);
    let report = verify(&c, &key).await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.valid_signatures, 3);

    // Appendable: the next snapshot is named by its sequence, chained to the legacy head, and
    // two writers after that head cannot both commit.
    let head = c.latest().await.unwrap().unwrap();
    let next = c
        .commit_after(Some(&head), draft(&c, 10, None).await, Some(&key), day(3))
        .await
        .unwrap();
    assert_eq!(next.manifest.sequence, 3);
    assert_eq!(
        next.manifest.previous.as_ref().unwrap().id,
        old[2].id.as_str()
    );
    assert!(
        dir.path()
            .join("compliance/acme/snapshots/00000000000000000003.json")
            .exists()
    );
    let late = c
        .commit_after(Some(&head), draft(&c, 11, None).await, Some(&key), day(3))
        .await;
    assert!(
        matches!(late, Err(StoreError::Conflict { sequence: 3, .. })),
        "{late:?}"
    );
    assert_eq!(c.latest().await.unwrap().unwrap().id, next.id);
    let report = verify(&c, &key).await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.head.as_ref().unwrap().id, next.id.as_str());

    // A fork the earlier layout allowed (two manifests at sequence 1 after the same
    // predecessor) is reported.
    let mut forked = old[1].manifest.clone();
    forked.created_at = old[1].manifest.created_at + jiff::SignedDuration::from_secs(1);
    let mut bytes = serde_json::to_vec(&forked).unwrap();
    bytes.push(b'\n');
    let id = jumpcloud_operator::store::SnapshotId::new(
        forked.created_at,
        &jumpcloud_operator::store::sha256_hex(&bytes),
    );
    std::fs::write(
        dir.path()
            .join(format!("compliance/acme/snapshots/{id}.json")),
        bytes,
    )
    .unwrap();
    let report = verify_connection(&c, None).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::ChainBroken
                && p.detail.contains("a second snapshot at sequence 1")),
        "{:?}",
        report.problems
    );
}

/// A signed chain of `n` daily snapshots in a local store.
async fn chain_of(n: i64, key: &SigningKey) -> (tempfile::TempDir, ConnectionStore, Vec<Snapshot>) {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::open(dir.path().to_str().unwrap()).unwrap();
    let c = store.connection(&connection());
    let mut snapshots = Vec::new();
    for d in 0..n {
        snapshots.push(commit(&c, d as u64, day(d), key, None).await);
    }
    (dir, c, snapshots)
}

fn remove_snapshot(dir: &tempfile::TempDir, snapshot: &Snapshot) {
    let snapshots = dir.path().join("compliance/acme/snapshots");
    std::fs::remove_file(snapshots.join(format!("{:020}.json", snapshot.manifest.sequence)))
        .unwrap();
    std::fs::remove_file(snapshots.join(format!("{}.json.sig", snapshot.id))).unwrap();
}

fn anchored_at(snapshot: &Snapshot) -> HeadAnchor {
    HeadAnchor {
        digest: Some(snapshot.sha256.clone()),
        min_sequence: Some(snapshot.manifest.sequence),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_newest_snapshot_is_caught_by_the_head_anchor() {
    let key = SigningKey::from_seed([5; 32]);
    let (dir, c, snapshots) = chain_of(3, &key).await;
    let anchor = anchored_at(&snapshots[2]);
    let mut report = verify(&c, &key).await;
    check_head(&mut report, &anchor);
    assert!(report.ok(), "{:?}", report.problems);

    // The rollback: the chain alone cannot tell, the anchor can (digest and sequence).
    remove_snapshot(&dir, &snapshots[2]);
    let mut report = verify(&c, &key).await;
    assert!(report.ok(), "the chain alone: {:?}", report.problems);
    check_head(&mut report, &anchor);
    assert_eq!(
        kinds(&report),
        [ProblemKind::HeadMismatch, ProblemKind::HeadMismatch],
        "{:?}",
        report.problems
    );

    // A new snapshot in its place (same sequence, other content) does not fool the digest.
    let replaced = commit(&c, 99, day(2), &key, None).await;
    assert_eq!(replaced.manifest.sequence, 2);
    let mut report = verify(&c, &key).await;
    check_head(&mut report, &anchor);
    assert_eq!(
        kinds(&report),
        [ProblemKind::HeadMismatch],
        "{:?}",
        report.problems
    );
    assert!(report.problems[0].detail.contains(&snapshots[2].sha256));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_oldest_snapshots_without_a_retention_record_fails() {
    let key = SigningKey::from_seed([6; 32]);
    for removed in [1, 2] {
        let (dir, c, snapshots) = chain_of(4, &key).await;
        for snapshot in &snapshots[..removed] {
            remove_snapshot(&dir, snapshot);
        }
        let report = verify(&c, &key).await;
        assert_eq!(
            kinds(&report),
            [ProblemKind::SnapshotMissing],
            "{removed} removed: {:?}",
            report.problems
        );
        let expected = if removed == 1 {
            "sequence 0 "
        } else {
            "sequence 0..=1 "
        };
        assert!(
            report.problems[0].detail.contains(expected)
                && report.problems[0].detail.contains("no retention record"),
            "{:?}",
            report.problems
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_is_recorded_signed_and_reported_by_verify() {
    let key = SigningKey::from_seed([7; 32]);
    let (_dir, c, snapshots) = chain_of(5, &key).await;
    let policy = RetentionPolicy {
        grace: jiff::SignedDuration::ZERO,
        ..RetentionPolicy::days(2)
    };
    // Day 5 retires days 0..=2 (older than two days) in its signed manifest.
    let head = commit(&c, 5, day(5), &key, Some(policy.clone())).await;
    let record = head.manifest.retention.clone().unwrap();
    assert_eq!(record.kept_from, 3);
    let retired: Vec<_> = record.retired.iter().map(|r| r.id.clone()).collect();
    let expected: Vec<_> = snapshots[..3].iter().map(|s| s.id.to_string()).collect();
    assert_eq!(retired, expected);
    assert_eq!(record.retired[1].sha256, snapshots[1].sha256);

    // A crash between the commit and the deletion: the retired snapshots are still there.
    let report = verify(&c, &key).await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(
        report
            .notes
            .iter()
            .filter(|n| n.contains("deletion is pending"))
            .count(),
        3,
        "{:?}",
        report.notes
    );

    let applied = apply_retention(&c, &policy, day(5)).await.unwrap();
    assert_eq!(applied.removed_snapshots, expected);
    let report = verify(&c, &key).await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.valid_signatures, 3);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("sequence 0..=2 removed (retention)")
                && n.contains(&format!("recorded by sequence 5 ({})", head.id))),
        "{:?}",
        report.notes
    );

    // Later commits keep the record in force, even with nothing new to retire...
    let later = commit(&c, 6, day(6), &key, Some(RetentionPolicy::days(400))).await;
    assert_eq!(later.manifest.retention.as_ref().unwrap().kept_from, 3);
    assert!(verify(&c, &key).await.ok());
    // ...and a removal beyond what was recorded is still a problem.
    let beyond = c.resolve(snapshots[3].id.as_str()).await.unwrap();
    let root = _dir.path().join("compliance/acme/snapshots");
    std::fs::remove_file(root.join(format!("{:020}.json", beyond.manifest.sequence))).unwrap();
    let report = verify(&c, &key).await;
    assert_eq!(
        kinds(&report),
        [ProblemKind::SnapshotMissing],
        "{:?}",
        report.problems
    );
}
