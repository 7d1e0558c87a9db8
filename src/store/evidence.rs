//! A stored snapshot read back as the evidence the controls evaluate, and its stored control
//! results.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::connection::{ConnectionStore, Snapshot};
use super::manifest::SnapshotIndex;
use super::{Result, StoreError};
use crate::controls::{
    ControlResult, ControlSettings, EvidenceSet, KindEvidence, KindState, ResultsSummary,
    SettingsSource, SnapshotMeta, collection_meta, parse_records,
};

/// The control results stored with a snapshot (a blob its manifest references). Evaluation is
/// a pure function of the snapshot and the settings, so these can be re-derived and compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredControls {
    /// The evaluation time: when the snapshot's collection finished.
    pub evaluated_at: jiff::Timestamp,
    pub settings: ControlSettings,
    /// Where each setting came from (default, CRD, settings file); empty in results stored
    /// before sources were recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings_sources: BTreeMap<String, SettingsSource>,
    pub summary: ResultsSummary,
    pub results: Vec<ControlResult>,
}

/// Which records to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// Every record of every kind, whole.
    All,
    /// Only the kinds the controls read, and of the largest only the fields they read (the
    /// others keep their counts): what an evaluation needs, at a fraction of the memory.
    ForControls,
    /// No records: metadata and counts only.
    Counts,
}

/// The snapshot's metadata and evidence. Every blob is checked against its digest as read.
pub async fn load_evidence(
    store: &ConnectionStore,
    snapshot: &Snapshot,
    records: Records,
) -> Result<EvidenceSet> {
    evidence_of(store, snapshot_meta(snapshot), &snapshot.index, records).await
}

/// The evidence an index names, with the given metadata, the records of `kinds` loaded with
/// only the fields the controls read: one phase of an evaluation before the commit.
pub(crate) async fn load_kinds(
    store: &ConnectionStore,
    meta: SnapshotMeta,
    index: &SnapshotIndex,
    kinds: &BTreeSet<&'static str>,
) -> Result<EvidenceSet> {
    let wanted = |kind: &str| kinds.contains(kind);
    load(store, meta, index, &wanted, true).await
}

/// The evidence an index names, with the given metadata (also before the manifest exists).
pub(crate) async fn evidence_of(
    store: &ConnectionStore,
    meta: SnapshotMeta,
    index: &SnapshotIndex,
    records: Records,
) -> Result<EvidenceSet> {
    let read_by_controls = crate::controls::catalog::kinds_read();
    let wanted = |kind: &str| match records {
        Records::All => true,
        Records::ForControls => read_by_controls.contains(kind),
        Records::Counts => false,
    };
    load(store, meta, index, &wanted, records == Records::ForControls).await
}

/// Every kind of the index with its count; the records of the `wanted` ones, parsed whole or
/// only the fields the controls read (`projected`).
async fn load(
    store: &ConnectionStore,
    meta: SnapshotMeta,
    index: &SnapshotIndex,
    wanted: &(dyn Fn(&str) -> bool + Sync),
    projected: bool,
) -> Result<EvidenceSet> {
    let mut evidence = EvidenceSet {
        meta,
        kinds: Default::default(),
    };
    for kind in &index.kinds {
        // Fail closed: only `complete` is complete; a status this version does not know has no
        // records to trust.
        let state = match kind.status.as_str() {
            "complete" => KindState::Complete,
            "not-licensed" => KindState::NotLicensed,
            _ => KindState::Unavailable,
        };
        let loaded = wanted(&kind.kind);
        let parsed = if state == KindState::Complete && loaded {
            let bytes = store.read_kind(kind).await?;
            let origin = match kind.blobs.as_slice() {
                [one] => store.layout.blob(&one.sha256).to_string(),
                _ => format!("kind {}", kind.kind),
            };
            let name = kind.kind.clone();
            let parent = parent_field(&index.sources, &kind.kind);
            // Parsing a large kind takes a while: off the async workers.
            tokio::task::spawn_blocking(move || {
                parse_records(&bytes, &name, parent.as_deref(), &origin, projected)
            })
            .await
            .map_err(|error| StoreError::Evidence(error.to_string()))?
            .map_err(|error| StoreError::Evidence(error.to_string()))?
        } else {
            Vec::new()
        };
        let (sha256, file) = match kind.blobs.as_slice() {
            [one] => (
                Some(one.sha256.clone()),
                Some(store.layout.blob(&one.sha256).to_string()),
            ),
            many => (
                None,
                Some(format!(
                    "{} blobs, listed in the snapshot index",
                    many.len()
                )),
            ),
        };
        evidence.kinds.insert(
            kind.kind.clone(),
            KindEvidence {
                state,
                records: parsed,
                count: kind.records,
                loaded,
                sha256,
                blobs: kind.blobs.iter().map(|blob| blob.sha256.clone()).collect(),
                file,
                parent_field: parent_field(&index.sources, &kind.kind),
                reason: source_field(&index.sources, &kind.kind, "reason"),
            },
        );
    }
    Ok(evidence)
}

/// The report metadata of a stored snapshot: the collection's facts plus its place in the store.
pub fn snapshot_meta(snapshot: &Snapshot) -> SnapshotMeta {
    let manifest = &snapshot.manifest;
    let mut meta = collection_meta(&manifest.collection);
    meta.connection = Some(manifest.connection.clone());
    meta.snapshot_id = Some(snapshot.id.to_string());
    meta.sequence = Some(manifest.sequence);
    meta.manifest_sha256 = Some(snapshot.sha256.clone());
    meta.previous_manifest_sha256 = manifest.previous.as_ref().map(|p| p.sha256.clone());
    // Stored events reach back to where the history starts, not only to this collection's window.
    if let Some(since) = manifest.events_since {
        meta.events_window_start = Some(since);
    }
    meta
}

/// The field naming the parent object of a per-parent kind, from the collection's kind list.
fn parent_field(sources: &Value, kind: &str) -> Option<String> {
    source_field(sources, kind, "parent_field")
}

/// A text field of a kind's entry in the collection's kind list.
fn source_field(sources: &Value, kind: &str, field: &str) -> Option<String> {
    sources
        .as_array()?
        .iter()
        .find(|entry| entry.get("kind").and_then(Value::as_str) == Some(kind))?
        .get(field)?
        .as_str()
        .map(str::to_owned)
}

/// The control results stored with the snapshot, if it was evaluated at collection.
pub async fn load_controls(
    store: &ConnectionStore,
    snapshot: &Snapshot,
) -> Result<Option<StoredControls>> {
    let Some(blob) = &snapshot.manifest.controls else {
        return Ok(None);
    };
    let bytes = store.read_blob(&blob.sha256).await?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| StoreError::BadManifest {
            path: store.layout.blob(&blob.sha256).to_string(),
            reason: format!("control results: {error}"),
        })
}
