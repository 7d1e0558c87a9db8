//! Reports of control results for auditors: JSON, CSV (one file per control plus a summary),
//! Markdown, one self-contained HTML file, and OSCAL assessment results and plan for GRC tools.
//! Rendering is pure: the same [`Report`] always renders to the same bytes.

mod changes;
mod frameworks;
mod html;
mod oscal;
mod owners;
pub mod policy_report;
mod stored;
mod text;
mod trend;
mod trend_svg;
mod zip;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::controls::{
    ControlResult, ControlSettings, ControlStatus, EvidenceSet, KindState, ResultsSummary,
    SettingsSource, SnapshotMeta, evaluate_all,
};

pub use changes::{Changes, KindDelta, RecordChanges, StatusChange, record_changes};
pub use frameworks::{Criterion, Frameworks, MappedControl, frameworks_of};
pub use html::render_html;
pub use oscal::{OscalError, render_oscal_plan, render_oscal_results};
pub use owners::device_owners;
pub use stored::{publish_report, stored_report};
pub use text::{CsvError, render_csv, render_markdown, summary_table};
pub use trend::{ControlTrend, Trend, TrendPoint, trend_of};
pub use zip::{ZipError, read_zip, write_zip};

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One self-contained HTML file.
    Html,
    /// A directory (`--out`): summary.csv and one file per control.
    Csv,
    /// The report as JSON.
    Json,
    Markdown,
    /// OSCAL 1.1.2 assessment results (JSON); they import and embed the plan of `oscal-plan`.
    Oscal,
    /// The OSCAL 1.1.2 assessment plan the results import; save it as assessment-plan.json next
    /// to them.
    OscalPlan,
}

/// A report rendered in one [`Format`]: one document, or (CSV) several named files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    Document {
        text: String,
        /// The HTTP media type of the document.
        media_type: &'static str,
    },
    Files(Vec<(String, String)>),
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error(transparent)]
    Oscal(#[from] OscalError),
}

/// Renders `report` in `format`: the one dispatch the `report` command and the evidence
/// endpoint share, so both always offer the same formats with the same bytes.
pub fn render(format: Format, report: &Report) -> Result<Rendered, RenderError> {
    let document = |text: String, media_type| Ok(Rendered::Document { text, media_type });
    match format {
        Format::Html => document(render_html(report), "text/html; charset=utf-8"),
        Format::Json => document(render_json(report), "application/json"),
        Format::Markdown => document(render_markdown(report), "text/markdown; charset=utf-8"),
        Format::Oscal => document(render_oscal_results(report)?, "application/json"),
        Format::OscalPlan => document(render_oscal_plan(report)?, "application/json"),
        Format::Csv => Ok(Rendered::Files(render_csv(report)?)),
    }
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
    /// SHA-256 of each blob of the kind, in order (several for Directory Insights events).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<String>,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub snapshot: SnapshotMeta,
    /// The time the controls were evaluated at: the snapshot's collection end.
    pub evaluated_at: jiff::Timestamp,
    pub settings: ControlSettings,
    /// Where each setting came from (default, crd, settings-file); empty when the stored
    /// results predate sources, or for a report of evidence outside the store.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings_sources: BTreeMap<String, SettingsSource>,
    pub summary: ResultsSummary,
    pub results: Vec<ControlResult>,
    pub evidence: Vec<EvidenceKindInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    /// Whether the snapshot carries a signature; unknown for evidence outside the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
    /// The trend over the chain's snapshots; absent for evidence outside the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
    /// Device id -> owner, for device rows; absent when the device records were not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_owners: Option<BTreeMap<String, String>>,
    /// The results by SOC 2 criterion and ISO/IEC 27001 Annex A control.
    #[serde(default)]
    pub frameworks: Frameworks,
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
            blobs: k.blobs.clone(),
        })
        .collect()
}

/// What a report compares the current snapshot with: the previous snapshot's metadata, counts
/// and control results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub meta: SnapshotMeta,
    pub counts: BTreeMap<String, u64>,
    /// Whether each kind was collected: a count of a kind that was not means nothing.
    pub states: BTreeMap<String, KindState>,
    pub results: Vec<ControlResult>,
    /// Who and what changed per kind from this snapshot to the current one, when the store's
    /// record diff was read; empty otherwise (counts only).
    pub records: BTreeMap<String, RecordChanges>,
}

/// The state of each kind of a snapshot.
pub fn kind_states(evidence: &EvidenceSet) -> BTreeMap<String, KindState> {
    evidence
        .kinds
        .iter()
        .map(|(kind, k)| (kind.clone(), k.state))
        .collect()
}

impl Baseline {
    /// Evaluates `evidence` with `settings` (at its own collection time).
    pub fn evaluate(evidence: &EvidenceSet, settings: &ControlSettings) -> Self {
        let at = evaluation_time(evidence, jiff::Timestamp::now());
        Baseline {
            meta: evidence.meta.clone(),
            counts: evidence.counts(),
            states: kind_states(evidence),
            results: evaluate_all(evidence, settings, at),
            records: BTreeMap::new(),
        }
    }
}

