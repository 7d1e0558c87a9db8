//! JC-I13: sudo on devices only through an allowlisted user group. Reads who may log in to each
//! device (`device_access`: `/api/v2/systems/{id}/users`, each user with the paths that bind
//! them and the compiled sudo attributes), the user groups (ids and names for the allowlist, and
//! their own `attributes.sudo`) and the users (their own `sudo` / `passwordless_sudo` flags,
//! which grant sudo on every device they are bound to, not through any group).

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::Finding;
use super::context::{Ctx, device_name, user_name};
use super::json::{at, bool_at, id_of, show, str_at};
use super::kinds::*;
use super::record::Record;

/// Sudo read from a set of attributes: `Ok(None)` when no sudo is granted.
fn sudo_of(attributes: Option<&Record>) -> Result<Option<bool>, String> {
    let Some(sudo) = attributes.and_then(|a| at(a, "sudo")) else {
        return Ok(None);
    };
    match (bool_at(sudo, "enabled"), at(sudo, "withoutPassword")) {
        (Some(false), _) => Ok(None),
        (Some(true), None) => Ok(Some(false)),
        (Some(true), Some(_)) => bool_at(sudo, "withoutPassword")
            .map(Some)
            .ok_or_else(|| format!("sudo.withoutPassword={}", show(sudo, "withoutPassword"))),
        (None, _) => Err(format!("sudo.enabled={}", show(sudo, "enabled"))),
    }
}

/// The sudo compiled from every path (`compiledAttributes.sudo`). Association attributes are
/// optional in the API: a binding made without them grants no sudo, and JumpCloud then sends no
/// `sudo` (or no `compiledAttributes`, or `null`). That absence is read as no compiled sudo;
/// the paths and the user's own flags are still read, so a grant shown anywhere is judged. A
/// value that is there but unreadable (not an object, `sudo.enabled` not a boolean) fails.
fn compiled_sudo(row: &Record) -> Result<Option<bool>, String> {
    match at(row, "compiledAttributes") {
        None => Ok(None),
        Some(compiled) if !compiled.is_object() => Err(format!(
            "compiledAttributes={}",
            show(row, "compiledAttributes")
        )),
        Some(compiled) => {
            sudo_of(Some(compiled)).map_err(|why| format!("compiledAttributes.{why}"))
        }
    }
}

fn without_password(passwordless: bool) -> &'static str {
    if passwordless {
        " without a password"
    } else {
        ""
    }
}

/// What one path grants: the user group it goes through (if any) and the sudo it carries.
struct PathGrant<'a> {
    group: Option<&'a str>,
    sudo: Option<bool>,
}

fn path_grant<'a>(
    path: &'a Record,
    group_sudo: &BTreeMap<&str, Result<Option<bool>, String>>,
) -> Result<PathGrant<'a>, String> {
    let hops = path
        .as_array()
        .filter(|hops| !hops.is_empty())
        .ok_or_else(|| "a path that is not a list of hops".to_owned())?;
    let mut grant = PathGrant {
        group: None,
        sudo: None,
    };
    let mut add = |sudo: Option<bool>| {
        grant.sudo = match (grant.sudo, sudo) {
            (None, other) | (other, None) => other,
            (Some(a), Some(b)) => Some(a || b),
        }
    };
    for hop in hops {
        add(sudo_of(at(hop, "attributes"))?);
        if str_at(hop, "to.type") == Some("user_group") {
            let group = str_at(hop, "to.id").ok_or("a user group hop without an id")?;
            if let Some(sudo) = group_sudo.get(group) {
                add(sudo
                    .clone()
                    .map_err(|why| format!("user group {group} {why}"))?);
            }
            grant.group.get_or_insert(group);
        }
    }
    Ok(grant)
}

