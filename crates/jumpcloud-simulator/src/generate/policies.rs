//! Device policies and their latest result per system (including results of devices deleted
//! since), counted per system for the systems' `policyStats`.

use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use serde_json::{Value, json};

use super::draw::{days, fmt_ts, pick, random_between};
use super::systems::{Os, SystemPlan, is_stale};
use super::users::UserPlan;
use super::{Draws, Rec, to_rec};

/// A policy status ("latest result per system").
pub(crate) struct PolicyData {
    pub id: String,
    pub list: Rec,
    pub detail: Rec,
    pub statuses: Vec<Rec>,
}

#[derive(Clone, Copy)]
enum PolicyKind {
    ScreenLock(u32),
    DiskEncryption,
    Firewall,
    Other,
}

const POLICY_TEMPLATES: &[(&str, &str, Os, PolicyKind)] = &[
    (
        "screen_lock_darwin",
        "Screen Lock - macOS",
        Os::Mac,
        PolicyKind::ScreenLock(600),
    ),
    (
        "lock_screen_windows",
        "Lock Screen - Windows",
        Os::Windows,
        PolicyKind::ScreenLock(900),
    ),
    (
        "filevault_darwin",
        "FileVault 2 - macOS",
        Os::Mac,
        PolicyKind::DiskEncryption,
    ),
    (
        "bitlocker_windows",
        "BitLocker Full Disk Encryption - Windows",
        Os::Windows,
        PolicyKind::DiskEncryption,
    ),
    (
        "application_firewall_darwin",
        "Application Firewall - macOS",
        Os::Mac,
        PolicyKind::Firewall,
    ),
    (
        "lock_screen_linux",
        "Lock Screen - Linux",
        Os::Linux,
        PolicyKind::ScreenLock(1800),
    ),
    (
        "windows_updates_windows",
        "Windows Updates - Windows",
        Os::Windows,
        PolicyKind::Other,
    ),
    (
        "software_updates_darwin",
        "Software Updates - macOS",
        Os::Mac,
        PolicyKind::Other,
    ),
    (
        "ufw_linux",
        "Uncomplicated Firewall (UFW) - Linux",
        Os::Linux,
        PolicyKind::Firewall,
    ),
    (
        "disable_ssh_root_linux",
        "Disable SSH Root Login - Linux",
        Os::Linux,
        PolicyKind::Other,
    ),
    (
        "removable_storage_windows",
        "Removable Storage Restrictions - Windows",
        Os::Windows,
        PolicyKind::Other,
    ),
    (
        "guest_account_darwin",
        "Disable Guest Account - macOS",
        Os::Mac,
        PolicyKind::Other,
    ),
];

