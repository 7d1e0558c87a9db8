//! Pure decisions about compliance control results after a sync: the status summary and the
//! events for controls that started failing or recovered. The evaluation itself and the report
//! files are produced in [`crate::controller`]'s act layer; nothing here does IO.

use std::collections::BTreeSet;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{EventKind, EventSpec};
use crate::controls::{ControlResult, ControlStatus, ResultsSummary};
use crate::crd::ControlsStatus;

/// Event reason: the control results of a new snapshot differ from the last ones (newly
/// failing, fixed, or newly not evaluated): one Event per sync, the detail in the report.
pub const CONTROLS_CHANGED: &str = "ControlsChanged";
/// Event reason: the auditor report of a new snapshot could not be stored.
pub const CONTROL_REPORT_NOT_WRITTEN: &str = "ControlReportNotWritten";

/// Action of the events about the evaluation as a whole.
pub const EVALUATE_CONTROLS: &str = "EvaluateControls";

/// Most control ids an Event names per group (the API server takes 1 KiB of note).
const IDS_PER_GROUP: usize = 8;

/// What the events need of one control result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlBrief {
    pub id: String,
    pub title: String,
    pub status: ControlStatus,
    /// Failing resources.
    pub failing: u64,
}

/// The controls evaluated on a new snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlsEvaluation {
    pub summary: ResultsSummary,
    /// The evaluation time: the snapshot's collection end.
    pub evaluated_at: Timestamp,
    pub controls: Vec<ControlBrief>,
    /// Why the auditor report could not be stored, if so (the results are stored with the
    /// snapshot regardless).
    pub report_error: Option<String>,
}

impl ControlsEvaluation {
    pub fn of(results: &[ControlResult], evaluated_at: Timestamp) -> Self {
        ControlsEvaluation {
            summary: ResultsSummary::of(results),
            evaluated_at,
            controls: results
                .iter()
                .map(|r| ControlBrief {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    status: r.status,
                    failing: r.failing.len() as u64,
                })
                .collect(),
            report_error: None,
        }
    }
}

/// The status summary of an evaluation.
pub fn controls_status(evaluation: &ControlsEvaluation) -> ControlsStatus {
    let s = &evaluation.summary;
    ControlsStatus {
        passing: s.passing,
        failing: s.failing,
        not_applicable: s.not_applicable,
        error: s.error,
        failing_ids: s.failing_ids.clone(),
        error_ids: s.error_ids.clone(),
        not_applicable_ids: {
            let mut ids: Vec<String> = evaluation
                .controls
                .iter()
                .filter(|c| c.status == ControlStatus::NotApplicable)
                .map(|c| c.id.clone())
                .collect();
            ids.sort();
            ids
        },
        evaluated_at: Some(Time(evaluation.evaluated_at)),
    }
}

