//! Shared harness of the crash tests (`store_crash_s3.rs`, `store_crash_local.rs`): the keys,
//! where a child `collect` writes, normal runs, and the three properties every killed run must
//! leave true:
//!
//! 1. `verify` still accepts the store: what the dead run left behind (blobs no manifest
//!    references, a signature without its manifest) is a note, never a problem;
//! 2. the previous snapshot is still the latest and loads completely, or, when the kill came
//!    after the manifest PUT, the new snapshot is complete and chained to the previous one;
//! 3. the next normal run commits a new snapshot chained to whichever is latest.
//!
//! Every killed run starts from a copy of the same store and collects from the same simulated
//! org, so each writes the same objects and kill point N means the same place in the sequence
//! every time. For the later runs that store holds one snapshot of the org as it was a day
//! earlier (the simulator's clock moved, so timestamps changed): against an unchanged org
//! almost every blob would already be stored and the run would write only a handful of
//! objects.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jumpcloud_operator::controls::evidence::KindState;
use jumpcloud_operator::region::Region;
use jumpcloud_operator::store::verify::verify_connection;
use jumpcloud_operator::store::{
    ConnectionStore, EvidenceStore, Records, SigningKey, Snapshot, VerifyingKey, load_controls,
    load_evidence,
};
use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig};
use secrecy::ExposeSecret;

use crate::s3_support::{self, S3Server};

/// Where `collect` puts snapshots without `--connection`.
pub const CONNECTION: &str = "collect/default";
/// The S3 store's prefix inside the test bucket.
pub const S3_PREFIX: &str = "prod";
/// Evidence kinds of a complete collection.
pub const KINDS: usize = jumpcloud_operator::collect::KIND_COUNT;
/// Generous bound for any one child run or wait (a debug build on two shared cores).
pub const DEADLINE: Duration = Duration::from_secs(120);
/// How often a wait looks at its condition again; a polling interval, not a synchronisation.
pub const POLL: Duration = Duration::from_millis(5);

/// The binary under test: `JUMPCLOUD_OPERATOR_BIN` (a release build, say) or Cargo's.
pub fn operator_binary() -> PathBuf {
    std::env::var_os("JUMPCLOUD_OPERATOR_BIN")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_jumpcloud-operator").into())
}

/// The simulator's clock for the previous snapshot; the killed runs see it a day later. Tied
/// to the real clock because the collector asks for Directory Insights events relative to its
/// own "now"; the org itself is fixed by the seed.
pub fn previous_day() -> jiff::Timestamp {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(now - now % 3600 - 86_400).expect("a valid time")
}

/// The small org of seed 42 as it looks at `now` (same org id and keys whatever the time).
pub async fn simulator_at(now: jiff::Timestamp, response_delay: Duration) -> Simulator {
    Simulator::start(SimulatorConfig {
        seed: 42,
        org: OrgSize::small(),
        now: Some(now),
        response_delay,
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// The API key file and the signing key pair every run uses.
pub struct Keys {
    dir: tempfile::TempDir,
    pub signing_key: PathBuf,
    pub public_key: PathBuf,
    pub verifying: VerifyingKey,
}

impl Keys {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let seed = [7u8; 32];
        let signing_key = dir.path().join("signing.key");
        std::fs::write(&signing_key, hex::encode(seed)).expect("signing key written");
        let verifying = SigningKey::from_seed(seed).verifying_key();
        let public_key = dir.path().join("signing.pub");
        std::fs::write(&public_key, verifying.to_hex()).expect("public key written");
        Keys {
            dir,
            signing_key,
            public_key,
            verifying,
        }
    }

    /// The Read Only administrator's key of `sim`, as `echo KEY > file` writes it.
    pub fn api_key_file(&self, sim: &Simulator) -> PathBuf {
        let path = self.dir.path().join("api.key");
        let key = sim.read_only_key(Region::Us);
        std::fs::write(&path, format!("{}\n", key.expose_secret())).expect("key file written");
        path
    }
}

/// Where a child run writes: an S3 server (through the standard AWS environment) or a directory.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    S3(&'a S3Server),
    Dir(&'a Path),
}

impl Target<'_> {
    /// `--store URL` for S3, `--out DIR` for a directory (as an operator would type them).
    pub fn store_args(&self) -> Vec<String> {
        match self {
            Target::S3(_) => vec![
                "--store".into(),
                format!("s3://{}/{S3_PREFIX}", s3_support::BUCKET),
            ],
            Target::Dir(dir) => vec!["--out".into(), dir.display().to_string()],
        }
    }

    /// The connection's store, opened in this process to inspect what the child left.
    pub fn connection(&self) -> ConnectionStore {
        let store = match self {
            Target::S3(server) => server.store(S3_PREFIX),
            Target::Dir(dir) => {
                EvidenceStore::open(dir.to_str().expect("UTF-8 path")).expect("local store")
            }
        };
        store.connection(&CONNECTION.parse().expect("valid connection"))
    }

    pub fn command(&self, args: Vec<String>) -> Command {
        let mut command = Command::new(operator_binary());
        command
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        // Only the test server's credentials: nothing from the developer's own AWS setup.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AWS_") {
                command.env_remove(key);
            }
        }
        if let Target::S3(server) = self {
            command.envs(server.child_env());
        }
        command
    }

    pub fn collect(&self, sim: &Simulator, keys: &Keys) -> Command {
        let mut args: Vec<String> = vec![
            "collect".into(),
            "--api-key-file".into(),
            keys.api_key_file(sim).display().to_string(),
            "--base-url".into(),
            sim.base_url(Region::Us).expect("US served").to_string(),
            "--signing-key".into(),
            keys.signing_key.display().to_string(),
        ];
        args.extend(self.store_args());
        self.command(args)
    }
}

