//! Endpoint controls (E1-E10): encryption, screen lock, firewall, anti-malware, OS version,
//! ownership, staleness, policy results, SSH and MDM, per device in scope.

use std::collections::{BTreeMap, BTreeSet};

use super::record::Record;

use super::catalog::Finding;
use super::context::*;
use super::json::{bool_at, f64_at, id_of, show, str_at, time_at, version_cmp};
use super::kinds::*;

pub(super) fn e1_disk_encryption(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let disks = ctx.insights(SI_DISK_ENCRYPTION)?;
    let bitlocker = ctx.insights(SI_BITLOCKER)?;
    let mut other = 0;
    let mut no_insights = 0;
    for device in devices {
        let id = id_of(device);
        let family = Family::of(device);
        let fde = bool_at(device, "fde.active");
        let (rows, table) = match family {
            Family::Mac | Family::Linux => (disks.get(id.as_str()), "disk_encryption"),
            Family::Windows => (bitlocker.get(id.as_str()), "bitlocker_info"),
            Family::Other => {
                other += 1;
                continue;
            }
        };
        f.evaluated += 1;
        let Some(rows) = rows.filter(|rows| !rows.is_empty()) else {
            no_insights += 1;
            f.fail(
                &id,
                device_name(device),
                format!(
                    "no System Insights {table} data (systemInsights.state={}); the agent's fde.active={} is not confirmed",
                    insights_state(device),
                    fde.map_or("absent".to_owned(), |b| b.to_string())
                ),
            );
            continue;
        };
        let si_encrypted = match family {
            Family::Windows => {
                let system: Vec<&&Record> = rows
                    .iter()
                    .filter(|r| {
                        str_at(r, "drive_letter").is_some_and(|d| d.eq_ignore_ascii_case("C:"))
                    })
                    .collect();
                let candidates: Vec<&&Record> = if system.is_empty() {
                    rows.iter().collect()
                } else {
                    system
                };
                candidates
                    .iter()
                    .any(|r| f64_at(r, "protection_status") == Some(1.0))
            }
            _ => rows.iter().any(|r| f64_at(r, "encrypted") == Some(1.0)),
        };
        let mut why = Vec::new();
        if !si_encrypted {
            why.push(match family {
                Family::Windows => "BitLocker protection is off on the system drive".to_owned(),
                _ => "System Insights shows no encrypted volume".to_owned(),
            });
        }
        if family != Family::Linux && fde != Some(true) {
            why.push(format!("fde.active={}", show(device, "fde.active")));
        }
        if !why.is_empty() {
            f.fail(&id, device_name(device), why.join("; "));
        }
    }
    if no_insights > 0 {
        f.notes.push(format!(
            "{no_insights} devices have no System Insights data for this check and are listed as failing, not passing."
        ));
    }
    if other > 0 {
        f.notes.push(format!(
            "{other} devices of other OS families (mobile) were not evaluated."
        ));
    }
    Ok(f)
}

pub(super) fn e1_recovery_key(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    for device in devices {
        if !matches!(Family::of(device), Family::Mac | Family::Windows) {
            continue;
        }
        match bool_at(device, "fde.active") {
            Some(true) => {}
            Some(false) => continue,
            None => {
                f.skip(
                    id_of(device),
                    device_name(device),
                    format!(
                        "encryption state not readable (fde.active={})",
                        show(device, "fde.active")
                    ),
                );
                continue;
            }
        }
        f.evaluated += 1;
        if bool_at(device, "fde.keyPresent") != Some(true) {
            f.fail(
                id_of(device),
                device_name(device),
                format!(
                    "disk encrypted but the recovery key is not escrowed (fde.keyPresent={})",
                    show(device, "fde.keyPresent")
                ),
            );
        }
    }
    Ok(f)
}

