//! The evidence a control reads: records per kind, as the JumpCloud API returned them, plus the
//! status of each kind and the snapshot's metadata. The evidence store builds it from a stored
//! snapshot (`crate::store::load_evidence`); this module only parses, it does no IO.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::aggregate::{Aggregate, Aggregator};
use super::policy_days::PolicyDays;
use super::policy_results::PolicyResults;
use super::record::{Interner, Record};
use super::sign_ins::SignIns;

/// Whether a kind's records can be trusted as the complete set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KindState {
    /// Every record the API reported is present.
    Complete,
    /// The feature is not licensed for the org (HTTP 402), so there are no records.
    NotLicensed,
    /// The snapshot does not hold this kind at all.
    Missing,
    /// The API could not provide the kind (e.g. an undocumented route answered 404), or the
    /// stored status is not one this version knows: no records to trust.
    Unavailable,
    /// Not collected by the collection's settings (device access on a large org, or set to
    /// never); the reason names the setting.
    Skipped,
}

impl KindState {
    pub fn as_str(self) -> &'static str {
        match self {
            KindState::Complete => "complete",
            KindState::NotLicensed => "not-licensed",
            KindState::Missing => "missing",
            KindState::Unavailable => "unavailable",
            KindState::Skipped => "skipped",
        }
    }
}

/// One evidence kind.
#[derive(Debug, Clone, PartialEq)]
pub struct KindEvidence {
    pub state: KindState,
    /// The NDJSON lines, parsed. For kinds read per parent object each record is
    /// `{"<parent_field>": id, "record": <raw>}` (see [`EvidenceSet::children`]).
    pub records: Vec<Record>,
    /// The reduction of a kind the controls read only reduced (policy results, events): built
    /// whether or not the records are kept.
    pub aggregate: Option<Aggregate>,
    /// Number of records: the manifest's count, also for kinds whose records were not loaded.
    pub count: u64,
    /// Whether `records` holds the kind's records (the loader skips kinds no control reads, and
    /// keeps only the aggregate of reduced kinds for an evaluation).
    pub loaded: bool,
    /// SHA-256 of the kind's NDJSON, when it is one blob.
    pub sha256: Option<String>,
    /// SHA-256 of each of the kind's blobs, in order (their concatenation is its NDJSON); empty
    /// for evidence not read from the store. Directory Insights events accumulate several.
    pub blobs: Vec<String>,
    /// Where the records are stored (blob paths).
    pub file: Option<String>,
    pub parent_field: Option<String>,
    /// Why the kind is not complete, when the collection said (status `unavailable`).
    pub reason: Option<String>,
}

impl KindEvidence {
    /// A complete kind with the given records (tests and in-memory evaluation), reduced too when
    /// it is a reduced kind.
    pub fn complete(records: Vec<Value>) -> Self {
        Self::complete_with_parent(records, None)
    }

    fn complete_with_parent(records: Vec<Value>, parent_field: Option<&str>) -> Self {
        let mut shared = Interner::default();
        let records: Vec<Record> = records
            .iter()
            .map(|record| Record::from_value(record, &mut shared))
            .collect();
        KindEvidence {
            state: KindState::Complete,
            count: records.len() as u64,
            loaded: true,
            aggregate: None,
            records,
            sha256: None,
            blobs: Vec::new(),
            file: None,
            parent_field: parent_field.map(str::to_owned),
            reason: None,
        }
    }

    fn reduced_as(mut self, kind: &str) -> Self {
        if let Some(mut aggregator) = Aggregator::for_kind(kind) {
            for line in &self.records {
                let (parent, record) = child_parts(line, self.parent_field.as_deref());
                aggregator.add(parent, record);
            }
            self.aggregate = Some(aggregator.finish());
        }
        self
    }
}

/// The parent id and the record of a line of a kind read per parent object. Lines without the
/// parent wrapper are the record itself, with an empty parent id.
pub(crate) fn child_parts<'a>(
    line: &'a Record,
    parent_field: Option<&str>,
) -> (&'a str, &'a Record) {
    let parent = parent_field
        .and_then(|field| line.get(field))
        .and_then(Record::as_str)
        .or_else(|| {
            // Tolerate a manifest without `parent_field`: any `*_id` string key next to
            // `record`.
            line.get("record")?;
            line.entries()
                .find(|(k, v)| k.ends_with("_id") && v.is_string())
                .and_then(|(_, v)| v.as_str())
        })
        .unwrap_or("");
    let record = line.get("record").unwrap_or(line);
    (parent, record)
}

