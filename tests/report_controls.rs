//! Each control passes on a purpose-built org and fails, on purpose, for exactly the broken
//! resources. Records use the real JumpCloud field names.

mod report_support;

use jumpcloud_operator::controls::{
    CATALOG, ControlResult, ControlSettings, ControlStatus, EvidenceSet, evaluate, evaluate_all,
};
use report_support::*;
use serde_json::json;

fn run(id: &str, evidence: &EvidenceSet, settings: &ControlSettings) -> ControlResult {
    evaluate(id, evidence, settings, now()).unwrap_or_else(|| panic!("unknown control {id}"))
}

fn failing_ids(result: &ControlResult) -> Vec<&str> {
    result.failing.iter().map(|f| f.id.as_str()).collect()
}

#[track_caller]
fn assert_fails(result: &ControlResult, ids: &[&str]) {
    assert_eq!(result.status, ControlStatus::Fail, "{result:#?}");
    assert_eq!(failing_ids(result), ids, "{result:#?}");
}

#[test]
fn catalog_has_stable_unique_ids_and_suggested_references() {
    assert!(CATALOG.len() >= 15);
    let mut ids: Vec<&str> = CATALOG.iter().map(|c| c.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), CATALOG.len());
    for def in CATALOG {
        assert!(
            def.id.starts_with("JC-E") || def.id.starts_with("JC-I"),
            "{}",
            def.id
        );
        assert!(
            !def.soc2.is_empty() && !def.iso27001.is_empty(),
            "{}",
            def.id
        );
        assert!(!def.kinds.is_empty());
    }
    let result = &evaluate_all(&passing_org().build(), &ControlSettings::default(), now())[0];
    assert_eq!(result.references.mapping, "suggested mapping");
}

#[test]
fn every_control_passes_on_the_passing_org() {
    let results = evaluate_all(&passing_org().build(), &ControlSettings::default(), now());
    for result in &results {
        assert_eq!(result.status, ControlStatus::Pass, "{result:#?}");
        assert!(result.evaluated > 0, "{}", result.id);
    }
}

#[test]
fn e1_disk_encryption_fails_unencrypted_devices_and_devices_without_insights() {
    let mut org = passing_org();
    org.record("devices", "d-mac")["fde"]["active"] = json!(false);
    org.record("system_insights_bitlocker_info", "d-win")["protection_status"] = json!(0);
    // Linux: no System Insights rows at all (agent reports nothing either).
    org.kind("system_insights_disk_encryption")
        .retain(|r| r["system_id"] != "d-lin");
    let result = run(
        "JC-E1-DISK-ENCRYPTION",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["d-lin", "d-mac", "d-win"]);
    assert!(result.failing[0].why.contains("no System Insights"));
    assert!(result.failing[1].why.contains("fde.active=false"));
    assert!(result.failing[2].why.contains("BitLocker"));
    assert!(result.notes.iter().any(|n| n.contains("not passing")));
}

