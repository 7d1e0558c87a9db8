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
//! - SSO certificates: flagged 30 days before they expire;
//! - local administrators: only the operating systems' built-in ones and JumpCloud's own;
//! - Windows hotfixes: the newest at most 45 days old (Microsoft ships monthly; one missed
//!   Patch Tuesday plus two weeks to deploy);
//! - software: peer-to-peer file-sharing clients denied.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::CATALOG;

/// The form of an `osBaselines` version: numbers separated by dots.
pub const OS_VERSION_PATTERN: &str = "^[0-9]+([.][0-9]+)*$";

pub const DEFAULT_STALE_DEVICE_DAYS: u32 = 30;
pub const DEFAULT_SCREEN_LOCK_MINUTES: u32 = 15;
pub const DEFAULT_PASSWORD_MIN_LENGTH: u32 = 12;
pub const DEFAULT_PASSWORD_MAX_EXPIRY_DAYS: u32 = 90;
pub const DEFAULT_PASSWORD_MIN_HISTORY: u32 = 5;
pub const DEFAULT_MAX_LOGIN_ATTEMPTS: u32 = 10;
pub const DEFAULT_DORMANT_ACCOUNT_DAYS: u32 = 90;
pub const DEFAULT_API_KEY_MAX_AGE_DAYS: u32 = 365;
pub const DEFAULT_CERT_EXPIRY_WARNING_DAYS: u32 = 30;
/// The usual audit period is a quarter or longer; JumpCloud's results are assumed kept 90 days.
pub const DEFAULT_POLICY_HISTORY_DAYS: u32 = 90;
/// A policy may lapse a few days a quarter (a device off for repair, a retried change).
pub const DEFAULT_POLICY_COMPLIANCE_MIN_PERCENT: u32 = 95;
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

pub const DEFAULT_PATCH_MAX_AGE_DAYS: u32 = 45;

/// Local administrator accounts accepted on devices (case-insensitive usernames): the
/// built-in superuser of Unix (`root`) and Windows (`Administrator`, disabled by default and
/// not removable), and `_jumpcloudserviceaccount`, the JumpCloud agent's own macOS account
/// for FileVault Secure Tokens. Any other administrator is a person or a tool to review.
pub fn default_local_admin_allow_list() -> Vec<String> {
    ["root", "Administrator", "_jumpcloudserviceaccount"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Software denied on devices (case-insensitive substrings of the installed name): the
/// peer-to-peer file-sharing clients, a common path for data to leave and for unlicensed or
/// malicious files to arrive, which no business device needs.
pub fn default_software_deny_list() -> Vec<String> {
    [
        "torrent",
        "transmission",
        "vuze",
        "frostwire",
        "limewire",
        "emule",
        "deluge",
        "soulseek",
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
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    /// Minimum OS version (dotted numbers, e.g. `15.0`) per family or Linux distribution,
    /// merged over the defaults (darwin 14.0, windows 10.0.22631, ubuntu 22.04, debian 12): a
    /// family given here replaces its default, the others keep theirs, and a family set to
    /// `null` has no baseline (its devices are counted in the notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "os_baselines_schema")]
    pub os_baselines: Option<BTreeMap<String, Option<String>>>,
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
    /// User groups (ids or names, names compared case-insensitively) through which sudo on
    /// devices is accepted (JC-I13). Default empty: no group is allowlisted, so every sudo grant
    /// on a device fails, which the control's notes say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_group_allow_list: Option<Vec<String>>,
    /// Days of the window over which `JC-E8-POLICY-COMPLIANCE-HELD` judges the policy results
    /// history (ending with the evaluation day). Default 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub policy_history_days: Option<u32>,
    /// Least share of the window's days, in percent, on which each policy must have been
    /// compliant on each device. Default 95.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub policy_compliance_min_percent: Option<u32>,
    /// Local administrator accounts accepted on devices (case-insensitive usernames).
    /// Default: root, Administrator, _jumpcloudserviceaccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_admin_allow_list: Option<Vec<String>>,
    /// Oldest accepted newest Windows hotfix, in days before the collection. Default 45.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub patch_max_age_days: Option<u32>,
    /// Software denied on devices (case-insensitive substrings of the installed name); an
    /// empty list puts JC-E15 in error. Default: peer-to-peer file-sharing clients (torrent,
    /// transmission, vuze, frostwire, limewire, emule, deluge, soulseek).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_deny_list: Option<Vec<String>>,
    /// Devices in these device groups (ids) are out of scope of every device control.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_device_group_ids: Vec<String>,
    /// Users in these user groups (ids) are out of scope of every user control.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_user_group_ids: Vec<String>,
    /// Control ids (e.g. `JC-E9-SSH-HARDENING`) not to evaluate; reported as not applicable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "disabled_controls_schema")]
    pub disabled_controls: Vec<String>,
}

impl ControlSettings {
    pub fn policy_history_days_or_default(&self) -> u32 {
        self.policy_history_days
            .unwrap_or(DEFAULT_POLICY_HISTORY_DAYS)
    }
    pub fn policy_compliance_min_percent_or_default(&self) -> u32 {
        self.policy_compliance_min_percent
            .unwrap_or(DEFAULT_POLICY_COMPLIANCE_MIN_PERCENT)
    }
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
    /// The defaults with `osBaselines` merged over them per family (`null` removes a family).
    pub fn os_baselines_or_default(&self) -> BTreeMap<String, String> {
        let mut baselines = default_os_baselines();
        for (family, version) in self.os_baselines.iter().flatten() {
            match version {
                Some(version) => baselines.insert(family.clone(), version.clone()),
                None => baselines.remove(family),
            };
        }
        baselines
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
    pub fn sudo_group_allow_list_or_default(&self) -> Vec<String> {
        self.sudo_group_allow_list.clone().unwrap_or_default()
    }

    pub fn local_admin_allow_list_or_default(&self) -> Vec<String> {
        self.local_admin_allow_list
            .clone()
            .unwrap_or_else(default_local_admin_allow_list)
    }

    pub fn patch_max_age_days_or_default(&self) -> u32 {
        self.patch_max_age_days
            .unwrap_or(DEFAULT_PATCH_MAX_AGE_DAYS)
    }

    pub fn software_deny_list_or_default(&self) -> Vec<String> {
        self.software_deny_list
            .clone()
            .unwrap_or_else(default_software_deny_list)
    }
}

/// Where an applied threshold came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettingsSource {
    /// Not set: the documented default.
    Default,
    /// The connection's `spec.controls`.
    Crd,
    /// `--settings FILE`.
    SettingsFile,
}

impl SettingsSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingsSource::Default => "default",
            SettingsSource::Crd => "crd",
            SettingsSource::SettingsFile => "settings-file",
        }
    }
}

