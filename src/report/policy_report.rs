//! The connection's control results as a Kubernetes policy report: a `wgpolicyk8s.io/v1alpha2`
//! `PolicyReport` or an `openreports.io/v1alpha1` `Report` (the same result fields), so Policy
//! Reporter, `kubectl get polr` and other report readers show them next to Kyverno's.
//!
//! Pure: the same connection, results and snapshot always give the same object. The content
//! hash ([`CONTENT_HASH_ANNOTATION`]) covers what the results say, not when they were
//! evaluated or in which snapshot: a sync whose results read the same as the stored report's
//! leaves the report alone, and its timestamps and snapshot properties then name the first
//! snapshot that gave those results.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::controls::catalog::{self, catalog_position};
use crate::controls::{ControlResult, ControlStatus};

/// `source` of every result (and of an OpenReports report).
pub const SOURCE: &str = "jumpcloud-operator";
/// Annotation holding the SHA-256 of the report's content, volatile fields left out.
pub const CONTENT_HASH_ANNOTATION: &str = "jumpcloud-operator.io/content-hash";
/// Label naming the connection a report belongs to.
pub const CONNECTION_LABEL: &str = "jumpcloud-operator.io/connection";
/// Prefix of every report's name: `jcc-<connection name>`.
pub const NAME_PREFIX: &str = "jcc-";

/// The two report APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportKind {
    /// `wgpolicyk8s.io/v1alpha2` `PolicyReport` (Kyverno, Policy Reporter, `kubectl get polr`).
    PolicyReport,
    /// `openreports.io/v1alpha1` `Report`, the PolicyReport's successor.
    OpenReports,
}

impl ReportKind {
    pub const ALL: [ReportKind; 2] = [ReportKind::PolicyReport, ReportKind::OpenReports];

    pub fn group(self) -> &'static str {
        match self {
            ReportKind::PolicyReport => "wgpolicyk8s.io",
            ReportKind::OpenReports => "openreports.io",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            ReportKind::PolicyReport => "v1alpha2",
            ReportKind::OpenReports => "v1alpha1",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            ReportKind::PolicyReport => "PolicyReport",
            ReportKind::OpenReports => "Report",
        }
    }

    /// The resource (plural) name.
    pub fn plural(self) -> &'static str {
        match self {
            ReportKind::PolicyReport => "policyreports",
            ReportKind::OpenReports => "reports",
        }
    }

    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }
}

impl std::fmt::Display for ReportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.plural(), self.group())
    }
}

/// The connection a report is about (its `scope` and owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// The snapshot whose evaluation a report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRef {
    pub id: String,
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    pub sequence: u64,
}

/// What a report is built from: the results of one sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportInput {
    pub results: Vec<ControlResult>,
    pub evaluated_at: Timestamp,
    pub snapshot: SnapshotRef,
}

/// The report's name for a connection: `jcc-<name>`, shortened with a hash suffix when that
/// would pass the 253 characters of an object name.
pub fn report_name(connection: &str) -> String {
    bounded(&format!("{NAME_PREFIX}{connection}"), 253)
}

/// `text` when it fits in `max`, else its first characters, `-` and 8 hex of its SHA-256 (the
/// same text always gives the same value; names and label values end alphanumeric).
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let keep = max - 9;
    let end = (0..=keep)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let head = text[..end].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    format!("{head}-{}", &hash[..8])
}

/// The PolicyReport `result` of a control status (not-applicable is `skip`).
pub fn result_value(status: ControlStatus) -> &'static str {
    match status {
        ControlStatus::Pass => "pass",
        ControlStatus::Fail => "fail",
        ControlStatus::NotApplicable => "skip",
        ControlStatus::Error => "error",
    }
}

/// The `rule` of a control: its id without `JC-<check>-`, lower case
/// (`JC-E1-DISK-ENCRYPTION` -> `disk-encryption`).
pub fn rule_name(id: &str) -> String {
    let mut parts = id.splitn(3, '-');
    let rule = match (parts.next(), parts.next(), parts.next()) {
        (Some("JC"), Some(_), Some(rest)) => rest,
        _ => id,
    };
    rule.to_ascii_lowercase()
}

/// What a result says about its control: the title and the summary (which counts what fails,
/// or says why the control was not evaluated).
fn message(result: &ControlResult) -> String {
    let mut message = format!("{}: {}", result.title, result.summary);
    if result.status == ControlStatus::Fail {
        message.push_str(" `jumpcloud-operator report` lists them.");
    }
    message
}

