//! What changed between two snapshots, per kind: records added and removed, and the fields that
//! changed in records present in both (keyed by `_id` / `id`). Pure functions over NDJSON.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotDiff {
    pub from: String,
    pub to: String,
    pub kinds: Vec<KindDiff>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindDiff {
    pub kind: String,
    pub added: Vec<RecordRef>,
    pub removed: Vec<RecordRef>,
    pub changed: Vec<RecordChange>,
    pub unchanged: u64,
    /// `from -> to` when the kind's status changed and one side is not `complete` (skipped,
    /// not licensed, unavailable, absent): its records are then not compared, since a kind not
    /// collected has none to compare (its empty file does not mean its records were removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl KindDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.status.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordRef {
    pub key: String,
    /// A human name (username, email, hostname, display name) when the record has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordChange {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub fields: Vec<FieldChange>,
}

/// One leaf that changed; `null` on a side where the field is absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path, e.g. `fde.active`; arrays are compared whole.
    pub path: String,
    pub from: Option<Value>,
    pub to: Option<Value>,
}

/// Preferred first: the name the controls and the report show (a device's display name
/// before its hostname).
const LABEL_FIELDS: [&str; 6] = [
    "username",
    "email",
    "displayName",
    "displayname",
    "hostname",
    "name",
];

fn string_field(object: &Map<String, Value>, field: &str) -> Option<String> {
    match object.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The identity of a record: its `_id`/`id`; for per-parent kinds (`{"<parent>": id,
/// "record": {...}}`) the parent and the inner record's id.
fn record_key(value: &Value) -> Option<(String, Option<String>)> {
    let object = value.as_object()?;
    let label = || {
        LABEL_FIELDS
            .iter()
            .find_map(|field| string_field(object, field))
    };
    if let Some(id) = string_field(object, "_id").or_else(|| string_field(object, "id")) {
        return Some((id, label()));
    }
    if object.len() == 2
        && let Some(inner) = object.get("record")
        && let Some((parent_field, parent)) =
            object.iter().find(|(field, _)| field.as_str() != "record")
        && let Some(parent) = parent.as_str()
    {
        let (inner_key, inner_label) = record_key(inner)?;
        return Some((format!("{parent_field}={parent}/{inner_key}"), inner_label));
    }
    None
}

struct Indexed {
    records: BTreeMap<String, (Option<String>, Value)>,
}

fn index(ndjson: &[u8]) -> Indexed {
    let mut records = BTreeMap::new();
    for line in ndjson.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let value: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
        let (mut key, label) = record_key(&value)
            .unwrap_or_else(|| (format!("sha256:{}", &super::sha256_hex(line)[..16]), None));
        if records.contains_key(&key) {
            let base = key.clone();
            let mut n = 2;
            while records.contains_key(&key) {
                key = format!("{base}#{n}");
                n += 1;
            }
        }
        records.insert(key, (label, value));
    }
    Indexed { records }
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(object) if !object.is_empty() => {
            for (field, inner) in object {
                let path = if prefix.is_empty() {
                    field.clone()
                } else {
                    format!("{prefix}.{field}")
                };
                flatten(&path, inner, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned(), value.clone());
        }
    }
}

/// Field-level changes between two versions of a record.
pub fn field_changes(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut before = BTreeMap::new();
    let mut after = BTreeMap::new();
    flatten("", old, &mut before);
    flatten("", new, &mut after);
    let paths: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    paths
        .into_iter()
        .filter_map(|path| {
            let from = before.get(path);
            let to = after.get(path);
            (from != to).then(|| FieldChange {
                path: path.clone(),
                from: from.cloned(),
                to: to.cloned(),
            })
        })
        .collect()
}

