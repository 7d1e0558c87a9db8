//! The minimal OSCAL assessment plan the assessment results import: what is assessed (the
//! controls of the catalog), of whom (the JumpCloud organization), how (one task: collect the
//! snapshot and evaluate the controls), and the system security plan it belongs to, which we
//! cannot know: `import-ssp` points at a placeholder resource the user replaces.

use serde::Serialize;

use super::markup as md;
use super::model::{BackMatter, Import, Metadata, Prop, Resource, ReviewedControls};
use super::{OSCAL_VERSION, OscalError, Stored, reviewed_controls, to_json};
use crate::report::Report;

#[derive(Serialize)]
struct Document {
    #[serde(rename = "assessment-plan")]
    plan: AssessmentPlan,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct AssessmentPlan {
    uuid: String,
    metadata: Metadata,
    import_ssp: Import,
    reviewed_controls: ReviewedControls,
    assessment_subjects: Vec<Subjects>,
    tasks: Vec<Task>,
    back_matter: BackMatter,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Subjects {
    #[serde(rename = "type")]
    kind: &'static str,
    description: String,
    include_subjects: Vec<SubjectId>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct SubjectId {
    subject_uuid: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Task {
    uuid: String,
    #[serde(rename = "type")]
    kind: &'static str,
    title: String,
    description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    props: Vec<Prop>,
    timing: Timing,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Timing {
    within_date_range: DateRange,
}

#[derive(Serialize)]
struct DateRange {
    start: jiff::Timestamp,
    end: jiff::Timestamp,
}

/// The assessment plan of the report's snapshot, as pretty JSON.
pub fn render_oscal_plan(report: &Report) -> Result<String, OscalError> {
    let stored = Stored::of(report)?;
    Ok(to_json(&plan_of(report, &stored)))
}

/// The UUID of the plan, which the results' back-matter resource for it also names.
pub(super) fn plan_uuid(stored: &Stored) -> String {
    stored.uuids.of_path("assessment-plan")
}

fn plan_of(report: &Report, stored: &Stored) -> Document {
    let uuids = &stored.uuids;
    let org = stored.org_party(report);
    let ssp_uuid = uuids.of_path("assessment-plan/back-matter/system-security-plan");
    let org_name = md(&org.name);
    Document {
        plan: AssessmentPlan {
            uuid: plan_uuid(stored),
            metadata: Metadata {
                title: format!(
                    "JumpCloud compliance assessment plan: {org_name} (connection {})",
                    stored.connection
                ),
                last_modified: report.evaluated_at,
                version: stored.snapshot_id.to_owned(),
                oscal_version: OSCAL_VERSION,
                props: stored.snapshot_props(report),
                remarks: Some(
                    "Written by jumpcloud-operator (`report --format oscal-plan`) for the assessment results of the same snapshot (`report --format oscal`), which import it.".to_owned(),
                ),
                parties: vec![org],
            },
            import_ssp: Import {
                href: format!("#{ssp_uuid}"),
                remarks: "Placeholder: replace this href with the location of your system security plan (SSP) covering the JumpCloud organization, or fill in the back-matter resource it points to.".to_owned(),
            },
            reviewed_controls: reviewed_controls(report),
            assessment_subjects: vec![Subjects {
                kind: "party",
                description: format!(
                    "The JumpCloud organization {org_name} ({}): its devices, users, administrators, policies, applications and settings as the JumpCloud API reports them.",
                    md(&report.snapshot.org_id)
                ),
                include_subjects: vec![SubjectId {
                    subject_uuid: uuids.of_path("metadata/parties/organization"),
                    kind: "party",
                }],
            }],
            tasks: vec![Task {
                uuid: uuids.of_path("assessment-plan/tasks/collect-and-evaluate"),
                kind: "action",
                title: "Collect the evidence snapshot and evaluate the controls".to_owned(),
                description: "jumpcloud-operator reads the organization's evidence from the JumpCloud API with a read-only key, commits it to the evidence store as a hash-chained snapshot (every blob named by its SHA-256), and evaluates every control of the catalog on it as a pure function of the snapshot and the settings: re-running the evaluation on the stored snapshot gives the same results byte for byte.".to_owned(),
                props: stored.snapshot_props(report),
                timing: Timing {
                    within_date_range: DateRange {
                        start: stored.started_at,
                        end: stored.finished_at,
                    },
                },
            }],
            back_matter: BackMatter {
                resources: vec![Resource {
                    uuid: ssp_uuid,
                    title: "System security plan (placeholder)".to_owned(),
                    description: "Stands for the system security plan this assessment plan belongs to. jumpcloud-operator does not know it: replace `import-ssp` with its location, or add an rlink to it here.".to_owned(),
                    props: Prop::ours("placeholder", "true").into_iter().collect(),
                    rlinks: Vec::new(),
                    base64: None,
                    remarks: None,
                }],
            },
        },
    }
}