/// Snapshot metadata shown in reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotMeta {
    pub org_id: String,
    pub org_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_window_start: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_window_end: Option<jiff::Timestamp>,
    /// `namespace/name` of the connection in the evidence store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The snapshot id in the evidence store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Position in the connection's hash chain: 0 for the first snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// SHA-256 of the snapshot manifest, the snapshot's digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    /// Digest of the previous snapshot's manifest, when the manifest records the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_manifest_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_version: Option<String>,
    /// Over which period each history collected incrementally (other than the Directory
    /// Insights events, see `events_window_start`) is complete in the store, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub history_coverage: BTreeMap<String, HistoryPeriod>,
}

/// The period over which a stored history has no gap, as the snapshot records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPeriod {
    pub complete_since: jiff::Timestamp,
    pub complete_until: jiff::Timestamp,
    /// Why coverage restarted with the latest collection (a gap), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted: Option<String>,
}

/// Everything one evaluation reads: kind name -> evidence, plus metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvidenceSet {
    pub meta: SnapshotMeta,
    pub kinds: BTreeMap<String, KindEvidence>,
}

/// Why a kind cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub kind: String,
    pub state: KindState,
    /// The collection's reason, when it gave one.
    pub reason: Option<String>,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.state {
            KindState::NotLicensed => write!(
                f,
                "evidence kind `{}` is not licensed for this organization (HTTP 402)",
                self.kind
            ),
            KindState::Unavailable => write!(
                f,
                "evidence kind `{}` was not available from the API when collected ({})",
                self.kind,
                self.reason.as_deref().unwrap_or("no reason recorded")
            ),
            KindState::Skipped => write!(
                f,
                "evidence kind `{}` was not collected ({})",
                self.kind,
                self.reason
                    .as_deref()
                    .unwrap_or("skipped by the collection's settings")
            ),
            _ => write!(
                f,
                "evidence kind `{}` is missing from the snapshot",
                self.kind
            ),
        }
    }
}

impl EvidenceSet {
    /// Adds (or replaces) a complete kind.
    pub fn with_kind(mut self, kind: &str, records: Vec<Value>) -> Self {
        self.kinds.insert(
            kind.to_owned(),
            KindEvidence::complete(records).reduced_as(kind),
        );
        self
    }

    /// Adds a kind read per parent object: `(parent id, raw record)` pairs.
    pub fn with_children(
        mut self,
        kind: &str,
        parent_field: &str,
        rows: Vec<(&str, Value)>,
    ) -> Self {
        let records = rows
            .into_iter()
            .map(|(parent, record)| {
                let mut line = serde_json::Map::new();
                line.insert(parent_field.to_owned(), Value::String(parent.to_owned()));
                line.insert("record".to_owned(), record);
                Value::Object(line)
            })
            .collect();
        let evidence = KindEvidence::complete_with_parent(records, Some(parent_field));
        self.kinds
            .insert(kind.to_owned(), evidence.reduced_as(kind));
        self
    }

    /// Marks a kind as not licensed (no records).
    pub fn with_not_licensed(mut self, kind: &str) -> Self {
        let mut evidence = KindEvidence::complete(Vec::new());
        evidence.state = KindState::NotLicensed;
        self.kinds.insert(kind.to_owned(), evidence);
        self
    }

    pub fn state(&self, kind: &str) -> KindState {
        self.kinds.get(kind).map_or(KindState::Missing, |k| k.state)
    }

    /// The records of a complete kind.
    pub fn records(&self, kind: &str) -> Result<&[Record], Unavailable> {
        let evidence = self.complete(kind)?;
        if evidence.loaded {
            Ok(&evidence.records)
        } else {
            Err(self.unavailable(kind))
        }
    }

    /// The kind, when complete.
    fn complete(&self, kind: &str) -> Result<&KindEvidence, Unavailable> {
        match self.kinds.get(kind) {
            Some(evidence) if evidence.state == KindState::Complete => Ok(evidence),
            _ => Err(self.unavailable(kind)),
        }
    }

    fn unavailable(&self, kind: &str) -> Unavailable {
        let evidence = self.kinds.get(kind);
        Unavailable {
            kind: kind.to_owned(),
            state: evidence.map_or(KindState::Missing, |k| k.state),
            reason: evidence.and_then(|k| k.reason.clone()),
        }
    }

