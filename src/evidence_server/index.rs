//! The endpoint's index: the connections the caller may see, with their Ready state, last
//! snapshot and failing controls, as JSON and as one plain HTML page (inline CSS, no script,
//! no external assets; every value escaped by maud).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Serialize;

use crate::crd::JumpCloudConnection;

/// One connection as the index shows it (from its status; nothing here is secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    pub namespace: String,
    pub name: String,
    /// `True`, `False` or `Unknown` (also when the status has no Ready condition yet).
    pub ready: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_snapshot: Option<LastSnapshot>,
    pub failing_controls: Vec<String>,
    pub error_controls: Vec<String>,
    pub links: Links,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSnapshot {
    pub id: String,
    pub time: String,
    pub sequence: u64,
    pub digest: String,
}

/// Paths relative to the endpoint root (so they work through the service proxy too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    pub html_report: String,
    pub json_report: String,
    pub snapshots: String,
}

impl IndexEntry {
    pub fn of(connection: &JumpCloudConnection) -> Self {
        let namespace = connection.metadata.namespace.clone().unwrap_or_default();
        let name = connection.metadata.name.clone().unwrap_or_default();
        let status = connection.status.as_ref();
        let ready = status.and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"));
        let snapshot = status
            .and_then(|s| s.evidence.as_ref())
            .and_then(|e| e.snapshot.as_ref());
        let controls = status.and_then(|s| s.controls.as_ref());
        let base = format!("connections/{namespace}/{name}");
        IndexEntry {
            ready: ready.map_or_else(|| "Unknown".to_owned(), |c| c.status.clone()),
            ready_reason: ready.map(|c| c.reason.clone()),
            ready_message: ready.map(|c| c.message.clone()).filter(|m| !m.is_empty()),
            last_snapshot: snapshot.map(|s| LastSnapshot {
                id: s.id.clone(),
                time: s.time.0.to_string(),
                sequence: s.sequence,
                digest: s.digest.clone(),
            }),
            failing_controls: controls.map(|c| c.failing_ids.clone()).unwrap_or_default(),
            error_controls: controls.map(|c| c.error_ids.clone()).unwrap_or_default(),
            links: Links {
                html_report: format!("{base}/report?format=html"),
                json_report: format!("{base}/report?format=json"),
                snapshots: format!("{base}/snapshots"),
            },
            namespace,
            name,
        }
    }
}

const CSS: &str = r#"
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1f24; background: #ffffff; line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 3px solid #24478f; padding-bottom: .4rem; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .35rem .5rem; text-align: left; vertical-align: top; word-break: break-word; }
th { background: #f3f5f8; white-space: nowrap; }
.status { font-weight: 700; padding: .1rem .45rem; border-radius: .25rem; white-space: nowrap; }
.True { background: #d8f5dd; color: #11602a; }
.False { background: #fde0e0; color: #9b1c1c; }
.Unknown { background: #eceff3; color: #4b5563; }
.failing { color: #9b1c1c; font-weight: 600; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .82rem; word-break: break-all; }
.muted { color: #57606a; }
"#;

fn ready_class(ready: &str) -> &'static str {
    match ready {
        "True" => "True",
        "False" => "False",
        _ => "Unknown",
    }
}

/// The index page. `caller` is the authenticated user name, shown so a person sees whose
/// permissions the list reflects.
pub fn render_index(entries: &[IndexEntry], caller: &str) -> String {
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "JumpCloud evidence" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "JumpCloud evidence" }
                p class="muted" {
                    "Connections " code { (caller) } " may get (RBAC: "
                    code { "get jumpcloudconnections.jumpcloud-operator.io" } "): " (entries.len()) "."
                }
                @if entries.is_empty() {
                    p id="empty" { "No connection is visible to you. Ask for a Role with get on jumpcloudconnections in the connection's namespace." }
                } @else {
                    table id="connections" {
                        thead { tr {
                            th { "Connection" } th { "Ready" } th { "Last snapshot" }
                            th { "Failing controls" } th { "Evidence" }
                        } }
                        tbody {
                            @for entry in entries {
                                tr class="connection" {
                                    td { code { (entry.namespace) "/" (entry.name) } }
                                    td {
                                        span class={ "status " (ready_class(&entry.ready)) } { (entry.ready) }
                                        @if let Some(reason) = &entry.ready_reason { " " span class="muted" { (reason) } }
                                        @if let Some(message) = &entry.ready_message { br; span class="muted" { (message) } }
                                    }
                                    td {
                                        @match &entry.last_snapshot {
                                            Some(s) => { code { (s.id) } br; (s.time) " · sequence " (s.sequence) }
                                            None => { span class="muted" { "none yet" } }
                                        }
                                    }
                                    td {
                                        @if entry.failing_controls.is_empty() && entry.error_controls.is_empty() {
                                            span class="muted" { "none" }
                                        }
                                        @for id in &entry.failing_controls { span class="failing" { (id) } " " }
                                        @for id in &entry.error_controls { span class="muted" { (id) " (error)" } " " }
                                    }
                                    td {
                                        a href=(entry.links.html_report) { "HTML report" } " · "
                                        a href=(entry.links.json_report) { "JSON report" } " · "
                                        a href=(entry.links.snapshots) { "snapshots" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_ready_snapshot_and_controls_from_status() {
        let connection: JumpCloudConnection = serde_json::from_value(serde_json::json!({
            "apiVersion": "jumpcloud-operator.io/v1alpha1", "kind": "JumpCloudConnection",
            "metadata": {"namespace": "team-a", "name": "acme"},
            "spec": {"apiKeySecretRef": {"name": "jc"}},
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "Synced", "message": "ok",
                    "lastTransitionTime": "2026-12-01T00:00:00Z"}],
                "evidence": {"snapshot": {"id": "20261201T000000.000000Z-0123456789abcdef", "digest": "sha256:01",
                    "sequence": 3, "time": "2026-12-01T00:00:00Z"}},
                "controls": {"passing": 1, "failing": 1, "notApplicable": 0, "error": 0,
                    "failingIds": ["JC-E1-DISK-ENCRYPTION"]}
            }
        }))
        .unwrap();
        let entry = IndexEntry::of(&connection);
        assert_eq!(entry.ready, "True");
        assert_eq!(entry.last_snapshot.as_ref().unwrap().sequence, 3);
        assert_eq!(entry.failing_controls, vec!["JC-E1-DISK-ENCRYPTION"]);
        assert_eq!(
            entry.links.html_report,
            "connections/team-a/acme/report?format=html"
        );
        let html = render_index(&[entry], "alice <x>");
        assert!(html.contains("alice &lt;x&gt;"));
        assert!(!html.contains("<script"));
        assert!(html.contains("href=\"connections/team-a/acme/snapshots\""));
    }
}
