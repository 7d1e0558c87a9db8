//! Chunked kinds: a changed kind stores only the chunks around the change, and retention keeps
//! every chunk a remaining snapshot references, whichever snapshot wrote it.

use jumpcloud_operator::store::chunker::ChunkedWriter;
use jumpcloud_operator::store::retention::{RetentionPolicy, apply_retention};
use jumpcloud_operator::store::verify::verify_connection;
use jumpcloud_operator::store::{
    BlobRef, ConnectionStore, EvidenceStore, KindDraft, Snapshot, SnapshotDraft,
};

fn day(n: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_767_225_600 + n * 86_400).unwrap()
}

fn users(changed: Option<usize>, extra: usize) -> Vec<String> {
    (0..6_000 + extra)
        .map(|i| {
            let mfa = changed == Some(i);
            format!(
                "{{\"_id\":\"{i:024x}\",\"username\":\"user{i}\",\"mfa\":{{\"configured\":{mfa}}},\"title\":\"{}\"}}",
                ["Engineer", "Designer", "Analyst"][i % 3].repeat(20)
            )
        })
        .collect()
}

async fn write_kind(c: &ConnectionStore, lines: &[String]) -> Vec<BlobRef> {
    let mut writer = ChunkedWriter::new(c.clone());
    for line in lines {
        writer.write_record(line.as_bytes()).await.unwrap();
    }
    let written = writer.finish().await.unwrap();
    assert_eq!(written.records, lines.len() as u64);
    written.chunks
}

async fn commit(
    c: &ConnectionStore,
    chunks: Vec<BlobRef>,
    at: i64,
    retention: Option<RetentionPolicy>,
) -> Snapshot {
    let draft = SnapshotDraft {
        kinds: vec![KindDraft {
            kind: "users".into(),
            status: "complete".into(),
            blobs: chunks,
        }],
        collection: serde_json::json!({}),
        retention,
        ..SnapshotDraft::default()
    };
    c.commit(draft, None, day(at)).await.unwrap()
}

fn ndjson(lines: &[String]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect()
}

#[tokio::test]
async fn a_changed_kind_shares_its_unchanged_chunks_and_retention_keeps_them_while_referenced() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::open(&format!("file://{}", dir.path().display())).unwrap();
    let c = store.connection(&"team/acme".parse().unwrap());

    let before = users(None, 0);
    let first = write_kind(&c, &before).await;
    commit(&c, first.clone(), 0, None).await;
    // One user changed and one hired: only the chunks around them are new.
    let after = users(Some(3_000), 1);
    let second = write_kind(&c, &after).await;
    let shared: Vec<&BlobRef> = second.iter().filter(|b| first.contains(b)).collect();
    assert!(first.len() >= 8, "{} chunks", first.len());
    assert!(
        shared.len() + 3 >= second.len(),
        "{} of {} shared",
        shared.len(),
        second.len()
    );
    let snapshot = commit(&c, second.clone(), 1, None).await;
    let kind = snapshot.kind("users").unwrap();
    assert_eq!(kind.records, after.len() as u64);
    assert_eq!(kind.bytes, ndjson(&after).len() as u64);
    assert_eq!(c.read_kind(kind).await.unwrap(), ndjson(&after));

    // Twenty days on, the same users again, retiring the first snapshot.
    let policy = RetentionPolicy {
        grace: jiff::SignedDuration::ZERO,
        ..RetentionPolicy::days(10)
    };
    let head = commit(&c, second.clone(), 20, Some(policy.clone())).await;
    assert_eq!(head.manifest.retention.as_ref().unwrap().kept_from, 1);
    let report = apply_retention(&c, &policy, day(20)).await.unwrap();
    assert_eq!(report.removed_snapshots.len(), 1);
    // The first snapshot's own chunks and its index go; the chunks it shared stay.
    let own = first.iter().filter(|b| !second.contains(b)).count();
    assert_eq!(report.removed_blobs, own + 1, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    c.check_blobs(&head).await.unwrap();
    assert_eq!(
        c.read_kind(head.kind("users").unwrap()).await.unwrap(),
        ndjson(&after)
    );
    let verified = verify_connection(&c, None).await.unwrap();
    assert!(verified.ok(), "{:?}", verified.problems);
}

/// Everything `kind_chunks` yields, or its first error.
async fn streamed(
    c: &ConnectionStore,
    kind: &jumpcloud_operator::store::StoredKind,
) -> Result<Vec<u8>, String> {
    use futures::TryStreamExt;
    let mut all = Vec::new();
    let mut pieces = c.kind_chunks(kind);
    while let Some(piece) = pieces.try_next().await.map_err(|e| e.to_string())? {
        assert!(
            piece.len() <= 256 * 1024,
            "a piece of {} bytes",
            piece.len()
        );
        all.extend_from_slice(&piece);
    }
    Ok(all)
}

#[tokio::test]
async fn kind_chunks_streams_the_decompressed_content_and_fails_on_a_damaged_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::open(&format!("file://{}", dir.path().display())).unwrap();
    let c = store.connection(&"team/acme".parse().unwrap());
    let lines = users(None, 0);
    let chunks = write_kind(&c, &lines).await;
    let snapshot = commit(&c, chunks.clone(), 0, None).await;
    let kind = snapshot.kind("users").unwrap();
    assert_eq!(streamed(&c, kind).await.unwrap(), ndjson(&lines));

    let blobs = dir.path().join("team/acme/blobs/sha256");
    let damaged = &chunks[chunks.len() / 2].sha256;
    let path = blobs.join(format!("{damaged}.zst"));
    let original = std::fs::read(&path).unwrap();
    // A flipped byte inside the compressed data, then a truncated blob: each named.
    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    std::fs::write(&path, &flipped).unwrap();
    let error = streamed(&c, kind).await.unwrap_err();
    assert!(
        error.contains(&format!("{damaged}.zst")) && error.contains("altered or damaged"),
        "{error}"
    );
    std::fs::write(&path, &original[..original.len() - 5]).unwrap();
    let error = streamed(&c, kind).await.unwrap_err();
    assert!(
        error.contains(&format!("{damaged}.zst cannot be decompressed")),
        "{error}"
    );
    assert!(c.check_blobs(&snapshot).await.is_err());
    // The evidence endpoint's stream of that blob ends in an error instead of completing.
    let mut served = c.blob_stream(damaged).await.unwrap().unwrap();
    let mut outcome = Ok(());
    while let Some(item) = futures::StreamExt::next(&mut served).await {
        if let Err(error) = item {
            outcome = Err(error);
        }
    }
    assert!(outcome.is_err());
    let verified = verify_connection(&c, None).await.unwrap();
    assert!(
        verified
            .problems
            .iter()
            .any(|p| p.path.ends_with(&format!("{damaged}.zst"))
                && p.detail.contains("cannot be decompressed")),
        "{:?}",
        verified.problems
    );
    // Restored, all is well again; removed, it is missing.
    std::fs::write(&path, &original).unwrap();
    assert_eq!(streamed(&c, kind).await.unwrap(), ndjson(&lines));
    std::fs::remove_file(&path).unwrap();
    assert!(streamed(&c, kind).await.is_err());
}
