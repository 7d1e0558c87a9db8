//! The evidence store: immutable, verifiable, deduplicated snapshots on local disk or
//! S3-compatible object storage.
//!
//! Layout under the store URL, per connection (`<namespace>/<name>/`):
//! - `blobs/sha256/<hex>`: evidence files (NDJSON), content-addressed, written once.
//! - `snapshots/<id>.json`: a [`SnapshotManifest`], the commit point of one sync, written last
//!   with a single create-only write; `<id>` is a sortable UTC time and a digest prefix.
//! - `snapshots/<id>.json.sig`: optional detached Ed25519 signature of the manifest digest.
//! - `reports/<id>.html`: the auditor report rendered after the commit (derived, not evidence:
//!   it names the manifest digest, so the manifest cannot reference it).
//!
//! Manifests chain by the previous manifest's digest. The newest manifest is the latest
//! snapshot; nothing is ever overwritten, so a crash can only leave unreferenced blobs behind,
//! which [`retention`] collects. One writer per connection at a time (the operator runs one
//! sync per connection; retention runs after the sync in the same task).

mod connection;
pub mod diff;
pub mod events;
mod evidence;
mod layout;
mod manifest;
pub mod retention;
mod sign;
mod sink;
pub mod verify;

pub use connection::{
    BlobWriter, ConnectionStore, EvidenceStore, KindDraft, Snapshot, SnapshotDraft, SnapshotSummary,
};
pub use evidence::{Records, StoredControls, load_controls, load_evidence, snapshot_meta};
pub use layout::{ConnectionId, SnapshotId};
pub use manifest::{
    BlobRef, MANIFEST_FORMAT, PreviousSnapshot, SnapshotIndex, SnapshotManifest, StoredKind,
    sha256_hex,
};
pub use sign::{SignatureFile, SigningKey, VerifyingKey, signed_message};
pub use sink::{CommittedSnapshot, StoreKind, StoreSink};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid store URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "invalid connection `{0}`: expected `namespace/name` of lowercase letters, digits, `-` and `.`"
    )]
    InvalidConnection(String),
    #[error("cannot open the store at {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{operation} {path}: {source}")]
    Object {
        operation: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("local file {path}: {source}")]
    Local {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("manifest {path} is not valid: {reason}")]
    BadManifest { path: String, reason: String },
    #[error("no snapshot matches `{0}` (give a snapshot id or a digest prefix; see `snapshots`)")]
    UnknownSnapshot(String),
    #[error("`{0}` matches several snapshots; give more characters")]
    AmbiguousSnapshot(String),
    #[error("blob {path} does not match its digest")]
    CorruptBlob { path: String },
    #[error("key file {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("cannot serialise: {0}")]
    Serialise(#[source] serde_json::Error),
    #[error("stored evidence cannot be read back: {0}")]
    Evidence(String),
    #[error("{0}")]
    ChooseConnection(String),
    #[error(
        "another snapshot was committed for this connection meanwhile ({path}); only one writer per connection may run"
    )]
    Conflict { path: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
