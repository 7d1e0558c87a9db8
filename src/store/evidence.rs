//! A stored snapshot read back as the evidence the controls evaluate, and its stored control
//! results.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::connection::{ConnectionStore, Snapshot};
use super::manifest::SnapshotIndex;
use super::{Result, StoreError};
use crate::controls::{
    ControlResult, ControlSettings, EvidenceSet, KindEvidence, KindRead, KindReader, KindState,
    ReadMode, ResultsSummary, SettingsSource, SnapshotMeta, collection_meta,
};
use futures::StreamExt;

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
            "skipped" => KindState::Skipped,
            _ => KindState::Unavailable,
        };
        let wanted = wanted(&kind.kind);
        let mode = if projected {
            ReadMode::ForControls
        } else {
            ReadMode::Whole
        };
        let read = if state == KindState::Complete && wanted {
            read_kind(store, index, kind, mode).await?
        } else {
            KindRead {
                records: None,
                aggregate: None,
            }
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
                loaded: read.records.is_some(),
                records: read.records.unwrap_or_default(),
                aggregate: read.aggregate,
                count: kind.records,
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

/// One kind read as it streams from the store: parsing runs on a blocking thread, fed chunk by
/// chunk, so the kind's text is never held whole.
async fn read_kind(
    store: &ConnectionStore,
    index: &SnapshotIndex,
    kind: &crate::store::manifest::StoredKind,
    mode: ReadMode,
) -> Result<KindRead> {
    let origin = match kind.blobs.as_slice() {
        [one] => store.layout.blob(&one.sha256).to_string(),
        _ => format!("kind {}", kind.kind),
    };
    let mut reader = KindReader::new(
        &kind.kind,
        parent_field(&index.sources, &kind.kind),
        mode,
        origin,
    );
    let (chunks_in, mut chunks_out) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let parsing = tokio::task::spawn_blocking(move || {
        while let Some(chunk) = chunks_out.blocking_recv() {
            reader.feed(&chunk)?;
        }
        reader.finish()
    });
    let mut chunks = store.kind_chunks(kind);
    let mut read_error = None;
    while let Some(chunk) = chunks.next().await {
        match chunk {
            // A closed channel: the parser stopped at an error, which it returns below.
            Ok(chunk) => {
                if chunks_in.send(chunk).await.is_err() {
                    break;
                }
            }
            Err(error) => {
                read_error = Some(error);
                break;
            }
        }
    }
    drop(chunks_in);
    let parsed = parsing
        .await
        .map_err(|error| StoreError::Evidence(error.to_string()))?;
    // A read error (a blob that does not match its digest) wins over what was parsed of it.
    if let Some(error) = read_error {
        return Err(error);
    }
    parsed.map_err(|error| StoreError::Evidence(error.to_string()))
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
