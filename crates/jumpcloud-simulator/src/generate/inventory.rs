//! The System Insights inventory tables: software, hotfixes, local accounts, platform integrity
//! (SIP, Secure Boot, TPM) and peripherals, of the devices that have System Insights enabled.
//!
//! They are drawn from their own random stream (the org's seed mixed with [`STREAM`]), after
//! every other kind and reading the device and user plans only, so adding them left every other
//! kind of a seed's org byte-identical. Most devices pass the controls on these tables; a few
//! fail each (an unlisted local administrator, SIP off, Secure Boot off or legacy BIOS, old
//! hotfixes, a peer-to-peer client installed).

use std::collections::BTreeMap;

use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::InsightRow;
use super::draw::{days, fmt_ts, pick};
use super::systems::{Os, SystemPlan};
use super::users::UserPlan;
use crate::jsonw::Obj;

/// The inventory tables served under `/api/v2/systeminsights/{table}`.
pub const INVENTORY_TABLES: &[&str] = &[
    "patches",
    "programs",
    "apps",
    "linux_packages",
    "sip_config",
    "secureboot",
    "tpm_info",
    "users",
    "groups",
    "user_groups",
    "usb_devices",
    "authorized_keys",
    "logged_in_users",
];

/// Mixed into the org's seed for this module's own stream.
const STREAM: u64 = 0x1175_5157_0017_0001;

/// Windows programs: (name, publisher, version).
const WIN_PROGRAMS: &[(&str, &str, &str)] = &[
    ("Google Chrome", "Google LLC", "131.0.6778.86"),
    ("Mozilla Firefox (x64 en-US)", "Mozilla", "133.0"),
    ("Microsoft Edge", "Microsoft Corporation", "131.0.2903.70"),
    (
        "Microsoft 365 Apps for enterprise - en-us",
        "Microsoft Corporation",
        "16.0.18129.20158",
    ),
    (
        "Microsoft Teams",
        "Microsoft Corporation",
        "24295.605.3225.8804",
    ),
    (
        "Zoom Workplace (64-bit)",
        "Zoom Video Communications, Inc.",
        "6.2.11",
    ),
    ("Slack", "Slack Technologies Inc.", "4.41.105"),
    ("7-Zip 24.08 (x64)", "Igor Pavlov", "24.08"),
    ("Notepad++ (64-bit x64)", "Notepad++ Team", "8.7.1"),
    ("Adobe Acrobat (64-bit)", "Adobe", "24.004.20272"),
    ("Git", "The Git Development Community", "2.47.0"),
    (
        "Microsoft Visual Studio Code",
        "Microsoft Corporation",
        "1.95.3",
    ),
    (
        "Python 3.12.7 (64-bit)",
        "Python Software Foundation",
        "3.12.7150.0",
    ),
    ("JumpCloud Agent", "JumpCloud Inc.", "1.180.0"),
    ("JumpCloud Remote Assist", "JumpCloud Inc.", "0.264.0"),
    (
        "Microsoft Visual C++ 2015-2022 Redistributable (x64)",
        "Microsoft Corporation",
        "14.40.33816.0",
    ),
    (
        "Microsoft OneDrive",
        "Microsoft Corporation",
        "24.211.1020.0001",
    ),
    ("1Password", "AgileBits Inc.", "8.10.54"),
    ("VLC media player", "VideoLAN", "3.0.21"),
    ("Docker Desktop", "Docker Inc.", "4.36.0"),
    ("Postman x64", "Postman", "11.20.0"),
    ("WinSCP 6.3.5", "Martin Prikryl", "6.3.5"),
    ("PuTTY release 0.82 (64-bit)", "Simon Tatham", "0.82.0.0"),
    ("Greenshot 1.2.10.6", "Greenshot", "1.2.10.6"),
    ("Dell Command | Update", "Dell Inc.", "5.4.0"),
    (
        "Intel(R) Graphics Driver",
        "Intel Corporation",
        "31.0.101.5590",
    ),
    (
        "Realtek Audio Driver",
        "Realtek Semiconductor Corp.",
        "6.0.9549.1",
    ),
    (
        "Windows PC Health Check",
        "Microsoft Corporation",
        "3.7.2204.15001",
    ),
    (
        "Microsoft Update Health Tools",
        "Microsoft Corporation",
        "5.72.0.0",
    ),
    ("Spotify", "Spotify AB", "1.2.52.442"),
];

