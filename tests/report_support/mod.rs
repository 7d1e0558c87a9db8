//! A purpose-built org where every control passes, with the real JumpCloud field names; tests
//! break one thing at a time.
#![allow(dead_code)]

use jumpcloud_operator::controls::{EvidenceSet, HistoryPeriod, SnapshotMeta};
use serde_json::{Value, json};

pub fn now() -> jiff::Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

pub fn days_ago(days: i64) -> String {
    let t = now().as_second() - days * 86_400;
    jiff::Timestamp::from_second(t).unwrap().to_string()
}

pub fn days_ahead(days: i64) -> String {
    days_ago(-days)
}

/// A per-parent kind: (kind, parent field, (parent id, raw record) rows).
pub type ChildKind = (String, String, Vec<(String, Value)>);

/// The raw records of the passing org, by kind; per-parent kinds are (parent, record) pairs.
pub struct Org {
    pub kinds: Vec<(String, Vec<Value>)>,
    pub children: Vec<ChildKind>,
    pub events_days: i64,
    pub di_not_licensed: bool,
    /// Days back from `now` since which the policy results history is complete; `None`: the
    /// snapshot records no coverage.
    pub policy_history_days: Option<i64>,
}

impl Org {
    pub fn kind(&mut self, name: &str) -> &mut Vec<Value> {
        &mut self.kinds.iter_mut().find(|(k, _)| k == name).unwrap().1
    }

    /// The record with `_id` or `id` equal to `id` in a kind.
    pub fn record(&mut self, kind: &str, id: &str) -> &mut Value {
        self.kind(kind)
            .iter_mut()
            .find(|r| r["_id"] == id || r["id"] == id || r["system_id"] == id)
            .unwrap_or_else(|| panic!("{kind} has no record {id}"))
    }

    pub fn rows(&mut self, kind: &str) -> &mut Vec<(String, Value)> {
        &mut self
            .children
            .iter_mut()
            .find(|(k, _, _)| k == kind)
            .unwrap()
            .2
    }

    fn history_coverage(&self) -> std::collections::BTreeMap<String, HistoryPeriod> {
        self.policy_history_days
            .map(|days| {
                let period = HistoryPeriod {
                    complete_since: days_ago(days).parse().unwrap(),
                    complete_until: now(),
                    restarted: None,
                };
                [("policy_results_history".to_owned(), period)].into()
            })
            .unwrap_or_default()
    }

    pub fn build(&self) -> EvidenceSet {
        let mut set = EvidenceSet {
            meta: SnapshotMeta {
                org_id: "5f0c1a2b3c4d5e6f7a8b9c0d".into(),
                org_name: "Acme Corp".into(),
                region: Some("us".into()),
                started_at: Some(now()),
                finished_at: Some(now()),
                events_window_start: Some(days_ago(self.events_days).parse().unwrap()),
                events_window_end: Some(now()),
                history_coverage: self.history_coverage(),
                ..SnapshotMeta::default()
            },
            ..EvidenceSet::default()
        };
        for (kind, records) in &self.kinds {
            set = set.with_kind(kind, records.clone());
        }
        for (kind, field, rows) in &self.children {
            set = set.with_children(
                kind,
                field,
                rows.iter().map(|(p, r)| (p.as_str(), r.clone())).collect(),
            );
        }
        if self.di_not_licensed {
            set = set.with_not_licensed("directory_insights_events");
        }
        set
    }
}

fn device(id: &str, name: &str, family: &str, os: &str, version: &str, major: u64) -> Value {
    json!({
        "_id": id, "displayName": name, "hostname": name.to_lowercase(), "serialNumber": format!("SN-{id}"),
        "os": os, "osFamily": family, "version": version,
        "osVersionDetail": {"osName": os, "major": major, "version": version, "distributionName": if family == "linux" { "Ubuntu" } else { "" }},
        "active": true, "lastContact": days_ago(1), "agentVersion": "1.180.0",
        "fde": {"active": true, "keyPresent": true},
        "allowSshRootLogin": false, "allowSshPasswordAuthentication": false,
        "systemInsights": {"state": "enabled"},
        "mdm": if family == "linux" { Value::Null } else { json!({"vendor": "internal", "dep": false, "userApproved": true, "enrollmentType": "automated device"}) },
        "primarySystemUser": {"id": "u1"},
        "policyStats": {"total": 1, "success": 1, "failed": 0, "pending": 0},
    })
}

