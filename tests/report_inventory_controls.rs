//! The controls on the System Insights inventory tables (local administrators, SIP, Secure
//! Boot, Windows hotfixes, denylisted software) pass on the purpose-built org and fail, on
//! purpose, for exactly the broken devices.

mod report_support;

use jumpcloud_operator::controls::{
    ControlResult, ControlSettings, ControlStatus, EvidenceSet, evaluate,
};
use report_support::*;
use serde_json::json;

const E11: &str = "JC-E11-LOCAL-ADMINS";
const E12: &str = "JC-E12-MACOS-SIP";
const E13: &str = "JC-E13-SECURE-BOOT";
const E14: &str = "JC-E14-WINDOWS-HOTFIXES";
const E15: &str = "JC-E15-SOFTWARE-DENYLIST";

fn run(id: &str, evidence: &EvidenceSet, settings: &ControlSettings) -> ControlResult {
    evaluate(id, evidence, settings, now()).unwrap_or_else(|| panic!("unknown control {id}"))
}

#[track_caller]
fn assert_fails(result: &ControlResult, ids: &[&str]) {
    assert_eq!(result.status, ControlStatus::Fail, "{result:#?}");
    let failing: Vec<&str> = result.failing.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(failing, ids, "{result:#?}");
}

fn why<'a>(result: &'a ControlResult, id: &str) -> &'a str {
    &result.failing.iter().find(|f| f.id == id).unwrap().why
}

#[test]
fn the_inventory_controls_pass_on_the_passing_org() {
    for id in [E11, E12, E13, E14, E15] {
        let result = run(id, &passing_org().build(), &ControlSettings::default());
        assert_eq!(result.status, ControlStatus::Pass, "{result:#?}");
        assert!(result.evaluated > 0, "{id}");
    }
    let e11 = run(E11, &passing_org().build(), &ControlSettings::default());
    assert!(
        e11.notes
            .iter()
            .any(|n| n.contains("JumpCloud-managed") && n.contains("alice on Alice-MacBook")),
        "{:?}",
        e11.notes
    );
}

