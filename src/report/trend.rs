//! The trend over the audit period: failing controls per snapshot of the chain, and per
//! control the share of snapshots it passed. SOC 2 Type II asks whether a control held over
//! the period, not whether it is green today. A pure function of the stored statuses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::controls::ControlStatus;
use crate::store::ChainResults;

/// One snapshot in the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    pub snapshot_id: String,
    pub at: jiff::Timestamp,
    pub failing: u64,
    pub passing: u64,
    /// In error or not applicable: neither pass nor fail.
    pub other: u64,
}

/// One control over the period: in how many of the snapshots with results it passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlTrend {
    pub id: String,
    pub passed: u64,
    pub failed: u64,
    pub error: u64,
    pub not_applicable: u64,
    /// Snapshots with results that hold no result of this control (added to the catalog later).
    pub not_evaluated: u64,
    /// Snapshots with results: the denominator of `passed`.
    pub snapshots: u64,
}

impl ControlTrend {
    /// `passed` of `snapshots` as a percentage, one decimal, for display.
    pub fn passed_percent(&self) -> String {
        if self.snapshots == 0 {
            return "n/a".to_owned();
        }
        // Tenths of a percent in integers: the same text on every machine.
        let tenths = (self.passed * 1000 + self.snapshots / 2) / self.snapshots;
        format!("{}.{}%", tenths / 10, tenths % 10)
    }
}

/// The trend of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trend {
    /// Snapshots with stored results, oldest first.
    pub points: Vec<TrendPoint>,
    pub controls: Vec<ControlTrend>,
    /// Snapshots committed without control results: not counted, neither pass nor fail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_results: Vec<String>,
}

impl Trend {
    /// Why there is no chart, when there is none: a trend needs two snapshots with results.
    pub fn note(&self) -> Option<String> {
        match self.points.len() {
            0 => Some("No snapshot of the period has stored control results: no trend to show.".to_owned()),
            1 => Some("Only one snapshot of the period has stored control results: a trend needs at least two.".to_owned()),
            _ => None,
        }
    }

    /// The period the trend covers: first and last snapshot with results.
    pub fn period(&self) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
        Some((self.points.first()?.at, self.points.last()?.at))
    }
}

/// The trend of a chain, oldest snapshot first. Controls are listed in the order of the last
/// snapshot's results, then any that only earlier snapshots had, by id.
pub fn trend_of(chain: &[ChainResults]) -> Trend {
    let mut points = Vec::new();
    let mut without_results = Vec::new();
    let mut per_control: BTreeMap<&str, ControlTrend> = BTreeMap::new();
    for snapshot in chain {
        let Some(statuses) = &snapshot.statuses else {
            without_results.push(snapshot.snapshot_id.clone());
            continue;
        };
        let mut point = TrendPoint {
            snapshot_id: snapshot.snapshot_id.clone(),
            at: snapshot.at,
            failing: 0,
            passing: 0,
            other: 0,
        };
        for (id, status) in statuses {
            let control = per_control.entry(id).or_insert_with(|| ControlTrend {
                id: id.clone(),
                passed: 0,
                failed: 0,
                error: 0,
                not_applicable: 0,
                not_evaluated: 0,
                snapshots: 0,
            });
            match status {
                ControlStatus::Pass => {
                    control.passed += 1;
                    point.passing += 1;
                }
                ControlStatus::Fail => {
                    control.failed += 1;
                    point.failing += 1;
                }
                ControlStatus::Error => {
                    control.error += 1;
                    point.other += 1;
                }
                ControlStatus::NotApplicable => {
                    control.not_applicable += 1;
                    point.other += 1;
                }
            }
        }
        points.push(point);
    }
    let order: Vec<&str> = chain
        .iter()
        .rev()
        .find_map(|s| s.statuses.as_ref())
        .map(|last| last.iter().map(|(id, _)| id.as_str()).collect())
        .unwrap_or_default();
    let total = points.len() as u64;
    let mut controls = Vec::new();
    for id in order {
        if let Some(control) = per_control.remove(id) {
            controls.push(control);
        }
    }
    controls.extend(per_control.into_values());
    for control in &mut controls {
        control.snapshots = total;
        control.not_evaluated =
            total - control.passed - control.failed - control.error - control.not_applicable;
    }
    Trend {
        points,
        controls,
        without_results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ControlStatus::*;

    fn at(day: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + day * 86_400).unwrap()
    }

    fn snapshot(day: i64, statuses: Option<&[(&str, ControlStatus)]>) -> ChainResults {
        ChainResults {
            snapshot_id: format!("s{day}"),
            at: at(day),
            statuses: statuses.map(|s| s.iter().map(|(id, st)| (id.to_string(), *st)).collect()),
        }
    }

    #[test]
    fn counts_pass_fail_and_keeps_error_and_skip_apart() {
        let chain = [
            snapshot(0, Some(&[("A", Pass), ("B", Fail), ("C", Error)])),
            snapshot(1, None),
            snapshot(2, Some(&[("A", Pass), ("B", Pass), ("C", NotApplicable)])),
            snapshot(
                3,
                Some(&[("A", Fail), ("B", Pass), ("C", Error), ("D", Pass)]),
            ),
        ];
        let trend = trend_of(&chain);
        assert_eq!(trend.without_results, ["s1"]);
        let failing: Vec<u64> = trend.points.iter().map(|p| p.failing).collect();
        assert_eq!(failing, [1, 0, 1]);
        let other: Vec<u64> = trend.points.iter().map(|p| p.other).collect();
        assert_eq!(other, [1, 1, 1]);
        let ids: Vec<&str> = trend.controls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["A", "B", "C", "D"]);
        let a = &trend.controls[0];
        assert_eq!((a.passed, a.failed, a.snapshots), (2, 1, 3));
        assert_eq!(a.passed_percent(), "66.7%");
        // Error and not-applicable are neither a pass nor a fail, and are shown as such.
        let c = &trend.controls[2];
        assert_eq!(
            (c.passed, c.failed, c.error, c.not_applicable),
            (0, 0, 2, 1)
        );
        assert_eq!(c.passed_percent(), "0.0%");
        // A control only the last snapshot has was not evaluated in the others: not a pass.
        let d = &trend.controls[3];
        assert_eq!((d.passed, d.not_evaluated, d.snapshots), (1, 2, 3));
        assert_eq!(trend.note(), None);
        assert_eq!(trend.period(), Some((at(0), at(3))));
    }

    #[test]
    fn an_empty_or_single_snapshot_chain_has_a_note_instead_of_a_chart() {
        let empty = trend_of(&[]);
        assert!(empty.points.is_empty() && empty.controls.is_empty());
        assert!(empty.note().unwrap().contains("No snapshot"));
        let one = trend_of(&[snapshot(0, Some(&[("A", Pass)]))]);
        assert!(one.note().unwrap().contains("at least two"));
        assert_eq!(one.controls[0].passed_percent(), "100.0%");
        let unstored = trend_of(&[snapshot(0, None), snapshot(1, None)]);
        assert!(unstored.note().unwrap().contains("No snapshot"));
        assert_eq!(unstored.without_results, ["s0", "s1"]);
    }
}