/// A System Insights `users` row, with JumpCloud's `admin` and `managed` columns.
pub fn local_user(system: &str, username: &str, uid: u32, admin: bool, managed: bool) -> Value {
    json!({"system_id": system, "username": username, "uid": uid, "gid": 20, "directory": format!("/Users/{username}"),
           "type": "local", "admin": u8::from(admin), "managed": u8::from(managed)})
}

/// A System Insights `patches` row installed `days` before [`now`], dated as Windows gives it.
pub fn patch(system: &str, hotfix: &str, days: i64) -> Value {
    let date = jiff::Timestamp::from_second(now().as_second() - days * 86_400)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    json!({"system_id": system, "hotfix_id": hotfix, "description": "Security Update",
           "installed_by": "NT AUTHORITY\\SYSTEM",
           "installed_on": format!("{}/{}/{}", date.month(), date.day(), date.year())})
}

fn policy(id: &str, name: &str, template: &str, family: &str, timeout: Option<u64>) -> Value {
    let values = match timeout {
        Some(secs) => {
            json!([{"configFieldID": format!("{id}-timeout"), "value": secs, "sensitive": false}])
        }
        None => json!([]),
    };
    let fields = match timeout {
        Some(_) => {
            json!([{"id": format!("{id}-timeout"), "name": "timeout", "label": "Idle time (seconds)", "type": "int"}])
        }
        None => json!([]),
    };
    json!({"id": id, "name": name,
           "template": {"id": format!("t-{template}"), "name": template, "displayName": name, "osMetaFamily": family},
           "values": values, "configFields": fields})
}

/// A policy result of the history, `days` days ago.
pub fn policy_result(policy: &str, system: &str, state: &str, days: i64) -> Value {
    json!({"id": format!("h-{policy}-{system}-{days}"), "policyID": policy, "systemID": system,
           "state": state, "success": state == "success", "exitStatus": if state == "failed" { 1 } else { 0 },
           "detail": "", "stdOut": "", "stdErr": "",
           "startedAt": days_ago(days), "endedAt": days_ago(days)})
}

/// A weekly success of each binding over 120 days; Windows screen lock lapsed two days (day 50
/// to 48), within 95% of 90 days; a device deleted since failing.
fn policy_history() -> Vec<Value> {
    let mut results = Vec::new();
    for (policy, system) in [
        ("p-lock-mac", "d-mac"),
        ("p-lock-win", "d-win"),
        ("p-lock-lin", "d-lin"),
        ("p-ufw", "d-lin"),
    ] {
        for days in (1..=120).rev().step_by(7) {
            results.push(policy_result(policy, system, "success", days));
        }
    }
    results.push(policy_result("p-lock-win", "d-win", "failed", 50));
    results.push(policy_result("p-lock-win", "d-win", "success", 48));
    results.push(policy_result("p-lock-mac", "d-gone", "failed", 10));
    results
}

pub fn status(policy: &str, system: &str, state: &str) -> (String, Value) {
    (
        policy.to_owned(),
        json!({"id": format!("r-{policy}-{system}"), "policyID": policy, "systemID": system,
               "state": state, "success": state == "success", "exitStatus": if state == "failed" { 1 } else { 0 },
               "startedAt": days_ago(1), "endedAt": days_ago(1)}),
    )
}

fn user(id: &str, username: &str, enrolled: bool) -> Value {
    let status = if enrolled { "ENROLLED" } else { "NOT_ENROLLED" };
    json!({
        "_id": id, "username": username, "email": format!("{username}@acme.example"),
        "state": "ACTIVATED", "activated": true, "suspended": false, "created": days_ago(400),
        "account_locked": false, "sudo": false, "passwordless_sudo": false,
        "totp_enabled": enrolled,
        "mfa": {"configured": enrolled, "exclusion": false, "exclusionUntil": null},
        "mfaEnrollment": {"overallStatus": status, "totpStatus": status},
    })
}

fn sign_in(user_id: &str, username: &str, days: i64) -> Value {
    json!({"id": format!("ev-{user_id}-{days}"), "event_type": "user_login_attempt", "service": "directory",
           "timestamp": days_ago(days), "success": true, "mfa": true,
           "initiated_by": {"id": user_id, "type": "user", "username": username}})
}

/// Sudo attributes of a binding (`null`: none).
pub fn sudo_attributes(sudo: Option<bool>) -> Value {
    match sudo {
        Some(without_password) => {
            json!({"sudo": {"enabled": true, "withoutPassword": without_password}})
        }
        None => Value::Null,
    }
}

