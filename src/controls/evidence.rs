//! The evidence a control reads: records per kind, as the JumpCloud API returned them, plus the
//! status of each kind and the snapshot's metadata. Loaded from a snapshot directory (one NDJSON
//! file per kind and a `manifest.json`) by [`load_snapshot_dir`].
//!
//! The loader reads only the manifest fields it needs and ignores the rest, so it keeps working
//! while the manifest grows (signatures, chain links, ...).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

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
}

impl KindState {
    pub fn as_str(self) -> &'static str {
        match self {
            KindState::Complete => "complete",
            KindState::NotLicensed => "not-licensed",
            KindState::Missing => "missing",
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
    /// SHA-256 of the kind's file as recorded in the manifest.
    pub sha256: Option<String>,
    pub file: Option<String>,
    pub parent_field: Option<String>,
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
            file: None,
            parent_field: None,
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
    /// SHA-256 of `manifest.json`, the snapshot's digest.
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
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.state {
            KindState::NotLicensed => write!(
                f,
                "evidence kind `{}` is not licensed for this organization (HTTP 402)",
                self.kind
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

/// Errors loading a snapshot directory.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a snapshot manifest: {source}")]
    Manifest {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} line {line}: not a JSON record: {source}")]
    Record {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("manifest names file `{file}` for kind `{kind}`, which escapes the snapshot directory")]
    UnsafePath { kind: String, file: String },
}

// The manifest fields the loader needs; everything else is ignored on purpose.
#[derive(Deserialize)]
struct ManifestView {
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
    #[serde(
        default,
        alias = "previous_manifest_sha256",
        alias = "previousManifestSha256"
    )]
    previous: Option<Value>,
    #[serde(default)]
    kinds: Vec<KindView>,
}

#[derive(Deserialize)]
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

#[derive(Deserialize)]
struct KindView {
    kind: String,
    file: String,
    #[serde(default)]
    records: Option<u64>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    parent_field: Option<String>,
}

/// Loads a snapshot directory written by `collect`: `manifest.json` plus the NDJSON files it
/// names. Kinds whose status is `not-licensed` load with no records.
pub fn load_snapshot_dir(dir: &Path) -> Result<EvidenceSet, LoadError> {
    load_snapshot_dir_kinds(dir, None)
}

/// Like [`load_snapshot_dir`], but reads the records of the given kinds only (the others keep
/// their manifest entry and count). Parsed JSON takes about ten times the file size in memory,
/// so reports load only what the controls read.
pub fn load_snapshot_dir_kinds(
    dir: &Path,
    only: Option<&std::collections::BTreeSet<&str>>,
) -> Result<EvidenceSet, LoadError> {
    let manifest_path = dir.join("manifest.json");
    let bytes = std::fs::read(&manifest_path).map_err(|source| LoadError::Io {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: ManifestView =
        serde_json::from_slice(&bytes).map_err(|source| LoadError::Manifest {
            path: manifest_path.clone(),
            source,
        })?;
    let org = manifest.org.unwrap_or(OrgView {
        id: String::new(),
        name: String::new(),
    });
    let previous = manifest.previous.and_then(|value| match value {
        Value::String(digest) => Some(digest),
        Value::Object(map) => map
            .get("sha256")
            .or_else(|| map.get("digest"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    });
    let meta = SnapshotMeta {
        org_id: org.id,
        org_name: org.name,
        region: manifest.region.map(|r| match r {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        started_at: manifest.started_at,
        finished_at: manifest.finished_at,
        events_window_start: manifest.events_window.as_ref().map(|w| w.start),
        events_window_end: manifest.events_window.as_ref().map(|w| w.end),
        manifest_sha256: Some(hex::encode(Sha256::digest(&bytes))),
        previous_manifest_sha256: previous,
        collector_version: manifest.collector_version,
    };
    let mut kinds = BTreeMap::new();
    for view in manifest.kinds {
        let state = match view.status.as_deref() {
            Some("not-licensed") => KindState::NotLicensed,
            _ => KindState::Complete,
        };
        let file = Path::new(&view.file);
        if file.is_absolute()
            || file
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(LoadError::UnsafePath {
                kind: view.kind,
                file: view.file,
            });
        }
        let loaded = only.is_none_or(|kinds| kinds.contains(view.kind.as_str()));
        let records = if state == KindState::Complete && loaded {
            let keep = only.and_then(|_| super::catalog::fields_read(&view.kind));
            read_ndjson(&dir.join(file), keep)?
        } else {
            Vec::new()
        };
        kinds.insert(
            view.kind,
            KindEvidence {
                state,
                count: view.records.unwrap_or(records.len() as u64),
                loaded,
                records,
                sha256: view.sha256,
                file: Some(view.file),
                parent_field: view.parent_field,
            },
        );
    }
    Ok(EvidenceSet { meta, kinds })
}

/// Keeps only the given top-level fields of a record (of the inner `record` of a per-parent
/// line), to bound memory on the largest kinds.
fn project(value: Value, keep: &[&str]) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    if let Some(inner) = map.remove("record") {
        map.insert("record".to_owned(), project(inner, keep));
        return Value::Object(map);
    }
    map.retain(|key, _| keep.contains(&key.as_str()));
    Value::Object(map)
}

fn read_ndjson(path: &Path, keep: Option<&[&str]>) -> Result<Vec<Value>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut records = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(&line).map_err(|source| LoadError::Record {
            path: path.to_path_buf(),
            line: index + 1,
            source,
        })?;
        records.push(match keep {
            Some(keep) => project(value, keep),
            None => value,
        });
    }
    Ok(records)
}
