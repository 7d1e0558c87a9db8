//! Offline verification: every blob re-hashed, every manifest checked against its name, the
//! hash chain followed (no fork, no hole that a retention record does not account for),
//! signatures checked with a public key, the head compared with an anchor kept outside the
//! store. Every problem names its path.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::connection::{ConnectionStore, list_all, object_error};
use super::encoding::{Encoding, content_stream};
use super::layout::{ManifestName, SIGNATURE_SUFFIX, SnapshotId};
use super::manifest::{BlobRef, RetentionRecord, SnapshotManifest, check_format, sha256_hex};
use super::sign::{SignatureFile, VerifyingKey};
use super::{Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A blob's content does not hash to its name.
    BlobCorrupt,
    /// A manifest references a blob that is not there.
    BlobMissing,
    /// A blob's size or line count differs from what a manifest says.
    BlobMismatch,
    /// A manifest cannot be read or parsed, or is of an unknown format.
    ManifestInvalid,
    /// A manifest's content does not hash to the digest in its name.
    ManifestDigestMismatch,
    /// A manifest's connection or time disagrees with where it is stored.
    ManifestMisplaced,
    /// A manifest does not point at the snapshot before it, or two claim one sequence.
    ChainBroken,
    /// Snapshots of the chain are gone and no retention record accounts for them.
    SnapshotMissing,
    /// The head of the chain is not the one the anchor kept outside the store names.
    HeadMismatch,
    /// A public key was given and a manifest has no signature.
    SignatureMissing,
    /// A signature does not verify with the given public key.
    SignatureInvalid,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ProblemKind::BlobCorrupt => "blob corrupt",
            ProblemKind::BlobMissing => "blob missing",
            ProblemKind::BlobMismatch => "blob mismatch",
            ProblemKind::ManifestInvalid => "manifest invalid",
            ProblemKind::ManifestDigestMismatch => "manifest altered",
            ProblemKind::ManifestMisplaced => "manifest misplaced",
            ProblemKind::ChainBroken => "chain broken",
            ProblemKind::SnapshotMissing => "snapshot missing",
            ProblemKind::HeadMismatch => "head mismatch",
            ProblemKind::SignatureMissing => "signature missing",
            ProblemKind::SignatureInvalid => "signature invalid",
        };
        f.write_str(text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub path: String,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.kind, self.path, self.detail)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub connection: String,
    pub snapshots: usize,
    /// Snapshots with a signature file (checked only when a public key was given).
    pub signed: usize,
    /// Signatures that verified with the given public key.
    pub valid_signatures: usize,
    /// The newest snapshot of the chain (highest sequence), compared with an anchor by
    /// [`check_head`].
    pub head: Option<Head>,
    pub blobs: usize,
    /// Content bytes re-hashed (decompressed).
    pub blob_bytes: u64,
    /// Bytes the blobs take in the store (compressed).
    pub stored_bytes: u64,
    pub problems: Vec<Problem>,
    /// Facts that are not problems (a chain that starts after retention, stray files).
    pub notes: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub sequence: u64,
    pub id: String,
    /// `sha256:<hex>` of the head manifest, as the operator's status and commit log show it.
    pub digest: String,
}

/// What an auditor kept outside the store: the connection's `status.evidence.snapshot.digest`,
/// the commit log line or the head-sequence metric.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadAnchor {
    /// The head manifest's SHA-256 (hex): the head must be exactly this snapshot.
    pub digest: Option<String>,
    /// The head must be at least this far along the chain.
    pub min_sequence: Option<u64>,
}

