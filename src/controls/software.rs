//! JC-E15: software from a denylist absent, over System Insights `programs` (Windows), `apps`
//! (macOS) and `linux_packages` (Linux).

use std::collections::BTreeSet;

use super::catalog::Finding;
use super::context::*;
use super::json::{id_of, str_at};
use super::kinds::*;

pub(super) fn e15_software_denylist(ctx: &Ctx) -> Result<Finding, String> {
    let deny: Vec<String> = ctx
        .settings
        .software_deny_list_or_default()
        .iter()
        .map(|name| name.to_lowercase())
        .collect();
    if deny.is_empty() {
        return Err(
            "softwareDenyList is empty: there is nothing to look for; name the software to deny, or disable JC-E15-SOFTWARE-DENYLIST in disabledControls".to_owned(),
        );
    }
    let (devices, mut f) = ctx.device_scope()?;
    let programs = ctx.insights(SI_PROGRAMS)?;
    let apps = ctx.insights(SI_APPS)?;
    let packages = ctx.insights(SI_LINUX_PACKAGES)?;
    for device in devices {
        let id = id_of(device);
        let (inventory, table) = match Family::of(device) {
            Family::Windows => (&programs, "programs"),
            Family::Mac => (&apps, "apps"),
            Family::Linux => (&packages, "linux_packages"),
            Family::Other => {
                f.skip(&id, device_name(device), unknown_family(device));
                continue;
            }
        };
        f.evaluated += 1;
        let Some(rows) = inventory.get(id.as_str()).filter(|rows| !rows.is_empty()) else {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "no System Insights {table} rows (systemInsights.state={}): the software inventory is not confirmed",
                    insights_state(device)
                ),
            );
            continue;
        };
        let mut found = BTreeSet::new();
        let mut unnamed = 0;
        for row in rows {
            match str_at(row, "name").filter(|name| !name.trim().is_empty()) {
                Some(name) => {
                    let lower = name.to_lowercase();
                    if let Some(entry) = deny.iter().find(|entry| lower.contains(entry.as_str())) {
                        found.insert(format!("{name} (matches \"{entry}\")"));
                    }
                }
                None => unnamed += 1,
            }
        }
        if !found.is_empty() {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "denylisted software installed: {}",
                    found.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        } else if unnamed > 0 {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "{unnamed} {table} rows have no readable name: the denylist is not confirmed"
                ),
            );
        }
    }
    Ok(f)
}
