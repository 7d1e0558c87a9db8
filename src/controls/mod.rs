//! Compliance controls: a catalog of checks over one evidence snapshot, evaluated as a pure
//! function of the evidence, the settings and the evaluation time.
//!
//! Layout: [`evidence`] (what is read), [`record`] (a record in memory), [`kind_reader`] (a kind
//! read as it streams in), [`projection`] (which fields of it the controls need), `aggregate`
//! with `policy_results` and `sign_ins` (the kinds reduced while read, since they grow with time
//! and policies, not with the org),
//! [`settings`] (thresholds and scope, `spec.controls`), [`catalog`] (the table of controls),
//! `context` (scope and accessors shared by the controls), `endpoint` and `identity` (the
//! controls' evaluations; a control of its own concept in its own file, such as
//! `device_sudo`), `run` (running all, one, or a phase of them into results). Results sort
//! everything they list, so the same input always gives byte-identical JSON.
//!
//! A new control: its evaluation in `endpoint`, `identity` or a file of its own concept (then
//! named in `projection`'s scan of the sources), its row in [`catalog::CATALOG`],
//! any new field it reads in `projection`'s list (a test checks), its fail-closed cases in
//! `tests/controls_fail_closed.rs` (a test checks), and the README's table.

mod aggregate;
pub mod catalog;
mod context;
mod device_sudo;
mod endpoint;
pub mod evidence;
mod identity;
mod json;
pub mod kind_reader;
pub(crate) mod kinds;
mod local_accounts;
mod patching;
mod platform_integrity;
mod policy_days;
mod policy_history;
mod policy_results;
pub mod projection;
pub mod record;
mod run;
pub mod settings;
mod sign_ins;
mod software;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use catalog::{CATALOG, ControlDef, Severity, evaluate, evaluate_all};
pub use evidence::{
    EvidenceSet, HistoryPeriod, KindEvidence, KindState, LoadError, SnapshotMeta, collection_meta,
};
pub use kind_reader::{KindRead, KindReader, ReadMode};
pub use record::Record;
pub use settings::{ControlSettings, MfaExclusionHandling, SettingsSource};

/// Label put next to every framework reference: our mapping, not an official one.
pub const MAPPING_LABEL: &str = "suggested mapping";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlStatus {
    Pass,
    Fail,
    NotApplicable,
    Error,
}

impl ControlStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlStatus::Pass => "pass",
            ControlStatus::Fail => "fail",
            ControlStatus::NotApplicable => "not-applicable",
            ControlStatus::Error => "error",
        }
    }
}

impl std::fmt::Display for ControlStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource that fails a control, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FailingResource {
    pub id: String,
    pub name: String,
    pub why: String,
}

/// Framework references of a control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct References {
    /// Always [`MAPPING_LABEL`]: confirm with the auditor.
    pub mapping: String,
    /// SOC 2 Trust Services Criteria (2017, 2022 points of focus).
    pub soc2: Vec<String>,
    /// ISO/IEC 27001:2022 Annex A.
    pub iso27001: Vec<String>,
}

/// The result of one control on one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlResult {
    pub id: String,
    pub title: String,
    pub status: ControlStatus,
    pub summary: String,
    /// Resources evaluated (in scope and with the data the control needs).
    pub evaluated: u64,
    pub failing: Vec<FailingResource>,
    /// Things an auditor should know: honoured exclusions, ignored records, scope limits.
    pub notes: Vec<String>,
    pub references: References,
    /// Thresholds in effect, by setting name.
    pub thresholds: BTreeMap<String, String>,
    /// Evidence kinds read.
    pub evidence_kinds: Vec<String>,
}

/// Counts of results per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultsSummary {
    pub passing: u64,
    pub failing: u64,
    pub not_applicable: u64,
    pub error: u64,
    /// Ids of failing controls, sorted.
    pub failing_ids: Vec<String>,
    /// Ids of controls in error, sorted.
    pub error_ids: Vec<String>,
}

impl ResultsSummary {
    pub fn of(results: &[ControlResult]) -> Self {
        let mut summary = ResultsSummary::default();
        for result in results {
            match result.status {
                ControlStatus::Pass => summary.passing += 1,
                ControlStatus::Fail => {
                    summary.failing += 1;
                    summary.failing_ids.push(result.id.clone());
                }
                ControlStatus::NotApplicable => summary.not_applicable += 1,
                ControlStatus::Error => {
                    summary.error += 1;
                    summary.error_ids.push(result.id.clone());
                }
            }
        }
        summary.failing_ids.sort();
        summary.error_ids.sort();
        summary
    }
}