/// Compares the verified head with the anchor; a mismatch is a [`ProblemKind::HeadMismatch`].
/// Pure.
pub fn check_head(report: &mut VerifyReport, anchor: &HeadAnchor) {
    let path = format!("{}/snapshots", report.connection);
    let head = report.head.clone();
    let mut mismatch = |detail: String| {
        report.problems.push(Problem {
            kind: ProblemKind::HeadMismatch,
            path: path.clone(),
            detail,
        })
    };
    let shown = |head: &Head| format!("sequence {} ({}, {})", head.sequence, head.id, head.digest);
    if let Some(digest) = &anchor.digest {
        match &head {
            Some(head) if head.digest == format!("sha256:{digest}") => {}
            Some(head) => mismatch(format!(
                "the head is {}, the anchor says sha256:{digest}: snapshots after it were removed, or it was replaced",
                shown(head)
            )),
            None => mismatch(format!(
                "no snapshot at all, the anchor says sha256:{digest}"
            )),
        }
    }
    if let Some(minimum) = anchor.min_sequence {
        match &head {
            Some(head) if head.sequence >= minimum => {}
            Some(head) => mismatch(format!(
                "the head is {}, the anchor says the chain reached sequence {minimum}: later snapshots were removed",
                shown(head)
            )),
            None => mismatch(format!(
                "no snapshot at all, the anchor says the chain reached sequence {minimum}"
            )),
        }
    }
}

/// What one manifest file turned out to be.
#[derive(Debug, Clone)]
pub struct ManifestCheck {
    /// The snapshot id (from a legacy name, or from the content); `None` when unreadable.
    pub id: Option<SnapshotId>,
    pub path: String,
    /// Digest of the bytes as stored.
    pub sha256: String,
    pub manifest: Option<SnapshotManifest>,
}

impl ManifestCheck {
    fn sequence(&self) -> Option<u64> {
        self.manifest.as_ref().map(|m| m.sequence)
    }

    fn shown(&self) -> String {
        self.id
            .as_ref()
            .map_or_else(|| self.path.clone(), SnapshotId::to_string)
    }
}

/// `a` alone or `a..=b`.
fn range(from: u64, to: u64) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}..={to}")
    }
}

