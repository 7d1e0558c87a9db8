//! User groups (everyone, one per department, IT Admins with sudo, Contractors, project teams)
//! and device groups (by OS, by owner's department, stale devices), with their members.

use rand::Rng;
use serde_json::{Value, json};

use super::Draws;
use super::draw::{pick, slug};
use super::systems::{Os, SystemPlan, is_stale};
use super::users::UserPlan;
use crate::names::DEPARTMENTS;

/// The user groups' records and members (user indexes), and how many groups have fixed names.
pub(super) struct UserGroups {
    pub(super) records: Vec<Value>,
    pub(super) members: Vec<Vec<usize>>,
    pub(super) fixed: usize,
}

/// The device groups' records and members (system indexes).
pub(super) struct DeviceGroups {
    pub(super) records: Vec<Value>,
    pub(super) members: Vec<Vec<usize>>,
}

pub(super) fn user_groups(cx: &mut Draws, users: &[UserPlan]) -> UserGroups {
    let (company, domain, org_id) = (cx.company, cx.domain, cx.org_id.as_str());
    let mut group_names: Vec<String> = vec!["All Employees".into()];
    group_names.extend(DEPARTMENTS.iter().map(|d| d.0.to_string()));
    group_names.push("IT Admins".into());
    group_names.push("Contractors".into());
    let fixed_groups = group_names.len();
    let mut user_groups = Vec::with_capacity(cx.size.user_groups);
    let mut group_members: Vec<Vec<usize>> = Vec::with_capacity(cx.size.user_groups);
    for g in 0..cx.size.user_groups {
        let name = group_names
            .get(g)
            .cloned()
            .unwrap_or_else(|| format!("Project Team {:03}", g - fixed_groups + 1));
        let members: Vec<usize> = match g {
            0 => (0..users.len()).collect(),
            g if g <= DEPARTMENTS.len() => (0..users.len())
                .filter(|&u| users[u].dept == g - 1)
                .collect(),
            g if g == fixed_groups - 2 => (0..users.len()).filter(|&u| users[u].sudo).collect(),
            g if g == fixed_groups - 1 => {
                (0..users.len()).filter(|&u| users[u].contractor).collect()
            }
            _ => {
                let n = if users.is_empty() {
                    0
                } else {
                    cx.rng.random_range(2..16).min(users.len())
                };
                let mut m: Vec<usize> = (0..n).map(|_| pick(&mut cx.rng, users.len())).collect();
                m.sort_unstable();
                m.dedup();
                m
            }
        };
        let sudo = g == fixed_groups - 2;
        let (method, query) = match g {
            0 => (
                "DYNAMIC_AUTOMATED",
                json!({"queryType": "FilterQuery", "filters": [{"field": "state", "operator": "eq", "value": "ACTIVATED"}]}),
            ),
            g if (1..=DEPARTMENTS.len()).contains(&g) => (
                "DYNAMIC_REVIEW_REQUIRED",
                json!({"queryType": "FilterQuery", "filters": [{"field": "department", "operator": "eq", "value": DEPARTMENTS[g - 1].0}]}),
            ),
            _ => ("STATIC", Value::Null),
        };
        let s = slug(&name);
        user_groups.push(json!({
            "id": cx.ids.next_id(), "name": name, "type": "user_group",
            "description": format!("{name} ({company})"), "email": format!("{s}@{domain}"),
            "membershipMethod": method, "memberQuery": query,
            "attributes": {"sudo": {"enabled": sudo, "withoutPassword": false},
                           "ldapGroups": [{"name": s}], "posixGroups": [{"id": 5000 + g, "name": s}],
                           "radius": {"reply": []}, "sambaEnabled": false},
            "organizationObjectId": org_id,
        }));
        group_members.push(members);
    }
    UserGroups {
        records: user_groups,
        members: group_members,
        fixed: fixed_groups,
    }
}

/// The IT Admins group grants sudo.
pub(super) fn ug_is_sudo(g: usize, fixed_groups: usize) -> bool {
    g == fixed_groups - 2
}

pub(super) fn device_groups(
    cx: &mut Draws,
    users: &[UserPlan],
    systems: &[SystemPlan],
) -> DeviceGroups {
    let (now, company, org_id) = (cx.now, cx.company, cx.org_id.as_str());
    let fixed_device_groups = [
        "All macOS Devices",
        "All Windows Devices",
        "Linux Servers",
        "Engineering Laptops",
        "Finance Devices",
        "Stale Devices Quarantine",
    ];
    let mut system_groups = Vec::with_capacity(cx.size.device_groups);
    let mut system_group_members: Vec<Vec<usize>> = Vec::with_capacity(cx.size.device_groups);
    for g in 0..cx.size.device_groups {
        let name = if g < fixed_device_groups.len() {
            fixed_device_groups[g].to_string()
        } else {
            format!("Device Group {:03}", g - fixed_device_groups.len() + 1)
        };
        let owner_dept = |s: &SystemPlan| s.owner.map(|u| DEPARTMENTS[users[u].dept].0);
        let members: Vec<usize> = (0..systems.len())
            .filter(|&i| {
                let s = &systems[i];
                match g {
                    0 => s.os == Os::Mac,
                    1 => s.os == Os::Windows,
                    2 => s.os == Os::Linux && s.owner.is_none(),
                    3 => s.os != Os::Linux && owner_dept(s) == Some("Engineering"),
                    4 => owner_dept(s) == Some("Finance"),
                    5 => is_stale(s, now),
                    _ => i % 97 == g % 97,
                }
            })
            .collect();
        let family_of_group = [Os::Mac, Os::Windows, Os::Linux][g % 3].family();
        system_groups.push(json!({
            "id": cx.ids.next_id(), "name": name, "type": "system_group",
            "description": format!("{name} ({company})"), "email": "",
            "membershipMethod": if g < 3 { "DYNAMIC_AUTOMATED" } else { "STATIC" },
            "memberQuery": if g < 3 { json!({"queryType": "FilterQuery", "filters": [{"field": "osFamily", "operator": "eq", "value": family_of_group}]}) } else { Value::Null },
            "attributes": {}, "organizationObjectId": org_id,
        }));
        system_group_members.push(members);
    }
    DeviceGroups {
        records: system_groups,
        members: system_group_members,
    }
}
