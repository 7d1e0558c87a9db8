//! Evidence store end to end: on disk and on an in-process S3 server (s3s-fs) on 127.0.0.1.

mod s3_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use jumpcloud_operator::store::retention::{RetentionPolicy, apply_retention};
use jumpcloud_operator::store::verify::{ProblemKind, verify_connection};
use jumpcloud_operator::store::{
    ConnectionId, ConnectionStore, EvidenceStore, KindDraft, SigningKey, SnapshotDraft,
};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use rand::{Rng, SeedableRng};

fn connection() -> ConnectionId {
    "compliance/acme".parse().unwrap()
}

fn day(n: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_767_225_600 + n * 86_400).unwrap()
}

/// A generated org: users and devices as NDJSON, deterministic per seed.
fn org(seed: u64, users: usize, devices: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut user_lines = Vec::new();
    for i in 0..users {
        let mfa = rng.random_bool(0.8);
        user_lines.extend(format!(
            "{{\"_id\":\"u{i:06}\",\"username\":\"user{i}\",\"email\":\"user{i}@acme.test\",\"mfa\":{{\"configured\":{mfa},\"exclusion\":false}},\"suspended\":false,\"password_expiration_date\":\"2027-0{}-01T00:00:00Z\",\"description\":\"{}\"}}\n",
            1 + i % 9,
            "x".repeat(rng.random_range(200..1200))
        ).bytes());
    }
    let mut device_lines = Vec::new();
    for i in 0..devices {
        let fde = rng.random_bool(0.9);
        device_lines.extend(format!(
            "{{\"_id\":\"d{i:06}\",\"hostname\":\"host-{i}\",\"os\":\"Mac OS X\",\"fde\":{{\"active\":{fde},\"keyPresent\":{fde}}},\"lastContact\":\"2026-11-2{}T00:00:00Z\",\"tags\":\"{}\"}}\n",
            i % 9,
            "y".repeat(rng.random_range(400..2000))
        ).bytes());
    }
    vec![
        ("users".into(), user_lines),
        ("devices".into(), device_lines),
    ]
}

async fn write_snapshot(
    store: &ConnectionStore,
    data: &[(String, Vec<u8>)],
    now: jiff::Timestamp,
    signer: Option<&SigningKey>,
) -> jumpcloud_operator::store::Result<jumpcloud_operator::store::Snapshot> {
    write_retaining(store, data, now, signer, None).await
}

/// [`write_snapshot`], deciding retention with the commit when given a policy.
async fn write_retaining(
    store: &ConnectionStore,
    data: &[(String, Vec<u8>)],
    now: jiff::Timestamp,
    signer: Option<&SigningKey>,
    retention: Option<RetentionPolicy>,
) -> jumpcloud_operator::store::Result<jumpcloud_operator::store::Snapshot> {
    let mut kinds = Vec::new();
    for (kind, bytes) in data {
        let mut writer = store.blob_writer();
        writer.write(bytes)?;
        kinds.push(KindDraft {
            kind: kind.clone(),
            status: "complete".into(),
            blobs: vec![writer.finish().await?],
        });
    }
    let draft = SnapshotDraft {
        kinds,
        events: None,
        collection: serde_json::json!({"org": {"id": "5f0000000000000000000001"}, "started_at": now.to_string()}),
        sources: serde_json::json!({}),
        retention,
        ..SnapshotDraft::default()
    };
    store.commit(draft, signer, now).await
}

