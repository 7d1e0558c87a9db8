//! The evidence store: immutable, verifiable, deduplicated snapshots on local disk or
//! S3-compatible object storage.
//!
//! Layout under the store URL, per connection (`<namespace>/<name>/`):
//! - `blobs/sha256/<hex>.zst`: evidence files (NDJSON), zstd-compressed, named by the SHA-256
//!   of their content (the uncompressed NDJSON), written once. Earlier versions wrote the
//!   content as is at `blobs/sha256/<hex>`; those are still read, verified and shared (see
//!   [`encoding`]). A kind is the concatenation of its blobs: large kinds are cut at record
//!   boundaries chosen by content ([`chunker`]), so the unchanged part of a changed kind is
//!   stored once.
//! - `snapshots/<sequence>.json` (20 digits): a [`SnapshotManifest`], the commit point of one
//!   sync, written last with a single create-only write at the name of its sequence number:
//!   the compare-and-swap of the chain head (two writers of one sequence meet at one name and
//!   exactly one commits). The snapshot's id, `<time>-<digest prefix>`, is derived from the
//!   manifest's content and stays the user-facing name. Earlier versions named manifests
//!   `snapshots/<id>.json`; those are still read, verified and appended to.
//! - `snapshots/<id>.json.sig`: optional detached Ed25519 signature of the manifest digest,
//!   written before the manifest; named by the digest, so one left by a crash blocks no one.
//! - `reports/<id>.html.zst`: the auditor report rendered after the commit, compressed (derived,
//!   not evidence: it names the manifest digest, so the manifest cannot reference it). Earlier
//!   versions wrote `reports/<id>.html`; those are still read.
//!
//! Manifests chain by the previous manifest's digest. The manifest of the highest sequence is
//! the latest snapshot; nothing is ever overwritten, so a crash can only leave unreferenced
//! blobs and signatures behind, which [`retention`] collects. Concurrent writers of one
//! connection cannot fork the chain: the loser gets [`StoreError::Conflict`]. Retention is
//! decided with a commit and recorded in its manifest, then applied after it.
//!
//! Local stores are private: directories 0700 and files 0600 (see `private.rs`); large blobs
//! spool in a per-process folder swept after crashes ([`spool`]).

mod blob_writer;
mod chain_results;
pub mod chunker;
mod connection;
pub mod diff;
pub mod encoding;
pub mod events;
mod evidence;
pub mod history;
mod layout;
mod manifest;
mod private;
pub mod retention;
mod serve;
mod sign;
mod sink;
pub mod spool;
pub mod verify;

pub use blob_writer::BlobWriter;
pub use chain_results::{ChainResults, chain_results};
pub use connection::{
    ConnectionStore, EvidenceStore, KindDraft, Snapshot, SnapshotDraft, SnapshotSummary,
};
pub(crate) use evidence::load_kinds;
pub use evidence::{Records, StoredControls, load_controls, load_evidence, snapshot_meta};
pub use layout::{ConnectionId, SnapshotId};
pub use manifest::{
    BlobRef, PreviousSnapshot, RetentionRecord, RetiredSnapshot, SNAPSHOT_FORMAT,
    SNAPSHOT_FORMAT_V1, SnapshotIndex, SnapshotManifest, StoredKind, check_format, sha256_hex,
};
pub use private::warn_if_exposed;
pub use serve::ManifestFile;
pub use sign::{SignatureFile, SigningKey, VerifyingKey, signed_message};
pub use sink::{CommittedSnapshot, StagedSnapshot, StoreKind, StoreSink};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid store URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "invalid connection `{0}`: expected `namespace/name` of lowercase letters, digits, `-` and `.`"
    )]
    InvalidConnection(String),
    #[error("no evidence store at {url}: the directory does not exist (check --store)")]
    NoStore { url: String },
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
    #[error(
        "blob {path} does not match its digest: the evidence was altered or damaged; `verify` lists every problem"
    )]
    CorruptBlob { path: String },
    #[error(
        "blob {path} of snapshot {snapshot} is missing: the snapshot is incomplete; `verify` lists every problem"
    )]
    MissingBlob { path: String, snapshot: String },
    #[error(
        "blob {path} cannot be decompressed ({reason}): the evidence was altered or damaged; `verify` lists every problem"
    )]
    Undecodable { path: String, reason: String },
    #[error("key file {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("cannot serialise: {0}")]
    Serialise(#[source] serde_json::Error),
    #[error("stored evidence cannot be read back: {0}")]
    Evidence(String),
    #[error("{0}")]
    ChooseConnection(String),
    /// The store, or the chosen connection, holds no snapshot: nothing to act on.
    #[error("{0}")]
    NoSnapshots(String),
    #[error(
        "another writer committed sequence {sequence} of connection {connection} first ({path}); \
         this run committed nothing and the chain is intact: run it again to chain after that \
         snapshot (one writer per connection at a time avoids the wasted collection)"
    )]
    Conflict {
        connection: String,
        sequence: u64,
        path: String,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
