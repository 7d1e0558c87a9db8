//! "Changes since the previous snapshot": only the kinds that changed, with who and what
//! changed where the store's record diff is known, and the controls whose status changed. A
//! kind that was not collected on one side is "not collected", never a count.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Baseline;
use crate::controls::{ControlResult, ControlStatus, EvidenceSet, KindState, SnapshotMeta};
use crate::store::diff::{KindDiff, RecordRef};

/// Records listed per list (added, removed, changed) of a kind; the totals say how many more.
const LISTED: usize = 25;

/// Fields that change on every check-in: a record where only these changed is counted, not
/// listed, so the list shows what an auditor cares about.
const ROUTINE_FIELDS: [&str; 1] = ["lastContact"];

/// The records of one kind that changed, by name then id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// `name (id): field from -> to; ...`
    pub changed: Vec<String>,
    pub added_total: u64,
    pub removed_total: u64,
    pub changed_total: u64,
    /// Records where only check-in times changed.
    pub routine: u64,
}

impl RecordChanges {
    pub fn is_empty(&self) -> bool {
        self.added_total == 0 && self.removed_total == 0 && self.changed_total == 0
    }
}

/// One kind that changed. A count is `None` when the kind was not collected in that snapshot
/// (not licensed, unavailable or missing): its count there means nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindDelta {
    pub kind: String,
    pub previous: Option<u64>,
    pub current: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordChanges>,
}

impl KindDelta {
    /// "1500 -> 1512 (+12)", "1500 -> not collected".
    pub fn counts_text(&self) -> String {
        let side = |count: Option<u64>| count.map_or("not collected".to_owned(), |c| c.to_string());
        match (self.previous, self.current) {
            (Some(p), Some(c)) => format!("{p} -> {c} ({:+})", c as i64 - p as i64),
            (p, c) => format!("{} -> {}", side(p), side(c)),
        }
    }
}

/// A control whose status differs from the previous snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub id: String,
    pub previous: ControlStatus,
    pub current: ControlStatus,
    pub previous_failing: u64,
    pub current_failing: u64,
}

/// Changes since a previous snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub previous: SnapshotMeta,
    /// Whether the current manifest names the previous one as its predecessor.
    pub chained: Option<bool>,
    /// Only the kinds that changed.
    pub kinds: Vec<KindDelta>,
    /// How many kinds are unchanged (not listed).
    #[serde(default)]
    pub unchanged_kinds: u64,
    pub controls: Vec<StatusChange>,
}

/// `name (id)`, or the id alone for a record without a name.
fn named(key: &str, label: Option<&str>) -> String {
    match label.filter(|l| !l.is_empty()) {
        Some(label) => format!("{label} ({key})"),
        None => key.to_owned(),
    }
}

fn value_text(value: Option<&serde_json::Value>) -> String {
    match value {
        None => "absent".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The record changes of one kind from the store's diff, names before ids.
pub fn record_changes(diff: &KindDiff) -> RecordChanges {
    let refs = |records: &[RecordRef]| -> Vec<String> {
        records
            .iter()
            .take(LISTED)
            .map(|r| named(&r.key, r.label.as_deref()))
            .collect()
    };
    let mut changed = Vec::new();
    let mut changed_total = 0;
    let mut routine = 0;
    for record in &diff.changed {
        let fields: Vec<String> = record
            .fields
            .iter()
            .filter(|f| !ROUTINE_FIELDS.contains(&f.path.as_str()))
            .map(|f| {
                format!(
                    "{} {} -> {}",
                    f.path,
                    value_text(f.from.as_ref()),
                    value_text(f.to.as_ref())
                )
            })
            .collect();
        if fields.is_empty() {
            routine += 1;
            continue;
        }
        changed_total += 1;
        if changed.len() < LISTED {
            changed.push(format!(
                "{}: {}",
                named(&record.key, record.label.as_deref()),
                fields.join("; ")
            ));
        }
    }
    RecordChanges {
        added: refs(&diff.added),
        removed: refs(&diff.removed),
        changed,
        added_total: diff.added.len() as u64,
        removed_total: diff.removed.len() as u64,
        changed_total,
        routine,
    }
}

fn collected(
    states: &BTreeMap<String, KindState>,
    counts: &BTreeMap<String, u64>,
    kind: &str,
) -> Option<u64> {
    match states.get(kind) {
        Some(KindState::Complete) => counts.get(kind).copied(),
        _ => None,
    }
}

/// The changes from `previous` to `current`, with the record diff the baseline holds (a kind
/// absent from it has no record-level detail).
pub fn changes_since(
    current: &EvidenceSet,
    results: &[ControlResult],
    previous: &Baseline,
) -> Changes {
    let records = &previous.records;
    let after_counts = current.counts();
    let after_states = super::kind_states(current);
    let names: BTreeSet<&String> = previous.counts.keys().chain(after_counts.keys()).collect();
    let mut kinds = Vec::new();
    let mut unchanged_kinds = 0;
    for kind in names {
        let delta = KindDelta {
            kind: kind.clone(),
            previous: collected(&previous.states, &previous.counts, kind),
            current: collected(&after_states, &after_counts, kind),
            records: records.get(kind).filter(|r| !r.is_empty()).cloned(),
        };
        if delta.previous != delta.current || delta.records.is_some() {
            kinds.push(delta);
        } else {
            unchanged_kinds += 1;
        }
    }
    let previous_results: BTreeMap<&str, &ControlResult> = previous
        .results
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();
    let controls = results
        .iter()
        .filter_map(|r| {
            let p = previous_results.get(r.id.as_str())?;
            (p.status != r.status || p.failing.len() != r.failing.len()).then(|| StatusChange {
                id: r.id.clone(),
                previous: p.status,
                current: r.status,
                previous_failing: p.failing.len() as u64,
                current_failing: r.failing.len() as u64,
            })
        })
        .collect();
    let chained = match (
        &current.meta.previous_manifest_sha256,
        &previous.meta.manifest_sha256,
    ) {
        (Some(link), Some(digest)) => Some(link == digest),
        _ => None,
    };
    Changes {
        previous: previous.meta.clone(),
        chained,
        kinds,
        unchanged_kinds,
        controls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::diff::diff_kind;

    #[test]
    fn record_changes_name_who_and_what_and_skip_check_ins() {
        let before = br#"{"_id":"u1","username":"ada","mfa":{"configured":true}}
{"_id":"u2","username":"bob"}
{"_id":"u4","lastContact":"2026-12-01T00:00:00Z"}
"#;
        let after = br#"{"_id":"u1","username":"ada","mfa":{"configured":false}}
{"_id":"u3"}
{"_id":"u4","lastContact":"2026-12-02T00:00:00Z"}
"#;
        let changes = record_changes(&diff_kind("users", before, after));
        assert_eq!(changes.added, ["u3"]);
        assert_eq!(changes.removed, ["bob (u2)"]);
        assert_eq!(changes.changed, ["ada (u1): mfa.configured true -> false"]);
        assert_eq!((changes.changed_total, changes.routine), (1, 1));
    }

    #[test]
    fn a_kind_not_collected_is_not_a_count() {
        let both = |p: Option<u64>, c: Option<u64>| KindDelta {
            kind: "k".into(),
            previous: p,
            current: c,
            records: None,
        };
        assert_eq!(
            both(Some(1500), None).counts_text(),
            "1500 -> not collected"
        );
        assert_eq!(both(None, Some(3)).counts_text(), "not collected -> 3");
        assert_eq!(both(Some(3), Some(1)).counts_text(), "3 -> 1 (-2)");
    }
}
