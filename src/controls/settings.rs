//! Thresholds and scope of the controls. Embedded in the JumpCloudConnection CRD as
//! `spec.controls`, and read by `report --settings FILE` (YAML or JSON).
//!
//! Every field is optional; the effective value of an unset field is its documented default
//! (the `*_or_default` accessors). Defaults follow common auditor expectations:
//! - stale devices: 30 days without contact (JumpCloud's own dashboard uses 30 days; a device
//!   silent for a month no longer receives policies, so its evidence is a month old);
//! - screen lock: 15 minutes (the usual SOC 2 / ISO 27001 A.8.1 expectation, Drata's test);
//! - passwords: at least 12 characters (JumpCloud's best-practice page), complexity required,
//!   expiry at most 90 days (JumpCloud's best practice; set `passwordMaxExpiryDays: 0` to stop
//!   requiring expiry, as NIST SP 800-63B recommends), history of at least 5;
//! - lockout after at most 10 failed attempts;
//! - dormant accounts: 90 days (the common quarterly access-review period);
//! - API keys: rotated at least yearly (JumpCloud's API best practice) and carrying an expiry;
//! - SSO certificates: flagged 30 days before they expire.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const DEFAULT_STALE_DEVICE_DAYS: u32 = 30;
pub const DEFAULT_SCREEN_LOCK_MINUTES: u32 = 15;
pub const DEFAULT_PASSWORD_MIN_LENGTH: u32 = 12;
pub const DEFAULT_PASSWORD_MAX_EXPIRY_DAYS: u32 = 90;
pub const DEFAULT_PASSWORD_MIN_HISTORY: u32 = 5;
pub const DEFAULT_MAX_LOGIN_ATTEMPTS: u32 = 10;
pub const DEFAULT_DORMANT_ACCOUNT_DAYS: u32 = 90;
pub const DEFAULT_API_KEY_MAX_AGE_DAYS: u32 = 365;
pub const DEFAULT_CERT_EXPIRY_WARNING_DAYS: u32 = 30;
/// macOS 11 (10.16) and later ship XProtect / built-in malware protection (Drata's rule).
pub const DEFAULT_MACOS_BUILTIN_PROTECTION_MIN_MAJOR: u32 = 11;

