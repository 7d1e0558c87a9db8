//! CSV, Markdown and the plain-text summary table.

use super::{Report, status_label, verification_steps};
use crate::controls::ControlResult;

/// Errors writing CSV.
#[derive(Debug, thiserror::Error)]
#[error("cannot write CSV: {0}")]
pub struct CsvError(#[from] csv::Error);

fn csv_of(rows: Vec<Vec<String>>) -> Result<String, CsvError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(&row)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| CsvError(csv::Error::from(e.into_error())))?;
    // The writer only ever receives Rust strings, so the bytes are UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// CSV files: `summary.csv` and one `<CONTROL-ID>.csv` per control listing its failing
/// resources. Returned as (file name, contents), sorted by file name.
pub fn render_csv(report: &Report) -> Result<Vec<(String, String)>, CsvError> {
    let mut summary = vec![
        [
            "id",
            "title",
            "status",
            "evaluated",
            "failing",
            "summary",
            "soc2",
            "iso27001",
            "mapping",
            "thresholds",
            "evidenceKinds",
            "notes",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let mut files = Vec::new();
    for r in &report.results {
        summary.push(vec![
            r.id.clone(),
            r.title.clone(),
            r.status.to_string(),
            r.evaluated.to_string(),
            r.failing.len().to_string(),
            r.summary.clone(),
            r.references.soc2.join(" "),
            r.references.iso27001.join(" "),
            r.references.mapping.clone(),
            r.thresholds
                .iter()
                .map(|(k, v)| format!("{k}={v}{}", report.source_suffix(k)))
                .collect::<Vec<_>>()
                .join("; "),
            r.evidence_kinds.join(" "),
            r.notes.join(" | "),
        ]);
        let mut rows = vec![
            ["control", "status", "resourceId", "resourceName", "why"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for failing in &r.failing {
            rows.push(vec![
                r.id.clone(),
                r.status.to_string(),
                failing.id.clone(),
                failing.name.clone(),
                failing.why.clone(),
            ]);
        }
        files.push((format!("{}.csv", r.id), csv_of(rows)?));
    }
    files.push(("summary.csv".to_owned(), csv_of(summary)?));
    files.sort();
    Ok(files)
}

/// Escapes text for a Markdown table cell or paragraph: HTML and Markdown specials become
/// entities or backslash escapes, line breaks become spaces.
pub(super) fn md(text: &str) -> String {
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

/// The report as Markdown.
pub fn render_markdown(report: &Report) -> String {
    let s = &report.snapshot;
    let mut out = String::new();
    let line = |out: &mut String, text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(
        &mut out,
        format!("# JumpCloud compliance report: {}", md(&s.org_name)),
    );
    line(&mut out, String::new());
    line(
        &mut out,
        format!("- Organization: {} ({})", md(&s.org_name), md(&s.org_id)),
    );
    if let Some(region) = &s.region {
        line(&mut out, format!("- Region: {}", md(region)));
    }
    if let (Some(start), Some(end)) = (s.started_at, s.finished_at) {
        line(&mut out, format!("- Collected: {start} to {end}"));
    }
    if let (Some(start), Some(end)) = (s.events_window_start, s.events_window_end) {
        line(
            &mut out,
            format!("- Directory Insights period: {start} to {end}"),
        );
    }
    line(&mut out, format!("- Evaluated at: {}", report.evaluated_at));
    if let Some(id) = &s.snapshot_id {
        line(&mut out, format!("- Snapshot: {}", md(id)));
    }
    line(
        &mut out,
        format!(
            "- Snapshot digest (SHA-256 of the manifest): {}",
            md(s.manifest_sha256.as_deref().unwrap_or("unknown"))
        ),
    );
    line(
        &mut out,
        format!("- Chain position: {}", md(&super::chain_position(s))),
    );
    let sum = &report.summary;
    line(
        &mut out,
        format!(
            "- Result: {} passing, {} failing, {} not applicable, {} error",
            sum.passing, sum.failing, sum.not_applicable, sum.error
        ),
    );
    line(&mut out, String::new());
    line(&mut out, "## Summary".to_owned());
    line(&mut out, String::new());
    line(
        &mut out,
        "| Control | Title | Status | Evaluated | Failing | Summary |".to_owned(),
    );
    line(&mut out, "|---|---|---|---:|---:|---|".to_owned());
    for r in &report.results {
        line(
            &mut out,
            format!(
                "| {} | {} | {} | {} | {} | {} |",
                md(&r.id),
                md(&r.title),
                status_label(r.status),
                r.evaluated,
                r.failing.len(),
                md(&r.summary)
            ),
        );
    }
    for r in &report.results {
        line(&mut out, String::new());
        line(&mut out, format!("## {}: {}", md(&r.id), md(&r.title)));
        line(&mut out, String::new());
        line(
            &mut out,
            format!("**{}**: {}", status_label(r.status), md(&r.summary)),
        );
        line(&mut out, String::new());
        line(
            &mut out,
            format!(
                "- References ({}): SOC 2 {}; ISO/IEC 27001:2022 {}",
                md(&r.references.mapping),
                md(&r.references.soc2.join(", ")),
                md(&r.references.iso27001.join(", "))
            ),
        );
        for (name, value) in &r.thresholds {
            line(
                &mut out,
                format!(
                    "- Threshold {}: {}{}",
                    md(name),
                    md(value),
                    md(&report.source_suffix(name))
                ),
            );
        }
        line(
            &mut out,
            format!("- Evidence: {}", md(&r.evidence_kinds.join(", "))),
        );
        for note in &r.notes {
            line(&mut out, format!("- Note: {}", md(note)));
        }
        if !r.failing.is_empty() {
            line(&mut out, String::new());
            line(&mut out, "| Resource id | Name | Why |".to_owned());
            line(&mut out, "|---|---|---|".to_owned());
            for f in &r.failing {
                line(
                    &mut out,
                    format!("| {} | {} | {} |", md(&f.id), md(&f.name), md(&f.why)),
                );
            }
        }
    }
    if let Some(changes) = &report.changes {
        line(&mut out, String::new());
        line(
            &mut out,
            "## Changes since the previous snapshot".to_owned(),
        );
        line(&mut out, String::new());
        line(
            &mut out,
            "| Evidence kind | Previous | Current | Change |".to_owned(),
        );
        line(&mut out, "|---|---:|---:|---:|".to_owned());
        for k in &changes.kinds {
            line(
                &mut out,
                format!(
                    "| {} | {} | {} | {:+} |",
                    md(&k.kind),
                    k.previous,
                    k.current,
                    k.delta
                ),
            );
        }
        for c in &changes.controls {
            line(
                &mut out,
                format!(
                    "- {}: {} ({} failing) -> {} ({} failing)",
                    md(&c.id),
                    c.previous,
                    c.previous_failing,
                    c.current,
                    c.current_failing
                ),
            );
        }
    }
    line(&mut out, String::new());
    line(&mut out, "## How to verify this snapshot".to_owned());
    line(&mut out, String::new());
    for (i, step) in verification_steps(report).iter().enumerate() {
        line(&mut out, format!("{}. {}", i + 1, md(step)));
    }
    out
}

/// A fixed-width table of results for terminals (printed at the end of `collect`).
pub fn summary_table(results: &[ControlResult]) -> String {
    let id_width = results.iter().map(|r| r.id.len()).max().unwrap_or(2).max(7);
    let mut out = format!(
        "{:<id_width$}  {:<6}  {:>9}  {:>7}  SUMMARY\n",
        "CONTROL", "STATUS", "EVALUATED", "FAILING"
    );
    for r in results {
        out.push_str(&format!(
            "{:<id_width$}  {:<6}  {:>9}  {:>7}  {}\n",
            r.id,
            status_label(r.status),
            r.evaluated,
            r.failing.len(),
            r.summary
        ));
    }
    let summary = crate::controls::ResultsSummary::of(results);
    out.push_str(&format!(
        "{} passing, {} failing, {} not applicable, {} error\n",
        summary.passing, summary.failing, summary.not_applicable, summary.error
    ));
    out
}
