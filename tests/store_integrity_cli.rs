//! The store's integrity promises through the real binary: `verify` fails on a path without
//! evidence, counts only valid signatures and checks the head against an anchor; `report`
//! refuses incomplete evidence; local stores are private whatever the umask; secret files
//! readable by others are warned about; spool folders of dead processes are swept; two
//! `collect` racing for one connection never fork its chain.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use jumpcloud_operator::region::Region;
use jumpcloud_operator::store::verify::verify_connection;
use jumpcloud_operator::store::{
    ConnectionStore, EvidenceStore, KindDraft, SigningKey, Snapshot, SnapshotDraft,
};
use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig};
use secrecy::ExposeSecret;

const CONNECTION: &str = "collect/default";

fn binary() -> PathBuf {
    env!("CARGO_BIN_EXE_jumpcloud-operator").into()
}

/// The binary with a clean environment for logs and AWS, `TMPDIR` set to `tmp`.
fn operator(tmp: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env("TMPDIR", tmp)
        .stdin(Stdio::null());
    command
}

fn run(mut command: Command) -> Output {
    command.output().expect("the binary runs")
}

/// Output without terminal colour codes (the log formatter adds them to field names).
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn text(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        plain(&output.stdout),
        plain(&output.stderr)
    )
}

async fn commit(c: &ConnectionStore, seed: u64, key: &SigningKey) -> Snapshot {
    let users = format!("{{\"_id\":\"u{seed}\",\"username\":\"user{seed}\"}}\n");
    let blob = c.put_blob(users.into_bytes().into()).await.unwrap();
    let draft = SnapshotDraft {
        kinds: vec![KindDraft {
            kind: "users".into(),
            status: "complete".into(),
            blobs: vec![blob],
        }],
        collection: serde_json::json!({}),
        ..Default::default()
    };
    let now = jiff::Timestamp::from_second(1_767_225_600 + seed as i64 * 86_400).unwrap();
    c.commit(draft, Some(key), now).await.unwrap()
}

/// A local store of `n` signed snapshots of connection `team/acme`.
fn store_of(dir: &Path, n: u64, key: &SigningKey) -> Vec<Snapshot> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = EvidenceStore::open(dir.to_str().unwrap()).unwrap();
        let c = store.connection(&"team/acme".parse().unwrap());
        let mut snapshots = Vec::new();
        for seed in 0..n {
            snapshots.push(commit(&c, seed, key).await);
        }
        snapshots
    })
}

