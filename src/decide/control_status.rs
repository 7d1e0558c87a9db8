//! Pure decisions about compliance control results after a sync: the status summary and the
//! events for controls that started failing or recovered. The evaluation itself and the report
//! files are produced in [`crate::controller`]'s act layer; nothing here does IO.

use std::collections::BTreeSet;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{EventKind, EventSpec};
use crate::controls::{ControlResult, ControlStatus, ResultsSummary};
use crate::crd::ControlsStatus;

/// Event reason: a control went from pass (or unknown) to fail.
pub const CONTROL_FAILING: &str = "ControlFailing";
/// Event reason: a failing control passes again.
pub const CONTROL_RECOVERED: &str = "ControlRecovered";
/// Event reason: the auditor report of a new snapshot could not be stored.
pub const CONTROL_REPORT_NOT_WRITTEN: &str = "ControlReportNotWritten";

/// Action of the events about the evaluation as a whole.
pub const EVALUATE_CONTROLS: &str = "EvaluateControls";

/// Action of the events about one control: distinct per control, so the event recorder keeps
/// one series (and note) per control instead of merging all controls into the first one.
pub fn control_action(id: &str) -> String {
    format!("EvaluateControl/{id}")
}

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
/// evaluation:
/// - Warning `ControlFailing` for each control that fails now and did not before (on the first
///   evaluation, every failing control);
/// - Normal `ControlRecovered` for each control that failed before and passes now (a control
///   that became not applicable or errored is not "recovered");
/// - nothing for unchanged controls;
/// - Warning `ControlReportNotWritten` when the auditor report could not be stored.
pub fn control_events(
    previous: Option<&ControlsStatus>,
    evaluation: &ControlsEvaluation,
) -> Vec<EventSpec> {
    let was_failing: BTreeSet<&str> = previous
        .map(|p| p.failing_ids.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for control in &evaluation.controls {
        let failed_before = was_failing.contains(control.id.as_str());
        match control.status {
            ControlStatus::Fail if !failed_before => out.push(EventSpec {
                kind: EventKind::Warning,
                reason: CONTROL_FAILING.to_owned(),
                note: format!(
                    "Control {} ({}) fails: {} failing resource{}. `jumpcloud-operator report` lists them.",
                    control.id,
                    control.title,
                    control.failing,
                    if control.failing == 1 { "" } else { "s" }
                ),
                action: Some(control_action(&control.id)),
            }),
            ControlStatus::Pass if failed_before => out.push(EventSpec {
                kind: EventKind::Normal,
                reason: CONTROL_RECOVERED.to_owned(),
                note: format!("Control {} ({}) passes again.", control.id, control.title),
                action: Some(control_action(&control.id)),
            }),
            _ => {}
        }
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

    #[test]
    fn pass_to_fail_warns_with_id_title_and_count() {
        let events = control_events(
            Some(&previous(&[])),
            &evaluation(vec![
                brief("JC-A", ControlStatus::Fail, 3),
                brief("JC-B", ControlStatus::Pass, 0),
            ]),
        );
        assert_eq!(reasons(&events), [(EventKind::Warning, CONTROL_FAILING)]);
        let note = &events[0].note;
        assert!(note.contains("JC-A"), "{note}");
        assert!(note.contains("Title of JC-A"), "{note}");
        assert!(note.contains("3 failing resources"), "{note}");
    }

    #[test]
    fn fail_to_pass_recovers() {
        let events = control_events(
            Some(&previous(&["JC-A"])),
            &evaluation(vec![brief("JC-A", ControlStatus::Pass, 0)]),
        );
        assert_eq!(reasons(&events), [(EventKind::Normal, CONTROL_RECOVERED)]);
        assert!(events[0].note.contains("JC-A"));
    }

    #[test]
    fn unchanged_controls_make_no_events() {
        let events = control_events(
            Some(&previous(&["JC-A"])),
            &evaluation(vec![
                // Still failing, even with a different count.
                brief("JC-A", ControlStatus::Fail, 7),
                brief("JC-B", ControlStatus::Pass, 0),
                brief("JC-C", ControlStatus::NotApplicable, 0),
                brief("JC-D", ControlStatus::Error, 0),
            ]),
        );
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn failing_to_not_applicable_or_error_is_not_a_recovery() {
        let events = control_events(
            Some(&previous(&["JC-A", "JC-B"])),
            &evaluation(vec![
                brief("JC-A", ControlStatus::NotApplicable, 0),
                brief("JC-B", ControlStatus::Error, 0),
            ]),
        );
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn first_evaluation_warns_for_every_failing_control() {
        let events = control_events(
            None,
            &evaluation(vec![
                brief("JC-A", ControlStatus::Fail, 1),
                brief("JC-B", ControlStatus::Fail, 2),
                brief("JC-C", ControlStatus::Pass, 0),
            ]),
        );
        assert_eq!(
            reasons(&events),
            [
                (EventKind::Warning, CONTROL_FAILING),
                (EventKind::Warning, CONTROL_FAILING)
            ]
        );
        assert!(events[0].note.contains("1 failing resource."));
        // One series per control in the event recorder.
        assert_eq!(events[0].action.as_deref(), Some("EvaluateControl/JC-A"));
        assert_eq!(events[1].action.as_deref(), Some("EvaluateControl/JC-B"));
    }

    #[test]
    fn a_report_that_was_not_stored_warns() {
        let mut written = evaluation(vec![brief("JC-A", ControlStatus::Fail, 1)]);
        written.report_error = Some("disk full".into());
        let events = control_events(Some(&previous(&["JC-A"])), &written);
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