/// Every policy with its statuses, and per system `[total, success, failed, pending]`.
pub(super) fn generate(
    cx: &mut Draws,
    users: &[UserPlan],
    systems: &[SystemPlan],
) -> (Vec<PolicyData>, Vec<[u32; 4]>) {
    let (now, org_created, org_id) = (cx.now, cx.org_created, cx.org_id.as_str());
    let mut policy_stats: Vec<[u32; 4]> = vec![[0; 4]; systems.len()]; // total, success, failed, pending
    let mut policies = Vec::with_capacity(cx.size.policies);
    for p in 0..cx.size.policies {
        let (template, display, os, kind) = POLICY_TEMPLATES[p % POLICY_TEMPLATES.len()];
        let round = p / POLICY_TEMPLATES.len();
        let policy_id = cx.ids.next_id();
        let template_id = format!(
            "{}{:06x}",
            &org_id[..18],
            0xf00000 + p % POLICY_TEMPLATES.len()
        );
        let name = if round == 0 {
            display.to_string()
        } else {
            format!("{display} #{}", round + 1)
        };
        let created = random_between(&mut cx.rng, org_created, now - days(30));
        let template_json = json!({
            "id": template_id, "name": template, "displayName": display,
            "osMetaFamily": os.family(), "state": "", "activation": "",
            "behavior": "", "deliveryTypes": ["agent"], "alert": "", "reference": "",
            "description": format!("{display} enforced by the JumpCloud agent"),
        });
        let list = json!({"id": policy_id, "name": name, "template": template_json});
        let (values, config_fields) = match kind {
            PolicyKind::ScreenLock(secs) => {
                let field_id = format!("{template_id}-timeout");
                (
                    json!([{"configFieldID": field_id, "configFieldName": "timeout", "value": secs, "sensitive": false}]),
                    json!([{"id": field_id, "name": "timeout", "label": "Idle time before the screen locks (seconds)",
                            "type": "int", "defaultValue": "900", "required": true, "sensitive": false,
                            "position": 1, "readOnly": false, "displayType": "text", "tooltip": {"template": "", "variables": {}}}]),
                )
            }
            PolicyKind::Firewall => {
                let field_id = format!("{template_id}-stealth");
                (
                    json!([{"configFieldID": field_id, "configFieldName": "stealthMode", "value": true, "sensitive": false}]),
                    json!([{"id": field_id, "name": "stealthMode", "label": "Enable stealth mode", "type": "boolean",
                            "defaultValue": "false", "required": false, "sensitive": false, "position": 1,
                            "readOnly": false, "displayType": "checkbox", "tooltip": {"template": "", "variables": {}}}]),
                )
            }
            _ => (json!([]), json!([])),
        };
        let mut detail = list.clone();
        if let Value::Object(map) = &mut detail {
            map.insert(
                "notes".into(),
                json!(format!("Baseline policy, reviewed {}", fmt_ts(created))),
            );
            map.insert("values".into(), values);
            map.insert("configFields".into(), config_fields);
        }

        let mut statuses = Vec::new();
        for (si, system) in systems.iter().enumerate() {
            if system.os != os || (round > 0 && si % 3 != round % 3) {
                continue;
            }
            let state = match kind {
                PolicyKind::DiskEncryption if !system.fde_active => "failed",
                PolicyKind::Firewall if !system.firewall_on => "failed",
                _ if is_stale(system, now) && cx.rng.random_bool(0.5) => "pending",
                _ => match cx.rng.random_range(0..100) {
                    0..6 => "failed",
                    6..8 => "pending",
                    _ => "success",
                },
            };
            let stats = &mut policy_stats[si];
            stats[0] += 1;
            stats[match state {
                "success" => 1,
                "failed" => 2,
                _ => 3,
            }] += 1;
            let ended = system.last_contact.unwrap_or(system.created).max(created);
            statuses.push(policy_status(
                &cx.ids.next_id(),
                &policy_id,
                &system.id,
                system.owner.map(|u| users[u].id.as_str()),
                state,
                ended,
            ));
        }
        // Results for devices deleted since (JumpCloud keeps them: support PR #358).
        if p < 2 {
            for _ in 0..2 {
                let ghost = cx.ids.next_id();
                let ended = now - days(120 + pick(&mut cx.rng, 200) as i64);
                statuses.push(policy_status(
                    &cx.ids.next_id(),
                    &policy_id,
                    &ghost,
                    None,
                    "success",
                    ended,
                ));
            }
        }
        policies.push(PolicyData {
            id: policy_id,
            list: to_rec(&list),
            detail: to_rec(&detail),
            statuses,
        });
    }
    (policies, policy_stats)
}

fn policy_status(
    id: &str,
    policy: &str,
    system: &str,
    user: Option<&str>,
    state: &str,
    ended: Timestamp,
) -> Rec {
    let started = ended - SignedDuration::from_secs(4);
    let (exit, detail, stderr) = match state {
        "success" => (0, "", ""),
        "failed" => (
            1,
            "policy could not be applied",
            "error: configuration profile rejected by the device",
        ),
        _ => (0, "waiting for the device to check in", ""),
    };
    // `userObjectId` (a documented string) is left out for a device-wide result, not null.
    let user = user
        .map(|u| format!(",\"userObjectId\":\"{u}\""))
        .unwrap_or_default();
    // Written directly (like graph records): tens of thousands per large org, no escaping needed.
    format!(
        r#"{{"detail":"{detail}","endedAt":"{}","exitStatus":{exit},"id":"{id}","policyID":"{policy}","startedAt":"{}","state":"{state}","stdErr":"{stderr}","stdOut":"","success":{},"systemID":"{system}"{user}}}"#,
        fmt_ts(ended),
        fmt_ts(started),
        state == "success"
    )
    .into_boxed_str()
}
