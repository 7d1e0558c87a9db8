//! The evaluation context: scope (excluded groups) and indexes computed from the evidence,
//! and the accessors the controls share to read devices, users and policies.

use std::collections::{BTreeMap, BTreeSet};

use super::record::Record;

use super::catalog::Finding;
use super::evidence::{EvidenceSet, Unavailable};
use super::json::{as_f64, at, bool_at, f64_at, id_of, show, str_at};
use super::kinds::*;
use super::policy_days::PolicyDays;
use super::policy_results::PolicyResults;
use super::settings::ControlSettings;
use super::sign_ins::SignIns;

/// OS family of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Mac,
    Windows,
    Linux,
    Other,
}

impl Family {
    pub(super) fn of(device: &Record) -> Family {
        let family = str_at(device, "osFamily")
            .unwrap_or("")
            .to_ascii_lowercase();
        let os = str_at(device, "os").unwrap_or("").to_ascii_lowercase();
        match family.as_str() {
            "darwin" | "macos" => Family::Mac,
            "windows" => Family::Windows,
            "linux" => Family::Linux,
            _ if os.contains("mac") => Family::Mac,
            _ if os.contains("windows") => Family::Windows,
            _ if [
                "ubuntu", "debian", "fedora", "linux", "centos", "rhel", "red hat", "amazon",
            ]
            .iter()
            .any(|d| os.contains(d)) =>
            {
                Family::Linux
            }
            _ => Family::Other,
        }
    }

    pub(super) fn key(self) -> &'static str {
        match self {
            Family::Mac => "darwin",
            Family::Windows => "windows",
            Family::Linux => "linux",
            Family::Other => "other",
        }
    }
}

pub struct Ctx<'a> {
    pub(super) ev: &'a EvidenceSet,
    pub(super) settings: &'a ControlSettings,
    pub(super) now: jiff::Timestamp,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(
        ev: &'a EvidenceSet,
        settings: &'a ControlSettings,
        now: jiff::Timestamp,
    ) -> Self {
        Ctx { ev, settings, now }
    }

    pub(super) fn records(&self, kind: &str) -> Result<&'a [Record], String> {
        self.ev
            .records(kind)
            .map_err(|e: Unavailable| e.to_string())
    }

    pub(super) fn children(&self, kind: &str) -> Result<Vec<(&'a str, &'a Record)>, String> {
        self.ev.children(kind).map_err(|e| e.to_string())
    }

    pub(super) fn organization(&self) -> Result<&'a Record, String> {
        self.records(ORGANIZATION)?
            .first()
            .ok_or_else(|| "the organization record is missing".to_owned())
    }

    /// Ids of members of the given groups (from a `*_group_members` kind).
    pub(super) fn members_of(
        &self,
        kind: &str,
        groups: &[String],
    ) -> Result<BTreeSet<String>, String> {
        if groups.is_empty() {
            return Ok(BTreeSet::new());
        }
        let wanted: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
        Ok(self
            .children(kind)?
            .into_iter()
            .filter(|(group, _)| wanted.contains(group))
            .map(|(_, member)| id_of(member))
            .collect())
    }

    /// Devices in scope (not in an excluded device group), sorted by id, with the number
    /// excluded.
    fn devices(&self) -> Result<(Vec<&'a Record>, usize), String> {
        let excluded = self.members_of(
            DEVICE_GROUP_MEMBERS,
            &self.settings.excluded_device_group_ids,
        )?;
        let mut devices: Vec<&Record> = self.records(DEVICES)?.iter().collect();
        devices.sort_by_key(|d| id_of(d));
        let before = devices.len();
        devices.retain(|d| !excluded.contains(&id_of(d)));
        Ok((devices.clone(), before - devices.len()))
    }

    /// Devices in scope, sorted by id, and a finding that already notes how many the
    /// settings' excluded groups left out: where every per-device control starts.
    pub(super) fn device_scope(&self) -> Result<(Vec<&'a Record>, Finding), String> {
        let (devices, excluded) = self.devices()?;
        Ok((devices, finding_excluding(excluded, "devices")))
    }

    /// Users in scope, sorted by id, and a finding that already notes how many the settings'
    /// excluded groups left out: where every per-user control starts.
    pub(super) fn user_scope(&self) -> Result<(Vec<&'a Record>, Finding), String> {
        let (users, excluded) = self.users()?;
        Ok((users, finding_excluding(excluded, "users")))
    }

    /// Users in scope (not in an excluded user group), sorted by id, with the number excluded.
    fn users(&self) -> Result<(Vec<&'a Record>, usize), String> {
        let excluded =
            self.members_of(USER_GROUP_MEMBERS, &self.settings.excluded_user_group_ids)?;
        let mut users: Vec<&Record> = self.records(USERS)?.iter().collect();
        users.sort_by_key(|u| id_of(u));
        let before = users.len();
        users.retain(|u| !excluded.contains(&id_of(u)));
        Ok((users.clone(), before - users.len()))
    }

    /// System Insights rows of a table by system id. `Err` when the kind is unavailable.
    pub(super) fn insights(
        &self,
        kind: &str,
    ) -> Result<BTreeMap<&'a str, Vec<&'a Record>>, String> {
        let mut map: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
        for row in self.records(kind)? {
            if let Some(system) = str_at(row, "system_id") {
                map.entry(system).or_default().push(row);
            }
        }
        Ok(map)
    }

    /// Policy details by policy id.
    pub(super) fn policies(&self) -> Result<BTreeMap<String, &'a Record>, String> {
        Ok(self
            .records(POLICY_DETAILS)?
            .iter()
            .map(|p| (id_of(p), p))
            .collect())
    }

    /// The latest policy results, in (policy id, device id) order.
    pub(super) fn policy_results(&self) -> Result<&'a PolicyResults, String> {
        self.ev.policy_results().map_err(|e| e.to_string())
    }

    /// The policy results history, as day states per (policy, device).
    pub(super) fn policy_days(&self) -> Result<&'a PolicyDays, String> {
        self.ev.policy_days().map_err(|e| e.to_string())
    }

    /// The sign-ins read from the Directory Insights events.
    pub(super) fn sign_ins(&self) -> Result<&'a SignIns, String> {
        self.ev.sign_ins().map_err(|e| e.to_string())
    }
}

