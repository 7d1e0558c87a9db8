//! Fail closed, control by control: in the org where every control passes, each field a
//! control decides on is made missing, `null`, empty and of an unexpected type, and the
//! resource it belongs to must then fail, be listed as not evaluated (named in a note), or the
//! control must be in error. It never passes.
//!
//! Every field the controls read ([`fields_read`]) is either decided on in [`CASES`] or named in
//! [`NOT_DECISIVE`] with the reason, so a field added to the projection is covered here.

mod report_support;

use jumpcloud_operator::controls::projection::fields_read;
use jumpcloud_operator::controls::{
    CATALOG, ControlResult, ControlSettings, ControlStatus, evaluate,
};
use report_support::*;
use serde_json::{Value, json};

/// Which record a case mutates: in a kind (or the policy results), the record whose `key`
/// equals `value`.
struct Case {
    control: &'static str,
    kind: &'static str,
    key: &'static str,
    value: &'static str,
    /// A second condition on the record, when `key` is not unique (`field`, `value`).
    also: Option<(&'static str, &'static str)>,
    /// Paths mutated together: the control reads them as alternatives.
    paths: &'static [&'static str],
    /// Kinds emptied first, because they are another source of the same value.
    drop: &'static [&'static str],
    /// The resource that must not pass; `None`: the control as a whole must not pass.
    resource: Option<&'static str>,
    /// The API leaves the field out when the setting is off (a user group without sudo
    /// attributes grants no sudo): only the empty and mistyped values are tried.
    absent_means_off: bool,
}

const fn case(
    control: &'static str,
    kind: &'static str,
    (key, value): (&'static str, &'static str),
    paths: &'static [&'static str],
    resource: Option<&'static str>,
) -> Case {
    Case {
        control,
        kind,
        key,
        value,
        also: None,
        paths,
        drop: &[],
        resource,
        absent_means_off: false,
    }
}

const E1: &str = "JC-E1-DISK-ENCRYPTION";
const E1K: &str = "JC-E1-RECOVERY-KEY-ESCROW";
const E2: &str = "JC-E2-SCREEN-LOCK";
const E3: &str = "JC-E3-HOST-FIREWALL";
const E4: &str = "JC-E4-ANTIVIRUS";
const E5: &str = "JC-E5-OS-SUPPORTED";
const E6: &str = "JC-E6-DEVICE-OWNER";
const E7: &str = "JC-E7-STALE-DEVICES";
const E8: &str = "JC-E8-POLICY-COMPLIANCE";
const E8H: &str = "JC-E8-POLICY-COMPLIANCE-HELD";
const HISTORY: &str = "policy_results_history";
const E9: &str = "JC-E9-SSH-HARDENING";
const E10: &str = "JC-E10-MDM-ENROLLMENT";
const E11: &str = "JC-E11-LOCAL-ADMINS";
const E12: &str = "JC-E12-MACOS-SIP";
const E13: &str = "JC-E13-SECURE-BOOT";
const E14: &str = "JC-E14-WINDOWS-HOTFIXES";
const E15: &str = "JC-E15-SOFTWARE-DENYLIST";
const I1: &str = "JC-I1-USER-MFA";
const I2: &str = "JC-I2-ADMIN-MFA";
const I3: &str = "JC-I3-PASSWORD-POLICY";
const I4: &str = "JC-I4-ACCOUNT-LOCKOUT";
const I5: &str = "JC-I5-DORMANT-ACCOUNTS";
const I6: &str = "JC-I6-LEAVERS-NO-ACCESS";
const I7: &str = "JC-I7-PRIVILEGED-ACCESS";
const I9: &str = "JC-I9-API-KEY-HYGIENE";
const I10: &str = "JC-I10-AUDIT-LOGGING";
const I11: &str = "JC-I11-CONDITIONAL-ACCESS-MFA";
const I12: &str = "JC-I12-SSO-CERT-EXPIRY";
const I13: &str = "JC-I13-DEVICE-SUDO";

const D: &str = "devices";
const ORG: &str = "organization";

