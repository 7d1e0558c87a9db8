//! JC-E12 (macOS System Integrity Protection) and JC-E13 (Secure Boot where the firmware
//! supports it), from System Insights `sip_config` and `secureboot`.

use super::catalog::Finding;
use super::context::*;
use super::json::{bool_at, id_of, show, str_at};
use super::kinds::*;

pub(super) fn e12_macos_sip(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let sip = ctx.insights(SI_SIP_CONFIG)?;
    for device in devices {
        if Family::of(device) != Family::Mac {
            continue;
        }
        f.evaluated += 1;
        let id = id_of(device);
        let Some(rows) = sip.get(id.as_str()).filter(|rows| !rows.is_empty()) else {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "no System Insights sip_config rows (systemInsights.state={}): SIP is not confirmed",
                    insights_state(device)
                ),
            );
            continue;
        };
        let main: Vec<_> = rows
            .iter()
            .filter(|r| {
                str_at(r, "config_flag").is_some_and(|flag| flag.eq_ignore_ascii_case("sip"))
            })
            .collect();
        if main.is_empty() {
            f.fail(
                &id,
                device_name(device),
                "sip_config has no row for the sip flag: SIP is not confirmed",
            );
        } else if !main.iter().all(|r| bool_at(r, "enabled") == Some(true)) {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "System Integrity Protection is off (sip_config sip enabled={})",
                    show(main[0], "enabled")
                ),
            );
        }
    }
    Ok(f)
}

pub(super) fn e13_secure_boot(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let secureboot = ctx.insights(SI_SECUREBOOT)?;
    let os = ctx.insights(SI_OS_VERSION)?;
    for device in devices {
        let id = id_of(device);
        if Family::of(device) == Family::Other {
            f.skip(&id, device_name(device), unknown_family(device));
            continue;
        }
        let Some(rows) = secureboot.get(id.as_str()).filter(|rows| !rows.is_empty()) else {
            if os.get(id.as_str()).is_some_and(|rows| !rows.is_empty()) {
                // System Insights reports the device, and osquery gives no secureboot row on
                // legacy BIOS firmware (or a Mac without a T2 / Apple silicon chip).
                f.skip(
                    &id,
                    device_name(device),
                    "no secureboot row while System Insights reports the device (os_version): legacy BIOS or firmware without Secure Boot",
                );
            } else {
                f.evaluated += 1;
                f.fail(
                    &id,
                    device_name(device),
                    format!(
                        "no System Insights data (systemInsights.state={}): Secure Boot is not confirmed",
                        insights_state(device)
                    ),
                );
            }
            continue;
        };
        f.evaluated += 1;
        if !rows.iter().all(|r| bool_at(r, "secure_boot") == Some(true)) {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "Secure Boot is off (secureboot.secure_boot={})",
                    show(rows[0], "secure_boot")
                ),
            );
        }
    }
    Ok(f)
}
