//! JumpCloud documents these fields as strings or objects and leaves them out when there is no
//! value (the simulator does too); other servers, and older answers, send `null`. Every control
//! reads an absent field and a `null` one alike, and where it decides on the value, neither
//! passes.

mod report_support;

use jumpcloud_operator::controls::{ControlResult, ControlSettings, ControlStatus, evaluate_all};
use report_support::*;
use serde_json::Value;

/// (kind, dotted path): the fields the simulator now leaves out when absent.
const OMITTED: &[(&str, &str)] = &[
    ("users", "alternateEmail"),
    ("users", "recoveryEmail.address"),
    ("users", "manager"),
    ("users", "mfa.exclusionUntil"),
    ("users", "delegatedAuthority"),
    ("devices", "domainInfo"),
    ("devices", "mdm"),
    ("devices", "serviceAccountState"),
    ("devices", "primarySystemUser"),
    ("applications", "sso.spCertificateUpdatedAt"),
    ("policy_statuses", "userObjectId"),
    ("roles", "providerId"),
    ("organization", "accountType"),
];

/// Removes (`None`) or nulls the value at a dotted path; a missing parent is left missing.
fn set(record: &mut Value, path: &str, value: Option<Value>) {
    let (parents, last) = match path.rsplit_once('.') {
        Some((parents, last)) => (Some(parents), last),
        None => (None, path),
    };
    let parent = match parents {
        Some(parents) => parents
            .split('.')
            .try_fold(&mut *record, |value, key| value.get_mut(key)),
        None => Some(record),
    };
    if let Some(object) = parent.and_then(Value::as_object_mut) {
        match value {
            Some(value) => {
                object.insert(last.to_owned(), value);
            }
            None => {
                object.remove(last);
            }
        }
    }
}

fn with(kind: &str, path: &str, value: Option<Value>) -> Org {
    let mut org = passing_org();
    if kind == "policy_statuses" {
        for (_, row) in org.rows(kind).iter_mut() {
            set(row, path, value.clone());
        }
    } else if let Some((_, records)) = org.kinds.iter_mut().find(|(k, _)| k == kind) {
        for record in records {
            set(record, path, value.clone());
        }
    }
    org
}

fn results(org: &Org) -> Vec<ControlResult> {
    evaluate_all(&org.build(), &ControlSettings::default(), now())
}

#[test]
fn every_control_reads_an_absent_field_and_a_null_one_alike() {
    for (kind, path) in OMITTED {
        let absent = results(&with(kind, path, None));
        let null = results(&with(kind, path, Some(Value::Null)));
        for (absent, null) in absent.iter().zip(&null) {
            assert_eq!(absent, null, "{kind}.{path}");
            assert_ne!(
                absent.status,
                ControlStatus::Error,
                "{kind}.{path}: {absent:#?}"
            );
        }
    }
}

#[test]
fn a_value_a_control_decides_on_fails_absent_and_null() {
    for (kind, path, control, resource) in [
        (
            "devices",
            "primarySystemUser",
            "JC-E6-DEVICE-OWNER",
            "d-mac",
        ),
        ("devices", "mdm", "JC-E10-MDM-ENROLLMENT", "d-mac"),
        ("devices", "mdm", "JC-E10-MDM-ENROLLMENT", "d-win"),
        ("users", "mfa.exclusionUntil", "JC-I1-USER-MFA", "u2"),
    ] {
        for value in [None, Some(Value::Null)] {
            let label = format!("{kind}.{path} = {value:?}");
            let result = results(&with(kind, path, value))
                .into_iter()
                .find(|result| result.id == control)
                .expect("a catalog id");
            assert_eq!(result.status, ControlStatus::Fail, "{label}: {result:#?}");
            assert!(
                result.failing.iter().any(|f| f.id == resource),
                "{label}: {resource} must fail: {result:#?}"
            );
        }
    }
}