pub(super) fn i13_device_sudo(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let access = ctx.children(DEVICE_ACCESS)?;
    let users: BTreeMap<String, &Record> =
        ctx.records(USERS)?.iter().map(|u| (id_of(u), u)).collect();
    let groups = ctx.records(USER_GROUPS)?;
    let allow_list = ctx.settings.sudo_group_allow_list_or_default();
    let group_names: BTreeMap<&str, &str> = groups
        .iter()
        .filter_map(|g| Some((str_at(g, "id")?, str_at(g, "name").unwrap_or(""))))
        .collect();
    let group_sudo: BTreeMap<&str, Result<Option<bool>, String>> = groups
        .iter()
        .filter_map(|g| Some((str_at(g, "id")?, sudo_of(at(g, "attributes")))))
        .collect();
    let allowed: BTreeSet<&str> = group_names
        .iter()
        .filter(|(id, name)| {
            allow_list
                .iter()
                .any(|entry| entry == *id || entry.eq_ignore_ascii_case(name))
        })
        .map(|(id, _)| *id)
        .collect();
    let unmatched: Vec<&String> = allow_list
        .iter()
        .filter(|entry| {
            !group_names
                .iter()
                .any(|(id, name)| *entry == id || entry.eq_ignore_ascii_case(name))
        })
        .collect();
    let group_label = |id: &str| match group_names.get(id) {
        Some(name) => format!("user group {name} ({id})"),
        None => format!("user group {id} (not in user_groups)"),
    };
    let mut by_device: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for (device, row) in access {
        by_device.entry(device).or_default().push(row);
    }
    let mut allowed_grants = 0u64;
    for device in devices {
        f.evaluated += 1;
        let device_id = id_of(device);
        let mut problems = Vec::new();
        for row in by_device.get(device_id.as_str()).into_iter().flatten() {
            let user_id = id_of(row);
            let user = users.get(&user_id);
            let who = user.map_or_else(|| user_id.clone(), |u| user_name(u));
            let mut fail = |why: String| problems.push(format!("{who}: {why}"));
            // The route lists users only; anything else is not a grant this control can judge.
            if str_at(row, "type").is_some_and(|t| t != "user") {
                fail(format!("listed as a {}, not a user", show(row, "type")));
                continue;
            }
            let compiled = match compiled_sudo(row) {
                Ok(sudo) => sudo,
                Err(why) => {
                    fail(format!("compiledAttributes not readable ({why})"));
                    continue;
                }
            };
            let Some(paths) = at(row, "paths")
                .and_then(Record::as_array)
                .filter(|p| !p.is_empty())
            else {
                fail(format!(
                    "paths {}: how the user is bound cannot be read",
                    match at(row, "paths") {
                        None => "absent",
                        Some(_) => "empty or not a list",
                    }
                ));
                continue;
            };
            let mut explained = false;
            for path in paths {
                let grant = match path_grant(path, &group_sudo) {
                    Ok(grant) => grant,
                    Err(why) => {
                        fail(format!("path not readable ({why})"));
                        explained = true;
                        continue;
                    }
                };
                let Some(passwordless) = grant.sudo else {
                    continue;
                };
                explained = true;
                match grant.group {
                    Some(group) if allowed.contains(group) => allowed_grants += 1,
                    Some(group) => fail(format!(
                        "sudo{} through {}, not on sudoGroupAllowList",
                        without_password(passwordless),
                        group_label(group)
                    )),
                    None => fail(format!(
                        "sudo{} through a direct user -> device binding",
                        without_password(passwordless)
                    )),
                }
            }
            match user.map(|u| (bool_at(u, "sudo"), bool_at(u, "passwordless_sudo"))) {
                None => fail(format!(
                    "user {user_id} is not in the users evidence: its own sudo flags cannot be read"
                )),
                Some((Some(true), passwordless)) => {
                    explained = true;
                    fail(format!(
                        "sudo{} through the user's own sudo flag (every bound device)",
                        without_password(passwordless == Some(true))
                    ));
                }
                Some((Some(false), _)) => {}
                Some((None, _)) => fail(format!(
                    "the user's own sudo flag is not readable (sudo={})",
                    user.map_or_else(|| "absent".to_owned(), |u| show(u, "sudo"))
                )),
            }
            if let Some(passwordless) = compiled
                && !explained
            {
                fail(format!(
                    "compiledAttributes grant sudo{} through no path shown",
                    without_password(passwordless)
                ));
            }
        }
        if !problems.is_empty() {
            f.fail(device_id, device_name(device), problems.join("; "));
        }
    }
    if allow_list.is_empty() {
        f.notes.push(
            "sudoGroupAllowList is empty: no user group is allowlisted, so every sudo grant on a device fails."
                .to_owned(),
        );
    }
    if !unmatched.is_empty() {
        f.notes.push(format!(
            "sudoGroupAllowList entries naming no user group: {}.",
            unmatched
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if allowed_grants > 0 {
        f.notes.push(format!(
            "{allowed_grants} sudo grants on devices through allowlisted groups."
        ));
    }
    Ok(f)
}
