//! Retention per connection, in two steps so that every removal is on the record:
//!
//! 1. a commit given a policy decides ([`decide`]) which snapshots are older than the
//!    retention period and records them in its manifest ([`RetentionRecord`]: chained, and
//!    signed when signing is on); never the new snapshot's predecessor;
//! 2. after the commit, [`apply_retention`] deletes the snapshots the chain's records retire,
//!    then blobs that no remaining snapshot references. A crash in between leaves retired
//!    snapshots present, which `verify` accepts; the next run deletes them.
//!
//! A snapshot missing from the chain without such a record is a `verify` problem. Deletion
//! failures (object-lock / WORM buckets answer 403) are reported, never fatal.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::Serialize;

use super::Result;
use super::connection::{ConnectionStore, Snapshot, StoredManifest, list_all};
use super::encoding::Encoding;
use super::layout::{MANIFEST_SUFFIX, SIGNATURE_SUFFIX};
use super::manifest::{RetentionRecord, RetiredSnapshot};

#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    pub max_age: jiff::SignedDuration,
    /// Unreferenced files younger than this (by the store's modification time against the wall
    /// clock) are kept: they may belong to a sync in progress.
    pub grace: jiff::SignedDuration,
}

impl RetentionPolicy {
    pub fn days(days: u32) -> Self {
        RetentionPolicy {
            max_age: jiff::SignedDuration::from_hours(24 * i64::from(days)),
            grace: jiff::SignedDuration::from_hours(24),
        }
    }
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self::days(crate::defaults::RETENTION_DAYS)
    }
}

/// One snapshot of the chain as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub sequence: u64,
    pub created_at: jiff::Timestamp,
    pub id: String,
    pub sha256: String,
    /// `kept_from` of the snapshot's own retention record, if it has one.
    pub kept_from: Option<u64>,
}

impl From<&StoredManifest> for ChainLink {
    fn from(stored: &StoredManifest) -> Self {
        ChainLink {
            sequence: stored.manifest.sequence,
            created_at: stored.manifest.created_at,
            id: stored.id.to_string(),
            sha256: stored.sha256.clone(),
            kept_from: stored.manifest.retention.as_ref().map(|r| r.kept_from),
        }
    }
}

/// What earlier commits retired: every sequence below this. Pure.
pub fn retired_below(chain: &[ChainLink]) -> u64 {
    chain
        .iter()
        .filter_map(|link| link.kept_from)
        .max()
        .unwrap_or(0)
}

/// The retention record of a commit after `previous_sequence` (`None`: the chain's first):
/// snapshots older than the period are retired, and what earlier commits retired stays
/// retired; never the predecessor of the new snapshot, so its link stays checkable. Times
/// grow along the chain, so the retired snapshots are always its oldest. The retired range
/// grows only over snapshots that are present: a snapshot gone without a record (a hole) stops
/// it, so retention never covers a removal it did not make, and `verify` keeps reporting it.
/// Pure.
pub fn decide(
    chain: &[ChainLink],
    previous_sequence: Option<u64>,
    policy: &RetentionPolicy,
    now: jiff::Timestamp,
) -> Option<RetentionRecord> {
    let previous_sequence = previous_sequence?;
    let cutoff = now - policy.max_age;
    let created: BTreeMap<u64, jiff::Timestamp> = chain
        .iter()
        .map(|link| (link.sequence, link.created_at))
        .collect();
    let mut kept_from = retired_below(chain);
    while kept_from < previous_sequence
        && created.get(&kept_from).is_some_and(|time| *time < cutoff)
    {
        kept_from += 1;
    }
    (kept_from > 0).then(|| RetentionRecord {
        kept_from,
        retired: chain
            .iter()
            .filter(|link| link.sequence < kept_from)
            .map(|link| RetiredSnapshot {
                sequence: link.sequence,
                id: link.id.clone(),
                sha256: link.sha256.clone(),
            })
            .collect(),
    })
}

/// [`decide`] over the stored chain, for [`ConnectionStore::commit_after`].
pub(crate) fn record(
    chain: &[StoredManifest],
    previous: Option<&Snapshot>,
    policy: &RetentionPolicy,
    now: jiff::Timestamp,
) -> Option<RetentionRecord> {
    let links: Vec<ChainLink> = chain.iter().map(ChainLink::from).collect();
    decide(&links, previous.map(|p| p.manifest.sequence), policy, now)
}