/// A direct user -> device binding path; `sudo`: `Some(without password)` when it grants sudo.
pub fn direct_path(device: &str, sudo: Option<bool>) -> Value {
    json!([{"attributes": sudo_attributes(sudo), "to": {"id": device, "type": "system"}}])
}

/// A path from a user through a user group bound to a device group.
pub fn group_path(group: &str, device_group: &str, device: &str, sudo: Option<bool>) -> Value {
    json!([
        {"attributes": null, "to": {"id": group, "type": "user_group"}},
        {"attributes": sudo_attributes(sudo), "to": {"id": device_group, "type": "system_group"}},
        {"attributes": null, "to": {"id": device, "type": "system"}},
    ])
}

/// A `device_access` row: a user bound to a device by `paths`, with the sudo they compile to.
pub fn bound(device: &str, user: &str, paths: Vec<Value>) -> (String, Value) {
    let sudo = |path: &Value| {
        path.as_array()
            .unwrap()
            .iter()
            .filter_map(|hop| {
                hop["attributes"]["sudo"]["enabled"]
                    .as_bool()
                    .filter(|e| *e)
                    .map(|_| hop["attributes"]["sudo"]["withoutPassword"] == true)
            })
            .next()
    };
    let granted: Vec<bool> = paths.iter().filter_map(sudo).collect();
    let compiled = json!({"sudo": {"enabled": !granted.is_empty(), "withoutPassword": granted.iter().any(|p| *p)}});
    (
        device.to_owned(),
        json!({"id": user, "type": "user", "compiledAttributes": compiled, "paths": paths}),
    )
}

