//! A crash mid-write leaves no corrupt evidence, on S3: s3s-fs served in-process behind a
//! wrapper that counts the write requests and kills the `collect` child on receiving the Nth,
//! before that request reaches storage. Deterministic kill points: every write of a later run
//! and a spread over a connection's first run, plus a kill right after the manifest PUT was
//! stored. `collect` stores a snapshot as content-addressed blobs (one per evidence kind), then
//! the index and control-results blobs, the signature, and the manifest LAST with one
//! create-only PUT (the commit point), then the auditor report. The properties checked after
//! each kill are in `crash_support`.

mod crash_support;
mod s3_support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crash_support::*;
use jumpcloud_operator::store::Snapshot;
use jumpcloud_simulator::Simulator;

/// Waits (polling, with [`DEADLINE`]) for a child shared with the S3 wrapper to exit.
async fn wait_for_exit(child: &Mutex<Option<Child>>, label: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        // Locked only for the look: the wrapper needs the lock to kill.
        let status = child
            .lock()
            .expect("child lock")
            .as_mut()
            .expect("a child")
            .try_wait()
            .expect("child status");
        if let Some(status) = status {
            return status;
        }
        assert!(start.elapsed() < DEADLINE, "{label}: the child never ended");
        tokio::time::sleep(POLL).await;
    }
}

/// When the wrapper kills the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillAt {
    /// Never: a reference run, counting its writes.
    Never,
    /// On receiving the Nth write (1-based), before it reaches storage.
    Write(usize),
    /// Right after the manifest PUT was stored, before the child hears back: committed, and
    /// nothing after it (the auditor report) is written.
    AfterManifest,
}

/// What one wrapper instance has seen and done.
struct KillSwitch {
    kill_at: KillAt,
    /// The child to kill; set (under this lock) when it is spawned, so no write can arrive
    /// before the wrapper can kill its sender.
    child: Mutex<Option<Child>>,
    /// `METHOD path` of every write that arrived before the kill, in arrival order.
    writes: Mutex<Vec<String>>,
    /// Set at the kill: from then on nothing is forwarded, as nothing would come from a dead
    /// process (requests it had already sent in full are the server's to finish).
    killed: AtomicBool,
    /// Writes forwarded to storage and not yet answered.
    in_flight: AtomicUsize,
    /// Whether the manifest PUT reached storage.
    manifest_forwarded: AtomicBool,
}

impl KillSwitch {
    fn new(kill_at: KillAt) -> Arc<Self> {
        Arc::new(KillSwitch {
            kill_at,
            child: Mutex::new(None),
            writes: Mutex::new(Vec::new()),
            killed: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            manifest_forwarded: AtomicBool::new(false),
        })
    }

    /// Marks the run dead, then SIGKILLs it (what `Child::kill` sends on Unix): no
    /// destructor, flush or cleanup of the child runs. `killed` is set under the writes lock,
    /// so a write racing with the kill is either counted before it or refused after it.
    fn kill(&self) {
        self.killed_under(&mut self.writes.lock().expect("writes lock"));
        if let Some(child) = self.child.lock().expect("child lock").as_mut() {
            child.kill().expect("SIGKILL sent");
        }
    }

    /// Sets `killed`; the caller holds the writes lock (`_writes` proves it).
    fn killed_under(&self, _writes: &mut Vec<String>) {
        self.killed.store(true, Ordering::SeqCst);
    }

    fn writes(&self) -> Vec<String> {
        self.writes.lock().expect("writes lock").clone()
    }