/// Runs a child to its end off the async workers (the simulator and the S3 server live on
/// them).
pub async fn run_to_end(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("child runs"))
        .await
        .expect("runner thread")
}

pub fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A normal, uninterrupted `collect`; returns the snapshot it committed.
pub async fn collect_to_end(
    target: Target<'_>,
    sim: &Simulator,
    keys: &Keys,
    label: &str,
) -> Snapshot {
    let output = run_to_end(target.collect(sim, keys)).await;
    assert!(
        output.status.success(),
        "{label}: collect failed: {}",
        describe(&output)
    );
    target
        .connection()
        .latest()
        .await
        .expect("store readable")
        .expect("a snapshot after a successful collect")
}

/// Property 1: the `verify` command accepts the store, signatures included.
pub async fn assert_verify_passes(target: Target<'_>, keys: &Keys, label: &str) {
    let mut args: Vec<String> = vec!["verify".into()];
    args.extend(match target {
        // `verify` has no --out shorthand: a directory is its own store URL.
        Target::Dir(dir) => vec!["--store".into(), dir.display().to_string()],
        Target::S3(_) => target.store_args(),
    });
    args.extend(["--public-key".into(), keys.public_key.display().to_string()]);
    let output = run_to_end(target.command(args)).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{label}: verify rejects the store: {}",
        describe(&output)
    );
}

/// A first run killed before its commit leaves no snapshot: `verify` accepts nothing as
/// evidence (exit 7, nothing to act on), while what the dead run left is no problem.
pub async fn assert_verify_finds_nothing(target: Target<'_>, keys: &Keys, label: &str) {
    let mut args: Vec<String> = vec!["verify".into()];
    args.extend(target.store_args());
    args.extend(["--public-key".into(), keys.public_key.display().to_string()]);
    let output = run_to_end(target.command(args)).await;
    assert_eq!(
        output.status.code(),
        Some(7),
        "{label}: {}",
        describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no snapshot of any connection") || stderr.contains("no connections"),
        "{label}: {}",
        describe(&output)
    );
    let report = verify_connection(&target.connection(), Some(&keys.verifying))
        .await
        .expect("store readable");
    assert!(report.ok(), "{label}: {:?}", report.problems);
}

