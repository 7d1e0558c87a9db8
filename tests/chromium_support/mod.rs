//! Headless Chromium for the HTML tests: find Debian's `chromium`, run it offline and quiet,
//! dump the DOM, take a screenshot and check it is not blank.
//!
//! Needs Debian's `chromium` package. `.ci/run` installs it; locally:
//! `apt-get update && apt-get install -y chromium`. The tests do not skip when chromium is
//! missing: they fail and say so.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn chromium() -> PathBuf {
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
        "chromium is not installed: the HTML tests need Debian's `chromium` package. \
         .ci/run installs it; locally run `apt-get update && apt-get install -y chromium`."
    );
}

/// Runs headless chromium with the flags that keep it offline and quiet, bounded by
/// coreutils `timeout` so a wedged browser fails the test instead of hanging it.
pub fn run_chromium(profile: &Path, extra: &[String], url: &str) -> std::process::Output {
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

/// The DOM chromium built from `url`, serialised.
pub fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let dom = run_chromium(profile.path(), &["--dump-dom".to_owned()], url);
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

/// A screenshot of `url` at `width`x`height`: (width, height, channels, pixels).
pub fn screenshot(url: &str, dir: &Path, width: u32, height: u32) -> (u32, u32, usize, Vec<u8>) {
    let shot = dir.join("screenshot.png");
    let profile = tempfile::tempdir().unwrap();
    run_chromium(
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={width},{height}"),
            "--hide-scrollbars".to_owned(),
        ],
        url,
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    (info.width, info.height, info.color_type.samples(), pixels)
}

/// Not blank: the luminance varies and many distinct colours appear (text, badges, tables).
pub fn assert_not_blank(channels: usize, bytes: &[u8], min_colours: usize) {
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
        colours.len() > min_colours,
        "screenshot looks blank ({} colours)",
        colours.len()
    );
}
