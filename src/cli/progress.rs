//! `collect`'s progress on stderr: on a terminal a live bar with kinds done, records written
//! against the records the listings announced, and an estimate of the time left; elsewhere one
//! plain line per finished kind (a log or a CI job gets no control characters); nothing with
//! `--quiet`.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::collect::CollectProgress;
use crate::jumpcloud::JumpCloudClient;

/// Number of evidence kinds a collection writes.
const KIND_COUNT: u64 = 39;

/// Progress of one collection.
pub struct Progress {
    client: JumpCloudClient,
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    started: Instant,
    kinds_done: AtomicU64,
    records: AtomicU64,
    /// Records the listings announced so far (first pages' totals, event counts).
    expected: AtomicU64,
    /// Peak memory (KiB) when the last kind was stored, before the evaluation and the commit.
    pub collection_peak_rss_kib: AtomicU64,
    // Serialises plain lines from concurrent kinds.
    lines: Mutex<()>,
}

impl Progress {
    /// `shown` false is `--quiet`.
    pub fn new(client: JumpCloudClient, shown: bool) -> Self {
        let terminal = shown && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(KIND_COUNT);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] kinds {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            client,
            bar,
            plain: shown && !terminal,
            started: Instant::now(),
            kinds_done: AtomicU64::new(0),
            records: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            collection_peak_rss_kib: AtomicU64::new(0),
            lines: Mutex::new(()),
        }
    }

    fn update(&self) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.kinds_done.load(Ordering::Relaxed));
            bar.set_message(message(
                self.records.load(Ordering::Relaxed),
                self.expected.load(Ordering::Relaxed),
                self.client.total_requests(),
                self.started.elapsed(),
            ));
        }
    }

    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl CollectProgress for Progress {
    fn kind_started(&self, _kind: &str) {
        self.update();
    }

    fn records_expected(&self, _kind: &str, records: u64) {
        self.expected.fetch_add(records, Ordering::Relaxed);
        self.update();
    }

    fn records_written(&self, _kind: &str, records: u64) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.update();
    }

    fn kind_finished(&self, kind: &str, records: u64, seconds: f64) {
        let done = self.kinds_done.fetch_add(1, Ordering::Relaxed) + 1;
        self.update();
        if self.plain {
            let _guard = self.lines.lock();
            eprintln!("[{done}/{KIND_COUNT}] {kind}: {records} records in {seconds:.2}s");
        }
    }

    fn collected(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "records {}, every kind stored; evaluating the controls and committing",
                self.records.load(Ordering::Relaxed)
            ));
        }
        self.collection_peak_rss_kib.store(
            super::collect::peak_rss_kib().unwrap_or(0),
            Ordering::Relaxed,
        );
    }
}

/// The time left at the rate so far, once some of the announced records are written and while
/// some are still to come. Listings announce their totals as their first pages arrive, so the
/// estimate grows with them early on; it never shows before the first records.
fn eta(written: u64, expected: u64, elapsed: Duration) -> Option<Duration> {
    if written == 0 || written >= expected {
        return None;
    }
    let left = (expected - written) as f64 / written as f64;
    Some(Duration::from_secs_f64(elapsed.as_secs_f64() * left))
}

/// `records 1200/5000 (24%), 37 requests, ETA 0:12`: the bar's message.
fn message(written: u64, expected: u64, requests: u64, elapsed: Duration) -> String {
    if expected == 0 {
        return format!("records {written}, {requests} requests");
    }
    let shown = written.min(expected);
    let percent = shown * 100 / expected;
    let mut text = format!("records {written}/{expected} ({percent}%), {requests} requests");
    if let Some(left) = eta(written, expected, elapsed) {
        let seconds = left.as_secs_f64().ceil() as u64;
        text.push_str(&format!(", ETA {}:{:02}", seconds / 60, seconds % 60));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_is_the_time_so_far_scaled_by_what_is_left() {
        let ten = Duration::from_secs(10);
        assert_eq!(eta(0, 100, ten), None, "no rate before the first record");
        assert_eq!(eta(25, 100, ten), Some(Duration::from_secs(30)));
        assert_eq!(eta(100, 100, ten), None, "nothing left");
        assert_eq!(
            eta(120, 100, ten),
            None,
            "more than announced (events without a count)"
        );
    }

    #[test]
    fn the_message_shows_totals_once_announced() {
        let ten = Duration::from_secs(10);
        assert_eq!(message(0, 0, 3, ten), "records 0, 3 requests");
        assert_eq!(
            message(1_200, 5_000, 37, Duration::from_secs(24)),
            "records 1200/5000 (24%), 37 requests, ETA 1:16"
        );
        assert_eq!(
            message(5_200, 5_000, 40, ten),
            "records 5200/5000 (100%), 40 requests"
        );
    }
}
