//! The OSCAL assessment results of one snapshot: one `result` (the snapshot) with one
//! observation and one finding per control, and back-matter resources naming the manifest and
//! every evidence blob by SHA-256, plus the assessment plan the results import (embedded, so the
//! document is complete on its own).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use super::markup as md;
use super::model::{
    BackMatter, Base64, Hash, Import, Metadata, Prop, Resource, ReviewedControls, Rlink,
};
use super::plan::{plan_uuid, render_oscal_plan};
use super::{
    OSCAL_VERSION, OscalError, PLAN_FILE, Stored, control_props, control_token, reviewed_controls,
    to_json,
};
use crate::controls::{ControlResult, ControlStatus, KindState};
use crate::report::{EvidenceKindInfo, Report};

#[derive(Serialize)]
struct Document {
    #[serde(rename = "assessment-results")]
    results: AssessmentResults,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct AssessmentResults {
    uuid: String,
    metadata: Metadata,
    import_ap: Import,
    results: Vec<AssessmentResult>,
    back_matter: BackMatter,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct AssessmentResult {
    uuid: String,
    title: String,
    description: String,
    start: jiff::Timestamp,
    end: jiff::Timestamp,
    props: Vec<Prop>,
    reviewed_controls: ReviewedControls,
    observations: Vec<Observation>,
    findings: Vec<Finding>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Observation {
    uuid: String,
    title: String,
    description: String,
    props: Vec<Prop>,
    methods: Vec<&'static str>,
    types: Vec<&'static str>,
    collected: jiff::Timestamp,
    relevant_evidence: Vec<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remarks: Option<String>,
}

#[derive(Serialize)]
struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    href: Option<String>,
    description: String,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Finding {
    uuid: String,
    title: String,
    description: String,
    props: Vec<Prop>,
    target: Target,
    related_observations: Vec<RelatedObservation>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Target {
    #[serde(rename = "type")]
    kind: &'static str,
    target_id: String,
    status: Status,
}

#[derive(Serialize)]
struct Status {
    state: &'static str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remarks: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RelatedObservation {
    observation_uuid: String,
}

/// OSCAL's objective status of a control result, with our status as the reason. OSCAL has only
/// `satisfied` and `not-satisfied`: only a passing control is satisfied; a control that is not
/// applicable or in error was not evaluated, which never counts as satisfied (fail closed).
pub fn objective_state(status: ControlStatus) -> &'static str {
    match status {
        ControlStatus::Pass => "satisfied",
        ControlStatus::Fail | ControlStatus::NotApplicable | ControlStatus::Error => {
            "not-satisfied"
        }
    }
}

/// The assessment results of the report's snapshot, as pretty JSON.
pub fn render_oscal_results(report: &Report) -> Result<String, OscalError> {
    let stored = Stored::of(report)?;
    let plan = render_oscal_plan(report)?;
    let blobs = Blobs::of(report)?;
    let uuids = &stored.uuids;
    let plan_resource = uuids.of_path("assessment-results/back-matter/assessment-plan");
    let manifest_resource = uuids.of_path("assessment-results/back-matter/manifest");
    let org = stored.org_party(report);
    let org_name = md(&org.name);
    let sum = &report.summary;
    let observations = report
        .results
        .iter()
        .map(|r| observation(report, &stored, &manifest_resource, r))
        .collect();
    let findings = report.results.iter().map(|r| finding(&stored, r)).collect();
    let mut resources = vec![
        Resource {
            uuid: plan_resource.clone(),
            title: "Assessment plan".to_owned(),
            description: format!(
                "The assessment plan these results import (UUID {}), embedded and also written by `report --format oscal-plan` as {PLAN_FILE} next to this file.",
                plan_uuid(&stored)
            ),
            props: Vec::new(),
            rlinks: vec![Rlink {
                href: PLAN_FILE.to_owned(),
                media_type: "application/oscal.ap+json",
                hashes: vec![Hash::sha256(&crate::store::sha256_hex(plan.as_bytes()))],
            }],
            base64: Some(Base64 {
                filename: PLAN_FILE,
                media_type: "application/oscal.ap+json",
                value: base64::engine::general_purpose::STANDARD.encode(plan.as_bytes()),
            }),
            remarks: None,
        },
        Resource {
            uuid: manifest_resource,
            title: format!("Snapshot manifest {}", stored.snapshot_id),
            description: format!(
                "The manifest of snapshot {} (#{} of connection {}), the snapshot's digest: it names the snapshot index (every evidence kind and its blobs) and the stored control results by SHA-256, and the previous manifest of the chain. The href is relative to the evidence store's URL; `jumpcloud-operator verify` re-hashes all of it.",
                stored.snapshot_id,
                stored.sequence + 1,
                stored.connection
            ),
            props: stored.snapshot_props(report),
            rlinks: vec![Rlink {
                href: stored.manifest_href(),
                media_type: "application/json",
                hashes: vec![Hash::sha256(stored.manifest_sha256)],
            }],
            base64: None,
            remarks: None,
        },
    ];
    resources.extend(blobs.resources(&stored));
    let document = Document {
        results: AssessmentResults {
            uuid: uuids.of_path("assessment-results"),
            metadata: Metadata {
                title: format!(
                    "JumpCloud compliance assessment results: {org_name} (connection {})",
                    stored.connection
                ),
                last_modified: report.evaluated_at,
                version: stored.snapshot_id.to_owned(),
                oscal_version: OSCAL_VERSION,
                props: stored.snapshot_props(report),
                remarks: Some(
                    "Written by jumpcloud-operator (`report --format oscal`). Every control is a finding whose objective is the control itself (target type objective-id, target-id the control id lower-cased); only a passing control is satisfied, and the `reason` of its status is the control's result: pass, fail, not-applicable or error.".to_owned(),
                ),
                parties: vec![org],
            },
            import_ap: Import {
                href: format!("#{plan_resource}"),
                remarks: format!(
                    "The back-matter resource holding the assessment plan ({PLAN_FILE}), embedded as base64 and hashed."
                ),
            },
            results: vec![AssessmentResult {
                uuid: uuids.of_path("assessment-results/results/0"),
                title: format!(
                    "Snapshot {} of {org_name}",
                    stored.snapshot_id
                ),
                description: format!(
                    "The {} controls evaluated at {} on the evidence snapshot whose manifest digest is {} ({}): {} passing, {} failing, {} not applicable, {} error.",
                    report.results.len(),
                    report.evaluated_at,
                    stored.manifest_sha256,
                    crate::report::chain_position(&report.snapshot),
                    sum.passing,
                    sum.failing,
                    sum.not_applicable,
                    sum.error
                ),
                start: stored.started_at,
                end: stored.finished_at,
                props: [
                    ("controls-passing", sum.passing),
                    ("controls-failing", sum.failing),
                    ("controls-not-applicable", sum.not_applicable),
                    ("controls-error", sum.error),
                ]
                .into_iter()
                .filter_map(|(name, n)| Prop::ours(name, n.to_string()))
                .collect(),
                reviewed_controls: reviewed_controls(report),
                observations,
                findings,
            }],
            back_matter: BackMatter { resources },
        },
    };
    Ok(to_json(&document))
}

fn observation_path(result: &ControlResult) -> String {
    format!(
        "assessment-results/results/0/observations/{}",
        control_token(&result.id)
    )
}

fn observation(
    report: &Report,
    stored: &Stored,
    manifest_resource: &str,
    r: &ControlResult,
) -> Observation {
    let mut evidence = vec![Evidence {
        href: Some(format!("#{manifest_resource}")),
        description: format!(
            "Snapshot manifest, SHA-256 {}: the control results are stored with the snapshot and re-evaluate to the same bytes.",
            stored.manifest_sha256
        ),
    }];
    for kind in &r.evidence_kinds {
        match report.evidence.iter().find(|k| &k.kind == kind) {
            Some(info) => {
                let digests = Blobs::digests(info);
                if digests.is_empty() {
                    evidence.push(Evidence {
                        href: None,
                        description: format!(
                            "Evidence kind {kind}: no records, {}; stored without a blob.",
                            info.state.as_str()
                        ),
                    });
                }
                let count = digests.len();
                for (i, digest) in digests.iter().enumerate() {
                    let part = if count > 1 {
                        format!(" (blob {} of {count})", i + 1)
                    } else {
                        String::new()
                    };
                    evidence.push(Evidence {
                        href: Some(format!("#{}", blob_uuid(stored, digest))),
                        description: format!(
                            "Evidence kind {kind}: {} records, {}{part}; NDJSON blob SHA-256 {digest}.",
                            info.records,
                            info.state.as_str()
                        ),
                    });
                }
            }
            None => evidence.push(Evidence {
                href: None,
                description: format!("Evidence kind {kind}: not in the snapshot."),
            }),
        }
    }
    let mut remarks = Vec::new();
    if !r.failing.is_empty() {
        remarks.push(format!("Failing {}:", r.failing.len()));
        remarks.push(String::new());
        remarks.extend(
            r.failing
                .iter()
                .map(|f| format!("- {} ({}): {}", md(&f.name), md(&f.id), md(&f.why))),
        );
    }
    if !r.notes.is_empty() {
        if !remarks.is_empty() {
            remarks.push(String::new());
        }
        remarks.push("Notes:".to_owned());
        remarks.push(String::new());
        remarks.extend(r.notes.iter().map(|n| format!("- {}", md(n))));
    }
    let thresholds = r
        .thresholds
        .iter()
        .map(|(name, value)| format!("{name} = {value}{}", report.source_suffix(name)))
        .collect::<Vec<_>>();
    let thresholds = if thresholds.is_empty() {
        String::new()
    } else {
        format!(" Thresholds: {}.", md(&thresholds.join(", ")))
    };
    Observation {
        uuid: stored.uuids.of_path(&observation_path(r)),
        title: format!("Evaluation of {}", r.id),
        description: format!(
            "{} Evaluated: {}; failing: {}.{thresholds}",
            md(&r.summary),
            r.evaluated,
            r.failing.len()
        ),
        props: [
            Prop::ours("control-id", &r.id),
            Prop::ours("evaluated", r.evaluated.to_string()),
            Prop::ours("failing", r.failing.len().to_string()),
        ]
        .into_iter()
        .flatten()
        .collect(),
        methods: vec!["TEST"],
        types: vec!["control-objective"],
        collected: stored.finished_at,
        relevant_evidence: evidence,
        remarks: (!remarks.is_empty()).then(|| remarks.join("\n")),
    }
}

fn finding(stored: &Stored, r: &ControlResult) -> Finding {
    let (verdict, remarks) = match r.status {
        ControlStatus::Pass => ("Satisfied", None),
        ControlStatus::Fail => ("Not satisfied", None),
        ControlStatus::NotApplicable => (
            "Not evaluated (not applicable)",
            Some(
                "Not evaluated: the control was not applicable to this snapshot. OSCAL has no state for that; it is reported as not-satisfied, never as satisfied, with reason not-applicable.",
            ),
        ),
        ControlStatus::Error => (
            "Not evaluated (error)",
            Some(
                "Not evaluated: the evidence the control needs is missing or unusable. OSCAL has no state for that; it is reported as not-satisfied with reason error.",
            ),
        ),
    };
    let mut props = control_props(r);
    props.extend(Prop::ours("result", r.status.as_str()));
    Finding {
        uuid: stored.uuids.of_path(&format!(
            "assessment-results/results/0/findings/{}",
            control_token(&r.id)
        )),
        title: format!("{}: {}", r.id, md(&r.title)),
        description: format!("{verdict}: {}", md(&r.summary)),
        props,
        target: Target {
            kind: "objective-id",
            target_id: control_token(&r.id),
            status: Status {
                state: objective_state(r.status),
                reason: r.status.as_str(),
                remarks: remarks.map(str::to_owned),
            },
        },
        related_observations: vec![RelatedObservation {
            observation_uuid: stored.uuids.of_path(&observation_path(r)),
        }],
    }
}

fn blob_uuid(stored: &Stored, digest: &str) -> String {
    stored
        .uuids
        .of_path(&format!("assessment-results/back-matter/blobs/{digest}"))
}

/// The evidence blobs of the snapshot: digest to the kinds stored in it (one blob can hold
/// several kinds, e.g. the empty blob), so each is one back-matter resource.
struct Blobs<'a> {
    kinds: BTreeMap<&'a str, Vec<&'a EvidenceKindInfo>>,
}

impl<'a> Blobs<'a> {
    fn of(report: &'a Report) -> Result<Self, OscalError> {
        let mut kinds: BTreeMap<&str, Vec<&EvidenceKindInfo>> = BTreeMap::new();
        for info in &report.evidence {
            let digests = Self::digests(info);
            // An empty kind may be stored without a blob; records without a digest may not.
            if digests.is_empty() && info.records > 0 {
                return Err(OscalError::NoBlobDigest {
                    kind: info.kind.clone(),
                    records: info.records,
                });
            }
            for digest in digests {
                kinds.entry(digest).or_default().push(info);
            }
        }
        Ok(Blobs { kinds })
    }

    /// Every blob digest of a kind: the list, or the single digest of reports that predate it.
    fn digests(info: &EvidenceKindInfo) -> Vec<&str> {
        match (&info.blobs[..], &info.sha256) {
            ([], Some(one)) => vec![one.as_str()],
            (many, _) => many.iter().map(String::as_str).collect(),
        }
    }

    fn resources(&self, stored: &Stored) -> Vec<Resource> {
        self.kinds
            .iter()
            .map(|(digest, kinds)| {
                let holds = kinds
                    .iter()
                    .map(|k| {
                        let state = match k.state {
                            KindState::Complete => String::new(),
                            other => format!(", {}", other.as_str()),
                        };
                        format!("{} ({} records{state})", k.kind, k.records)
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                Resource {
                    uuid: blob_uuid(stored, digest),
                    title: format!("Evidence blob {digest}"),
                    description: format!(
                        "NDJSON records as the JumpCloud API returned them, of the evidence kind {holds}. The href is relative to the evidence store's URL; the blob's name is its SHA-256."
                    ),
                    props: kinds
                        .iter()
                        .filter_map(|k| Prop::ours("evidence-kind", &k.kind))
                        .collect(),
                    rlinks: vec![Rlink {
                        href: stored.blob_href(digest),
                        media_type: "application/x-ndjson",
                        hashes: vec![Hash::sha256(digest)],
                    }],
                    base64: None,
                    remarks: None,
                }
            })
            .collect()
    }
}