/// A case on the rows of one device whose field `also` picks one row.
const fn row_case(
    control: &'static str,
    kind: &'static str,
    device: &'static str,
    also: (&'static str, &'static str),
    paths: &'static [&'static str],
) -> Case {
    Case {
        also: Some(also),
        ..case(control, kind, ("system_id", device), paths, Some(device))
    }
}

static CASES: &[Case] = &[
    row_case(
        E11,
        "system_insights_users",
        "d-mac",
        ("username", "alice"),
        &["admin"],
    ),
    row_case(
        E11,
        "system_insights_users",
        "d-mac",
        ("username", "alice"),
        &["managed"],
    ),
    row_case(
        E11,
        "system_insights_users",
        "d-win",
        ("username", "Administrator"),
        &["uid"],
    ),
    row_case(
        E11,
        "system_insights_groups",
        "d-win",
        ("groupname", "Administrators"),
        &["gid"],
    ),
    case(
        E11,
        "system_insights_groups",
        ("system_id", "d-lin"),
        &["groupname"],
        Some("d-lin"),
    ),
    case(
        E11,
        "system_insights_user_groups",
        ("system_id", "d-win"),
        &["uid"],
        Some("d-win"),
    ),
    row_case(
        E12,
        "system_insights_sip_config",
        "d-mac",
        ("config_flag", "sip"),
        &["enabled"],
    ),
    row_case(
        E12,
        "system_insights_sip_config",
        "d-mac",
        ("config_flag", "sip"),
        &["config_flag"],
    ),
    case(
        E13,
        "system_insights_secureboot",
        ("system_id", "d-win"),
        &["secure_boot"],
        Some("d-win"),
    ),
    case(
        E14,
        "system_insights_patches",
        ("system_id", "d-win"),
        &["installed_on"],
        Some("d-win"),
    ),
    case(
        E15,
        "system_insights_programs",
        ("system_id", "d-win"),
        &["name"],
        Some("d-win"),
    ),
    case(E1, D, ("_id", "d-mac"), &["fde.active"], Some("d-mac")),
    case(E1, D, ("_id", "d-mac"), &["fde"], Some("d-mac")),
    case(E1, D, ("_id", "d-win"), &["fde.active"], Some("d-win")),
    case(
        E1,
        "system_insights_disk_encryption",
        ("system_id", "d-mac"),
        &["encrypted"],
        Some("d-mac"),
    ),
    case(
        E1,
        "system_insights_disk_encryption",
        ("system_id", "d-lin"),
        &["encrypted"],
        Some("d-lin"),
    ),
    case(
        E1,
        "system_insights_disk_encryption",
        ("system_id", "d-lin"),
        &["system_id"],
        Some("d-lin"),
    ),
    case(
        E1,
        "system_insights_bitlocker_info",
        ("system_id", "d-win"),
        &["protection_status"],
        Some("d-win"),
    ),
    case(E1K, D, ("_id", "d-mac"), &["fde.keyPresent"], Some("d-mac")),
    case(E1K, D, ("_id", "d-win"), &["fde.keyPresent"], Some("d-win")),
    case(E1K, D, ("_id", "d-win"), &["fde.active"], Some("d-win")),
    case(
        E2,
        "policy_details",
        ("id", "p-lock-mac"),
        &["values"],
        Some("d-mac"),
    ),
    case(
        E2,
        "policy_details",
        ("id", "p-lock-mac"),
        &["template"],
        Some("d-mac"),
    ),
    case(
        E2,
        "policy_statuses",
        ("policyID", "p-lock-win"),
        &["state", "success"],
        Some("d-win"),
    ),
    case(
        E2,
        "policy_statuses",
        ("policyID", "p-lock-win"),
        &["systemID"],
        Some("d-win"),
    ),
    case(E2, D, ("_id", "d-win"), &["osFamily", "os"], Some("d-win")),
    case(
        E3,
        "system_insights_alf",
        ("system_id", "d-mac"),
        &["global_state"],
        Some("d-mac"),
    ),
    case(
        E3,
        "system_insights_windows_security_center",
        ("system_id", "d-win"),
        &["firewall"],
        Some("d-win"),
    ),
    case(
        E3,
        "policy_statuses",
        ("policyID", "p-ufw"),
        &["state", "success"],
        Some("d-lin"),
    ),
    case(E3, D, ("_id", "d-mac"), &["osFamily", "os"], Some("d-mac")),
    Case {
        also: Some(("type", "Antivirus")),
        ..case(
            E4,
            "system_insights_windows_security_products",
            ("system_id", "d-win"),
            &["name"],
            Some("d-win"),
        )
    },
    Case {
        also: Some(("type", "Antivirus")),
        ..case(
            E4,
            "system_insights_windows_security_products",
            ("system_id", "d-win"),
            &["state"],
            Some("d-win"),
        )
    },
    Case {
        also: Some(("type", "Antivirus")),
        ..case(
            E4,
            "system_insights_windows_security_products",
            ("system_id", "d-win"),
            &["signatures_up_to_date"],
            Some("d-win"),
        )
    },
    Case {
        also: Some(("type", "Antivirus")),
        ..case(
            E4,
            "system_insights_windows_security_products",
            ("system_id", "d-win"),
            &["type"],
            Some("d-win"),
        )
    },
    Case {
        drop: &["system_insights_os_version"],
        ..case(
            E4,
            D,
            ("_id", "d-mac"),
            &["version", "osVersionDetail"],
            Some("d-mac"),
        )
    },
    Case {
        drop: &["system_insights_os_version"],
        ..case(
            E5,
            D,
            ("_id", "d-mac"),
            &["version", "osVersionDetail"],
            Some("d-mac"),
        )
    },
    Case {
        drop: &["system_insights_os_version"],
        ..case(
            E5,
            D,
            ("_id", "d-win"),
            &["version", "osVersionDetail"],
            Some("d-win"),
        )
    },
    Case {
        drop: &["system_insights_os_version"],
        ..case(
            E5,
            D,
            ("_id", "d-lin"),
            &["version", "osVersionDetail"],
            Some("d-lin"),
        )
    },
    case(
        E6,
        D,
        ("_id", "d-mac"),
        &["primarySystemUser"],
        Some("d-mac"),
    ),
    case(
        E6,
        D,
        ("_id", "d-mac"),
        &["primarySystemUser.id"],
        Some("d-mac"),
    ),
    case(E7, D, ("_id", "d-lin"), &["lastContact"], Some("d-lin")),
    case(
        E8,
        "policy_statuses",
        ("policyID", "p-lock-mac"),
        &["state", "success"],
        Some("d-mac"),
    ),
    // A weekly result of the history: its day and the six that carry it are not compliant.
    case(
        E8H,
        HISTORY,
        ("id", "h-p-ufw-d-lin-50"),
        &["state", "success"],
        Some("p-ufw/d-lin"),
    ),
    case(
        E8H,
        HISTORY,
        ("id", "h-p-ufw-d-lin-50"),
        &["endedAt"],
        Some("p-ufw/d-lin"),
    ),
    // A result that names no policy or no device cannot be attributed: the control is in error.
    case(
        E8H,
        HISTORY,
        ("id", "h-p-ufw-d-lin-50"),
        &["policyID"],
        None,
    ),
    case(
        E8H,
        HISTORY,
        ("id", "h-p-ufw-d-lin-50"),
        &["systemID"],
        None,
    ),
    case(
        E9,
        D,
        ("_id", "d-mac"),
        &["allowSshRootLogin"],
        Some("d-mac"),
    ),
    case(
        E9,
        D,
        ("_id", "d-lin"),
        &["allowSshPasswordAuthentication"],
        Some("d-lin"),
    ),
    case(E9, D, ("_id", "d-lin"), &["osFamily", "os"], Some("d-lin")),
    case(E10, D, ("_id", "d-mac"), &["mdm"], Some("d-mac")),
    case(E10, D, ("_id", "d-mac"), &["mdm.vendor"], Some("d-mac")),
    case(
        E10,
        D,
        ("_id", "d-win"),
        &["mdm.enrollmentType"],
        Some("d-win"),
    ),
    case(E10, D, ("_id", "d-win"), &["osFamily", "os"], Some("d-win")),
    case(
        I1,
        "users",
        ("_id", "u1"),
        &["mfaEnrollment", "totp_enabled"],
        Some("u1"),
    ),
    case(
        I1,
        "users",
        ("_id", "u1"),
        &["mfaEnrollment.overallStatus", "totp_enabled"],
        Some("u1"),
    ),
    case(
        I1,
        "users",
        ("_id", "u2"),
        &["mfa.exclusionUntil"],
        Some("u2"),
    ),
    case(I1, "users", ("_id", "u2"), &["mfa.exclusion"], Some("u2")),
    case(
        I2,
        ORG,
        ("displayName", "Acme Corp"),
        &["settings.requireAdminMFA"],
        None,
    ),
    case(
        I2,
        "administrators",
        ("_id", "a1"),
        &["enableMultiFactor"],
        Some("a1"),
    ),
    case(
        I2,
        "administrators",
        ("_id", "a1"),
        &["totpEnrolled"],
        Some("a1"),
    ),
    case(
        I3,
        ORG,
        ("displayName", "Acme Corp"),
        &["settings.passwordPolicy"],
        None,
    ),
    case(I3, ORG, ("displayName", "Acme Corp"), &["settings"], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_MIN], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_MIN_ON], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_LOWER], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_UPPER], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_NUMERIC], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_SYMBOL], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_EXPIRY], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_EXPIRY_ON], None),
    case(I3, ORG, ("displayName", "Acme Corp"), &[PP_HISTORY], None),
    case(
        I3,
        ORG,
        ("displayName", "Acme Corp"),
        &[PP_HISTORY_ON],
        None,
    ),
    case(I4, ORG, ("displayName", "Acme Corp"), &[PP_ATTEMPTS], None),
    case(
        I4,
        ORG,
        ("displayName", "Acme Corp"),
        &[PP_ATTEMPTS_ON],
        None,
    ),
    case(
        I5,
        "directory_insights_events",
        ("id", "ev-u1-3"),
        &["success"],
        Some("u1"),
    ),
    case(
        I5,
        "directory_insights_events",
        ("id", "ev-u1-3"),
        &["timestamp"],
        Some("u1"),
    ),
    case(
        I5,
        "directory_insights_events",
        ("id", "ev-u1-3"),
        &["event_type"],
        Some("u1"),
    ),
    case(
        I5,
        "directory_insights_events",
        ("id", "ev-u1-3"),
        &["initiated_by"],
        Some("u1"),
    ),
    case(
        I7,
        "users",
        ("_id", "u1"),
        &["passwordless_sudo"],
        Some("u1"),
    ),
    Case {
        absent_means_off: true,
        ..case(
            I7,
            "user_groups",
            ("id", "g-eng"),
            &["attributes.sudo.enabled"],
            Some("g-eng"),
        )
    },
    Case {
        absent_means_off: true,
        ..case(
            I7,
            "user_groups",
            ("id", "g-eng"),
            &["attributes.sudo.withoutPassword"],
            Some("g-eng"),
        )
    },
    case(
        I9,
        "administrators",
        ("_id", "a1"),
        &["apiKeyHash.expireAt"],
        Some("a1"),
    ),
    case(
        I9,
        "administrators",
        ("_id", "a1"),
        &["apiKeyUpdatedAt", "apiKeyHash.createdAt"],
        Some("a1"),
    ),
    case(
        I9,
        "administrators",
        ("_id", "a1"),
        &["apiKeySet"],
        Some("a1"),
    ),
    case(
        I10,
        ORG,
        ("displayName", "Acme Corp"),
        &["settings.features.directoryInsights.enabled"],
        None,
    ),
    case(I11, "authn_policies", ("id", "cap1"), &["disabled"], None),
    case(
        I11,
        "authn_policies",
        ("id", "cap1"),
        &["monitorOnly"],
        None,
    ),
    case(I11, "authn_policies", ("id", "cap1"), &["type"], None),
    case(
        I11,
        "authn_policies",
        ("id", "cap1"),
        &["effect.action"],
        None,
    ),
    case(
        I11,
        "authn_policies",
        ("id", "cap1"),
        &["effect.obligations.mfa.required"],
        None,
    ),
    case(
        I12,
        "applications",
        ("_id", "app1"),
        &["sso.idpCertExpirationAt"],
        Some("app1"),
    ),
    case(I12, "applications", ("_id", "app1"), &["sso"], Some("app1")),
    case(
        I13,
        "device_access",
        ("id", "u1"),
        &["compiledAttributes.sudo.enabled"],
        Some("d-mac"),
    ),
    case(
        I13,
        "device_access",
        ("id", "u1"),
        &["paths"],
        Some("d-mac"),
    ),
    case(I13, "users", ("_id", "u1"), &["sudo"], Some("d-mac")),
];