impl std::fmt::Display for SettingsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ControlSettings {
    /// The source of every setting when this object came from `origin`: the fields it sets
    /// come from `origin`, the others are defaults. `osBaselines` counts as set when any
    /// family is; the families it does not name keep their defaults.
    pub fn sources(&self, origin: SettingsSource) -> BTreeMap<String, SettingsSource> {
        // Serialisation skips unset fields, so the keys present are exactly the ones set.
        let set = serde_json::to_value(self).unwrap_or(Value::Null);
        let schema =
            serde_json::to_value(schemars::schema_for!(ControlSettings)).unwrap_or(Value::Null);
        schema["properties"]
            .as_object()
            .into_iter()
            .flat_map(|properties| properties.keys())
            .map(|name| {
                let source = if set.get(name).is_some() {
                    origin
                } else {
                    SettingsSource::Default
                };
                (name.clone(), source)
            })
            .collect()
    }
}

fn os_baselines_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["object", "null"],
        "additionalProperties": {
            "type": ["string", "null"],
            "pattern": OS_VERSION_PATTERN,
        },
    })
}

fn disabled_controls_schema(_: &mut SchemaGenerator) -> Schema {
    let ids: Vec<&str> = CATALOG.iter().map(|c| c.id).collect();
    json_schema!({
        "type": "array",
        "items": {"type": "string", "enum": ids},
    })
}

/// A settings object (`--settings FILE`) that does not match the schema. Every variant names
/// the field, the value and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("settings must be an object of field: value pairs, not {value}")]
    NotAnObject { value: String },
    #[error("unknown setting `{key}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey {
        key: String,
        suggestion: Option<String>,
    },
    #[error("{field}: {value} is not allowed: expected an integer from {min} to {max}")]
    OutOfRange {
        field: String,
        value: String,
        min: u64,
        max: u64,
    },
    #[error(
        "{field}: {value:?} is not a version: expected dotted numbers such as 15.0 or 10.0.22631, or null to drop the baseline"
    )]
    BadVersion { field: String, value: String },
    #[error("{field}: {value:?} is not a control id{}: expected an id of the README's controls table, such as JC-E9-SSH-HARDENING", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownControl {
        field: String,
        value: String,
        suggestion: Option<String>,
    },
    #[error("{field}: {value} is not allowed: {message}")]
    Invalid {
        field: String,
        value: String,
        message: String,
    },
}