/// Checks the chain of manifests, in chain order: each points at the one before it, the
/// sequence has no hole and no double, and whatever is missing is retired by a retention
/// record of a present manifest. Pure.
pub fn check_chain(manifests: &[ManifestCheck]) -> (Vec<Problem>, Vec<String>) {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let retirements: Vec<(u64, &ManifestCheck, &RetentionRecord)> = manifests
        .iter()
        .filter_map(|check| {
            let manifest = check.manifest.as_ref()?;
            Some((manifest.sequence, check, manifest.retention.as_ref()?))
        })
        .collect();
    let kept_from = retirements
        .iter()
        .map(|(_, _, record)| record.kept_from)
        .max()
        .unwrap_or(0);
    // Who retired a sequence: the earliest present record naming it, else the one with the
    // highest `kept_from` (its record covers everything below).
    let retired_by = |sequence: u64| -> String {
        retirements
            .iter()
            .find(|(_, _, record)| record.retired.iter().any(|r| r.sequence == sequence))
            .or_else(|| retirements.iter().max_by_key(|(_, _, r)| r.kept_from))
            .map_or_else(String::new, |(by, check, _)| {
                format!("sequence {by} ({})", check.shown())
            })
    };
    let missing = |from: u64,
                   to: u64,
                   at: &ManifestCheck,
                   problems: &mut Vec<Problem>,
                   notes: &mut Vec<String>| {
        if to < kept_from {
            notes.push(format!(
                "sequence {} removed (retention), recorded by {}",
                range(from, to),
                retired_by(to)
            ));
        } else {
            problems.push(Problem {
                kind: ProblemKind::SnapshotMissing,
                path: at.path.clone(),
                detail: format!(
                    "sequence {} before it is missing and no retention record accounts for it",
                    range(from, to)
                ),
            });
        }
    };
    let mut before: Option<&ManifestCheck> = None;
    for check in manifests {
        let Some(manifest) = &check.manifest else {
            before = Some(check);
            continue;
        };
        if manifest.sequence < kept_from {
            notes.push(format!(
                "sequence {} ({}) is retired by {}; its deletion is pending",
                manifest.sequence,
                check.shown(),
                retired_by(manifest.sequence)
            ));
        }
        let expected_sequence = match before {
            None => 0,
            Some(before) => before
                .sequence()
                .map_or(manifest.sequence, |sequence| sequence + 1),
        };
        if manifest.sequence < expected_sequence {
            problems.push(Problem {
                kind: ProblemKind::ChainBroken,
                path: check.path.clone(),
                detail: format!(
                    "a second snapshot at sequence {} (the chain forked: two writers committed after the same snapshot)",
                    manifest.sequence
                ),
            });
            continue;
        }
        if manifest.sequence > expected_sequence {
            missing(
                expected_sequence,
                manifest.sequence - 1,
                check,
                &mut problems,
                &mut notes,
            );
            if manifest.previous.is_none() {
                problems.push(Problem {
                    kind: ProblemKind::ChainBroken,
                    path: check.path.clone(),
                    detail: format!("sequence {} has no previous snapshot", manifest.sequence),
                });
            }
            before = Some(check);
            continue;
        }
        match (before, &manifest.previous) {
            (None, None) => {}
            (None, Some(previous)) => problems.push(Problem {
                kind: ProblemKind::ChainBroken,
                path: check.path.clone(),
                detail: format!("sequence 0 claims a previous snapshot {}", previous.id),
            }),
            (Some(expected), previous) => {
                let points_right = previous.as_ref().is_some_and(|previous| {
                    expected
                        .id
                        .as_ref()
                        .is_none_or(|id| previous.id == id.as_str())
                        && previous.sha256 == expected.sha256
                });
                if !points_right {
                    let found = previous.as_ref().map_or("nothing".to_owned(), |p| {
                        format!("{} (sha256 {})", p.id, &p.sha256[..16.min(p.sha256.len())])
                    });
                    problems.push(Problem {
                        kind: ProblemKind::ChainBroken,
                        path: check.path.clone(),
                        detail: format!(
                            "previous snapshot is {found}, expected {} (sha256 {})",
                            expected.shown(),
                            &expected.sha256[..16]
                        ),
                    });
                }
            }
        }
        before = Some(check);
    }
    (problems, notes)
}

struct BlobFacts {
    sha256: String,
    /// Content bytes and lines (decompressed).
    bytes: u64,
    lines: u64,
    /// Why the stored bytes could not be decompressed, if they could not.
    undecodable: Option<String>,
}