pub(super) fn system_of(status: &Record) -> &str {
    str_at(status, "systemID")
        .or_else(|| str_at(status, "system_id"))
        .unwrap_or("")
}

pub(super) fn device_name(device: &Record) -> String {
    str_at(device, "displayName")
        .or_else(|| str_at(device, "hostname"))
        .unwrap_or("")
        .to_owned()
}

pub(super) fn user_name(user: &Record) -> String {
    str_at(user, "username")
        .or_else(|| str_at(user, "email"))
        .unwrap_or("")
        .to_owned()
}

pub(super) fn policy_name(policy: &Record) -> String {
    str_at(policy, "name").unwrap_or("").to_owned()
}

/// Template name + display name, lower case, for matching policy kinds.
pub(super) fn template_text(policy: &Record) -> String {
    format!(
        "{} {}",
        str_at(policy, "template.name").unwrap_or(""),
        str_at(policy, "template.displayName").unwrap_or("")
    )
    .to_ascii_lowercase()
}

pub(super) fn is_screen_lock_policy(policy: &Record) -> bool {
    let text = template_text(policy);
    [
        "screen_lock",
        "lock_screen",
        "screensaver",
        "screen lock",
        "lock screen",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

pub(super) fn is_firewall_policy(policy: &Record) -> bool {
    let text = template_text(policy);
    ["firewall", "ufw", "iptables"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// The idle timeout (seconds) configured in a screen-lock policy: the value of the config field
/// whose name mentions a timeout or idle time.
pub(super) fn policy_timeout_seconds(policy: &Record) -> Option<f64> {
    let field_names: BTreeMap<&str, &str> = at(policy, "configFields")
        .and_then(Record::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| Some((str_at(f, "id")?, str_at(f, "name")?)))
                .collect()
        })
        .unwrap_or_default();
    let values = at(policy, "values").and_then(Record::as_array)?;
    values.iter().find_map(|value| {
        let name = str_at(value, "configFieldName")
            .or_else(|| str_at(value, "configFieldID").and_then(|id| field_names.get(id).copied()))
            .unwrap_or("")
            .to_ascii_lowercase();
        if name.contains("timeout") || name.contains("idle") || name.contains("delay") {
            as_f64(at(value, "value")?)
        } else {
            None
        }
    })
}

pub(super) fn status_state(status: &Record) -> &str {
    match str_at(status, "state") {
        Some(state) => state,
        None => match bool_at(status, "success") {
            Some(true) => "success",
            Some(false) => "failed",
            None => "unknown",
        },
    }
}

pub(super) fn insights_state(device: &Record) -> String {
    show(device, "systemInsights.state")
}

pub(super) fn days_between(earlier: jiff::Timestamp, later: jiff::Timestamp) -> i64 {
    (later.as_second() - earlier.as_second()).div_euclid(86_400)
}

/// A finding whose first note, if any, says how many `what` the excluded groups left out.
fn finding_excluding(excluded: usize, what: &str) -> Finding {
    let mut finding = Finding::default();
    if excluded > 0 {
        finding.notes.push(format!(
            "{excluded} {what} excluded by the settings' excluded groups."
        ));
    }
    finding
}

pub(super) fn os_version_of(device: &Record, si: Option<&Vec<&Record>>) -> Option<String> {
    si.and_then(|rows| rows.first())
        .and_then(|row| str_at(row, "version"))
        .or_else(|| str_at(device, "osVersionDetail.version"))
        .or_else(|| str_at(device, "version"))
        .map(str::to_owned)
}

pub(super) fn os_major(device: &Record, si: Option<&Vec<&Record>>) -> Option<u64> {
    si.and_then(|rows| rows.first())
        .and_then(|row| f64_at(row, "major"))
        .or_else(|| f64_at(device, "osVersionDetail.major"))
        .map(|m| m as u64)
        .or_else(|| {
            os_version_of(device, si).and_then(|v| v.split('.').next().and_then(|m| m.parse().ok()))
        })
}

/// Why a device of no known OS family is not evaluated by a per-family control.
pub(super) fn unknown_family(device: &Record) -> String {
    format!(
        "OS family not recognised: osFamily={}, os={}",
        show(device, "osFamily"),
        show(device, "os")
    )
}