fn disk_store() -> (tempfile::TempDir, EvidenceStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let store = EvidenceStore::open(&url).unwrap();
    (dir, store)
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            dir_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// s3s-fs served in-process on 127.0.0.1:0 with SigV4 checked (the server stops when dropped).
async fn s3_store(root: &std::path::Path) -> (s3_support::S3Server, EvidenceStore) {
    let server = s3_support::serve_dir(root).await;
    let store = server.store("prod");
    (server, store)
}

async fn round_trip(store: EvidenceStore) {
    let c = store.connection(&connection());
    assert!(c.latest().await.unwrap().is_none());
    let key = SigningKey::from_seed([9; 32]);
    let first = write_snapshot(&c, &org(1, 50, 50), day(0), Some(&key))
        .await
        .unwrap();
    let mut changed = org(1, 50, 50);
    // user 3 loses MFA, device 7 loses disk encryption
    let users = String::from_utf8(changed[0].1.clone()).unwrap();
    let users = users.replacen("\"_id\":\"u000003\"", "\"_id\":\"u000003\",\"x\":1", 1);
    changed[0].1 = users.into_bytes();
    let second = write_snapshot(&c, &changed, day(1), Some(&key))
        .await
        .unwrap();
    assert_eq!(
        second.manifest.previous.as_ref().unwrap().sha256,
        first.sha256
    );
    assert_eq!(second.manifest.sequence, 1);
    let latest = c.latest().await.unwrap().unwrap();
    assert_eq!(latest.id, second.id);
    assert_eq!(c.resolve(&first.sha256[..12]).await.unwrap().id, first.id);
    assert_eq!(store.connections().await.unwrap(), vec![connection()]);
    let report = verify_connection(&c, Some(&key.verifying_key()))
        .await
        .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!((report.snapshots, report.signed), (2, 2));
    let diff = jumpcloud_operator::store::diff::diff_snapshots(&c, &first, &second)
        .await
        .unwrap();
    assert_eq!(diff.kinds.len(), 1);
    assert_eq!(diff.kinds[0].changed[0].key, "u000003");
    // Blobs are write-once: the store refuses to overwrite a manifest.
    let again = write_snapshot(&c, &changed, day(1), None).await.unwrap();
    assert!(again.id > second.id, "clock going back still sorts after");
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trip_on_disk() {
    let (_dir, store) = disk_store();
    round_trip(store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trip_on_s3_and_conditional_put_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, store) = s3_store(dir.path()).await;
    // If-None-Match: a second create of the same path fails with AlreadyExists.
    let object = store.object_store();
    let path = Path::from("probe/once");
    let create = PutOptions {
        mode: object_store::PutMode::Create,
        ..Default::default()
    };
    object
        .put_opts(&path, PutPayload::from_static(b"a"), create.clone())
        .await
        .unwrap();
    let second = object
        .put_opts(&path, PutPayload::from_static(b"b"), create)
        .await;
    assert!(
        matches!(second, Err(object_store::Error::AlreadyExists { .. })),
        "{second:?}"
    );
    round_trip(store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_org_365_daily_snapshots_cost_only_their_manifests() {
    let (dir, store) = disk_store();
    let c = store.connection(&connection());
    let data = org(7, 2000, 2000);
    write_snapshot(&c, &data, day(0), None).await.unwrap();
    let one = dir_bytes(dir.path());
    let mut latest = None;
    for d in 1..3 {
        latest = Some(write_snapshot(&c, &data, day(d), None).await.unwrap());
    }
    // The same org again and again: re-hashing it 362 more times only slows a debug build, the
    // blobs (already deduplicated above) are reused as the collector would find them.
    let latest = latest.unwrap();
    for d in 3..365 {
        let draft = SnapshotDraft {
            kinds: latest
                .index
                .kinds
                .iter()
                .map(|k| KindDraft {
                    kind: k.kind.clone(),
                    status: k.status.clone(),
                    blobs: k.blobs.clone(),
                })
                .collect(),
            events: None,
            collection: serde_json::json!({"org": {"id": "5f0000000000000000000001"}, "started_at": day(d).to_string()}),
            sources: serde_json::json!({}),
            ..SnapshotDraft::default()
        };
        c.commit(draft, None, day(d)).await.unwrap();
    }
    let all = dir_bytes(dir.path());
    let each = (all - one) / 364;
    println!(
        "one snapshot {one} bytes, 365 snapshots {all} bytes, {each} bytes per unchanged snapshot"
    );
    // Compressed, one snapshot of this org is only tens of KB, so the bound is on what each
    // unchanged day adds: its manifest, nothing of the evidence.
    assert!(each <= 1024, "{each} bytes per unchanged snapshot");
    assert_eq!(c.list_snapshots().await.unwrap().len(), 365);
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_removes_expired_snapshots_and_their_blobs_but_keeps_the_newest() {
    let (_dir, store) = disk_store();
    let c = store.connection(&connection());
    let policy = RetentionPolicy {
        grace: jiff::SignedDuration::ZERO,
        ..RetentionPolicy::days(10)
    };
    for d in 0..29 {
        write_snapshot(&c, &org(d as u64, 5, 5), day(d), None)
            .await
            .unwrap();
    }
    // Without a decision recorded by a commit, retention removes nothing.
    let report = apply_retention(&c, &policy, day(29)).await.unwrap();
    assert_eq!(report.removed_snapshots.len(), 0);
    // The commit of day 29 retires days 0..=18 (older than 10 days) in its manifest.
    let head = write_retaining(&c, &org(29, 5, 5), day(29), None, Some(policy.clone()))
        .await
        .unwrap();
    let record = head
        .manifest
        .retention
        .as_ref()
        .expect("a retention record");
    assert_eq!(record.kept_from, 19);
    assert_eq!(record.retired.len(), 19);
    let report = apply_retention(&c, &policy, day(29)).await.unwrap();
    assert_eq!(report.removed_snapshots.len(), 19);
    assert_eq!(report.kept_snapshots, 11);
    // each expired snapshot had its own users, devices and index blobs
    assert_eq!(report.removed_blobs, 19 * 3);
    assert!(report.failures.is_empty());
    let verified = verify_connection(&c, None).await.unwrap();
    assert!(verified.ok(), "{:?}", verified.problems);
    assert!(
        verified
            .notes
            .iter()
            .any(|n| n.contains("sequence 0..=18 removed (retention)")),
        "{:?}",
        verified.notes
    );
    // Years later: the next commit retires everything but its predecessor.
    write_retaining(&c, &org(30, 5, 5), day(2000), None, Some(policy.clone()))
        .await
        .unwrap();
    let report = apply_retention(&c, &policy, day(2000)).await.unwrap();
    assert_eq!(report.kept_snapshots, 2);
    assert_eq!(c.latest().await.unwrap().unwrap().manifest.sequence, 30);
    let report = verify_connection(&c, None).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

/// Fails the Nth write (put or multipart), and every delete when `worm` is set.
#[derive(Debug)]
struct Faulty {
    inner: Arc<dyn ObjectStore>,
    fail_write: usize,
    writes: AtomicUsize,
    worm: bool,
}

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

fn injected(path: &Path) -> object_store::Error {
    object_store::Error::Generic {
        store: "faulty",
        source: format!("injected IO error at {path}").into(),
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self.writes.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_write {
            return Err(injected(location));
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        if self.writes.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_write {
            return Err(injected(location));
        }
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        if self.worm {
            use futures::StreamExt;
            return locations
                .map(|path| {
                    let path = path?;
                    Err(object_store::Error::PermissionDenied {
                        path: path.to_string(),
                        source: "AccessDenied: object is WORM protected".into(),
                    })
                })
                .boxed();
        }
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_io_error_at_any_write_leaves_the_previous_snapshot_latest_and_verifiable() {
    let key = SigningKey::from_seed([1; 32]);
    for fail_write in 1..=5 {
        let (_dir, store) = disk_store();
        let good = write_snapshot(
            &store.connection(&connection()),
            &org(1, 20, 20),
            day(0),
            Some(&key),
        )
        .await
        .unwrap();
        let faulty = Arc::new(Faulty {
            inner: store.object_store(),
            fail_write,
            writes: AtomicUsize::new(0),
            worm: false,
        });
        let wrapped =
            EvidenceStore::from_object_store(faulty, "", "faulty").connection(&connection());
        // users, devices, index, signature, manifest: five writes, each one failed once.
        let result = write_snapshot(&wrapped, &org(2, 20, 20), day(1), Some(&key)).await;
        assert!(result.is_err(), "write {fail_write} should have failed");
        let c = store.connection(&connection());
        assert_eq!(
            c.latest().await.unwrap().unwrap().id,
            good.id,
            "write {fail_write}"
        );
        let report = verify_connection(&c, Some(&key.verifying_key()))
            .await
            .unwrap();
        assert!(report.ok(), "write {fail_write}: {:?}", report.problems);
        // and the next sync goes on from the good one
        let next = write_snapshot(&c, &org(3, 20, 20), day(2), Some(&key))
            .await
            .unwrap();
        assert_eq!(next.manifest.previous.unwrap().id, good.id.to_string());
        // garbage from the failed sync is collected by retention
        apply_retention(
            &c,
            &RetentionPolicy {
                grace: jiff::SignedDuration::ZERO,
                ..RetentionPolicy::days(400)
            },
            day(10),
        )
        .await
        .unwrap();
        let report = verify_connection(&c, Some(&key.verifying_key()))
            .await
            .unwrap();
        assert!(
            report.ok() && report.notes.is_empty(),
            "{:?} {:?}",
            report.problems,
            report.notes
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn worm_bucket_deletion_failures_are_reported_not_fatal() {
    let (_dir, store) = disk_store();
    let c = store.connection(&connection());
    for d in 0..4 {
        write_snapshot(&c, &org(d as u64, 3, 3), day(d), None)
            .await
            .unwrap();
    }
    // Retires sequences 0..=2 (never 3, the predecessor).
    write_retaining(
        &c,
        &org(4, 3, 3),
        day(100),
        None,
        Some(RetentionPolicy::days(1)),
    )
    .await
    .unwrap();
    let worm = Arc::new(Faulty {
        inner: store.object_store(),
        fail_write: 0,
        writes: AtomicUsize::new(0),
        worm: true,
    });
    let wrapped = EvidenceStore::from_object_store(worm, "", "worm").connection(&connection());
    let report = apply_retention(&wrapped, &RetentionPolicy::days(1), day(100))
        .await
        .unwrap();
    assert_eq!(report.failures.len(), 3, "{:?}", report.failures);
    assert!(report.failures[0].1.contains("AccessDenied"));
    assert_eq!(c.list_snapshots().await.unwrap().len(), 5);
}

struct Tampered {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    store: EvidenceStore,
    ids: Vec<String>,
    key: SigningKey,
}

async fn three_signed_snapshots() -> Tampered {
    let (dir, store) = disk_store();
    let key = SigningKey::from_seed([5; 32]);
    let c = store.connection(&connection());
    let mut ids = Vec::new();
    for d in 0..3 {
        ids.push(
            write_snapshot(&c, &org(d, 10, 10), day(d as i64), Some(&key))
                .await
                .unwrap()
                .id
                .to_string(),
        );
    }
    let root = dir.path().join("compliance/acme");
    Tampered {
        root,
        _dir: dir,
        store,
        ids,
        key,
    }
}

/// The manifest of a sequence, relative to the connection's directory.
fn manifest_name(sequence: u64) -> String {
    format!("snapshots/{sequence:020}.json")
}

async fn problems(t: &Tampered) -> Vec<(ProblemKind, String)> {
    let report = verify_connection(
        &t.store.connection(&connection()),
        Some(&t.key.verifying_key()),
    )
    .await
    .unwrap();
    report
        .problems
        .into_iter()
        .map(|p| (p.kind, p.path))
        .collect()
}

fn first_blob(t: &Tampered) -> std::path::PathBuf {
    let mut blobs: Vec<_> = std::fs::read_dir(t.root.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    blobs.sort();
    blobs
        .into_iter()
        .find(|p| std::fs::metadata(p).unwrap().len() > 200)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tampering_is_detected_and_named() {
    // untouched: clean
    let t = three_signed_snapshots().await;
    assert!(problems(&t).await.is_empty());

    // a changed byte in a blob
    let blob = first_blob(&t);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let found = problems(&t).await;
    let name = blob.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        found
            .iter()
            .any(|(k, p)| *k == ProblemKind::BlobCorrupt && p.ends_with(&name)),
        "{found:?}"
    );

    // a removed blob
    let t = three_signed_snapshots().await;
    let blob = first_blob(&t);
    std::fs::remove_file(&blob).unwrap();
    let name = blob.file_name().unwrap().to_str().unwrap().to_owned();
    let found = problems(&t).await;
    assert!(
        found
            .iter()
            .any(|(k, p)| *k == ProblemKind::BlobMissing && p.ends_with(&name)),
        "{found:?}"
    );

    // an edited manifest
    let t = three_signed_snapshots().await;
    let manifest = t.root.join(manifest_name(1));
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("\"sequence\":1", "\"sequence\":7");
    std::fs::write(&manifest, text).unwrap();
    let found = problems(&t).await;
    assert!(
        found
            .iter()
            .any(|(k, p)| *k == ProblemKind::ManifestMisplaced && p.ends_with(&manifest_name(1))),
        "{found:?}"
    );
    // The signature is named by the digest: the edited manifest has none.
    assert!(
        found
            .iter()
            .any(|(k, _)| *k == ProblemKind::SignatureMissing),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(k, p)| *k == ProblemKind::ChainBroken && p.ends_with(&manifest_name(2))),
        "{found:?}"
    );

    // a replaced link: a well-formed snapshot put in place of the second
    let t = three_signed_snapshots().await;
    let c = t.store.connection(&connection());
    let first = c.resolve(&t.ids[0]).await.unwrap();
    let mut forged = first.manifest.clone();
    forged.created_at = first.manifest.created_at + jiff::SignedDuration::from_hours(1);
    forged.sequence = 1;
    forged.previous = Some(jumpcloud_operator::store::PreviousSnapshot {
        id: first.id.to_string(),
        sha256: first.sha256.clone(),
    });
    let mut bytes = serde_json::to_vec(&forged).unwrap();
    bytes.push(b'\n');
    let digest = jumpcloud_operator::store::sha256_hex(&bytes);
    let id = jumpcloud_operator::store::SnapshotId::new(forged.created_at, &digest);
    std::fs::write(t.root.join(manifest_name(1)), &bytes).unwrap();
    std::fs::write(
        t.root.join(format!("snapshots/{id}.json.sig")),
        serde_json::to_vec(&t.key.sign(&digest)).unwrap(),
    )
    .unwrap();
    let found = problems(&t).await;
    assert!(
        found
            .iter()
            .any(|(k, p)| *k == ProblemKind::ChainBroken && p.ends_with(&manifest_name(2))),
        "{found:?}"
    );

    // a bad signature (signed by another key)
    let t = three_signed_snapshots().await;
    let other = SigningKey::from_seed([6; 32]);
    let c = t.store.connection(&connection());
    let snapshot = c.resolve(&t.ids[2]).await.unwrap();
    let sig = t.root.join(format!("snapshots/{}.json.sig", t.ids[2]));
    std::fs::write(
        &sig,
        serde_json::to_vec(&other.sign(&snapshot.sha256)).unwrap(),
    )
    .unwrap();
    let found = problems(&t).await;
    assert_eq!(
        found,
        [(
            ProblemKind::SignatureInvalid,
            format!("compliance/acme/snapshots/{}.json.sig", t.ids[2])
        )]
    );
}

#[test]
fn blob_writer_spools_large_blobs_and_reads_them_back() {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (_dir, store) = disk_store();
        let c = store.connection(&connection());
        let mut writer = c.blob_writer();
        let line = format!("{{\"_id\":\"x\",\"pad\":\"{}\"}}\n", "z".repeat(1000));
        for _ in 0..20_000 {
            writer.write(line.as_bytes()).unwrap();
        }
        let blob = writer.finish().await.unwrap();
        assert_eq!(blob.records, 20_000);
        let bytes: Bytes = c.read_blob(&blob.sha256).await.unwrap();
        assert_eq!(bytes.len() as u64, blob.bytes);
    });
}
