//! HEADLESS CHROMIUM TEST of the HTML report (issue 6): the report renders in a real browser,
//! the DOM text holds the summary and a failing control, and a screenshot is not blank.
//!
//! Needs Debian's `chromium` package. `.ci/run` installs it; locally:
//! `apt-get update && apt-get install -y chromium`. The test does not skip when chromium is
//! missing: it fails and says so.

mod chromium_support;
mod report_support;

use chromium_support::*;
use jumpcloud_operator::controls::ControlSettings;
use jumpcloud_operator::report::{Baseline, build_report, render_html};
use report_support::*;
use serde_json::json;

#[test]
fn html_report_renders_in_headless_chromium() {
    let mut org = passing_org();
    org.record("devices", "d-mac")["fde"]["active"] = json!(false);
    org.record("devices", "d-lin")["displayName"] =
        json!("<b>bold</b> & <script>alert(1)</script>");
    org.record("devices", "d-lin")["lastContact"] = json!(days_ago(45));
    let report = build_report(
        &org.build(),
        Some(&Baseline::evaluate(
            &passing_org().build(),
            &ControlSettings::default(),
        )),
        &ControlSettings::default(),
        now(),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, render_html(&report)).unwrap();
    let url = format!("file://{}", file.display());

    let dom = dump_dom(&url);
    assert!(
        dom.contains("JumpCloud compliance report: Acme Corp"),
        "{dom}"
    );
    // The summary: counts and the failing controls with their status.
    assert!(dom.contains("id=\"summary\""));
    assert!(
        dom.contains(&format!("<b>{}</b>failing", report.summary.failing)),
        "summary cards missing"
    );
    assert!(dom.contains("JC-E1-DISK-ENCRYPTION"));
    assert!(dom.contains("1 of 3 devices fail."));
    // The failing resource of the failing control, with why.
    assert!(dom.contains("Alice-MacBook"));
    assert!(dom.contains("fde.active=false"));
    // The hostile name stayed text: the browser built no element from it.
    assert!(dom.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !dom.contains("<script"),
        "a script element exists in the DOM"
    );
    assert!(dom.contains("Changes since the previous snapshot"));

    let (width, height, channels, bytes) = screenshot(&url, dir.path(), 1280, 1600);
    assert!(width >= 1000 && height >= 1000, "{width}x{height}");
    assert_not_blank(channels, &bytes, 50);
    // The failing badge's red is on the page.
    assert!(
        bytes
            .chunks(channels)
            .any(|p| p[0] > 240 && p[1] < 235 && p[1] > 200 && p[2] < 235),
        "no failing-status colour in the screenshot"
    );
    // Keep the screenshot for humans when asked.
    if let Some(keep) = std::env::var_os("REPORT_SCREENSHOT_OUT") {
        std::fs::copy(dir.path().join("screenshot.png"), keep).unwrap();
    }
}

/// The trend chart is drawn, not blank: the chart's line colour (#c62828, used nowhere else)
/// covers a wide region of a full-page screenshot, and the per-control share bars' green is
/// there too.
#[test]
fn trend_chart_is_visible_in_headless_chromium() {
    use jumpcloud_operator::controls::ControlStatus;
    use jumpcloud_operator::report::trend_of;
    use jumpcloud_operator::store::ChainResults;

    let mut report = build_report(
        &passing_org().build(),
        None,
        &ControlSettings::default(),
        now(),
    );
    let day = |n: i64| {
        now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * n))
            .unwrap()
    };
    let statuses = |failing: usize| -> Vec<(String, ControlStatus)> {
        report
            .results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let status = if i < failing {
                    ControlStatus::Fail
                } else {
                    ControlStatus::Pass
                };
                (r.id.clone(), status)
            })
            .collect()
    };
    let chain: Vec<ChainResults> = [(9, 6), (6, 2), (3, 8), (0, 1)]
        .into_iter()
        .map(|(days_ago, failing)| ChainResults {
            snapshot_id: format!("snapshot-{days_ago}"),
            at: day(days_ago),
            statuses: Some(statuses(failing)),
        })
        .collect();
    report.trend = Some(trend_of(&chain));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, render_html(&report)).unwrap();
    let url = format!("file://{}", file.display());

    let dom = dump_dom(&url);
    assert!(
        dom.contains("<svg id=\"trend-chart\""),
        "no chart in the DOM"
    );
    assert!(dom.contains("Failing controls per snapshot, 4 snapshots"));
    assert!(!dom.contains("<script"));

    let (width, height, channels, bytes) = screenshot(&url, dir.path(), 1280, 6000);
    let line: Vec<(u32, u32)> = bytes
        .chunks(channels)
        .enumerate()
        .filter(|(_, p)| {
            p[0].abs_diff(198) < 20 && p[1].abs_diff(40) < 20 && p[2].abs_diff(40) < 20
        })
        .map(|(i, _)| (i as u32 % width, i as u32 / width))
        .collect();
    assert!(
        line.len() > 500,
        "the chart's line is not drawn: {} pixels ({width}x{height})",
        line.len()
    );
    let (min_x, max_x) = (
        line.iter().map(|p| p.0).min().unwrap(),
        line.iter().map(|p| p.0).max().unwrap(),
    );
    let (min_y, max_y) = (
        line.iter().map(|p| p.1).min().unwrap(),
        line.iter().map(|p| p.1).max().unwrap(),
    );
    assert!(max_x - min_x > 400, "the chart is {}px wide", max_x - min_x);
    assert!(
        max_y - min_y > 60,
        "the line does not rise and fall: {}px",
        max_y - min_y
    );
    // All of it within one chart's height: the chart, not red scattered over the page.
    assert!(max_y - min_y < 260, "line pixels span {}px", max_y - min_y);
    assert!(
        bytes
            .chunks(channels)
            .filter(|p| p[0].abs_diff(46) < 20 && p[1].abs_diff(125) < 20 && p[2].abs_diff(50) < 20)
            .count()
            > 500,
        "no share bars"
    );
    if let Some(keep) = std::env::var_os("TREND_SCREENSHOT_OUT") {
        std::fs::copy(dir.path().join("screenshot.png"), keep).unwrap();
    }
}
