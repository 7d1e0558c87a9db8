//! HEADLESS CHROMIUM TEST of the evidence endpoint's index page (issue 14): it renders in a real
//! browser, the DOM text holds each connection with its Ready state, last snapshot, failing
//! controls and links, hostile names stay text, and a screenshot is not blank.

mod chromium_support;

use chromium_support::*;
use jumpcloud_operator::crd::JumpCloudConnection;
use jumpcloud_operator::evidence_server::{IndexEntry, render_index};
use serde_json::json;

fn connection(ns: &str, name: &str, ready: &str, failing: &[&str]) -> JumpCloudConnection {
    serde_json::from_value(json!({
        "apiVersion": "jumpcloud-operator.io/v1alpha1", "kind": "JumpCloudConnection",
        "metadata": {"namespace": ns, "name": name},
        "spec": {"apiKeySecretRef": {"name": "jc"}},
        "status": {
            "conditions": [{"type": "Ready", "status": ready, "reason": if ready == "True" { "Synced" } else { "KeyRevoked" },
                "message": "<b>key</b> & <script>alert(1)</script>", "lastTransitionTime": "2026-12-01T00:00:00Z"}],
            "evidence": {"snapshot": {"id": format!("20261201T000000.000000Z-{name}00000000"), "digest": "sha256:ab",
                "sequence": 7, "time": "2026-12-01T00:00:00Z"}},
            "controls": {"passing": 10, "failing": failing.len(), "notApplicable": 0, "error": 0,
                "failingIds": failing, "errorIds": ["JC-E9-INSIGHTS"]}
        }
    }))
    .unwrap()
}

#[test]
fn the_index_renders_in_headless_chromium() {
    let entries = vec![
        IndexEntry::of(&connection(
            "team-a",
            "acme",
            "True",
            &["JC-E1-DISK-ENCRYPTION", "JC-I2-MFA"],
        )),
        IndexEntry::of(&connection("team-b", "beta", "False", &[])),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.html");
    std::fs::write(&file, render_index(&entries, "alice@example.com")).unwrap();
    let url = format!("file://{}", file.display());

    let dom = dump_dom(&url);
    assert!(dom.contains("JumpCloud evidence"), "{dom}");
    assert!(dom.contains("alice@example.com"));
    for expected in [
        "team-a/acme",
        "team-b/beta",
        "JC-E1-DISK-ENCRYPTION",
        "JC-I2-MFA",
        "JC-E9-INSIGHTS (error)",
        "20261201T000000.000000Z-acme00000000",
        "sequence 7",
        "KeyRevoked",
        "href=\"connections/team-a/acme/report?format=html\"",
        "href=\"connections/team-a/acme/report?format=json\"",
        "href=\"connections/team-b/beta/snapshots\"",
    ] {
        assert!(dom.contains(expected), "{expected} missing from the DOM");
    }
    assert_eq!(dom.matches("class=\"connection\"").count(), 2);
    // The status message stayed text: no element was built from it, no script exists.
    assert!(dom.contains("&lt;b&gt;key&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !dom.contains("<script"),
        "a script element exists in the DOM"
    );
    // No external asset: every link is relative, nothing is loaded from elsewhere.
    assert!(!dom.contains("http://") && !dom.contains("https://") && !dom.contains("<link"));

    let (width, height, channels, pixels) = screenshot(&url, dir.path(), 1280, 800);
    assert!(width >= 1000 && height >= 600, "{width}x{height}");
    assert_not_blank(channels, &pixels, 30);
    // The Ready=False badge's red and the Ready=True badge's green are on the page.
    assert!(
        pixels
            .chunks(channels)
            .any(|p| p[0] > 240 && p[1] < 235 && p[1] > 200 && p[2] < 235),
        "no Ready=False colour in the screenshot"
    );
    assert!(
        pixels
            .chunks(channels)
            .any(|p| p[1] > 230 && p[0] < 225 && p[2] < 230 && p[0] > 200),
        "no Ready=True colour in the screenshot"
    );
    if let Some(keep) = std::env::var_os("INDEX_SCREENSHOT_OUT") {
        std::fs::copy(dir.path().join("screenshot.png"), keep).unwrap();
    }
}