/// Events for the change from the previous summary (`None`: never evaluated) to a new
/// evaluation of the connection `connection` (`namespace/name`):
/// - one `ControlsChanged` Event when any control is newly failing (on the first evaluation:
///   every failing control), fixed (failed before, passes now), or newly not evaluated
///   (error): a Warning when something got worse, Normal when controls were only fixed. It
///   names the controls (failing ones with their counts), the totals now, and the command
///   that gets the report with the per-control detail;
/// - nothing when no control changed group;
/// - Warning `ControlReportNotWritten` when the auditor report could not be stored.
pub fn control_events(
    previous: Option<&ControlsStatus>,
    evaluation: &ControlsEvaluation,
    connection: &str,
) -> Vec<EventSpec> {
    let ids = |list: Option<&Vec<String>>| -> BTreeSet<String> {
        list.map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    };
    let was_failing = ids(previous.map(|p| &p.failing_ids));
    let was_error = ids(previous.map(|p| &p.error_ids));
    let (mut failing, mut fixed, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for control in &evaluation.controls {
        match control.status {
            ControlStatus::Fail if !was_failing.contains(&control.id) => {
                failing.push(format!("{} ({})", control.id, control.failing));
            }
            ControlStatus::Pass if was_failing.contains(&control.id) => {
                fixed.push(control.id.clone());
            }
            ControlStatus::Error if !was_error.contains(&control.id) => {
                errors.push(control.id.clone());
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if !(failing.is_empty() && fixed.is_empty() && errors.is_empty()) {
        let worse = !failing.is_empty() || !errors.is_empty();
        let mut parts = Vec::new();
        for (list, what) in [
            (&failing, "newly failing (failing resources)"),
            (&errors, "newly not evaluated (evidence missing)"),
            (&fixed, "fixed"),
        ] {
            if !list.is_empty() {
                parts.push(format!("{} {what}: {}", list.len(), named(list)));
            }
        }
        let s = &evaluation.summary;
        out.push(EventSpec {
            kind: if worse {
                EventKind::Warning
            } else {
                EventKind::Normal
            },
            reason: CONTROLS_CHANGED.to_owned(),
            note: format!(
                "{}. Now {} failing, {} not evaluated, {} passing. Per control: jumpcloud-operator report --from-cluster {connection} --out report.html",
                parts.join("; "),
                s.failing,
                s.error,
                s.passing,
            ),
            action: Some(EVALUATE_CONTROLS.to_owned()),
        });
    }
    if let Some(error) = &evaluation.report_error {
        out.push(EventSpec {
            kind: EventKind::Warning,
            reason: CONTROL_REPORT_NOT_WRITTEN.to_owned(),
            note: format!(
                "The control results are stored with the snapshot and in status.controls, but the auditor report could not be stored: {error}"
            ),
            action: Some(EVALUATE_CONTROLS.to_owned()),
        });
    }
    out
}

/// The first ids of a group, and how many more.
fn named(ids: &[String]) -> String {
    let shown = ids[..ids.len().min(IDS_PER_GROUP)].join(", ");
    match ids.len().saturating_sub(IDS_PER_GROUP) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(id: &str, status: ControlStatus, failing: u64) -> ControlBrief {
        ControlBrief {
            id: id.into(),
            title: format!("Title of {id}"),
            status,
            failing,
        }
    }

    fn evaluation(controls: Vec<ControlBrief>) -> ControlsEvaluation {
        let mut summary = ResultsSummary::default();
        for c in &controls {
            match c.status {
                ControlStatus::Pass => summary.passing += 1,
                ControlStatus::Fail => {
                    summary.failing += 1;
                    summary.failing_ids.push(c.id.clone());
                }
                ControlStatus::NotApplicable => summary.not_applicable += 1,
                ControlStatus::Error => {
                    summary.error += 1;
                    summary.error_ids.push(c.id.clone());
                }
            }
        }
        ControlsEvaluation {
            summary,
            evaluated_at: "2026-11-29T04:00:00Z".parse().unwrap(),
            controls,
            report_error: None,
        }
    }

    fn previous(failing: &[&str]) -> ControlsStatus {
        ControlsStatus {
            failing: failing.len() as u64,
            failing_ids: failing.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn reasons(events: &[EventSpec]) -> Vec<(EventKind, &str)> {
        events.iter().map(|e| (e.kind, e.reason.as_str())).collect()
    }

    const CONNECTION: &str = "team/prod";

    #[test]
    fn a_newly_failing_control_is_one_warning_naming_it_its_count_and_the_report_command() {
        let events = control_events(
            Some(&previous(&[])),
            &evaluation(vec![
                brief("JC-A", ControlStatus::Fail, 3),
                brief("JC-B", ControlStatus::Pass, 0),
            ]),
            CONNECTION,
        );
        assert_eq!(reasons(&events), [(EventKind::Warning, CONTROLS_CHANGED)]);
        let note = &events[0].note;
        assert!(
            note.contains("1 newly failing (failing resources): JC-A (3)"),
            "{note}"
        );
        assert!(
            note.contains("Now 1 failing, 0 not evaluated, 1 passing"),
            "{note}"
        );
        assert!(
            note.contains("jumpcloud-operator report --from-cluster team/prod"),
            "{note}"
        );
    }

    #[test]
    fn only_fixed_controls_are_a_normal_event() {
        let events = control_events(
            Some(&previous(&["JC-A"])),
            &evaluation(vec![brief("JC-A", ControlStatus::Pass, 0)]),
            CONNECTION,
        );
        assert_eq!(reasons(&events), [(EventKind::Normal, CONTROLS_CHANGED)]);
        assert!(
            events[0].note.contains("1 fixed: JC-A"),
            "{}",
            events[0].note
        );
    }

    #[test]
    fn unchanged_controls_make_no_events() {
        let mut before = previous(&["JC-A"]);
        before.error_ids = vec!["JC-D".into()];
        let events = control_events(
            Some(&before),
            &evaluation(vec![
                // Still failing, even with a different count.
                brief("JC-A", ControlStatus::Fail, 7),
                brief("JC-B", ControlStatus::Pass, 0),
                brief("JC-C", ControlStatus::NotApplicable, 0),
                brief("JC-D", ControlStatus::Error, 0),
            ]),
            CONNECTION,
        );
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn a_control_that_can_no_longer_be_evaluated_warns_and_is_not_a_recovery() {
        let events = control_events(
            Some(&previous(&["JC-A", "JC-B"])),
            &evaluation(vec![
                brief("JC-A", ControlStatus::NotApplicable, 0),
                brief("JC-B", ControlStatus::Error, 0),
            ]),
            CONNECTION,
        );
        assert_eq!(reasons(&events), [(EventKind::Warning, CONTROLS_CHANGED)]);
        let note = &events[0].note;
        assert!(
            note.contains("1 newly not evaluated (evidence missing): JC-B"),
            "{note}"
        );
        assert!(!note.contains("fixed"), "{note}");
    }

    #[test]
    fn the_first_evaluation_is_one_event_for_every_failing_control() {
        let mut controls: Vec<ControlBrief> = (0..12)
            .map(|i| brief(&format!("JC-F{i:02}"), ControlStatus::Fail, i))
            .collect();
        controls.push(brief("JC-P", ControlStatus::Pass, 0));
        let events = control_events(None, &evaluation(controls), CONNECTION);
        assert_eq!(reasons(&events), [(EventKind::Warning, CONTROLS_CHANGED)]);
        let note = &events[0].note;
        assert!(
            note.starts_with("12 newly failing (failing resources): JC-F00 (0), JC-F01 (1)"),
            "{note}"
        );
        assert!(note.contains("JC-F07 (7) and 4 more"), "{note}");
        assert!(note.chars().count() < 1000, "{note}");
    }

    #[test]
    fn a_report_that_was_not_stored_warns() {
        let mut written = evaluation(vec![brief("JC-A", ControlStatus::Fail, 1)]);
        written.report_error = Some("disk full".into());
        let events = control_events(Some(&previous(&["JC-A"])), &written, CONNECTION);
        assert_eq!(
            reasons(&events),
            [(EventKind::Warning, CONTROL_REPORT_NOT_WRITTEN)]
        );
    }

    #[test]
    fn status_copies_the_summary_and_time() {
        let e = evaluation(vec![
            brief("JC-B", ControlStatus::Fail, 1),
            brief("JC-C", ControlStatus::Pass, 0),
            brief("JC-D", ControlStatus::NotApplicable, 0),
        ]);
        let status = controls_status(&e);
        assert_eq!(
            (
                status.passing,
                status.failing,
                status.not_applicable,
                status.error
            ),
            (1, 1, 1, 0)
        );
        assert_eq!(status.failing_ids, ["JC-B"]);
        assert_eq!(status.not_applicable_ids, ["JC-D"]);
        assert_eq!(status.evaluated_at, Some(Time(e.evaluated_at)));
    }
}
