//! Deterministic generation of one JumpCloud organization.
//!
//! Everything is drawn from one `ChaCha8Rng` in a fixed order, and every record is serialised once
//! into a `RawValue`, so serving a page is a memcpy and the same seed gives byte-identical output.
//! Ids are ObjectId-shaped (24 hex) and increase in generation order, so "sorted by id" is the
//! natural order of every list.

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::OrgSize;
use super::names::{CITIES, COMPANIES, DEPARTMENTS, FIRST_NAMES, LAST_NAMES, SSO_APPS};

/// One pre-serialised record.
pub(crate) type Rec = Box<RawValue>;

pub(crate) fn to_rec(value: &Value) -> Rec {
    // Serialising a `serde_json::Value` cannot fail: its map keys are always strings.
    serde_json::value::to_raw_value(value).expect("a serde_json::Value always serialises")
}

/// JumpCloud-style timestamp: RFC 3339, UTC, millisecond precision.
pub(crate) fn fmt_ts(t: Timestamp) -> String {
    format!(
        "{}.{:03}Z",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_millisecond()
    )
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// ObjectId-shaped ids: 8 hex of a timestamp, 10 hex of per-org randomness, 6 hex counter.
pub(crate) struct IdGen {
    prefix: String,
    next: u32,
}

impl IdGen {
    fn new(rng: &mut ChaCha8Rng, epoch: Timestamp) -> Self {
        let machine: u64 = rng.random::<u64>() & 0xff_ffff_ffff;
        IdGen {
            prefix: format!("{:08x}{machine:010x}", epoch.as_second() as u32),
            next: 1,
        }
    }

    pub(crate) fn next_id(&mut self) -> String {
        let id = format!("{}{:06x}", self.prefix, self.next);
        self.next += 1;
        id
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Os {
    Mac,
    Windows,
    Linux,
}

impl Os {
    fn family(self) -> &'static str {
        match self {
            Os::Mac => "darwin",
            Os::Windows => "windows",
            Os::Linux => "linux",
        }
    }
}

/// A policy status ("latest result per system").
pub(crate) struct PolicyData {
    pub id: String,
    pub list: Rec,
    pub detail: Rec,
    pub statuses: Vec<Rec>,
}

/// One Directory Insights event, with its sort key kept outside the JSON.
pub(crate) struct Event {
    pub ts_ms: i64,
    pub id: String,
    pub service: &'static str,
    pub raw: Rec,
}

/// One System Insights row, with the system id kept outside the JSON for `filter=system_id:…`.
pub(crate) struct InsightRow {
    pub system_id: String,
    pub raw: Rec,
}

pub(crate) const INSIGHT_TABLES: &[&str] = &[
    "disk_encryption",
    "bitlocker_info",
    "alf",
    "windows_security_center",
    "windows_security_products",
    "os_version",
];

/// A generated organization, ready to serve.
pub(crate) struct Org {
    pub id: String,
    pub name: String,
    pub domain: String,
    pub created: Timestamp,
    /// `GET /api/organizations/{id}` without the Directory Insights flag, which is live state.
    pub record: Value,
    pub directory_insights: bool,
    pub users: Vec<Rec>,
    pub systems: Vec<Rec>,
    pub applications: Vec<Rec>,
    pub policies: Vec<PolicyData>,
    pub user_groups: Vec<Rec>,
    pub system_groups: Vec<Rec>,
    pub authn_policies: Vec<Rec>,
    pub usergroup_membership: HashMap<String, Vec<Rec>>,
    pub systemgroup_membership: HashMap<String, Vec<Rec>>,
    pub app_users: HashMap<String, Vec<Rec>>,
    pub app_usergroups: HashMap<String, Vec<Rec>>,
    pub user_systems: HashMap<String, Vec<Rec>>,
    pub user_apps: HashMap<String, Vec<Rec>>,
    pub user_memberof: HashMap<String, Vec<Rec>>,
    pub insights: BTreeMap<&'static str, Vec<InsightRow>>,
    /// Sorted by (timestamp, id).
    pub events: Vec<Event>,
    /// Emails of the first users, reused for the console administrators.
    pub staff_names: Vec<(String, String, String)>,
    ids: IdGen,
    grown: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UserState {
    Staged,
    Activated,
    Suspended,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mfa {
    Enrolled,
    Pending,
    NotEnrolled,
    ExclusionActive,
    ExclusionExpired,
}

struct UserPlan {
    id: String,
    username: String,
    first: String,
    last: String,
    email: String,
    dept: usize,
    title: &'static str,
    state: UserState,
    locked: bool,
    mfa: Mfa,
    sudo: bool,
    passwordless_sudo: bool,
    created: Timestamp,
    contractor: bool,
    dormant: bool,
    password_expired: bool,
    password_never_expires: bool,
    manager: Option<usize>,
    city: usize,
}

struct SystemPlan {
    id: String,
    os: Os,
    variant: usize,
    hostname: String,
    display_name: String,
    serial: String,
    created: Timestamp,
    fde_active: bool,
    key_present: bool,
    last_contact: Option<Timestamp>,
    insights: &'static str,
    owner: Option<usize>,
    firewall_on: bool,
    av_ok: bool,
    arm: bool,
    remote_ip: String,
    agent_version: &'static str,
}

const MAC_VERSIONS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("15.1.1", "15", "1", "1", "Sequoia", "24B91"),
    ("14.7.1", "14", "7", "1", "Sonoma", "23H222"),
    ("13.7.1", "13", "7", "1", "Ventura", "22H221"),
    ("12.7.6", "12", "7", "6", "Monterey", "21H1320"),
];
const MAC_WEIGHTS: &[u32] = &[50, 30, 15, 5];
const WIN_VERSIONS: &[(&str, &str, &str, &str)] = &[
    ("Microsoft Windows 11 Pro", "11 Pro", "26100", "24H2"),
    ("Microsoft Windows 11 Pro", "11 Pro", "22631", "23H2"),
    ("Microsoft Windows 10 Pro", "10 Pro", "19045", "22H2"),
    (
        "Microsoft Windows 11 Enterprise",
        "11 Enterprise",
        "22631",
        "23H2",
    ),
];
const WIN_WEIGHTS: &[u32] = &[45, 30, 15, 10];
const LINUX_VERSIONS: &[(&str, &str, &str, &str, &str)] = &[
    ("Ubuntu", "24.04", "24", "04", "noble"),
    ("Ubuntu", "22.04", "22", "04", "jammy"),
    ("Rocky", "9.4", "9", "4", "Blue Onyx"),
    ("Debian", "12", "12", "0", "bookworm"),
];
const LINUX_WEIGHTS: &[u32] = &[40, 30, 15, 15];
const AGENT_VERSIONS: &[&str] = &["1.180.0", "1.178.2", "1.171.0"];

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

fn pick(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..n)
}

fn pick_weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut roll = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if roll < *w {
            return i;
        }
        roll -= w;
    }
    weights.len() - 1
}

