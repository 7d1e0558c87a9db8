//! Evidence collection: turns a [`JumpCloudClient`](crate::jumpcloud::JumpCloudClient) into a
//! snapshot of NDJSON files (records exactly as the API returned them) plus a manifest.

mod collector;
mod manifest;
mod snapshot;

pub use collector::{
    CollectOptions, CollectProgress, CollectionReport, KindReport, NoProgress, collect,
};
pub use manifest::{EventsWindow, KindEntry, KindStatus, MANIFEST_FORMAT, Manifest, ManifestOrg};
pub use snapshot::{DirSnapshot, FileKind, KindSink, MANIFEST_FILE, SnapshotSink, WrittenFile};

use std::path::PathBuf;

use crate::jumpcloud::JumpCloudError;

/// Why a collection failed. A failed collection publishes nothing.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("identifying the key: {0}")]
    Identity(#[source] JumpCloudError),
    #[error("collecting {kind}: {source}")]
    Api {
        kind: String,
        #[source]
        source: JumpCloudError,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Target(String),
    #[error("cannot serialise the manifest: {0}")]
    Manifest(#[source] serde_json::Error),
}

impl CollectError {
    /// The client error underneath, if the failure came from the API.
    pub fn api_error(&self) -> Option<&JumpCloudError> {
        match self {
            CollectError::Identity(error) | CollectError::Api { source: error, .. } => Some(error),
            _ => None,
        }
    }

    /// A stable PascalCase reason (condition reason / metric label).
    pub fn reason(&self) -> &'static str {
        match self {
            CollectError::Identity(error) | CollectError::Api { source: error, .. } => {
                error.reason()
            }
            CollectError::Io { .. } => "WriteFailed",
            CollectError::Target(_) => "InvalidTarget",
            CollectError::Manifest(_) => "ManifestFailed",
        }
    }
}