/// Hashes a blob's content, decompressing it as it streams. Store errors are errors; content
/// that does not decompress is a fact (a problem in the report).
async fn hash_blob(
    store: &ConnectionStore,
    path: &object_store::path::Path,
    encoding: Encoding,
) -> Result<BlobFacts> {
    let stored = store
        .object
        .get(path)
        .await
        .map_err(object_error("read", path))?
        .into_stream();
    let mut content = content_stream(stored, path.clone(), encoding);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let mut undecodable = None;
    loop {
        match content.try_next().await {
            Ok(Some(piece)) => {
                hasher.update(&piece);
                bytes += piece.len() as u64;
                lines += piece.iter().filter(|b| **b == b'\n').count() as u64;
            }
            Ok(None) => break,
            Err(StoreError::Undecodable { reason, .. }) => {
                undecodable = Some(reason);
                break;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(BlobFacts {
        sha256: hex::encode(hasher.finalize()),
        bytes,
        lines,
        undecodable,
    })
}

/// Verifies one connection. Store errors (unreachable, denied) are errors; everything wrong
/// with the evidence itself is a [`Problem`] in the report.
pub async fn verify_connection(
    store: &ConnectionStore,
    public_key: Option<&VerifyingKey>,
) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        connection: store.connection().to_string(),
        ..Default::default()
    };

    // Blobs: each decompressed and re-hashed, a few at a time. The name is the digest of the
    // content, whatever the encoding its suffix says.
    let mut blob_objects = Vec::new();
    for meta in list_all(&store.object, &store.layout.blobs_dir()).await? {
        let name = meta.location.filename().unwrap_or_default();
        match Encoding::parse_file_name(name) {
            Some((digest, encoding)) => blob_objects.push((digest.to_owned(), encoding, meta)),
            None => report
                .notes
                .push(format!("unexpected file {}", meta.location)),
        }
    }
    let hashed: Vec<(String, String, u64, Result<BlobFacts>)> = futures::stream::iter(blob_objects)
        .map(|(digest, encoding, meta)| async move {
            let facts = hash_blob(store, &meta.location, encoding).await;
            (digest, meta.location.to_string(), meta.size, facts)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut blobs: BTreeMap<String, BlobFacts> = BTreeMap::new();
    for (digest, path, stored_bytes, facts) in hashed {
        let facts = facts?;
        report.blobs += 1;
        report.blob_bytes += facts.bytes;
        report.stored_bytes += stored_bytes;
        if let Some(reason) = &facts.undecodable {
            report.problems.push(Problem {
                kind: ProblemKind::BlobCorrupt,
                path,
                detail: format!("cannot be decompressed: {reason}"),
            });
        } else if facts.sha256 != digest {
            report.problems.push(Problem {
                kind: ProblemKind::BlobCorrupt,
                path,
                detail: format!("content hashes to {}", facts.sha256),
            });
        }
        // Both encodings of one digest (an old blob, then a new one): each was checked; a bad
        // one is reported, and the good one keeps serving references.
        let good = facts.undecodable.is_none() && facts.sha256 == digest;
        match blobs.get(&digest) {
            Some(known) if known.undecodable.is_none() && known.sha256 == digest && !good => {}
            _ => {
                blobs.insert(digest, facts);
            }
        }
    }

    // Manifests and signatures.
    let snapshot_objects = list_all(&store.object, &store.layout.snapshots_dir()).await?;
    let mut names = Vec::new();
    let mut signatures = BTreeSet::new();
    for meta in &snapshot_objects {
        let name = meta.location.filename().unwrap_or_default();
        if let Some(id) = name.strip_suffix(SIGNATURE_SUFFIX) {
            signatures.insert(id.to_owned());
        } else if let Some(manifest) = ManifestName::parse(name) {
            names.push(manifest);
        } else {
            report
                .notes
                .push(format!("unexpected file {}", meta.location));
        }
    }
    names.sort();
    report.snapshots = names.len();

    let mut checks = Vec::new();
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    for name in &names {
        let path = store.layout.manifest(name).to_string();
        let bytes = store.manifest_bytes(name).await?;
        let sha256 = sha256_hex(&bytes);
        let manifest = match serde_json::from_slice::<SnapshotManifest>(&bytes) {
            Ok(manifest) => match check_format(&manifest.format) {
                Ok(()) => Some(manifest),
                Err(detail) => {
                    report.problems.push(Problem {
                        kind: ProblemKind::ManifestInvalid,
                        path: path.clone(),
                        detail,
                    });
                    None
                }
            },
            Err(error) => {
                report.problems.push(Problem {
                    kind: ProblemKind::ManifestInvalid,
                    path: path.clone(),
                    detail: error.to_string(),
                });
                None
            }
        };
        let id = match name {
            ManifestName::Legacy(id) => {
                if !sha256.starts_with(id.digest_prefix()) {
                    report.problems.push(Problem {
                        kind: ProblemKind::ManifestDigestMismatch,
                        path: path.clone(),
                        detail: format!(
                            "content hashes to {sha256}, its name says {}",
                            id.digest_prefix()
                        ),
                    });
                }
                Some(id.clone())
            }
            ManifestName::Sequence(sequence) => {
                if let Some(manifest) = &manifest
                    && manifest.sequence != *sequence
                {
                    report.problems.push(Problem {
                        kind: ProblemKind::ManifestMisplaced,
                        path: path.clone(),
                        detail: format!(
                            "holds sequence {}, its name says {sequence}",
                            manifest.sequence
                        ),
                    });
                }
                manifest
                    .as_ref()
                    .map(|m| SnapshotId::new(m.created_at, &sha256))
            }
        };
        let mut index_digests = Vec::new();
        if let (Some(manifest), Some(id)) = (&manifest, &id) {
            index_digests = check_manifest(&mut report, store, id, &path, manifest, &blobs).await;
        }
        // Signatures: named by the id, so by the manifest's digest.
        if let Some(id) = &id {
            check_signatures(
                &mut report,
                store,
                public_key,
                &mut signatures,
                id,
                &path,
                &sha256,
            )
            .await;
        }
        checks.push(ManifestCheck {
            id,
            path,
            sha256,
            manifest,
        });
        referenced.extend(index_digests);
    }
    for orphan in signatures {
        report.notes.push(format!(
            "signature without manifest (an interrupted sync): {orphan}{SIGNATURE_SUFFIX}"
        ));
    }
    report.head = checks
        .iter()
        .filter_map(|check| Some((check, check.manifest.as_ref()?, check.id.as_ref()?)))
        .max_by_key(|(_, manifest, _)| manifest.sequence)
        .map(|(check, manifest, id)| Head {
            sequence: manifest.sequence,
            id: id.to_string(),
            digest: format!("sha256:{}", check.sha256),
        });
    let (problems, notes) = check_chain(&checks);
    report.problems.extend(problems);
    report.notes.extend(notes);
    let unreferenced = blobs.keys().filter(|b| !referenced.contains(*b)).count();
    if unreferenced > 0 {
        report.notes.push(format!(
            "{unreferenced} blob(s) referenced by no snapshot (interrupted syncs; retention removes them)"
        ));
    }
    Ok(report)
}

/// Counts the manifest's signature and, with a key, checks it.
async fn check_signatures(
    report: &mut VerifyReport,
    store: &ConnectionStore,
    public_key: Option<&VerifyingKey>,
    signatures: &mut BTreeSet<String>,
    id: &SnapshotId,
    path: &str,
    sha256: &str,
) {
    let signed = signatures.remove(id.as_str());
    if signed {
        report.signed += 1;
    }
    let Some(key) = public_key else {
        return;
    };
    let sig_path = store.layout.signature(id).to_string();
    if !signed {
        report.problems.push(Problem {
            kind: ProblemKind::SignatureMissing,
            path: sig_path,
            detail: format!("no signature for {path}"),
        });
        return;
    }
    let problem = match store.read_signature(id).await {
        Ok(Some(file)) => check_signature(key, &file, sha256).err(),
        Ok(None) => Some("disappeared while verifying".to_owned()),
        Err(error) => Some(error.to_string()),
    };
    match problem {
        None => report.valid_signatures += 1,
        Some(detail) => report.problems.push(Problem {
            kind: ProblemKind::SignatureInvalid,
            path: sig_path,
            detail,
        }),
    }
}

fn check_signature(key: &VerifyingKey, file: &SignatureFile, sha256: &str) -> Result<(), String> {
    key.check(file, sha256)
}

fn check_blob(
    report: &mut VerifyReport,
    store: &ConnectionStore,
    blob: &BlobRef,
    what: &str,
    blobs: &BTreeMap<String, BlobFacts>,
) -> bool {
    let blob_path = store.layout.blob(&blob.sha256).to_string();
    match blobs.get(&blob.sha256) {
        None => {
            report.problems.push(Problem {
                kind: ProblemKind::BlobMissing,
                path: blob_path,
                detail: format!("referenced as {what}"),
            });
            false
        }
        Some(facts)
            if facts.undecodable.is_none()
                && (facts.bytes != blob.bytes || facts.lines != blob.records) =>
        {
            report.problems.push(Problem {
                kind: ProblemKind::BlobMismatch,
                path: blob_path,
                detail: format!(
                    "{} bytes / {} records, {what} says {} / {}",
                    facts.bytes, facts.lines, blob.bytes, blob.records
                ),
            });
            false
        }
        // A corrupt blob was reported when it was hashed.
        Some(facts) => facts.undecodable.is_none() && facts.sha256 == blob.sha256,
    }
}

/// Checks one manifest and its index; returns the digests it references.
async fn check_manifest(
    report: &mut VerifyReport,
    store: &ConnectionStore,
    id: &SnapshotId,
    path: &str,
    manifest: &SnapshotManifest,
    blobs: &BTreeMap<String, BlobFacts>,
) -> Vec<String> {
    if manifest.connection != report.connection {
        report.problems.push(Problem {
            kind: ProblemKind::ManifestMisplaced,
            path: path.to_owned(),
            detail: format!(
                "belongs to connection {}, stored under {}",
                manifest.connection, report.connection
            ),
        });
    }
    if id.time() != Some(manifest.created_at) {
        report.problems.push(Problem {
            kind: ProblemKind::ManifestMisplaced,
            path: path.to_owned(),
            detail: format!(
                "created at {}, its name says otherwise",
                manifest.created_at
            ),
        });
    }
    let mut referenced = vec![manifest.index.sha256.clone()];
    if let Some(controls) = &manifest.controls {
        referenced.push(controls.sha256.clone());
        check_blob(
            report,
            store,
            controls,
            &format!("the control results of {path}"),
            blobs,
        );
    }
    if !check_blob(
        report,
        store,
        &manifest.index,
        &format!("the index of {path}"),
        blobs,
    ) {
        return referenced;
    }
    let index = match store.read_index(&manifest.index).await {
        Ok(index) => index,
        Err(error) => {
            report.problems.push(Problem {
                kind: ProblemKind::ManifestInvalid,
                path: store.layout.blob(&manifest.index.sha256).to_string(),
                detail: format!("index of {path}: {error}"),
            });
            return referenced;
        }
    };
    for kind in &index.kinds {
        for blob in &kind.blobs {
            referenced.push(blob.sha256.clone());
            check_blob(
                report,
                store,
                blob,
                &format!("kind {} of {path}", kind.kind),
                blobs,
            );
        }
        let bytes: u64 = kind.blobs.iter().map(|b| b.bytes).sum();
        let records: u64 = kind.blobs.iter().map(|b| b.records).sum();
        if bytes != kind.bytes || records != kind.records {
            report.problems.push(Problem {
                kind: ProblemKind::ManifestInvalid,
                path: path.to_owned(),
                detail: format!("kind {}: totals disagree with its blobs", kind.kind),
            });
        }
    }
    referenced
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::manifest::{PreviousSnapshot, RetiredSnapshot, SNAPSHOT_FORMAT};

    /// A chain of manifests `sequences`, each pointing at the sequence before it.
    fn chain(sequences: &[u64]) -> Vec<ManifestCheck> {
        sequences
            .iter()
            .map(|&sequence| {
                let time = jiff::Timestamp::from_second(1_767_225_600 + sequence as i64).unwrap();
                let sha256 = format!("{sequence:064}");
                let previous = sequence.checked_sub(1).map(|before| PreviousSnapshot {
                    id: SnapshotId::new(
                        jiff::Timestamp::from_second(1_767_225_600 + before as i64).unwrap(),
                        &format!("{before:064}"),
                    )
                    .to_string(),
                    sha256: format!("{before:064}"),
                });
                ManifestCheck {
                    id: Some(SnapshotId::new(time, &sha256)),
                    path: format!("c/snapshots/{sequence:020}.json"),
                    manifest: Some(SnapshotManifest {
                        format: SNAPSHOT_FORMAT.to_owned(),
                        connection: "c".to_owned(),
                        sequence,
                        created_at: time,
                        previous,
                        index: BlobRef {
                            sha256: String::new(),
                            bytes: 0,
                            records: 0,
                        },
                        events: None,
                        events_since: None,
                        controls: None,
                        collection: serde_json::Value::Null,
                        retention: None,
                    }),
                    sha256,
                }
            })
            .collect()
    }

    fn retire_below(check: &mut ManifestCheck, kept_from: u64) {
        let retired = (0..kept_from)
            .map(|sequence| RetiredSnapshot {
                sequence,
                id: format!("id-{sequence}"),
                sha256: format!("{sequence:064}"),
            })
            .collect();
        if let Some(manifest) = check.manifest.as_mut() {
            manifest.retention = Some(RetentionRecord { kept_from, retired });
        }
    }

    fn problem_kinds(checks: &[ManifestCheck]) -> Vec<ProblemKind> {
        check_chain(checks).0.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn a_whole_chain_passes_and_holes_without_a_record_do_not() {
        assert!(problem_kinds(&chain(&[0, 1, 2, 3])).is_empty());
        assert_eq!(
            problem_kinds(&chain(&[2, 3])),
            [ProblemKind::SnapshotMissing]
        );
        assert_eq!(
            problem_kinds(&chain(&[0, 2, 3])),
            [ProblemKind::SnapshotMissing]
        );
        let (problems, _) = check_chain(&chain(&[0, 1, 3]));
        assert!(
            problems[0].detail.contains("sequence 2 before it"),
            "{problems:?}"
        );
    }

    #[test]
    fn holes_a_retention_record_covers_are_notes() {
        let mut checks = chain(&[2, 3, 4]);
        retire_below(&mut checks[2], 2);
        let (problems, notes) = check_chain(&checks);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(notes[0].starts_with("sequence 0..=1 removed (retention), recorded by sequence 4"));
        // The record covers what it says, not more: a hole at or above `kept_from` stays.
        let mut checks = chain(&[3, 4]);
        retire_below(&mut checks[1], 2);
        assert_eq!(problem_kinds(&checks), [ProblemKind::SnapshotMissing]);
        // Retired but still present (a crash before the deletion): accepted, noted.
        let mut checks = chain(&[0, 1, 2]);
        retire_below(&mut checks[2], 1);
        let (problems, notes) = check_chain(&checks);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(notes[0].contains("deletion is pending"), "{notes:?}");
    }

    #[test]
    fn a_fork_and_a_wrong_link_are_broken_chains() {
        let mut checks = chain(&[0, 1, 2]);
        let mut fork = checks[1].clone();
        fork.sha256 = "f".repeat(64);
        fork.path = "c/snapshots/fork.json".to_owned();
        checks.insert(2, fork);
        let (problems, _) = check_chain(&checks);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .detail
                .contains("a second snapshot at sequence 1")
        );
        let mut checks = chain(&[0, 1, 2]);
        if let Some(manifest) = checks[2].manifest.as_mut() {
            manifest.previous = None;
        }
        assert_eq!(problem_kinds(&checks), [ProblemKind::ChainBroken]);
    }

    #[test]
    fn the_head_is_checked_against_the_anchor() {
        let head = |sequence: u64, digest: &str| VerifyReport {
            connection: "c".to_owned(),
            head: Some(Head {
                sequence,
                id: "id".to_owned(),
                digest: format!("sha256:{digest}"),
            }),
            ..VerifyReport::default()
        };
        let anchor = HeadAnchor {
            digest: Some("ab".repeat(32)),
            min_sequence: Some(5),
        };
        let mut report = head(5, &"ab".repeat(32));
        check_head(&mut report, &anchor);
        assert!(report.ok(), "{:?}", report.problems);
        let mut report = head(6, &"cd".repeat(32));
        check_head(&mut report, &anchor);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        let mut report = head(4, &"cd".repeat(32));
        check_head(&mut report, &anchor);
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        let mut empty = VerifyReport::default();
        check_head(&mut empty, &anchor);
        assert_eq!(empty.problems.len(), 2);
        let mut unanchored = VerifyReport::default();
        check_head(&mut unanchored, &HeadAnchor::default());
        assert!(unanchored.ok());
    }
}
