//! Devices: OS, owner, disk encryption, last contact and System Insights state, and their
//! `/api/systems` record (with the statistics of the policies drawn after them).

use jiff::{SignedDuration, Timestamp};
use rand::Rng;

use super::draw::{days, fmt_ts, pick, pick_weighted, random_between};
use super::users::{UserPlan, UserState};
use super::{Draws, Rec};
use crate::jsonw::Obj;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Os {
    Mac,
    Windows,
    Linux,
}

impl Os {
    pub(super) fn family(self) -> &'static str {
        match self {
            Os::Mac => "darwin",
            Os::Windows => "windows",
            Os::Linux => "linux",
        }
    }
}

pub(super) struct SystemPlan {
    pub(super) id: String,
    pub(super) os: Os,
    pub(super) variant: usize,
    pub(super) hostname: String,
    pub(super) display_name: String,
    pub(super) serial: String,
    pub(super) created: Timestamp,
    pub(super) fde_active: bool,
    pub(super) key_present: bool,
    pub(super) last_contact: Option<Timestamp>,
    pub(super) insights: &'static str,
    pub(super) owner: Option<usize>,
    pub(super) firewall_on: bool,
    pub(super) av_ok: bool,
    pub(super) arm: bool,
    /// Enrolled in JumpCloud's MDM; unenrolled devices report the API's `none`/`unknown`.
    pub(super) mdm_enrolled: bool,
    pub(super) remote_ip: String,
    pub(super) agent_version: &'static str,
}

