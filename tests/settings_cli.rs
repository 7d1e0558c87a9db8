//! `--settings FILE` refuses what the schema refuses, with the field, the value and the fix in
//! the message the user sees.

use std::path::PathBuf;
use std::process::Command;

fn binary() -> PathBuf {
    // JUMPCLOUD_OPERATOR_BIN: see tests/operator_support (shared target directories).
    std::env::var_os("JUMPCLOUD_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_jumpcloud-operator").into())
}

/// Runs `report` with the settings file; settings are read before the store is opened.
fn refused(file_name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, text).unwrap();
    let output = Command::new(binary())
        .args(["report", "--store"])
        .arg(dir.path().join("no-store"))
        .arg("--settings")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success(), "accepted {text}");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn settings_errors_name_the_field_the_value_and_the_fix() {
    let cases = [
        (
            "minPasswordLength: 14\n",
            "unknown setting `minPasswordLength`; did you mean `passwordMinLength`?",
        ),
        (
            "staleDeviceDays: -3\n",
            "staleDeviceDays: -3 is not allowed: expected an integer from 1 to 3650",
        ),
        (
            "osBaselines:\n  darwin: latest\n",
            "osBaselines.darwin: \"latest\" is not a version: expected dotted numbers",
        ),
        (
            "disabledControls: [JC-E99-NOPE]\n",
            "disabledControls[0]: \"JC-E99-NOPE\" is not a control id",
        ),
        (
            "screenLockMinutes: many\n",
            "screenLockMinutes: \"many\" is not allowed: expected an integer from 1 to 1440",
        ),
    ];
    for (text, expected) in cases {
        let stderr = refused("controls.yaml", text);
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert!(stderr.contains("controls.yaml"), "{stderr}");
    }
    let stderr = refused("controls.json", r#"{"maxPasswordExpiryDays": 30}"#);
    assert!(
        stderr.contains("did you mean `passwordMaxExpiryDays`"),
        "{stderr}"
    );
}