fn ascii_fold(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'é' | 'è' => Some('e'),
            'ã' | 'á' => Some('a'),
            'í' => Some('i'),
            'ü' => Some('u'),
            'ó' | 'ö' => Some('o'),
            '\'' => None,
            c => Some(c.to_ascii_lowercase()),
        })
        .collect()
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in ascii_fold(s).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn random_between(rng: &mut ChaCha8Rng, from: Timestamp, to: Timestamp) -> Timestamp {
    let span = (to.as_millisecond() - from.as_millisecond()).max(1);
    let offset = rng.random_range(0..span);
    Timestamp::from_millisecond(from.as_millisecond() + offset).unwrap_or(from)
}

fn graph_path(hops: &[(&str, &str)], last_attributes: Value) -> Value {
    let n = hops.len();
    Value::Array(
        hops.iter()
            .enumerate()
            .map(|(i, (id, kind))| {
                let attributes = if i + 1 == n { last_attributes.clone() } else { Value::Null };
                json!({"attributes": attributes, "to": {"attributes": null, "id": id, "type": kind}})
            })
            .collect(),
    )
}

fn graph_object(id: &str, kind: &str, paths: Vec<Value>, compiled: Value) -> Value {
    json!({"id": id, "type": kind, "paths": paths, "compiledAttributes": compiled})
}

fn sudo_attributes(sudo: bool, without_password: bool) -> Value {
    if sudo {
        json!({"sudo": {"enabled": true, "withoutPassword": without_password}})
    } else {
        Value::Null
    }
}

