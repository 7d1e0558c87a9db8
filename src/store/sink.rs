//! The evidence store as the target of a collection: each kind streams into content-addressed
//! chunk blobs (see `chunker`), Directory Insights events are kept only where the stored history ends, and the commit
//! stores the control results the collection's step before it evaluated on the staged snapshot
//! (when it did) and writes the manifest last.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::StoreError;
use super::chunker::ChunkedWriter;
use super::connection::{ConnectionStore, KindDraft, Snapshot, SnapshotDraft};
use super::events::{EVENTS_KIND, EventsState};
use super::evidence::{StoredControls, load_kinds};
use super::history::{HistoryCoverage, HistoryFilter, HistoryState, incremental, next_coverage};
use super::manifest::{BlobRef, SnapshotIndex, sha256_hex};
use super::retention::RetentionPolicy;
use super::sign::SigningKey;
use crate::collect::{
    CollectError, Evaluable, KindSink, KindStatus, Manifest, ManifestOrg, SnapshotSink,
    WrittenFile, one_line,
};
use crate::controls::{
    ControlResult, ControlSettings, EvidenceSet, ResultsSummary, SettingsSource, SnapshotMeta,
    collection_meta,
};

/// Writes one collection into a connection's part of the store.
pub struct StoreSink {
    store: ConnectionStore,
    previous: Option<Snapshot>,
    signer: Option<SigningKey>,
    retention: Option<RetentionPolicy>,
    /// Each history's position after this collection (Directory Insights events, policy
    /// results), set when its kind finishes.
    positions: Positions,
    /// Each finished kind's chunk blobs, in order.
    chunks: Chunks,
}

/// The chunk blobs of every kind written so far (the collection's manifest has one digest per
/// kind, the content's).
type Chunks = Arc<Mutex<BTreeMap<String, Vec<BlobRef>>>>;

type Positions = Arc<Mutex<BTreeMap<String, HistoryState>>>;

/// Where the collection manifest records each history's coverage (other than the events',
/// which have fields of their own in the snapshot manifest): chained and signed with it.
const COVERAGE_FIELD: &str = "history_coverage";

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        // A panicking writer leaves whole entries behind (each is one insert).
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A committed collection.
#[derive(Debug, Clone)]
pub struct CommittedSnapshot {
    pub snapshot: Snapshot,
    /// The snapshot it follows in the chain.
    pub previous: Option<Snapshot>,
    /// The control results stored with it (when the collection evaluated them).
    pub controls: Option<StoredControls>,
}

/// A collection written into the store and described, not yet committed: the controls can be
/// evaluated on it ([`Evaluable`]), reading its blobs back.
pub struct StagedSnapshot {
    store: ConnectionStore,
    draft: SnapshotDraft,
    index: SnapshotIndex,
    controls: Option<StoredControls>,
}

impl Evaluable for StagedSnapshot {
    fn meta(&self) -> SnapshotMeta {
        let mut meta = collection_meta(&self.draft.collection);
        if let Some(since) = self.draft.events_since {
            meta.events_window_start = Some(since);
        }
        meta
    }

    async fn load_kinds(
        &self,
        meta: SnapshotMeta,
        kinds: &BTreeSet<&'static str>,
    ) -> Result<EvidenceSet, CollectError> {
        load_kinds(&self.store, meta, &self.index, kinds)
            .await
            .map_err(store_error)
    }

    fn add_results(
        &mut self,
        settings: ControlSettings,
        settings_sources: BTreeMap<String, SettingsSource>,
        evaluated_at: jiff::Timestamp,
        results: Vec<ControlResult>,
    ) {
        self.controls = Some(StoredControls {
            evaluated_at,
            summary: ResultsSummary::of(&results),
            settings,
            settings_sources,
            results,
        });
    }
}

fn store_error(error: StoreError) -> CollectError {
    CollectError::store(error)
}

impl StoreSink {
    /// Prepares a collection for `store`, following its latest snapshot.
    pub async fn open(store: ConnectionStore) -> Result<Self, StoreError> {
        let previous = store.latest().await?;
        Ok(StoreSink {
            store,
            previous,
            signer: None,
            retention: None,
            positions: Arc::default(),
            chunks: Arc::default(),
        })
    }

    /// Signs the manifest with this key.
    pub fn signed_by(mut self, signer: Option<SigningKey>) -> Self {
        self.signer = signer;
        self
    }

    /// Decides retention with the commit: the manifest records what it retires
    /// ([`apply_retention`](super::retention::apply_retention) deletes it afterwards).
    pub fn retaining(mut self, policy: RetentionPolicy) -> Self {
        self.retention = Some(policy);
        self
    }