#[test]
fn e1_recovery_keys_must_be_escrowed() {
    let mut org = passing_org();
    org.record("devices", "d-win")["fde"]["keyPresent"] = json!(false);
    assert_fails(
        &run(
            "JC-E1-RECOVERY-KEY-ESCROW",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["d-win"],
    );
}

#[test]
fn e2_screen_lock_checks_binding_result_and_timeout() {
    let mut org = passing_org();
    org.record("policy_details", "p-lock-mac")["values"][0]["value"] = json!(1800);
    org.rows("policy_statuses")[1] = status("p-lock-win", "d-win", "failed");
    org.rows("policy_statuses")
        .retain(|(p, _)| p != "p-lock-lin");
    let result = run(
        "JC-E2-SCREEN-LOCK",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["d-lin", "d-mac", "d-win"]);
    assert!(result.failing[1].why.contains("1800 s exceeds 900 s"));
    assert!(result.failing[2].why.contains("latest result failed"));
    // A looser threshold accepts the 30-minute lock.
    let settings = ControlSettings {
        screen_lock_minutes: Some(30),
        ..Default::default()
    };
    assert_fails(
        &run("JC-E2-SCREEN-LOCK", &org.build(), &settings),
        &["d-lin", "d-win"],
    );
}

#[test]
fn e3_firewall_per_os_family() {
    let mut org = passing_org();
    org.record("system_insights_alf", "d-mac")["global_state"] = json!(0);
    org.record("system_insights_windows_security_center", "d-win")["firewall"] = json!("Poor");
    org.rows("policy_statuses")[3] = status("p-ufw", "d-lin", "failed");
    let result = run(
        "JC-E3-HOST-FIREWALL",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["d-lin", "d-mac", "d-win"]);
}

#[test]
fn e4_antivirus_allow_list_state_and_macos_baseline() {
    let mut org = passing_org();
    org.kind("system_insights_windows_security_products")[0]["state"] = json!("Snoozed");
    org.record("system_insights_os_version", "d-mac")["major"] = json!(10);
    let result = run("JC-E4-ANTIVIRUS", &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-mac", "d-win"]);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("1 Linux devices were not evaluated"))
    );
    // A product outside the allow-list fails even when it is on.
    let mut org = passing_org();
    org.kind("system_insights_windows_security_products")[0]["name"] = json!("Totally Legit AV");
    assert_fails(
        &run("JC-E4-ANTIVIRUS", &org.build(), &ControlSettings::default()),
        &["d-win"],
    );
}

#[test]
fn e5_os_baselines_per_family() {
    let mut org = passing_org();
    org.record("system_insights_os_version", "d-win")["version"] = json!("10.0.19045");
    let result = run(
        "JC-E5-OS-SUPPORTED",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["d-win"]);
    assert!(result.failing[0].why.contains("10.0.19045"));
    let settings = ControlSettings {
        // Merged over the defaults: windows keeps its default, darwin is removed on purpose.
        os_baselines: Some(
            [
                ("ubuntu".to_owned(), Some("26.04".to_owned())),
                ("darwin".to_owned(), None),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let result = run("JC-E5-OS-SUPPORTED", &passing_org().build(), &settings);
    assert_fails(&result, &["d-lin"]);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("no baseline is set for darwin"))
    );
}

#[test]
fn e6_devices_need_an_existing_owner() {
    let mut org = passing_org();
    org.record("devices", "d-lin")["primarySystemUser"] = json!(null);
    org.record("devices", "d-mac")["primarySystemUser"] = json!({"id": "deleted-user"});
    assert_fails(
        &run(
            "JC-E6-DEVICE-OWNER",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["d-lin", "d-mac"],
    );
}

#[test]
fn e7_stale_devices_by_last_contact() {
    let mut org = passing_org();
    org.record("devices", "d-lin")["lastContact"] = json!(days_ago(31));
    org.record("devices", "d-mac")["lastContact"] = json!(days_ago(29));
    org.record("devices", "d-win")["lastContact"] = json!(null);
    let result = run(
        "JC-E7-STALE-DEVICES",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["d-lin", "d-win"]);
    let settings = ControlSettings {
        stale_device_days: Some(90),
        ..Default::default()
    };
    assert_fails(
        &run("JC-E7-STALE-DEVICES", &org.build(), &settings),
        &["d-win"],
    );
}

#[test]
fn e8_failed_policies_ignore_deleted_devices() {
    let result = run(
        "JC-E8-POLICY-COMPLIANCE",
        &passing_org().build(),
        &ControlSettings::default(),
    );
    assert_eq!(result.status, ControlStatus::Pass);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("1 policy results of devices that no longer exist"))
    );
    let mut org = passing_org();
    org.rows("policy_statuses")[0] = status("p-lock-mac", "d-mac", "failed");
    let result = run(
        "JC-E8-POLICY-COMPLIANCE",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["d-mac"]);
    assert!(result.failing[0].why.contains("Screen Lock - macOS"));
}

#[test]
fn e9_ssh_root_and_password_login() {
    let mut org = passing_org();
    org.record("devices", "d-lin")["allowSshRootLogin"] = json!(true);
    org.record("devices", "d-mac")["allowSshPasswordAuthentication"] = json!(true);
    // Windows is out of scope even when the flag is set.
    org.record("devices", "d-win")["allowSshRootLogin"] = json!(true);
    assert_fails(
        &run(
            "JC-E9-SSH-HARDENING",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["d-lin", "d-mac"],
    );
}

#[test]
fn e10_mdm_enrollment_and_excluded_device_groups() {
    let mut org = passing_org();
    org.record("devices", "d-win")["mdm"] = json!(null);
    // JumpCloud's documented values for a device no MDM manages never pass.
    org.record("devices", "d-mac")["mdm"]["vendor"] = json!("none");
    assert_fails(
        &run(
            "JC-E10-MDM-ENROLLMENT",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["d-mac", "d-win"],
    );
    org.record("devices", "d-mac")["mdm"]["vendor"] = json!("Unknown");
    assert_fails(
        &run(
            "JC-E10-MDM-ENROLLMENT",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["d-mac", "d-win"],
    );
    org.record("devices", "d-mac")["mdm"]["vendor"] = json!("internal");
    org.record("devices", "d-mac")["mdm"]["enrollmentType"] = json!("unknown");
    assert_fails(
        &run(
            "JC-E10-MDM-ENROLLMENT",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["d-mac", "d-win"],
    );
    org.record("devices", "d-mac")["mdm"]["enrollmentType"] = json!("user");
    assert_fails(
        &run(
            "JC-E10-MDM-ENROLLMENT",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["d-win"],
    );
    let settings = ControlSettings {
        excluded_device_group_ids: vec!["sg-lab".into()],
        ..Default::default()
    };
    let result = run("JC-E10-MDM-ENROLLMENT", &org.build(), &settings);
    assert_eq!(result.status, ControlStatus::Pass);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("1 devices excluded"))
    );
}

#[test]
fn i1_mfa_exclusions_count_only_until_they_end_and_are_reported() {
    let result = run(
        "JC-I1-USER-MFA",
        &passing_org().build(),
        &ControlSettings::default(),
    );
    assert_eq!(result.status, ControlStatus::Pass);
    assert!(
        result.notes.iter().any(|n| n.contains("bob (u2) until")),
        "{:?}",
        result.notes
    );

    let mut org = passing_org();
    org.record("users", "u2")["mfa"]["exclusionUntil"] = json!(days_ago(1));
    org.record("users", "u1")["mfaEnrollment"]["overallStatus"] = json!("PENDING_ACTIVATION");
    org.record("users", "u1")["totp_enabled"] = json!(false);
    let result = run("JC-I1-USER-MFA", &org.build(), &ControlSettings::default());
    assert_fails(&result, &["u1", "u2"]);
    assert!(result.failing[1].why.contains("exclusion ended"));

    let settings = ControlSettings {
        mfa_exclusions: Some(jumpcloud_operator::controls::MfaExclusionHandling::Ignore),
        ..Default::default()
    };
    assert_fails(
        &run("JC-I1-USER-MFA", &passing_org().build(), &settings),
        &["u2"],
    );
    // Excluding Engineering (u1) leaves u2 and suspended u3 out of it.
    let settings = ControlSettings {
        excluded_user_group_ids: vec!["g-eng".into()],
        ..Default::default()
    };
    let mut org = passing_org();
    org.record("users", "u1")["totp_enabled"] = json!(false);
    org.record("users", "u1")["mfaEnrollment"]["overallStatus"] = json!("NOT_ENROLLED");
    assert_eq!(
        run("JC-I1-USER-MFA", &org.build(), &settings).status,
        ControlStatus::Pass
    );
}

#[test]
fn i2_admin_mfa_org_setting_and_each_admin() {
    let mut org = passing_org();
    org.kind("organization")[0]["settings"]["requireAdminMFA"] = json!(false);
    org.record("administrators", "a2")["totpEnrolled"] = json!(false);
    assert_fails(
        &run("JC-I2-ADMIN-MFA", &org.build(), &ControlSettings::default()),
        &["5f0c1a2b3c4d5e6f7a8b9c0d", "a2"],
    );
}

#[test]
fn i3_password_policy_against_thresholds() {
    let mut org = passing_org();
    org.kind("organization")[0]["settings"]["passwordPolicy"]["minLength"] = json!(8);
    org.kind("organization")[0]["settings"]["passwordPolicy"]["needsSymbolic"] = json!(false);
    let result = run(
        "JC-I3-PASSWORD-POLICY",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(
        &result,
        &["passwordPolicy.minLength", "passwordPolicy.needsSymbolic"],
    );
    let settings = ControlSettings {
        password_min_length: Some(8),
        password_require_complexity: Some(false),
        ..Default::default()
    };
    assert_eq!(
        run("JC-I3-PASSWORD-POLICY", &org.build(), &settings).status,
        ControlStatus::Pass
    );
}

#[test]
fn i4_lockout_threshold_and_locked_users_listed() {
    let mut org = passing_org();
    org.kind("organization")[0]["settings"]["passwordPolicy"]["maxLoginAttempts"] = json!(50);
    org.record("users", "u1")["account_locked"] = json!(true);
    let result = run(
        "JC-I4-ACCOUNT-LOCKOUT",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["passwordPolicy.maxLoginAttempts"]);
    assert!(result.notes.iter().any(|n| n.contains("alice (u1)")));
}

#[test]
fn i5_dormant_accounts_need_licensed_and_long_enough_directory_insights() {
    let mut org = passing_org();
    org.kind("directory_insights_events")
        .retain(|e| e["initiated_by"]["id"] != "u2");
    assert_fails(
        &run(
            "JC-I5-DORMANT-ACCOUNTS",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["u2"],
    );

    let mut org = passing_org();
    org.di_not_licensed = true;
    let result = run(
        "JC-I5-DORMANT-ACCOUNTS",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_eq!(result.status, ControlStatus::Error);
    assert!(
        result.summary.contains("not licensed"),
        "{}",
        result.summary
    );

    let mut org = passing_org();
    org.events_days = 30;
    let result = run(
        "JC-I5-DORMANT-ACCOUNTS",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_eq!(result.status, ControlStatus::Error);
    assert!(
        result.summary.contains("cover 30 days"),
        "{}",
        result.summary
    );
    // With a 20-day threshold, bob's sign-in 20 days ago still counts, and 19 days does not.
    let settings = ControlSettings {
        dormant_account_days: Some(19),
        ..Default::default()
    };
    assert_fails(
        &run("JC-I5-DORMANT-ACCOUNTS", &org.build(), &settings),
        &["u2"],
    );
}

#[test]
fn i6_suspended_users_with_bindings() {
    let mut org = passing_org();
    org.rows("suspended_user_systems")
        .push(("u3".into(), json!({"id": "d-lin", "type": "system"})));
    org.rows("suspended_user_applications")
        .push(("u3".into(), json!({"id": "app1", "type": "application"})));
    let result = run(
        "JC-I6-LEAVERS-NO-ACCESS",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["u3"]);
    assert!(result.failing[0].why.contains("1 applications (app1)"));
    assert!(result.failing[0].why.contains("1 devices (d-lin)"));
}

#[test]
fn i7_passwordless_sudo_users_and_groups() {
    let mut org = passing_org();
    org.record("users", "u2")["passwordless_sudo"] = json!(true);
    org.record("users", "u1")["sudo"] = json!(true);
    org.record("user_groups", "g-eng")["attributes"]["sudo"] =
        json!({"enabled": true, "withoutPassword": true});
    let result = run(
        "JC-I7-PRIVILEGED-ACCESS",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["g-eng", "u2"]);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("sudo (with password): alice"))
    );
    assert!(result.notes.iter().any(|n| n.contains("Read Only: 1")));
}

#[test]
fn i9_api_keys_need_expiry_and_rotation() {
    let mut org = passing_org();
    org.record("administrators", "a1")["apiKeyHash"]["expireAt"] = json!(null);
    assert_fails(
        &run(
            "JC-I9-API-KEY-HYGIENE",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["a1"],
    );
    let mut org = passing_org();
    org.record("administrators", "a1")["apiKeyUpdatedAt"] = json!(days_ago(400));
    let result = run(
        "JC-I9-API-KEY-HYGIENE",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["a1"]);
    assert!(result.failing[0].why.contains("400 days ago"));
}

#[test]
fn i10_audit_logging_disabled_fails_and_unlicensed_is_an_error() {
    let mut org = passing_org();
    org.kind("organization")[0]["settings"]["features"]["directoryInsights"]["enabled"] =
        json!(false);
    assert_fails(
        &run(
            "JC-I10-AUDIT-LOGGING",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["5f0c1a2b3c4d5e6f7a8b9c0d"],
    );
    let mut org = passing_org();
    org.di_not_licensed = true;
    let result = run(
        "JC-I10-AUDIT-LOGGING",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_eq!(result.status, ControlStatus::Error);
    assert!(result.summary.contains("not licensed") && result.summary.contains("HTTP 402"));
}

#[test]
fn i11_monitor_only_policies_do_not_enforce() {
    let mut org = passing_org();
    org.record("authn_policies", "cap2")["monitorOnly"] = json!(true);
    let result = run(
        "JC-I11-CONDITIONAL-ACCESS-MFA",
        &org.build(),
        &ControlSettings::default(),
    );
    assert_fails(&result, &["application"]);
    assert!(result.failing[0].why.contains("monitor-only"));
    // Without applications, only the User Portal needs a policy.
    let mut org = passing_org();
    org.record("authn_policies", "cap1")["disabled"] = json!(true);
    org.kind("applications").clear();
    assert_fails(
        &run(
            "JC-I11-CONDITIONAL-ACCESS-MFA",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["user_portal"],
    );
}

#[test]
fn i12_sso_certificates_expiring_or_expired() {
    let mut org = passing_org();
    org.record("applications", "app1")["sso"]["idpCertExpirationAt"] = json!(days_ahead(10));
    assert_fails(
        &run(
            "JC-I12-SSO-CERT-EXPIRY",
            &org.build(),
            &ControlSettings::default(),
        ),
        &["app1"],
    );
    org.record("applications", "app1")["sso"]["idpCertExpirationAt"] = json!(days_ago(1));
    let result = run(
        "JC-I12-SSO-CERT-EXPIRY",
        &org.build(),
        &ControlSettings::default(),
    );
    assert!(result.failing[0].why.contains("expired"));
}

#[test]
fn i13_sudo_on_devices_only_through_allowlisted_groups() {
    const I13: &str = "JC-I13-DEVICE-SUDO";
    let allow_eng = ControlSettings {
        sudo_group_allow_list: Some(vec!["engineering".into()]),
        ..ControlSettings::default()
    };
    // Through an allowlisted group (named case-insensitively): passes, and the notes count it.
    let mut org = passing_org();
    org.kind("user_groups")
        .push(json!({"id": "g-ops", "name": "Ops", "type": "user_group",
        "attributes": {"sudo": {"enabled": true, "withoutPassword": true}}}));
    org.kind("users").push(
        json!({"_id": "u4", "username": "dave", "state": "ACTIVATED",
        "sudo": false, "passwordless_sudo": false}),
    );
    *org.rows("device_access") = vec![
        bound(
            "d-lin",
            "u1",
            vec![group_path("g-eng", "sg-lab", "d-lin", Some(false))],
        ),
        bound("d-mac", "u1", vec![direct_path("d-mac", None)]),
        bound("d-win", "u1", vec![direct_path("d-win", None)]),
    ];
    let result = run(I13, &org.build(), &allow_eng);
    assert_eq!(result.status, ControlStatus::Pass, "{result:#?}");
    assert!(
        result.notes.iter().any(|n| n.contains("1 sudo grants")),
        "{:?}",
        result.notes
    );
    // With the default (empty) allowlist the same grant fails, and the notes say why.
    let result = run(I13, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-lin"]);
    assert!(
        result.failing[0].why.contains(
            "alice: sudo through user group Engineering (g-eng), not on sudoGroupAllowList"
        ),
        "{}",
        result.failing[0].why
    );
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("sudoGroupAllowList is empty"))
    );

    // A direct binding with sudo, a group that is not allowlisted (passwordless, from the
    // group's own attributes), and a user's own flag: each fails its device, named.
    let mut broken = org;
    broken.rows("device_access").extend([
        bound("d-mac", "u4", vec![direct_path("d-mac", Some(false))]),
        {
            let (device, mut row) = bound(
                "d-win",
                "u4",
                vec![group_path("g-ops", "sg-lab", "d-win", None)],
            );
            row["compiledAttributes"] = json!({"sudo": {"enabled": true, "withoutPassword": true}});
            (device, row)
        },
    ]);
    broken.record("users", "u1")["sudo"] = json!(true);
    broken.record("users", "u1")["passwordless_sudo"] = json!(true);
    let result = run(I13, &broken.build(), &allow_eng);
    assert_fails(&result, &["d-lin", "d-mac", "d-win"]);
    let why = |id: &str| {
        result
            .failing
            .iter()
            .find(|f| f.id == id)
            .unwrap()
            .why
            .clone()
    };
    assert!(
        why("d-mac").contains("dave: sudo through a direct user -> device binding"),
        "{}",
        why("d-mac")
    );
    assert!(why("d-win").contains("dave: sudo without a password through user group Ops (g-ops), not on sudoGroupAllowList"), "{}", why("d-win"));
    for device in ["d-lin", "d-mac", "d-win"] {
        assert!(
            why(device).contains("alice: sudo without a password through the user's own sudo flag"),
            "{}",
            why(device)
        );
    }
    // The allowlisted path on d-lin is not what fails it.
    assert!(!why("d-lin").contains("Engineering"), "{}", why("d-lin"));

    // Compiled sudo that no path explains fails; a user missing from the users fails.
    let mut org = passing_org();
    org.rows("device_access")[0].1["compiledAttributes"]["sudo"]["enabled"] = json!(true);
    org.rows("device_access")
        .push(bound("d-win", "u-gone", vec![direct_path("d-win", None)]));
    let result = run(I13, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-mac", "d-win"]);
    assert!(
        result.failing[0]
            .why
            .contains("compiledAttributes grant sudo through no path shown"),
        "{}",
        result.failing[0].why
    );
    assert!(
        result.failing[1]
            .why
            .contains("u-gone is not in the users evidence"),
        "{}",
        result.failing[1].why
    );
}

#[test]
fn i13_reads_absent_compiled_attributes_as_no_compiled_sudo_and_still_judges_the_paths() {
    const I13: &str = "JC-I13-DEVICE-SUDO";
    // Association attributes are optional: a binding made without them grants no sudo, and
    // JumpCloud then sends no `compiledAttributes` (or `null`, or no `sudo` in it).
    for absent in [None, Some(json!(null)), Some(json!({}))] {
        let mut org = passing_org();
        let row = &mut org.rows("device_access")[0].1;
        match &absent {
            None => {
                row.as_object_mut().unwrap().remove("compiledAttributes");
            }
            Some(value) => row["compiledAttributes"] = value.clone(),
        }
        let result = run(I13, &org.build(), &ControlSettings::default());
        assert_eq!(
            result.status,
            ControlStatus::Pass,
            "{absent:?}: {result:#?}"
        );

        // The same row with a path carrying sudo is judged by the path: it fails.
        let mut org = passing_org();
        let row = &mut org.rows("device_access")[0].1;
        row["paths"] = json!([direct_path("d-mac", Some(false))]);
        match &absent {
            None => {
                row.as_object_mut().unwrap().remove("compiledAttributes");
            }
            Some(value) => row["compiledAttributes"] = value.clone(),
        }
        let result = run(I13, &org.build(), &ControlSettings::default());
        assert_fails(&result, &["d-mac"]);
        assert!(
            result.failing[0]
                .why
                .contains("sudo through a direct user -> device binding"),
            "{absent:?}: {}",
            result.failing[0].why
        );
    }
    // Present but unreadable is not an absence: it fails.
    let mut org = passing_org();
    org.rows("device_access")[0].1["compiledAttributes"] = json!("sudo");
    let result = run(I13, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["d-mac"]);
}

#[test]
fn i13_is_in_error_when_device_access_was_skipped_naming_the_setting() {
    use jumpcloud_operator::controls::KindState;
    let mut evidence = passing_org().build();
    let access = evidence.kinds.get_mut("device_access").unwrap();
    access.state = KindState::Skipped;
    access.records.clear();
    access.reason = Some("skipped: deviceAccess is never (3 devices); set spec.evidence.deviceAccess (collect --device-access) to auto or always to collect it".into());
    let result = run("JC-I13-DEVICE-SUDO", &evidence, &ControlSettings::default());
    assert_eq!(result.status, ControlStatus::Error, "{result:#?}");
    assert!(
        result.summary.contains("device_access")
            && result.summary.contains("spec.evidence.deviceAccess"),
        "{}",
        result.summary
    );
}

#[test]
fn disabled_controls_are_not_applicable_and_missing_evidence_is_an_error() {
    let settings = ControlSettings {
        disabled_controls: vec!["JC-E9-SSH-HARDENING".into()],
        ..Default::default()
    };
    let result = run("JC-E9-SSH-HARDENING", &passing_org().build(), &settings);
    assert_eq!(result.status, ControlStatus::NotApplicable);
    let mut evidence = passing_org().build();
    evidence.kinds.remove("devices");
    let result = run(
        "JC-E7-STALE-DEVICES",
        &evidence,
        &ControlSettings::default(),
    );
    assert_eq!(result.status, ControlStatus::Error);
    assert!(result.summary.contains("`devices` is missing"));
}

#[test]
fn same_evidence_in_any_order_gives_byte_identical_json() {
    let settings = ControlSettings::default();
    let first =
        serde_json::to_string(&evaluate_all(&passing_org().build(), &settings, now())).unwrap();
    let mut org = passing_org();
    org.record("devices", "d-mac")["fde"]["active"] = json!(false);
    org.record("devices", "d-win")["fde"]["active"] = json!(false);
    let broken = org.build();
    let a = serde_json::to_string(&evaluate_all(&broken, &settings, now())).unwrap();
    for (_, records) in org.kinds.iter_mut() {
        records.reverse();
    }
    for (_, _, rows) in org.children.iter_mut() {
        rows.reverse();
    }
    let b = serde_json::to_string(&evaluate_all(&org.build(), &settings, now())).unwrap();
    assert_eq!(a, b);
    assert_ne!(first, a);
}

#[test]
fn e8_policy_compliance_held_fails_exactly_the_pair_that_lapsed_too_long() {
    const ID: &str = "JC-E8-POLICY-COMPLIANCE-HELD";
    let mut org = passing_org();
    // UFW on the Linux device failed every day from day 30 to day 21 (pending on day 25;
    // where a weekly success ends at the same instant, the failure counts), then succeeded
    // on day 20: ten days of the 90 not compliant (88.9%). The screen lock on the same device
    // keeps passing.
    let history = org.kind("policy_results_history");
    for days in 21..=30 {
        let state = if days == 25 { "pending" } else { "failed" };
        history.push(policy_result("p-ufw", "d-lin", state, days));
    }
    history.push(policy_result("p-ufw", "d-lin", "success", 20));
    let result = run(ID, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["p-ufw/d-lin"]);
    let why = &result.failing[0].why;
    assert!(why.contains("compliant on 80 of 90 days"), "{why}");
    assert!(why.contains("below 95%"), "{why}");
    assert_eq!(result.evaluated, 4, "{result:#?}");
    assert!(
        result.notes.iter().any(|n| n.contains("no longer exist")),
        "{:?}",
        result.notes
    );
    // A lower threshold lets the lapse pass.
    let settings = ControlSettings {
        policy_compliance_min_percent: Some(85),
        ..ControlSettings::default()
    };
    assert_eq!(run(ID, &org.build(), &settings).status, ControlStatus::Pass);
    // The Windows lapse of two days fails a 99% threshold too.
    let strict = ControlSettings {
        policy_compliance_min_percent: Some(99),
        ..ControlSettings::default()
    };
    assert_fails(
        &run(ID, &org.build(), &strict),
        &["p-lock-win/d-win", "p-ufw/d-lin"],
    );
}

#[test]
fn e8_policy_compliance_held_names_a_binding_without_any_history() {
    const ID: &str = "JC-E8-POLICY-COMPLIANCE-HELD";
    let mut org = passing_org();
    // Bound to the Windows device (its latest status says so), but the history has no result.
    org.rows("policy_statuses")
        .push(status("p-ufw", "d-win", "failed"));
    let result = run(ID, &org.build(), &ControlSettings::default());
    assert_eq!(result.status, ControlStatus::Pass, "{result:#?}");
    assert!(
        result.notes.iter().any(|n| n.contains("p-ufw/d-win")
            && n.contains("without any result in the stored policy results history")),
        "{:?}",
        result.notes
    );
    // Without the extra binding nothing is said of it.
    let result = run(ID, &passing_org().build(), &ControlSettings::default());
    assert!(
        !result
            .notes
            .iter()
            .any(|n| n.contains("without any result")),
        "{:?}",
        result.notes
    );
}

#[test]
fn e8_policy_compliance_held_says_when_the_history_covers_less_than_the_window() {
    const ID: &str = "JC-E8-POLICY-COMPLIANCE-HELD";
    let mut org = passing_org();
    // Collected for 30 days only: 30 of the 90 days evaluated, and said.
    org.policy_history_days = Some(30);
    let result = run(ID, &org.build(), &ControlSettings::default());
    assert_eq!(result.status, ControlStatus::Pass, "{result:#?}");
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("complete only since") && n.contains("31 of the 90 days")),
        "{:?}",
        result.notes
    );
    // No coverage recorded (a snapshot of an older version): an error naming the kind.
    org.policy_history_days = None;
    let result = run(ID, &org.build(), &ControlSettings::default());
    assert_eq!(result.status, ControlStatus::Error, "{result:#?}");
    // Results of an unknown state or without a readable time never count as compliant.
    let mut org = passing_org();
    let history = org.kind("policy_results_history");
    for days in 31..=40 {
        history.push(policy_result("p-lock-mac", "d-mac", "enforced", days));
    }
    let mut unreadable = policy_result("p-lock-lin", "d-lin", "success", 5);
    unreadable["endedAt"] = json!("yesterday");
    history.push(unreadable);
    let result = run(ID, &org.build(), &ControlSettings::default());
    assert_fails(&result, &["p-lock-lin/d-lin", "p-lock-mac/d-mac"]);
    assert!(result.failing[0].why.contains("no readable endedAt"));
}
