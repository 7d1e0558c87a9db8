//! The control catalog (peers-and-checks.md §2, E1-E10 and I1-I12): each control's id, text,
//! framework references, the kinds it reads and its evaluation (`endpoint`, `identity`).
//!
//! Every evaluation is a pure function of (evidence, settings, now). `now` is normally the
//! snapshot's collection time, so a stored snapshot always evaluates the same way.

use std::collections::BTreeSet;

use super::FailingResource;
use super::context::Ctx;
use super::device_sudo::i13_device_sudo;
use super::endpoint::*;
use super::identity::*;
use super::kinds::*;
use super::local_accounts::e11_local_admins;
use super::patching::e14_patch_currency;
use super::platform_integrity::{e12_macos_sip, e13_secure_boot};
use super::policy_history::e8_policy_held;
use super::settings::{ControlSettings, MfaExclusionHandling};
use super::software::e15_software_denylist;

// The store's loader imports these from here.
pub use super::run::{EvaluationPhase, evaluate, evaluate_all, evaluation_phases};

/// What an evaluation found, before the catalog data is attached.
#[derive(Debug, Default)]
pub struct Finding {
    pub evaluated: u64,
    pub failing: Vec<FailingResource>,
    /// Resources in scope the control could not judge, and why: neither passing nor failing,
    /// listed in the result's notes (as Linux devices are for anti-malware).
    pub not_evaluated: Vec<FailingResource>,
    pub notes: Vec<String>,
}

impl Finding {
    pub(super) fn fail(
        &mut self,
        id: impl Into<String>,
        name: impl Into<String>,
        why: impl Into<String>,
    ) {
        self.failing.push(FailingResource {
            id: id.into(),
            name: name.into(),
            why: why.into(),
        });
    }

    /// Records a resource that is neither passing nor failing (it is not counted in
    /// `evaluated`), with the reason.
    pub(super) fn skip(
        &mut self,
        id: impl Into<String>,
        name: impl Into<String>,
        why: impl Into<String>,
    ) {
        self.not_evaluated.push(FailingResource {
            id: id.into(),
            name: name.into(),
            why: why.into(),
        });
    }
}

/// How much a failing control matters, in the PolicyReport severities: `critical` for
/// controls whose failure opens accounts to takeover (MFA), `high` for direct exposure of data
/// or systems, `medium` for weakened defences, `low` for hygiene (`info` is not used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    /// The PolicyReport value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

type Evaluation = fn(&Ctx) -> Result<Finding, String>;
type Thresholds = fn(&ControlSettings) -> Vec<(&'static str, String)>;

/// One control of the catalog.
pub struct ControlDef {
    /// Stable id, `JC-<check>-<NAME>`.
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// SOC 2 TSC references (suggested mapping).
    pub soc2: &'static [&'static str],
    /// ISO/IEC 27001:2022 Annex A references (suggested mapping).
    pub iso27001: &'static [&'static str],
    /// How much a failure matters (PolicyReport `severity`); the README's PolicyReport section
    /// lists it per control.
    pub severity: Severity,
    /// What the control is about (PolicyReport `category`): Endpoint, Identity or Logging.
    pub category: &'static str,
    /// Evidence kinds read.
    pub kinds: &'static [&'static str],
    /// What is counted in `evaluated` (plural noun for summaries).
    pub noun: &'static str,
    /// What evidence passes, what fails and what is not evaluated (or puts the control in
    /// error); missing, `null`, empty or unreadable values never pass. The README's table
    /// shows it.
    pub verdicts: &'static str,
    pub thresholds: Thresholds,
    pub evaluate: Evaluation,
}

fn no_thresholds(_: &ControlSettings) -> Vec<(&'static str, String)> {
    Vec::new()
}