/// Compares one kind's NDJSON in two snapshots.
pub fn diff_kind(kind: &str, old: &[u8], new: &[u8]) -> KindDiff {
    let old = index(old).records;
    let new = index(new).records;
    let mut diff = KindDiff {
        status: None,
        kind: kind.to_owned(),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for (key, (label, value)) in &old {
        match new.get(key) {
            None => diff.removed.push(RecordRef {
                key: key.clone(),
                label: label.clone(),
            }),
            Some((new_label, new_value)) if new_value != value => diff.changed.push(RecordChange {
                key: key.clone(),
                label: new_label.clone().or_else(|| label.clone()),
                fields: field_changes(value, new_value),
            }),
            Some(_) => diff.unchanged += 1,
        }
    }
    for (key, (label, _)) in &new {
        if !old.contains_key(key) {
            diff.added.push(RecordRef {
                key: key.clone(),
                label: label.clone(),
            });
        }
    }
    diff
}

/// Diffs every kind present in either snapshot (a kind absent on one side counts as empty).
pub async fn diff_snapshots(
    connection: &super::ConnectionStore,
    from: &super::Snapshot,
    to: &super::Snapshot,
) -> Result<SnapshotDiff, super::StoreError> {
    diff_snapshot_kinds(connection, from, to, |_| true).await
}

fn kind_status(kind: Option<&super::StoredKind>) -> &str {
    kind.map_or("absent", |kind| kind.status.as_str())
}

/// Diffs the kinds `wanted` accepts, present in either snapshot.
pub async fn diff_snapshot_kinds(
    connection: &super::ConnectionStore,
    from: &super::Snapshot,
    to: &super::Snapshot,
    wanted: impl Fn(&str) -> bool,
) -> Result<SnapshotDiff, super::StoreError> {
    let mut names: Vec<&str> = from
        .index
        .kinds
        .iter()
        .chain(&to.index.kinds)
        .map(|kind| kind.kind.as_str())
        .filter(|kind| wanted(kind))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut kinds = Vec::new();
    for name in names {
        let (old, new) = (from.kind(name), to.kind(name));
        let (old_status, new_status) = (kind_status(old), kind_status(new));
        // A kind absent on one side counts as empty; one not collected has no records at all.
        let collected = |status: &str| status == "complete" || status == "absent";
        if !collected(old_status) || !collected(new_status) {
            if old_status != new_status {
                kinds.push(KindDiff {
                    kind: name.to_owned(),
                    added: Vec::new(),
                    removed: Vec::new(),
                    changed: Vec::new(),
                    unchanged: 0,
                    status: Some(format!("{old_status} -> {new_status}")),
                });
            }
            continue;
        }
        // Same blobs: nothing to read.
        if let (Some(old), Some(new)) = (old, new)
            && old.blobs == new.blobs
        {
            continue;
        }
        let old = match old {
            Some(kind) => connection.read_kind(kind).await?,
            None => Vec::new(),
        };
        let new = match new {
            Some(kind) => connection.read_kind(kind).await?,
            None => Vec::new(),
        };
        let diff = diff_kind(name, &old, &new);
        if !diff.is_empty() {
            kinds.push(diff);
        }
    }
    Ok(SnapshotDiff {
        from: from.id.to_string(),
        to: to.id.to_string(),
        kinds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_mfa_turned_off_and_disk_encryption_lost() {
        let users_before =
            br#"{"_id":"u1","username":"ada","mfa":{"configured":true,"exclusion":false}}
{"_id":"u2","username":"bob","mfa":{"configured":false}}
"#;
        let users_after =
            br#"{"_id":"u1","username":"ada","mfa":{"configured":false,"exclusion":false}}
{"_id":"u3","username":"cy","mfa":{"configured":true}}
"#;
        let diff = diff_kind("users", users_before, users_after);
        assert_eq!(
            diff.removed,
            [RecordRef {
                key: "u2".into(),
                label: Some("bob".into())
            }]
        );
        assert_eq!(
            diff.added,
            [RecordRef {
                key: "u3".into(),
                label: Some("cy".into())
            }]
        );
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(diff.changed[0].label.as_deref(), Some("ada"));
        assert_eq!(
            diff.changed[0].fields,
            [FieldChange {
                path: "mfa.configured".into(),
                from: Some(json!(true)),
                to: Some(json!(false))
            }]
        );

        let devices_before =
            br#"{"_id":"d1","hostname":"mac-1","fde":{"active":true,"keyPresent":true}}"#;
        let devices_after = br#"{"_id":"d1","hostname":"mac-1","fde":{"active":false}}"#;
        let diff = diff_kind("devices", devices_before, devices_after);
        assert_eq!(
            diff.changed[0].fields,
            [
                FieldChange {
                    path: "fde.active".into(),
                    from: Some(json!(true)),
                    to: Some(json!(false))
                },
                FieldChange {
                    path: "fde.keyPresent".into(),
                    from: Some(json!(true)),
                    to: None
                },
            ]
        );
        assert_eq!(diff.unchanged, 0);
    }

    #[test]
    fn keys_wrapped_records_by_parent_and_inner_id() {
        let before = br#"{"group_id":"g1","record":{"id":"u1","type":"user"}}
{"group_id":"g2","record":{"id":"u1","type":"user"}}
"#;
        let after = br#"{"group_id":"g1","record":{"id":"u1","type":"user"}}
"#;
        let diff = diff_kind("user_group_members", before, after);
        assert_eq!(diff.removed[0].key, "group_id=g2/u1");
        assert_eq!(diff.unchanged, 1);
        assert!(diff.changed.is_empty() && diff.added.is_empty());
    }

    #[test]
    fn records_without_ids_compare_by_content() {
        let diff = diff_kind("x", b"{\"a\":1}\n", b"{\"a\":2}\n");
        assert_eq!((diff.added.len(), diff.removed.len()), (1, 1));
        assert!(diff_kind("x", b"{\"a\":1}\n", b"{\"a\":1}\n").is_empty());
    }
}