    pub fn previous(&self) -> Option<&Snapshot> {
        self.previous.as_ref()
    }

    /// The stored blobs of each kind: its chunks; a history (events, policy results) keeps the
    /// previous snapshot's segments and appends this collection's new records, if any.
    fn drafts(&self, manifest: &Manifest) -> Vec<KindDraft> {
        let chunks = lock(&self.chunks);
        manifest
            .kinds
            .iter()
            .map(|entry| {
                let written = chunks.get(&entry.kind).cloned().unwrap_or_default();
                let blobs = if incremental(&entry.kind).is_some() {
                    let mut history = self
                        .previous
                        .as_ref()
                        .and_then(|p| p.kind(&entry.kind))
                        .map(|k| k.blobs.clone())
                        .unwrap_or_default();
                    history.extend(written);
                    history
                } else {
                    written
                };
                KindDraft {
                    kind: entry.kind.clone(),
                    status: entry.status.as_str().to_owned(),
                    blobs,
                }
            })
            .collect()
    }

    /// Since when the stored events are complete: the history's start while each collection
    /// continued where the previous one ended, else this collection's window.
    ///
    /// The previous collection read every event up to the end of its window, so a window
    /// starting at or before that end leaves no gap, even when the newest stored event is
    /// older than JumpCloud's retention (a quiet org). Manifests without a window fall back to
    /// the newest stored event.
    ///
    /// A collection that got no events (Directory Insights not licensed this time) keeps the
    /// stored history and its start: the history is carried over unchanged, and the
    /// collection's own window is empty (see `collect`), so the next one continues from the
    /// stored events, not from this collection's time.
    fn events_since(&self, manifest: &Manifest) -> Option<jiff::Timestamp> {
        let complete = manifest
            .kinds
            .iter()
            .any(|k| k.kind == EVENTS_KIND && k.status == KindStatus::Complete);
        let previous = self.previous.as_ref().map(|p| &p.manifest);
        if !complete {
            return previous.and_then(|p| p.events_since);
        }
        let covered_until = previous.and_then(|p| {
            let window_end = collection_meta(&p.collection).events_window_end;
            window_end.max(p.events.as_ref().map(EventsState::resume_from))
        });
        let continued = covered_until.is_some_and(|until| manifest.events_window.start <= until);
        match previous.and_then(|p| p.events_since) {
            Some(since) if continued => Some(since),
            _ => Some(manifest.events_window.start),
        }
    }
}

impl StoreSink {
    /// The previous snapshot's coverage of a history other than the events.
    fn previous_coverage(&self, kind: &str) -> Option<HistoryCoverage> {
        let coverage = self
            .previous
            .as_ref()?
            .manifest
            .collection
            .get(COVERAGE_FIELD)?
            .get(kind)?;
        serde_json::from_value(coverage.clone()).ok()
    }

    /// The stored position of a history: the events' in the snapshot manifest's own field.
    fn previous_position(&self, kind: &str) -> Option<HistoryState> {
        if kind == EVENTS_KIND {
            return self.previous.as_ref()?.manifest.events.clone();
        }
        self.previous_coverage(kind)?.position
    }

    /// Every history's coverage after this collection: continued or restarted for those read
    /// completely (the collection manifest lists their windows), carried over for the others.
    fn coverage(&self, manifest: &Manifest) -> serde_json::Map<String, Value> {
        let positions = lock(&self.positions);
        let previous = self
            .previous
            .as_ref()
            .and_then(|p| p.manifest.collection.get(COVERAGE_FIELD))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut coverage = previous;
        for (kind, window) in &manifest.histories {
            let next = next_coverage(
                self.previous_coverage(kind).as_ref(),
                (window.start, window.end),
                positions.get(kind).cloned(),
            );
            if let Ok(value) = serde_json::to_value(next) {
                coverage.insert(kind.clone(), value);
            }
        }
        coverage
    }
}

impl SnapshotSink for StoreSink {
    type Kind = StoreKind;
    type Staged = StagedSnapshot;
    type Committed = CommittedSnapshot;

    fn begin(&mut self, org: &ManifestOrg) -> Result<Option<jiff::Timestamp>, CollectError> {
        let Some(previous) = &self.previous else {
            return Ok(None);
        };
        let stored_org = collection_meta(&previous.manifest.collection).org_id;
        if !stored_org.is_empty() && stored_org != org.id {
            return Err(CollectError::Target(format!(
                "the evidence store holds snapshots of organization {stored_org} for connection {}, but this key reads organization {}; \
                 one connection keeps one organization's history: use another connection name for this organization",
                self.store.connection(),
                org.id
            )));
        }
        Ok(previous
            .manifest
            .events
            .as_ref()
            .map(EventsState::resume_from))
    }

