//! HEADLESS CHROMIUM TEST of the HTML report (issue 6): the report renders in a real browser,
//! the DOM text holds the summary and a failing control, and a screenshot is not blank.
//!
//! Needs Debian's `chromium` package. `.ci/run` installs it; locally:
//! `apt-get update && apt-get install -y chromium`. The test does not skip when chromium is
//! missing: it fails and says so.

mod report_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use jumpcloud_operator::controls::ControlSettings;
use jumpcloud_operator::report::{Baseline, build_report, render_html};
use report_support::*;
use serde_json::json;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Some(path) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        }) {
            return path;
        }
    }
    panic!(
        "chromium is not installed: the HTML report test needs Debian's `chromium` package. \
         .ci/run installs it; locally run `apt-get update && apt-get install -y chromium`."
    );
}

/// Runs headless chromium with the flags that keep it offline and quiet, bounded by
/// coreutils `timeout` so a wedged browser fails the test instead of hanging it.
fn run_chromium(profile: &Path, extra: &[String], url: &str) -> std::process::Output {
    let output = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("cannot start timeout/chromium");
    assert!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

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

    let profile = tempfile::tempdir().unwrap();
    let dom = run_chromium(profile.path(), &["--dump-dom".to_owned()], &url);
    let dom = String::from_utf8_lossy(&dom.stdout);
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

    let shot = dir.path().join("report.png");
    let profile = tempfile::tempdir().unwrap();
    run_chromium(
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
        &url,
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let bytes = &pixels[..info.buffer_size()];
    assert!(
        info.width >= 1000 && info.height >= 1000,
        "{}x{}",
        info.width,
        info.height
    );
    // Not blank: the luminance varies and many distinct colours appear (text, badges, cards).
    let channels = info.color_type.samples();
    let luminance: Vec<f64> = bytes
        .chunks(channels)
        .map(|p| {
            f64::from(p[0]) * 0.299
                + f64::from(p[1 % channels]) * 0.587
                + f64::from(p[2 % channels]) * 0.114
        })
        .collect();
    let mean = luminance.iter().sum::<f64>() / luminance.len() as f64;
    let variance =
        luminance.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / luminance.len() as f64;
    let colours: std::collections::BTreeSet<&[u8]> = bytes.chunks(channels).collect();
    assert!(
        variance > 100.0,
        "screenshot looks blank (luminance variance {variance:.1})"
    );
    assert!(
        colours.len() > 50,
        "screenshot looks blank ({} colours)",
        colours.len()
    );
    // The failing badge's red is on the page.
    assert!(
        bytes
            .chunks(channels)
            .any(|p| p[0] > 240 && p[1] < 235 && p[1] > 200 && p[2] < 235),
        "no failing-status colour in the screenshot"
    );
    // Keep the screenshot for humans when asked.
    if let Some(keep) = std::env::var_os("REPORT_SCREENSHOT_OUT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