    /// The policy results of a complete `policy_statuses` kind.
    pub fn policy_results(&self) -> Result<&PolicyResults, Unavailable> {
        let kind = super::kinds::POLICY_STATUSES;
        match &self.complete(kind)?.aggregate {
            Some(Aggregate::PolicyResults(results)) => Ok(results),
            _ => Err(self.unavailable(kind)),
        }
    }

    /// The sign-ins of a complete Directory Insights events kind.
    pub fn sign_ins(&self) -> Result<&SignIns, Unavailable> {
        let kind = super::kinds::DI_EVENTS;
        match &self.complete(kind)?.aggregate {
            Some(Aggregate::SignIns(sign_ins)) => Ok(sign_ins),
            _ => Err(self.unavailable(kind)),
        }
    }

    /// The day states of a complete policy results history.
    pub fn policy_days(&self) -> Result<&PolicyDays, Unavailable> {
        let kind = super::kinds::POLICY_RESULTS_HISTORY;
        match &self.complete(kind)?.aggregate {
            Some(Aggregate::PolicyDays(days)) => Ok(days),
            _ => Err(self.unavailable(kind)),
        }
    }

    /// The records of a per-parent kind as `(parent id, raw record)`. Lines without the parent
    /// wrapper are returned with an empty parent id.
    pub fn children(&self, kind: &str) -> Result<Vec<(&str, &Record)>, Unavailable> {
        let field = self.kinds.get(kind).and_then(|k| k.parent_field.as_deref());
        Ok(self
            .records(kind)?
            .iter()
            .map(|line| child_parts(line, field))
            .collect())
    }

    /// Per-kind record counts, for change summaries.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.kinds
            .iter()
            .map(|(kind, evidence)| (kind.clone(), evidence.count))
            .collect()
    }
}

/// Errors reading evidence records.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{origin} line {line}: not a JSON record: {source}")]
    Record {
        /// Where the records came from (a blob path).
        origin: String,
        line: usize,
        source: serde_json::Error,
    },
}

// The collector's manifest fields the reports need; everything else is ignored on purpose, so
// older and newer manifests load alike.
#[derive(Deserialize)]
struct CollectionView {
    #[serde(default)]
    collector_version: Option<String>,
    #[serde(default)]
    org: Option<OrgView>,
    #[serde(default)]
    region: Option<Value>,
    #[serde(default)]
    started_at: Option<jiff::Timestamp>,
    #[serde(default)]
    finished_at: Option<jiff::Timestamp>,
    #[serde(default)]
    events_window: Option<WindowView>,
    #[serde(default)]
    history_coverage: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
struct OrgView {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct WindowView {
    start: jiff::Timestamp,
    end: jiff::Timestamp,
}

/// The report metadata held by a collection manifest (organization, region, times, events
/// window). Unknown or missing fields are left empty.
pub fn collection_meta(collection: &Value) -> SnapshotMeta {
    let view: Option<CollectionView> = serde_json::from_value(collection.clone()).ok();
    let Some(view) = view else {
        return SnapshotMeta::default();
    };
    let org = view.org.unwrap_or_default();
    SnapshotMeta {
        org_id: org.id,
        org_name: org.name,
        region: view.region.map(|r| match r {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        started_at: view.started_at,
        finished_at: view.finished_at,
        events_window_start: view.events_window.as_ref().map(|w| w.start),
        events_window_end: view.events_window.as_ref().map(|w| w.end),
        collector_version: view.collector_version,
        // An entry that does not parse is left out: the controls on it then report no coverage.
        history_coverage: view
            .history_coverage
            .into_iter()
            .filter_map(|(kind, period)| Some((kind, serde_json::from_value(period).ok()?)))
            .collect(),
        ..SnapshotMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_meta_reads_what_it_knows_and_ignores_the_rest() {
        let meta = collection_meta(&serde_json::json!({
            "org": {"id": "o1", "name": "Acme"}, "region": "eu", "future_field": 1,
            "events_window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-31T00:00:00Z"},
        }));
        assert_eq!(
            (meta.org_id.as_str(), meta.org_name.as_str()),
            ("o1", "Acme")
        );
        assert_eq!(meta.region.as_deref(), Some("eu"));
        assert!(meta.events_window_start.is_some() && meta.finished_at.is_none());
        assert_eq!(
            collection_meta(&serde_json::json!([1])),
            SnapshotMeta::default()
        );
    }
}
