//! Offline verification: every blob re-hashed, every manifest checked against its name, the
//! hash chain followed, signatures checked with a public key. Every problem names its path.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Result;
use super::connection::{ConnectionStore, list_all, object_error};
use super::layout::{MANIFEST_SUFFIX, SIGNATURE_SUFFIX, SnapshotId};
use super::manifest::{BlobRef, MANIFEST_FORMAT, SnapshotManifest, sha256_hex};
use super::sign::{SignatureFile, VerifyingKey};

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
    /// A manifest does not point at the snapshot before it.
    ChainBroken,
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
    pub signed: usize,
    pub blobs: usize,
    pub blob_bytes: u64,
    pub problems: Vec<Problem>,
    /// Facts that are not problems (a chain that starts after retention, stray files).
    pub notes: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What one manifest file turned out to be.
#[derive(Debug, Clone)]
pub struct ManifestCheck {
    pub id: SnapshotId,
    pub path: String,
    /// Digest of the bytes as stored.
    pub sha256: String,
    pub manifest: Option<SnapshotManifest>,
}

/// Checks the chain of readable manifests, oldest first. Pure.
pub fn check_chain(manifests: &[ManifestCheck]) -> (Vec<Problem>, Vec<String>) {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut before: Option<&ManifestCheck> = None;
    for check in manifests {
        let Some(manifest) = &check.manifest else {
            before = Some(check);
            continue;
        };
        match (before, &manifest.previous) {
            (None, None) if manifest.sequence == 0 => {}
            (None, None) => problems.push(Problem {
                kind: ProblemKind::ChainBroken,
                path: check.path.clone(),
                detail: format!(
                    "sequence {} has no previous snapshot; earlier snapshots are unaccounted for",
                    manifest.sequence
                ),
            }),
            (None, Some(previous)) => notes.push(format!(
                "chain starts at sequence {} ({}); its predecessor {} was removed (retention)",
                manifest.sequence, check.id, previous.id
            )),
            (Some(expected), previous) => {
                let expected_sequence = expected
                    .manifest
                    .as_ref()
                    .map(|m| m.sequence + 1)
                    .unwrap_or(manifest.sequence);
                let points_right = previous.as_ref().is_some_and(|previous| {
                    previous.id == expected.id.as_str() && previous.sha256 == expected.sha256
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
                            expected.id,
                            &expected.sha256[..16]
                        ),
                    });
                } else if manifest.sequence != expected_sequence {
                    problems.push(Problem {
                        kind: ProblemKind::ChainBroken,
                        path: check.path.clone(),
                        detail: format!(
                            "sequence {} follows {}, expected {expected_sequence}",
                            manifest.sequence,
                            expected_sequence.saturating_sub(1)
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
    bytes: u64,
    lines: u64,
}

async fn hash_blob(store: &ConnectionStore, path: &object_store::path::Path) -> Result<BlobFacts> {
    let mut stream = store
        .object
        .get(path)
        .await
        .map_err(object_error("read", path))?
        .into_stream();
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut lines = 0u64;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(object_error("read", path))?
    {
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok(BlobFacts {
        sha256: hex::encode(hasher.finalize()),
        bytes,
        lines,
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

    // Blobs: each re-hashed, a few at a time.
    let blob_objects = list_all(&store.object, &store.layout.blobs_dir()).await?;
    let hashed: Vec<(String, String, Result<BlobFacts>)> = futures::stream::iter(blob_objects)
        .map(|meta| async move {
            let name = meta.location.filename().unwrap_or_default().to_owned();
            let facts = hash_blob(store, &meta.location).await;
            (name, meta.location.to_string(), facts)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut blobs: BTreeMap<String, BlobFacts> = BTreeMap::new();
    for (name, path, facts) in hashed {
        let facts = facts?;
        report.blobs += 1;
        report.blob_bytes += facts.bytes;
        if facts.sha256 != name {
            report.problems.push(Problem {
                kind: ProblemKind::BlobCorrupt,
                path,
                detail: format!("content hashes to {}", facts.sha256),
            });
        }
        blobs.insert(name, facts);
    }

    // Manifests and signatures.
    let snapshot_objects = list_all(&store.object, &store.layout.snapshots_dir()).await?;
    let mut ids = Vec::new();
    let mut signatures = BTreeSet::new();
    for meta in &snapshot_objects {
        let name = meta.location.filename().unwrap_or_default();
        if let Some(id) = name.strip_suffix(SIGNATURE_SUFFIX) {
            signatures.insert(id.to_owned());
        } else if let Some(id) = name
            .strip_suffix(MANIFEST_SUFFIX)
            .and_then(SnapshotId::parse)
        {
            ids.push(id);
        } else {
            report
                .notes
                .push(format!("unexpected file {}", meta.location));
        }
    }
    ids.sort();
    report.snapshots = ids.len();

    let mut checks = Vec::new();
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    for id in &ids {
        let path = store.layout.manifest(id).to_string();
        let bytes = store.manifest_bytes(id).await?;
        let sha256 = sha256_hex(&bytes);
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
        let manifest = match serde_json::from_slice::<SnapshotManifest>(&bytes) {
            Ok(manifest) if manifest.format == MANIFEST_FORMAT => Some(manifest),
            Ok(manifest) => {
                report.problems.push(Problem {
                    kind: ProblemKind::ManifestInvalid,
                    path: path.clone(),
                    detail: format!("unknown format `{}`", manifest.format),
                });
                None
            }
            Err(error) => {
                report.problems.push(Problem {
                    kind: ProblemKind::ManifestInvalid,
                    path: path.clone(),
                    detail: error.to_string(),
                });
                None
            }
        };
        let mut index_digests = Vec::new();
        if let Some(manifest) = &manifest {
            index_digests = check_manifest(&mut report, store, id, &path, manifest, &blobs).await;
        }
        // Signatures.
        let signed = signatures.remove(id.as_str());
        if signed {
            report.signed += 1;
        }
        if let Some(key) = public_key {
            let sig_path = store.layout.signature(id).to_string();
            if !signed {
                report.problems.push(Problem {
                    kind: ProblemKind::SignatureMissing,
                    path: sig_path,
                    detail: format!("no signature for {path}"),
                });
            } else {
                let problem = match store.read_signature(id).await {
                    Ok(Some(file)) => check_signature(key, &file, &sha256).err(),
                    Ok(None) => Some("disappeared while verifying".to_owned()),
                    Err(error) => Some(error.to_string()),
                };
                if let Some(detail) = problem {
                    report.problems.push(Problem {
                        kind: ProblemKind::SignatureInvalid,
                        path: sig_path,
                        detail,
                    });
                }
            }
        }
        checks.push(ManifestCheck {
            id: id.clone(),
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
        Some(facts) if facts.bytes != blob.bytes || facts.lines != blob.records => {
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
        Some(facts) => facts.sha256 == blob.sha256,
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
