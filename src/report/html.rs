//! The HTML report: one self-contained file (inline CSS, no scripts, no external assets) an
//! auditor opens offline. Every value goes through maud, which escapes it.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::frameworks::Criterion;
use super::trend_svg::{failing_chart, share_bar};
use super::{Report, status_label, time_text, verification_steps};
use crate::controls::{ControlStatus, KindState};

const CSS: &str = r#"
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1f24; background: #ffffff; line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 3px solid #24478f; padding-bottom: .4rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
h3 { font-size: 1.1rem; margin-bottom: .3rem; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; word-break: break-word; }
th { background: #f3f5f8; }
td.num, th.num { text-align: right; }
.status { font-weight: 700; padding: .1rem .45rem; border-radius: .25rem; white-space: nowrap; }
.pass { background: #d8f5dd; color: #11602a; }
.fail { background: #fde0e0; color: #9b1c1c; }
.not-applicable { background: #eceff3; color: #4b5563; }
.error { background: #fff1cc; color: #7a4d00; }
.meta th { width: 16rem; }
.control { border: 1px solid #d0d7de; border-radius: .4rem; padding: .3rem 1rem 1rem; margin: 1.2rem 0; }
.digest, code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .82rem; word-break: break-all; }
.muted { color: #57606a; }
.nowrap, th { white-space: nowrap; }
.warning { background: #fff1cc; padding: .4rem .6rem; border-radius: .25rem; }
.note { background: #eceff3; padding: .6rem .8rem; border-radius: .25rem; }
svg.share { vertical-align: middle; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.card { flex: 1 1 10rem; border-radius: .4rem; padding: .8rem 1rem; font-size: 1.05rem; }
.card b { display: block; font-size: 1.8rem; }
@media print { .control { break-inside: avoid; } }
"#;

fn status_class(status: ControlStatus) -> &'static str {
    status.as_str()
}

fn badge(status: ControlStatus) -> Markup {
    html! { span class={ "status " (status_class(status)) } { (status_label(status)) } }
}

fn opt_time(time: Option<jiff::Timestamp>) -> String {
    time.map_or_else(|| "unknown".to_owned(), time_text)
}

fn criteria_table(framework: &str, criteria: &[Criterion]) -> Markup {
    html! {
        table class="framework" {
            thead { tr { th { (framework) } th { "Status" } th { "Controls mapped to it" } } }
            tbody {
                @for c in criteria {
                    tr {
                        td class="nowrap" { (c.reference) }
                        td { (badge(c.status)) }
                        td {
                            @for m in &c.controls {
                                a href={ "#" (m.id) } { code { (m.id) } } " " (m.title) " " (badge(m.status)) br;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn trend_section(report: &Report) -> Markup {
    html! {
        h2 id="trend" { "Over the audit period" }
        @match &report.trend {
            None => { p class="muted" { "No trend: this report was not read from an evidence store, so there is no chain of snapshots." } }
            Some(trend) => {
                @if let Some((first, last)) = trend.period() {
                    p { (trend.points.len()) " snapshots with stored control results, " (time_text(first)) " to " (time_text(last)) ". Each snapshot's results are the ones stored with it at collection." }
                }
                @if !trend.without_results.is_empty() {
                    p class="warning" { (trend.without_results.len()) " snapshots of the period have no stored control results and are not counted (neither pass nor fail): " (trend.without_results.join(", ")) }
                }
                @match (failing_chart(trend), trend.note()) {
                    (Some(chart), _) => { figure { (chart) } }
                    (None, Some(note)) => { p class="note" id="trend-note" { (note) } }
                    (None, None) => {}
                }
                @if !trend.controls.is_empty() {
                    table id="trend-controls" {
                        thead { tr { th { "Control" } th class="num" { "Passed" } th class="num" { "Failed" } th class="num" { "Error" } th class="num" { "N/A" } th class="num" { "Not evaluated" } th { "Passed share of snapshots" } } }
                        tbody {
                            @for c in &trend.controls {
                                tr {
                                    td class="nowrap" { a href={ "#" (c.id) } { code { (c.id) } } }
                                    td class="num" { (c.passed) " of " (c.snapshots) }
                                    td class="num" { (c.failed) }
                                    td class="num" { (c.error) }
                                    td class="num" { (c.not_applicable) }
                                    td class="num" { (c.not_evaluated) }
                                    td class="nowrap" { (share_bar(c)) " " (c.passed_percent()) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn frameworks_section(report: &Report) -> Markup {
    html! {
        h2 id="frameworks" { "By framework" }
        p class="muted" { "Each criterion with the controls mapped to it (a suggested mapping; confirm it with your auditor). A criterion shows the worst status of its controls." }
        h3 { "SOC 2 Trust Services Criteria" }
        (criteria_table("SOC 2 criterion", &report.frameworks.soc2))
        h3 { "ISO/IEC 27001:2022 Annex A" }
        (criteria_table("Annex A control", &report.frameworks.iso27001))
    }
}

fn record_lists(records: &super::RecordChanges) -> Markup {
    let more = |listed: usize, total: u64| total.saturating_sub(listed as u64);
    html! {
        @for (label, listed, total) in [("Added", &records.added, records.added_total), ("Removed", &records.removed, records.removed_total), ("Changed", &records.changed, records.changed_total)] {
            @if total > 0 {
                div { b { (label) " (" (total) "): " } (listed.join(", "))
                    @if more(listed.len(), total) > 0 { " and " (more(listed.len(), total)) " more" }
                }
            }
        }
        @if records.routine > 0 {
            div class="muted" { (records.routine) " records changed only their check-in time." }
        }
    }
}

/// Renders the report as one self-contained HTML document.
pub fn render_html(report: &Report) -> String {
    let s = &report.snapshot;
    let sum = &report.summary;
    let kinds: std::collections::BTreeMap<&str, &super::EvidenceKindInfo> = report
        .evidence
        .iter()
        .map(|k| (k.kind.as_str(), k))
        .collect();
    let title = format!("JumpCloud compliance report: {}", s.org_name);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { (title) }
                table class="meta" id="snapshot" {
                    tr { th { "Organization" } td { (s.org_name) " " span class="muted" { "(" (s.org_id) ")" } } }
                    @if let Some(region) = &s.region {
                        tr { th { "Region" } td { (region) } }
                    }
                    tr { th { "Collection" } td { (opt_time(s.started_at)) " to " (opt_time(s.finished_at)) } }
                    @if let (Some(start), Some(end)) = (s.events_window_start, s.events_window_end) {
                        tr { th { "Directory Insights period" } td { (time_text(start)) " to " (time_text(end)) } }
                    }
                    tr { th { "Controls evaluated at" } td { (time_text(report.evaluated_at)) } }
                    @if let Some(id) = &s.snapshot_id {
                        tr { th { "Snapshot" } td class="digest" { (id) } }
                    }
                    tr { th { "Snapshot digest (SHA-256 of the manifest)" } td class="digest" { (s.manifest_sha256.as_deref().unwrap_or("unknown")) } }
                    tr { th { "Chain position" } td class="digest" { (super::chain_position(s)) } }
                    tr { th { "Signed" } td id="signed" { (super::signed_text(report.signed)) } }
                    @if let Some(version) = &s.collector_version {
                        tr { th { "Collector version" } td { (version) } }
                    }
                }

                h2 id="summary" { "Summary" }
                div class="cards" {
                    div class="card pass" { b { (sum.passing) } "passing" }
                    div class="card fail" { b { (sum.failing) } "failing" }
                    div class="card not-applicable" { b { (sum.not_applicable) } "not applicable" }
                    div class="card error" { b { (sum.error) } "error" }
                }
                table {
                    thead { tr { th { "Control" } th { "Title" } th { "Status" } th class="num" { "Evaluated" } th class="num" { "Failing" } th { "Summary" } } }
                    tbody {
                        @for r in &report.results {
                            tr {
                                td class="nowrap" { a href={ "#" (r.id) } { code { (r.id) } } }
                                td { (r.title) }
                                td { (badge(r.status)) }
                                td class="num" { (r.evaluated) }
                                td class="num" { (r.failing.len()) }
                                td { (r.summary) }
                            }
                        }
                    }
                }
                p class="muted" { "SOC 2 and ISO/IEC 27001 references are a suggested mapping; confirm them with your auditor." }

                (trend_section(report))
                (frameworks_section(report))

                h2 id="controls" { "Controls" }
                @for r in &report.results {
                    section class="control" id=(r.id) {
                        h3 { code { (r.id) } " " (r.title) " " (badge(r.status)) }
                        p { (r.summary) }
                        @if let Some(def) = crate::controls::CATALOG.iter().find(|d| d.id == r.id) {
                            p class="muted" { (def.description) }
                        }
                        table class="meta" {
                            tr { th { "References (" (r.references.mapping) ")" } td {
                                "SOC 2 TSC: " (r.references.soc2.join(", ")) "; ISO/IEC 27001:2022: " (r.references.iso27001.join(", "))
                            } }
                            @if !r.thresholds.is_empty() {
                                tr { th { "Thresholds" } td {
                                    @for (name, value) in &r.thresholds { code { (name) } " = " (value) (report.source_suffix(name)) br; }
                                } }
                            }
                            tr { th { "Evidence used" } td {
                                @for kind in &r.evidence_kinds {
                                    code { (kind) }
                                    @match kinds.get(kind.as_str()) {
                                        Some(info) => {
                                            " (" (info.records) " records"
                                            @if info.state != KindState::Complete { ", " (info.state.as_str()) }
                                            ") "
                                            span class="digest muted" { "sha256 " (info.sha256.as_deref().unwrap_or("unknown")) }
                                        }
                                        None => { " (missing from the snapshot)" }
                                    }
                                    br;
                                }
                            } }
                        }
                        @if !r.notes.is_empty() {
                            ul class="notes" { @for note in &r.notes { li { (note) } } }
                        }
                        @if !r.failing.is_empty() {
                            @let owners = super::lists_devices(r);
                            table class="failing" {
                                thead { tr { th { "Name" } th { "Resource id" } @if owners { th { "Owner" } } th { "Why" } } }
                                tbody {
                                    @for f in &r.failing {
                                        tr {
                                            td { (f.name) } td class="digest" { (f.id) }
                                            @if let Some(owner) = super::owner_of(report, r, &f.id) { td { (owner) } }
                                            td { (f.why) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }

                @if let Some(changes) = &report.changes {
                    h2 id="changes" { "Changes since the previous snapshot" }
                    p {
                        "Previous snapshot: collected " (opt_time(changes.previous.finished_at)) ", digest "
                        span class="digest" { (changes.previous.manifest_sha256.as_deref().unwrap_or("unknown")) }
                        @match changes.chained {
                            Some(true) => { ". The current manifest links to it." }
                            Some(false) => { ". The current manifest links to a different predecessor." }
                            None => { "." }
                        }
                    }
                    @if changes.kinds.is_empty() {
                        p { "No evidence kind changed." }
                    } @else {
                        table id="changed-kinds" {
                            thead { tr { th { "Evidence kind" } th { "Records" } th { "Who and what" } } }
                            tbody {
                                @for k in &changes.kinds {
                                    tr {
                                        td { code { (k.kind) } }
                                        td class="nowrap" { (k.counts_text()) }
                                        td { @if let Some(records) = &k.records { (record_lists(records)) } }
                                    }
                                }
                            }
                        }
                    }
                    p class="muted" { (changes.unchanged_kinds) " other evidence kinds are unchanged." }
                    @if changes.controls.is_empty() {
                        p { "No control changed status or failing count." }
                    } @else {
                        table {
                            thead { tr { th { "Control" } th { "Previous" } th { "Current" } } }
                            tbody {
                                @for c in &changes.controls {
                                    tr {
                                        td { code { (c.id) } }
                                        td { (badge(c.previous)) " " (c.previous_failing) " failing" }
                                        td { (badge(c.current)) " " (c.current_failing) " failing" }
                                    }
                                }
                            }
                        }
                    }
                }

                h2 id="evidence" { "Evidence in this snapshot" }
                table {
                    thead { tr { th { "Kind" } th { "State" } th class="num" { "Records" } th { "File" } th { "SHA-256" } } }
                    tbody {
                        @for k in &report.evidence {
                            tr {
                                td { code { (k.kind) } }
                                td { (k.state.as_str()) }
                                td class="num" { (k.records) }
                                td { (k.file.as_deref().unwrap_or("")) }
                                td class="digest" { (k.sha256.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }

                h2 id="verify" { "How to verify this snapshot" }
                ol { @for step in verification_steps(report) { li { (step) } } }
            }
        }
    };
    page.into_string()
}