/// Every kind of `snapshot` is there and readable: each blob matches its digest (checked as
/// read), each record parses, the counts agree, the control results load and the signature
/// verifies.
pub async fn assert_loads_completely(
    store: &ConnectionStore,
    snapshot: &Snapshot,
    keys: &Keys,
    label: &str,
) {
    assert_eq!(snapshot.index.kinds.len(), KINDS, "{label}");
    let evidence = load_evidence(store, snapshot, Records::All)
        .await
        .unwrap_or_else(|error| panic!("{label}: snapshot {} unreadable: {error}", snapshot.id));
    assert_eq!(evidence.kinds.len(), KINDS, "{label}");
    for (kind, loaded) in &evidence.kinds {
        if loaded.state == KindState::Complete {
            assert_eq!(loaded.records.len() as u64, loaded.count, "{label}: {kind}");
        }
    }
    let controls = load_controls(store, snapshot)
        .await
        .unwrap_or_else(|error| panic!("{label}: control results unreadable: {error}"));
    assert!(controls.is_some(), "{label}: no control results");
    let signature = store
        .read_signature(&snapshot.id)
        .await
        .expect("signature readable")
        .unwrap_or_else(|| panic!("{label}: snapshot {} unsigned", snapshot.id));
    keys.verifying
        .check(&signature, &snapshot.sha256)
        .unwrap_or_else(|error| panic!("{label}: signature: {error}"));
}

/// Property 2 after a kill: exactly the snapshots of before (`previous`, or none when the
/// killed run was the first), or (`committed`) those and the new one chained to them, each
/// complete. Returns the latest.
pub async fn assert_crash_left_consistent_store(
    target: Target<'_>,
    previous: Option<&Snapshot>,
    committed: bool,
    keys: &Keys,
    label: &str,
) -> Option<Snapshot> {
    let store = target.connection();
    let ids = store.list_snapshots().await.expect("store listable");
    let latest = store
        .latest()
        .await
        .unwrap_or_else(|error| panic!("{label}: latest unreadable: {error}"));
    let before: Vec<_> = previous.iter().map(|p| p.id.clone()).collect();
    if committed {
        assert_eq!(ids.len(), before.len() + 1, "{label}: {ids:?}");
        assert_eq!(ids[..before.len()], before, "{label}");
        let latest = latest.as_ref().expect("the new snapshot");
        assert_chained(latest, previous, label);
    } else {
        assert_eq!(ids, before, "{label}");
        assert_eq!(
            latest.as_ref().map(|l| &l.sha256),
            previous.map(|p| &p.sha256),
            "{label}"
        );
    }
    if let Some(latest) = &latest {
        assert_loads_completely(&store, latest, keys, label).await;
    }
    if let (true, Some(previous)) = (committed, previous) {
        // The chain's older end is untouched too.
        let reloaded = store.load(&previous.id).await.expect("previous loads");
        assert_loads_completely(&store, &reloaded, keys, label).await;
    }
    latest
}

/// `next` follows `previous` in the chain, or starts it when there was none.
pub fn assert_chained(next: &Snapshot, previous: Option<&Snapshot>, label: &str) {
    let Some(previous) = previous else {
        assert_eq!(next.manifest.previous, None, "{label}");
        assert_eq!(next.manifest.sequence, 0, "{label}");
        return;
    };
    let link = next
        .manifest
        .previous
        .as_ref()
        .unwrap_or_else(|| panic!("{label}: {} starts a new chain", next.id));
    assert_eq!(link.id, previous.id.as_str(), "{label}");
    assert_eq!(link.sha256, previous.sha256, "{label}");
    assert_eq!(
        next.manifest.sequence,
        previous.manifest.sequence + 1,
        "{label}"
    );
}

/// Property 3: a normal run after the crash commits a snapshot chained to the latest one, and
/// the whole store (leftovers of the dead run included) still verifies.
pub async fn assert_next_run_continues_the_chain(
    target: Target<'_>,
    sim: &Simulator,
    latest: Option<&Snapshot>,
    keys: &Keys,
    label: &str,
) {
    let next = collect_to_end(target, sim, keys, label).await;
    assert_chained(&next, latest, label);
    // Re-hashes every blob and checks every signature: the new snapshot is complete.
    let store = target.connection();
    let report = verify_connection(&store, Some(&keys.verifying))
        .await
        .expect("store readable");
    assert!(report.ok(), "{label}: {:?}", report.problems);
    assert_eq!(report.signed, report.snapshots, "{label}");
}

/// Copies a directory tree (a store, or the S3 server's root) so each killed run starts from
/// the same state.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("target directory");
    for entry in std::fs::read_dir(from).expect("source readable") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("file copied");
        }
    }
}