/// Blob files to remove, by file name: of a content digest that no remaining snapshot
/// references (a chunk shared by a kept snapshot stays, whichever snapshot wrote it; either
/// encoding of a digest is the same content) and older than the grace period. A file whose
/// name is not a blob's is never removed. Pure.
pub fn unreferenced_blobs<'a>(
    blobs: &'a [(String, jiff::Timestamp)],
    referenced: &BTreeSet<String>,
    policy: &RetentionPolicy,
    now: jiff::Timestamp,
) -> Vec<&'a str> {
    let cutoff = now - policy.grace;
    blobs
        .iter()
        .filter(|(name, modified)| {
            Encoding::parse_file_name(name)
                .is_some_and(|(digest, _)| !referenced.contains(digest) && *modified < cutoff)
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionReport {
    pub removed_snapshots: Vec<String>,
    pub removed_blobs: usize,
    pub freed_bytes: u64,
    pub kept_snapshots: usize,
    /// Paths that could not be removed, with the reason (object lock, permissions).
    pub failures: Vec<(String, String)>,
}

fn modified(meta: &object_store::ObjectMeta) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(meta.last_modified.timestamp_millis())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Deletes what the chain's retention records retire, then unreferenced blobs and left-over
/// signatures older than the grace period.
pub async fn apply_retention(
    store: &ConnectionStore,
    policy: &RetentionPolicy,
    _now: jiff::Timestamp,
) -> Result<RetentionReport> {
    let mut report = RetentionReport::default();
    let chain = store.manifests().await?;
    let links: Vec<ChainLink> = chain.iter().map(ChainLink::from).collect();
    let kept_from = retired_below(&links);
    let mut remaining = Vec::new();
    for stored in chain {
        if stored.manifest.sequence >= kept_from {
            remaining.push(stored);
            continue;
        }
        // Manifest first: once it is gone the snapshot is gone; a left-over signature or report
        // is inert.
        let manifest = store.layout.manifest(&stored.name);
        match store.object.delete(&manifest).await {
            Ok(()) => {
                report.removed_snapshots.push(stored.id.to_string());
                let reports = Encoding::ALL.map(|e| store.layout.report_as(&stored.id, e));
                for derived in std::iter::once(store.layout.signature(&stored.id)).chain(reports) {
                    if let Err(error) = store.object.delete(&derived).await
                        && !matches!(error, object_store::Error::NotFound { .. })
                    {
                        report
                            .failures
                            .push((derived.to_string(), error.to_string()));
                    }
                }
            }
            Err(error) => {
                report
                    .failures
                    .push((manifest.to_string(), error.to_string()));
                // Still there, so what it references must stay.
                remaining.push(stored);
            }
        }
    }

    // What the remaining snapshots reference. An unreadable index could reference anything:
    // then no blob is removed.
    report.kept_snapshots = remaining.len();
    let mut referenced = BTreeSet::new();
    let live: BTreeSet<String> = remaining.iter().map(|m| m.id.to_string()).collect();
    for stored in remaining {
        let path = store.layout.manifest(&stored.name).to_string();
        match store.with_index(stored).await {
            Ok(snapshot) => referenced.extend(snapshot.blob_digests().map(str::to_owned)),
            Err(error) => {
                report.failures.push((
                    path,
                    format!("index unreadable, so no blob was removed: {error}"),
                ));
                return Ok(report);
            }
        }
    }
    let listed = list_all(&store.object, &store.layout.blobs_dir()).await?;
    let blobs: Vec<(String, jiff::Timestamp)> = listed
        .iter()
        .filter_map(|meta| {
            let name = meta.location.filename()?.to_owned();
            Some((name, modified(meta)))
        })
        .collect();
    let sizes: std::collections::BTreeMap<&str, u64> = listed
        .iter()
        .filter_map(|meta| Some((meta.location.filename()?, meta.size)))
        .collect();
    // Modification times come from the store's clock: compare them with the wall clock.
    let wall = jiff::Timestamp::now();
    let dir = store.layout.blobs_dir();
    let doomed: Vec<Path> = unreferenced_blobs(&blobs, &referenced, policy, wall)
        .into_iter()
        .map(|name| dir.clone().join(name))
        .collect();
    let results: Vec<(Path, object_store::Result<()>)> = futures::stream::iter(doomed)
        .map(|path| async move {
            let result = store.object.delete(&path).await;
            (path, result)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (path, result) in results {
        match result {
            Ok(()) => {
                report.removed_blobs += 1;
                report.freed_bytes += path
                    .filename()
                    .and_then(|n| sizes.get(n))
                    .copied()
                    .unwrap_or(0);
            }
            Err(error) => report.failures.push((path.to_string(), error.to_string())),
        }
    }

    // Signatures left by interrupted syncs.
    let cutoff = wall - policy.grace;
    for meta in list_all(&store.object, &store.layout.snapshots_dir()).await? {
        let Some(name) = meta.location.filename() else {
            continue;
        };
        if let Some(id) = name.strip_suffix(SIGNATURE_SUFFIX)
            && !live.contains(id)
            && !name.ends_with(MANIFEST_SUFFIX)
            && modified(&meta) < cutoff
            && let Err(error) = store.object.delete(&meta.location).await
        {
            report
                .failures
                .push((meta.location.to_string(), error.to_string()));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(sequence: u64) -> ChainLink {
        let time = jiff::Timestamp::from_second(1_767_225_600 + sequence as i64 * 86_400).unwrap();
        ChainLink {
            sequence,
            created_at: time,
            id: format!("id-{sequence}"),
            sha256: format!("{sequence:064}"),
            kept_from: None,
        }
    }

    fn retired(record: &Option<RetentionRecord>) -> (u64, Vec<u64>) {
        let record = record.as_ref().expect("a record");
        let sequences = record.retired.iter().map(|r| r.sequence).collect();
        (record.kept_from, sequences)
    }

    #[test]
    fn retires_old_snapshots_but_never_the_predecessor() {
        let chain: Vec<ChainLink> = (0..10).map(link).collect();
        let policy = RetentionPolicy::days(3);
        // The commit of day 10 after sequence 9: days 0..=6 are more than 3 days old.
        let now = link(10).created_at;
        let record = decide(&chain, Some(9), &policy, now);
        assert_eq!(retired(&record), (7, (0..7).collect()));
        // Long after the last sync: everything expired, the predecessor stays.
        let later = now + jiff::SignedDuration::from_hours(24 * 1000);
        assert_eq!(
            retired(&decide(&chain, Some(9), &policy, later)),
            (9, (0..9).collect())
        );
        // Nothing to retire: no record; the first commit retires nothing.
        assert_eq!(
            decide(&chain, Some(9), &RetentionPolicy::days(400), now),
            None
        );
        assert_eq!(decide(&[], None, &policy, later), None);
    }

    #[test]
    fn a_hole_stops_retention_so_it_never_covers_a_removal() {
        // Sequence 2 is gone without a record: retention retires 0 and 1, not past the hole.
        let chain: Vec<ChainLink> = (0..10).filter(|s| *s != 2).map(link).collect();
        let later = link(9).created_at + jiff::SignedDuration::from_hours(24 * 1000);
        let record = decide(&chain, Some(9), &RetentionPolicy::days(3), later);
        assert_eq!(retired(&record), (2, vec![0, 1]));
        // A hole at the start: nothing is retired.
        let chain: Vec<ChainLink> = (1..10).map(link).collect();
        assert_eq!(
            decide(&chain, Some(9), &RetentionPolicy::days(3), later),
            None
        );
    }

    #[test]
    fn earlier_records_stay_in_force() {
        // Sequences 0..5 were retired by sequence 5's record and are gone; nothing new expired.
        let mut chain: Vec<ChainLink> = (5..8).map(link).collect();
        chain[0].kept_from = Some(5);
        let record = decide(
            &chain,
            Some(7),
            &RetentionPolicy::days(400),
            link(8).created_at,
        );
        assert_eq!(retired(&record), (5, vec![]));
        assert_eq!(retired_below(&chain), 5);
    }

    #[test]
    fn removes_only_old_unreferenced_blobs() {
        let now: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let old = now - jiff::SignedDuration::from_hours(48);
        let fresh = now - jiff::SignedDuration::from_hours(1);
        let digest = |c: char| c.to_string().repeat(64);
        let blobs = vec![
            (format!("{}.zst", digest('a')), old),
            (digest('a'), old),
            (format!("{}.zst", digest('b')), old),
            (digest('b'), old),
            (format!("{}.zst", digest('c')), fresh),
            (digest('c'), old),
            ("notes.txt".to_owned(), old),
        ];
        let referenced = BTreeSet::from([digest('a')]);
        assert_eq!(
            unreferenced_blobs(&blobs, &referenced, &RetentionPolicy::default(), now),
            [format!("{}.zst", digest('b')), digest('b'), digest('c')]
        );
    }
}
