//! The trend as inline SVG: no script, no external asset, the same bytes for the same trend,
//! so the HTML report stays one self-contained, reproducible file.

use maud::{Markup, html};

use super::trend::{ControlTrend, Trend};

const WIDTH: i64 = 720;
const HEIGHT: i64 = 260;
const LEFT: i64 = 56;
const RIGHT: i64 = 24;
const TOP: i64 = 16;
const BOTTOM: i64 = 56;

/// x of each point: by time between the first and the last snapshot, or evenly spaced when
/// they share one time.
fn xs(trend: &Trend) -> Vec<i64> {
    let plot = WIDTH - LEFT - RIGHT;
    let n = trend.points.len() as i64;
    let Some((first, last)) = trend.period() else {
        return Vec::new();
    };
    let span = last.as_second() - first.as_second();
    trend
        .points
        .iter()
        .enumerate()
        .map(|(i, point)| {
            if span > 0 {
                LEFT + (point.at.as_second() - first.as_second()) * plot / span
            } else {
                LEFT + (i as i64) * plot / (n - 1).max(1)
            }
        })
        .collect()
}

/// The failing-controls chart; `None` when the trend has fewer than two points (the caller
/// shows the trend's note instead of an empty chart).
pub(super) fn failing_chart(trend: &Trend) -> Option<Markup> {
    if trend.note().is_some() {
        return None;
    }
    let (first, last) = trend.period()?;
    let max = trend
        .points
        .iter()
        .map(|p| p.failing)
        .max()
        .unwrap_or(0)
        .max(1) as i64;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let y = |value: i64| TOP + plot_height - value * plot_height / max;
    let xs = xs(trend);
    let line: Vec<String> = trend
        .points
        .iter()
        .zip(&xs)
        .map(|(p, x)| format!("{x},{}", y(p.failing as i64)))
        .collect();
    let ticks: Vec<i64> = if max <= 4 {
        (0..=max).collect()
    } else {
        vec![0, max / 2, max]
    };
    let title = format!(
        "Failing controls per snapshot, {} snapshots from {} to {}",
        trend.points.len(),
        super::time_text(first),
        super::time_text(last)
    );
    Some(html! {
        svg id="trend-chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="trend-chart-title"
            width=(WIDTH) height=(HEIGHT) viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } {
            title id="trend-chart-title" { (title) }
            rect x="0" y="0" width=(WIDTH) height=(HEIGHT) fill="#ffffff" {}
            @for tick in &ticks {
                line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(*tick)) y2=(y(*tick)) stroke="#d0d7de" stroke-width="1" {}
                text x=(LEFT - 8) y=(y(*tick) + 4) text-anchor="end" font-size="12" fill="#1b1f24" { (tick) }
            }
            line x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(TOP + plot_height) stroke="#1b1f24" stroke-width="1" {}
            line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(TOP + plot_height) y2=(TOP + plot_height) stroke="#1b1f24" stroke-width="1" {}
            text x=(LEFT) y=(HEIGHT - BOTTOM + 18) text-anchor="start" font-size="12" fill="#1b1f24" { (first.strftime("%Y-%m-%d")) }
            text x=(WIDTH - RIGHT) y=(HEIGHT - BOTTOM + 18) text-anchor="end" font-size="12" fill="#1b1f24" { (last.strftime("%Y-%m-%d")) }
            text x=(LEFT + (WIDTH - LEFT - RIGHT) / 2) y=(HEIGHT - 10) text-anchor="middle" font-size="13" fill="#1b1f24" { "Snapshot time (UTC)" }
            text x="14" y=(TOP + plot_height / 2) text-anchor="middle" font-size="13" fill="#1b1f24"
                transform={ "rotate(-90 14 " (TOP + plot_height / 2) ")" } { "Failing controls" }
            polyline points=(line.join(" ")) fill="none" stroke="#c62828" stroke-width="2.5" {}
            @for (p, x) in trend.points.iter().zip(&xs) {
                circle cx=(x) cy=(y(p.failing as i64)) r="3.5" fill="#c62828" {
                    title { (super::time_text(p.at)) ": " (p.failing) " failing, " (p.passing) " passing, " (p.other) " error or not applicable (" (p.snapshot_id) ")" }
                }
            }
        }
    })
}

/// A bar of one control's snapshots: passed, failed, error, not applicable, not evaluated.
pub(super) fn share_bar(control: &ControlTrend) -> Markup {
    const BAR: u64 = 160;
    let parts = [
        (control.passed, "#2e7d32", "passed"),
        (control.failed, "#e57373", "failed"),
        (control.error, "#e0a100", "error"),
        (control.not_applicable, "#9aa4b1", "not applicable"),
        (control.not_evaluated, "#d0d7de", "not evaluated"),
    ];
    let total = control.snapshots.max(1);
    let mut x = 0;
    let mut rects = Vec::new();
    for (count, colour, label) in parts {
        let width = count * BAR / total;
        if count > 0 {
            rects.push((x, width.max(1), colour, label, count));
        }
        x += width;
    }
    html! {
        svg class="share" xmlns="http://www.w3.org/2000/svg" role="img" width=(BAR) height="12" viewBox={ "0 0 " (BAR) " 12" } {
            title { (control.id) " passed " (control.passed) " of " (control.snapshots) " snapshots" }
            rect x="0" y="0" width=(BAR) height="12" fill="#f3f5f8" {}
            @for (x, width, colour, label, count) in rects {
                rect x=(x) y="0" width=(width) height="12" fill=(colour) { title { (count) " " (label) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::trend::TrendPoint;

    fn trend(points: &[(i64, u64)]) -> Trend {
        Trend {
            points: points
                .iter()
                .map(|(second, failing)| TrendPoint {
                    snapshot_id: format!("s{second}"),
                    at: jiff::Timestamp::from_second(1_800_000_000 + second).unwrap(),
                    failing: *failing,
                    passing: 1,
                    other: 0,
                })
                .collect(),
            controls: Vec::new(),
            without_results: Vec::new(),
        }
    }

    #[test]
    fn chart_has_title_axes_points_and_no_script_and_is_deterministic() {
        let t = trend(&[(0, 3), (86_400, 1), (2 * 86_400, 0)]);
        let svg = failing_chart(&t).unwrap().into_string();
        assert_eq!(svg, failing_chart(&t).unwrap().into_string());
        assert!(svg.contains(
            "<title id=\"trend-chart-title\">Failing controls per snapshot, 3 snapshots"
        ));
        assert!(svg.contains("Snapshot time (UTC)") && svg.contains(">Failing controls</text>"));
        // x by time, y by failing count (3 at the top of the plot, 0 on the axis).
        assert!(svg.contains("points=\"56,16 376,142 696,204\""), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(!svg.to_ascii_lowercase().contains("<script"));
    }

    #[test]
    fn fewer_than_two_points_render_no_chart() {
        assert!(failing_chart(&trend(&[])).is_none());
        assert!(failing_chart(&trend(&[(0, 2)])).is_none());
        // Two snapshots at the same second are spread evenly, not stacked.
        let svg = failing_chart(&trend(&[(0, 1), (0, 1)]))
            .unwrap()
            .into_string();
        assert!(svg.contains("points=\"56,16 696,16\""), "{svg}");
    }
}
