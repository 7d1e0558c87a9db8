//! JC-E11: local administrator accounts beyond an allowlist, from System Insights `users`
//! (JumpCloud's `admin` / `managed` columns), `groups` and `user_groups`.

use std::collections::BTreeSet;

use super::catalog::Finding;
use super::context::*;
use super::json::{bool_at, f64_at, id_of, show, str_at};
use super::kinds::*;
use super::record::Record;

/// Local groups whose members administer the device: Windows, macOS, Debian/Ubuntu, RHEL.
const ADMIN_GROUPS: [&str; 4] = ["administrators", "admin", "sudo", "wheel"];

/// A local account with administrator rights.
struct LocalAdmin {
    name: String,
    /// Created and governed by the JumpCloud agent (its rights follow the user's binding).
    managed: bool,
}

pub(super) fn e11_local_admins(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let users = ctx.insights(SI_LOCAL_USERS)?;
    let groups = ctx.insights(SI_LOCAL_GROUPS)?;
    let memberships = ctx.insights(SI_LOCAL_USER_GROUPS)?;
    let allowed: BTreeSet<String> = ctx
        .settings
        .local_admin_allow_list_or_default()
        .iter()
        .map(|name| name.to_lowercase())
        .collect();
    let mut managed = Vec::new();
    for device in devices {
        let id = id_of(device);
        let family = Family::of(device);
        if family == Family::Other {
            f.skip(&id, device_name(device), unknown_family(device));
            continue;
        }
        f.evaluated += 1;
        let Some(accounts) = users.get(id.as_str()).filter(|rows| !rows.is_empty()) else {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "no System Insights users rows (systemInsights.state={}): local administrators are not confirmed",
                    insights_state(device)
                ),
            );
            continue;
        };
        let admins = match local_admins(
            family,
            accounts,
            groups.get(id.as_str()),
            memberships.get(id.as_str()),
        ) {
            Ok(admins) => admins,
            Err(why) => {
                f.fail(&id, device_name(device), why);
                continue;
            }
        };
        let mut unlisted = Vec::new();
        for admin in admins {
            if allowed.contains(&admin.name.to_lowercase()) {
                continue;
            }
            if admin.managed {
                managed.push(format!("{} on {}", admin.name, device_name(device)));
            } else {
                unlisted.push(admin.name);
            }
        }
        if !unlisted.is_empty() {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "local administrators not on localAdminAllowList and not managed by JumpCloud: {}",
                    unlisted.join(", ")
                ),
            );
        }
    }
    if !managed.is_empty() {
        f.notes.push(format!(
            "{} JumpCloud-managed accounts have local administrator rights; they come from the user's device binding in JumpCloud (sudo / administrator), reviewed there, and do not fail here: {}.",
            managed.len(),
            managed.join(", ")
        ));
    }
    Ok(f)
}

/// The device's local administrators: accounts with `admin` 1, uid 0 (Unix superuser), or a
/// membership of an administrators group. `Err` when a row that decides it is unreadable.
fn local_admins(
    family: Family,
    accounts: &[&Record],
    groups: Option<&Vec<&Record>>,
    memberships: Option<&Vec<&Record>>,
) -> Result<Vec<LocalAdmin>, String> {
    let mut admin_gids = BTreeSet::new();
    for group in groups.into_iter().flatten() {
        let (Some(name), Some(gid)) = (
            str_at(group, "groupname").filter(|n| !n.is_empty()),
            number(group, "gid"),
        ) else {
            return Err(format!(
                "a System Insights groups row is unreadable (groupname={}, gid={}): local administrators are not confirmed",
                show(group, "groupname"),
                show(group, "gid")
            ));
        };
        if ADMIN_GROUPS.iter().any(|g| g.eq_ignore_ascii_case(name)) {
            admin_gids.insert(gid);
        }
    }
    let mut in_admin_group = BTreeSet::new();
    for membership in memberships.into_iter().flatten() {
        let (Some(uid), Some(gid)) = (number(membership, "uid"), number(membership, "gid")) else {
            return Err(format!(
                "a System Insights user_groups row is unreadable (uid={}, gid={}): local administrators are not confirmed",
                show(membership, "uid"),
                show(membership, "gid")
            ));
        };
        if admin_gids.contains(&gid) {
            in_admin_group.insert(uid);
        }
    }
    let mut known = BTreeSet::new();
    let mut admins = Vec::new();
    for account in accounts {
        let name = str_at(account, "username").filter(|n| !n.is_empty());
        let (Some(name), Some(uid), Some(admin)) =
            (name, number(account, "uid"), bool_at(account, "admin"))
        else {
            return Err(format!(
                "a System Insights users row is unreadable (username={}, uid={}, admin={}): local administrators are not confirmed",
                show(account, "username"),
                show(account, "uid"),
                show(account, "admin")
            ));
        };
        known.insert(uid);
        let superuser = family != Family::Windows && uid == 0;
        if admin || superuser || in_admin_group.contains(&uid) {
            admins.push(LocalAdmin {
                name: name.to_owned(),
                // Unreadable: not known to be JumpCloud's, so judged by the allowlist.
                managed: bool_at(account, "managed") == Some(true),
            });
        }
    }
    // A member of an administrators group without a local account (a domain account, or a
    // deleted one) still administers the device.
    for uid in in_admin_group.difference(&known) {
        admins.push(LocalAdmin {
            name: format!("uid {uid} (no users row)"),
            managed: false,
        });
    }
    Ok(admins)
}

/// A whole number, as osquery gives it (number or numeric string).
fn number(row: &Record, field: &str) -> Option<i64> {
    f64_at(row, field)
        .filter(|v| v.fract() == 0.0)
        .map(|v| v as i64)
}