/// Generate one organization. `now` anchors every relative timestamp.
pub(crate) fn generate_org(seed: u64, size: &OrgSize, now: Timestamp) -> Org {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (company, domain) = COMPANIES[pick(&mut rng, COMPANIES.len())];
    let org_created = now - days(4 * 365 + pick(&mut rng, 300) as i64);
    let mut ids = IdGen::new(&mut rng, org_created);
    let org_id = ids.next_id();

    // --- users -------------------------------------------------------------------------
    let dept_weights: Vec<u32> = DEPARTMENTS.iter().map(|d| d.1).collect();
    let mut seen_usernames: HashMap<String, u32> = HashMap::new();
    let mut users: Vec<UserPlan> = Vec::with_capacity(size.users);
    for i in 0..size.users {
        let first = FIRST_NAMES[pick(&mut rng, FIRST_NAMES.len())];
        let last = LAST_NAMES[pick(&mut rng, LAST_NAMES.len())];
        let base = format!("{}.{}", ascii_fold(first), ascii_fold(last)).replace(' ', "");
        let count = seen_usernames.entry(base.clone()).or_insert(0);
        *count += 1;
        let username = if *count == 1 {
            base
        } else {
            format!("{base}{count}")
        };
        let dept = pick_weighted(&mut rng, &dept_weights);
        let titles = DEPARTMENTS[dept].2;
        let title = titles[pick(&mut rng, titles.len())];
        let state_roll = rng.random_range(0..100);
        let state = match state_roll {
            0..5 => UserState::Staged,
            5..15 => UserState::Suspended,
            _ => UserState::Activated,
        };
        let mfa = match rng.random_range(0..100) {
            0..68 => Mfa::Enrolled,
            68..78 => Mfa::Pending,
            78..94 => Mfa::NotEnrolled,
            94..97 => Mfa::ExclusionActive,
            _ => Mfa::ExclusionExpired,
        };
        let technical = matches!(
            DEPARTMENTS[dept].0,
            "Engineering" | "IT" | "Security" | "Data"
        );
        let sudo = technical && rng.random_bool(0.3);
        let passwordless_sudo = sudo && rng.random_bool(0.2);
        let locked = state == UserState::Activated && rng.random_bool(0.03);
        let contractor = rng.random_bool(0.08);
        let dormant = rng.random_bool(0.12);
        let password_expired = state == UserState::Activated && rng.random_bool(0.03);
        let password_never_expires = rng.random_bool(0.04);
        let manager = if i > 0 && rng.random_bool(0.8) {
            Some(pick(&mut rng, i))
        } else {
            None
        };
        let created = random_between(&mut rng, org_created, now - days(1));
        let city = pick(&mut rng, CITIES.len());
        users.push(UserPlan {
            id: ids.next_id(),
            email: format!("{username}@{domain}"),
            username,
            first: first.to_string(),
            last: last.to_string(),
            dept,
            title,
            state,
            locked,
            mfa,
            sudo,
            passwordless_sudo,
            created,
            contractor,
            dormant,
            password_expired,
            password_never_expires,
            manager,
            city,
        });
    }

    // --- systems -----------------------------------------------------------------------
    let mut systems: Vec<SystemPlan> = Vec::with_capacity(size.devices);
    for i in 0..size.devices {
        let os = match rng.random_range(0..100) {
            0..55 => Os::Mac,
            55..90 => Os::Windows,
            _ => Os::Linux,
        };
        let variant = match os {
            Os::Mac => pick_weighted(&mut rng, MAC_WEIGHTS),
            Os::Windows => pick_weighted(&mut rng, WIN_WEIGHTS),
            Os::Linux => pick_weighted(&mut rng, LINUX_WEIGHTS),
        };
        let owner = if users.is_empty() || (os == Os::Linux && rng.random_bool(0.5)) {
            None
        } else {
            Some(i % users.len())
        };
        let (hostname, display_name) = match (os, owner) {
            (Os::Mac, Some(u)) => (
                format!("{}-mbp-{:02}", users[u].username.replace('.', "-"), i % 100),
                format!("{}'s MacBook Pro", users[u].first),
            ),
            (Os::Mac, None) => (format!("mac-shared-{i:05}"), format!("Shared Mac {i}")),
            (Os::Windows, _) => {
                let h = format!("{}-LT-{i:05}", &domain[..2].to_ascii_uppercase());
                (h.clone(), h)
            }
            (Os::Linux, Some(u)) => {
                let h = format!("{}-ws-{i:05}", users[u].username.replace('.', "-"));
                (h.clone(), h)
            }
            (Os::Linux, None) => {
                let roles = ["prod-api", "build-runner", "db", "bastion", "staging-web"];
                let h = format!("{}-{i:05}", roles[i % roles.len()]);
                (h.clone(), h)
            }
        };
        let created = random_between(&mut rng, org_created, now - days(2));
        let fde_active = !rng.random_bool(0.08);
        let key_present = fde_active && !rng.random_bool(0.1);
        let last_contact = match rng.random_range(0..100) {
            0..1 => None,
            1..7 => Some(now - days(91 + pick(&mut rng, 400) as i64)),
            7..15 => Some(now - days(2 + pick(&mut rng, 40) as i64)),
            _ => Some(now - SignedDuration::from_mins(pick(&mut rng, 36 * 60) as i64)),
        };
        let insights = match rng.random_range(0..100) {
            0..10 => "disabled",
            10..12 => "deferred",
            _ => "enabled",
        };
        let serial = format!(
            "{}{:08X}",
            match os {
                Os::Mac => "C02",
                Os::Windows => "PF",
                Os::Linux => "VM",
            },
            rng.random::<u32>()
        );
        systems.push(SystemPlan {
            id: ids.next_id(),
            os,
            variant,
            hostname,
            display_name,
            serial,
            created,
            fde_active,
            key_present,
            last_contact,
            insights,
            owner,
            firewall_on: !rng.random_bool(0.07),
            av_ok: !rng.random_bool(0.05),
            arm: rng.random_bool(0.7),
            remote_ip: format!(
                "203.0.{}.{}",
                rng.random_range(0..255u32),
                rng.random_range(1..255u32)
            ),
            agent_version: AGENT_VERSIONS[pick_weighted(&mut rng, &[70, 20, 10])],
        });
    }
    let stale_cutoff = now - days(90);
    let is_stale = |s: &SystemPlan| s.last_contact.is_none_or(|t| t < stale_cutoff);

    // --- policies and their latest results --------------------------------------------
    let mut policy_stats: Vec<[u32; 4]> = vec![[0; 4]; systems.len()]; // total, success, failed, pending
    let mut policies = Vec::with_capacity(size.policies);
    for p in 0..size.policies {
        let (template, display, os, kind) = POLICY_TEMPLATES[p % POLICY_TEMPLATES.len()];
        let round = p / POLICY_TEMPLATES.len();
        let policy_id = ids.next_id();
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
        let created = random_between(&mut rng, org_created, now - days(30));
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
                _ if is_stale(system) && rng.random_bool(0.5) => "pending",
                _ => match rng.random_range(0..100) {
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
                &ids.next_id(),
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
                let ghost = ids.next_id();
                let ended = now - days(120 + pick(&mut rng, 200) as i64);
                statuses.push(policy_status(
                    &ids.next_id(),
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

    // --- user groups -------------------------------------------------------------------
    let mut group_names: Vec<String> = vec!["All Employees".into()];
    group_names.extend(DEPARTMENTS.iter().map(|d| d.0.to_string()));
    group_names.push("IT Admins".into());
    group_names.push("Contractors".into());
    let fixed_groups = group_names.len();
    let mut user_groups = Vec::with_capacity(size.user_groups);
    let mut group_members: Vec<Vec<usize>> = Vec::with_capacity(size.user_groups);
    for g in 0..size.user_groups {
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
                    rng.random_range(2..16).min(users.len())
                };
                let mut m: Vec<usize> = (0..n).map(|_| pick(&mut rng, users.len())).collect();
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
            "id": ids.next_id(), "name": name, "type": "user_group",
            "description": format!("{name} ({company})"), "email": format!("{s}@{domain}"),
            "membershipMethod": method, "memberQuery": query,
            "attributes": {"sudo": {"enabled": sudo, "withoutPassword": false},
                           "ldapGroups": [{"name": s}], "posixGroups": [{"id": 5000 + g, "name": s}],
                           "radius": {"reply": []}, "sambaEnabled": false},
            "organizationObjectId": org_id,
        }));
        group_members.push(members);
    }
    let group_id =
        |g: usize, groups: &[Value]| groups[g]["id"].as_str().unwrap_or_default().to_string();

    // --- device groups -----------------------------------------------------------------
    let fixed_device_groups = [
        "All macOS Devices",
        "All Windows Devices",
        "Linux Servers",
        "Engineering Laptops",
        "Finance Devices",
        "Stale Devices Quarantine",
    ];
    let mut system_groups = Vec::with_capacity(size.device_groups);
    let mut system_group_members: Vec<Vec<usize>> = Vec::with_capacity(size.device_groups);
    for g in 0..size.device_groups {
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
                    5 => is_stale(s),
                    _ => i % 97 == g % 97,
                }
            })
            .collect();
        let family_of_group = [Os::Mac, Os::Windows, Os::Linux][g % 3].family();
        system_groups.push(json!({
            "id": ids.next_id(), "name": name, "type": "system_group",
            "description": format!("{name} ({company})"), "email": "",
            "membershipMethod": if g < 3 { "DYNAMIC_AUTOMATED" } else { "STATIC" },
            "memberQuery": if g < 3 { json!({"queryType": "FilterQuery", "filters": [{"field": "osFamily", "operator": "eq", "value": family_of_group}]}) } else { Value::Null },
            "attributes": {}, "organizationObjectId": org_id,
        }));
        system_group_members.push(members);
    }

    // --- applications and their bindings -------------------------------------------------
    let mut applications = Vec::with_capacity(size.applications);
    let mut app_groups: Vec<Vec<usize>> = Vec::new();
    let mut app_direct: Vec<Vec<usize>> = Vec::new();
    for a in 0..size.applications {
        let (slug_name, display) = if let Some((slug_name, display)) = SSO_APPS.get(a) {
            (slug_name.to_string(), display.to_string())
        } else {
            let n = a - SSO_APPS.len() + 1;
            (
                format!("internal-tool-{n:03}"),
                format!("Internal Tool {n:03}"),
            )
        };
        let cert_days: i64 = match a {
            2 => 9,
            4 => 25,
            5 => -3,
            _ => 60 + pick(&mut rng, 900) as i64,
        };
        let created = random_between(&mut rng, org_created, now - days(60));
        let cert_updated = now + days(cert_days) - days(3 * 365);
        let wanted_groups: Vec<usize> = match slug_name.as_str() {
            "slack" | "google-workspace" | "zoom" | "1password" | "notion" | "miro" | "workday" => {
                vec![0]
            }
            "github" | "aws-identity-center" | "datadog" | "atlassian" | "snowflake" => vec![1],
            "salesforce" | "hubspot" | "docusign" => vec![2, 3],
            "zendesk" => vec![4],
            "tableau" => vec![11],
            "figma" | "asana" => vec![7],
            _ => vec![if size.user_groups > 0 {
                pick(&mut rng, size.user_groups)
            } else {
                0
            }],
        };
        let groups: Vec<usize> = wanted_groups
            .into_iter()
            .filter(|&g| g < size.user_groups)
            .collect();
        let direct_count = if users.is_empty() {
            0
        } else {
            rng.random_range(0..4)
        };
        let mut direct: Vec<usize> = (0..direct_count)
            .map(|_| pick(&mut rng, users.len()))
            .collect();
        direct.sort_unstable();
        direct.dedup();
        let app_id = ids.next_id();
        applications.push(json!({
            "_id": app_id, "id": app_id, "name": slug_name, "displayName": display, "displayLabel": display,
            "description": "", "active": a % 13 != 12, "beta": false, "created": fmt_ts(created),
            "organization": org_id,
            "ssoUrl": format!("https://sso.jumpcloud.com/saml2/{slug_name}"),
            "learnMore": "", "color": "", "logo": {"url": format!("https://cdn.jumpcloud.com/logos/{slug_name}.png"), "color": ""},
            "sso": {"type": "saml", "jit": a % 5 == 1, "hidden": false,
                    "idpCertExpirationAt": fmt_ts(now + days(cert_days)),
                    "idpCertificateUpdatedAt": fmt_ts(cert_updated),
                    "spCertificateUpdatedAt": Value::Null},
            "config": {"acsUrl": {"type": "text", "label": "ACS URL", "value": format!("https://{slug_name}.example.com/saml/acs")},
                       "idpEntityId": {"type": "text", "label": "IdP Entity ID", "value": format!("https://sso.jumpcloud.com/{org_id}/{slug_name}")},
                       "spEntityId": {"type": "text", "label": "SP Entity ID", "value": format!("https://{slug_name}.example.com")},
                       "constantAttributes": {"type": "list", "value": []}},
        }));
        app_groups.push(groups);
        app_direct.push(direct);
    }

    // --- graph indexes -------------------------------------------------------------------
    let ug_ids: Vec<String> = (0..user_groups.len())
        .map(|g| group_id(g, &user_groups))
        .collect();
    let sg_ids: Vec<String> = (0..system_groups.len())
        .map(|g| group_id(g, &system_groups))
        .collect();
    let app_ids: Vec<String> = applications
        .iter()
        .map(|a| a["_id"].as_str().unwrap_or_default().to_string())
        .collect();

    let mut user_groups_of: Vec<Vec<usize>> = vec![Vec::new(); users.len()];
    let mut usergroup_membership = HashMap::with_capacity(user_groups.len());
    for (g, members) in group_members.iter().enumerate() {
        let sudo = ug_is_sudo(g, fixed_groups);
        let recs = members
            .iter()
            .map(|&u| {
                user_groups_of[u].push(g);
                to_rec(&graph_object(
                    &users[u].id,
                    "user",
                    vec![graph_path(&[(&ug_ids[g], "user_group")], Value::Null)],
                    sudo_attributes(sudo, false),
                ))
            })
            .collect();
        usergroup_membership.insert(ug_ids[g].clone(), recs);
    }
    let mut systemgroup_membership = HashMap::with_capacity(system_groups.len());
    for (g, members) in system_group_members.iter().enumerate() {
        let recs = members
            .iter()
            .map(|&s| {
                to_rec(&graph_object(
                    &systems[s].id,
                    "system",
                    vec![graph_path(&[(&sg_ids[g], "system_group")], Value::Null)],
                    Value::Null,
                ))
            })
            .collect();
        systemgroup_membership.insert(sg_ids[g].clone(), recs);
    }

    // user -> apps (direct or through a group), app -> users, app -> groups
    let mut user_app_paths: Vec<BTreeMap<usize, Vec<Value>>> =
        (0..users.len()).map(|_| BTreeMap::new()).collect();
    let mut app_users = HashMap::with_capacity(applications.len());
    let mut app_usergroups = HashMap::with_capacity(applications.len());
    for a in 0..applications.len() {
        let mut by_user: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
        for &g in &app_groups[a] {
            for &u in &group_members[g] {
                by_user.entry(u).or_default().push(graph_path(
                    &[(&ug_ids[g], "user_group"), (&app_ids[a], "application")],
                    Value::Null,
                ));
                user_app_paths[u].entry(a).or_default().push(graph_path(
                    &[(&ug_ids[g], "user_group"), (&app_ids[a], "application")],
                    Value::Null,
                ));
            }
        }
        for &u in &app_direct[a] {
            by_user
                .entry(u)
                .or_default()
                .push(graph_path(&[(&app_ids[a], "application")], Value::Null));
            user_app_paths[u]
                .entry(a)
                .or_default()
                .push(graph_path(&[(&app_ids[a], "application")], Value::Null));
        }
        let recs = by_user
            .into_iter()
            .map(|(u, paths)| to_rec(&graph_object(&users[u].id, "user", paths, Value::Null)))
            .collect();
        app_users.insert(app_ids[a].clone(), recs);
        let group_recs = app_groups[a]
            .iter()
            .map(|&g| {
                to_rec(&graph_object(
                    &ug_ids[g],
                    "user_group",
                    vec![graph_path(&[(&app_ids[a], "application")], Value::Null)],
                    Value::Null,
                ))
            })
            .collect();
        app_usergroups.insert(app_ids[a].clone(), group_recs);
    }

    // user -> systems: owned devices, plus a few sudo admins on every shared Linux server
    let mut user_system_links: Vec<Vec<usize>> = vec![Vec::new(); users.len()];
    let sudo_users: Vec<usize> = (0..users.len()).filter(|&u| users[u].sudo).collect();
    for (si, s) in systems.iter().enumerate() {
        if let Some(u) = s.owner {
            user_system_links[u].push(si);
        } else if s.os == Os::Linux && !sudo_users.is_empty() {
            for k in 0..2 {
                let u = sudo_users[(si + k * 7) % sudo_users.len()];
                if !user_system_links[u].contains(&si) {
                    user_system_links[u].push(si);
                }
            }
        }
    }
    let mut user_systems = HashMap::with_capacity(users.len());
    let mut user_apps = HashMap::with_capacity(users.len());
    let mut user_memberof = HashMap::with_capacity(users.len());
    for (u, plan) in users.iter().enumerate() {
        let attrs = sudo_attributes(plan.sudo, plan.passwordless_sudo);
        let mut links = user_system_links[u].clone();
        links.sort_unstable();
        let recs = links
            .iter()
            .map(|&si| {
                to_rec(&graph_object(
                    &systems[si].id,
                    "system",
                    vec![graph_path(&[(&systems[si].id, "system")], attrs.clone())],
                    attrs.clone(),
                ))
            })
            .collect();
        user_systems.insert(plan.id.clone(), recs);
        let app_recs = std::mem::take(&mut user_app_paths[u])
            .into_iter()
            .map(|(a, paths)| {
                to_rec(&graph_object(
                    &app_ids[a],
                    "application",
                    paths,
                    Value::Null,
                ))
            })
            .collect();
        user_apps.insert(plan.id.clone(), app_recs);
        let group_recs = user_groups_of[u]
            .iter()
            .map(|&g| {
                to_rec(&graph_object(
                    &ug_ids[g],
                    "user_group",
                    vec![graph_path(&[(&ug_ids[g], "user_group")], Value::Null)],
                    sudo_attributes(ug_is_sudo(g, fixed_groups), false),
                ))
            })
            .collect();
        user_memberof.insert(plan.id.clone(), group_recs);
    }

    // --- System Insights -------------------------------------------------------------------
    let mut insights: BTreeMap<&'static str, Vec<InsightRow>> =
        INSIGHT_TABLES.iter().map(|t| (*t, Vec::new())).collect();
    for s in &systems {
        if s.insights != "enabled" {
            continue;
        }
        let collected = fmt_ts(s.last_contact.unwrap_or(s.created));
        insight_rows(s, &collected, &mut insights, &mut rng);
    }

    // --- authentication policies -------------------------------------------------------------
    let contractors = if fixed_groups - 1 < ug_ids.len() {
        vec![ug_ids[fixed_groups - 1].clone()]
    } else {
        vec![]
    };
    let first_app = app_ids.first().cloned();
    let authn = [
        json!({"name": "Require MFA for the User Portal", "disabled": false, "monitorOnly": false, "type": "user_portal",
               "effect": {"action": "allow", "obligations": {"mfa": {"required": true}, "mfaFactors": [{"type": "TOTP"}, {"type": "WEBAUTHN"}, {"type": "PUSH"}], "userVerification": {"requirement": "optional"}}},
               "targets": {"users": {"inclusions": ["ALL"]}, "userGroups": {"exclusions": contractors}, "resources": [{"type": "user_portal"}]},
               "conditions": {}}),
        json!({"name": "MFA for SSO applications (pilot)", "disabled": false, "monitorOnly": true, "type": "application",
               "effect": {"action": "allow", "obligations": {"mfa": {"required": true}, "mfaFactors": [{"type": "PUSH"}], "userVerification": {"requirement": "optional"}}},
               "targets": {"users": {"inclusions": ["ALL"]}, "userGroups": {"exclusions": []}, "resources": first_app.iter().map(|id| json!({"type": "application", "id": id})).collect::<Vec<_>>(), "excludedApplications": []},
               "conditions": {}}),
        json!({"name": "Block sign-ins from outside allowed countries", "disabled": false, "monitorOnly": false, "type": "user_portal",
               "effect": {"action": "deny"},
               "targets": {"users": {"inclusions": ["ALL"]}, "userGroups": {"exclusions": []}, "resources": [{"type": "user_portal"}]},
               "conditions": {"not": {"locationIn": {"countries": ["US", "GB", "DE", "IN", "CA"]}}}}),
        json!({"name": "LDAP requires MFA (legacy)", "disabled": true, "monitorOnly": false, "type": "ldap",
               "effect": {"action": "allow", "obligations": {"mfa": {"required": true}, "mfaFactors": [{"type": "PUSH"}]}},
               "targets": {"users": {"inclusions": ["ALL"]}, "userGroups": {"exclusions": []}, "resources": [{"type": "ldap"}]},
               "conditions": {}}),
    ];
    let authn_policies = authn
        .into_iter()
        .map(|mut p| {
            if let Value::Object(m) = &mut p {
                m.insert("id".into(), json!(ids.next_id()));
            }
            to_rec(&p)
        })
        .collect();

    // --- Directory Insights events ---------------------------------------------------------
    let window_start = now - days(30);
    let active_users: Vec<usize> = (0..users.len())
        .filter(|&u| users[u].state == UserState::Activated && !users[u].dormant)
        .collect();
    let mut events: Vec<Event> = Vec::with_capacity(size.events);
    for j in 0..size.events {
        let ts = random_between(&mut rng, window_start, now);
        let id = ids.next_id();
        let (service, raw) = if j % 10 == 9 || active_users.is_empty() {
            admin_event(&mut rng, &id, ts, &org_id, &users, domain)
        } else {
            let u = active_users[(j - j / 10) % active_users.len()];
            user_event(
                &mut rng,
                &id,
                ts,
                &org_id,
                &users[u],
                &user_system_links[u],
                &systems,
                &app_ids,
                &applications,
            )
        };
        events.push(Event {
            ts_ms: ts.as_millisecond(),
            id,
            service,
            raw: to_rec(&raw),
        });
    }
    events.sort_by(|a, b| (a.ts_ms, &a.id).cmp(&(b.ts_ms, &b.id)));

    // --- serialise users and systems (they need the bindings above) ------------------------
    let staff_names: Vec<(String, String, String)> = users
        .iter()
        .filter(|u| u.state == UserState::Activated)
        .take(8)
        .map(|u| (u.first.clone(), u.last.clone(), u.email.clone()))
        .collect();
    let user_recs = users
        .iter()
        .map(|u| to_rec(&user_record(u, &org_id, &users, now)))
        .collect();
    let system_recs = systems
        .iter()
        .enumerate()
        .map(|(i, s)| to_rec(&system_record(s, &org_id, &users, policy_stats[i], now)))
        .collect();

    let record = org_record(&org_id, company, domain, org_created, users.len(), now);
    Org {
        id: org_id,
        name: company.to_string(),
        domain: domain.to_string(),
        created: org_created,
        record,
        directory_insights: true,
        users: user_recs,
        systems: system_recs,
        applications: applications.iter().map(to_rec).collect(),
        policies,
        user_groups: user_groups.iter().map(to_rec).collect(),
        system_groups: system_groups.iter().map(to_rec).collect(),
        authn_policies,
        usergroup_membership,
        systemgroup_membership,
        app_users,
        app_usergroups,
        user_systems,
        user_apps,
        user_memberof,
        insights,
        events,
        staff_names,
        ids,
        grown: 0,
    }
}

