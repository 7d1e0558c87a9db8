//! Running the catalog: every control, one by id, or one phase at a time (each phase loads only
//! the kinds its controls read), and the result each run produces.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::{CATALOG, ControlDef};
use super::context::Ctx;
use super::evidence::EvidenceSet;
use super::kinds::{DI_EVENTS, POLICY_STATUSES};
use super::settings::ControlSettings;
use super::{ControlResult, ControlStatus, MAPPING_LABEL, References};

/// Controls evaluated together, and every kind they read.
pub struct EvaluationPhase {
    pub controls: Vec<&'static ControlDef>,
    pub kinds: BTreeSet<&'static str>,
}

/// The two largest kinds (a result per policy and device; a record per event): the controls
/// reading each form a phase of their own, so an evaluation never holds both at once. Every
/// other control runs in the last phase.
const PHASE_KINDS: &[&str] = &[POLICY_STATUSES, DI_EVENTS];

/// The catalog split into phases an evaluation can load and drop one after the other.
pub fn evaluation_phases() -> Vec<EvaluationPhase> {
    let mut phases: Vec<EvaluationPhase> = (0..=PHASE_KINDS.len())
        .map(|_| EvaluationPhase {
            controls: Vec::new(),
            kinds: BTreeSet::new(),
        })
        .collect();
    for def in CATALOG {
        let phase = PHASE_KINDS
            .iter()
            .position(|kind| def.kinds.contains(kind))
            .unwrap_or(PHASE_KINDS.len());
        phases[phase].controls.push(def);
        phases[phase].kinds.extend(def.kinds.iter().copied());
    }
    phases
}

impl EvaluationPhase {
    /// Evaluates this phase's controls on evidence that holds (at least) its kinds.
    pub fn evaluate(
        &self,
        evidence: &EvidenceSet,
        settings: &ControlSettings,
        now: jiff::Timestamp,
    ) -> Vec<ControlResult> {
        let ctx = Ctx::new(evidence, settings, now);
        self.controls.iter().map(|def| run(def, &ctx)).collect()
    }
}

/// Evaluates every control of the catalog, in catalog order.
pub fn evaluate_all(
    evidence: &EvidenceSet,
    settings: &ControlSettings,
    now: jiff::Timestamp,
) -> Vec<ControlResult> {
    let ctx = Ctx::new(evidence, settings, now);
    CATALOG.iter().map(|def| run(def, &ctx)).collect()
}

/// Evaluates one control by id; `None` for an unknown id.
pub fn evaluate(
    id: &str,
    evidence: &EvidenceSet,
    settings: &ControlSettings,
    now: jiff::Timestamp,
) -> Option<ControlResult> {
    let def = CATALOG.iter().find(|def| def.id == id)?;
    Some(run(def, &Ctx::new(evidence, settings, now)))
}

fn run(def: &ControlDef, ctx: &Ctx) -> ControlResult {
    let mut thresholds = BTreeMap::new();
    for (name, value) in (def.thresholds)(ctx.settings) {
        thresholds
            .entry(name.to_owned())
            .and_modify(|existing: &mut String| {
                existing.push_str("; ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    let mut result = ControlResult {
        id: def.id.to_owned(),
        title: def.title.to_owned(),
        status: ControlStatus::Pass,
        summary: String::new(),
        evaluated: 0,
        failing: Vec::new(),
        notes: Vec::new(),
        references: References {
            mapping: MAPPING_LABEL.to_owned(),
            soc2: def.soc2.iter().map(|s| (*s).to_owned()).collect(),
            iso27001: def.iso27001.iter().map(|s| (*s).to_owned()).collect(),
        },
        thresholds,
        evidence_kinds: def.kinds.iter().map(|s| (*s).to_owned()).collect(),
    };
    if ctx.settings.disabled_controls.iter().any(|id| id == def.id) {
        result.status = ControlStatus::NotApplicable;
        result.summary = "Disabled in the settings (disabledControls).".to_owned();
        return result;
    }
    match (def.evaluate)(ctx) {
        Err(reason) => {
            result.status = ControlStatus::Error;
            result.summary = format!("Not evaluated: {reason}.");
        }
        Ok(mut finding) => {
            finding.failing.sort();
            finding.failing.dedup();
            let failing = finding.failing.len() as u64;
            result.evaluated = finding.evaluated;
            result.notes = finding.notes;
            result
                .notes
                .extend(not_evaluated_notes(finding.not_evaluated));
            result.failing = finding.failing;
            if failing > 0 {
                result.status = ControlStatus::Fail;
                result.summary = format!(
                    "{failing} of {} {} fail.",
                    finding.evaluated.max(failing),
                    def.noun
                );
            } else if finding.evaluated == 0 {
                result.status = ControlStatus::NotApplicable;
                result.summary = format!("No {} in scope.", def.noun);
            } else {
                result.summary = format!("All {} {} pass.", finding.evaluated, def.noun);
            }
        }
    }
    result
}

/// One note per reason, naming every resource that was not evaluated for it.
fn not_evaluated_notes(mut skipped: Vec<super::FailingResource>) -> Vec<String> {
    skipped.sort();
    skipped.dedup();
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for resource in skipped {
        by_reason
            .entry(resource.why)
            .or_default()
            .push(format!("{} ({})", resource.name, resource.id));
    }
    by_reason
        .into_iter()
        .map(|(why, resources)| {
            format!(
                "{} not evaluated ({why}): {}.",
                resources.len(),
                resources.join(", ")
            )
        })
        .collect()
}
