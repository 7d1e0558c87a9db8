//! The per-framework view: each SOC 2 criterion and ISO/IEC 27001 Annex A control the catalog
//! maps to, with the controls that map to it and their status. Auditors read by criterion.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::controls::{ControlResult, ControlStatus};

/// A control as listed under a criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappedControl {
    pub id: String,
    pub title: String,
    pub status: ControlStatus,
}

/// One criterion of a framework and the controls that map to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Criterion {
    pub reference: String,
    /// The worst status of its controls: fail, then error, then pass, then not applicable.
    pub status: ControlStatus,
    pub controls: Vec<MappedControl>,
}

/// The view of both frameworks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frameworks {
    pub soc2: Vec<Criterion>,
    pub iso27001: Vec<Criterion>,
}

fn rank(status: ControlStatus) -> u8 {
    match status {
        ControlStatus::Fail => 3,
        ControlStatus::Error => 2,
        ControlStatus::Pass => 1,
        ControlStatus::NotApplicable => 0,
    }
}

/// Orders references numerically by part (`CC6.10` after `CC6.9`, `A.8.24` after `A.8.5`).
fn sort_key(reference: &str) -> Vec<(String, u64)> {
    reference
        .split('.')
        .map(|part| {
            let digits: String = part.chars().filter(char::is_ascii_digit).collect();
            let letters: String = part.chars().filter(|c| !c.is_ascii_digit()).collect();
            (letters, digits.parse().unwrap_or(0))
        })
        .collect()
}

fn criteria<'a>(
    results: &'a [ControlResult],
    references: impl Fn(&'a ControlResult) -> &'a [String],
) -> Vec<Criterion> {
    let mut by_reference: BTreeMap<Vec<(String, u64)>, Criterion> = BTreeMap::new();
    for result in results {
        for reference in references(result) {
            let criterion = by_reference
                .entry(sort_key(reference))
                .or_insert_with(|| Criterion {
                    reference: reference.clone(),
                    status: ControlStatus::NotApplicable,
                    controls: Vec::new(),
                });
            if rank(result.status) > rank(criterion.status) {
                criterion.status = result.status;
            }
            criterion.controls.push(MappedControl {
                id: result.id.clone(),
                title: result.title.clone(),
                status: result.status,
            });
        }
    }
    by_reference.into_values().collect()
}

/// The framework view of a report's results (the catalog's suggested mapping).
pub fn frameworks_of(results: &[ControlResult]) -> Frameworks {
    Frameworks {
        soc2: criteria(results, |r| &r.references.soc2),
        iso27001: criteria(results, |r| &r.references.iso27001),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::References;

    fn result(id: &str, status: ControlStatus, soc2: &[&str], iso: &[&str]) -> ControlResult {
        ControlResult {
            id: id.to_owned(),
            title: format!("title {id}"),
            status,
            summary: String::new(),
            evaluated: 0,
            failing: Vec::new(),
            notes: Vec::new(),
            references: References {
                mapping: "suggested".to_owned(),
                soc2: soc2.iter().map(|s| s.to_string()).collect(),
                iso27001: iso.iter().map(|s| s.to_string()).collect(),
            },
            thresholds: Default::default(),
            evidence_kinds: Vec::new(),
        }
    }

    #[test]
    fn groups_controls_by_criterion_with_the_worst_status() {
        let results = [
            result("A", ControlStatus::Pass, &["CC6.1", "CC6.10"], &["A.8.5"]),
            result("B", ControlStatus::Fail, &["CC6.1"], &["A.8.24"]),
            result("C", ControlStatus::Error, &["CC6.9"], &["A.8.5"]),
            result("D", ControlStatus::NotApplicable, &["CC7.1"], &[]),
        ];
        let view = frameworks_of(&results);
        let refs: Vec<&str> = view.soc2.iter().map(|c| c.reference.as_str()).collect();
        assert_eq!(refs, ["CC6.1", "CC6.9", "CC6.10", "CC7.1"]);
        let cc61 = &view.soc2[0];
        assert_eq!(cc61.status, ControlStatus::Fail);
        let ids: Vec<&str> = cc61.controls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["A", "B"]);
        assert_eq!(view.soc2[1].status, ControlStatus::Error);
        assert_eq!(view.soc2[3].status, ControlStatus::NotApplicable);
        let iso: Vec<(&str, ControlStatus)> = view
            .iso27001
            .iter()
            .map(|c| (c.reference.as_str(), c.status))
            .collect();
        assert_eq!(
            iso,
            [
                ("A.8.5", ControlStatus::Error),
                ("A.8.24", ControlStatus::Fail)
            ]
        );
    }
}