fn ug_is_sudo(g: usize, fixed_groups: usize) -> bool {
    g == fixed_groups - 2
}

impl Org {
    /// Adds a freshly hired user (used by the "change totals between pages" fault).
    pub(crate) fn add_user(&mut self, now: Timestamp) {
        self.grown += 1;
        let username = format!("new.hire{}", self.grown);
        let plan = UserPlan {
            id: self.ids.next_id(),
            email: format!("{username}@{}", self.domain),
            username,
            first: "New".into(),
            last: format!("Hire{}", self.grown),
            dept: 0,
            title: "Software Engineer",
            state: UserState::Staged,
            locked: false,
            mfa: Mfa::NotEnrolled,
            sudo: false,
            passwordless_sudo: false,
            created: now,
            contractor: false,
            dormant: true,
            password_expired: false,
            password_never_expires: false,
            manager: None,
            city: 0,
        };
        let rec = to_rec(&user_record(&plan, &self.id, &[], now));
        for map in [
            &mut self.user_systems,
            &mut self.user_apps,
            &mut self.user_memberof,
        ] {
            map.insert(plan.id.clone(), Vec::new());
        }
        self.users.push(rec);
    }

    /// Adds a freshly enrolled device (used by the "change totals between pages" fault).
    pub(crate) fn add_system(&mut self, now: Timestamp) {
        self.grown += 1;
        let host = format!("new-device-{:04}", self.grown);
        let plan = SystemPlan {
            id: self.ids.next_id(),
            os: Os::Linux,
            variant: 0,
            hostname: host.clone(),
            display_name: host,
            serial: format!("VMNEW{:04}", self.grown),
            created: now,
            fde_active: true,
            key_present: true,
            last_contact: Some(now),
            insights: "deferred",
            owner: None,
            firewall_on: true,
            av_ok: true,
            arm: false,
            remote_ip: "203.0.113.7".into(),
            agent_version: AGENT_VERSIONS[0],
        };
        self.systems
            .push(to_rec(&system_record(&plan, &self.id, &[], [0; 4], now)));
    }
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
    to_rec(&json!({
        "id": id, "policyID": policy, "systemID": system, "userObjectId": user,
        "state": state, "success": state == "success", "exitStatus": exit,
        "detail": detail, "stdOut": "", "stdErr": stderr,
        "startedAt": fmt_ts(started), "endedAt": fmt_ts(ended),
    }))
}