impl ControlSettings {
    /// Parses and checks a settings object against the schema the CRD publishes: unknown keys,
    /// integer ranges, OS versions and control ids are refused with the field named.
    pub fn from_json_value(value: Value) -> Result<Self, SettingsError> {
        let object = match value {
            Value::Null => return Ok(Self::default()),
            Value::Object(object) => object,
            other => {
                return Err(SettingsError::NotAnObject {
                    value: other.to_string(),
                });
            }
        };
        let schema =
            serde_json::to_value(schemars::schema_for!(ControlSettings)).unwrap_or(Value::Null);
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (key, value) in &object {
            let Some(property) = properties.get(key) else {
                return Err(SettingsError::UnknownKey {
                    key: key.clone(),
                    suggestion: nearest(key, properties.keys().map(String::as_str)),
                });
            };
            check_integer_range(key, value, property)?;
            // One field at a time, so a type error names its field.
            let mut single = Map::new();
            single.insert(key.clone(), value.clone());
            serde_json::from_value::<ControlSettings>(Value::Object(single)).map_err(|e| {
                SettingsError::Invalid {
                    field: key.clone(),
                    value: value.to_string(),
                    message: e.to_string(),
                }
            })?;
        }
        let settings: ControlSettings =
            serde_json::from_value(Value::Object(object)).map_err(|e| SettingsError::Invalid {
                field: "settings".to_owned(),
                value: String::new(),
                message: e.to_string(),
            })?;
        settings.check()?;
        Ok(settings)
    }

    /// The checks serde cannot express: version form and known control ids.
    pub fn check(&self) -> Result<(), SettingsError> {
        for (family, version) in self.os_baselines.iter().flatten() {
            if let Some(version) = version
                && !is_dotted_version(version)
            {
                return Err(SettingsError::BadVersion {
                    field: format!("osBaselines.{family}"),
                    value: version.clone(),
                });
            }
        }
        for (index, entry) in self.sudo_group_allow_list.iter().flatten().enumerate() {
            if entry.trim().is_empty() {
                return Err(SettingsError::Invalid {
                    field: format!("sudoGroupAllowList[{index}]"),
                    value: format!("{entry:?}"),
                    message: "expected a user group id or name; remove the empty entry".to_owned(),
                });
            }
        }
        // An empty name would match every account or every program.
        for (field, names) in [
            ("localAdminAllowList", &self.local_admin_allow_list),
            ("softwareDenyList", &self.software_deny_list),
        ] {
            for (index, name) in names.iter().flatten().enumerate() {
                if name.trim().is_empty() {
                    return Err(SettingsError::Invalid {
                        field: format!("{field}[{index}]"),
                        value: format!("{name:?}"),
                        message: "an empty name would match every entry: remove it or give a name"
                            .to_owned(),
                    });
                }
            }
        }
        for (index, id) in self.disabled_controls.iter().enumerate() {
            if !CATALOG.iter().any(|c| c.id == id) {
                return Err(SettingsError::UnknownControl {
                    field: format!("disabledControls[{index}]"),
                    value: id.clone(),
                    suggestion: nearest(id, CATALOG.iter().map(|c| c.id)),
                });
            }
        }
        Ok(())
    }
}

fn check_integer_range(key: &str, value: &Value, property: &Value) -> Result<(), SettingsError> {
    let is_integer = match &property["type"] {
        Value::String(t) => t == "integer",
        Value::Array(types) => types.iter().any(|t| t == "integer"),
        _ => false,
    };
    if !is_integer || value.is_null() {
        return Ok(());
    }
    let min = property["minimum"].as_f64().unwrap_or(0.0).max(0.0) as u64;
    let max = property["maximum"]
        .as_f64()
        .map_or(u64::from(u32::MAX), |m| m as u64);
    let in_range = value.as_u64().is_some_and(|v| (min..=max).contains(&v));
    if in_range {
        Ok(())
    } else {
        Err(SettingsError::OutOfRange {
            field: key.to_owned(),
            value: value.to_string(),
            min,
            max,
        })
    }
}