/// The catalog, in report order.
pub static CATALOG: &[ControlDef] = &[
    ControlDef {
        id: "JC-E1-DISK-ENCRYPTION",
        title: "Full-disk encryption on every device",
        description: "Every macOS and Windows device reports full-disk encryption active (systems.fde.active) and System Insights confirms it (disk_encryption on macOS/Linux, BitLocker protection on the system drive on Windows). Linux encryption (LUKS) is visible through System Insights only. Devices without System Insights data are listed as failing: the agent's own flag is not confirmed.",
        soc2: &["CC6.1", "CC6.7"],
        iso27001: &["A.8.1", "A.8.24"],
        severity: Severity::High,
        category: "Endpoint",
        kinds: &[
            DEVICES,
            SI_DISK_ENCRYPTION,
            SI_BITLOCKER,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        verdicts: "Passes: System Insights shows an encrypted volume (BitLocker protection_status 1 on the system drive on Windows) and, on macOS and Windows, fde.active is true. Fails: no System Insights rows, no encrypted volume, or fde.active false, absent or unreadable. Not evaluated: devices of other OS families (mobile), counted in the notes.",
        thresholds: no_thresholds,
        evaluate: e1_disk_encryption,
    },
    ControlDef {
        id: "JC-E1-RECOVERY-KEY-ESCROW",
        title: "Disk encryption recovery keys escrowed",
        description: "Every encrypted macOS and Windows device has its recovery key escrowed in JumpCloud (systems.fde.keyPresent), so data can be recovered and the device's encryption is managed.",
        soc2: &["CC6.1", "A1.2"],
        iso27001: &["A.8.24", "A.8.13"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[DEVICES, DEVICE_GROUP_MEMBERS],
        noun: "encrypted devices",
        verdicts: "Passes: an encrypted (fde.active true) macOS or Windows device with fde.keyPresent true. Fails: fde.keyPresent false, absent or unreadable. Not evaluated: devices whose fde.active is absent or unreadable, named in the notes; unencrypted devices are out of scope.",
        thresholds: no_thresholds,
        evaluate: e1_recovery_key,
    },
    ControlDef {
        id: "JC-E2-SCREEN-LOCK",
        title: "Screen lock within the idle threshold",
        description: "Every device has a screen-lock policy whose latest result on that device succeeded and whose idle timeout is within the threshold. There is no System Insights table for screen lock: the evidence is the bound policy, its configured value and its latest status. Settings made outside JumpCloud policies cannot be seen.",
        soc2: &["CC6.1"],
        iso27001: &["A.7.7", "A.8.1"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[
            DEVICES,
            POLICY_DETAILS,
            POLICY_STATUSES,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        verdicts: "Passes: a screen-lock policy whose latest result on the device is success and whose readable idle timeout is above 0 and within the threshold. Fails: no such policy result, a result in any other or no state, an unreadable or too long timeout. Not evaluated: devices of no recognised OS family, named in the notes.",
        thresholds: |s| {
            vec![(
                "screenLockMinutes",
                s.screen_lock_minutes_or_default().to_string(),
            )]
        },
        evaluate: e2_screen_lock,
    },
    ControlDef {
        id: "JC-E3-HOST-FIREWALL",
        title: "Host firewall enabled",
        description: "macOS: System Insights alf.global_state is on. Windows: System Insights windows_security_center.firewall is Good. Linux: a firewall policy (UFW, firewalld, iptables) succeeded on the device. Devices without the data are listed as failing.",
        soc2: &["CC6.6"],
        iso27001: &["A.8.20", "A.8.1"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[
            DEVICES,
            SI_ALF,
            SI_SECURITY_CENTER,
            POLICY_DETAILS,
            POLICY_STATUSES,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        verdicts: "Passes: macOS alf.global_state at least 1; Windows windows_security_center.firewall Good; Linux a firewall policy result success. Fails: no System Insights rows or policy result, or any other, absent or unreadable value. Not evaluated: devices of no recognised OS family, named in the notes.",
        thresholds: no_thresholds,
        evaluate: e3_firewall,
    },
    ControlDef {
        id: "JC-E4-ANTIVIRUS",
        title: "Anti-malware present and current",
        description: "Windows: an allow-listed antivirus product is On with up-to-date signatures (System Insights windows_security_products). macOS: the built-in protection counts from the configured major version on. Linux devices are not evaluated (no anti-malware evidence is collected) and are counted in the notes.",
        soc2: &["CC6.8"],
        iso27001: &["A.8.7"],
        severity: Severity::High,
        category: "Endpoint",
        kinds: &[
            DEVICES,
            SI_SECURITY_PRODUCTS,
            SI_OS_VERSION,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        verdicts: "Passes: Windows an allow-listed Antivirus product with state On and signatures_up_to_date true; macOS a readable major version at or above the configured one. Fails: no product rows, any other, absent or unreadable value, an unknown macOS version. Not evaluated: Linux devices (counted) and devices of no recognised OS family (named), in the notes.",
        thresholds: |s| {
            vec![
                (
                    "antivirusAllowList",
                    s.antivirus_allow_list_or_default().join(", "),
                ),
                (
                    "macosBuiltinProtectionMinMajor",
                    s.macos_builtin_protection_min_major_or_default()
                        .to_string(),
                ),
            ]
        },
        evaluate: e4_antivirus,
    },
    ControlDef {
        id: "JC-E5-OS-SUPPORTED",
        title: "Operating system at or above the baseline",
        description: "Every device runs an OS version at or above the baseline of its family (or Linux distribution). The version comes from System Insights os_version when present, otherwise from systems.osVersionDetail / systems.version. Devices of a family without a baseline are counted in the notes.",
        soc2: &["CC7.1", "CC8.1"],
        iso27001: &["A.8.8"],
        severity: Severity::High,
        category: "Endpoint",
        kinds: &[DEVICES, SI_OS_VERSION, DEVICE_GROUP_MEMBERS],
        noun: "devices",
        verdicts: "Passes: a dotted-number OS version (System Insights, else osVersionDetail.version, else version) at or above the family's baseline. Fails: a lower version, no version, or one that is not a dotted number. Not evaluated: families or distributions without a baseline, counted in the notes.",
        thresholds: |s| {
            s.os_baselines_or_default()
                .into_iter()
                .map(|(family, version)| ("osBaselines", format!("{family} >= {version}")))
                .collect()
        },
        evaluate: e5_os_version,
    },
    ControlDef {
        id: "JC-E6-DEVICE-OWNER",
        title: "Every device has an owner",
        description: "Every device names a primary user (systems.primarySystemUser) that exists in the directory, so the inventory maps devices to staff.",
        soc2: &["CC6.1"],
        iso27001: &["A.5.9"],
        severity: Severity::Low,
        category: "Endpoint",
        kinds: &[DEVICES, USERS, DEVICE_GROUP_MEMBERS],
        noun: "devices",
        verdicts: "Passes: primarySystemUser.id names a user of the directory. Fails: no, an empty or an unknown primary user. Not evaluated: none.",
        thresholds: no_thresholds,
        evaluate: e6_owner,
    },
    ControlDef {
        id: "JC-E7-STALE-DEVICES",
        title: "No stale devices",
        description: "No device has gone without agent contact (systems.lastContact) for longer than the threshold. Stale devices are listed here and stay in scope of the other device controls.",
        soc2: &["CC6.1"],
        iso27001: &["A.5.9", "A.8.1"],
        severity: Severity::Low,
        category: "Endpoint",
        kinds: &[DEVICES, DEVICE_GROUP_MEMBERS],
        noun: "devices",
        verdicts: "Passes: a readable lastContact within the threshold. Fails: an older, absent or unreadable lastContact. Not evaluated: none.",
        thresholds: |s| {
            vec![(
                "staleDeviceDays",
                s.stale_device_days_or_default().to_string(),
            )]
        },
        evaluate: e7_stale,
    },
    ControlDef {
        id: "JC-E8-POLICY-COMPLIANCE",
        title: "No failed policies on devices",
        description: "No device's latest policy result is failed (policystatuses). Results of devices that no longer exist are ignored (they linger in JumpCloud's results) and counted in the notes.",
        soc2: &["CC7.1"],
        iso27001: &["A.8.9"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[
            DEVICES,
            POLICY_DETAILS,
            POLICY_STATUSES,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices with policy results",
        verdicts: "Passes: every latest policy result of the device is success or pending. Fails: a result failed, or in no documented state (absent, empty, unreadable). Not evaluated: devices without policy results; results of deleted devices are counted in the notes.",
        thresholds: no_thresholds,
        evaluate: e8_policy_failures,
    },
    ControlDef {
        id: "JC-E8-POLICY-COMPLIANCE-HELD",
        title: "Policies held on devices over the audit window",
        description: "Each policy was compliant on each device on at least the threshold share of the days of the window, per the policy results history (policyresults, collected incrementally, so it reaches back past what JumpCloud keeps). A day's state is its latest result, else the previous day's carried over. Only the days over which the stored history is complete are evaluated, and the notes say when that is shorter than the window. Results of devices that no longer exist are ignored and counted in the notes.",
        soc2: &["CC7.1", "CC4.1"],
        iso27001: &["A.8.9", "A.5.36"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[
            DEVICES,
            POLICY_DETAILS,
            POLICY_STATUSES,
            POLICY_RESULTS_HISTORY,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "policy bindings (policy, device)",
        verdicts: "A day is a UTC day; its state is the latest result that ended by its end (a day without a result carries the previous day's state); it is compliant when that state is success. Passes: compliant on at least policyComplianceMinPercent of the counted days of the window (the policyHistoryDays days ending with the evaluation day, cut to where the stored history is complete; days before a pair's first result are not counted). Fails: fewer compliant days (failed, pending, or any other or no state is not compliant), or results without a readable endedAt. Not evaluated: pairs with no result by the window's end, counted in the notes, and bindings the latest statuses show without any result in the history, each named in the notes. Error: the history not collected or not complete, its coverage not recorded, no whole day of the window covered, or results naming no policy or no device.",
        thresholds: |s| {
            vec![
                (
                    "policyHistoryDays",
                    s.policy_history_days_or_default().to_string(),
                ),
                (
                    "policyComplianceMinPercent",
                    s.policy_compliance_min_percent_or_default().to_string(),
                ),
            ]
        },
        evaluate: e8_policy_held,
    },
    ControlDef {
        id: "JC-E9-SSH-HARDENING",
        title: "SSH root and password login disabled",
        description: "macOS and Linux devices do not allow SSH root login (systems.allowSshRootLogin) or SSH password authentication (systems.allowSshPasswordAuthentication).",
        soc2: &["CC6.1"],
        iso27001: &["A.8.9"],
        severity: Severity::High,
        category: "Endpoint",
        kinds: &[DEVICES, DEVICE_GROUP_MEMBERS],
        noun: "macOS and Linux devices",
        verdicts: "Passes: allowSshRootLogin and allowSshPasswordAuthentication both a readable false. Fails: either true, absent or unreadable. Not evaluated: devices of no recognised OS family, named in the notes; Windows is out of scope.",
        thresholds: no_thresholds,
        evaluate: e9_ssh,
    },
    ControlDef {
        id: "JC-E10-MDM-ENROLLMENT",
        title: "macOS and Windows devices enrolled in MDM",
        description: "Every macOS and Windows device is enrolled in an MDM: systems.mdm names a vendor other than none or unknown and one of the enrollment types JumpCloud documents for an enrolled device.",
        soc2: &["CC6.8"],
        iso27001: &["A.8.1"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[DEVICES, DEVICE_GROUP_MEMBERS],
        noun: "macOS and Windows devices",
        verdicts: "Passes: mdm.vendor other than none or unknown and mdm.enrollmentType automated device, device or user (JumpCloud's documented values). Fails: mdm absent, vendor none, unknown, empty or unreadable, enrollmentType unknown, absent or another value. Not evaluated: devices of no recognised OS family, named in the notes; Linux is out of scope.",
        thresholds: no_thresholds,
        evaluate: e10_mdm,
    },
    ControlDef {
        id: "JC-E11-LOCAL-ADMINS",
        title: "No local administrators beyond the allowlist",
        description: "No device has a local administrator account (System Insights users with admin 1, uid 0 on macOS/Linux, or a member of the Administrators / admin / sudo / wheel group through groups and user_groups) that is neither on the allowlist nor managed by JumpCloud. JumpCloud-managed accounts (users.managed 1) get their rights from the user's device binding in JumpCloud and are named in the notes instead.",
        soc2: &["CC6.1", "CC6.3"],
        iso27001: &["A.8.2", "A.5.15"],
        severity: Severity::High,
        category: "Endpoint",
        kinds: &[
            DEVICES,
            SI_LOCAL_USERS,
            SI_LOCAL_GROUPS,
            SI_LOCAL_USER_GROUPS,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        verdicts: "Passes: readable users rows, and every local administrator is on localAdminAllowList (case-insensitive) or managed by JumpCloud (managed 1, named in the notes). Fails: no users rows (not confirmed), an unreadable users, groups or user_groups row (username, uid, admin, groupname, gid), or an administrator neither listed nor managed (an unreadable managed counts as not managed). Not evaluated: devices of no recognised OS family, in the notes.",
        thresholds: |s| {
            vec![(
                "localAdminAllowList",
                s.local_admin_allow_list_or_default().join(", "),
            )]
        },
        evaluate: e11_local_admins,
    },
    ControlDef {
        id: "JC-E12-MACOS-SIP",
        title: "System Integrity Protection on every Mac",
        description: "Every macOS device reports System Integrity Protection enabled (System Insights sip_config, the sip flag's enabled 1).",
        soc2: &["CC6.8", "CC7.1"],
        iso27001: &["A.8.9", "A.8.7"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[DEVICES, SI_SIP_CONFIG, DEVICE_GROUP_MEMBERS],
        noun: "macOS devices",
        verdicts: "Passes: the sip_config row of config_flag sip has enabled 1. Fails: no sip_config rows (not confirmed), no sip row, or enabled 0, absent or unreadable. Not evaluated: devices that are not macOS are outside the control.",
        thresholds: no_thresholds,
        evaluate: e12_macos_sip,
    },
    ControlDef {
        id: "JC-E13-SECURE-BOOT",
        title: "Secure Boot on where the firmware supports it",
        description: "Every device whose firmware reports Secure Boot has it on (System Insights secureboot.secure_boot 1). osquery gives no secureboot row on legacy BIOS firmware (or a Mac without T2 / Apple silicon): such a device, when System Insights does report it (os_version rows), is not evaluated and named in the notes; a device without any System Insights data fails.",
        soc2: &["CC6.8"],
        iso27001: &["A.8.9"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[DEVICES, SI_SECUREBOOT, SI_OS_VERSION, DEVICE_GROUP_MEMBERS],
        noun: "devices",
        verdicts: "Passes: every secureboot row of the device has secure_boot 1. Fails: secure_boot 0, absent or unreadable; no secureboot and no os_version rows (not confirmed). Not evaluated: no secureboot row but os_version rows (legacy BIOS, firmware without Secure Boot) and devices of no recognised OS family, named in the notes.",
        thresholds: no_thresholds,
        evaluate: e13_secure_boot,
    },
    ControlDef {
        id: "JC-E14-WINDOWS-HOTFIXES",
        title: "Windows hotfixes installed recently",
        description: "Every Windows device's newest hotfix (System Insights patches.installed_on, Windows' M/D/YYYY or an ISO date) was installed at most the configured number of days before the collection.",
        soc2: &["CC7.1", "CC8.1"],
        iso27001: &["A.8.8"],
        severity: Severity::High,
        category: "Endpoint",
        kinds: &[DEVICES, SI_PATCHES, DEVICE_GROUP_MEMBERS],
        noun: "Windows devices",
        verdicts: "Passes: the newest readable installed_on is within patchMaxAgeDays of the collection. Fails: no patches rows (not confirmed), no readable installed_on, the newest older than the limit or more than a day after the collection. Not evaluated: devices that are not Windows are outside the control.",
        thresholds: |s| {
            vec![(
                "patchMaxAgeDays",
                s.patch_max_age_days_or_default().to_string(),
            )]
        },
        evaluate: e14_patch_currency,
    },
    ControlDef {
        id: "JC-E15-SOFTWARE-DENYLIST",
        title: "No denylisted software installed",
        description: "No device has software whose name contains an entry of the denylist (case-insensitive), over System Insights programs (Windows), apps (macOS) and linux_packages (Linux). The default denies peer-to-peer file-sharing clients; an empty denylist puts the control in error rather than passing it.",
        soc2: &["CC6.8"],
        iso27001: &["A.8.19", "A.8.7"],
        severity: Severity::Medium,
        category: "Endpoint",
        kinds: &[
            DEVICES,
            SI_PROGRAMS,
            SI_APPS,
            SI_LINUX_PACKAGES,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        verdicts: "Passes: software inventory rows for the device's family, every one with a readable name, none matching softwareDenyList. Fails: a match (named in the reason), no inventory rows (not confirmed), or a row without a readable name. Error: an empty softwareDenyList. Not evaluated: devices of no recognised OS family, in the notes.",
        thresholds: |s| {
            vec![(
                "softwareDenyList",
                s.software_deny_list_or_default().join(", "),
            )]
        },
        evaluate: e15_software_denylist,
    },
    ControlDef {
        id: "JC-I1-USER-MFA",
        title: "MFA for every active user",
        description: "Every activated, unsuspended user is enrolled in MFA (mfaEnrollment.overallStatus ENROLLED or totp_enabled). An MFA exclusion counts only until its exclusionUntil and is reported in the notes; exclusions without an end date are not honoured.",
        soc2: &["CC6.1"],
        iso27001: &["A.8.5"],
        severity: Severity::Critical,
        category: "Identity",
        kinds: &[USERS, USER_GROUP_MEMBERS],
        noun: "users",
        verdicts: "Passes: mfaEnrollment.overallStatus ENROLLED or totp_enabled true, or an MFA exclusion with a readable exclusionUntil in the future (named in the notes). Fails: anything else, including absent values and exclusions without an end date. Not evaluated: STAGED users unless includeStagedUsers (counted); suspended users are out of scope, and a user of unknown state is evaluated.",
        thresholds: |s| {
            vec![
                (
                    "mfaExclusions",
                    match s.mfa_exclusions_or_default() {
                        MfaExclusionHandling::HonourUntilEnd => "honourUntilEnd".to_owned(),
                        MfaExclusionHandling::Ignore => "ignore".to_owned(),
                    },
                ),
                (
                    "includeStagedUsers",
                    s.include_staged_users_or_default().to_string(),
                ),
            ]
        },
        evaluate: i1_user_mfa,
    },
    ControlDef {
        id: "JC-I2-ADMIN-MFA",
        title: "MFA for console administrators",
        description: "The organization requires MFA for administrators (settings.requireAdminMFA) and every unsuspended administrator has MFA enabled and enrolled (enableMultiFactor, totpEnrolled).",
        soc2: &["CC6.1"],
        iso27001: &["A.8.2", "A.8.5"],
        severity: Severity::Critical,
        category: "Identity",
        kinds: &[ORGANIZATION, ADMINISTRATORS],
        noun: "administrators and settings",
        verdicts: "Passes: settings.requireAdminMFA true, and per unsuspended administrator enableMultiFactor and totpEnrolled true. Fails: any of them false, absent or unreadable. Not evaluated: none.",
        thresholds: no_thresholds,
        evaluate: i2_admin_mfa,
    },
    ControlDef {
        id: "JC-I3-PASSWORD-POLICY",
        title: "Password policy meets the baseline",
        description: "The organization password policy enforces the minimum length, complexity, expiry and history of the settings (settings.passwordPolicy).",
        soc2: &["CC6.1"],
        iso27001: &["A.5.17"],
        severity: Severity::Medium,
        category: "Identity",
        kinds: &[ORGANIZATION],
        noun: "password rules",
        verdicts: "Passes: per rule, the enable flag true and the value readable and within the settings (minimum length, the four complexity flags, expiry, history). Fails: a flag false, absent or unreadable, a value absent, unreadable or outside the settings. Error: no settings.passwordPolicy.",
        thresholds: |s| {
            vec![
                (
                    "passwordMinLength",
                    s.password_min_length_or_default().to_string(),
                ),
                (
                    "passwordMaxExpiryDays",
                    match s.password_max_expiry_days_or_default() {
                        0 => "not required".to_owned(),
                        days => days.to_string(),
                    },
                ),
                (
                    "passwordRequireComplexity",
                    s.password_require_complexity_or_default().to_string(),
                ),
                (
                    "passwordMinHistory",
                    s.password_min_history_or_default().to_string(),
                ),
            ]
        },
        evaluate: i3_password_policy,
    },
    ControlDef {
        id: "JC-I4-ACCOUNT-LOCKOUT",
        title: "Account lockout configured",
        description: "The password policy locks an account after at most the configured number of failed sign-ins (passwordPolicy.maxLoginAttempts). Currently locked users are listed in the notes.",
        soc2: &["CC6.1"],
        iso27001: &["A.8.5"],
        severity: Severity::Medium,
        category: "Identity",
        kinds: &[ORGANIZATION, USERS],
        noun: "lockout rules",
        verdicts: "Passes: enableMaxLoginAttempts true and maxLoginAttempts readable, from 1 to the threshold. Fails: anything else, including absent values. Not evaluated: none.",
        thresholds: |s| {
            vec![(
                "maxLoginAttempts",
                s.max_login_attempts_or_default().to_string(),
            )]
        },
        evaluate: i4_lockout,
    },
    ControlDef {
        id: "JC-I5-DORMANT-ACCOUNTS",
        title: "No dormant accounts",
        description: "Every active user older than the threshold signed in successfully within it, per Directory Insights sign-in events (user portal, SSO, device, LDAP, RADIUS). JumpCloud users carry no last-login field, so this needs Directory Insights events covering at least the threshold.",
        soc2: &["CC6.2", "CC6.3"],
        iso27001: &["A.5.18"],
        severity: Severity::Medium,
        category: "Identity",
        kinds: &[USERS, DI_EVENTS, USER_GROUP_MEMBERS],
        noun: "users",
        verdicts: "Passes: a successful sign-in event (readable timestamp, success true, a sign-in event_type) matched by user id or username within the threshold. Fails: none, or only older ones. Not evaluated: users created within the threshold (counted). Error: Directory Insights not licensed or its window shorter than the threshold.",
        thresholds: |s| {
            vec![(
                "dormantAccountDays",
                s.dormant_account_days_or_default().to_string(),
            )]
        },
        evaluate: i5_dormant,
    },
    ControlDef {
        id: "JC-I6-LEAVERS-NO-ACCESS",
        title: "Suspended users hold no access",
        description: "Suspended users are bound to no device, SSO application or group (users/{id}/systems, /applications, /memberof).",
        soc2: &["CC6.2", "CC6.3"],
        iso27001: &["A.5.18", "A.6.5"],
        severity: Severity::High,
        category: "Identity",
        kinds: &[
            USERS,
            SUSPENDED_USER_SYSTEMS,
            SUSPENDED_USER_APPLICATIONS,
            SUSPENDED_USER_GROUPS,
        ],
        noun: "suspended users",
        verdicts: "Passes: a suspended user without device, application or group binding rows. Fails: any binding row. Error: a binding kind not completely collected.",
        thresholds: no_thresholds,
        evaluate: i6_leavers,
    },
    ControlDef {
        id: "JC-I7-PRIVILEGED-ACCESS",
        title: "No passwordless sudo; privileged access listed",
        description: "No active user and no user group grants passwordless sudo on devices (passwordless_sudo, attributes.sudo.withoutPassword). Users with sudo and administrators per role are listed in the notes for the periodic access review.",
        soc2: &["CC6.3"],
        iso27001: &["A.8.2"],
        severity: Severity::High,
        category: "Identity",
        kinds: &[USERS, USER_GROUPS, ADMINISTRATORS, USER_GROUP_MEMBERS],
        noun: "users and groups",
        verdicts: "Passes: an active user with passwordless_sudo a readable false; a group whose sudo attributes are absent or readable and not both enabled and withoutPassword. Fails: passwordless sudo, an absent or unreadable passwordless_sudo, group sudo attributes that are present but unreadable. Not evaluated: suspended users.",
        thresholds: no_thresholds,
        evaluate: i7_privileged,
    },
    ControlDef {
        id: "JC-I9-API-KEY-HYGIENE",
        title: "Administrator API keys expire and are rotated",
        description: "Every administrator API key carries an expiry (apiKeyHash.expireAt) and was set within the maximum age (apiKeyUpdatedAt).",
        soc2: &["CC6.1"],
        iso27001: &["A.5.17"],
        severity: Severity::Medium,
        category: "Identity",
        kinds: &[ADMINISTRATORS],
        noun: "administrator API keys",
        verdicts: "Passes: an unsuspended administrator with a key that has a readable apiKeyHash.expireAt and a readable set date (apiKeyUpdatedAt, else apiKeyHash.createdAt) within the maximum age. Fails: no expiry, no readable set date, too old. Not evaluated: administrators whose apiKeySet is absent or unreadable, named in the notes.",
        thresholds: |s| {
            vec![(
                "apiKeyMaxAgeDays",
                s.api_key_max_age_days_or_default().to_string(),
            )]
        },
        evaluate: i9_api_keys,
    },
    ControlDef {
        id: "JC-I10-AUDIT-LOGGING",
        title: "Audit logging (Directory Insights) enabled",
        description: "Directory Insights is enabled and licensed, so sign-ins and administrative changes are logged. JumpCloud keeps events 15 to 90 days depending on the tier; the stored snapshots keep them longer.",
        soc2: &["CC7.2"],
        iso27001: &["A.8.15", "A.8.16"],
        severity: Severity::High,
        category: "Logging",
        kinds: &[ORGANIZATION, DI_EVENTS],
        noun: "settings",
        verdicts: "Passes: settings.features.directoryInsights.enabled true and the events collected completely. Fails: enabled false, absent or unreadable. Error: Directory Insights not licensed, missing or unavailable.",
        thresholds: no_thresholds,
        evaluate: i10_audit_logging,
    },
    ControlDef {
        id: "JC-I11-CONDITIONAL-ACCESS-MFA",
        title: "Conditional access enforces MFA",
        description: "An enabled, enforcing (not monitor-only) conditional access policy requires MFA for the User Portal and, when SSO applications exist, for applications (/v2/authn/policies).",
        soc2: &["CC6.1"],
        iso27001: &["A.8.5", "A.5.15"],
        severity: Severity::High,
        category: "Identity",
        kinds: &[AUTHN_POLICIES, APPLICATIONS],
        noun: "sign-in surfaces",
        verdicts: "Passes: per surface, a policy of that type with effect.action allow, effect.obligations.mfa.required true, disabled false and monitorOnly false. Fails: no such policy, including when any of these values is absent or unreadable. Not evaluated: policy targets (noted).",
        thresholds: no_thresholds,
        evaluate: i11_conditional_access,
    },
    ControlDef {
        id: "JC-I12-SSO-CERT-EXPIRY",
        title: "SSO certificates not about to expire",
        description: "No active SSO application's IdP certificate (sso.idpCertExpirationAt) has expired or expires within the warning window.",
        soc2: &["CC7.1"],
        iso27001: &["A.8.24"],
        severity: Severity::Medium,
        category: "Identity",
        kinds: &[APPLICATIONS],
        noun: "SSO applications",
        verdicts: "Passes: a readable sso.idpCertExpirationAt later than the warning window. Fails: expired or expiring within it. Not evaluated: active applications without a readable expiry, named in the notes.",
        thresholds: |s| {
            vec![(
                "certExpiryWarningDays",
                s.cert_expiry_warning_days_or_default().to_string(),
            )]
        },
        evaluate: i12_certs,
    },
    ControlDef {
        id: "JC-I13-DEVICE-SUDO",
        title: "Sudo on devices only through an allowlisted group",
        description: "Every sudo grant on a device comes through a user group on the sudoGroupAllowList (device_access: /api/v2/systems/{id}/users, each user with its binding paths and compiled sudo). Sudo through a direct user-to-device binding, through a group not on the list, or from a user's own sudo flag (which grants sudo on every device the user is bound to) fails, naming the user, the device and the path; passwordless sudo is said explicitly.",
        soc2: &["CC6.1", "CC6.3"],
        iso27001: &["A.8.2", "A.5.15"],
        severity: Severity::High,
        category: "Identity",
        kinds: &[
            DEVICES,
            DEVICE_ACCESS,
            USERS,
            USER_GROUPS,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        verdicts: "Passes: every user bound to the device either has no sudo (no path and no compiled attribute carrying sudo, the user's sudo flag a readable false) or has it only through allowlisted user groups. Absent compiledAttributes or sudo attributes mean no sudo (association attributes are optional in the API; a binding without them grants none), but every path is still read. Fails: sudo through a direct binding, a group not on the list or the user's own flag; unreadable compiledAttributes or sudo values; absent or unreadable paths or user sudo flags; a bound user missing from the users evidence; compiled sudo no path explains. Error: device_access skipped by the collection's settings (spec.evidence.deviceAccess), unavailable or missing.",
        thresholds: |s| {
            vec![(
                "sudoGroupAllowList",
                s.sudo_group_allow_list_or_default().join(", "),
            )]
        },
        evaluate: i13_device_sudo,
    },
];

/// Every evidence kind some control reads.
pub fn kinds_read() -> BTreeSet<&'static str> {
    CATALOG
        .iter()
        .flat_map(|def| def.kinds.iter().copied())
        .collect()
}

/// A control of the catalog, by id.
pub fn find(id: &str) -> Option<&'static ControlDef> {
    CATALOG.iter().find(|def| def.id == id)
}

/// Where a control stands in the catalog (results are listed in catalog order).
pub fn catalog_position(id: &str) -> usize {
    CATALOG
        .iter()
        .position(|def| def.id == id)
        .unwrap_or(CATALOG.len())
}