fn mfa_status(m: Mfa) -> &'static str {
    match m {
        Mfa::Enrolled => "ENROLLED",
        Mfa::Pending => "PENDING_ACTIVATION",
        _ => "NOT_ENROLLED",
    }
}

fn user_record(u: &UserPlan, org_id: &str, users: &[UserPlan], now: Timestamp) -> Value {
    let (state, activated, suspended) = match u.state {
        UserState::Staged => ("STAGED", false, false),
        UserState::Activated => ("ACTIVATED", true, false),
        UserState::Suspended => ("SUSPENDED", true, true),
    };
    let totp = u.mfa == Mfa::Enrolled;
    let (exclusion, until) = match u.mfa {
        Mfa::ExclusionActive => (true, Some(now + days(10))),
        Mfa::ExclusionExpired => (true, Some(now - days(20))),
        _ => (false, None),
    };
    let password_date = u
        .created
        .max(now - days(((u.id.len() as i64 * 7) + u.username.len() as i64 * 3) % 120));
    let expiration = if u.password_never_expires {
        Value::Null
    } else {
        json!(fmt_ts(password_date + days(90)))
    };
    let (country, region, _) = CITIES[u.city];
    let dept = DEPARTMENTS[u.dept].0;
    let display = format!("{} {}", u.first, u.last);
    let mut record = json!({
        "_id": u.id, "id": u.id, "organization": org_id,
        "username": u.username, "email": u.email, "firstname": u.first, "middlename": "", "lastname": u.last,
        "displayname": display, "alternateEmail": Value::Null, "recoveryEmail": {"address": Value::Null, "verified": false},
        "created": fmt_ts(u.created), "state": state, "activated": activated, "suspended": suspended,
        "account_locked": u.locked, "account_locked_date": if u.locked { json!(fmt_ts(now - days(2))) } else { Value::Null },
        "badLoginAttempts": if u.locked { 10 } else { 0 },
        "password_expired": u.password_expired, "password_expiration_date": expiration,
        "password_date": fmt_ts(password_date), "password_never_expires": u.password_never_expires,
        "sudo": u.sudo, "passwordless_sudo": u.passwordless_sudo,
        "totp_enabled": totp, "enable_user_portal_multifactor": u.mfa != Mfa::NotEnrolled,
        "mfa": {"configured": totp, "exclusion": exclusion,
                "exclusionUntil": until.map(fmt_ts), "exclusionDays": if exclusion { json!(30) } else { Value::Null }},
        "mfaEnrollment": {"overallStatus": mfa_status(u.mfa), "totpStatus": mfa_status(u.mfa),
                          "webAuthnStatus": if totp && u.username.len().is_multiple_of(3) { "ENROLLED" } else { "NOT_ENROLLED" },
                          "pushStatus": "NOT_ENROLLED", "smsStatus": "DISABLED", "jcGoStatus": "NOT_ENROLLED"},
    });
    let more = json!({
        "admin": Value::Null,
        "externally_managed": false, "external_source_type": "", "restrictedFields": [],
        "delegatedAuthority": {"name": "None", "id": ""},
        "ldap_binding_user": false, "samba_service_user": false,
        "manager": u.manager.and_then(|m| users.get(m)).map(|m| m.id.clone()),
        "department": dept, "jobTitle": u.title, "company": "", "costCenter": format!("CC-{:03}", 100 + u.dept),
        "employeeType": if u.contractor { "Contractor" } else { "Full-time" },
        "employeeIdentifier": format!("E{}", &u.id[18..]),
        "location": region, "addresses": [{"type": "work", "country": country, "region": region}],
        "phoneNumbers": [], "attributes": [], "description": "",
        "creationSource": if u.id.ends_with(['0', '5']) { "scim:okta" } else { "jumpcloud:console" },
        "unix_uid": 5000 + u32::from_str_radix(&u.id[18..], 16).unwrap_or(0), "unix_guid": 5000 + u32::from_str_radix(&u.id[18..], 16).unwrap_or(0),
        "enable_managed_uid": false, "allow_public_key": true, "public_key": "", "ssh_keys": [],
        "systemUsername": "", "managedAppleId": "",
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut record, more) {
        base.extend(more);
    }
    record
}

fn system_record(
    s: &SystemPlan,
    org_id: &str,
    users: &[UserPlan],
    stats: [u32; 4],
    now: Timestamp,
) -> Value {
    let (os, version, detail) = match s.os {
        Os::Mac => {
            let (v, major, minor, patch, release, _) = MAC_VERSIONS[s.variant];
            (
                "Mac OS X",
                v.to_string(),
                json!({"osName": "macOS", "major": major, "minor": minor, "patch": patch, "version": v, "releaseName": release, "distributionName": ""}),
            )
        }
        Os::Windows => {
            let (name, version, build, release) = WIN_VERSIONS[s.variant];
            (
                "Windows",
                version.to_string(),
                json!({"osName": name, "major": "10", "minor": "0", "patch": build, "version": release, "releaseName": release, "distributionName": ""}),
            )
        }
        Os::Linux => {
            let (distro, v, major, minor, code) = LINUX_VERSIONS[s.variant];
            (
                distro,
                v.to_string(),
                json!({"osName": distro, "major": major, "minor": minor, "patch": "0", "version": v, "releaseName": code, "distributionName": distro}),
            )
        }
    };
    let arch = match (s.os, s.arm) {
        (Os::Mac, true) => "arm64",
        (Os::Linux, _) | (Os::Windows, _) | (Os::Mac, false) => "x86_64",
    };
    let owner = s.owner.and_then(|u| users.get(u));
    let user_metrics: Vec<Value> = owner
        .map(|u| {
            vec![json!({"userName": u.username.replace('.', ""), "admin": u.sudo || s.os == Os::Mac,
                        "managed": true, "suspended": u.state == UserState::Suspended, "secureTokenEnabled": s.os == Os::Mac})]
        })
        .unwrap_or_default();
    let recently = s
        .last_contact
        .is_some_and(|t| t > now - SignedDuration::from_mins(10));
    json!({
        "_id": s.id, "id": s.id, "organization": org_id,
        "displayName": s.display_name, "hostname": s.hostname, "serialNumber": s.serial,
        "created": fmt_ts(s.created), "description": "",
        "os": os, "osFamily": s.os.family(), "version": version, "arch": arch, "osVersionDetail": detail,
        "active": recently, "lastContact": s.last_contact.map(fmt_ts), "remoteIP": s.remote_ip,
        "agentVersion": s.agent_version, "agentHasFullDiskAccess": s.os == Os::Mac,
        "fde": {"active": s.fde_active, "keyPresent": s.key_present},
        "allowMultiFactorAuthentication": s.os != Os::Linux, "allowSshRootLogin": s.os == Os::Linux && stats[0] == 0,
        "allowSshPasswordAuthentication": s.os == Os::Linux && s.owner.is_some(), "allowPublicKeyAuthentication": true,
        "sshRootEnabled": false, "modifySSHDConfig": s.os == Os::Linux,
        "secureLogin": {"supported": s.os == Os::Mac, "enabled": false},
        "isPolicyBound": stats[0] > 0,
        "policyStats": {"total": stats[0], "success": stats[1], "failed": stats[2], "pending": stats[3], "duplicate": 0, "unsupportedOs": 0},
        "systemInsights": {"state": s.insights},
        "mdm": match s.os {
            Os::Mac => json!({"vendor": "internal", "dep": s.arm, "userApproved": true, "enrollmentType": if s.arm { "AUTOMATED_DEVICE" } else { "USER" }, "profileIdentifier": "com.jumpcloud.mdm"}),
            Os::Windows => json!({"vendor": "internal", "dep": false, "userApproved": false, "enrollmentType": "WINDOWS_MDM", "profileIdentifier": ""}),
            Os::Linux => Value::Null,
        },
        "userMetrics": user_metrics,
        "serviceAccountState": if s.os == Os::Mac { json!({"hasSecureToken": true, "passwordAPFSValid": true, "passwordODValid": true}) } else { Value::Null },
        "hasServiceAccount": s.os == Os::Mac,
        "primarySystemUser": owner.map(|u| json!({"id": u.id})),
        "domainInfo": if s.os == Os::Windows { json!({"domainName": "", "partOfDomain": false}) } else { Value::Null },
        "azureAdJoined": false,
        "provisionMetadata": {"provisioner": {"provisionerType": "user"}},
        "systemTimezone": -300, "tags": [], "templateName": format!("{}-template", s.os.family()),
        "fileSystem": match s.os { Os::Mac => "apfs", Os::Windows => "ntfs", Os::Linux => "ext4" },
    })
}

fn insight_rows(
    s: &SystemPlan,
    collected: &str,
    out: &mut BTreeMap<&'static str, Vec<InsightRow>>,
    rng: &mut ChaCha8Rng,
) {
    let mut push = |table: &'static str, mut row: Value| {
        if let Value::Object(m) = &mut row {
            m.insert("system_id".into(), json!(s.id));
            m.insert("collection_time".into(), json!(collected));
        }
        if let Some(rows) = out.get_mut(table) {
            rows.push(InsightRow {
                system_id: s.id.clone(),
                raw: to_rec(&row),
            });
        }
    };
    let uuid = format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>(),
        rng.random::<u16>(),
        rng.random::<u64>() & 0xffff_ffff_ffff
    );
    let enc = i32::from(s.fde_active);
    match s.os {
        Os::Mac => {
            let (v, major, minor, patch, release, build) = MAC_VERSIONS[s.variant];
            push(
                "os_version",
                json!({"name": "macOS", "version": v, "major": major.parse::<u32>().unwrap_or(0), "minor": minor.parse::<u32>().unwrap_or(0), "patch": patch.parse::<u32>().unwrap_or(0), "build": build, "platform": "darwin", "platform_like": "darwin", "codename": release, "install_date": Value::Null}),
            );
            push(
                "disk_encryption",
                json!({"name": "/dev/disk3s1", "uuid": uuid, "encrypted": enc, "type": if s.fde_active { "APFS Encryption" } else { "" }, "encryption_status": if s.fde_active { "encrypted" } else { "not encrypted" }, "uid": if s.fde_active { "501" } else { "" }, "user_uuid": if s.fde_active { uuid.clone() } else { String::new() }}),
            );
            push(
                "alf",
                json!({"global_state": i32::from(s.firewall_on), "stealth_enabled": i32::from(s.firewall_on), "logging_enabled": 1, "logging_option": 0, "allow_signed_enabled": 1, "firewall_unload": 0, "version": "1.6"}),
            );
        }
        Os::Windows => {
            let (name, _, build, release) = WIN_VERSIONS[s.variant];
            push(
                "os_version",
                json!({"name": name, "version": format!("10.0.{build}"), "major": 10, "minor": 0, "patch": 0, "build": build, "platform": "windows", "platform_like": "windows", "codename": release, "install_date": "1717200000"}),
            );
            push(
                "bitlocker_info",
                json!({"drive_letter": "C:", "device_id": format!("\\\\?\\Volume{{{uuid}}}\\"), "persistent_volume_id": uuid, "conversion_status": enc, "percentage_encrypted": if s.fde_active { 100 } else { 0 }, "encryption_method": if s.fde_active { "XTS_AES_128" } else { "None" }, "protection_status": enc}),
            );
            let good = |b: bool| if b { "Good" } else { "Poor" };
            push(
                "windows_security_center",
                json!({"firewall": good(s.firewall_on), "autoupdate": good(s.variant != 2), "antivirus": if s.av_ok { "Good" } else { "Snoozed" }, "antispyware": good(s.av_ok), "internet_settings": "Good", "user_account_control": "Good", "windows_security_center_service": "Good"}),
            );
            push(
                "windows_security_products",
                json!({"type": "Antivirus", "name": "Microsoft Defender Antivirus", "state": if s.av_ok { "On" } else { "Snoozed" }, "state_timestamp": collected, "signatures_up_to_date": i32::from(s.av_ok), "remediation_path": "%ProgramFiles%\\Windows Defender\\MsMpeng.exe"}),
            );
            push(
                "windows_security_products",
                json!({"type": "Firewall", "name": "Windows Firewall", "state": if s.firewall_on { "On" } else { "Off" }, "state_timestamp": collected, "signatures_up_to_date": 0, "remediation_path": ""}),
            );
        }
        Os::Linux => {
            let (distro, v, major, minor, code) = LINUX_VERSIONS[s.variant];
            push(
                "os_version",
                json!({"name": distro, "version": v, "major": major.parse::<u32>().unwrap_or(0), "minor": minor.parse::<u32>().unwrap_or(0), "patch": 0, "build": "", "platform": distro.to_ascii_lowercase(), "platform_like": "debian", "codename": code, "install_date": Value::Null}),
            );
            push(
                "disk_encryption",
                json!({"name": "/dev/nvme0n1p3", "uuid": uuid.to_ascii_lowercase(), "encrypted": enc, "type": if s.fde_active { "crypto_LUKS" } else { "" }, "encryption_status": if s.fde_active { "encrypted" } else { "not encrypted" }, "uid": "", "user_uuid": ""}),
            );
        }
    }
}

