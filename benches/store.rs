//! Evidence store figures: write throughput to disk and to an in-process S3 server (s3s-fs on
//! 127.0.0.1), and the storage cost of 365 daily snapshots of an unchanged org.
//! Run: `cargo bench --bench store`.

use std::time::Instant;

use jumpcloud_operator::store::{ConnectionStore, EvidenceStore, KindDraft, SnapshotDraft};

const MB: f64 = 1024.0 * 1024.0;

fn evidence(records: usize, salt: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..records {
        out.extend(
            format!(
                "{{\"_id\":\"r{salt}-{i:08}\",\"username\":\"user{i}\",\"mfa\":{{\"configured\":{}}},\"pad\":\"{}\"}}\n",
                i % 3 == 0,
                "p".repeat(900)
            )
            .bytes(),
        );
    }
    out
}

async fn snapshot(c: &ConnectionStore, kinds: &[(&str, &[u8])], day: i64) {
    let mut drafts = Vec::new();
    for (kind, data) in kinds {
        let mut writer = c.blob_writer();
        for line in data.split_inclusive(|b| *b == b'\n') {
            writer.write(line).expect("spool");
        }
        drafts.push(KindDraft {
            kind: (*kind).into(),
            status: "complete".into(),
            blobs: vec![writer.finish().await.expect("blob")],
        });
    }
    let now = jiff::Timestamp::from_second(1_767_225_600 + day * 86_400).expect("time");
    let draft = SnapshotDraft {
        kinds: drafts,
        collection: serde_json::json!({"started_at": now.to_string()}),
        ..Default::default()
    };
    c.commit(draft, None, now).await.expect("commit");
}

async fn throughput(label: &str, store: &EvidenceStore) {
    let c = store.connection(&"bench/throughput".parse().expect("id"));
    let users = evidence(20_000, 0);
    let devices = evidence(20_000, 1);
    let bytes = (users.len() + devices.len()) as f64;
    let start = Instant::now();
    snapshot(&c, &[("users", &users), ("devices", &devices)], 0).await;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{label:<22} {:>7.1} MB in {seconds:>6.2} s = {:>7.1} MB/s",
        bytes / MB,
        bytes / MB / seconds
    );
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

async fn s3(root: &std::path::Path) -> EvidenceStore {
    std::fs::create_dir_all(root.join("evidence")).expect("bucket");
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single("bench", "bench-secret"));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let http =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        while let Ok((socket, _)) = listener.accept().await {
            let conn = http
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(conn);
        }
    });
    EvidenceStore::open_with_options(
        "s3://evidence/bench",
        [
            ("aws_endpoint", format!("http://{addr}")),
            ("aws_access_key_id", "bench".to_owned()),
            ("aws_secret_access_key", "bench-secret".to_owned()),
            ("aws_region", "us-east-1".to_owned()),
            ("aws_allow_http", "true".to_owned()),
        ],
    )
    .expect("s3 store")
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        println!("== evidence store");
        let disk = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", disk.path().display());
        throughput("disk (fsync)", &EvidenceStore::open(&url).expect("disk")).await;
        let s3_root = tempfile::tempdir().expect("tempdir");
        throughput("in-process S3", &s3(s3_root.path()).await).await;

        for (records, label) in [(1_000usize, "small org"), (5_000, "medium org")] {
            let dir = tempfile::tempdir().expect("tempdir");
            let store =
                EvidenceStore::open(&format!("file://{}", dir.path().display())).expect("disk");
            let c = store.connection(&"bench/daily".parse().expect("id"));
            let users = evidence(records, 0);
            let devices = evidence(records, 1);
            snapshot(&c, &[("users", &users), ("devices", &devices)], 0).await;
            let one = dir_bytes(dir.path());
            for day in 1..365 {
                snapshot(&c, &[("users", &users), ("devices", &devices)], day).await;
            }
            let all = dir_bytes(dir.path());
            println!(
                "365 daily snapshots, unchanged {label} ({:.1} MB): {all} bytes vs {one} for one = {:.4}x ({} bytes per extra snapshot)",
                one as f64 / MB,
                all as f64 / one as f64,
                (all - one) / 364
            );
        }
    });
}
