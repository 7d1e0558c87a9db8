//! CSV, Markdown and the plain-text summary table.

use super::frameworks::Criterion;
use super::{Report, status_label, time_text, verification_steps};
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
            "snapshotId",
            "snapshotTime",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let snapshot_time = time_text(report.snapshot.finished_at.unwrap_or(report.evaluated_at));
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
            report.snapshot.snapshot_id.clone().unwrap_or_default(),
            snapshot_time.clone(),
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

/// Escapes text for a Markdown table cell or paragraph with backslash escapes, never HTML
/// entities (which plain-text readers of the file would see): `<` and `>` cannot open HTML,
/// `&` cannot start an entity, line breaks become spaces.
pub(super) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            // Only `&name;` or `&#..;` would read as an entity: escape the `&` before those.
            '&' if chars
                .peek()
                .is_some_and(|next| next.is_ascii_alphanumeric() || *next == '#') =>
            {
                out.push_str("\\&");
            }
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

/// The record changes of a kind in one line: added, removed, changed, by name then id.
pub(super) fn record_text(records: &super::RecordChanges) -> String {
    let mut parts = Vec::new();
    for (label, listed, total) in [
        ("added", &records.added, records.added_total),
        ("removed", &records.removed, records.removed_total),
        ("changed", &records.changed, records.changed_total),
    ] {
        if total == 0 {
            continue;
        }
        let more = total.saturating_sub(listed.len() as u64);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!("{label} ({total}): {}{tail}", listed.join(", ")));
    }
    if records.routine > 0 {
        parts.push(format!(
            "{} records changed only their check-in time",
            records.routine
        ));
    }
    parts.join("; ")
}

fn markdown_trend(report: &Report, out: &mut String) {
    out.push_str("\n## Over the audit period\n\n");
    let Some(trend) = &report.trend else {
        out.push_str("No trend: this report was not read from an evidence store.\n");
        return;
    };
    if let Some((first, last)) = trend.period() {
        out.push_str(&format!(
            "{} snapshots with stored control results, {} to {}.\n\n",
            trend.points.len(),
            time_text(first),
            time_text(last)
        ));
    }
    if !trend.without_results.is_empty() {
        out.push_str(&format!(
            "{} snapshots have no stored control results and are not counted (neither pass nor fail): {}\n\n",
            trend.without_results.len(),
            md(&trend.without_results.join(", "))
        ));
    }
    if let Some(note) = trend.note() {
        out.push_str(&format!("{}\n\n", md(&note)));
    } else {
        out.push_str("| Snapshot time | Snapshot | Failing | Passing | Error or N/A |\n|---|---|---:|---:|---:|\n");
        for p in &trend.points {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                time_text(p.at),
                md(&p.snapshot_id),
                p.failing,
                p.passing,
                p.other
            ));
        }
        out.push('\n');
    }
    if trend.controls.is_empty() {
        return;
    }
    out.push_str("| Control | Passed | Share | Failed | Error | N/A | Not evaluated |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for c in &trend.controls {
        out.push_str(&format!(
            "| {} | {} of {} | {} | {} | {} | {} | {} |\n",
            md(&c.id),
            c.passed,
            c.snapshots,
            c.passed_percent(),
            c.failed,
            c.error,
            c.not_applicable,
            c.not_evaluated
        ));
    }
}

fn markdown_criteria(framework: &str, criteria: &[Criterion], out: &mut String) {
    out.push_str(&format!(
        "| {framework} | Status | Controls |\n|---|---|---|\n"
    ));
    for c in criteria {
        let controls: Vec<String> = c
            .controls
            .iter()
            .map(|m| format!("{} ({})", md(&m.id), status_label(m.status)))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            md(&c.reference),
            status_label(c.status),
            controls.join(", ")
        ));
    }
}

fn markdown_frameworks(report: &Report, out: &mut String) {
    out.push_str("\n## By framework\n\nEach criterion with the controls mapped to it (a suggested mapping; confirm it with your auditor) and the worst status of those controls.\n\n### SOC 2 Trust Services Criteria\n\n");
    markdown_criteria("SOC 2 criterion", &report.frameworks.soc2, out);
    out.push_str("\n### ISO/IEC 27001:2022 Annex A\n\n");
    markdown_criteria("Annex A control", &report.frameworks.iso27001, out);
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
        line(
            &mut out,
            format!("- Collected: {} to {}", time_text(start), time_text(end)),
        );
    }
    if let (Some(start), Some(end)) = (s.events_window_start, s.events_window_end) {
        line(
            &mut out,
            format!(
                "- Directory Insights period: {} to {}",
                time_text(start),
                time_text(end)
            ),
        );
    }
    line(
        &mut out,
        format!("- Evaluated at: {}", time_text(report.evaluated_at)),
    );
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
    line(
        &mut out,
        format!("- Signed: {}", md(super::signed_text(report.signed))),
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
    markdown_trend(report, &mut out);
    markdown_frameworks(report, &mut out);
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
            let owners = super::lists_devices(r);
            if owners {
                line(&mut out, "| Name | Resource id | Owner | Why |".to_owned());
                line(&mut out, "|---|---|---|---|".to_owned());
            } else {
                line(&mut out, "| Name | Resource id | Why |".to_owned());
                line(&mut out, "|---|---|---|".to_owned());
            }
            for f in &r.failing {
                let owner = super::owner_of(report, r, &f.id)
                    .map(|owner| format!(" {} |", md(&owner)))
                    .unwrap_or_default();
                line(
                    &mut out,
                    format!(
                        "| {} | {} |{owner} {} |",
                        md(&f.name),
                        md(&f.id),
                        md(&f.why)
                    ),
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
        if changes.kinds.is_empty() {
            line(&mut out, "No evidence kind changed.".to_owned());
        } else {
            line(
                &mut out,
                "| Evidence kind | Records | Who and what |".to_owned(),
            );
            line(&mut out, "|---|---|---|".to_owned());
            for k in &changes.kinds {
                let who = k.records.as_ref().map(record_text).unwrap_or_default();
                line(
                    &mut out,
                    format!(
                        "| {} | {} | {} |",
                        md(&k.kind),
                        md(&k.counts_text()),
                        md(&who)
                    ),
                );
            }
        }
        line(&mut out, String::new());
        line(
            &mut out,
            format!(
                "{} other evidence kinds are unchanged.",
                changes.unchanged_kinds
            ),
        );
        if !changes.controls.is_empty() {
            line(&mut out, String::new());
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

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn markdown_escapes_with_backslashes_never_entities() {
        assert_eq!(md("Harbor & Pine"), "Harbor & Pine");
        assert_eq!(md("<b>x</b> | *y*"), "\\<b\\>x\\</b\\> \\| \\*y\\*");
        // `&amp;` in a name would render as `&`: the ampersand is escaped to stay literal.
        assert_eq!(md("a&amp;b &#38;"), "a\\&amp;b \\&\\#38;");
    }
}
