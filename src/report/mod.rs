//! Reports of control results for auditors: JSON, CSV (one file per control plus a summary),
//! Markdown and one self-contained HTML file. Rendering is pure: the same [`Report`] always
//! renders to the same bytes.

mod html;
mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::controls::{
    ControlResult, ControlSettings, ControlStatus, EvidenceSet, KindState, ResultsSummary,
    SnapshotMeta, evaluate_all,
};

pub use html::render_html;
pub use text::{CsvError, render_csv, render_markdown, summary_table};

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Csv,
    Json,
    Markdown,
}

/// One evidence kind as used by the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceKindInfo {
    pub kind: String,
    pub state: KindState,
    pub records: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Record count of one kind in the previous and the current snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindDelta {
    pub kind: String,
    pub previous: u64,
    pub current: u64,
    pub delta: i64,
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
    pub kinds: Vec<KindDelta>,
    pub controls: Vec<StatusChange>,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub snapshot: SnapshotMeta,
    /// The time the controls were evaluated at: the snapshot's collection end.
    pub evaluated_at: jiff::Timestamp,
    pub settings: ControlSettings,
    pub summary: ResultsSummary,
    pub results: Vec<ControlResult>,
    pub evidence: Vec<EvidenceKindInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

/// The evaluation time of a snapshot: when its collection finished (so a stored snapshot always
/// evaluates the same way), or `fallback` when the snapshot does not say.
pub fn evaluation_time(evidence: &EvidenceSet, fallback: jiff::Timestamp) -> jiff::Timestamp {
    evidence.meta.finished_at.unwrap_or(fallback)
}

fn evidence_info(evidence: &EvidenceSet) -> Vec<EvidenceKindInfo> {
    evidence
        .kinds
        .iter()
        .map(|(kind, k)| EvidenceKindInfo {
            kind: kind.clone(),
            state: k.state,
            records: k.count,
            file: k.file.clone(),
            sha256: k.sha256.clone(),
        })
        .collect()
}

/// Evaluates a snapshot (and the previous one, for changes) into a report.
pub fn build_report(
    current: &EvidenceSet,
    previous: Option<&EvidenceSet>,
    settings: &ControlSettings,
    now: jiff::Timestamp,
) -> Report {
    let evaluated_at = evaluation_time(current, now);
    let results = evaluate_all(current, settings, evaluated_at);
    let changes = previous.map(|previous| {
        let before = previous.counts();
        let after = current.counts();
        let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
        names.sort();
        names.dedup();
        let kinds = names
            .into_iter()
            .map(|kind| {
                let p = before.get(kind).copied().unwrap_or(0);
                let c = after.get(kind).copied().unwrap_or(0);
                KindDelta {
                    kind: kind.clone(),
                    previous: p,
                    current: c,
                    delta: c as i64 - p as i64,
                }
            })
            .collect();
        let previous_results: BTreeMap<String, ControlResult> =
            evaluate_all(previous, settings, evaluation_time(previous, now))
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect();
        let controls = results
            .iter()
            .filter_map(|r| {
                let p = previous_results.get(&r.id)?;
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
            controls,
        }
    });
    Report {
        snapshot: current.meta.clone(),
        evaluated_at,
        settings: settings.clone(),
        summary: ResultsSummary::of(&results),
        results,
        evidence: evidence_info(current),
        changes,
    }
}

/// The report as pretty JSON with a trailing newline.
pub fn render_json(report: &Report) -> String {
    // Serialising plain data structs (strings, numbers, maps with string keys) cannot fail.
    let mut json = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        unreachable!("report serialisation cannot fail: {e}");
    });
    json.push('\n');
    json
}

/// How an auditor verifies the snapshot offline, as steps.
pub fn verification_steps(report: &Report) -> Vec<String> {
    let mut steps = vec![
        format!(
            "Compute the SHA-256 of the snapshot's manifest.json (`sha256sum manifest.json`); it must equal {}.",
            report
                .snapshot
                .manifest_sha256
                .as_deref()
                .unwrap_or("(unknown: the snapshot was not loaded from a manifest)")
        ),
        "For every evidence kind, compute the SHA-256 of its file and compare it with the digest in manifest.json and in the evidence table of this report.".to_owned(),
        "Re-run `jumpcloud-operator report --snapshot DIR --format json` with the same settings: the results must be identical byte for byte, because evaluation depends only on the snapshot and the settings.".to_owned(),
    ];
    if let Some(previous) = &report.snapshot.previous_manifest_sha256 {
        steps.push(format!(
            "Check the chain: the previous snapshot's manifest.json must hash to {previous}; `jumpcloud-operator verify` checks every blob, manifest and link of the store."
        ));
    }
    steps
}

/// Short text for an evaluation status.
pub fn status_label(status: ControlStatus) -> &'static str {
    match status {
        ControlStatus::Pass => "PASS",
        ControlStatus::Fail => "FAIL",
        ControlStatus::NotApplicable => "N/A",
        ControlStatus::Error => "ERROR",
    }
}

/// Evaluates a snapshot directory with the given settings and returns the summary table, for
/// `collect` to print at the end.
pub fn snapshot_summary_table(
    dir: &std::path::Path,
    settings: &ControlSettings,
) -> Result<String, crate::controls::LoadError> {
    let evidence = load_for_controls(dir)?;
    let now = evaluation_time(&evidence, jiff::Timestamp::now());
    Ok(summary_table(&evaluate_all(&evidence, settings, now)))
}

/// Loads a snapshot directory with the records the controls read (other kinds: counts only).
pub fn load_for_controls(dir: &std::path::Path) -> Result<EvidenceSet, crate::controls::LoadError> {
    crate::controls::evidence::load_snapshot_dir_kinds(
        dir,
        Some(&crate::controls::catalog::kinds_read()),
    )
}