fn geo(rng: &mut ChaCha8Rng, city: usize) -> Value {
    let (country, region, tz) = CITIES[city];
    json!({"country_code": country, "region_name": region, "timezone": tz,
           "latitude": 0.0, "longitude": 0.0, "continent_code": if country == "IN" { "AS" } else if country == "US" || country == "CA" { "NA" } else { "EU" },
           "region_code": format!("R{}", rng.random_range(1..9))})
}

fn user_agent(os: Os) -> Value {
    match os {
        Os::Mac => {
            json!({"name": "Chrome", "major": "131", "os": "Mac OS X", "os_major": "15", "os_full": "Mac OS X 15.1", "device": "Mac"})
        }
        Os::Windows => {
            json!({"name": "Edge", "major": "131", "os": "Windows", "os_major": "11", "os_full": "Windows 11", "device": "Other"})
        }
        Os::Linux => {
            json!({"name": "Firefox", "major": "133", "os": "Ubuntu", "os_major": "24", "os_full": "Ubuntu 24.04", "device": "Other"})
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn user_event(
    rng: &mut ChaCha8Rng,
    id: &str,
    ts: Timestamp,
    org_id: &str,
    u: &UserPlan,
    own_systems: &[usize],
    systems: &[SystemPlan],
    app_ids: &[String],
    apps: &[Value],
) -> (&'static str, Value) {
    let success = !rng.random_bool(0.05);
    let mfa = u.mfa == Mfa::Enrolled;
    let ip = format!("198.51.100.{}", rng.random_range(1..255u32));
    let initiated = json!({"id": u.id, "type": "user", "username": u.username, "email": u.email});
    let kind = rng.random_range(0..10);
    let os = own_systems
        .first()
        .map(|&s| systems[s].os)
        .unwrap_or(Os::Mac);
    let geoip = geo(rng, u.city);
    let mut event = if kind < 3 && !app_ids.is_empty() {
        let a = rng.random_range(0..app_ids.len());
        json!({"event_type": "sso_auth", "service": "sso",
               "application": {"id": app_ids[a], "name": apps[a]["name"], "display_label": apps[a]["displayLabel"], "sso_type": "saml", "sso_url": apps[a]["ssoUrl"]},
               "idp_initiated": kind == 0, "auth_method": "password", "mfa": mfa})
    } else if kind < 5 && !own_systems.is_empty() {
        let s = &systems[own_systems[0]];
        json!({"event_type": "login_attempt", "service": "systems",
               "system": {"id": s.id, "hostname": s.hostname, "displayName": s.display_name},
               "username": u.username, "process_name": if s.os == Os::Mac { "loginwindow" } else { "winlogon" },
               "sso_token_success": Value::Null, "mfa": mfa && s.os != Os::Linux, "system_timestamp": fmt_ts(ts)})
    } else {
        json!({"event_type": "user_login_attempt", "service": "directory", "auth_method": "password", "mfa": mfa,
               "mfa_meta": {"type": if mfa { "totp" } else { "none" }}})
    };
    if let Value::Object(m) = &mut event {
        m.insert("id".into(), json!(id));
        m.insert("timestamp".into(), json!(fmt_ts(ts)));
        m.insert("organization".into(), json!(org_id));
        m.insert("success".into(), json!(success));
        m.insert("client_ip".into(), json!(ip));
        m.insert("initiated_by".into(), initiated);
        m.insert(
            "resource".into(),
            json!({"id": u.id, "type": "user", "username": u.username}),
        );
        m.insert("geoip".into(), geoip);
        m.insert("useragent".into(), user_agent(os));
        if !success {
            m.insert("error_message".into(), json!("invalid credentials"));
        }
    }
    let service = match event["service"].as_str() {
        Some("sso") => "sso",
        Some("systems") => "systems",
        _ => "directory",
    };
    (service, event)
}

fn admin_event(
    rng: &mut ChaCha8Rng,
    id: &str,
    ts: Timestamp,
    org_id: &str,
    users: &[UserPlan],
    domain: &str,
) -> (&'static str, Value) {
    let admin_email = format!("it-admin@{domain}");
    let initiated =
        json!({"id": format!("{}ad", &org_id[..22]), "type": "admin", "email": admin_email});
    let mut event = match (rng.random_range(0..4), users.is_empty()) {
        (0, _) | (_, true) => {
            json!({"event_type": "admin_login_attempt", "service": "directory", "success": true, "mfa": true, "auth_method": "password"})
        }
        (k, false) => {
            let u = &users[rng.random_range(0..users.len())];
            let event_type = ["user_update", "user_create", "user_group_update"][k - 1];
            json!({"event_type": event_type, "service": "directory", "success": true,
                   "resource": {"id": u.id, "type": "user", "username": u.username},
                   "changes": [{"field": "department", "from": "", "to": DEPARTMENTS[u.dept].0}]})
        }
    };
    if let Value::Object(m) = &mut event {
        m.insert("id".into(), json!(id));
        m.insert("timestamp".into(), json!(fmt_ts(ts)));
        m.insert("organization".into(), json!(org_id));
        m.insert("client_ip".into(), json!("192.0.2.10"));
        m.insert("initiated_by".into(), initiated);
        m.insert("geoip".into(), json!({"country_code": "US", "region_name": "California", "timezone": "America/Los_Angeles"}));
        m.insert("useragent".into(), user_agent(Os::Mac));
    }
    ("directory", event)
}

fn org_record(
    id: &str,
    name: &str,
    domain: &str,
    created: Timestamp,
    users: usize,
    now: Timestamp,
) -> Value {
    let password_policy = json!({
        "minLength": 10, "enableMinLength": true,
        "needsLowercase": true, "needsUppercase": true, "needsNumeric": true, "needsSymbolic": false,
        "passwordExpirationInDays": 90, "enablePasswordExpirationInDays": true,
        "maxHistory": 5, "enableMaxHistory": true,
        "maxLoginAttempts": 10, "enableMaxLoginAttempts": true,
        "lockoutTimeInSeconds": 600, "enableLockoutTimeInSeconds": true,
        "resetLockoutCounterMinutes": 10, "enableResetLockoutCounter": true,
        "minChangePeriodInDays": 1, "enableMinChangePeriodInDays": true,
        "disallowCommonlyUsedPasswords": true, "disallowSequentialOrRepetitiveChars": true,
        "allowUsernameSubstring": false, "daysBeforeExpirationToForceReset": 7,
        "enableDaysBeforeExpirationToForceReset": true,
        "allowUnenrolledMFAPasswordReset": false, "enableRecoveryEmail": true,
        "effectiveDate": fmt_ts(created + days(30)), "gracePeriodDate": fmt_ts(created + days(44)),
    });
    json!({
        "_id": id, "id": id, "displayName": name, "logoUrl": "", "created": fmt_ts(created),
        "accountType": "standard", "provider": Value::Null, "hasStripeCustomerId": true,
        "entitlement": {"billingModel": "per_user", "isManuallyBilled": false, "pricePerUserSum": 0,
                        "entitlementProducts": [{"name": "Platform Prime", "productCategory": "directory", "committedUsers": users.max(10), "maxUserCount": users.max(10) * 2, "pricePerUser": 0}]},
        "settings": {
            "name": name, "contactName": "IT Team", "contactEmail": format!("it@{domain}"),
            "emailDisclaimer": "", "logo": "", "pendingDelete": false,
            "requireAdminMFA": true, "passwordCompliance": "custom", "systemUserPasswordExpirationInDays": 90,
            "systemUsersCanEdit": true, "systemUsersCap": 0, "disableLdap": false, "enableGoogleApps": false,
            "userPortal": {"idleSessionDurationMinutes": 60, "cookieExpirationType": "session"},
            "features": {
                "systemInsights": {"enabled": true, "enableNewDarwin": true, "enableNewWindows": true, "enableNewLinux": true,
                                   "createdAt": fmt_ts(created), "updatedAt": fmt_ts(now - days(200))},
                "directoryInsights": {"enabled": true},
                "directoryInsightsPremium": {"enabled": false},
            },
            "windowsMDM": {"enabled": true, "autoEnroll": false},
            "newSystemUserStateDefaults": {"applicationImport": "STAGED", "csvImport": "STAGED", "manualEntry": "ACTIVATED"},
            "passwordPolicy": password_policy,
        },
    })
}