/// macOS applications: (bundle name, bundle identifier, version).
const MAC_APPS: &[(&str, &str, &str)] = &[
    ("Safari", "com.apple.Safari", "18.1.1"),
    ("Google Chrome", "com.google.Chrome", "131.0.6778.86"),
    ("Firefox", "org.mozilla.firefox", "133.0"),
    ("Slack", "com.tinyspeck.slackmacgap", "4.41.105"),
    ("zoom.us", "us.zoom.xos", "6.2.11"),
    ("Microsoft Teams", "com.microsoft.teams2", "24295.605.3225"),
    ("Microsoft Word", "com.microsoft.Word", "16.91"),
    ("Microsoft Excel", "com.microsoft.Excel", "16.91"),
    ("Microsoft Outlook", "com.microsoft.Outlook", "16.91"),
    ("1Password", "com.1password.1password", "8.10.54"),
    ("Visual Studio Code", "com.microsoft.VSCode", "1.95.3"),
    ("iTerm", "com.googlecode.iterm2", "3.5.10"),
    ("Docker", "com.docker.docker", "4.36.0"),
    ("Postman", "com.postmanlabs.mac", "11.20.0"),
    ("Figma", "com.figma.Desktop", "124.6.5"),
    ("Notion", "notion.id", "4.0.0"),
    ("Spotify", "com.spotify.client", "1.2.52.442"),
    ("JumpCloud Go", "com.jumpcloud.go", "1.5.0"),
    ("Keynote", "com.apple.iWork.Keynote", "14.2"),
    ("Numbers", "com.apple.iWork.Numbers", "14.2"),
    ("Pages", "com.apple.iWork.Pages", "14.2"),
    ("Xcode", "com.apple.dt.Xcode", "16.1"),
    ("Rectangle", "com.knollsoft.Rectangle", "0.84"),
    ("The Unarchiver", "cx.c3.theunarchiver", "4.3.8"),
    ("VLC", "org.videolan.vlc", "3.0.21"),
    ("Preview", "com.apple.Preview", "11.0"),
    ("Calendar", "com.apple.iCal", "14.0"),
    ("Mail", "com.apple.mail", "16.0"),
];

/// Linux packages: (name, version).
const LINUX_PACKAGES: &[(&str, &str)] = &[
    ("bash", "5.2.21-2ubuntu4"),
    ("coreutils", "9.4-3ubuntu6"),
    ("openssh-client", "1:9.6p1-3ubuntu13.5"),
    ("openssh-server", "1:9.6p1-3ubuntu13.5"),
    ("openssl", "3.0.13-0ubuntu3.4"),
    ("sudo", "1.9.15p5-3ubuntu5"),
    ("curl", "8.5.0-2ubuntu10.5"),
    ("git", "1:2.43.0-1ubuntu7.1"),
    ("vim", "2:9.1.0016-1ubuntu7.5"),
    ("python3", "3.12.3-0ubuntu2"),
    ("docker-ce", "5:27.3.1-1~ubuntu.24.04~noble"),
    ("firefox", "1:1snap1-0ubuntu5"),
    ("google-chrome-stable", "131.0.6778.85-1"),
    ("code", "1.95.3-1731513102"),
    ("slack-desktop", "4.41.105"),
    ("jcagent", "1.180.0"),
    ("ufw", "0.36.2-6"),
    ("cryptsetup", "2:2.7.0-1ubuntu4.1"),
    ("apparmor", "4.0.1really4.0.1-0ubuntu0.24.04.3"),
    ("unattended-upgrades", "2.9.1+nmu4ubuntu1"),
    ("systemd", "255.4-1ubuntu8.4"),
    ("libc6", "2.39-0ubuntu8.3"),
    ("zsh", "5.9-6ubuntu2"),
    ("htop", "3.3.0-4build1"),
];

/// Peer-to-peer clients a few devices have installed, per family.
const P2P: [&str; 3] = ["uTorrent", "Transmission", "qbittorrent"];