const PP_MIN: &str = "settings.passwordPolicy.minLength";
const PP_MIN_ON: &str = "settings.passwordPolicy.enableMinLength";
const PP_LOWER: &str = "settings.passwordPolicy.needsLowercase";
const PP_UPPER: &str = "settings.passwordPolicy.needsUppercase";
const PP_NUMERIC: &str = "settings.passwordPolicy.needsNumeric";
const PP_SYMBOL: &str = "settings.passwordPolicy.needsSymbolic";
const PP_EXPIRY: &str = "settings.passwordPolicy.passwordExpirationInDays";
const PP_EXPIRY_ON: &str = "settings.passwordPolicy.enablePasswordExpirationInDays";
const PP_HISTORY: &str = "settings.passwordPolicy.maxHistory";
const PP_HISTORY_ON: &str = "settings.passwordPolicy.enableMaxHistory";
const PP_ATTEMPTS: &str = "settings.passwordPolicy.maxLoginAttempts";
const PP_ATTEMPTS_ON: &str = "settings.passwordPolicy.enableMaxLoginAttempts";

/// Fields the controls read that decide no verdict on their own, and why.
const NOT_DECISIVE: &[(&str, &str)] = &[
    ("_id", "an id: joins records, names the resource"),
    ("id", "an id: joins records, names the resource"),
    ("account_locked", "I4 lists locked users in a note"),
    (
        "activated",
        "scope: an unreadable value keeps the user in scope",
    ),
    (
        "active",
        "scope: an application is in scope unless active=false",
    ),
    (
        "configFieldID",
        "joins a policy value to its field (inside values)",
    ),
    (
        "configFieldName",
        "joins a policy value to its field (inside values)",
    ),
    (
        "configFields",
        "names a policy's fields; the value itself is in values",
    ),
    ("created", "scope: a user of unknown age is evaluated by I5"),
    ("displayLabel", "a display name"),
    ("displayName", "a display name"),
    (
        "drive_letter",
        "picks the system drive; without it every BitLocker row is considered",
    ),
    ("email", "a display name"),
    ("hostname", "a display name"),
    (
        "major",
        "one of several sources of the OS version (E4, E5 cases drop all of them)",
    ),
    (
        "name",
        "a display name, and for E4 the product name (a case above)",
    ),
    ("hotfix_id", "names the newest hotfix in E14's reason"),
    ("roleName", "I7 counts administrators per role in a note"),
    (
        "state",
        "users: scope (unknown states are evaluated); results: a case above",
    ),
    (
        "sudo",
        "I7 lists users with sudo in a note; an I13 case above",
    ),
    (
        "to",
        "inside I13's paths: names the group a grant goes through (the paths case above)",
    ),
    (
        "withoutPassword",
        "I13 reads it only where sudo is enabled, which fails anyway; it words the reason",
    ),
    (
        "suspended",
        "scope: an unreadable value keeps the user or administrator in scope",
    ),
    (
        "system_id",
        "joins a System Insights row to its device (an E1 case above)",
    ),
    (
        "systemInsights",
        "shown in the reason a device has no System Insights data",
    ),
    ("username", "joins sign-in events to users; a display name"),
    (
        "value",
        "a policy's configured value, inside values (an E2 case above)",
    ),
];