/// The result fields that stay the same while the control's outcome does.
fn stable_result(result: &ControlResult) -> Map<String, Value> {
    let mut properties = BTreeMap::from([
        ("failing".to_owned(), result.failing.len().to_string()),
        ("evaluated".to_owned(), result.evaluated.to_string()),
        ("soc2".to_owned(), result.references.soc2.join(", ")),
        ("iso27001".to_owned(), result.references.iso27001.join(", ")),
        ("mapping".to_owned(), result.references.mapping.clone()),
    ]);
    properties.retain(|_, value| !value.is_empty());
    let mut out = Map::new();
    out.insert("source".into(), json!(SOURCE));
    out.insert("policy".into(), json!(result.id));
    out.insert("rule".into(), json!(rule_name(&result.id)));
    out.insert("result".into(), json!(result_value(result.status)));
    out.insert("scored".into(), json!(true));
    out.insert("message".into(), json!(message(result)));
    if let Some(def) = catalog::find(&result.id) {
        out.insert("severity".into(), json!(def.severity.as_str()));
        out.insert("category".into(), json!(def.category));
    }
    out.insert("properties".into(), json!(properties));
    out
}

/// The report object to apply: metadata (name, labels, owner, content hash), `scope`,
/// `summary` and one result per control, in catalog order.
pub fn build(kind: ReportKind, connection: &ConnectionRef, input: &ReportInput) -> Value {
    let mut results: Vec<&ControlResult> = input.results.iter().collect();
    results.sort_by(|a, b| {
        catalog_position(&a.id)
            .cmp(&catalog_position(&b.id))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut summary = BTreeMap::from([
        ("pass", 0u64),
        ("fail", 0),
        ("warn", 0),
        ("error", 0),
        ("skip", 0),
    ]);
    for result in &results {
        *summary.entry(result_value(result.status)).or_default() += 1;
    }
    let stable: Vec<Map<String, Value>> = results.iter().map(|r| stable_result(r)).collect();
    let scope = json!({
        "apiVersion": connection.api_version,
        "kind": connection.kind,
        "namespace": connection.namespace,
        "name": connection.name,
        "uid": connection.uid,
    });
    let hash = content_hash(kind, &scope, &summary, &stable);
    let timestamp = json!({"seconds": input.evaluated_at.as_second(), "nanos": 0});
    let command = format!(
        "jumpcloud-operator report --connection {}/{} --snapshot {}",
        connection.namespace, connection.name, input.snapshot.id
    );
    let results: Vec<Value> = stable
        .into_iter()
        .map(|mut result| {
            result.insert("timestamp".into(), timestamp.clone());
            if let Some(Value::Object(properties)) = result.get_mut("properties") {
                properties.insert("sinceSnapshotId".into(), json!(input.snapshot.id));
                properties.insert("sinceSnapshotDigest".into(), json!(input.snapshot.digest));
                properties.insert(
                    "sinceSnapshotSequence".into(),
                    json!(input.snapshot.sequence.to_string()),
                );
                properties.insert("reportCommand".into(), json!(command));
            }
            Value::Object(result)
        })
        .collect();
    let mut report = json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind(),
        "metadata": {
            "name": report_name(&connection.name),
            "namespace": connection.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": SOURCE,
                CONNECTION_LABEL: bounded(&connection.name, 63),
            },
            "annotations": {CONTENT_HASH_ANNOTATION: hash},
            // Deleting the connection deletes its report. No blockOwnerDeletion: setting it
            // needs permission on the owner's finalizers, which the operator does not have.
            "ownerReferences": [{
                "apiVersion": connection.api_version,
                "kind": connection.kind,
                "name": connection.name,
                "uid": connection.uid,
                "controller": true,
            }],
        },
        "scope": scope,
        "summary": summary,
        "results": results,
    });
    if kind == ReportKind::OpenReports {
        report["source"] = json!(SOURCE);
    }
    report
}

/// SHA-256 over everything a report says except its timestamps and snapshot properties
/// (serde_json maps are sorted, so the serialisation is canonical).
fn content_hash(
    kind: ReportKind,
    scope: &Value,
    summary: &BTreeMap<&str, u64>,
    results: &[Map<String, Value>],
) -> String {
    let content = json!({
        "apiVersion": kind.api_version(),
        "scope": scope,
        "summary": summary,
        "results": results,
    });
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(content.to_string().as_bytes()))
    )
}