pub(super) fn generate(
    seed: u64,
    systems: &[SystemPlan],
    users: &[UserPlan],
) -> BTreeMap<&'static str, Vec<InsightRow>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ STREAM);
    let mut out: BTreeMap<&'static str, Vec<InsightRow>> =
        INVENTORY_TABLES.iter().map(|t| (*t, Vec::new())).collect();
    for s in systems {
        if s.insights != "enabled" {
            continue;
        }
        let owner = s.owner.and_then(|i| users.get(i));
        Device {
            s,
            collected: s.last_contact.unwrap_or(s.created),
            out: &mut out,
        }
        .rows(&mut rng, owner);
    }
    out
}

/// A local account: (username, uid, admin, managed by JumpCloud).
type Account<'a> = (&'a str, u32, bool, bool);

struct Device<'a> {
    s: &'a SystemPlan,
    collected: Timestamp,
    out: &'a mut BTreeMap<&'static str, Vec<InsightRow>>,
}

impl Device<'_> {
    fn push(&mut self, table: &'static str, row: Obj) {
        let raw = row
            .str("system_id", &self.s.id)
            .str("collection_time", &fmt_ts(self.collected))
            .finish()
            .into_boxed_str();
        if let Some(rows) = self.out.get_mut(table) {
            rows.push(InsightRow {
                system_id: self.s.id.clone(),
                raw,
            });
        }
    }

    fn rows(mut self, rng: &mut ChaCha8Rng, owner: Option<&UserPlan>) {
        // One draw per fault, each its own small share of devices.
        let extra_admin = rng.random_ratio(1, 25);
        let integrity_off = rng.random_ratio(1, 25);
        let legacy_boot = rng.random_ratio(1, 20);
        let stale_patches = rng.random_ratio(1, 12);
        let p2p = rng.random_ratio(1, 30);
        let owner_name = owner.map_or("localuser", |u| u.username.as_str());
        let owner_admin = owner.is_some_and(|u| u.sudo);
        self.software(rng, p2p);
        self.accounts(rng, owner_name, owner_admin, extra_admin);
        self.integrity(rng, integrity_off, legacy_boot);
        if self.s.os == Os::Windows {
            self.patches(rng, stale_patches);
        }
        self.peripherals(rng, owner_name);
    }

    fn software(&mut self, rng: &mut ChaCha8Rng, p2p: bool) {
        let count = 15 + pick(rng, 16);
        match self.s.os {
            Os::Windows => {
                for &(name, publisher, version) in WIN_PROGRAMS.iter().take(count) {
                    self.program(name, publisher, version);
                }
                if p2p {
                    self.program("\u{b5}Torrent", "BitTorrent Inc.", "3.6.0.47142");
                }
            }
            Os::Mac => {
                for &(name, id, version) in MAC_APPS.iter().take(count) {
                    self.app(name, id, version);
                }
                if p2p {
                    self.app(P2P[1], "org.m0k.transmission", "4.0.6");
                }
            }
            Os::Linux => {
                for &(name, version) in LINUX_PACKAGES.iter().take(count) {
                    self.package(name, version);
                }
                if p2p {
                    self.package(P2P[2], "1:4.6.3-1");
                }
            }
        }
    }

    fn program(&mut self, name: &str, publisher: &str, version: &str) {
        let row = Obj::new()
            .str("name", name)
            .str("version", version)
            .str("publisher", publisher)
            .str("install_location", "")
            .str("install_source", "")
            .str("language", "1033")
            .str("uninstall_string", "")
            .str("install_date", "20240611")
            .str("identifying_number", "");
        self.push("programs", row);
    }

    fn app(&mut self, name: &str, id: &str, version: &str) {
        let row = Obj::new()
            .str("name", &format!("{name}.app"))
            .str("path", &format!("/Applications/{name}.app"))
            .str("bundle_identifier", id)
            .str("bundle_name", name)
            .str("bundle_short_version", version)
            .str("bundle_version", version)
            .str("display_name", name)
            .num("last_opened_time", -1);
        self.push("apps", row);
    }

    fn package(&mut self, name: &str, version: &str) {
        let row = Obj::new()
            .str("name", name)
            .str("version", version)
            .str("arch", if self.s.arm { "arm64" } else { "amd64" })
            .str("package_format", "deb")
            .str("source", "")
            .num("size", 0);
        self.push("linux_packages", row);
    }

    fn accounts(
        &mut self,
        rng: &mut ChaCha8Rng,
        owner: &str,
        owner_admin: bool,
        extra_admin: bool,
    ) {
        // The admin group and its gid per family, and the built-in accounts.
        let (admin_group, admin_gid, builtin): (&str, u32, &[Account]) = match self.s.os {
            Os::Windows => (
                "Administrators",
                544,
                &[
                    ("Administrator", 500, true, false),
                    ("Guest", 501, false, false),
                    ("DefaultAccount", 503, false, false),
                    ("WDAGUtilityAccount", 504, false, false),
                ],
            ),
            Os::Mac => (
                "admin",
                80,
                &[
                    ("root", 0, true, false),
                    ("_jumpcloudserviceaccount", 499, true, false),
                    ("daemon", 1, false, false),
                    ("nobody", 4_294_967_294, false, false),
                ],
            ),
            Os::Linux => (
                "sudo",
                27,
                &[
                    ("root", 0, true, false),
                    ("daemon", 1, false, false),
                    ("nobody", 65_534, false, false),
                ],
            ),
        };
        let owner_uid = match self.s.os {
            Os::Windows => 1001,
            Os::Mac => 501,
            Os::Linux => 1000,
        };
        let mut accounts: Vec<Account> = builtin.to_vec();
        accounts.push((owner, owner_uid, owner_admin, true));
        let extra = ["itsupport", "localadmin", "test"][pick(rng, 3)];
        if extra_admin {
            accounts.push((extra, owner_uid + 1, true, false));
        }
        let users_gid = match self.s.os {
            Os::Windows => 545,
            Os::Mac => 20,
            Os::Linux => 100,
        };
        for &(name, uid, admin, managed) in &accounts {
            let (directory, shell) = match self.s.os {
                Os::Windows => (format!("C:\\Users\\{name}"), String::new()),
                Os::Mac => (format!("/Users/{name}"), "/bin/zsh".to_owned()),
                Os::Linux => (format!("/home/{name}"), "/bin/bash".to_owned()),
            };
            let row = Obj::new()
                .str("username", name)
                .num("uid", uid)
                .num("gid", if uid == 0 { 0 } else { users_gid })
                .str("description", "")
                .str("directory", &directory)
                .str("shell", &shell)
                .str("type", if uid < 1000 { "local" } else { "roaming" })
                .num("admin", i32::from(admin))
                .num("managed", i32::from(managed));
            self.push("users", row);
            if admin && uid != 0 {
                self.push(
                    "user_groups",
                    Obj::new().num("uid", uid).num("gid", admin_gid),
                );
            }
            if uid >= 1000 {
                self.push(
                    "user_groups",
                    Obj::new().num("uid", uid).num("gid", users_gid),
                );
            }
        }
        let groups: [(&str, u32); 2] = [
            (admin_group, admin_gid),
            (
                match self.s.os {
                    Os::Windows => "Users",
                    Os::Mac => "staff",
                    Os::Linux => "users",
                },
                users_gid,
            ),
        ];
        for (name, gid) in groups {
            self.push(
                "groups",
                Obj::new()
                    .num("gid", gid)
                    .str("groupname", name)
                    .str("comment", ""),
            );
        }
        if self.s.os != Os::Windows && rng.random_ratio(1, 3) {
            let home = match self.s.os {
                Os::Mac => format!("/Users/{owner}"),
                _ => format!("/home/{owner}"),
            };
            let fingerprint: u64 = rng.random();
            self.push(
                "authorized_keys",
                Obj::new()
                    .num("uid", owner_uid)
                    .str("algorithm", "ssh-ed25519")
                    .str(
                        "key",
                        &format!("AAAAC3NzaC1lZDI1NTE5AAAAI{fingerprint:016x}jcsim"),
                    )
                    .str("options", "")
                    .str("comment", &format!("{owner}@laptop"))
                    .str("key_file", &format!("{home}/.ssh/authorized_keys")),
            );
        }
    }

    fn integrity(&mut self, rng: &mut ChaCha8Rng, off: bool, legacy_boot: bool) {
        let os = self.s.os;
        if os == Os::Mac {
            for flag in ["sip", "allow_untrusted_kexts", "allow_unrestricted_fs"] {
                // The main flag is on unless this device is the one with SIP off; the "allow"
                // flags are the exceptions, off when SIP is on.
                let enabled = if flag == "sip" { !off } else { off };
                self.push(
                    "sip_config",
                    Obj::new()
                        .str("config_flag", flag)
                        .num("enabled", i32::from(enabled))
                        .num("enabled_nvram", i32::from(enabled)),
                );
            }
        }
        // Macs always report Secure Boot (T2 / Apple silicon); some PCs boot legacy BIOS and
        // have no secureboot row at all.
        if os == Os::Mac || !legacy_boot {
            let on = !(os != Os::Mac && off);
            let row = Obj::new().num("secure_boot", i32::from(on));
            let row = if os == Os::Mac {
                row.num("secure_mode", if on { 2 } else { 0 })
                    .str("description", if on { "full" } else { "none" })
            } else {
                row.num("setup_mode", 0)
            };
            self.push("secureboot", row);
        }
        if os == Os::Windows {
            let activated = !rng.random_ratio(1, 40);
            self.push(
                "tpm_info",
                Obj::new()
                    .num("activated", i32::from(activated))
                    .num("enabled", 1)
                    .num("owned", i32::from(activated))
                    .str("manufacturer_version", "7.2.3.1")
                    .num("manufacturer_id", 1_229_346_816)
                    .str("manufacturer_name", "IFX")
                    .str("product_name", "")
                    .str("physical_presence_version", "1.3")
                    .str("spec_version", "2.0, 0, 1.59"),
            );
        }
    }

    fn patches(&mut self, rng: &mut ChaCha8Rng, stale: bool) {
        let newest_age = if stale {
            50 + pick(rng, 120)
        } else {
            2 + pick(rng, 30)
        } as i64;
        let count = 3 + pick(rng, 5);
        for n in 0..count {
            let installed = (self.collected - days(newest_age + 30 * n as i64))
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date();
            let kb = 5_048_000 + pick(rng, 9_000) as u32;
            let description = if n == 0 { "Security Update" } else { "Update" };
            self.push(
                "patches",
                Obj::new()
                    .str("csname", &self.s.hostname.to_ascii_uppercase())
                    .str("hotfix_id", &format!("KB{kb}"))
                    .str(
                        "caption",
                        &format!("http://support.microsoft.com/?kbid={kb}"),
                    )
                    .str("description", description)
                    .str("fix_comments", "")
                    .str("installed_by", "NT AUTHORITY\\SYSTEM")
                    .str("install_date", "")
                    .str(
                        "installed_on",
                        &format!(
                            "{}/{}/{}",
                            installed.month(),
                            installed.day(),
                            installed.year()
                        ),
                    ),
            );
        }
    }

    fn peripherals(&mut self, rng: &mut ChaCha8Rng, owner: &str) {
        if rng.random_ratio(1, 4) {
            self.push(
                "usb_devices",
                Obj::new()
                    .num("usb_address", 3)
                    .num("usb_port", 1)
                    .str("vendor", "Logitech")
                    .str("vendor_id", "046d")
                    .str("version", "1211")
                    .str("model", "USB Receiver")
                    .str("model_id", "c52b")
                    .str("serial", "")
                    .str("class", "0")
                    .str("subclass", "0")
                    .str("protocol", "0")
                    .num("removable", 1),
            );
        }
        if rng.random_ratio(1, 2) {
            let tty = match self.s.os {
                Os::Windows => "console",
                Os::Mac => "console",
                Os::Linux => "tty2",
            };
            self.push(
                "logged_in_users",
                Obj::new()
                    .str("type", "user")
                    .str("user", owner)
                    .str("tty", tty)
                    .str("host", "")
                    .num("time", self.collected.as_second() - 3_600)
                    .num("pid", 400 + pick(rng, 4000)),
            );
        }
    }
}

#[cfg(test)]
#[path = "inventory_tests.rs"]
mod tests;