#[test]
fn verify_fails_where_there_is_nothing_to_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("typo");
    let out = run(operator(
        tmp.path(),
        &["verify", "--store", missing.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no evidence store at"),
        "{}",
        text(&out)
    );
    assert!(
        !missing.exists(),
        "verify created the directory it was given"
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(operator(
        tmp.path(),
        &["verify", "--store", empty.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        text(&out).contains("no connections in the store"),
        "{}",
        text(&out)
    );

    let key = SigningKey::from_seed([1; 32]);
    let store = tmp.path().join("store");
    store_of(&store, 1, &key);
    let out = run(operator(
        tmp.path(),
        &[
            "verify",
            "--store",
            store.to_str().unwrap(),
            "--connection",
            "team/other",
        ],
    ));
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        text(&out).contains("no snapshot of connection team/other"),
        "{}",
        text(&out)
    );
}

#[test]
fn verify_counts_only_valid_signatures_and_checks_the_head_anchor() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let key = SigningKey::from_seed([2; 32]);
    let snapshots = store_of(&store, 3, &key);
    let public = tmp.path().join("public.hex");
    std::fs::write(&public, key.verifying_key().to_hex()).unwrap();
    let url = store.to_str().unwrap();
    let head = format!("sha256:{}", snapshots[2].sha256);
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--store",
            url,
            "--public-key",
            public.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(operator(tmp.path(), &args))
    };

    let out = verify(&["--expect-head", &head, "--expect-sequence", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("3 of 3 signature(s) verified"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains(&format!("head: sequence 2 {} {head}", snapshots[2].id)));

    // A malformed anchor is a usage error, not a pass.
    let out = verify(&["--expect-head", &head[..20]]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The newest snapshot removed: only the anchor notices.
    let snapshots_dir = store.join("team/acme/snapshots");
    std::fs::remove_file(snapshots_dir.join("00000000000000000002.json")).unwrap();
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = verify(&["--expect-head", &head]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("PROBLEM head mismatch"),
        "{}",
        text(&out)
    );
    let out = verify(&["--expect-sequence", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // A signature by another key is present but not valid: not counted as verified.
    let other = SigningKey::from_seed([3; 32]);
    let sig = snapshots_dir.join(format!("{}.json.sig", snapshots[1].id));
    std::fs::write(
        &sig,
        serde_json::to_vec(&other.sign(&snapshots[1].sha256)).unwrap(),
    )
    .unwrap();
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("1 of 2 signature(s) verified"),
        "{}",
        text(&out)
    );

    // Anchors name one chain: with several connections one must be chosen.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = EvidenceStore::open(url).unwrap();
        commit(&store.connection(&"team/second".parse().unwrap()), 9, &key).await;
    });
    let out = run(operator(
        tmp.path(),
        &["verify", "--store", url, "--expect-head", &head],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--connection"), "{}", text(&out));
}

/// A simulated org (seed 42, small) and the key files of a run.
struct Org {
    sim: Simulator,
    api_key: String,
}

async fn org() -> Org {
    let sim = Simulator::start(SimulatorConfig {
        seed: 42,
        org: OrgSize::small(),
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts");
    let api_key = sim.read_only_key(Region::Us).expose_secret().to_owned();
    Org { sim, api_key }
}

impl Org {
    fn collect(&self, tmp: &Path, key_file: &Path, out: &Path, extra: &[&str]) -> Command {
        let base = self.sim.base_url(Region::Us).unwrap().to_string();
        let mut args = vec![
            "collect",
            "--api-key-file",
            key_file.to_str().unwrap(),
            "--base-url",
            &base,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        operator(tmp, &args)
    }
}

fn spool_parent(tmp: &Path) -> PathBuf {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    tmp.join(format!("jumpcloud-operator-spool-{uid}"))
}

/// Every file 0600 and every directory 0700 under `root` (the root included).
fn assert_private(root: &Path) {
    let mode = std::fs::metadata(root).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", root.display());
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_private(&path);
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_keeps_the_store_private_warns_about_open_key_files_and_sweeps_dead_spools() {
    let org = org().await;
    let tmp = tempfile::tempdir().unwrap();
    let key_file = tmp.path().join("api.key");
    std::fs::write(&key_file, format!("{}\n", org.api_key)).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let seed_hex = hex::encode([8u8; 32]);
    let signing_key = tmp.path().join("signing.key");
    std::fs::write(&signing_key, &seed_hex).unwrap();
    std::fs::set_permissions(&signing_key, std::fs::Permissions::from_mode(0o640)).unwrap();

    // What a SIGKILLed run leaves: its spool folder, records inside. Its pid has ended.
    let mut ended = Command::new("true").spawn().unwrap();
    let dead_pid = ended.id();
    ended.wait().unwrap();
    let stale = spool_parent(tmp.path()).join(format!("{dead_pid}-4242"));
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("tmp.spool"), b"{\"_id\":\"u1\"}\n").unwrap();

    let out_dir = tmp.path().join("evidence");
    let mut command = org.collect(
        tmp.path(),
        &key_file,
        &out_dir,
        &["--signing-key", signing_key.to_str().unwrap()],
    );
    // SAFETY: umask(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let out = tokio::task::spawn_blocking(move || run(command))
        .await
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");

    // Private under umask 000: the store directory the run created, and all within.
    assert_private(&out_dir);

    // Both secret files warned about by name and mode, never by content.
    for (file, mode) in [(&key_file, "0644"), (&signing_key, "0640")] {
        assert!(
            all.lines()
                .any(|line| line.contains("readable by group or others")
                    && line.contains(file.to_str().unwrap())
                    && line.contains(mode)),
            "no warning for {}: {all}",
            file.display()
        );
    }
    assert!(!all.contains(&org.api_key), "the API key was printed");
    assert!(!all.contains(&seed_hex), "the signing key was printed");

    // The commit is logged: connection, sequence, id, digest (an anchor).
    let store = EvidenceStore::open(out_dir.to_str().unwrap()).unwrap();
    let latest = store
        .connection(&CONNECTION.parse().unwrap())
        .latest()
        .await
        .unwrap()
        .unwrap();
    assert!(
        all.lines()
            .any(|line| line.contains("evidence snapshot committed")
                && line.contains(CONNECTION)
                && line.contains("sequence=0")
                && line.contains(latest.id.as_str())
                && line.contains(&format!("sha256:{}", latest.sha256))),
        "{all}"
    );

    // The dead run's spool folder is gone; this run's own folder went with its exit.
    assert!(!stale.exists(), "the stale spool folder was not swept");
    let left: Vec<_> = std::fs::read_dir(spool_parent(tmp.path()))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // `report` renders this snapshot, and refuses once a blob is damaged or missing.
    let url = out_dir.to_str().unwrap().to_owned();
    let report = move |tmp: PathBuf| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                run(operator(
                    &tmp,
                    &["report", "--store", &url, "--format", "markdown"],
                ))
            })
            .await
            .unwrap()
        }
    };
    let out = report(tmp.path().to_owned()).await;
    assert!(out.status.success(), "{}", text(&out));
    let blob = &latest.index.kinds[0].blobs[0].sha256;
    let blob_path = out_dir
        .join(CONNECTION)
        .join("blobs/sha256")
        .join(format!("{blob}.zst"));
    let original = std::fs::read(&blob_path).unwrap();
    let mut damaged = original.clone();
    damaged[0] ^= 1;
    std::fs::write(&blob_path, &damaged).unwrap();
    let out = report(tmp.path().to_owned()).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // A damaged compressed blob no longer decompresses: refused, naming its path.
    assert!(
        text(&out).contains(&format!("{blob}.zst cannot be decompressed"))
            && text(&out).contains("the evidence was altered or damaged"),
        "{}",
        text(&out)
    );
    std::fs::remove_file(&blob_path).unwrap();
    let out = report(tmp.path().to_owned()).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&format!("{blob}.zst of snapshot {} is missing", latest.id)));
    org.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collects_racing_for_one_connection_never_fork_its_chain() {
    let org = org().await;
    let tmp = tempfile::tempdir().unwrap();
    let key_file = tmp.path().join("api.key");
    std::fs::write(&key_file, format!("{}\n", org.api_key)).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out_dir = tmp.path().join("evidence");
    let children: Vec<_> = (0..2)
        .map(|_| {
            org.collect(tmp.path(), &key_file, &out_dir, &[])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    // Each run either committed, or lost the race and says so (exit 6, nothing committed).
    let mut committed = 0;
    for out in &outputs {
        match out.status.code() {
            Some(0) => committed += 1,
            Some(6) => assert!(
                text(out).contains(
                    "another writer committed sequence 0 of connection collect/default first"
                ),
                "{}",
                text(out)
            ),
            _ => panic!("{}", text(out)),
        }
    }
    assert!(committed >= 1);
    let store = EvidenceStore::open(out_dir.to_str().unwrap()).unwrap();
    let c = store.connection(&CONNECTION.parse().unwrap());
    assert_eq!(c.list_snapshots().await.unwrap().len(), committed);
    let report = verify_connection(&c, None).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    println!(
        "two racing collects: {committed} committed, {} refused",
        2 - committed
    );
    org.sim.shutdown().await;
}
