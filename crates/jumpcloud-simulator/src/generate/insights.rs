//! System Insights rows (osquery tables) of the devices that have System Insights enabled.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::draw::fmt_ts;
use super::systems::{LINUX_VERSIONS, MAC_VERSIONS, Os, SystemPlan, WIN_VERSIONS};
use super::{Draws, Rec};
use crate::jsonw::Obj;

/// One System Insights row, with the system id kept outside the JSON for `filter=system_id:…`.
pub(crate) struct InsightRow {
    pub system_id: String,
    pub raw: Rec,
}

/// The device-state tables (the first six served, drawn from the org's main stream).
pub(super) const STATE_TABLES: &[&str] = &[
    "disk_encryption",
    "bitlocker_info",
    "alf",
    "windows_security_center",
    "windows_security_products",
    "os_version",
];

pub(super) fn generate(
    cx: &mut Draws,
    systems: &[SystemPlan],
) -> BTreeMap<&'static str, Vec<InsightRow>> {
    let mut insights: BTreeMap<&'static str, Vec<InsightRow>> =
        STATE_TABLES.iter().map(|t| (*t, Vec::new())).collect();
    for s in systems {
        if s.insights != "enabled" {
            continue;
        }
        let collected = fmt_ts(s.last_contact.unwrap_or(s.created));
        insight_rows(s, &collected, &mut insights, &mut cx.rng);
    }
    insights
}

fn insight_rows(
    s: &SystemPlan,
    collected: &str,
    out: &mut BTreeMap<&'static str, Vec<InsightRow>>,
    rng: &mut ChaCha8Rng,
) {
    let mut push = |table: &'static str, row: Obj| {
        let raw = row
            .str("system_id", &s.id)
            .str("collection_time", collected)
            .finish()
            .into_boxed_str();
        if let Some(rows) = out.get_mut(table) {
            rows.push(InsightRow {
                system_id: s.id.clone(),
                raw,
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
    let number = |s: &str| s.parse::<u32>().unwrap_or(0);
    let encryption_status = if s.fde_active {
        "encrypted"
    } else {
        "not encrypted"
    };
    match s.os {
        Os::Mac => {
            let (v, major, minor, patch, release, build) = MAC_VERSIONS[s.variant];
            push(
                "os_version",
                Obj::new()
                    .str("name", "macOS")
                    .str("version", v)
                    .num("major", number(major))
                    .num("minor", number(minor))
                    .num("patch", number(patch))
                    .str("build", build)
                    .str("platform", "darwin")
                    .str("platform_like", "darwin")
                    .str("codename", release)
                    .null("install_date"),
            );
            push(
                "disk_encryption",
                Obj::new()
                    .str("name", "/dev/disk3s1")
                    .str("uuid", &uuid)
                    .num("encrypted", enc)
                    .str("type", if s.fde_active { "APFS Encryption" } else { "" })
                    .str("encryption_status", encryption_status)
                    .str("uid", if s.fde_active { "501" } else { "" })
                    .str("user_uuid", if s.fde_active { &uuid } else { "" }),
            );
            push(
                "alf",
                Obj::new()
                    .num("global_state", i32::from(s.firewall_on))
                    .num("stealth_enabled", i32::from(s.firewall_on))
                    .num("logging_enabled", 1)
                    .num("logging_option", 0)
                    .num("allow_signed_enabled", 1)
                    .num("firewall_unload", 0)
                    .str("version", "1.6"),
            );
        }
        Os::Windows => {
            let (name, _, build, release) = WIN_VERSIONS[s.variant];
            push(
                "os_version",
                Obj::new()
                    .str("name", name)
                    .str("version", &format!("10.0.{build}"))
                    .num("major", 10)
                    .num("minor", 0)
                    .num("patch", 0)
                    .str("build", build)
                    .str("platform", "windows")
                    .str("platform_like", "windows")
                    .str("codename", release)
                    .str("install_date", "1717200000"),
            );
            push(
                "bitlocker_info",
                Obj::new()
                    .str("drive_letter", "C:")
                    .str("device_id", &format!("\\\\?\\Volume{{{uuid}}}\\"))
                    .str("persistent_volume_id", &uuid)
                    .num("conversion_status", enc)
                    .num("percentage_encrypted", if s.fde_active { 100 } else { 0 })
                    .str(
                        "encryption_method",
                        if s.fde_active { "XTS_AES_128" } else { "None" },
                    )
                    .num("protection_status", enc),
            );
            let good = |b: bool| if b { "Good" } else { "Poor" };
            push(
                "windows_security_center",
                Obj::new()
                    .str("firewall", good(s.firewall_on))
                    .str("autoupdate", good(s.variant != 2))
                    .str("antivirus", if s.av_ok { "Good" } else { "Snoozed" })
                    .str("antispyware", good(s.av_ok))
                    .str("internet_settings", "Good")
                    .str("user_account_control", "Good")
                    .str("windows_security_center_service", "Good"),
            );
            push(
                "windows_security_products",
                Obj::new()
                    .str("type", "Antivirus")
                    .str("name", "Microsoft Defender Antivirus")
                    .str("state", if s.av_ok { "On" } else { "Snoozed" })
                    .str("state_timestamp", collected)
                    .num("signatures_up_to_date", i32::from(s.av_ok))
                    .str(
                        "remediation_path",
                        "%ProgramFiles%\\Windows Defender\\MsMpeng.exe",
                    ),
            );
            push(
                "windows_security_products",
                Obj::new()
                    .str("type", "Firewall")
                    .str("name", "Windows Firewall")
                    .str("state", if s.firewall_on { "On" } else { "Off" })
                    .str("state_timestamp", collected)
                    .num("signatures_up_to_date", 0)
                    .str("remediation_path", ""),
            );
        }
        Os::Linux => {
            let (distro, v, major, minor, code) = LINUX_VERSIONS[s.variant];
            push(
                "os_version",
                Obj::new()
                    .str("name", distro)
                    .str("version", v)
                    .num("major", number(major))
                    .num("minor", number(minor))
                    .num("patch", 0)
                    .str("build", "")
                    .str("platform", &distro.to_ascii_lowercase())
                    .str(
                        "platform_like",
                        if distro == "Rocky" { "rhel" } else { "debian" },
                    )
                    .str("codename", code)
                    .null("install_date"),
            );
            push(
                "disk_encryption",
                Obj::new()
                    .str("name", "/dev/nvme0n1p3")
                    .str("uuid", &uuid.to_ascii_lowercase())
                    .num("encrypted", enc)
                    .str("type", if s.fde_active { "crypto_LUKS" } else { "" })
                    .str("encryption_status", encryption_status)
                    .str("uid", "")
                    .str("user_uuid", ""),
            );
        }
    }
}