    fn history_end(&self, kind: &str) -> Option<jiff::Timestamp> {
        self.previous_position(kind)
            .as_ref()
            .map(HistoryState::resume_from)
    }

    async fn open_kind(&self, kind: &str) -> Result<StoreKind, CollectError> {
        let filter =
            incremental(kind).map(|field| HistoryFilter::new(field, self.previous_position(kind)));
        Ok(StoreKind {
            kind: kind.to_owned(),
            writer: ChunkedWriter::new(self.store.clone()),
            store: self.store.clone(),
            filter,
            positions: self.positions.clone(),
            chunks: self.chunks.clone(),
        })
    }

    fn stage(&self, manifest: &Manifest) -> Result<StagedSnapshot, CollectError> {
        let mut collection = serde_json::to_value(manifest)
            .map_err(|error| store_error(StoreError::Serialise(error)))?;
        // Per-kind details go to the index, which an unchanged org shares across snapshots.
        let coverage = self.coverage(manifest);
        let sources = match &mut collection {
            Value::Object(map) => {
                if !coverage.is_empty() {
                    map.insert(COVERAGE_FIELD.to_owned(), Value::Object(coverage));
                }
                map.remove("kinds").unwrap_or(Value::Null)
            }
            _ => Value::Null,
        };
        let events = lock(&self.positions).get(EVENTS_KIND).cloned().or_else(|| {
            self.previous
                .as_ref()
                .and_then(|p| p.manifest.events.clone())
        });
        let draft = SnapshotDraft {
            kinds: self.drafts(manifest),
            events,
            events_since: self.events_since(manifest),
            controls: None,
            collection,
            sources,
            retention: self.retention.clone(),
        };
        Ok(StagedSnapshot {
            store: self.store.clone(),
            index: SnapshotIndex::of(draft.kinds.clone(), draft.sources.clone()),
            draft,
            controls: None,
        })
    }

    async fn commit(self, staged: StagedSnapshot) -> Result<CommittedSnapshot, CollectError> {
        let StagedSnapshot {
            mut draft,
            controls,
            ..
        } = staged;
        if let Some(controls) = &controls {
            let mut json = serde_json::to_vec(controls)
                .map_err(|error| store_error(StoreError::Serialise(error)))?;
            json.push(b'\n');
            let blob = self
                .store
                .put_blob(json.into())
                .await
                .map_err(store_error)?;
            draft.controls = Some(blob);
        }
        // After the head this collection was built on (its events continue from there): if
        // another writer moved the head meanwhile, this commit is refused, never forked.
        let snapshot = self
            .store
            .commit_after(
                self.previous.as_ref(),
                draft,
                self.signer.as_ref(),
                jiff::Timestamp::now(),
            )
            .await
            .map_err(store_error)?;
        Ok(CommittedSnapshot {
            snapshot,
            previous: self.previous,
            controls,
        })
    }
}

/// One kind's chunks being written.
pub struct StoreKind {
    kind: String,
    writer: ChunkedWriter,
    store: ConnectionStore,
    /// For a history (events, policy results): drops what the store already holds.
    filter: Option<HistoryFilter>,
    positions: Positions,
    chunks: Chunks,
}

impl KindSink for StoreKind {
    async fn write_record(&mut self, json: &[u8]) -> Result<(), CollectError> {
        let line = one_line(json);
        if let Some(filter) = &mut self.filter
            && !filter.offer(&line)
        {
            return Ok(());
        }
        self.writer.write_record(&line).await.map_err(store_error)
    }

    async fn finish(self) -> Result<WrittenFile, CollectError> {
        if let Some(filter) = &self.filter {
            if let Some(state) = filter.state() {
                lock(&self.positions).insert(self.kind.clone(), state.clone());
            }
            // No new record (or not licensed): no new segment, so nothing to store. An empty
            // blob would be referenced by no snapshot.
            if self.writer.bytes() == 0 {
                return Ok(WrittenFile {
                    file: String::new(),
                    records: 0,
                    sha256: sha256_hex(b""),
                    bytes: 0,
                });
            }
        }
        let written = self.writer.finish().await.map_err(store_error)?;
        let file = match written.chunks.as_slice() {
            [one] => self.store.layout.blob(&one.sha256).to_string(),
            chunks => format!(
                "{} ({} chunks, listed in the snapshot index)",
                self.store.layout.blobs_dir(),
                chunks.len()
            ),
        };
        lock(&self.chunks).insert(self.kind, written.chunks);
        Ok(WrittenFile {
            file,
            records: written.records,
            sha256: written.sha256,
            bytes: written.bytes,
        })
    }
}
