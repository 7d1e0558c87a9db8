//! The snapshot manifest: which blobs make up each evidence kind, the collection's own manifest,
//! and the link to the previous snapshot.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::events::EventsState;

/// Identifies the snapshot manifest's layout ([`SnapshotManifest::format`]), the one this version
/// writes: blobs zstd-compressed at `<digest>.zst` (the digest of the content), large kinds in
/// several chunk blobs. The collection manifest inside it has its own version,
/// `collect::COLLECTION_FORMAT`.
pub const SNAPSHOT_FORMAT: &str = "jumpcloud-operator.io/snapshot/v2";

/// The layout before compression: each blob stored as is at `<digest>`. Still read, verified
/// and appended to (a chain may hold v1 snapshots, then v2 ones).
pub const SNAPSHOT_FORMAT_V1: &str = "jumpcloud-operator.io/snapshot/v1";

const FORMAT_PREFIX: &str = "jumpcloud-operator.io/snapshot/v";

/// Whether this version reads manifests of `format`; the error says why not and what to do.
pub fn check_format(format: &str) -> Result<(), String> {
    if format == SNAPSHOT_FORMAT || format == SNAPSHOT_FORMAT_V1 {
        return Ok(());
    }
    match format
        .strip_prefix(FORMAT_PREFIX)
        .and_then(|version| version.parse::<u32>().ok())
    {
        Some(version) if version > 2 => Err(format!(
            "format `{format}` (version {version}) was written by a newer jumpcloud-operator; \
             this version reads versions 1 and 2: upgrade jumpcloud-operator to read this store"
        )),
        _ => Err(format!(
            "unknown format `{format}` (this version reads `{SNAPSHOT_FORMAT_V1}` and `{SNAPSHOT_FORMAT}`)"
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    pub format: String,
    /// `namespace/name` of the connection the snapshot belongs to.
    pub connection: String,
    /// 0 for the first snapshot of a connection, previous + 1 after.
    pub sequence: u64,
    /// Commit time (microseconds, UTC); also the time part of the snapshot id.
    pub created_at: jiff::Timestamp,
    /// The previous snapshot of this connection; `null` only for the first.
    pub previous: Option<PreviousSnapshot>,
    /// The blob holding the [`SnapshotIndex`] (the kinds and their blobs). Kept out of the
    /// manifest so that an unchanged org shares one index across snapshots and each snapshot
    /// costs only its small manifest.
    pub index: BlobRef,
    /// Directory Insights position, where the next collection continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsState>,
    /// Since when the stored Directory Insights events are complete (no gap): the start of the
    /// first collection's window, or of the window after a gap longer than JumpCloud keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_since: Option<jiff::Timestamp>,
    /// The compliance control results evaluated on this snapshot (JSON), when evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<BlobRef>,
    /// The collection's facts that change every sync (org, region, key fingerprint, times).
    pub collection: serde_json::Value,
    /// What retention removes from the chain as of this commit. Part of the manifest, so
    /// chained and signed with it: a snapshot missing without such a record is tampering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionRecord>,
}

/// The record of a retention decision, made before the commit; the snapshots it names are
/// deleted after the commit (a crash in between leaves them present, which is still valid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRecord {
    /// Every snapshot of the chain below this sequence is retired (by this commit or an
    /// earlier one): their absence is accounted for.
    pub kept_from: u64,
    /// The snapshots still present at the decision that this commit retires.
    pub retired: Vec<RetiredSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredSnapshot {
    pub sequence: u64,
    pub id: String,
    /// SHA-256 of the retired manifest's bytes.
    pub sha256: String,
}

/// The content of a snapshot: evidence kinds and where each came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotIndex {
    /// Evidence kinds, sorted by name.
    pub kinds: Vec<StoredKind>,
    /// The collection's per-kind details (endpoints, totals the API reported), verbatim.
    #[serde(default)]
    pub sources: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSnapshot {
    pub id: String,
    /// SHA-256 of the previous manifest's bytes.
    pub sha256: String,
}

/// One evidence kind: the concatenation of its blobs' content is its NDJSON file. `records` and
/// `bytes` count the content (uncompressed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKind {
    pub kind: String,
    /// `complete`, `not-licensed`, `unavailable` or `skipped` (from the collection).
    pub status: String,
    pub records: u64,
    pub bytes: u64,
    /// The kind's chunks in order (see `chunker`); Directory Insights events list the segments
    /// accumulated over time (each in chunks).
    pub blobs: Vec<BlobRef>,
}

/// A blob by the SHA-256 of its content; `bytes` and `records` (lines) count the content, not
/// the compressed bytes stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlobRef {
    pub sha256: String,
    pub bytes: u64,
    pub records: u64,
}

impl SnapshotIndex {
    /// Digests of every evidence blob the index references.
    pub fn blob_digests(&self) -> impl Iterator<Item = &str> {
        self.kinds
            .iter()
            .flat_map(|kind| kind.blobs.iter().map(|blob| blob.sha256.as_str()))
    }

    pub fn kind(&self, name: &str) -> Option<&StoredKind> {
        self.kinds.iter().find(|kind| kind.kind == name)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_are_read_and_a_newer_one_is_refused_naming_the_upgrade() {
        assert_eq!(check_format(SNAPSHOT_FORMAT), Ok(()));
        assert_eq!(check_format(SNAPSHOT_FORMAT_V1), Ok(()));
        let newer = check_format("jumpcloud-operator.io/snapshot/v3").unwrap_err();
        assert!(newer.contains("version 3"), "{newer}");
        assert!(newer.contains("upgrade jumpcloud-operator"), "{newer}");
        let other = check_format("something/else").unwrap_err();
        assert!(other.contains("unknown format `something/else`"), "{other}");
    }
}
