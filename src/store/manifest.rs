//! The snapshot manifest: which blobs make up each evidence kind, the collection's own manifest,
//! and the link to the previous snapshot.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::events::EventsState;

/// Identifies the snapshot manifest's layout ([`SnapshotManifest::format`]); verification refuses
/// others. The collection manifest inside it has its own version, `collect::COLLECTION_FORMAT`.
pub const SNAPSHOT_FORMAT: &str = "jumpcloud-operator.io/snapshot/v1";

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

/// One evidence kind: the concatenation of its blobs is its NDJSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKind {
    pub kind: String,
    /// `complete` or `not-licensed` (from the collection).
    pub status: String,
    pub records: u64,
    pub bytes: u64,
    /// Usually one blob; Directory Insights events list the segments accumulated over time.
    pub blobs: Vec<BlobRef>,
}

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
