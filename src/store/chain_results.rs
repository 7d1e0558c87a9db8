//! The control statuses stored with each snapshot of a chain, for the report's trend over the
//! audit period: read, never re-evaluated (old evidence under today's code would not be what
//! was reported then), and only the id and status of each result.

use serde::Deserialize;

use super::{ConnectionStore, Result, StoreError};
use crate::controls::ControlStatus;

/// One snapshot of the chain: when it was committed and the statuses stored with it, or `None`
/// when it was committed without control results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainResults {
    pub snapshot_id: String,
    pub at: jiff::Timestamp,
    pub statuses: Option<Vec<(String, ControlStatus)>>,
}

#[derive(Deserialize)]
struct StatusesOnly {
    results: Vec<IdStatus>,
}

#[derive(Deserialize)]
struct IdStatus {
    id: String,
    status: ControlStatus,
}

/// The stored statuses of every snapshot of the chain up to and including `up_to` (a
/// sequence), oldest first. Retention bounds the chain, so this is the audit period the store
/// holds.
pub async fn chain_results(store: &ConnectionStore, up_to: u64) -> Result<Vec<ChainResults>> {
    let mut out = Vec::new();
    for stored in store.manifests().await? {
        if stored.manifest.sequence > up_to {
            continue;
        }
        let statuses = match &stored.manifest.controls {
            None => None,
            Some(blob) => {
                let bytes = store.read_blob(&blob.sha256).await?;
                let parsed: StatusesOnly =
                    serde_json::from_slice(&bytes).map_err(|error| StoreError::BadManifest {
                        path: store.layout.blob(&blob.sha256).to_string(),
                        reason: format!("control results: {error}"),
                    })?;
                Some(
                    parsed
                        .results
                        .into_iter()
                        .map(|r| (r.id, r.status))
                        .collect(),
                )
            }
        };
        out.push(ChainResults {
            snapshot_id: stored.id.to_string(),
            at: stored.manifest.created_at,
            statuses,
        });
    }
    Ok(out)
}
