//! The control catalog (peers-and-checks.md §2, E1-E10 and I1-I12) and its evaluation.
//!
//! Every evaluation is a pure function of (evidence, settings, now). `now` is normally the
//! snapshot's collection time, so a stored snapshot always evaluates the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::evidence::{EvidenceSet, KindState, Unavailable};
use super::json::{as_f64, at, bool_at, f64_at, id_of, show, str_at, time_at, version_cmp};
use super::settings::{ControlSettings, MfaExclusionHandling};
use super::{ControlResult, ControlStatus, FailingResource, MAPPING_LABEL, References};

// Evidence kind names, as written by `collect`.
pub const ORGANIZATION: &str = "organization";
pub const ADMINISTRATORS: &str = "administrators";
pub const USERS: &str = "users";
pub const DEVICES: &str = "devices";
pub const SI_DISK_ENCRYPTION: &str = "system_insights_disk_encryption";
pub const SI_BITLOCKER: &str = "system_insights_bitlocker_info";
pub const SI_ALF: &str = "system_insights_alf";
pub const SI_SECURITY_CENTER: &str = "system_insights_windows_security_center";
pub const SI_SECURITY_PRODUCTS: &str = "system_insights_windows_security_products";
pub const SI_OS_VERSION: &str = "system_insights_os_version";
pub const POLICY_DETAILS: &str = "policy_details";
pub const POLICY_STATUSES: &str = "policy_statuses";
pub const APPLICATIONS: &str = "applications";
pub const USER_GROUPS: &str = "user_groups";
pub const USER_GROUP_MEMBERS: &str = "user_group_members";
pub const DEVICE_GROUP_MEMBERS: &str = "device_group_members";
pub const SUSPENDED_USER_SYSTEMS: &str = "suspended_user_systems";
pub const SUSPENDED_USER_APPLICATIONS: &str = "suspended_user_applications";
pub const SUSPENDED_USER_GROUPS: &str = "suspended_user_groups";
pub const AUTHN_POLICIES: &str = "authn_policies";
pub const DI_EVENTS: &str = "directory_insights_events";

/// What an evaluation found, before the catalog data is attached.
#[derive(Debug, Default)]
pub struct Finding {
    pub evaluated: u64,
    pub failing: Vec<FailingResource>,
    pub notes: Vec<String>,
}