pub(super) const MAC_VERSIONS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("15.1.1", "15", "1", "1", "Sequoia", "24B91"),
    ("14.7.1", "14", "7", "1", "Sonoma", "23H222"),
    ("13.7.1", "13", "7", "1", "Ventura", "22H221"),
    ("12.7.6", "12", "7", "6", "Monterey", "21H1320"),
];
pub(super) const MAC_WEIGHTS: &[u32] = &[50, 30, 15, 5];
pub(super) const WIN_VERSIONS: &[(&str, &str, &str, &str)] = &[
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
pub(super) const WIN_WEIGHTS: &[u32] = &[45, 30, 15, 10];
pub(super) const LINUX_VERSIONS: &[(&str, &str, &str, &str, &str)] = &[
    ("Ubuntu", "24.04", "24", "04", "noble"),
    ("Ubuntu", "22.04", "22", "04", "jammy"),
    ("Rocky", "9.4", "9", "4", "Blue Onyx"),
    ("Debian", "12", "12", "0", "bookworm"),
];
pub(super) const LINUX_WEIGHTS: &[u32] = &[40, 30, 15, 15];
pub(super) const AGENT_VERSIONS: &[&str] = &["1.180.0", "1.178.2", "1.171.0"];

/// Plans every device; the first ones cover every OS family and every case the checks need.
pub(super) fn plan(cx: &mut Draws, users: &[UserPlan]) -> Vec<SystemPlan> {
    let (now, org_created, domain) = (cx.now, cx.org_created, cx.domain);
    let mut systems: Vec<SystemPlan> = Vec::with_capacity(cx.size.devices);
    for i in 0..cx.size.devices {
        let os = match (i, cx.rng.random_range(0..100)) {
            // The first devices cover every OS family, so even tiny orgs have the mix.
            (0, _) => Os::Mac,
            (1, _) => Os::Windows,
            (2, _) => Os::Linux,
            (_, 0..55) => Os::Mac,
            (_, 55..90) => Os::Windows,
            _ => Os::Linux,
        };
        let variant = match os {
            Os::Mac => pick_weighted(&mut cx.rng, MAC_WEIGHTS),
            Os::Windows => pick_weighted(&mut cx.rng, WIN_WEIGHTS),
            Os::Linux => pick_weighted(&mut cx.rng, LINUX_WEIGHTS),
        };
        let owner = if users.is_empty() || (os == Os::Linux && cx.rng.random_bool(0.5)) {
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
        let created = random_between(&mut cx.rng, org_created, now - days(2));
        let fde_active = !cx.rng.random_bool(0.08);
        let key_present = fde_active && !cx.rng.random_bool(0.1);
        let last_contact = match cx.rng.random_range(0..100) {
            0..1 => None,
            1..7 => Some(now - days(91 + pick(&mut cx.rng, 400) as i64)),
            7..15 => Some(now - days(2 + pick(&mut cx.rng, 40) as i64)),
            _ => Some(now - SignedDuration::from_mins(pick(&mut cx.rng, 36 * 60) as i64)),
        };
        let insights = match cx.rng.random_range(0..100) {
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
            cx.rng.random::<u32>()
        );
        systems.push(SystemPlan {
            id: cx.ids.next_id(),
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
            firewall_on: !cx.rng.random_bool(0.07),
            av_ok: !cx.rng.random_bool(0.05),
            arm: cx.rng.random_bool(0.7),
            mdm_enrolled: true,
            remote_ip: format!(
                "203.0.{}.{}",
                cx.rng.random_range(0..255u32),
                cx.rng.random_range(1..255u32)
            ),
            agent_version: AGENT_VERSIONS[pick_weighted(&mut cx.rng, &[70, 20, 10])],
        });
    }
    if systems.len() >= 8 {
        systems[3].fde_active = false;
        systems[3].key_present = false;
        systems[4].last_contact = Some(now - days(120));
        systems[5].insights = "disabled";
        // One macOS and one Windows device outside the MDM, chosen without drawing from the
        // rng so the rest of the org stays as it was.
        for os in [Os::Mac, Os::Windows] {
            if let Some(s) = systems.iter_mut().rev().find(|s| s.os == os) {
                s.mdm_enrolled = false;
            }
        }
    }
    systems
}

/// Not seen for 90 days (or never).
pub(super) fn is_stale(s: &SystemPlan, now: Timestamp) -> bool {
    s.last_contact.is_none_or(|t| t < now - days(90))
}

pub(super) fn system_record(
    s: &SystemPlan,
    org_id: &str,
    users: &[UserPlan],
    stats: [u32; 4],
    now: Timestamp,
) -> Rec {
    let detail = Obj::new();
    let (os, version, detail) = match s.os {
        Os::Mac => {
            let (v, major, minor, patch, release, _) = MAC_VERSIONS[s.variant];
            let d = detail
                .str("osName", "macOS")
                .str("major", major)
                .str("minor", minor)
                .str("patch", patch);
            (
                "Mac OS X",
                v,
                d.str("version", v)
                    .str("releaseName", release)
                    .str("distributionName", ""),
            )
        }
        Os::Windows => {
            let (name, version, build, release) = WIN_VERSIONS[s.variant];
            let d = detail
                .str("osName", name)
                .str("major", "10")
                .str("minor", "0")
                .str("patch", build);
            (
                "Windows",
                version,
                d.str("version", release)
                    .str("releaseName", release)
                    .str("distributionName", ""),
            )
        }
        Os::Linux => {
            let (distro, v, major, minor, code) = LINUX_VERSIONS[s.variant];
            let d = detail
                .str("osName", distro)
                .str("major", major)
                .str("minor", minor)
                .str("patch", "0");
            (
                distro,
                v,
                d.str("version", v)
                    .str("releaseName", code)
                    .str("distributionName", distro),
            )
        }
    };
    let arch = if s.os == Os::Mac && s.arm {
        "arm64"
    } else {
        "x86_64"
    };
    let owner = s.owner.and_then(|u| users.get(u));
    let user_metrics = match owner {
        Some(u) => format!(
            "[{}]",
            Obj::new()
                .str("userName", &u.username.replace('.', ""))
                .bool("admin", u.sudo || s.os == Os::Mac)
                .bool("managed", true)
                .bool("suspended", u.state == UserState::Suspended)
                .bool("secureTokenEnabled", s.os == Os::Mac)
                .finish()
        ),
        None => "[]".to_string(),
    };
    let recently = s
        .last_contact
        .is_some_and(|t| t > now - SignedDuration::from_mins(10));
    // `enrollmentType` takes JumpCloud's documented values (unknown, automated device, device,
    // user); an unenrolled device reports vendor `none`, as the API documents.
    let mdm = match s.os {
        Os::Mac | Os::Windows if !s.mdm_enrolled => Obj::new()
            .str("vendor", "none")
            .bool("dep", false)
            .bool("userApproved", false)
            .str("enrollmentType", "unknown")
            .str("profileIdentifier", "")
            .finish(),
        Os::Mac => Obj::new()
            .str("vendor", "internal")
            .bool("dep", s.arm)
            .bool("userApproved", true)
            .str(
                "enrollmentType",
                if s.arm { "automated device" } else { "user" },
            )
            .str("profileIdentifier", "com.jumpcloud.mdm")
            .finish(),
        Os::Windows => Obj::new()
            .str("vendor", "internal")
            .bool("dep", false)
            .bool("userApproved", false)
            .str("enrollmentType", "device")
            .str("profileIdentifier", "")
            .finish(),
        // Linux devices have no MDM: the documented `mdm` object is left out.
        Os::Linux => String::new(),
    };
    let mac = s.os == Os::Mac;
    Obj::new()
        .str("_id", &s.id)
        .str("id", &s.id)
        .str("organization", org_id)
        .str("displayName", &s.display_name)
        .str("hostname", &s.hostname)
        .str("serialNumber", &s.serial)
        .str("created", &fmt_ts(s.created))
        .str("description", "")
        .str("os", os)
        .str("osFamily", s.os.family())
        .str("version", version)
        .str("arch", arch)
        .obj("osVersionDetail", detail)
        .bool("active", recently)
        .opt_str("lastContact", s.last_contact.map(fmt_ts).as_deref())
        .str("remoteIP", &s.remote_ip)
        .str("agentVersion", s.agent_version)
        .bool("agentHasFullDiskAccess", mac)
        .obj(
            "fde",
            Obj::new()
                .bool("active", s.fde_active)
                .bool("keyPresent", s.key_present),
        )
        .bool("allowMultiFactorAuthentication", s.os != Os::Linux)
        .bool("allowSshRootLogin", s.os == Os::Linux && stats[0] == 0)
        .bool(
            "allowSshPasswordAuthentication",
            s.os == Os::Linux && s.owner.is_some(),
        )
        .bool("allowPublicKeyAuthentication", true)
        .bool("sshRootEnabled", false)
        .bool("modifySSHDConfig", s.os == Os::Linux)
        .obj(
            "secureLogin",
            Obj::new().bool("supported", mac).bool("enabled", false),
        )
        .bool("isPolicyBound", stats[0] > 0)
        .obj(
            "policyStats",
            Obj::new()
                .num("total", stats[0])
                .num("success", stats[1])
                .num("failed", stats[2])
                .num("pending", stats[3])
                .num("duplicate", 0)
                .num("unsupportedOs", 0),
        )
        .obj("systemInsights", Obj::new().str("state", s.insights))
        .some_raw("mdm", Some(mdm.as_str()).filter(|m| !m.is_empty()))
        .raw("userMetrics", &user_metrics)
        // Objects JumpCloud documents only where they apply are left out elsewhere, not null.
        .some_raw(
            "serviceAccountState",
            mac.then_some(
                r#"{"hasSecureToken":true,"passwordAPFSValid":true,"passwordODValid":true}"#,
            ),
        )
        .bool("hasServiceAccount", mac)
        .some_raw(
            "primarySystemUser",
            owner
                .map(|u| Obj::new().str("id", &u.id).finish())
                .as_deref(),
        )
        .some_raw(
            "domainInfo",
            (s.os == Os::Windows).then_some(r#"{"domainName":"","partOfDomain":false}"#),
        )
        .bool("azureAdJoined", false)
        .raw(
            "provisionMetadata",
            r#"{"provisioner":{"provisionerType":"user"}}"#,
        )
        .num("systemTimezone", -300)
        .raw("tags", "[]")
        .str("templateName", &format!("{}-template", s.os.family()))
        .str(
            "fileSystem",
            match s.os {
                Os::Mac => "apfs",
                Os::Windows => "ntfs",
                Os::Linux => "ext4",
            },
        )
        .finish()
        .into_boxed_str()
}