/// The content hash a stored report carries, if any.
pub fn stored_hash(report: &Value) -> Option<&str> {
    report
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(CONTENT_HASH_ANNOTATION))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::{FailingResource, References};

    fn result(id: &str, status: ControlStatus, failing: usize, summary: &str) -> ControlResult {
        ControlResult {
            id: id.to_owned(),
            title: format!("Title of {id}"),
            status,
            summary: summary.to_owned(),
            evaluated: 10,
            failing: (0..failing)
                .map(|i| FailingResource {
                    id: format!("d{i}"),
                    name: format!("device {i}"),
                    why: "unencrypted".to_owned(),
                })
                .collect(),
            notes: Vec::new(),
            references: References {
                mapping: "suggested mapping".to_owned(),
                soc2: vec!["CC6.1".to_owned(), "CC6.7".to_owned()],
                iso27001: vec!["A.8.24".to_owned()],
            },
            thresholds: BTreeMap::new(),
            evidence_kinds: Vec::new(),
        }
    }

    fn connection() -> ConnectionRef {
        ConnectionRef {
            api_version: "jumpcloud-operator.io/v1alpha1".to_owned(),
            kind: "JumpCloudConnection".to_owned(),
            namespace: "compliance".to_owned(),
            name: "acme".to_owned(),
            uid: "uid-1".to_owned(),
        }
    }

    fn input(results: Vec<ControlResult>, at: i64, snapshot: &str) -> ReportInput {
        ReportInput {
            results,
            evaluated_at: Timestamp::from_second(at).unwrap(),
            snapshot: SnapshotRef {
                id: snapshot.to_owned(),
                digest: format!("sha256:{snapshot}"),
                sequence: 3,
            },
        }
    }

    fn sample() -> Vec<ControlResult> {
        vec![
            result(
                "JC-I10-AUDIT-LOGGING",
                ControlStatus::Error,
                0,
                "Not evaluated: Directory Insights is not licensed (402).",
            ),
            result(
                "JC-E1-DISK-ENCRYPTION",
                ControlStatus::Fail,
                3,
                "3 of 10 devices fail.",
            ),
            result(
                "JC-E2-SCREEN-LOCK",
                ControlStatus::Pass,
                0,
                "All 10 devices pass.",
            ),
            result(
                "JC-E10-MDM-ENROLLMENT",
                ControlStatus::NotApplicable,
                0,
                "Disabled in the settings (disabledControls).",
            ),
        ]
    }

    fn by_policy<'a>(report: &'a Value, id: &str) -> &'a Value {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["policy"] == id)
            .unwrap_or_else(|| panic!("no result for {id}"))
    }

    #[test]
    fn each_status_maps_to_its_result_and_says_why() {
        let report = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(sample(), 100, "s1"),
        );
        let disk = by_policy(&report, "JC-E1-DISK-ENCRYPTION");
        assert_eq!(disk["result"], "fail");
        assert_eq!(disk["rule"], "disk-encryption");
        assert!(
            disk["message"]
                .as_str()
                .unwrap()
                .contains("3 of 10 devices fail.")
        );
        assert_eq!(disk["properties"]["failing"], "3");
        assert_eq!(by_policy(&report, "JC-E2-SCREEN-LOCK")["result"], "pass");
        let skipped = by_policy(&report, "JC-E10-MDM-ENROLLMENT");
        assert_eq!(skipped["result"], "skip");
        assert!(
            skipped["message"]
                .as_str()
                .unwrap()
                .contains("Disabled in the settings")
        );
        let error = by_policy(&report, "JC-I10-AUDIT-LOGGING");
        assert_eq!(error["result"], "error");
        assert!(error["message"].as_str().unwrap().contains("not licensed"));
    }

    #[test]
    fn summary_counts_equal_the_results() {
        let report = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(sample(), 100, "s1"),
        );
        assert_eq!(
            report["summary"],
            json!({"pass": 1, "fail": 1, "warn": 0, "error": 1, "skip": 1})
        );
        let results = report["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        for value in ["pass", "fail", "error", "skip"] {
            let counted = results.iter().filter(|r| r["result"] == value).count() as u64;
            assert_eq!(report["summary"][value], json!(counted), "{value}");
        }
    }

    #[test]
    fn every_result_carries_severity_category_references_and_the_snapshot() {
        let report = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(sample(), 100, "s1"),
        );
        for result in report["results"].as_array().unwrap() {
            assert_eq!(result["source"], SOURCE);
            assert_eq!(result["scored"], true);
            assert_eq!(result["timestamp"], json!({"seconds": 100, "nanos": 0}));
            assert!(
                ["critical", "high", "medium", "low"]
                    .contains(&result["severity"].as_str().unwrap()),
                "{result}"
            );
            assert!(result["category"].as_str().is_some_and(|c| !c.is_empty()));
            let properties = &result["properties"];
            assert_eq!(properties["sinceSnapshotId"], "s1");
            assert_eq!(properties["sinceSnapshotDigest"], "sha256:s1");
            assert_eq!(properties["sinceSnapshotSequence"], "3");
            assert_eq!(properties["soc2"], "CC6.1, CC6.7");
            assert_eq!(properties["iso27001"], "A.8.24");
            assert!(
                properties["reportCommand"]
                    .as_str()
                    .unwrap()
                    .contains("--connection compliance/acme --snapshot s1")
            );
            // Properties are a string map.
            assert!(
                properties
                    .as_object()
                    .unwrap()
                    .values()
                    .all(Value::is_string)
            );
        }
        assert_eq!(
            by_policy(&report, "JC-E1-DISK-ENCRYPTION")["severity"],
            "high"
        );
        assert_eq!(
            by_policy(&report, "JC-E1-DISK-ENCRYPTION")["category"],
            "Endpoint"
        );
    }

    #[test]
    fn results_are_in_catalog_order_whatever_the_input_order() {
        let mut reversed = sample();
        reversed.reverse();
        let a = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(sample(), 100, "s1"),
        );
        let b = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(reversed, 100, "s1"),
        );
        assert_eq!(a, b);
        let order: Vec<&str> = a["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["policy"].as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "JC-E1-DISK-ENCRYPTION",
                "JC-E2-SCREEN-LOCK",
                "JC-E10-MDM-ENROLLMENT",
                "JC-I10-AUDIT-LOGGING"
            ]
        );
    }

    #[test]
    fn the_report_is_owned_by_and_scoped_to_the_connection() {
        let report = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(sample(), 100, "s1"),
        );
        assert_eq!(report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(report["kind"], "PolicyReport");
        assert_eq!(report["metadata"]["name"], "jcc-acme");
        assert_eq!(report["metadata"]["namespace"], "compliance");
        assert_eq!(report["metadata"]["labels"][CONNECTION_LABEL], "acme");
        assert_eq!(
            report["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "jumpcloud-operator"
        );
        let owner = &report["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], "uid-1");
        assert_eq!(owner["controller"], true);
        assert_eq!(owner["kind"], "JumpCloudConnection");
        assert_eq!(
            report["scope"],
            json!({"apiVersion": "jumpcloud-operator.io/v1alpha1", "kind": "JumpCloudConnection",
                   "namespace": "compliance", "name": "acme", "uid": "uid-1"})
        );
        assert!(report.get("source").is_none());
        let open = build(
            ReportKind::OpenReports,
            &connection(),
            &input(sample(), 100, "s1"),
        );
        assert_eq!(open["apiVersion"], "openreports.io/v1alpha1");
        assert_eq!(open["kind"], "Report");
        assert_eq!(open["source"], SOURCE);
        assert_eq!(open["results"], report["results"]);
    }

    #[test]
    fn the_hash_ignores_time_and_snapshot_but_not_what_the_results_say() {
        let first = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(sample(), 100, "s1"),
        );
        let later = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(sample(), 500, "s2"),
        );
        assert_ne!(first, later);
        assert_eq!(stored_hash(&first), stored_hash(&later));
        assert!(stored_hash(&first).unwrap().starts_with("sha256:"));
        let mut changed = sample();
        changed[1] = result(
            "JC-E1-DISK-ENCRYPTION",
            ControlStatus::Fail,
            4,
            "4 of 10 devices fail.",
        );
        let worse = build(
            ReportKind::PolicyReport,
            &connection(),
            &input(changed, 500, "s2"),
        );
        assert_ne!(stored_hash(&first), stored_hash(&worse));
        let open = build(
            ReportKind::OpenReports,
            &connection(),
            &input(sample(), 100, "s1"),
        );
        assert_ne!(stored_hash(&first), stored_hash(&open));
    }

    #[test]
    fn long_names_are_shortened_deterministically() {
        assert_eq!(report_name("acme"), "jcc-acme");
        let long = "a".repeat(260);
        let name = report_name(&long);
        assert_eq!(name.len(), 253);
        assert_eq!(name, report_name(&long));
        assert_ne!(name, report_name(&"a".repeat(261)));
        let label = bounded(&"b".repeat(70), 63);
        assert!(label.len() <= 63 && label.ends_with(|c: char| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn rule_names_drop_the_prefix() {
        assert_eq!(
            rule_name("JC-I11-CONDITIONAL-ACCESS-MFA"),
            "conditional-access-mfa"
        );
        assert_eq!(rule_name("OTHER"), "other");
    }
}
