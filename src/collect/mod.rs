//! Evidence collection: turns a [`JumpCloudClient`](crate::jumpcloud::JumpCloudClient) into a
//! snapshot: one NDJSON stream per evidence kind (records exactly as the API returned them) plus a
//! manifest, written through a [`SnapshotSink`], with a [`BeforeCommit`] step (evaluating the
//! controls, [`EvaluateControls`]) between the last kind written and the commit.

mod collector;
mod commands;
mod devices;
mod evaluation;
mod manifest;
mod policy_results;
mod snapshot;

pub use collector::{
    CollectOptions, CollectProgress, CollectionReport, EVENTS_RETENTION_DAYS, INSIGHTS_TABLES,
    KIND_COUNT, KindReport, NoProgress, collect, collect_with, events_window,
};
pub use evaluation::{Evaluable, EvaluateControls};
pub use manifest::{COLLECTION_FORMAT, EventsWindow, KindEntry, KindStatus, Manifest, ManifestOrg};
pub use policy_results::{POLICY_RESULTS_KIND, POLICY_RESULTS_RETENTION_DAYS, history_window};
pub use snapshot::{
    BeforeCommit, CommitAsCollected, KindSink, SnapshotSink, WrittenFile, one_line,
};

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
    /// The sink could not write or commit the snapshot; its own error (the evidence store's)
    /// says where and why. Boxed: collection drives any [`SnapshotSink`] and names none.
    #[error("cannot store the snapshot: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Target(String),
}

impl CollectError {
    /// A failure of the sink.
    pub fn store(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        CollectError::Store(error.into())
    }

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