/// Minimum OS versions. Keys are an OS family (`darwin`, `windows`, `linux`) or, for Linux, a
/// distribution name in lower case (`ubuntu`, `debian`, `fedora`, ...), which wins over
/// `linux`. Values are dotted versions compared numerically (`14.0`, `10.0.22631`, `22.04`).
pub fn default_os_baselines() -> BTreeMap<String, String> {
    [
        // macOS 14 Sonoma: the oldest macOS Apple still patches in late 2026.
        ("darwin", "14.0"),
        // Windows 11 23H2 (build 22631): Windows 10 left support in October 2025.
        ("windows", "10.0.22631"),
        // Ubuntu 22.04 LTS and Debian 12: the oldest releases in standard support.
        ("ubuntu", "22.04"),
        ("debian", "12"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Antivirus products accepted on Windows (case-insensitive substring of the System Insights
/// `windows_security_products.name`).
pub fn default_antivirus_allow_list() -> Vec<String> {
    [
        "Windows Defender",
        "Microsoft Defender",
        "CrowdStrike",
        "SentinelOne",
        "Sophos",
        "ESET",
        "Bitdefender",
        "Trend Micro",
        "Malwarebytes",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// How MFA exclusions (`mfa.exclusion` / `mfa.exclusionUntil` on a user) are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MfaExclusionHandling {
    /// An exclusion counts as compliant until `exclusionUntil`, and is listed in the notes.
    /// Exclusions without an end date are not honoured.
    #[default]
    HonourUntilEnd,
    /// Exclusions never count as compliant.
    Ignore,
}

/// Thresholds and scope of the compliance controls (`spec.controls`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControlSettings {
    /// A device with no agent contact for more than this many days is stale. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub stale_device_days: Option<u32>,
    /// Longest accepted idle time before the screen locks, in minutes. Default 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1440))]
    pub screen_lock_minutes: Option<u32>,
    /// Minimum password length of the organization password policy. Default 12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 128))]
    pub password_min_length: Option<u32>,
    /// Longest accepted password expiry in days; 0 accepts passwords that never expire
    /// (NIST SP 800-63B). Default 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 3650))]
    pub password_max_expiry_days: Option<u32>,
    /// Require lower, upper, numeric and symbol characters. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_require_complexity: Option<bool>,
    /// Minimum remembered password history. Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 24))]
    pub password_min_history: Option<u32>,
    /// Most failed sign-ins accepted before the account locks. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_login_attempts: Option<u32>,
    /// Minimum OS version per family or Linux distribution (see the documentation of the
    /// defaults: darwin 14.0, windows 10.0.22631, ubuntu 22.04, debian 12). A map given here
    /// replaces the defaults entirely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_baselines: Option<BTreeMap<String, String>>,
    /// Accepted Windows antivirus products (case-insensitive substrings of the product name).
    /// Default: Microsoft/Windows Defender and the major commercial products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub antivirus_allow_list: Option<Vec<String>>,
    /// macOS major version from which the built-in protection (XProtect) counts as
    /// anti-malware. Default 11; 0 disables the rule (macOS then needs other evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub macos_builtin_protection_min_major: Option<u32>,
    /// A user with no successful sign-in for more than this many days is dormant. Default 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub dormant_account_days: Option<u32>,
    /// How MFA exclusions are treated. Default `honourUntilEnd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_exclusions: Option<MfaExclusionHandling>,
    /// Count STAGED (not yet activated) users in the MFA control. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_staged_users: Option<bool>,
    /// Oldest accepted administrator API key, in days since it was last set. Default 365.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub api_key_max_age_days: Option<u32>,
    /// SSO IdP certificates expiring within this many days fail. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 3650))]
    pub cert_expiry_warning_days: Option<u32>,
    /// Devices in these device groups (ids) are out of scope of every device control.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_device_group_ids: Vec<String>,
    /// Users in these user groups (ids) are out of scope of every user control.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_user_group_ids: Vec<String>,
    /// Control ids (e.g. `JC-E9-SSH-HARDENING`) not to evaluate; reported as not applicable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_controls: Vec<String>,
}

impl ControlSettings {
    pub fn stale_device_days_or_default(&self) -> u32 {
        self.stale_device_days.unwrap_or(DEFAULT_STALE_DEVICE_DAYS)
    }
    pub fn screen_lock_minutes_or_default(&self) -> u32 {
        self.screen_lock_minutes
            .unwrap_or(DEFAULT_SCREEN_LOCK_MINUTES)
    }
    pub fn password_min_length_or_default(&self) -> u32 {
        self.password_min_length
            .unwrap_or(DEFAULT_PASSWORD_MIN_LENGTH)
    }
    pub fn password_max_expiry_days_or_default(&self) -> u32 {
        self.password_max_expiry_days
            .unwrap_or(DEFAULT_PASSWORD_MAX_EXPIRY_DAYS)
    }
    pub fn password_require_complexity_or_default(&self) -> bool {
        self.password_require_complexity.unwrap_or(true)
    }
    pub fn password_min_history_or_default(&self) -> u32 {
        self.password_min_history
            .unwrap_or(DEFAULT_PASSWORD_MIN_HISTORY)
    }
    pub fn max_login_attempts_or_default(&self) -> u32 {
        self.max_login_attempts
            .unwrap_or(DEFAULT_MAX_LOGIN_ATTEMPTS)
    }
    pub fn os_baselines_or_default(&self) -> BTreeMap<String, String> {
        self.os_baselines
            .clone()
            .unwrap_or_else(default_os_baselines)
    }
    pub fn antivirus_allow_list_or_default(&self) -> Vec<String> {
        self.antivirus_allow_list
            .clone()
            .unwrap_or_else(default_antivirus_allow_list)
    }
    pub fn macos_builtin_protection_min_major_or_default(&self) -> u32 {
        self.macos_builtin_protection_min_major
            .unwrap_or(DEFAULT_MACOS_BUILTIN_PROTECTION_MIN_MAJOR)
    }
    pub fn dormant_account_days_or_default(&self) -> u32 {
        self.dormant_account_days
            .unwrap_or(DEFAULT_DORMANT_ACCOUNT_DAYS)
    }
    pub fn mfa_exclusions_or_default(&self) -> MfaExclusionHandling {
        self.mfa_exclusions.unwrap_or_default()
    }
    pub fn include_staged_users_or_default(&self) -> bool {
        self.include_staged_users.unwrap_or(false)
    }
    pub fn api_key_max_age_days_or_default(&self) -> u32 {
        self.api_key_max_age_days
            .unwrap_or(DEFAULT_API_KEY_MAX_AGE_DAYS)
    }
    pub fn cert_expiry_warning_days_or_default(&self) -> u32 {
        self.cert_expiry_warning_days
            .unwrap_or(DEFAULT_CERT_EXPIRY_WARNING_DAYS)
    }
}