    /// Waits until no forwarded write is still being stored, so the checks see the final state.
    async fn settle(&self, label: &str) {
        let start = Instant::now();
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            assert!(
                start.elapsed() < DEADLINE,
                "{label}: writes still in flight"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The manifest is the one write under `snapshots/` named `<id>.json` (signatures end `.sig`).
fn is_manifest(path: &str) -> bool {
    path.contains("/snapshots/") && path.ends_with(".json")
}

/// s3s-fs behind the kill switch: counts PUT and POST requests and kills the child where told.
#[derive(Clone)]
struct KillingS3 {
    inner: s3s::service::S3Service,
    switch: Arc<KillSwitch>,
}

/// Counts a forwarded write as in flight until its request is answered or dropped.
struct InFlight(Arc<KillSwitch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refused() -> s3s::HttpResponse {
    let mut response = s3s::HttpResponse::new(s3s::Body::empty());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for KillingS3 {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = futures::future::BoxFuture<'static, Result<s3s::HttpResponse, s3s::HttpError>>;

    fn call(&self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let is_write = matches!(*request.method(), http::Method::PUT | http::Method::POST);
        if !is_write {
            return hyper::service::Service::call(&self.inner, request);
        }
        let path = request.uri().path().to_owned();
        let switch = self.switch.clone();
        // Counting, deciding and killing happen here, synchronously, before anything of the
        // request is forwarded: write N never reaches storage when the kill is at N.
        {
            let mut writes = switch.writes.lock().expect("writes lock");
            if switch.killed.load(Ordering::SeqCst) {
                return Box::pin(async { Ok(refused()) });
            }
            writes.push(format!("{} {path}", request.method()));
            if switch.kill_at == KillAt::Write(writes.len()) {
                // Dead from here on for every other request, before the lock is let go.
                switch.killed_under(&mut writes);
                drop(writes);
                switch.kill();
                return Box::pin(async { Ok(refused()) });
            }
            switch.in_flight.fetch_add(1, Ordering::SeqCst);
            if is_manifest(&path) {
                switch.manifest_forwarded.store(true, Ordering::SeqCst);
            }
        }
        let guard = InFlight(switch.clone());
        let forwarded = hyper::service::Service::call(&self.inner, request);
        Box::pin(async move {
            let response = forwarded.await;
            let stored = response.as_ref().is_ok_and(|r| r.status().is_success());
            // (A manifest PUT that failed kills nothing: the run ends on its own and the
            // test sees a child that was not killed.)
            if switch.kill_at == KillAt::AfterManifest && is_manifest(&path) && stored {
                switch.kill();
                drop(guard);
                return Ok(refused());
            }
            drop(guard);
            response
        })
    }
}

/// A `collect` child that ran against a kill switch.
struct S3Run {
    switch: Arc<KillSwitch>,
    status: std::process::ExitStatus,
    stderr: String,
}

/// One `collect` child against a fresh S3 server over `root`, with the kill switch armed.
/// When this returns the child has ended and every write forwarded to storage has settled.
async fn collect_on_s3_with(
    root: &Path,
    kill_at: KillAt,
    sim: &Simulator,
    keys: &Keys,
    label: &str,
) -> S3Run {
    let switch = KillSwitch::new(kill_at);
    let server = s3_support::serve(KillingS3 {
        inner: s3_support::s3_service(root),
        switch: switch.clone(),
    })
    .await;
    let logs = tempfile::tempdir().expect("log dir");
    let mut command = Target::S3(&server).collect(sim, keys);
    // Files, not pipes: a child nobody reads from must not block on a full pipe.
    command
        .stdout(std::fs::File::create(logs.path().join("stdout")).expect("stdout file"))
        .stderr(std::fs::File::create(logs.path().join("stderr")).expect("stderr file"));
    {
        let mut slot = switch.child.lock().expect("child lock");
        *slot = Some(command.spawn().expect("collect starts"));
    }
    let status = wait_for_exit(&switch.child, label).await;
    switch.settle(label).await;
    let stderr = std::fs::read_to_string(logs.path().join("stderr")).unwrap_or_default();
    if kill_at == KillAt::Never {
        assert!(status.success(), "{label}: {status}\n{stderr}");
    }
    S3Run {
        switch,
        status,
        stderr,
    }
}

/// The writes of one uninterrupted run from `base` (a copy of it, `base` stays as it was), and
/// the 1-based position of its manifest PUT among them.
async fn writes_of_a_full_run(
    base: &Path,
    scratch: &Path,
    sim: &Simulator,
    keys: &Keys,
    label: &str,
) -> (Vec<String>, usize) {
    copy_tree(base, scratch);
    let run = collect_on_s3_with(scratch, KillAt::Never, sim, keys, label).await;
    std::fs::remove_dir_all(scratch).expect("scratch removed");
    let writes = run.switch.writes();
    let manifest_at = 1 + writes
        .iter()
        .position(|w| is_manifest(w))
        .expect("a full run writes a manifest");
    assert!(
        manifest_at == writes.len() - 1 && writes[manifest_at].contains("/reports/"),
        "{label}: the manifest is committed last, only the report follows: {writes:?}"
    );
    (writes, manifest_at)
}

/// Kills a run at each of `points`, every time from a fresh copy of `base` (whose latest
/// snapshot is `previous`), and checks the three properties. Returns how many runs died
/// before and after their commit.
async fn kill_on_s3_at_each(
    points: &[KillAt],
    base: &Path,
    previous: Option<&Snapshot>,
    manifest_at: usize,
    sim: &Simulator,
    keys: &Keys,
    name: &str,
) -> (usize, usize) {
    let (mut before_commit, mut after_commit) = (0, 0);
    let last_write = manifest_at + 1;
    for kill_at in points.iter().copied() {
        let label = format!("S3 {name}: kill at {kill_at:?} of {last_write} writes");
        let scratch = tempfile::tempdir().expect("run dir");
        let root = scratch.path();
        copy_tree(base, root);
        let S3Run {
            switch,
            status,
            stderr,
        } = collect_on_s3_with(root, kill_at, sim, keys, &label).await;
        assert_eq!(
            status.signal(),
            Some(9),
            "{label}: the child was not killed ({status}); it wrote {:?}\n{stderr}",
            switch.writes()
        );
        // Deterministic: whether the run committed follows from the kill point alone.
        let committed = switch.manifest_forwarded.load(Ordering::SeqCst);
        let expected = match kill_at {
            KillAt::Write(n) => n > manifest_at,
            _ => true,
        };
        assert_eq!(committed, expected, "{label}: {:?}", switch.writes());
        if committed {
            after_commit += 1;
        } else {
            before_commit += 1;
        }

        // The dead run's server (which refuses every write since the kill) is gone; the store
        // is read, and written next, through a plain one over the same directory.
        let server = s3_support::serve_dir(root).await;
        let target = Target::S3(&server);
        if previous.is_none() && !committed {
            assert_verify_finds_nothing(target, keys, &label).await;
        } else {
            assert_verify_passes(target, keys, &label).await;
        }
        let latest =
            assert_crash_left_consistent_store(target, previous, committed, keys, &label).await;
        if committed {
            // The report after the commit never came: the snapshot stands without it (it can
            // be rendered again from the evidence).
            let latest = latest.as_ref().expect("committed");
            let report = target.connection().read_report(&latest.id).await;
            assert!(
                matches!(report, Ok(None)),
                "{label}: report {:?}",
                report.map(|r| r.map(|b| b.len()))
            );
        }
        assert_next_run_continues_the_chain(target, sim, latest.as_ref(), keys, &label).await;
    }
    (before_commit, after_commit)
}

/// A store with one committed snapshot: the S3 server's root directory, and that snapshot.
async fn s3_store_with_one_snapshot(root: &Path, day: jiff::Timestamp, keys: &Keys) -> Snapshot {
    let previous_sim = simulator_at(day, Duration::ZERO).await;
    collect_on_s3_with(root, KillAt::Never, &previous_sim, keys, "previous").await;
    previous_sim.shutdown().await;
    let server = s3_support::serve_dir(root).await;
    let store = Target::S3(&server).connection();
    let previous = store
        .latest()
        .await
        .expect("store readable")
        .expect("the previous snapshot");
    assert_loads_completely(&store, &previous, keys, "previous").await;
    previous
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_kill_at_any_write_leaves_the_store_consistent() {
    let started = Instant::now();
    let keys = Keys::new();
    let work = tempfile::tempdir().expect("work dir");
    let base = work.path().join("base");
    let day = previous_day();
    let previous = s3_store_with_one_snapshot(&base, day, &keys).await;

    // The run to be killed, once uninterrupted: its writes are the kill points.
    let sim = simulator_at(day + jiff::SignedDuration::from_hours(24), Duration::ZERO).await;
    let (writes, manifest_at) = writes_of_a_full_run(
        &base,
        &work.path().join("reference"),
        &sim,
        &keys,
        "reference",
    )
    .await;
    let total = writes.len();
    println!(
        "S3: each killed run writes {total} objects: {} blobs, the signature, the manifest \
         (#{manifest_at}), the report",
        writes.iter().filter(|w| w.contains("/blobs/")).count()
    );
    // Kinds whose records do not change with the clock are the same blobs as the day before
    // and are not stored again; the others are new.
    assert!(
        total >= 12,
        "too few writes to be worth killing: {writes:?}"
    );

    // Every write is a kill point, then one more right after the commit.
    let mut points: Vec<KillAt> = (1..=total).map(KillAt::Write).collect();
    points.push(KillAt::AfterManifest);
    let (before_commit, after_commit) = kill_on_s3_at_each(
        &points,
        &base,
        Some(&previous),
        manifest_at,
        &sim,
        &keys,
        "next run",
    )
    .await;
    sim.shutdown().await;
    println!(
        "S3: {} kill points (every write 1..={total}, then after the manifest PUT): \
         {before_commit} before the commit, {after_commit} after; {:.1}s",
        points.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_kill_during_the_first_run_leaves_no_snapshot_or_a_complete_one() {
    let started = Instant::now();
    let keys = Keys::new();
    let work = tempfile::tempdir().expect("work dir");
    // An empty bucket: the killed run is the connection's first, every kind is a new blob.
    let empty = work.path().join("empty");
    std::fs::create_dir_all(empty.join(s3_support::BUCKET)).expect("empty bucket");
    let sim = simulator_at(previous_day(), Duration::ZERO).await;
    let (writes, manifest_at) = writes_of_a_full_run(
        &empty,
        &work.path().join("reference"),
        &sim,
        &keys,
        "first run",
    )
    .await;
    let total = writes.len();
    // A spread, not every write (the later-run test above takes every one): the first write,
    // the middle, the last blob, the signature, the manifest, the report, after the commit.
    let mut points: Vec<KillAt> = [1, 2, total / 2, total - 3, total - 2, total - 1, total]
        .into_iter()
        .map(KillAt::Write)
        .collect();
    points.dedup();
    points.push(KillAt::AfterManifest);
    let (before_commit, after_commit) =
        kill_on_s3_at_each(&points, &empty, None, manifest_at, &sim, &keys, "first run").await;
    sim.shutdown().await;
    println!(
        "S3 first run: {total} writes, {} kill points {points:?}: {before_commit} before the \
         commit, {after_commit} after; {:.1}s",
        points.len(),
        started.elapsed().as_secs_f64()
    );
}