#[test]
fn e11_fails_unlisted_unmanaged_admins_by_column_group_or_uid_0_and_devices_without_accounts() {
    let mut org = passing_org();
    // macOS: an unmanaged account flagged admin by JumpCloud's column.
    org.kind("system_insights_users")
        .push(local_user("d-mac", "itsupport", 502, true, false));
    // Windows: admin 0, but a member of Administrators.
    org.kind("system_insights_users")
        .push(local_user("d-win", "helpdesk", 1002, false, false));
    org.kind("system_insights_user_groups")
        .push(json!({"system_id": "d-win", "uid": 1002, "gid": 544}));
    // Linux: a second uid-0 account.
    org.kind("system_insights_users")
        .push(local_user("d-lin", "toor", 0, false, false));
    let result = run(E11, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-lin", "d-mac", "d-win"]);
    assert!(why(&result, "d-mac").contains("itsupport"));
    assert!(why(&result, "d-win").contains("helpdesk"));
    assert!(why(&result, "d-lin").contains("toor"));

    // The allowlist is case-insensitive and replaces the default.
    let settings = ControlSettings {
        local_admin_allow_list: Some(vec![
            "ROOT".into(),
            "Administrator".into(),
            "_jumpcloudserviceaccount".into(),
            "ItSupport".into(),
            "helpdesk".into(),
            "toor".into(),
        ]),
        ..ControlSettings::default()
    };
    assert_eq!(
        run(E11, &org.build(), &settings).status,
        ControlStatus::Pass
    );

    // No accounts rows: not confirmed.
    let mut org = passing_org();
    org.kind("system_insights_users")
        .retain(|r| r["system_id"] != "d-win");
    let result = run(E11, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-win"]);
    assert!(why(&result, "d-win").contains("not confirmed"));
}

#[test]
fn e12_fails_macs_with_sip_off_or_without_sip_rows() {
    let mut org = passing_org();
    org.kind("system_insights_sip_config")
        .iter_mut()
        .filter(|r| r["config_flag"] == "sip")
        .for_each(|r| r["enabled"] = json!(0));
    let result = run(E12, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-mac"]);
    assert!(why(&result, "d-mac").contains("off"));
    // Only Macs are counted.
    assert_eq!(result.evaluated, 1);

    org.kind("system_insights_sip_config").clear();
    let result = run(E12, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-mac"]);
    assert!(why(&result, "d-mac").contains("not confirmed"));
}

#[test]
fn e13_fails_secure_boot_off_and_no_data_and_names_legacy_bios_devices() {
    let mut org = passing_org();
    org.record("system_insights_secureboot", "d-win")["secure_boot"] = json!(0);
    // Linux: System Insights reports the device but no secureboot row: legacy BIOS.
    org.kind("system_insights_secureboot")
        .retain(|r| r["system_id"] != "d-lin");
    // Mac: no System Insights data at all.
    org.kind("system_insights_secureboot")
        .retain(|r| r["system_id"] != "d-mac");
    org.kind("system_insights_os_version")
        .retain(|r| r["system_id"] != "d-mac");
    let result = run(E13, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-mac", "d-win"]);
    assert!(why(&result, "d-mac").contains("not confirmed"));
    assert!(why(&result, "d-win").contains("secure_boot=0"));
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("(d-lin)") && n.contains("legacy BIOS")),
        "{:?}",
        result.notes
    );
}

#[test]
fn e14_fails_windows_devices_whose_newest_hotfix_is_old_or_unreadable() {
    let mut org = passing_org();
    *org.kind("system_insights_patches") = vec![
        patch("d-win", "KB5040442", 46),
        patch("d-win", "KB5039212", 80),
    ];
    let result = run(E14, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-win"]);
    assert!(why(&result, "d-win").contains("KB5040442"), "{result:#?}");
    assert!(why(&result, "d-win").contains("46 days"), "{result:#?}");
    let settings = ControlSettings {
        patch_max_age_days: Some(60),
        ..ControlSettings::default()
    };
    assert_eq!(
        run(E14, &org.build(), &settings).status,
        ControlStatus::Pass
    );

    // ISO dates are read; an unreadable one next to an old one does not pass.
    *org.kind("system_insights_patches") =
        vec![json!({"system_id": "d-win", "hotfix_id": "KB1", "installed_on": days_ago(3)})];
    assert_eq!(
        run(E14, &org.build(), &ControlSettings::default()).status,
        ControlStatus::Pass
    );
    *org.kind("system_insights_patches") = vec![
        json!({"system_id": "d-win", "hotfix_id": "KB1", "installed_on": "03.05.2026"}),
        patch("d-win", "KB2", 90),
    ];
    let result = run(E14, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-win"]);
    assert!(why(&result, "d-win").contains("KB2"));
    org.kind("system_insights_patches").clear();
    let result = run(E14, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-win"]);
    assert!(why(&result, "d-win").contains("not confirmed"));
}

#[test]
fn e15_fails_devices_with_denylisted_software_or_no_inventory_and_an_empty_denylist_is_an_error() {
    let mut org = passing_org();
    org.kind("system_insights_programs").push(
        json!({"system_id": "d-win", "name": "\u{b5}Torrent", "version": "3.6.0", "publisher": "BitTorrent Inc."}),
    );
    org.kind("system_insights_apps")
        .push(json!({"system_id": "d-mac", "name": "Transmission.app"}));
    let result = run(E15, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-mac", "d-win"]);
    assert!(why(&result, "d-win").contains("\u{b5}Torrent"));
    assert!(why(&result, "d-mac").contains("Transmission.app"));

    org.kind("system_insights_linux_packages").clear();
    let result = run(E15, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-lin", "d-mac", "d-win"]);
    assert!(why(&result, "d-lin").contains("not confirmed"));

    let settings = ControlSettings {
        software_deny_list: Some(vec!["Slack".into()]),
        ..ControlSettings::default()
    };
    let result = run(E15, &passing_org().build(), &settings);
    assert_fails(&result, &["d-mac"]);
    let settings = ControlSettings {
        software_deny_list: Some(Vec::new()),
        ..ControlSettings::default()
    };
    let result = run(E15, &passing_org().build(), &settings);
    assert_eq!(result.status, ControlStatus::Error, "{result:#?}");
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("softwareDenyList is empty"))
            || format!("{result:?}").contains("softwareDenyList is empty")
    );
}