/// An org where every control passes.
pub fn passing_org() -> Org {
    let mut excluded_user = user("u2", "bob", false);
    excluded_user["mfa"] = json!({"configured": false, "exclusion": true, "exclusionUntil": days_ahead(10), "exclusionDays": 30});
    let mut suspended = user("u3", "carol", false);
    suspended["state"] = json!("SUSPENDED");
    suspended["suspended"] = json!(true);
    Org {
        kinds: vec![
            (
                "organization".into(),
                vec![json!({
                    "_id": "5f0c1a2b3c4d5e6f7a8b9c0d", "displayName": "Acme Corp",
                    "settings": {
                        "requireAdminMFA": true,
                        "features": {"directoryInsights": {"enabled": true}, "systemInsights": {"enabled": true}},
                        "passwordPolicy": {
                            "enableMinLength": true, "minLength": 14,
                            "needsLowercase": true, "needsUppercase": true, "needsNumeric": true, "needsSymbolic": true,
                            "enablePasswordExpirationInDays": true, "passwordExpirationInDays": 90,
                            "enableMaxHistory": true, "maxHistory": 10,
                            "enableMaxLoginAttempts": true, "maxLoginAttempts": 5,
                            "enableLockoutTimeInSeconds": true, "lockoutTimeInSeconds": 900
                        }
                    }
                })],
            ),
            (
                "administrators".into(),
                vec![
                    json!({
                        "_id": "a1", "email": "admin@acme.example", "roleName": "Administrator With Billing",
                        "enableMultiFactor": true, "totpEnrolled": true, "suspended": false,
                        "apiKeyAllowed": true, "apiKeySet": true, "apiKeyUpdatedAt": days_ago(30),
                        "apiKeyHash": {"prefix": "jca_9x", "createdAt": days_ago(30), "expireAt": days_ahead(300)}
                    }),
                    json!({
                        "_id": "a2", "email": "auditor@acme.example", "roleName": "Read Only",
                        "enableMultiFactor": true, "totpEnrolled": true, "suspended": false,
                        "apiKeyAllowed": false, "apiKeySet": false
                    }),
                ],
            ),
            (
                "users".into(),
                vec![user("u1", "alice", true), excluded_user, suspended],
            ),
            (
                "devices".into(),
                vec![
                    device("d-mac", "Alice-MacBook", "darwin", "Mac OS X", "15.1", 15),
                    device(
                        "d-win",
                        "ALICE-WIN",
                        "windows",
                        "Windows 11 Pro",
                        "10.0.26100",
                        10,
                    ),
                    device("d-lin", "alice-ubuntu", "linux", "Ubuntu", "24.04", 24),
                ],
            ),
            (
                "system_insights_disk_encryption".into(),
                vec![
                    json!({"system_id": "d-mac", "name": "/dev/disk3s1", "encrypted": 1, "type": "APFS Encryption", "encryption_status": "encrypted", "collection_time": days_ago(1)}),
                    json!({"system_id": "d-lin", "name": "/dev/nvme0n1p3", "encrypted": 1, "type": "crypto_LUKS", "encryption_status": "encrypted", "collection_time": days_ago(1)}),
                ],
            ),
            (
                "system_insights_bitlocker_info".into(),
                vec![
                    json!({"system_id": "d-win", "drive_letter": "C:", "conversion_status": 1, "percentage_encrypted": 100, "encryption_method": "XTS_AES_128", "protection_status": 1}),
                ],
            ),
            (
                "system_insights_alf".into(),
                vec![
                    json!({"system_id": "d-mac", "global_state": 1, "stealth_enabled": 1, "logging_enabled": 1}),
                ],
            ),
            (
                "system_insights_windows_security_center".into(),
                vec![
                    json!({"system_id": "d-win", "firewall": "Good", "autoupdate": "Good", "antivirus": "Good", "antispyware": "Good"}),
                ],
            ),
            (
                "system_insights_windows_security_products".into(),
                vec![
                    json!({"system_id": "d-win", "type": "Antivirus", "name": "Microsoft Defender Antivirus", "state": "On", "signatures_up_to_date": 1}),
                    json!({"system_id": "d-win", "type": "Firewall", "name": "Windows Firewall", "state": "On", "signatures_up_to_date": 0}),
                ],
            ),
            (
                "system_insights_os_version".into(),
                vec![
                    json!({"system_id": "d-mac", "name": "macOS", "version": "15.1", "major": 15, "minor": 1, "platform": "darwin"}),
                    json!({"system_id": "d-win", "name": "Microsoft Windows 11 Pro", "version": "10.0.26100", "major": 10, "minor": 0, "build": "26100", "platform": "windows"}),
                    json!({"system_id": "d-lin", "name": "Ubuntu", "version": "24.04", "major": 24, "minor": 4, "platform": "ubuntu"}),
                ],
            ),
            (
                "system_insights_users".into(),
                vec![
                    local_user("d-mac", "root", 0, true, false),
                    local_user("d-mac", "_jumpcloudserviceaccount", 499, true, false),
                    local_user("d-mac", "alice", 501, true, true),
                    local_user("d-win", "Administrator", 500, true, false),
                    local_user("d-win", "Guest", 501, false, false),
                    local_user("d-win", "alice", 1001, false, true),
                    local_user("d-lin", "root", 0, true, false),
                    local_user("d-lin", "alice", 1000, false, true),
                ],
            ),
            (
                "system_insights_groups".into(),
                vec![
                    json!({"system_id": "d-mac", "gid": 80, "groupname": "admin", "comment": ""}),
                    json!({"system_id": "d-mac", "gid": 20, "groupname": "staff", "comment": ""}),
                    json!({"system_id": "d-win", "gid": 544, "groupname": "Administrators", "comment": ""}),
                    json!({"system_id": "d-win", "gid": 545, "groupname": "Users", "comment": ""}),
                    json!({"system_id": "d-lin", "gid": 27, "groupname": "sudo", "comment": ""}),
                ],
            ),
            (
                "system_insights_user_groups".into(),
                vec![
                    json!({"system_id": "d-mac", "uid": 501, "gid": 80}),
                    json!({"system_id": "d-mac", "uid": 501, "gid": 20}),
                    json!({"system_id": "d-win", "uid": 500, "gid": 544}),
                    json!({"system_id": "d-win", "uid": 1001, "gid": 545}),
                ],
            ),
            (
                "system_insights_sip_config".into(),
                vec![
                    json!({"system_id": "d-mac", "config_flag": "sip", "enabled": 1, "enabled_nvram": 1}),
                    json!({"system_id": "d-mac", "config_flag": "allow_untrusted_kexts", "enabled": 0, "enabled_nvram": 0}),
                ],
            ),
            (
                "system_insights_secureboot".into(),
                vec![
                    json!({"system_id": "d-mac", "secure_boot": 1, "secure_mode": 2, "description": "full"}),
                    json!({"system_id": "d-win", "secure_boot": 1, "setup_mode": 0}),
                    json!({"system_id": "d-lin", "secure_boot": 1, "setup_mode": 0}),
                ],
            ),
            (
                "system_insights_patches".into(),
                vec![
                    patch("d-win", "KB5048667", 12),
                    patch("d-win", "KB5046617", 40),
                ],
            ),
            (
                "system_insights_programs".into(),
                vec![
                    json!({"system_id": "d-win", "name": "Google Chrome", "version": "131.0.6778.86", "publisher": "Google LLC"}),
                    json!({"system_id": "d-win", "name": "JumpCloud Agent", "version": "1.180.0", "publisher": "JumpCloud Inc."}),
                ],
            ),
            (
                "system_insights_apps".into(),
                vec![
                    json!({"system_id": "d-mac", "name": "Safari.app", "bundle_identifier": "com.apple.Safari", "bundle_short_version": "18.1.1"}),
                    json!({"system_id": "d-mac", "name": "Slack.app", "bundle_identifier": "com.tinyspeck.slackmacgap", "bundle_short_version": "4.41.105"}),
                ],
            ),
            (
                "system_insights_linux_packages".into(),
                vec![
                    json!({"system_id": "d-lin", "name": "openssh-server", "version": "1:9.6p1-3ubuntu13.5", "package_format": "deb"}),
                    json!({"system_id": "d-lin", "name": "jcagent", "version": "1.180.0", "package_format": "deb"}),
                ],
            ),
            (
                "policy_details".into(),
                vec![
                    policy(
                        "p-lock-mac",
                        "Screen Lock - macOS",
                        "screen_lock_darwin",
                        "darwin",
                        Some(600),
                    ),
                    policy(
                        "p-lock-win",
                        "Lock Screen - Windows",
                        "lock_screen_windows",
                        "windows",
                        Some(900),
                    ),
                    policy(
                        "p-lock-lin",
                        "Lock Screen - Linux",
                        "lock_screen_linux",
                        "linux",
                        Some(300),
                    ),
                    policy(
                        "p-ufw",
                        "Uncomplicated Firewall (UFW) - Linux",
                        "ufw_linux",
                        "linux",
                        None,
                    ),
                ],
            ),
            (
                "user_groups".into(),
                vec![
                    json!({"id": "g-eng", "name": "Engineering", "type": "user_group", "attributes": {"sudo": {"enabled": false, "withoutPassword": false}}}),
                ],
            ),
            (
                "applications".into(),
                vec![
                    json!({"_id": "app1", "name": "slack", "displayLabel": "Slack", "active": true, "sso": {"type": "saml", "idpCertExpirationAt": days_ahead(200)}}),
                ],
            ),
            (
                "authn_policies".into(),
                vec![
                    json!({"id": "cap1", "name": "Require MFA for the User Portal", "disabled": false, "monitorOnly": false, "type": "user_portal",
                       "effect": {"action": "allow", "obligations": {"mfa": {"required": true}}}}),
                    json!({"id": "cap2", "name": "Require MFA for applications", "disabled": false, "monitorOnly": false, "type": "application",
                       "effect": {"action": "allow", "obligations": {"mfa": {"required": true}}}}),
                ],
            ),
            (
                "directory_insights_events".into(),
                vec![sign_in("u1", "alice", 3), sign_in("u2", "bob", 20)],
            ),
            ("policy_results_history".into(), policy_history()),
        ],
        children: vec![
            (
                "policy_statuses".into(),
                "policy_id".into(),
                vec![
                    status("p-lock-mac", "d-mac", "success"),
                    status("p-lock-win", "d-win", "success"),
                    status("p-lock-lin", "d-lin", "success"),
                    status("p-ufw", "d-lin", "success"),
                    // A device deleted since: JumpCloud still returns its results.
                    status("p-lock-mac", "d-gone", "failed"),
                ],
            ),
            (
                "device_group_members".into(),
                "group_id".into(),
                vec![(
                    "sg-lab".into(),
                    json!({"id": "d-win", "type": "system", "paths": []}),
                )],
            ),
            (
                "user_group_members".into(),
                "group_id".into(),
                vec![(
                    "g-eng".into(),
                    json!({"id": "u1", "type": "user", "paths": []}),
                )],
            ),
            ("suspended_user_systems".into(), "user_id".into(), vec![]),
            (
                "suspended_user_applications".into(),
                "user_id".into(),
                vec![],
            ),
            ("suspended_user_groups".into(), "user_id".into(), vec![]),
            (
                "device_access".into(),
                "system_id".into(),
                vec![
                    bound("d-mac", "u1", vec![direct_path("d-mac", None)]),
                    bound("d-win", "u1", vec![direct_path("d-win", None)]),
                    bound(
                        "d-lin",
                        "u1",
                        vec![
                            direct_path("d-lin", None),
                            group_path("g-eng", "sg-lab", "d-lin", None),
                        ],
                    ),
                ],
            ),
        ],
        events_days: 120,
        di_not_licensed: false,
        policy_history_days: Some(120),
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The connection the helpers write to in a local store at `dir`.
pub fn store_at(dir: &std::path::Path) -> jumpcloud_operator::store::ConnectionStore {
    jumpcloud_operator::store::EvidenceStore::open(dir.to_str().unwrap())
        .unwrap()
        .connection(&"test/acme".parse().unwrap())
}

/// Commits the org as a snapshot into a local evidence store at `dir`, in the layout `collect`
/// writes (one blob per kind, per-parent lines `{"<field>": id, "record": raw}`).
pub fn write_snapshot(org: &Org, dir: &std::path::Path) -> jumpcloud_operator::store::Snapshot {
    commit_snapshot(org, dir, false)
}

/// Like [`write_snapshot`], with the control results stored with the snapshot as `collect`
/// stores them.
pub fn write_evaluated_snapshot(
    org: &Org,
    dir: &std::path::Path,
) -> jumpcloud_operator::store::Snapshot {
    commit_snapshot(org, dir, true)
}

fn commit_snapshot(
    org: &Org,
    dir: &std::path::Path,
    evaluated: bool,
) -> jumpcloud_operator::store::Snapshot {
    use jumpcloud_operator::store::{KindDraft, SnapshotDraft, StoredControls};
    let store = store_at(dir);
    runtime().block_on(async {
        let mut kinds = Vec::new();
        let mut sources = Vec::new();
        let mut lines: Vec<(String, Vec<Value>, Option<String>, &str)> = Vec::new();
        for (kind, records) in &org.kinds {
            if kind == "directory_insights_events" && org.di_not_licensed {
                lines.push((kind.clone(), vec![], None, "not-licensed"));
            } else {
                lines.push((kind.clone(), records.clone(), None, "complete"));
            }
        }
        for (kind, field, rows) in &org.children {
            let wrapped = rows
                .iter()
                .map(|(parent, record)| json!({field.as_str(): parent, "record": record}))
                .collect();
            lines.push((kind.clone(), wrapped, Some(field.clone()), "complete"));
        }
        for (kind, records, parent, status) in lines {
            let mut text = String::new();
            for line in &records {
                text.push_str(&serde_json::to_string(line).unwrap());
                text.push('\n');
            }
            let blob = store.put_blob(text.into_bytes().into()).await.unwrap();
            sources.push(json!({"kind": kind, "parent_field": parent, "records": records.len()}));
            kinds.push(KindDraft {
                kind,
                status: status.to_owned(),
                blobs: vec![blob],
            });
        }
        let collection = json!({
            "format": 1, "collector_version": "0.1.0",
            "org": {"id": "5f0c1a2b3c4d5e6f7a8b9c0d", "name": "Acme Corp"},
            "region": "us", "key_fingerprint": "ab12cd34",
            "administrator_role": "Read Only", "administrator_key_expires_at": null,
            "started_at": now().to_string(), "finished_at": now().to_string(),
            "events_window": {"start": days_ago(org.events_days), "end": now().to_string()},
            "history_coverage": org.history_coverage().iter().map(|(kind, period)| (kind.clone(), json!({
                "completeSince": period.complete_since, "completeUntil": period.complete_until,
            }))).collect::<serde_json::Map<_, _>>(),
        });
        let controls = if evaluated {
            let settings = jumpcloud_operator::controls::ControlSettings::default();
            let results =
                jumpcloud_operator::controls::evaluate_all(&org.build(), &settings, now());
            let stored = StoredControls {
                evaluated_at: now(),
                summary: jumpcloud_operator::controls::ResultsSummary::of(&results),
                settings_sources: Default::default(),
                settings,
                results,
            };
            let bytes = serde_json::to_vec(&stored).unwrap();
            Some(store.put_blob(bytes.into()).await.unwrap())
        } else {
            None
        };
        let draft = SnapshotDraft {
            kinds,
            collection,
            sources: Value::Array(sources),
            controls,
            ..SnapshotDraft::default()
        };
        store.commit(draft, None, now()).await.unwrap()
    })
}

/// Loads the latest snapshot of the store at `dir`.
pub fn load_latest(
    dir: &std::path::Path,
    records: jumpcloud_operator::store::Records,
) -> EvidenceSet {
    let store = store_at(dir);
    runtime().block_on(async {
        let latest = store.latest().await.unwrap().unwrap();
        jumpcloud_operator::store::load_evidence(&store, &latest, records)
            .await
            .unwrap()
    })
}