pub(super) fn e2_screen_lock(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let policies = ctx.policies()?;
    let limit = f64::from(ctx.settings.screen_lock_minutes_or_default()) * 60.0;
    let mut per_device: BTreeMap<&str, Vec<(&Record, &str)>> = BTreeMap::new();
    for result in ctx.policy_results()?.iter() {
        if let Some(policy) = policies
            .get(result.policy_id)
            .filter(|p| is_screen_lock_policy(p))
        {
            per_device
                .entry(result.system_id)
                .or_default()
                .push((policy, result.state));
        }
    }
    let unreadable: BTreeSet<String> = policies
        .values()
        .filter(|p| is_screen_lock_policy(p) && policy_timeout_seconds(p).is_none())
        .map(|p| policy_name(p))
        .collect();
    for device in devices {
        if Family::of(device) == Family::Other {
            f.skip(id_of(device), device_name(device), unknown_family(device));
            continue;
        }
        f.evaluated += 1;
        let id = id_of(device);
        let Some(bound) = per_device.get(id.as_str()) else {
            f.fail(
                &id,
                device_name(device),
                "no screen-lock policy has a result on this device",
            );
            continue;
        };
        let mut reasons = Vec::new();
        let mut ok = false;
        for &(policy, state) in bound {
            match policy_timeout_seconds(policy) {
                _ if state != "success" => {
                    reasons.push(format!("{}: latest result {state}", policy_name(policy)))
                }
                None => reasons.push(format!(
                    "{}: idle timeout not readable",
                    policy_name(policy)
                )),
                Some(seconds) if seconds > limit || seconds <= 0.0 => reasons.push(format!(
                    "{}: idle timeout {seconds} s exceeds {limit} s",
                    policy_name(policy)
                )),
                Some(_) => ok = true,
            }
        }
        if !ok {
            f.fail(&id, device_name(device), reasons.join("; "));
        }
    }
    if !unreadable.is_empty() {
        f.notes.push(format!(
            "Screen-lock policies without a readable timeout value: {}.",
            unreadable.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    f.notes.push(
        "Policy timeouts are read in seconds; screen locks configured outside JumpCloud policies cannot be seen.".to_owned(),
    );
    Ok(f)
}

pub(super) fn e3_firewall(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let alf = ctx.insights(SI_ALF)?;
    let center = ctx.insights(SI_SECURITY_CENTER)?;
    let policies = ctx.policies()?;
    let mut firewall_ok: BTreeSet<&str> = BTreeSet::new();
    let mut firewall_bound: BTreeSet<&str> = BTreeSet::new();
    for result in ctx.policy_results()?.iter() {
        if policies
            .get(result.policy_id)
            .is_some_and(|p| is_firewall_policy(p))
        {
            firewall_bound.insert(result.system_id);
            if result.state == "success" {
                firewall_ok.insert(result.system_id);
            }
        }
    }
    for device in devices {
        let id = id_of(device);
        let why = match Family::of(device) {
            Family::Mac => match alf.get(id.as_str()) {
                None => Some(format!(
                    "no System Insights alf data (systemInsights.state={})",
                    insights_state(device)
                )),
                Some(rows)
                    if rows
                        .iter()
                        .any(|r| f64_at(r, "global_state").unwrap_or(0.0) >= 1.0) =>
                {
                    None
                }
                Some(rows) => Some(format!(
                    "application firewall off (alf.global_state={})",
                    rows.first()
                        .map_or("absent".to_owned(), |r| show(r, "global_state"))
                )),
            },
            Family::Windows => match center.get(id.as_str()) {
                None => Some(format!(
                    "no System Insights windows_security_center data (systemInsights.state={})",
                    insights_state(device)
                )),
                Some(rows)
                    if rows.iter().any(|r| {
                        str_at(r, "firewall").is_some_and(|s| s.eq_ignore_ascii_case("good"))
                    }) =>
                {
                    None
                }
                Some(rows) => Some(format!(
                    "Windows Security Center firewall={}",
                    rows.first()
                        .map_or("absent".to_owned(), |r| show(r, "firewall"))
                )),
            },
            Family::Linux => {
                if firewall_ok.contains(id.as_str()) {
                    None
                } else if firewall_bound.contains(id.as_str()) {
                    Some("firewall policy did not succeed".to_owned())
                } else {
                    Some("no firewall policy has a result on this device".to_owned())
                }
            }
            Family::Other => {
                f.skip(&id, device_name(device), unknown_family(device));
                continue;
            }
        };
        f.evaluated += 1;
        if let Some(why) = why {
            f.fail(&id, device_name(device), why);
        }
    }
    Ok(f)
}

pub(super) fn e4_antivirus(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let products = ctx.insights(SI_SECURITY_PRODUCTS)?;
    let os = ctx.insights(SI_OS_VERSION)?;
    let allow: Vec<String> = ctx
        .settings
        .antivirus_allow_list_or_default()
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let mac_min = u64::from(ctx.settings.macos_builtin_protection_min_major_or_default());
    let mut linux = 0;
    for device in devices {
        let id = id_of(device);
        let why = match Family::of(device) {
            Family::Windows => match products.get(id.as_str()) {
                None => Some(format!(
                    "no System Insights windows_security_products data (systemInsights.state={})",
                    insights_state(device)
                )),
                Some(rows) => {
                    let antivirus: Vec<&&Record> = rows
                        .iter()
                        .filter(|r| {
                            str_at(r, "type").is_some_and(|t| t.eq_ignore_ascii_case("antivirus"))
                        })
                        .collect();
                    let good = antivirus.iter().any(|r| {
                        let name = str_at(r, "name").unwrap_or("").to_ascii_lowercase();
                        allow.iter().any(|a| name.contains(a.as_str()))
                            && str_at(r, "state").is_some_and(|s| s.eq_ignore_ascii_case("on"))
                            && bool_at(r, "signatures_up_to_date") == Some(true)
                    });
                    if good {
                        None
                    } else if antivirus.is_empty() {
                        Some("no antivirus product reported".to_owned())
                    } else {
                        Some(
                            antivirus
                                .iter()
                                .map(|r| {
                                    format!(
                                        "{}: state={}, signatures_up_to_date={}",
                                        show(r, "name"),
                                        show(r, "state"),
                                        show(r, "signatures_up_to_date")
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("; ")
                                + " (needs an allow-listed product On with current signatures)",
                        )
                    }
                }
            },
            Family::Mac => match os_major(device, os.get(id.as_str())) {
                _ if mac_min == 0 => {
                    Some("macOS built-in protection is not accepted by the settings".to_owned())
                }
                Some(major) if major >= mac_min => None,
                Some(major) => Some(format!(
                    "macOS {major} predates the built-in protection baseline (macOS {mac_min})"
                )),
                None => Some("macOS version unknown".to_owned()),
            },
            Family::Linux => {
                linux += 1;
                continue;
            }
            Family::Other => {
                f.skip(&id, device_name(device), unknown_family(device));
                continue;
            }
        };
        f.evaluated += 1;
        if let Some(why) = why {
            f.fail(&id, device_name(device), why);
        }
    }
    if linux > 0 {
        f.notes.push(format!(
            "{linux} Linux devices were not evaluated: no anti-malware evidence is collected for Linux."
        ));
    }
    Ok(f)
}

pub(super) fn e5_os_version(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let os = ctx.insights(SI_OS_VERSION)?;
    let baselines = ctx.settings.os_baselines_or_default();
    let mut without_baseline: BTreeMap<String, u64> = BTreeMap::new();
    for device in devices {
        let id = id_of(device);
        let si = os.get(id.as_str());
        let family = Family::of(device);
        let distro = si
            .and_then(|rows| rows.first())
            .and_then(|r| str_at(r, "name"))
            .filter(|_| family == Family::Linux)
            .or_else(|| str_at(device, "osVersionDetail.distributionName"))
            .or_else(|| str_at(device, "os"))
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let baseline = if family == Family::Linux {
            baselines.get(&distro).or_else(|| baselines.get("linux"))
        } else {
            baselines.get(family.key())
        };
        let Some(baseline) = baseline else {
            let label = if family == Family::Linux && !distro.is_empty() {
                distro
            } else {
                family.key().to_owned()
            };
            *without_baseline.entry(label).or_default() += 1;
            continue;
        };
        f.evaluated += 1;
        match os_version_of(device, si) {
            None => f.fail(&id, device_name(device), "OS version unknown"),
            Some(version)
                if !version
                    .trim_start()
                    .starts_with(|c: char| c.is_ascii_digit()) =>
            {
                f.fail(
                    &id,
                    device_name(device),
                    format!("OS version {version:?} is not a dotted number"),
                )
            }
            Some(version) if version_cmp(&version, baseline).is_lt() => f.fail(
                &id,
                device_name(device),
                format!(
                    "{} {version} is below the baseline {baseline}",
                    show(device, "os")
                ),
            ),
            Some(_) => {}
        }
    }
    for (family, count) in without_baseline {
        f.notes.push(format!(
            "{count} {family} devices were not evaluated: no baseline is set for {family}."
        ));
    }
    Ok(f)
}

pub(super) fn e6_owner(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let users: BTreeSet<String> = ctx.records(USERS)?.iter().map(id_of).collect();
    for device in devices {
        f.evaluated += 1;
        match str_at(device, "primarySystemUser.id").filter(|id| !id.is_empty()) {
            None => f.fail(id_of(device), device_name(device), "no primary user"),
            Some(owner) if !users.contains(owner) => f.fail(
                id_of(device),
                device_name(device),
                format!("primary user {owner} does not exist in the directory"),
            ),
            Some(_) => {}
        }
    }
    Ok(f)
}

pub(super) fn e7_stale(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let days = i64::from(ctx.settings.stale_device_days_or_default());
    for device in devices {
        f.evaluated += 1;
        match time_at(device, "lastContact") {
            None => f.fail(
                id_of(device),
                device_name(device),
                "never contacted JumpCloud (lastContact empty)",
            ),
            Some(last) => {
                let age = days_between(last, ctx.now);
                if age > days {
                    f.fail(
                        id_of(device),
                        device_name(device),
                        format!("last contact {last} ({age} days ago)"),
                    );
                }
            }
        }
    }
    Ok(f)
}

pub(super) fn e8_policy_failures(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let all_devices: BTreeSet<String> = ctx.records(DEVICES)?.iter().map(id_of).collect();
    let policies = ctx.policies()?;
    let mut per_device: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut with_results: BTreeSet<&str> = BTreeSet::new();
    let mut orphaned = 0u64;
    for result in ctx.policy_results()?.iter() {
        let (policy_id, system) = (result.policy_id, result.system_id);
        if !all_devices.contains(system) {
            orphaned += 1;
            continue;
        }
        with_results.insert(system);
        let state = result.state;
        // The documented states are success, failed and pending; any other (or none) could
        // hide a failure, so it fails too.
        if state == "failed" || !["success", "pending"].contains(&state) {
            let name = policies
                .get(policy_id)
                .map_or_else(|| policy_id.to_owned(), |p| policy_name(p));
            per_device
                .entry(system)
                .or_default()
                .push(if state == "failed" {
                    name
                } else {
                    format!("{name} (result state {state:?} not readable)")
                });
        }
    }
    for device in devices {
        let id = id_of(device);
        if !with_results.contains(id.as_str()) {
            continue;
        }
        f.evaluated += 1;
        if let Some(failed) = per_device.get(id.as_str()) {
            f.fail(
                &id,
                device_name(device),
                format!("failed policies: {}", failed.join(", ")),
            );
        }
    }
    if orphaned > 0 {
        f.notes.push(format!(
            "{orphaned} policy results of devices that no longer exist were ignored (joined against the live device list)."
        ));
    }
    Ok(f)
}

pub(super) fn e9_ssh(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    for device in devices {
        match Family::of(device) {
            Family::Mac | Family::Linux => {}
            Family::Windows => continue,
            Family::Other => {
                f.skip(id_of(device), device_name(device), unknown_family(device));
                continue;
            }
        }
        f.evaluated += 1;
        let mut why = Vec::new();
        // Only a readable `false` passes: an absent or unreadable flag is not "disabled".
        for (field, what) in [
            ("allowSshRootLogin", "SSH root login"),
            (
                "allowSshPasswordAuthentication",
                "SSH password authentication",
            ),
        ] {
            match bool_at(device, field) {
                Some(false) => {}
                Some(true) => why.push(format!("{what} allowed")),
                None => why.push(format!(
                    "{what} not readable ({field}={})",
                    show(device, field)
                )),
            }
        }
        if !why.is_empty() {
            f.fail(id_of(device), device_name(device), why.join("; "));
        }
    }
    Ok(f)
}

/// The `mdm.enrollmentType` values JumpCloud documents for an enrolled device (the fourth,
/// `unknown`, does not show an enrollment).
const MDM_ENROLLMENT_TYPES: &[&str] = &["automated device", "device", "user"];

/// `mdm.vendor` values JumpCloud documents for a device no MDM manages.
const MDM_NO_VENDOR: &[&str] = &["none", "unknown"];

pub(super) fn e10_mdm(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    for device in devices {
        match Family::of(device) {
            Family::Mac | Family::Windows => {}
            Family::Linux => continue,
            Family::Other => {
                f.skip(id_of(device), device_name(device), unknown_family(device));
                continue;
            }
        }
        f.evaluated += 1;
        let vendor = str_at(device, "mdm.vendor")
            .map(str::trim)
            .filter(|v| !v.is_empty() && !MDM_NO_VENDOR.iter().any(|n| v.eq_ignore_ascii_case(n)));
        let enrollment = str_at(device, "mdm.enrollmentType")
            .map(str::trim)
            .filter(|t| {
                MDM_ENROLLMENT_TYPES
                    .iter()
                    .any(|known| t.eq_ignore_ascii_case(known))
            });
        if vendor.is_none() || enrollment.is_none() {
            f.fail(
                id_of(device),
                device_name(device),
                format!(
                    "not enrolled in an MDM (mdm.vendor={}, mdm.enrollmentType={}; needs a vendor other than none/unknown and an enrollment type of {})",
                    show(device, "mdm.vendor"),
                    show(device, "mdm.enrollmentType"),
                    MDM_ENROLLMENT_TYPES.join(", ")
                ),
            );
        }
    }
    Ok(f)
}
