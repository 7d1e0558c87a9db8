//! Retention per connection: snapshots older than the retention period are removed, then blobs
//! that no remaining snapshot references. The newest snapshot is never removed. Deletion
//! failures (object-lock / WORM buckets answer 403) are reported, never fatal.

use std::collections::BTreeSet;

use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::Serialize;

use super::Result;
use super::connection::{ConnectionStore, list_all};
use super::layout::{MANIFEST_SUFFIX, SIGNATURE_SUFFIX, SnapshotId};

/// 12-month audit period plus margin.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

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
        Self::days(DEFAULT_RETENTION_DAYS)
    }
}

/// Snapshots to remove: older than the period, never the newest. Pure.
pub fn expired_snapshots(
    ids: &[SnapshotId],
    policy: &RetentionPolicy,
    now: jiff::Timestamp,
) -> Vec<SnapshotId> {
    let cutoff = now - policy.max_age;
    let newest = ids.iter().max();
    ids.iter()
        .filter(|id| Some(*id) != newest)
        .filter(|id| id.time().is_some_and(|time| time < cutoff))
        .cloned()
        .collect()
}

/// Blobs to remove: referenced by no remaining snapshot and older than the grace period. Pure.
pub fn unreferenced_blobs<'a>(
    blobs: &'a [(String, jiff::Timestamp)],
    referenced: &BTreeSet<String>,
    policy: &RetentionPolicy,
    now: jiff::Timestamp,
) -> Vec<&'a str> {
    let cutoff = now - policy.grace;
    blobs
        .iter()
        .filter(|(digest, modified)| !referenced.contains(digest) && *modified < cutoff)
        .map(|(digest, _)| digest.as_str())
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

/// Applies the policy to one connection.
pub async fn apply_retention(
    store: &ConnectionStore,
    policy: &RetentionPolicy,
    now: jiff::Timestamp,
) -> Result<RetentionReport> {
    let mut report = RetentionReport::default();
    let ids = store.list_snapshots().await?;
    for id in expired_snapshots(&ids, policy, now) {
        // Manifest first: once it is gone the snapshot is gone; a left-over signature or report
        // is inert.
        let manifest = store.layout.manifest(&id);
        match store.object.delete(&manifest).await {
            Ok(()) => {
                report.removed_snapshots.push(id.to_string());
                for derived in [store.layout.signature(&id), store.layout.report(&id)] {
                    if let Err(error) = store.object.delete(&derived).await
                        && !matches!(error, object_store::Error::NotFound { .. })
                    {
                        report
                            .failures
                            .push((derived.to_string(), error.to_string()));
                    }
                }
            }
            Err(error) => report
                .failures
                .push((manifest.to_string(), error.to_string())),
        }
    }

    // What the remaining snapshots reference. An unreadable manifest could reference anything:
    // then no blob is removed.
    let remaining = store.list_snapshots().await?;
    report.kept_snapshots = remaining.len();
    let mut referenced = BTreeSet::new();
    for id in &remaining {
        match store.load(id).await {
            Ok(snapshot) => referenced.extend(snapshot.blob_digests().map(str::to_owned)),
            Err(error) => {
                report.failures.push((
                    store.layout.manifest(id).to_string(),
                    format!("unreadable, so no blob was removed: {error}"),
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
    let doomed: Vec<Path> = unreferenced_blobs(&blobs, &referenced, policy, wall)
        .into_iter()
        .map(|digest| store.layout.blob(digest))
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
    let live: BTreeSet<&str> = remaining.iter().map(SnapshotId::as_str).collect();
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

    fn id(day: i64) -> SnapshotId {
        let time = jiff::Timestamp::from_second(1_767_225_600 + day * 86_400).unwrap();
        SnapshotId::new(time, &"a".repeat(64))
    }

    #[test]
    fn expires_old_snapshots_but_never_the_newest() {
        let ids: Vec<SnapshotId> = (0..10).map(id).collect();
        let policy = RetentionPolicy::days(3);
        let now = id(9).time().unwrap();
        assert_eq!(expired_snapshots(&ids, &policy, now), ids[..6].to_vec());
        // Long after the last sync: everything expired, the newest stays.
        let later = now + jiff::SignedDuration::from_hours(24 * 1000);
        assert_eq!(expired_snapshots(&ids, &policy, later), ids[..9].to_vec());
        assert!(expired_snapshots(&[], &policy, later).is_empty());
    }

    #[test]
    fn removes_only_old_unreferenced_blobs() {
        let now: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let old = now - jiff::SignedDuration::from_hours(48);
        let fresh = now - jiff::SignedDuration::from_hours(1);
        let blobs = vec![
            ("kept".to_owned(), old),
            ("garbage".to_owned(), old),
            ("in-flight".to_owned(), fresh),
        ];
        let referenced = BTreeSet::from(["kept".to_owned()]);
        assert_eq!(
            unreferenced_blobs(&blobs, &referenced, &RetentionPolicy::default(), now),
            ["garbage"]
        );
    }
}
