//! Evidence collection: turns a [`JumpCloudClient`](crate::jumpcloud::JumpCloudClient) into a
//! snapshot: one NDJSON stream per evidence kind (records exactly as the API returned them) plus a
//! manifest, written through a [`SnapshotSink`].

mod collector;
mod manifest;
mod snapshot;

pub use collector::{
    CollectOptions, CollectProgress, CollectionReport, EVENTS_RETENTION_DAYS, INSIGHTS_TABLES,
    KindReport, NoProgress, collect, events_window,
};
pub use manifest::{EventsWindow, KindEntry, KindStatus, MANIFEST_FORMAT, Manifest, ManifestOrg};
pub use snapshot::{KindSink, SnapshotSink, WrittenFile, one_line};

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
    #[error("cannot store the snapshot: {0}")]
    Store(#[source] crate::store::StoreError),
    #[error("{0}")]
    Target(String),
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
            CollectError::Store(_) => "WriteFailed",
            CollectError::Target(_) => "InvalidTarget",
        }
    }
}