impl Finding {
    fn fail(&mut self, id: impl Into<String>, name: impl Into<String>, why: impl Into<String>) {
        self.failing.push(FailingResource {
            id: id.into(),
            name: name.into(),
            why: why.into(),
        });
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
    /// Evidence kinds read.
    pub kinds: &'static [&'static str],
    /// What is counted in `evaluated` (plural noun for summaries).
    pub noun: &'static str,
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
        kinds: &[
            DEVICES,
            SI_DISK_ENCRYPTION,
            SI_BITLOCKER,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        thresholds: no_thresholds,
        evaluate: e1_disk_encryption,
    },
    ControlDef {
        id: "JC-E1-RECOVERY-KEY-ESCROW",
        title: "Disk encryption recovery keys escrowed",
        description: "Every encrypted macOS and Windows device has its recovery key escrowed in JumpCloud (systems.fde.keyPresent), so data can be recovered and the device's encryption is managed.",
        soc2: &["CC6.1", "A1.2"],
        iso27001: &["A.8.24", "A.8.13"],
        kinds: &[DEVICES, DEVICE_GROUP_MEMBERS],
        noun: "encrypted devices",
        thresholds: no_thresholds,
        evaluate: e1_recovery_key,
    },
    ControlDef {
        id: "JC-E2-SCREEN-LOCK",
        title: "Screen lock within the idle threshold",
        description: "Every device has a screen-lock policy whose latest result on that device succeeded and whose idle timeout is within the threshold. There is no System Insights table for screen lock: the evidence is the bound policy, its configured value and its latest status. Settings made outside JumpCloud policies cannot be seen.",
        soc2: &["CC6.1"],
        iso27001: &["A.7.7", "A.8.1"],
        kinds: &[
            DEVICES,
            POLICY_DETAILS,
            POLICY_STATUSES,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
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
        kinds: &[
            DEVICES,
            SI_ALF,
            SI_SECURITY_CENTER,
            POLICY_DETAILS,
            POLICY_STATUSES,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
        thresholds: no_thresholds,
        evaluate: e3_firewall,
    },
    ControlDef {
        id: "JC-E4-ANTIVIRUS",
        title: "Anti-malware present and current",
        description: "Windows: an allow-listed antivirus product is On with up-to-date signatures (System Insights windows_security_products). macOS: the built-in protection counts from the configured major version on. Linux devices are not evaluated (no anti-malware evidence is collected) and are counted in the notes.",
        soc2: &["CC6.8"],
        iso27001: &["A.8.7"],
        kinds: &[
            DEVICES,
            SI_SECURITY_PRODUCTS,
            SI_OS_VERSION,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices",
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
        kinds: &[DEVICES, SI_OS_VERSION, DEVICE_GROUP_MEMBERS],
        noun: "devices",
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
        kinds: &[DEVICES, USERS, DEVICE_GROUP_MEMBERS],
        noun: "devices",
        thresholds: no_thresholds,
        evaluate: e6_owner,
    },
    ControlDef {
        id: "JC-E7-STALE-DEVICES",
        title: "No stale devices",
        description: "No device has gone without agent contact (systems.lastContact) for longer than the threshold. Stale devices are listed here and stay in scope of the other device controls.",
        soc2: &["CC6.1"],
        iso27001: &["A.5.9", "A.8.1"],
        kinds: &[DEVICES, DEVICE_GROUP_MEMBERS],
        noun: "devices",
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
        kinds: &[
            DEVICES,
            POLICY_DETAILS,
            POLICY_STATUSES,
            DEVICE_GROUP_MEMBERS,
        ],
        noun: "devices with policy results",
        thresholds: no_thresholds,
        evaluate: e8_policy_failures,
    },
    ControlDef {
        id: "JC-E9-SSH-HARDENING",
        title: "SSH root and password login disabled",
        description: "macOS and Linux devices do not allow SSH root login (systems.allowSshRootLogin) or SSH password authentication (systems.allowSshPasswordAuthentication).",
        soc2: &["CC6.1"],
        iso27001: &["A.8.9"],
        kinds: &[DEVICES, DEVICE_GROUP_MEMBERS],
        noun: "macOS and Linux devices",
        thresholds: no_thresholds,
        evaluate: e9_ssh,
    },
    ControlDef {
        id: "JC-E10-MDM-ENROLLMENT",
        title: "macOS and Windows devices enrolled in MDM",
        description: "Every macOS and Windows device is enrolled in an MDM (systems.mdm with a vendor).",
        soc2: &["CC6.8"],
        iso27001: &["A.8.1"],
        kinds: &[DEVICES, DEVICE_GROUP_MEMBERS],
        noun: "macOS and Windows devices",
        thresholds: no_thresholds,
        evaluate: e10_mdm,
    },
    ControlDef {
        id: "JC-I1-USER-MFA",
        title: "MFA for every active user",
        description: "Every activated, unsuspended user is enrolled in MFA (mfaEnrollment.overallStatus ENROLLED or totp_enabled). An MFA exclusion counts only until its exclusionUntil and is reported in the notes; exclusions without an end date are not honoured.",
        soc2: &["CC6.1"],
        iso27001: &["A.8.5"],
        kinds: &[USERS, USER_GROUP_MEMBERS],
        noun: "users",
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
        kinds: &[ORGANIZATION, ADMINISTRATORS],
        noun: "administrators and settings",
        thresholds: no_thresholds,
        evaluate: i2_admin_mfa,
    },
    ControlDef {
        id: "JC-I3-PASSWORD-POLICY",
        title: "Password policy meets the baseline",
        description: "The organization password policy enforces the minimum length, complexity, expiry and history of the settings (settings.passwordPolicy).",
        soc2: &["CC6.1"],
        iso27001: &["A.5.17"],
        kinds: &[ORGANIZATION],
        noun: "password rules",
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
        kinds: &[ORGANIZATION, USERS],
        noun: "lockout rules",
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
        kinds: &[USERS, DI_EVENTS, USER_GROUP_MEMBERS],
        noun: "users",
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
        kinds: &[
            USERS,
            SUSPENDED_USER_SYSTEMS,
            SUSPENDED_USER_APPLICATIONS,
            SUSPENDED_USER_GROUPS,
        ],
        noun: "suspended users",
        thresholds: no_thresholds,
        evaluate: i6_leavers,
    },
    ControlDef {
        id: "JC-I7-PRIVILEGED-ACCESS",
        title: "No passwordless sudo; privileged access listed",
        description: "No active user and no user group grants passwordless sudo on devices (passwordless_sudo, attributes.sudo.withoutPassword). Users with sudo and administrators per role are listed in the notes for the periodic access review.",
        soc2: &["CC6.3"],
        iso27001: &["A.8.2"],
        kinds: &[USERS, USER_GROUPS, ADMINISTRATORS, USER_GROUP_MEMBERS],
        noun: "users and groups",
        thresholds: no_thresholds,
        evaluate: i7_privileged,
    },
    ControlDef {
        id: "JC-I9-API-KEY-HYGIENE",
        title: "Administrator API keys expire and are rotated",
        description: "Every administrator API key carries an expiry (apiKeyHash.expireAt) and was set within the maximum age (apiKeyUpdatedAt).",
        soc2: &["CC6.1"],
        iso27001: &["A.5.17"],
        kinds: &[ADMINISTRATORS],
        noun: "administrator API keys",
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
        kinds: &[ORGANIZATION, DI_EVENTS],
        noun: "settings",
        thresholds: no_thresholds,
        evaluate: i10_audit_logging,
    },
    ControlDef {
        id: "JC-I11-CONDITIONAL-ACCESS-MFA",
        title: "Conditional access enforces MFA",
        description: "An enabled, enforcing (not monitor-only) conditional access policy requires MFA for the User Portal and, when SSO applications exist, for applications (/v2/authn/policies).",
        soc2: &["CC6.1"],
        iso27001: &["A.8.5", "A.5.15"],
        kinds: &[AUTHN_POLICIES, APPLICATIONS],
        noun: "sign-in surfaces",
        thresholds: no_thresholds,
        evaluate: i11_conditional_access,
    },
    ControlDef {
        id: "JC-I12-SSO-CERT-EXPIRY",
        title: "SSO certificates not about to expire",
        description: "No active SSO application's IdP certificate (sso.idpCertExpirationAt) has expired or expires within the warning window.",
        soc2: &["CC7.1"],
        iso27001: &["A.8.24"],
        kinds: &[APPLICATIONS],
        noun: "SSO applications",
        thresholds: |s| {
            vec![(
                "certExpiryWarningDays",
                s.cert_expiry_warning_days_or_default().to_string(),
            )]
        },
        evaluate: i12_certs,
    },
];

/// Every evidence kind some control reads.
pub fn kinds_read() -> BTreeSet<&'static str> {
    CATALOG
        .iter()
        .flat_map(|def| def.kinds.iter().copied())
        .collect()
}

/// The kinds whose record count grows with the org (one record per user, device, membership,
/// System Insights row, policy result or event): the loader for evaluations keeps only
/// [`FIELDS_READ`] of their records, since parsed JSON takes about ten times its text in memory.
const PROJECTED_KINDS: &[&str] = &[
    USERS,
    DEVICES,
    SI_DISK_ENCRYPTION,
    SI_BITLOCKER,
    SI_ALF,
    SI_SECURITY_CENTER,
    SI_SECURITY_PRODUCTS,
    SI_OS_VERSION,
    POLICY_STATUSES,
    USER_GROUP_MEMBERS,
    DEVICE_GROUP_MEMBERS,
    SUSPENDED_USER_SYSTEMS,
    SUSPENDED_USER_APPLICATIONS,
    SUSPENDED_USER_GROUPS,
    DI_EVENTS,
];

/// Every top-level record field a control reads, by the first segment of its path (nested
/// values are kept whole), plus the ids. A test checks every path the catalog reads is covered,
/// and another that evaluating projected records gives the same results as whole ones.
const FIELDS_READ: &[&str] = &[
    "_id",
    "account_locked",
    "activated",
    "active",
    "allowSshPasswordAuthentication",
    "allowSshRootLogin",
    "apiKeyHash",
    "apiKeySet",
    "apiKeyUpdatedAt",
    "attributes",
    "configFieldID",
    "configFieldName",
    "configFields",
    "created",
    "disabled",
    "displayLabel",
    "displayName",
    "drive_letter",
    "effect",
    "email",
    "enableMaxHistory",
    "enableMaxLoginAttempts",
    "enableMinLength",
    "enableMultiFactor",
    "enablePasswordExpirationInDays",
    "encrypted",
    "event_type",
    "fde",
    "firewall",
    "global_state",
    "hostname",
    "id",
    "initiated_by",
    "lastContact",
    "major",
    "maxHistory",
    "maxLoginAttempts",
    "mdm",
    "mfa",
    "mfaEnrollment",
    "minLength",
    "monitorOnly",
    "name",
    "os",
    "osFamily",
    "osVersionDetail",
    "passwordExpirationInDays",
    "passwordless_sudo",
    "policyID",
    "primarySystemUser",
    "protection_status",
    "roleName",
    "settings",
    "signatures_up_to_date",
    "sso",
    "state",
    "success",
    "sudo",
    "suspended",
    "systemID",
    "systemInsights",
    "system_id",
    "template",
    "timestamp",
    "totpEnrolled",
    "totp_enabled",
    "type",
    "username",
    "value",
    "values",
    "version",
];

/// For the kinds that grow with the org, the only top-level record fields any control reads
/// (the loader for evaluations keeps just these); `None`: whole records.
pub fn fields_read(kind: &str) -> Option<&'static [&'static str]> {
    PROJECTED_KINDS.contains(&kind).then_some(FIELDS_READ)
}

/// Controls evaluated together, and every kind they read.
pub struct EvaluationPhase {
    pub controls: Vec<&'static ControlDef>,
    pub kinds: BTreeSet<&'static str>,
}

/// The two largest kinds (a result per policy and device; a record per event): the controls
/// reading each form a phase of their own, so an evaluation never holds both at once. Every
/// other control runs in the last phase.
const PHASE_KINDS: &[&str] = &[POLICY_STATUSES, DI_EVENTS];

/// The catalog split into phases an evaluation can load and drop one after the other.
pub fn evaluation_phases() -> Vec<EvaluationPhase> {
    let mut phases: Vec<EvaluationPhase> = (0..=PHASE_KINDS.len())
        .map(|_| EvaluationPhase {
            controls: Vec::new(),
            kinds: BTreeSet::new(),
        })
        .collect();
    for def in CATALOG {
        let phase = PHASE_KINDS
            .iter()
            .position(|kind| def.kinds.contains(kind))
            .unwrap_or(PHASE_KINDS.len());
        phases[phase].controls.push(def);
        phases[phase].kinds.extend(def.kinds.iter().copied());
    }
    phases
}

impl EvaluationPhase {
    /// Evaluates this phase's controls on evidence that holds (at least) its kinds.
    pub fn evaluate(
        &self,
        evidence: &EvidenceSet,
        settings: &ControlSettings,
        now: jiff::Timestamp,
    ) -> Vec<ControlResult> {
        let ctx = Ctx::new(evidence, settings, now);
        self.controls.iter().map(|def| run(def, &ctx)).collect()
    }
}

/// Where a control stands in the catalog (results are listed in catalog order).
pub fn catalog_position(id: &str) -> usize {
    CATALOG
        .iter()
        .position(|def| def.id == id)
        .unwrap_or(CATALOG.len())
}

/// Evaluates every control of the catalog, in catalog order.
pub fn evaluate_all(
    evidence: &EvidenceSet,
    settings: &ControlSettings,
    now: jiff::Timestamp,
) -> Vec<ControlResult> {
    let ctx = Ctx::new(evidence, settings, now);
    CATALOG.iter().map(|def| run(def, &ctx)).collect()
}

/// Evaluates one control by id; `None` for an unknown id.
pub fn evaluate(
    id: &str,
    evidence: &EvidenceSet,
    settings: &ControlSettings,
    now: jiff::Timestamp,
) -> Option<ControlResult> {
    let def = CATALOG.iter().find(|def| def.id == id)?;
    Some(run(def, &Ctx::new(evidence, settings, now)))
}

fn run(def: &ControlDef, ctx: &Ctx) -> ControlResult {
    let mut thresholds = BTreeMap::new();
    for (name, value) in (def.thresholds)(ctx.settings) {
        thresholds
            .entry(name.to_owned())
            .and_modify(|existing: &mut String| {
                existing.push_str("; ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    let mut result = ControlResult {
        id: def.id.to_owned(),
        title: def.title.to_owned(),
        status: ControlStatus::Pass,
        summary: String::new(),
        evaluated: 0,
        failing: Vec::new(),
        notes: Vec::new(),
        references: References {
            mapping: MAPPING_LABEL.to_owned(),
            soc2: def.soc2.iter().map(|s| (*s).to_owned()).collect(),
            iso27001: def.iso27001.iter().map(|s| (*s).to_owned()).collect(),
        },
        thresholds,
        evidence_kinds: def.kinds.iter().map(|s| (*s).to_owned()).collect(),
    };
    if ctx.settings.disabled_controls.iter().any(|id| id == def.id) {
        result.status = ControlStatus::NotApplicable;
        result.summary = "Disabled in the settings (disabledControls).".to_owned();
        return result;
    }
    match (def.evaluate)(ctx) {
        Err(reason) => {
            result.status = ControlStatus::Error;
            result.summary = format!("Not evaluated: {reason}.");
        }
        Ok(mut finding) => {
            finding.failing.sort();
            finding.failing.dedup();
            let failing = finding.failing.len() as u64;
            result.evaluated = finding.evaluated;
            result.notes = finding.notes;
            result.failing = finding.failing;
            if failing > 0 {
                result.status = ControlStatus::Fail;
                result.summary = format!(
                    "{failing} of {} {} fail.",
                    finding.evaluated.max(failing),
                    def.noun
                );
            } else if finding.evaluated == 0 {
                result.status = ControlStatus::NotApplicable;
                result.summary = format!("No {} in scope.", def.noun);
            } else {
                result.summary = format!("All {} {} pass.", finding.evaluated, def.noun);
            }
        }
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Shared context: scope and indexes, computed once per evaluation.

/// OS family of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Mac,
    Windows,
    Linux,
    Other,
}

impl Family {
    fn of(device: &Value) -> Family {
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

    fn key(self) -> &'static str {
        match self {
            Family::Mac => "darwin",
            Family::Windows => "windows",
            Family::Linux => "linux",
            Family::Other => "other",
        }
    }
}

pub struct Ctx<'a> {
    ev: &'a EvidenceSet,
    settings: &'a ControlSettings,
    now: jiff::Timestamp,
}

impl<'a> Ctx<'a> {
    fn new(ev: &'a EvidenceSet, settings: &'a ControlSettings, now: jiff::Timestamp) -> Self {
        Ctx { ev, settings, now }
    }

    fn records(&self, kind: &str) -> Result<&'a [Value], String> {
        self.ev
            .records(kind)
            .map_err(|e: Unavailable| e.to_string())
    }

    fn children(&self, kind: &str) -> Result<Vec<(&'a str, &'a Value)>, String> {
        self.ev.children(kind).map_err(|e| e.to_string())
    }

    fn organization(&self) -> Result<&'a Value, String> {
        self.records(ORGANIZATION)?
            .first()
            .ok_or_else(|| "the organization record is missing".to_owned())
    }

    /// Ids of members of the given groups (from a `*_group_members` kind).
    fn members_of(&self, kind: &str, groups: &[String]) -> Result<BTreeSet<String>, String> {
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
    fn devices(&self) -> Result<(Vec<&'a Value>, usize), String> {
        let excluded = self.members_of(
            DEVICE_GROUP_MEMBERS,
            &self.settings.excluded_device_group_ids,
        )?;
        let mut devices: Vec<&Value> = self.records(DEVICES)?.iter().collect();
        devices.sort_by_key(|d| id_of(d));
        let before = devices.len();
        devices.retain(|d| !excluded.contains(&id_of(d)));
        Ok((devices.clone(), before - devices.len()))
    }

    /// Users in scope (not in an excluded user group), sorted by id, with the number excluded.
    fn users(&self) -> Result<(Vec<&'a Value>, usize), String> {
        let excluded =
            self.members_of(USER_GROUP_MEMBERS, &self.settings.excluded_user_group_ids)?;
        let mut users: Vec<&Value> = self.records(USERS)?.iter().collect();
        users.sort_by_key(|u| id_of(u));
        let before = users.len();
        users.retain(|u| !excluded.contains(&id_of(u)));
        Ok((users.clone(), before - users.len()))
    }

    /// System Insights rows of a table by system id. `Err` when the kind is unavailable.
    fn insights(&self, kind: &str) -> Result<BTreeMap<&'a str, Vec<&'a Value>>, String> {
        let mut map: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for row in self.records(kind)? {
            if let Some(system) = str_at(row, "system_id") {
                map.entry(system).or_default().push(row);
            }
        }
        Ok(map)
    }

    /// Policy details by policy id.
    fn policies(&self) -> Result<BTreeMap<String, &'a Value>, String> {
        Ok(self
            .records(POLICY_DETAILS)?
            .iter()
            .map(|p| (id_of(p), p))
            .collect())
    }

    /// Latest policy statuses as (policy id, status record), sorted.
    fn statuses(&self) -> Result<Vec<(&'a str, &'a Value)>, String> {
        let mut rows = self.children(POLICY_STATUSES)?;
        rows.iter_mut().for_each(|row| {
            if row.0.is_empty() {
                row.0 = str_at(row.1, "policyID").unwrap_or("");
            }
        });
        rows.sort_by(|a, b| (a.0, system_of(a.1)).cmp(&(b.0, system_of(b.1))));
        Ok(rows)
    }
}

fn system_of(status: &Value) -> &str {
    str_at(status, "systemID")
        .or_else(|| str_at(status, "system_id"))
        .unwrap_or("")
}

fn device_name(device: &Value) -> String {
    str_at(device, "displayName")
        .or_else(|| str_at(device, "hostname"))
        .unwrap_or("")
        .to_owned()
}

fn user_name(user: &Value) -> String {
    str_at(user, "username")
        .or_else(|| str_at(user, "email"))
        .unwrap_or("")
        .to_owned()
}

fn policy_name(policy: &Value) -> String {
    str_at(policy, "name").unwrap_or("").to_owned()
}

/// Template name + display name, lower case, for matching policy kinds.
fn template_text(policy: &Value) -> String {
    format!(
        "{} {}",
        str_at(policy, "template.name").unwrap_or(""),
        str_at(policy, "template.displayName").unwrap_or("")
    )
    .to_ascii_lowercase()
}

fn is_screen_lock_policy(policy: &Value) -> bool {
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

fn is_firewall_policy(policy: &Value) -> bool {
    let text = template_text(policy);
    ["firewall", "ufw", "iptables"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// The idle timeout (seconds) configured in a screen-lock policy: the value of the config field
/// whose name mentions a timeout or idle time.
fn policy_timeout_seconds(policy: &Value) -> Option<f64> {
    let field_names: BTreeMap<&str, &str> = at(policy, "configFields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| Some((str_at(f, "id")?, str_at(f, "name")?)))
                .collect()
        })
        .unwrap_or_default();
    let values = at(policy, "values").and_then(Value::as_array)?;
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

fn status_state(status: &Value) -> &str {
    match str_at(status, "state") {
        Some(state) => state,
        None => match bool_at(status, "success") {
            Some(true) => "success",
            Some(false) => "failed",
            None => "unknown",
        },
    }
}

fn insights_state(device: &Value) -> String {
    show(device, "systemInsights.state")
}

fn days_between(earlier: jiff::Timestamp, later: jiff::Timestamp) -> i64 {
    (later.as_second() - earlier.as_second()).div_euclid(86_400)
}

fn excluded_note(notes: &mut Vec<String>, excluded: usize, what: &str) {
    if excluded > 0 {
        notes.push(format!(
            "{excluded} {what} excluded by the settings' excluded groups."
        ));
    }
}

fn os_version_of(device: &Value, si: Option<&Vec<&Value>>) -> Option<String> {
    si.and_then(|rows| rows.first())
        .and_then(|row| str_at(row, "version"))
        .or_else(|| str_at(device, "osVersionDetail.version"))
        .or_else(|| str_at(device, "version"))
        .map(str::to_owned)
}

fn os_major(device: &Value, si: Option<&Vec<&Value>>) -> Option<u64> {
    si.and_then(|rows| rows.first())
        .and_then(|row| f64_at(row, "major"))
        .or_else(|| f64_at(device, "osVersionDetail.major"))
        .map(|m| m as u64)
        .or_else(|| {
            os_version_of(device, si).and_then(|v| v.split('.').next().and_then(|m| m.parse().ok()))
        })
}

// ---------------------------------------------------------------------------------------------
// Endpoint controls.

fn e1_disk_encryption(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let disks = ctx.insights(SI_DISK_ENCRYPTION)?;
    let bitlocker = ctx.insights(SI_BITLOCKER)?;
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
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
                let system: Vec<&&Value> = rows
                    .iter()
                    .filter(|r| {
                        str_at(r, "drive_letter").is_some_and(|d| d.eq_ignore_ascii_case("C:"))
                    })
                    .collect();
                let candidates: Vec<&&Value> = if system.is_empty() {
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

fn e1_recovery_key(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
    for device in devices {
        if !matches!(Family::of(device), Family::Mac | Family::Windows)
            || bool_at(device, "fde.active") != Some(true)
        {
            continue;
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

fn e2_screen_lock(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let policies = ctx.policies()?;
    let statuses = ctx.statuses()?;
    let limit = f64::from(ctx.settings.screen_lock_minutes_or_default()) * 60.0;
    let mut per_device: BTreeMap<&str, Vec<(&Value, &Value)>> = BTreeMap::new();
    for (policy_id, status) in &statuses {
        if let Some(policy) = policies
            .get(*policy_id)
            .filter(|p| is_screen_lock_policy(p))
        {
            per_device
                .entry(system_of(status))
                .or_default()
                .push((policy, status));
        }
    }
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
    let unreadable: BTreeSet<String> = policies
        .values()
        .filter(|p| is_screen_lock_policy(p) && policy_timeout_seconds(p).is_none())
        .map(|p| policy_name(p))
        .collect();
    for device in devices {
        if Family::of(device) == Family::Other {
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
        for (policy, status) in bound {
            let state = status_state(status);
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

fn e3_firewall(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let alf = ctx.insights(SI_ALF)?;
    let center = ctx.insights(SI_SECURITY_CENTER)?;
    let policies = ctx.policies()?;
    let mut firewall_ok: BTreeSet<&str> = BTreeSet::new();
    let mut firewall_bound: BTreeSet<&str> = BTreeSet::new();
    for (policy_id, status) in ctx.statuses()? {
        if policies
            .get(policy_id)
            .is_some_and(|p| is_firewall_policy(p))
        {
            firewall_bound.insert(system_of(status));
            if status_state(status) == "success" {
                firewall_ok.insert(system_of(status));
            }
        }
    }
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
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
            Family::Other => continue,
        };
        f.evaluated += 1;
        if let Some(why) = why {
            f.fail(&id, device_name(device), why);
        }
    }
    Ok(f)
}

fn e4_antivirus(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let products = ctx.insights(SI_SECURITY_PRODUCTS)?;
    let os = ctx.insights(SI_OS_VERSION)?;
    let allow: Vec<String> = ctx
        .settings
        .antivirus_allow_list_or_default()
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let mac_min = u64::from(ctx.settings.macos_builtin_protection_min_major_or_default());
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
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
                    let antivirus: Vec<&&Value> = rows
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
            Family::Other => continue,
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

fn e5_os_version(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let os = ctx.insights(SI_OS_VERSION)?;
    let baselines = ctx.settings.os_baselines_or_default();
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
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

fn e6_owner(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let users: BTreeSet<String> = ctx.records(USERS)?.iter().map(id_of).collect();
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
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

fn e7_stale(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let days = i64::from(ctx.settings.stale_device_days_or_default());
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
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

fn e8_policy_failures(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let all_devices: BTreeSet<String> = ctx.records(DEVICES)?.iter().map(id_of).collect();
    let policies = ctx.policies()?;
    let mut per_device: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut with_results: BTreeSet<&str> = BTreeSet::new();
    let mut orphaned = 0u64;
    for (policy_id, status) in ctx.statuses()? {
        let system = system_of(status);
        if !all_devices.contains(system) {
            orphaned += 1;
            continue;
        }
        with_results.insert(system);
        if status_state(status) == "failed" {
            let name = policies
                .get(policy_id)
                .map_or_else(|| policy_id.to_owned(), |p| policy_name(p));
            per_device.entry(system).or_default().push(name);
        }
    }
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
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

fn e9_ssh(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
    for device in devices {
        if !matches!(Family::of(device), Family::Mac | Family::Linux) {
            continue;
        }
        f.evaluated += 1;
        let mut why = Vec::new();
        if bool_at(device, "allowSshRootLogin") == Some(true) {
            why.push("SSH root login allowed");
        }
        if bool_at(device, "allowSshPasswordAuthentication") == Some(true) {
            why.push("SSH password authentication allowed");
        }
        if !why.is_empty() {
            f.fail(id_of(device), device_name(device), why.join("; "));
        }
    }
    Ok(f)
}

fn e10_mdm(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, excluded) = ctx.devices()?;
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "devices");
    for device in devices {
        if !matches!(Family::of(device), Family::Mac | Family::Windows) {
            continue;
        }
        f.evaluated += 1;
        if str_at(device, "mdm.vendor").is_none_or(str::is_empty) {
            f.fail(
                id_of(device),
                device_name(device),
                "not enrolled in an MDM (mdm.vendor empty)",
            );
        }
    }
    Ok(f)
}

// ---------------------------------------------------------------------------------------------
// Identity controls.

fn is_suspended(user: &Value) -> bool {
    bool_at(user, "suspended") == Some(true)
        || str_at(user, "state").is_some_and(|s| s.eq_ignore_ascii_case("SUSPENDED"))
}

fn is_active_user(user: &Value, include_staged: bool) -> bool {
    if is_suspended(user) {
        return false;
    }
    match str_at(user, "state") {
        Some(state) if state.eq_ignore_ascii_case("ACTIVATED") => true,
        Some(state) if state.eq_ignore_ascii_case("STAGED") => include_staged,
        Some(_) => false,
        None => bool_at(user, "activated") != Some(false),
    }
}

fn i1_user_mfa(ctx: &Ctx) -> Result<Finding, String> {
    let (users, excluded) = ctx.users()?;
    let staged = ctx.settings.include_staged_users_or_default();
    let handling = ctx.settings.mfa_exclusions_or_default();
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "users");
    let mut honoured = Vec::new();
    let mut staged_skipped = 0;
    for user in users {
        if !staged
            && !is_suspended(user)
            && str_at(user, "state").is_some_and(|s| s.eq_ignore_ascii_case("STAGED"))
        {
            staged_skipped += 1;
        }
        if !is_active_user(user, staged) {
            continue;
        }
        f.evaluated += 1;
        let enrolled = str_at(user, "mfaEnrollment.overallStatus") == Some("ENROLLED")
            || bool_at(user, "totp_enabled") == Some(true);
        if enrolled {
            continue;
        }
        let status = show(user, "mfaEnrollment.overallStatus");
        if bool_at(user, "mfa.exclusion") == Some(true) {
            let until = time_at(user, "mfa.exclusionUntil");
            match (handling, until) {
                (MfaExclusionHandling::HonourUntilEnd, Some(until)) if until > ctx.now => {
                    honoured.push(format!("{} ({}) until {until}", user_name(user), id_of(user)));
                    continue;
                }
                (MfaExclusionHandling::Ignore, _) => f.fail(
                    id_of(user),
                    user_name(user),
                    format!("not enrolled in MFA (overallStatus={status}); MFA exclusions are not accepted by the settings"),
                ),
                (_, Some(until)) => f.fail(
                    id_of(user),
                    user_name(user),
                    format!("not enrolled in MFA (overallStatus={status}); MFA exclusion ended {until}"),
                ),
                (_, None) => f.fail(
                    id_of(user),
                    user_name(user),
                    format!("not enrolled in MFA (overallStatus={status}); MFA exclusion without an end date is not honoured"),
                ),
            }
        } else {
            f.fail(
                id_of(user),
                user_name(user),
                format!("not enrolled in MFA (overallStatus={status})"),
            );
        }
    }
    if !honoured.is_empty() {
        f.notes.push(format!(
            "{} users pass only through an MFA exclusion that has not ended: {}.",
            honoured.len(),
            honoured.join(", ")
        ));
    }
    if staged_skipped > 0 {
        f.notes.push(format!(
            "{staged_skipped} STAGED users (not yet activated) were not evaluated (includeStagedUsers=false)."
        ));
    }
    Ok(f)
}

fn i2_admin_mfa(ctx: &Ctx) -> Result<Finding, String> {
    let org = ctx.organization()?;
    let admins = ctx.records(ADMINISTRATORS)?;
    let mut f = Finding::default();
    f.evaluated += 1;
    if bool_at(org, "settings.requireAdminMFA") != Some(true) {
        f.fail(
            id_of(org),
            str_at(org, "displayName").unwrap_or(""),
            format!(
                "organization does not require MFA for administrators (settings.requireAdminMFA={})",
                show(org, "settings.requireAdminMFA")
            ),
        );
    }
    let mut admins: Vec<&Value> = admins.iter().collect();
    admins.sort_by_key(|a| id_of(a));
    for admin in admins {
        if bool_at(admin, "suspended") == Some(true) {
            continue;
        }
        f.evaluated += 1;
        let enabled = bool_at(admin, "enableMultiFactor") == Some(true);
        let enrolled = bool_at(admin, "totpEnrolled") == Some(true);
        if !(enabled && enrolled) {
            f.fail(
                id_of(admin),
                str_at(admin, "email").unwrap_or(""),
                format!(
                    "administrator ({}) without MFA: enableMultiFactor={}, totpEnrolled={}",
                    show(admin, "roleName"),
                    show(admin, "enableMultiFactor"),
                    show(admin, "totpEnrolled")
                ),
            );
        }
    }
    Ok(f)
}

fn i3_password_policy(ctx: &Ctx) -> Result<Finding, String> {
    let org = ctx.organization()?;
    let Some(policy) = at(org, "settings.passwordPolicy") else {
        return Err("the organization has no settings.passwordPolicy".to_owned());
    };
    let s = ctx.settings;
    let mut f = Finding::default();
    let rule = |f: &mut Finding, field: &str, ok: bool, why: String| {
        f.evaluated += 1;
        if !ok {
            f.fail(format!("passwordPolicy.{field}"), field.to_owned(), why);
        }
    };
    let min = f64::from(s.password_min_length_or_default());
    let enabled = bool_at(policy, "enableMinLength") != Some(false);
    let length = f64_at(policy, "minLength");
    rule(
        &mut f,
        "minLength",
        enabled && length.is_some_and(|l| l >= min),
        format!(
            "minimum length {} (enableMinLength={}), baseline {min}",
            show(policy, "minLength"),
            show(policy, "enableMinLength")
        ),
    );
    if s.password_require_complexity_or_default() {
        for field in [
            "needsLowercase",
            "needsUppercase",
            "needsNumeric",
            "needsSymbolic",
        ] {
            rule(
                &mut f,
                field,
                bool_at(policy, field) == Some(true),
                format!("{field}={}, complexity required", show(policy, field)),
            );
        }
    }
    let max_expiry = s.password_max_expiry_days_or_default();
    if max_expiry > 0 {
        let enabled = bool_at(policy, "enablePasswordExpirationInDays") == Some(true);
        let days = f64_at(policy, "passwordExpirationInDays");
        rule(
            &mut f,
            "passwordExpirationInDays",
            enabled && days.is_some_and(|d| d > 0.0 && d <= f64::from(max_expiry)),
            format!(
                "expiry {} days (enablePasswordExpirationInDays={}), at most {max_expiry} required",
                show(policy, "passwordExpirationInDays"),
                show(policy, "enablePasswordExpirationInDays")
            ),
        );
    }
    let history = s.password_min_history_or_default();
    if history > 0 {
        let enabled = bool_at(policy, "enableMaxHistory") == Some(true);
        let kept = f64_at(policy, "maxHistory");
        rule(
            &mut f,
            "maxHistory",
            enabled && kept.is_some_and(|k| k >= f64::from(history)),
            format!(
                "history {} (enableMaxHistory={}), at least {history} required",
                show(policy, "maxHistory"),
                show(policy, "enableMaxHistory")
            ),
        );
    }
    Ok(f)
}

fn i4_lockout(ctx: &Ctx) -> Result<Finding, String> {
    let org = ctx.organization()?;
    let policy = at(org, "settings.passwordPolicy")
        .cloned()
        .unwrap_or(Value::Null);
    let max = f64::from(ctx.settings.max_login_attempts_or_default());
    let mut f = Finding {
        evaluated: 1,
        ..Finding::default()
    };
    let enabled = bool_at(&policy, "enableMaxLoginAttempts") == Some(true);
    let attempts = f64_at(&policy, "maxLoginAttempts");
    if !(enabled && attempts.is_some_and(|a| a >= 1.0 && a <= max)) {
        f.fail(
            "passwordPolicy.maxLoginAttempts",
            "maxLoginAttempts",
            format!(
                "lockout after {} attempts (enableMaxLoginAttempts={}), at most {max} required",
                show(&policy, "maxLoginAttempts"),
                show(&policy, "enableMaxLoginAttempts")
            ),
        );
    }
    if let Ok(users) = ctx.records(USERS) {
        let mut locked: Vec<String> = users
            .iter()
            .filter(|u| bool_at(u, "account_locked") == Some(true))
            .map(|u| format!("{} ({})", user_name(u), id_of(u)))
            .collect();
        locked.sort();
        if !locked.is_empty() {
            f.notes.push(format!(
                "{} users are currently locked out: {}.",
                locked.len(),
                locked.join(", ")
            ));
        }
    }
    Ok(f)
}

/// Directory Insights event types that are a user's sign-in.
const SIGN_IN_EVENTS: &[&str] = &[
    "user_login_attempt",
    "sso_auth",
    "login_attempt",
    "ldap_bind",
    "radius_auth",
    "user_portal_login",
    "password_manager_login",
];

fn i5_dormant(ctx: &Ctx) -> Result<Finding, String> {
    if ctx.ev.state(DI_EVENTS) == KindState::NotLicensed {
        return Err(
            "Directory Insights is not licensed for this organization (HTTP 402), and JumpCloud users carry no last-login field".to_owned(),
        );
    }
    let events = ctx.records(DI_EVENTS)?;
    let (users, excluded) = ctx.users()?;
    let days = i64::from(ctx.settings.dormant_account_days_or_default());
    let (Some(start), Some(end)) = (
        ctx.ev.meta.events_window_start,
        ctx.ev.meta.events_window_end,
    ) else {
        return Err("the snapshot does not record the Directory Insights events window".to_owned());
    };
    let window = days_between(start, end);
    if window < days {
        return Err(format!(
            "the Directory Insights events cover {window} days, fewer than dormantAccountDays ({days}); collect a longer window or lower the threshold"
        ));
    }
    let mut last: BTreeMap<String, jiff::Timestamp> = BTreeMap::new();
    for event in events {
        let kind = str_at(event, "event_type").unwrap_or("");
        if !SIGN_IN_EVENTS.contains(&kind) || bool_at(event, "success") != Some(true) {
            continue;
        }
        let Some(at_time) = time_at(event, "timestamp") else {
            continue;
        };
        let keys = [
            str_at(event, "initiated_by.id").map(str::to_owned),
            str_at(event, "initiated_by.username").map(|u| format!("@{}", u.to_ascii_lowercase())),
            str_at(event, "username").map(|u| format!("@{}", u.to_ascii_lowercase())),
        ];
        for key in keys.into_iter().flatten() {
            let entry = last.entry(key).or_insert(at_time);
            if at_time > *entry {
                *entry = at_time;
            }
        }
    }
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "users");
    let mut too_new = 0;
    for user in users {
        if !is_active_user(user, false) {
            continue;
        }
        if time_at(user, "created").is_some_and(|c| days_between(c, ctx.now) <= days) {
            too_new += 1;
            continue;
        }
        f.evaluated += 1;
        let by_id = last.get(&id_of(user)).copied();
        let by_name = last
            .get(&format!("@{}", user_name(user).to_ascii_lowercase()))
            .copied();
        let seen = by_id.max(by_name);
        match seen {
            Some(seen) if days_between(seen, ctx.now) <= days => {}
            Some(seen) => f.fail(
                id_of(user),
                user_name(user),
                format!("last successful sign-in {seen}, more than {days} days ago"),
            ),
            None => f.fail(
                id_of(user),
                user_name(user),
                format!("no successful sign-in between {start} and {end}"),
            ),
        }
    }
    if too_new > 0 {
        f.notes.push(format!(
            "{too_new} users created within the last {days} days were not evaluated."
        ));
    }
    Ok(f)
}

fn i6_leavers(ctx: &Ctx) -> Result<Finding, String> {
    let users = ctx.records(USERS)?;
    let kinds = [
        (SUSPENDED_USER_SYSTEMS, "devices"),
        (SUSPENDED_USER_APPLICATIONS, "applications"),
        (SUSPENDED_USER_GROUPS, "groups"),
    ];
    let mut bindings: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
    for (kind, label) in kinds {
        for (user, record) in ctx.children(kind)? {
            bindings
                .entry(user)
                .or_default()
                .entry(label)
                .or_default()
                .push(id_of(record));
        }
    }
    let mut suspended: Vec<&Value> = users.iter().filter(|u| is_suspended(u)).collect();
    suspended.sort_by_key(|u| id_of(u));
    let mut f = Finding::default();
    for user in suspended {
        f.evaluated += 1;
        let id = id_of(user);
        if let Some(held) = bindings.get(id.as_str()) {
            let why = held
                .iter()
                .map(|(label, ids)| {
                    let mut ids = ids.clone();
                    ids.sort();
                    format!("{} {label} ({})", ids.len(), ids.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            f.fail(
                &id,
                user_name(user),
                format!("suspended but still bound to {why}"),
            );
        }
    }
    Ok(f)
}

fn i7_privileged(ctx: &Ctx) -> Result<Finding, String> {
    let (users, excluded) = ctx.users()?;
    let groups = ctx.records(USER_GROUPS)?;
    let admins = ctx.records(ADMINISTRATORS)?;
    let mut f = Finding::default();
    excluded_note(&mut f.notes, excluded, "users");
    let mut sudo = Vec::new();
    for user in users {
        if !is_active_user(user, true) {
            continue;
        }
        f.evaluated += 1;
        if bool_at(user, "passwordless_sudo") == Some(true) {
            f.fail(
                id_of(user),
                user_name(user),
                "passwordless sudo on every bound device",
            );
        } else if bool_at(user, "sudo") == Some(true) {
            sudo.push(user_name(user));
        }
    }
    let mut groups: Vec<&Value> = groups.iter().collect();
    groups.sort_by_key(|g| id_of(g));
    for group in groups {
        f.evaluated += 1;
        if bool_at(group, "attributes.sudo.enabled") == Some(true)
            && bool_at(group, "attributes.sudo.withoutPassword") == Some(true)
        {
            f.fail(
                id_of(group),
                str_at(group, "name").unwrap_or(""),
                "user group grants passwordless sudo to its members",
            );
        }
    }
    sudo.sort();
    if !sudo.is_empty() {
        f.notes.push(format!(
            "{} users have sudo (with password): {}.",
            sudo.len(),
            sudo.join(", ")
        ));
    }
    let mut roles: BTreeMap<String, u64> = BTreeMap::new();
    for admin in admins {
        if bool_at(admin, "suspended") != Some(true) {
            *roles.entry(show(admin, "roleName")).or_default() += 1;
        }
    }
    if !roles.is_empty() {
        f.notes.push(format!(
            "Administrators per role: {}.",
            roles
                .iter()
                .map(|(role, n)| format!("{role}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(f)
}

fn i9_api_keys(ctx: &Ctx) -> Result<Finding, String> {
    let admins = ctx.records(ADMINISTRATORS)?;
    let max_age = i64::from(ctx.settings.api_key_max_age_days_or_default());
    let mut admins: Vec<&Value> = admins.iter().collect();
    admins.sort_by_key(|a| id_of(a));
    let mut f = Finding::default();
    for admin in admins {
        if bool_at(admin, "apiKeySet") != Some(true) || bool_at(admin, "suspended") == Some(true) {
            continue;
        }
        f.evaluated += 1;
        let mut why = Vec::new();
        let expire = time_at(admin, "apiKeyHash.expireAt");
        match expire {
            None => why.push("API key has no expiry (apiKeyHash.expireAt empty)".to_owned()),
            Some(expire) if expire <= ctx.now => {
                f.notes.push(format!(
                    "The API key of {} expired {expire}.",
                    str_at(admin, "email").unwrap_or("")
                ));
            }
            Some(_) => {}
        }
        let set =
            time_at(admin, "apiKeyUpdatedAt").or_else(|| time_at(admin, "apiKeyHash.createdAt"));
        if let Some(set) = set {
            let age = days_between(set, ctx.now);
            if age > max_age {
                why.push(format!(
                    "API key set {set}, {age} days ago (at most {max_age})"
                ));
            }
        }
        if !why.is_empty() {
            f.fail(
                id_of(admin),
                str_at(admin, "email").unwrap_or(""),
                why.join("; "),
            );
        }
    }
    Ok(f)
}

fn i10_audit_logging(ctx: &Ctx) -> Result<Finding, String> {
    let org = ctx.organization()?;
    match ctx.ev.state(DI_EVENTS) {
        KindState::NotLicensed => {
            return Err(
                "Directory Insights is not licensed for this organization (HTTP 402)".to_owned(),
            );
        }
        KindState::Missing => {
            return Err(format!(
                "evidence kind `{DI_EVENTS}` is missing from the snapshot"
            ));
        }
        KindState::Unavailable => {
            return Err(format!("evidence kind `{DI_EVENTS}` is unavailable"));
        }
        KindState::Complete => {}
    }
    let mut f = Finding {
        evaluated: 1,
        ..Finding::default()
    };
    if bool_at(org, "settings.features.directoryInsights.enabled") == Some(false) {
        f.fail(
            id_of(org),
            str_at(org, "displayName").unwrap_or(""),
            "Directory Insights is disabled (settings.features.directoryInsights.enabled=false)",
        );
    }
    let count = ctx.records(DI_EVENTS)?.len();
    match (
        ctx.ev.meta.events_window_start,
        ctx.ev.meta.events_window_end,
    ) {
        (Some(start), Some(end)) => f.notes.push(format!(
            "{count} Directory Insights events collected between {start} and {end}."
        )),
        _ => f
            .notes
            .push(format!("{count} Directory Insights events collected.")),
    }
    Ok(f)
}

fn i11_conditional_access(ctx: &Ctx) -> Result<Finding, String> {
    let policies = ctx.records(AUTHN_POLICIES)?;
    let applications = ctx.records(APPLICATIONS)?;
    let mut required = vec![("user_portal", "User Portal")];
    if applications
        .iter()
        .any(|a| bool_at(a, "active") != Some(false))
    {
        required.push(("application", "SSO applications"));
    }
    let mut policies: Vec<&Value> = policies.iter().collect();
    policies.sort_by_key(|p| id_of(p));
    let mut f = Finding::default();
    for (kind, label) in required {
        f.evaluated += 1;
        let mfa: Vec<&&Value> = policies
            .iter()
            .filter(|p| {
                str_at(p, "type") == Some(kind)
                    && str_at(p, "effect.action").unwrap_or("allow") == "allow"
                    && bool_at(p, "effect.obligations.mfa.required") == Some(true)
            })
            .collect();
        let enforcing = mfa.iter().any(|p| {
            bool_at(p, "disabled") != Some(true) && bool_at(p, "monitorOnly") != Some(true)
        });
        if !enforcing {
            let mut why = vec![format!(
                "no enabled, enforcing policy requires MFA for {label}"
            )];
            for p in mfa {
                if bool_at(p, "disabled") == Some(true) {
                    why.push(format!("{} is disabled", show(p, "name")));
                } else if bool_at(p, "monitorOnly") == Some(true) {
                    why.push(format!("{} is monitor-only", show(p, "name")));
                }
            }
            f.fail(kind, label, why.join("; "));
        }
    }
    f.notes.push(
        "Policy targets (users, groups, excluded applications) are not evaluated; review them in the evidence.".to_owned(),
    );
    Ok(f)
}

fn i12_certs(ctx: &Ctx) -> Result<Finding, String> {
    let applications = ctx.records(APPLICATIONS)?;
    let warn = i64::from(ctx.settings.cert_expiry_warning_days_or_default());
    let mut applications: Vec<&Value> = applications.iter().collect();
    applications.sort_by_key(|a| id_of(a));
    let mut f = Finding::default();
    let mut without = 0;
    for app in applications {
        if bool_at(app, "active") == Some(false) {
            continue;
        }
        let Some(expiry) = time_at(app, "sso.idpCertExpirationAt") else {
            without += 1;
            continue;
        };
        f.evaluated += 1;
        let name = str_at(app, "displayLabel")
            .or_else(|| str_at(app, "displayName"))
            .or_else(|| str_at(app, "name"))
            .unwrap_or("");
        if expiry <= ctx.now {
            f.fail(
                id_of(app),
                name,
                format!("IdP certificate expired {expiry}"),
            );
        } else {
            let left = days_between(ctx.now, expiry);
            if left < warn {
                f.fail(
                    id_of(app),
                    name,
                    format!("IdP certificate expires {expiry}, in {left} days"),
                );
            }
        }
    }
    if without > 0 {
        f.notes.push(format!(
            "{without} active applications report no IdP certificate expiry and were not evaluated."
        ));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first segment of every literal path the catalog passes to a record reader.
    fn literal_paths_read(source: &str) -> BTreeSet<String> {
        let readers = ["at(", "str_at(", "bool_at(", "show(", "time_at(", "f64_at("];
        let mut fields = BTreeSet::new();
        for (offset, _) in source.match_indices('(') {
            let head = &source[..=offset];
            let is_reader = readers.iter().any(|reader| {
                head.ends_with(reader)
                    && !head[..head.len() - reader.len()]
                        .ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            if !is_reader {
                continue;
            }
            let args = &source[offset + 1..];
            let Some(close) = args.find(')') else {
                continue;
            };
            let Some((_, path)) = args[..close].split_once(", \"") else {
                continue;
            };
            let path = path.trim_end_matches('"');
            fields.insert(path.split('.').next().unwrap_or(path).to_owned());
        }
        fields
    }

    #[test]
    fn projection_keeps_every_field_the_catalog_reads() {
        let source = include_str!("catalog.rs");
        let catalog = source.split("#[cfg(test)]").next().unwrap_or(source);
        let read = literal_paths_read(catalog);
        assert!(
            read.len() > 40 && read.contains("fde") && read.contains("mfaEnrollment"),
            "the scan of the catalog's source found too few paths: {read:?}"
        );
        let missing: Vec<&String> = read
            .iter()
            .filter(|field| !FIELDS_READ.contains(&field.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "add these to FIELDS_READ, or evaluations will not see them: {missing:?}"
        );
        let mut sorted = FIELDS_READ.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted, FIELDS_READ,
            "FIELDS_READ must stay sorted (binary search)"
        );
        assert!(
            PROJECTED_KINDS
                .iter()
                .all(|kind| kinds_read().contains(kind))
        );
    }
}