fn is_dotted_version(version: &str) -> bool {
    !version.is_empty()
        && version
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// The candidate closest to `key` by edit distance (case-insensitive), if it is close enough to
/// be a plausible typo or a reordering of words.
fn nearest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let key_lower = key.to_lowercase();
    candidates
        .map(|c| (word_distance(&key_lower, &c.to_lowercase()), c))
        .min()
        .filter(|(distance, _)| *distance <= key.len().max(3) / 2)
        .map(|(_, c)| c.to_owned())
}

/// Levenshtein distance, but a key made of the same letters in another order (the README once
/// said `minPasswordLength` for `passwordMinLength`: the same words reordered) counts as 1.
fn word_distance(a: &str, b: &str) -> usize {
    let mut a_sorted: Vec<char> = a.chars().collect();
    let mut b_sorted: Vec<char> = b.chars().collect();
    a_sorted.sort_unstable();
    b_sorted.sort_unstable();
    let plain = levenshtein(a, b);
    if a_sorted == b_sorted {
        plain.min(1)
    } else {
        plain
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<ControlSettings, String> {
        ControlSettings::from_json_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_name_in_the_admin_allowlist_or_software_denylist_is_refused() {
        let message = parse(json!({"softwareDenyList": ["torrent", " "]})).unwrap_err();
        assert!(
            message.starts_with("softwareDenyList[1]: \" \""),
            "{message}"
        );
        let message = parse(json!({"localAdminAllowList": [""]})).unwrap_err();
        assert!(message.starts_with("localAdminAllowList[0]"), "{message}");
        let settings = parse(json!({"softwareDenyList": [], "patchMaxAgeDays": 30})).unwrap();
        assert!(settings.software_deny_list_or_default().is_empty());
        assert_eq!(settings.patch_max_age_days_or_default(), 30);
        assert!(parse(json!({"patchMaxAgeDays": 0})).is_err());
        assert_eq!(
            ControlSettings::default().local_admin_allow_list_or_default(),
            ["root", "Administrator", "_jumpcloudserviceaccount"]
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_the_nearest_name() {
        let message = parse(json!({"minPasswordLength": 14})).unwrap_err();
        assert!(message.contains("`minPasswordLength`"), "{message}");
        assert!(
            message.contains("did you mean `passwordMinLength`"),
            "{message}"
        );
        let message = parse(json!({"maxPasswordExpiryDays": 30})).unwrap_err();
        assert!(
            message.contains("did you mean `passwordMaxExpiryDays`"),
            "{message}"
        );
        let message = parse(json!({"staleDevicesDays": 3})).unwrap_err();
        assert!(
            message.contains("did you mean `staleDeviceDays`"),
            "{message}"
        );
        let message = parse(json!({"colour": "blue"})).unwrap_err();
        assert_eq!(message, "unknown setting `colour`");
        // serde's own backstop, for callers that deserialise directly (stored results, CRD).
        assert!(
            serde_json::from_value::<ControlSettings>(json!({"minPasswordLength": 14})).is_err()
        );
    }

    #[test]
    fn numbers_out_of_range_name_field_value_and_range() {
        assert_eq!(
            parse(json!({"staleDeviceDays": -3})).unwrap_err(),
            "staleDeviceDays: -3 is not allowed: expected an integer from 1 to 3650"
        );
        assert_eq!(
            parse(json!({"passwordMinLength": 500})).unwrap_err(),
            "passwordMinLength: 500 is not allowed: expected an integer from 1 to 128"
        );
        assert_eq!(
            parse(json!({"passwordMaxExpiryDays": 1.5})).unwrap_err(),
            "passwordMaxExpiryDays: 1.5 is not allowed: expected an integer from 0 to 3650"
        );
        let message = parse(json!({"includeStagedUsers": "yes"})).unwrap_err();
        assert!(
            message.starts_with("includeStagedUsers: \"yes\" is not allowed"),
            "{message}"
        );
        let message = parse(json!({"mfaExclusions": "sometimes"})).unwrap_err();
        assert!(
            message.starts_with("mfaExclusions: \"sometimes\""),
            "{message}"
        );
        assert_eq!(
            parse(json!({"passwordMinLength": 14}))
                .unwrap()
                .password_min_length_or_default(),
            14
        );
    }

    #[test]
    fn os_baselines_merge_per_family_and_null_removes_one() {
        let settings = parse(json!({"osBaselines": {"darwin": "15.0"}})).unwrap();
        let mut expected = default_os_baselines();
        expected.insert("darwin".to_owned(), "15.0".to_owned());
        assert_eq!(settings.os_baselines_or_default(), expected);
        let settings = parse(json!({"osBaselines": {"debian": null, "fedora": "41"}})).unwrap();
        let baselines = settings.os_baselines_or_default();
        assert!(!baselines.contains_key("debian"));
        assert_eq!(baselines["fedora"], "41");
        assert_eq!(baselines["windows"], "10.0.22631");
    }

    #[test]
    fn os_baselines_must_be_dotted_numbers() {
        for bad in ["latest", "", "14.", ".1", "14.0-beta", "v14"] {
            let message = parse(json!({"osBaselines": {"darwin": bad}})).unwrap_err();
            assert!(
                message.starts_with(&format!("osBaselines.darwin: {bad:?} is not a version")),
                "{message}"
            );
        }
        assert!(parse(json!({"osBaselines": {"windows": "10.0.22631", "debian": "12"}})).is_ok());
        let message = parse(json!({"osBaselines": {"darwin": 15}})).unwrap_err();
        assert!(
            message.starts_with("osBaselines: {\"darwin\":15}"),
            "{message}"
        );
    }

    #[test]
    fn disabled_controls_must_be_catalog_ids() {
        let message =
            parse(json!({"disabledControls": ["JC-E9-SSH-HARDENING", "JC-E99-NOPE"]})).unwrap_err();
        assert!(
            message.starts_with("disabledControls[1]: \"JC-E99-NOPE\" is not a control id"),
            "{message}"
        );
        let message = parse(json!({"disabledControls": ["JC-E9-SSH-HARDENNIG"]})).unwrap_err();
        assert!(
            message.contains("did you mean `JC-E9-SSH-HARDENING`"),
            "{message}"
        );
        assert!(parse(json!({"disabledControls": ["JC-E9-SSH-HARDENING"]})).is_ok());
    }

    #[test]
    fn the_schema_carries_the_same_rules() {
        let schema = serde_json::to_value(schemars::schema_for!(ControlSettings)).unwrap();
        let ids = &schema["properties"]["disabledControls"]["items"]["enum"];
        assert_eq!(ids.as_array().unwrap().len(), CATALOG.len());
        assert_eq!(
            schema["properties"]["osBaselines"]["additionalProperties"]["pattern"],
            OS_VERSION_PATTERN
        );
        assert_eq!(schema["additionalProperties"], json!(false));
    }

    #[test]
    fn sources_name_the_origin_of_set_fields_only() {
        let settings =
            parse(json!({"passwordMinLength": 14, "osBaselines": {"darwin": "15.0"}})).unwrap();
        let sources = settings.sources(SettingsSource::Crd);
        assert_eq!(sources["passwordMinLength"], SettingsSource::Crd);
        assert_eq!(sources["osBaselines"], SettingsSource::Crd);
        assert_eq!(sources["staleDeviceDays"], SettingsSource::Default);
        assert_eq!(sources.len(), 24);
        let defaults = ControlSettings::default().sources(SettingsSource::SettingsFile);
        assert!(defaults.values().all(|s| *s == SettingsSource::Default));
    }

    #[test]
    fn sudo_group_allow_list_defaults_to_empty_and_refuses_empty_entries() {
        assert!(
            ControlSettings::default()
                .sudo_group_allow_list_or_default()
                .is_empty()
        );
        let settings = parse(json!({"sudoGroupAllowList": ["IT Admins", "5f0c"]})).unwrap();
        assert_eq!(
            settings.sudo_group_allow_list_or_default(),
            ["IT Admins", "5f0c"]
        );
        assert_eq!(
            parse(json!({"sudoGroupAllowList": ["IT Admins", " "]})).unwrap_err(),
            "sudoGroupAllowList[1]: \" \" is not allowed: expected a user group id or name; remove the empty entry"
        );
        let message = parse(json!({"sudoGroupAllowList": "IT Admins"})).unwrap_err();
        assert!(message.starts_with("sudoGroupAllowList:"), "{message}");
    }

    #[test]
    fn null_or_empty_settings_are_the_defaults() {
        assert_eq!(parse(Value::Null).unwrap(), ControlSettings::default());
        assert_eq!(parse(json!({})).unwrap(), ControlSettings::default());
        assert!(parse(json!([1])).unwrap_err().contains("must be an object"));
    }
}
