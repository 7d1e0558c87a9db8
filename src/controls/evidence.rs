//! The evidence a control reads: records per kind, as the JumpCloud API returned them, plus the
//! status of each kind and the snapshot's metadata. The evidence store builds it from a stored
//! snapshot (`crate::store::load_evidence`); this module only parses, it does no IO.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
}

impl KindState {
    pub fn as_str(self) -> &'static str {
        match self {
            KindState::Complete => "complete",
            KindState::NotLicensed => "not-licensed",
            KindState::Missing => "missing",
            KindState::Unavailable => "unavailable",
        }
    }
}

/// One evidence kind.
#[derive(Debug, Clone, PartialEq)]
pub struct KindEvidence {
    pub state: KindState,
    /// The NDJSON lines, parsed. For kinds read per parent object each record is
    /// `{"<parent_field>": id, "record": <raw>}` (see [`EvidenceSet::children`]).
    pub records: Vec<Value>,
    /// Number of records: the manifest's count, also for kinds whose records were not loaded.
    pub count: u64,
    /// Whether `records` holds the kind's records (the loader can skip kinds no control reads).
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
    /// A complete kind with the given records (tests and in-memory evaluation).
    pub fn complete(records: Vec<Value>) -> Self {
        KindEvidence {
            state: KindState::Complete,
            count: records.len() as u64,
            loaded: true,
            records,
            sha256: None,
            blobs: Vec::new(),
            file: None,
            parent_field: None,
            reason: None,
        }
    }
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
        self.kinds
            .insert(kind.to_owned(), KindEvidence::complete(records));
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
        let mut evidence = KindEvidence::complete(records);
        evidence.parent_field = Some(parent_field.to_owned());
        self.kinds.insert(kind.to_owned(), evidence);
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
    pub fn records(&self, kind: &str) -> Result<&[Value], Unavailable> {
        match self.kinds.get(kind) {
            Some(evidence) if evidence.state == KindState::Complete && evidence.loaded => {
                Ok(&evidence.records)
            }
            other => Err(Unavailable {
                kind: kind.to_owned(),
                state: other.map_or(KindState::Missing, |k| k.state),
                reason: other.and_then(|k| k.reason.clone()),
            }),
        }
    }

    /// The records of a per-parent kind as `(parent id, raw record)`. Lines without the parent
    /// wrapper are returned with an empty parent id.
    pub fn children(&self, kind: &str) -> Result<Vec<(&str, &Value)>, Unavailable> {
        let evidence = self.kinds.get(kind);
        let field = evidence
            .and_then(|k| k.parent_field.clone())
            .unwrap_or_default();
        let records = self.records(kind)?;
        Ok(records
            .iter()
            .map(|line| {
                let parent = line
                    .get(&field)
                    .and_then(Value::as_str)
                    .or_else(|| {
                        // Tolerate a manifest without `parent_field`: any `*_id` string key
                        // next to `record`.
                        line.as_object().and_then(|map| {
                            map.iter()
                                .find(|(k, v)| k.ends_with("_id") && v.is_string())
                                .and_then(|(_, v)| v.as_str())
                        })
                    })
                    .unwrap_or("");
                let record = line.get("record").unwrap_or(line);
                (parent, record)
            })
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
        ..SnapshotMeta::default()
    }
}

/// Which fields of a record to keep while parsing it.
#[derive(Clone, Copy)]
struct Projection<'a> {
    /// Sorted (binary search; the projection's tests check it).
    keep: &'static [&'static str],
    /// The parent id field of a per-parent line (`{"<parent>": id, "record": {...}}`).
    parent_field: Option<&'a str>,
    /// Whether this is the line itself (where `record` and the parent field live).
    line: bool,
}

impl Projection<'_> {
    fn keeps(&self, key: &str) -> bool {
        self.keep.binary_search(&key).is_ok() || (self.line && self.parent_field == Some(key))
    }
}

/// Parses a record keeping only the projected fields of its object (and of the inner `record`
/// of a per-parent line). The other fields are skipped by the parser, never allocated: building
/// them first and dropping them after would leave the allocator holding the peak anyway.
impl<'de> serde::de::DeserializeSeed<'de> for Projection<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Projection<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.line && key == "record" {
                let inner = Projection {
                    line: false,
                    ..self
                };
                fields.insert(key, map.next_value_seed(inner)?);
            } else if self.keeps(&key) {
                fields.insert(key, map.next_value()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(Value::Object(fields))
    }

    // Records are objects; anything else is kept whole, as the API returned it.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// Parses one kind's NDJSON. With `keep`, records keep just those top-level fields (and the
/// `parent_field` of a child line): parsed JSON takes about ten times its text in memory.
pub fn parse_records_keeping(
    ndjson: &[u8],
    keep: Option<&'static [&'static str]>,
    parent_field: Option<&str>,
    origin: &str,
) -> Result<Vec<Value>, LoadError> {
    let projection = keep.map(|keep| Projection {
        keep,
        parent_field,
        line: true,
    });
    let mut records = Vec::new();
    for (index, line) in ndjson.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = match projection {
            Some(projection) => {
                use serde::de::DeserializeSeed;
                let mut deserializer = serde_json::Deserializer::from_slice(line);
                projection
                    .deserialize(&mut deserializer)
                    .and_then(|value| deserializer.end().map(|()| value))
            }
            None => serde_json::from_slice(line),
        };
        records.push(parsed.map_err(|source| LoadError::Record {
            origin: origin.to_owned(),
            line: index + 1,
            source,
        })?);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::parse_records;

    #[test]
    fn records_parse_with_line_numbers_and_projection() {
        let ndjson = b"{\"id\":\"a\",\"event_type\":\"x\",\"noise\":[1,2]}\n\n{\"id\":\"b\"}\n";
        let all = parse_records(ndjson, "directory_insights_events", None, "blob", false).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[0].get("noise").is_some());
        let trimmed =
            parse_records(ndjson, "directory_insights_events", None, "blob", true).unwrap();
        assert_eq!(
            trimmed[0],
            serde_json::json!({"id": "a", "event_type": "x"})
        );
        let error = parse_records(b"{}\nnot json\n", "users", None, "blobs/x", false).unwrap_err();
        assert!(error.to_string().starts_with("blobs/x line 2:"), "{error}");
        let error = parse_records(b"{\"id\":1} trailing\n", "users", None, "b", true).unwrap_err();
        assert!(error.to_string().starts_with("b line 1:"), "{error}");
    }

    #[test]
    fn projection_keeps_the_parent_and_the_fields_read_of_the_inner_record() {
        let ndjson =
            br#"{"group_id":"g1","other":1,"record":{"id":"u1","type":"user","paths":[[1]]}}
{"group_id":"g2","record":[1,{"a":null}]}
[true,2,-3,1.5,"s",null]
"#;
        let lines =
            parse_records(ndjson, "user_group_members", Some("group_id"), "b", true).unwrap();
        assert_eq!(
            lines,
            vec![
                serde_json::json!({"group_id": "g1", "record": {"id": "u1", "type": "user"}}),
                serde_json::json!({"group_id": "g2", "record": [1, {"a": null}]}),
                serde_json::json!([true, 2, -3, 1.5, "s", null]),
            ]
        );
        let whole =
            parse_records(ndjson, "user_group_members", Some("group_id"), "b", false).unwrap();
        assert_eq!(whole[0]["other"], 1);
    }

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