fn mutations() -> [(&'static str, Option<Value>); 4] {
    [
        ("missing", None),
        ("null", Some(Value::Null)),
        ("empty", Some(json!(""))),
        (
            "of an unexpected type",
            Some(json!({"unexpected": ["type"]})),
        ),
    ]
}

/// Sets (or, with `None`, removes) the value at a dotted path.
fn set_path(record: &mut Value, path: &str, value: Option<&Value>) {
    let (parents, last) = path.rsplit_once('.').map_or(("", path), |(p, l)| (p, l));
    let mut target = record;
    for key in parents.split('.').filter(|k| !k.is_empty()) {
        match target.get_mut(key) {
            Some(next) if next.is_object() => target = next,
            _ => return,
        }
    }
    if let Some(object) = target.as_object_mut() {
        match value {
            Some(value) => {
                object.insert(last.to_owned(), value.clone());
            }
            None => {
                object.remove(last);
            }
        }
    }
}

fn matches(case: &Case, record: &Value) -> bool {
    record[case.key] == case.value && case.also.is_none_or(|(k, v)| record[k] == v)
}

fn mutate(case: &Case, value: Option<&Value>) -> Org {
    let mut org = passing_org();
    for kind in case.drop {
        org.kind(kind).clear();
    }
    let mut found = 0;
    if case.kind == "policy_statuses" || case.kind == "device_access" {
        for (_, record) in org.rows(case.kind).iter_mut() {
            if matches(case, record) {
                found += 1;
                for path in case.paths {
                    set_path(record, path, value);
                }
            }
        }
    } else {
        for record in org.kind(case.kind).iter_mut() {
            if matches(case, record) {
                found += 1;
                for path in case.paths {
                    set_path(record, path, value);
                }
            }
        }
    }
    assert!(
        found > 0,
        "{} {}: no {} record with {}={}",
        case.control,
        case.kind,
        case.kind,
        case.key,
        case.value
    );
    org
}

/// Whether `result` lets `resource` pass: not failing, not named in a note, no error.
fn passes(result: &ControlResult, resource: Option<&str>) -> bool {
    match resource {
        _ if result.status == ControlStatus::Error => false,
        None => result.status == ControlStatus::Pass,
        Some(id) => {
            !result.failing.iter().any(|f| f.id == id)
                && !result.notes.iter().any(|n| n.contains(&format!("({id})")))
        }
    }
}

#[test]
fn no_control_passes_a_resource_whose_evidence_is_missing_null_empty_or_mistyped() {
    let mut passed = Vec::new();
    for case in CASES {
        let baseline = evaluate(
            case.control,
            &passing_org().build(),
            &ControlSettings::default(),
            now(),
        )
        .expect("a catalog id");
        assert_eq!(baseline.status, ControlStatus::Pass, "{baseline:#?}");
        for (label, value) in mutations() {
            if case.absent_means_off && value.as_ref().is_none_or(Value::is_null) {
                continue;
            }
            let org = mutate(case, value.as_ref());
            let result = evaluate(
                case.control,
                &org.build(),
                &ControlSettings::default(),
                now(),
            )
            .expect("a catalog id");
            if passes(&result, case.resource) {
                passed.push(format!(
                    "{} passes {} with {}.{} {label}: {:?} / {:?}",
                    case.control,
                    case.resource.unwrap_or("the org"),
                    case.kind,
                    case.paths.join("+"),
                    result.summary,
                    result.notes
                ));
            }
        }
    }
    assert!(
        passed.is_empty(),
        "controls that pass without the evidence:\n{}",
        passed.join("\n")
    );
}

#[test]
fn every_control_and_every_field_read_is_covered() {
    for def in CATALOG {
        // I6 decides on whether binding rows exist, not on a field: an incomplete binding kind
        // puts it in error (report_controls covers that).
        assert!(
            def.id == I6 || CASES.iter().any(|c| c.control == def.id),
            "{} has no fail-closed case",
            def.id
        );
    }
    let fields = fields_read("devices").expect("devices are projected");
    let decided = |field: &str| {
        CASES.iter().any(|c| {
            c.paths.iter().any(|p| {
                p.split('.').next() == Some(field) || p.split('.').any(|segment| segment == field)
            }) || c.key == field
        })
    };
    let uncovered: Vec<&&str> = fields
        .iter()
        .filter(|f| !decided(f) && !NOT_DECISIVE.iter().any(|(n, _)| n == *f))
        .collect();
    assert!(
        uncovered.is_empty(),
        "fields read by a control with no fail-closed case and no reason in NOT_DECISIVE: {uncovered:?}"
    );
}