impl Report {
    /// " (source)" after a threshold, or nothing when the report does not know its source.
    pub fn source_suffix(&self, setting: &str) -> String {
        self.settings_sources
            .get(setting)
            .map(|source| format!(" ({source})"))
            .unwrap_or_default()
    }
}

/// Evaluates a snapshot into a report; with a baseline, also what changed since it.
pub fn build_report(
    current: &EvidenceSet,
    previous: Option<&Baseline>,
    settings: &ControlSettings,
    now: jiff::Timestamp,
) -> Report {
    let evaluated_at = evaluation_time(current, now);
    let results = evaluate_all(current, settings, evaluated_at);
    report_of(current, results, evaluated_at, previous, settings)
}

/// A report of results already evaluated on `current` (for instance stored with the snapshot).
pub fn report_of(
    current: &EvidenceSet,
    results: Vec<ControlResult>,
    evaluated_at: jiff::Timestamp,
    previous: Option<&Baseline>,
    settings: &ControlSettings,
) -> Report {
    let changes = previous.map(|previous| changes::changes_since(current, &results, previous));
    let frameworks = frameworks_of(&results);
    Report {
        snapshot: current.meta.clone(),
        evaluated_at,
        settings: settings.clone(),
        settings_sources: BTreeMap::new(),
        summary: ResultsSummary::of(&results),
        results,
        evidence: evidence_info(current),
        changes,
        signed: None,
        trend: None,
        device_owners: device_owners(current),
        frameworks,
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
    let snapshot = &report.snapshot;
    let connection = snapshot.connection.as_deref().unwrap_or("NAMESPACE/NAME");
    let id = snapshot.snapshot_id.as_deref().unwrap_or("ID");
    let digest = snapshot
        .manifest_sha256
        .as_deref()
        .unwrap_or("(unknown: the snapshot was not loaded from a manifest)");
    // Named by its sequence (20 digits); stores of earlier versions named it by the id.
    let manifest = match snapshot.sequence {
        Some(sequence) => {
            format!("{sequence:020}.json` (`{id}.json` in stores of earlier versions)")
        }
        None => format!("{id}.json"),
    };
    let mut steps = vec![
        format!(
            "Run `jumpcloud-operator verify --store URL --connection {connection}` (add `--public-key FILE` for signed snapshots): it re-hashes every blob, checks every manifest and every link of the chain, and exits non-zero on any problem."
        ),
        format!(
            "Or by hand: the manifest `{connection}/snapshots/{manifest}` must hash to {digest} (`sha256sum`); it names the index blob and the control results blob by digest, the index names each evidence kind's blobs, and every blob under `blobs/sha256/` must hash to its own name: the content, so decompress a `<digest>.zst` blob first (`zstd -dc <digest>.zst | sha256sum`)."
        ),
        format!(
            "Re-run `jumpcloud-operator report --store URL --connection {connection} --snapshot {id} --format json` with the same settings: the results must be identical byte for byte, because evaluation depends only on the snapshot and the settings."
        ),
    ];
    if let Some(previous) = &snapshot.previous_manifest_sha256 {
        steps.push(format!(
            "Check the chain: this manifest names the previous one by its digest {previous}; each earlier manifest names its own predecessor back to the first snapshot (sequence 0)."
        ));
    }
    steps
}

/// Where the snapshot sits in its connection's hash chain, in words.
pub fn chain_position(meta: &SnapshotMeta) -> String {
    let connection = meta
        .connection
        .as_deref()
        .map(|c| format!(" of connection {c}"))
        .unwrap_or_default();
    let position = match meta.sequence {
        Some(sequence) => format!("snapshot #{}{connection}", sequence + 1),
        None => format!("a snapshot{connection}"),
    };
    match &meta.previous_manifest_sha256 {
        Some(previous) => {
            format!("{position}; follows the snapshot whose manifest digest is {previous}")
        }
        None if meta.sequence == Some(0) => format!("{position}; the first of its chain"),
        None => format!("{position}; no previous snapshot recorded in the manifest"),
    }
}

/// A time to the second, in UTC: what an auditor reads (microseconds are noise in a report).
pub fn time_text(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Whether a control's resources are devices (its rows get an owner).
pub fn lists_devices(result: &ControlResult) -> bool {
    result
        .evidence_kinds
        .iter()
        .any(|k| k == crate::controls::kinds::DEVICES)
}

/// The owner of a failing resource of `result`, for controls over devices: `None` for other
/// controls (no owner column).
pub fn owner_of(report: &Report, result: &ControlResult, id: &str) -> Option<String> {
    if !lists_devices(result) {
        return None;
    }
    Some(match &report.device_owners {
        None => "unknown: the report holds no device records".to_owned(),
        Some(owners) => owners
            .get(id)
            .cloned()
            .unwrap_or_else(|| "unknown: not a device of the snapshot".to_owned()),
    })
}

/// Whether the snapshot is signed, in words.
pub fn signed_text(signed: Option<bool>) -> &'static str {
    match signed {
        Some(true) => {
            "yes: a detached Ed25519 signature of the manifest is stored (verify with --public-key)"
        }
        Some(false) => "no: the snapshot carries no signature",
        None => "unknown: the report was not read from an evidence store",
    }
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
