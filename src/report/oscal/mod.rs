//! OSCAL 1.1.2 documents of a report, for GRC tools: the assessment results of one snapshot
//! ([`render_oscal_results`]) and the minimal assessment plan they import
//! ([`render_oscal_plan`]). Rendering is pure and deterministic: every UUID is a v5 UUID of the
//! snapshot's manifest digest and the object's path in the document, so the same report always
//! renders to the same bytes and the plan and the results agree on the UUIDs they share.

mod model;
mod plan;
mod results;

use uuid::Uuid;

use super::Report;
use crate::controls::ControlResult;
use model::{ControlSelection, Party, Prop, ReviewedControls, SelectControl};

pub use plan::render_oscal_plan;
pub use results::render_oscal_results;

/// The OSCAL version the documents follow.
pub const OSCAL_VERSION: &str = "1.1.2";

/// Namespace of the props we define (OSCAL reserves props without `ns` for NIST's names).
pub const NS: &str = "https://jumpcloud-operator.io/ns/oscal";

/// The file name the results expect the plan under, next to them (`--format oscal-plan`).
pub const PLAN_FILE: &str = "assessment-plan.json";

/// Errors rendering OSCAL: the documents name the stored snapshot and its blobs, so a report of
/// evidence that was not read from the evidence store cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum OscalError {
    #[error(
        "cannot render OSCAL: the report has no {field}; OSCAL documents are rendered from a snapshot of the evidence store (`report --store URL`)"
    )]
    NotStored { field: &'static str },
    #[error(
        "cannot render OSCAL: evidence kind `{kind}` has {records} records but names no blob digest; run `jumpcloud-operator verify` on the store: the snapshot index is not as this version writes it"
    )]
    NoBlobDigest { kind: String, records: u64 },
}

/// The facts of a stored snapshot every OSCAL document names.
struct Stored<'a> {
    connection: &'a str,
    snapshot_id: &'a str,
    sequence: u64,
    manifest_sha256: &'a str,
    started_at: jiff::Timestamp,
    finished_at: jiff::Timestamp,
    uuids: Uuids,
}

impl<'a> Stored<'a> {
    fn of(report: &'a Report) -> Result<Self, OscalError> {
        let s = &report.snapshot;
        let missing = |field| OscalError::NotStored { field };
        let manifest_sha256 = s
            .manifest_sha256
            .as_deref()
            .ok_or(missing("manifest digest (snapshot.manifestSha256)"))?;
        Ok(Stored {
            connection: s
                .connection
                .as_deref()
                .ok_or(missing("connection (snapshot.connection)"))?,
            snapshot_id: s
                .snapshot_id
                .as_deref()
                .ok_or(missing("snapshot id (snapshot.snapshotId)"))?,
            sequence: s
                .sequence
                .ok_or(missing("chain position (snapshot.sequence)"))?,
            manifest_sha256,
            started_at: s
                .started_at
                .ok_or(missing("collection start (snapshot.startedAt)"))?,
            finished_at: s
                .finished_at
                .ok_or(missing("collection end (snapshot.finishedAt)"))?,
            uuids: Uuids::of(manifest_sha256),
        })
    }

    /// The manifest's path relative to the store URL.
    fn manifest_href(&self) -> String {
        format!("{}/snapshots/{:020}.json", self.connection, self.sequence)
    }

    /// A blob's path relative to the store URL.
    fn blob_href(&self, sha256: &str) -> String {
        format!("{}/blobs/sha256/{sha256}", self.connection)
    }

    /// The JumpCloud organization, the assessment's subject, as a party of the metadata.
    fn org_party(&self, report: &Report) -> Party {
        let s = &report.snapshot;
        Party {
            uuid: self.uuids.of_path("metadata/parties/organization"),
            kind: "organization",
            name: if s.org_name.trim().is_empty() {
                format!("JumpCloud organization {}", s.org_id)
            } else {
                s.org_name.clone()
            },
            props: [
                Prop::ours("jumpcloud-org-id", &s.org_id),
                s.region
                    .as_deref()
                    .and_then(|r| Prop::ours("jumpcloud-region", r)),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }
    }

    /// Props naming the snapshot, for the documents' metadata.
    fn snapshot_props(&self, report: &Report) -> Vec<Prop> {
        let s = &report.snapshot;
        [
            Prop::ours("connection", self.connection),
            Prop::ours("snapshot-id", self.snapshot_id),
            Prop::ours("snapshot-sequence", self.sequence.to_string()),
            Prop::ours("manifest-sha256", self.manifest_sha256),
            s.previous_manifest_sha256
                .as_deref()
                .and_then(|p| Prop::ours("previous-manifest-sha256", p)),
            s.collector_version
                .as_deref()
                .and_then(|v| Prop::ours("collector-version", v)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// v5 UUIDs in a namespace of their own per snapshot (named by its manifest digest).
struct Uuids {
    namespace: Uuid,
}

impl Uuids {
    fn of(manifest_sha256: &str) -> Self {
        let project = Uuid::new_v5(&Uuid::NAMESPACE_URL, NS.as_bytes());
        Uuids {
            namespace: Uuid::new_v5(&project, manifest_sha256.as_bytes()),
        }
    }

    /// The UUID of the object at `path` (a slash-separated name unique within the snapshot).
    fn of_path(&self, path: &str) -> String {
        Uuid::new_v5(&self.namespace, path.as_bytes()).to_string()
    }
}

/// The OSCAL `control-id` of a control: our id lower-cased, as OSCAL catalogs spell ids.
pub fn control_token(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// The control's id and its framework references (our suggested mapping) as props.
fn control_props(result: &ControlResult) -> Vec<Prop> {
    let refs = &result.references;
    let mapping = refs.soc2.iter().map(|r| ("soc2-tsc", r)).chain(
        refs.iso27001
            .iter()
            .map(|r| ("iso-iec-27001-2022-annex-a", r)),
    );
    Prop::ours("control-id", &result.id)
        .into_iter()
        .chain(
            mapping.filter_map(|(name, r)| {
                Prop::ours(name, r).map(|p| p.with_class("suggested-mapping"))
            }),
        )
        .collect()
}

/// `reviewed-controls` of both documents: one selection per control of the report.
fn reviewed_controls(report: &Report) -> ReviewedControls {
    ReviewedControls {
        description: format!(
            "The {} controls of the jumpcloud-operator catalog (README, \"Compliance controls and the auditor report\"); control ids are the catalog's ids lower-cased, with the original in the `control-id` prop. SOC 2 and ISO/IEC 27001:2022 references are a suggested mapping (props of class `suggested-mapping`): confirm them with your auditor.",
            report.results.len()
        ),
        control_selections: report
            .results
            .iter()
            .map(|r| ControlSelection {
                description: format!("{}: {}", r.id, markup(&r.title)),
                props: control_props(r),
                include_controls: vec![SelectControl {
                    control_id: control_token(&r.id),
                }],
            })
            .collect(),
    }
}

/// A document as pretty JSON with a trailing newline.
fn to_json(document: &impl serde::Serialize) -> String {
    // Plain structs of strings, numbers and timestamps: serialisation cannot fail.
    let mut json = serde_json::to_string_pretty(document).unwrap_or_else(|e| {
        unreachable!("OSCAL serialisation cannot fail: {e}");
    });
    json.push('\n');
    json
}

#[cfg(test)]
mod tests;

/// Escapes text for an OSCAL `markup-line`: tools render it to HTML, so HTML specials become
/// entities and Markdown specials backslash escapes; line breaks become spaces.
fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
