//! The `JumpCloudConnection` custom resource (`jumpcloud-operator.io/v1alpha1`).
//!
//! The schema carries CEL rules (`x-kubernetes-validations`) so the API server refuses bad
//! manifests with a message that names the field and the fix; `#[kube(cel)]` runs the same rules
//! locally in tests. Optional fields are `Option` and skipped when `None`: a serialised `null`
//! would be validated against its rule and fail.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::controls::ControlSettings;
use crate::region::Region;

/// Setting this annotation to a new value (any string, usually a timestamp) forces one sync.
pub const SYNC_REQUESTED_AT_ANNOTATION: &str = "jumpcloud-operator.io/sync-requested-at";
/// Key of the API key inside the Secret when `apiKeySecretRef.key` is not given.
pub const DEFAULT_SECRET_KEY: &str = "api-key";
/// Keys of a service account's client id and secret when `serviceAccountSecretRef` names none.
pub const DEFAULT_CLIENT_ID_KEY: &str = "client-id";
pub const DEFAULT_CLIENT_SECRET_KEY: &str = "client-secret";

/// Go duration syntax as the API server's CEL `duration()` accepts it (without the sign).
/// Each duration field checks this first so a typo gets a readable message instead of a CEL
/// evaluation error.
const DURATION_PATTERN: &str = "^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$";

fn duration_format_rule(field: &str) -> kube::core::Rule {
    kube::core::Rule::new(format!("self.matches('{DURATION_PATTERN}')"))
        .message(
            format!("{field} must be a duration such as 30s, 15m, 6h or 1h30m (units: s, m, h)")
                .as_str(),
        )
        .reason(kube::core::Reason::FieldValueInvalid)
}

fn duration_range_rule(field: &str, min: &str, max: &str) -> kube::core::Rule {
    kube::core::Rule::new(format!(
        "!self.matches('{DURATION_PATTERN}') || (duration(self) >= duration('{min}') && duration(self) <= duration('{max}'))"
    ))
    .message(format!("{field} must be between {min} and {max}").as_str())
    .reason(kube::core::Reason::FieldValueInvalid)
}

fn timeout_within_interval_rule() -> kube::core::Rule {
    kube::core::Rule::new(format!(
        "!has(self.timeout) || !self.timeout.matches('{DURATION_PATTERN}') || !self.interval.matches('{DURATION_PATTERN}') || duration(self.timeout) <= duration(self.interval)"
    ))
    .message("timeout must not be longer than interval")
    .field_path(".timeout")
    .reason(kube::core::Reason::FieldValueInvalid)
}

/// A connection from this cluster to one JumpCloud organization: where the API key is, which
/// region and organization it belongs to, and how often to verify the key and collect evidence.
// clippy reads the repeated `type_ = ...` of separate printcolumn(...) entries as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "jumpcloud-operator.io",
    version = "v1alpha1",
    kind = "JumpCloudConnection",
    namespaced,
    status = "JumpCloudConnectionStatus",
    shortname = "jcc",
    category = "jumpcloud",
    category = "compliance",
    selectable = ".spec.apiKeySecretRef.name",
    selectable = ".spec.serviceAccountSecretRef.name",
    cel,
    doc = "A connection to one JumpCloud organization whose compliance evidence the operator collects.",
    printcolumn(
        name = "Display Name",
        type_ = "string",
        json_path = ".status.displayName",
        description = "Name of the connection shown to people (spec.displayName or metadata.name)"
    ),
    printcolumn(
        name = "Org",
        type_ = "string",
        json_path = ".status.organization.name",
        description = "JumpCloud organization the key reaches"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Key",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"KeyValid\")].reason",
        description = "State of the credential (Accepted, ExpiresSoon, KeyRevoked, ClientSecretExpired, ...)"
    ),
    printcolumn(
        name = "Credential",
        type_ = "string",
        json_path = ".status.credential.type",
        description = "ApiKey or ServiceAccount",
        priority = 1
    ),
    printcolumn(
        name = "Privilege",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"LeastPrivilege\")].reason",
        description = "Whether the credential's role is Read Only (ReadOnly, PrivilegedRole, RoleUnknown); a broad role does not fail Ready"
    ),
    printcolumn(
        name = "Devices",
        type_ = "integer",
        json_path = ".status.evidence.devices",
        description = "Devices in the last good evidence snapshot"
    ),
    printcolumn(
        name = "Users",
        type_ = "integer",
        json_path = ".status.evidence.users",
        description = "Users in the last good evidence snapshot"
    ),
    printcolumn(
        name = "Failing",
        type_ = "integer",
        json_path = ".status.controls.failing",
        description = "Compliance controls failing on the last good snapshot"
    ),
    printcolumn(
        name = "Errors",
        type_ = "integer",
        json_path = ".status.controls.error",
        description = "Compliance controls that could not be evaluated on the last good snapshot (evidence missing)"
    ),
    printcolumn(
        name = "Last Sync",
        type_ = "date",
        json_path = ".status.lastSuccessfulSyncTime",
        description = "When evidence was last collected successfully"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Region",
        type_ = "string",
        json_path = ".spec.region",
        priority = 1
    ),
    printcolumn(
        name = "Snapshot",
        type_ = "string",
        json_path = ".status.evidence.snapshot.id",
        description = "The last good snapshot in the evidence store",
        priority = 1
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = 1
    )
)]
#[x_kube(
    validation = timeout_within_interval_rule(),
    validation = one_credential_rule(),
    validation = token_url_rule()
)]
#[serde(rename_all = "camelCase")]
pub struct JumpCloudConnectionSpec {
    /// Name of the connection shown to people; defaults to metadata.name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("size(self) >= 1 && size(self) <= 128")
            .message("displayName must be 1 to 128 characters long")
            .reason(Reason::FieldValueInvalid)
    )]
    pub display_name: Option<String>,

    /// The Secret in this namespace that holds an administrator's JumpCloud API key. Set this
    /// or serviceAccountSecretRef, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<ApiKeySecretRef>,

    /// The Secret in this namespace that holds a JumpCloud service account's client id and
    /// client secret (OAuth 2.0 client credentials). Set this or apiKeySecretRef, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_secret_ref: Option<ServiceAccountSecretRef>,

    /// JumpCloud region of the organization: us (console.jumpcloud.com), eu
    /// (console.eu.jumpcloud.com) or in (console.in.jumpcloud.com).
    #[serde(default = "default_region")]
    pub region: Region,

    /// Organization id (24 hexadecimal characters), needed when the key belongs to a
    /// multi-tenant (MSP) administrator who reaches several organizations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("self.matches('^[0-9a-f]{24}$')")
            .message("orgId must be the 24-character hexadecimal organization id from the JumpCloud console (Settings > Organization Profile)")
            .reason(Reason::FieldValueInvalid)
    )]
    pub org_id: Option<String>,

    /// How often evidence is collected, timed from the last successful sync (Go duration,
    /// 5m to 168h).
    #[serde(default = "default_interval")]
    #[x_kube(
        validation = duration_format_rule("interval"),
        validation = duration_range_rule("interval", "5m", "168h")
    )]
    pub interval: String,

    /// How often the key is verified between syncs with one cheap request, so a revoked key is
    /// noticed quickly (Go duration, 30s to 24h).
    #[serde(default = "default_key_check_interval")]
    #[x_kube(
        validation = duration_format_rule("keyCheckInterval"),
        validation = duration_range_rule("keyCheckInterval", "30s", "24h")
    )]
    pub key_check_interval: String,

    /// How long before the key's expiry KeyValid turns to ExpiresSoon (Go duration, 1h to 2160h).
    #[serde(default = "default_key_expiry_warning")]
    #[x_kube(
        validation = duration_format_rule("keyExpiryWarning"),
        validation = duration_range_rule("keyExpiryWarning", "1h", "2160h")
    )]
    pub key_expiry_warning: String,

    /// Time budget of one evidence sync (Go duration, 30s to 6h; default 15m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = duration_format_rule("timeout"),
        validation = duration_range_rule("timeout", "30s", "6h")
    )]
    pub timeout: Option<String>,

    /// Stops every call to JumpCloud while true.
    #[serde(default)]
    pub suspend: bool,

    /// What evidence to collect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceSpec>,

    /// Thresholds and scope of the compliance controls evaluated after every successful sync
    /// (stale-device days, screen-lock minutes, password policy, OS baselines, antivirus
    /// allow-list, dormant-account days, MFA exclusions, excluded groups, disabled controls).
    /// Every field is optional; unset fields take the documented defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<ControlSettings>,
}

/// A key in a Secret of the connection's own namespace (there is deliberately no namespace
/// field: a connection cannot read Secrets elsewhere).
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySecretRef {
    /// Name of the Secret.
    #[x_kube(
        validation = Rule::new("size(self) <= 253 && self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')")
            .message("apiKeySecretRef.name must be a Secret name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters")
            .reason(Reason::FieldValueInvalid)
    )]
    pub name: String,

    /// Key inside the Secret's data that holds the API key.
    #[serde(default = "default_secret_key")]
    #[x_kube(
        validation = Rule::new("size(self) >= 1 && size(self) <= 253 && self.matches('^[-._a-zA-Z0-9]+$')")
            .message("apiKeySecretRef.key must be a Secret data key: letters, digits, '-', '_' and '.', at most 253 characters")
            .reason(Reason::FieldValueInvalid)
    )]
    pub key: String,
}

/// A service account's client id and secret in a Secret of the connection's own namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountSecretRef {
    /// Name of the Secret.
    #[x_kube(
        validation = Rule::new("size(self) <= 253 && self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')")
            .message("serviceAccountSecretRef.name must be a Secret name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters")
            .reason(Reason::FieldValueInvalid)
    )]
    pub name: String,

    /// Key inside the Secret's data that holds the client id.
    #[serde(default = "default_client_id_key")]
    #[x_kube(
        validation = Rule::new("size(self) >= 1 && size(self) <= 253 && self.matches('^[-._a-zA-Z0-9]+$')")
            .message("serviceAccountSecretRef.clientIdKey must be a Secret data key: letters, digits, '-', '_' and '.', at most 253 characters")
            .reason(Reason::FieldValueInvalid)
    )]
    pub client_id_key: String,

    /// Key inside the Secret's data that holds the client secret.
    #[serde(default = "default_client_secret_key")]
    #[x_kube(
        validation = Rule::new("size(self) >= 1 && size(self) <= 253 && self.matches('^[-._a-zA-Z0-9]+$')")
            .message("serviceAccountSecretRef.clientSecretKey must be a Secret data key: letters, digits, '-', '_' and '.', at most 253 characters")
            .reason(Reason::FieldValueInvalid)
    )]
    pub client_secret_key: String,

    /// The OAuth 2.0 token endpoint, when the region's is not the one to use: required for the
    /// in region, whose token endpoint JumpCloud does not publish (us:
    /// https://admin-oauth.id.jumpcloud.com/oauth2/token, eu:
    /// https://admin-oauth.id.eu.jumpcloud.com/oauth2/token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("self.matches('^https://[^/?#]+/[^?#]*$') && size(self) <= 2048")
            .message("serviceAccountSecretRef.tokenUrl must be an https URL with a path, such as https://admin-oauth.id.jumpcloud.com/oauth2/token (the client secret is sent there)")
            .reason(Reason::FieldValueInvalid)
    )]
    pub token_url: Option<String>,
}

/// Which credential a connection names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialRef<'a> {
    ApiKey(&'a ApiKeySecretRef),
    ServiceAccount(&'a ServiceAccountSecretRef),
}

impl CredentialRef<'_> {
    /// Name of the Secret.
    pub fn secret_name(&self) -> &str {
        match self {
            CredentialRef::ApiKey(r) => &r.name,
            CredentialRef::ServiceAccount(r) => &r.name,
        }
    }

    /// The Secret and its data keys, for messages: `Secret ns/name (key "api-key")`.
    pub fn describe(&self, namespace: &str) -> String {
        match self {
            CredentialRef::ApiKey(r) => format!("Secret {namespace}/{} (key {:?})", r.name, r.key),
            CredentialRef::ServiceAccount(r) => format!(
                "Secret {namespace}/{} (keys {:?} and {:?})",
                r.name, r.client_id_key, r.client_secret_key
            ),
        }
    }
}

/// A credential reference the schema's rules refuse (only possible when they were bypassed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialRefInvalid {
    #[error(
        "set exactly one of spec.apiKeySecretRef (an administrator's API key) and \
         spec.serviceAccountSecretRef (a service account's client id and secret)"
    )]
    NotOne,
    #[error(
        "a service account in the in region needs spec.serviceAccountSecretRef.tokenUrl: \
         JumpCloud publishes no token endpoint for that region"
    )]
    NoTokenUrl,
}

fn one_credential_rule() -> kube::core::Rule {
    kube::core::Rule::new("has(self.apiKeySecretRef) != has(self.serviceAccountSecretRef)")
        .message(
            "set exactly one of spec.apiKeySecretRef (an administrator's API key) and \
             spec.serviceAccountSecretRef (a service account's client id and secret)",
        )
        .reason(kube::core::Reason::FieldValueInvalid)
}

/// The service account token endpoint of the in region is not published: it must be named.
fn token_url_rule() -> kube::core::Rule {
    kube::core::Rule::new(
        "!has(self.serviceAccountSecretRef) || !has(self.region) || self.region != 'in' || has(self.serviceAccountSecretRef.tokenUrl)",
    )
    .message(
        "a service account in the in region needs spec.serviceAccountSecretRef.tokenUrl: JumpCloud publishes no token endpoint for that region",
    )
    .field_path(".serviceAccountSecretRef")
    .reason(kube::core::Reason::FieldValueRequired)
}

/// Evidence collection and storage settings; every field is optional so older manifests stay
/// valid.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceSpec {
    /// Days of Directory Insights events the first sync reads (1 to 90; default 90). Later
    /// syncs continue where the stored events end, so the stored history grows beyond
    /// JumpCloud's 90 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = without_minimum)]
    #[x_kube(
        validation = Rule::new("self >= 1 && self <= 90")
            .message("evidence.eventsDays must be between 1 and 90 (JumpCloud keeps 90 days of events)")
            .reason(Reason::FieldValueInvalid)
    )]
    pub events_days: Option<u32>,

    /// Days snapshots are kept in the evidence store (default 400: a 12-month audit period plus
    /// margin). The newest snapshot is always kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = without_minimum)]
    #[x_kube(
        validation = Rule::new("self >= 1 && self <= 3650")
            .message("evidence.retentionDays must be between 1 and 3650 (ten years)")
            .reason(Reason::FieldValueInvalid)
    )]
    pub retention_days: Option<u32>,

    /// When device access is collected (see [`crate::device_access::DeviceAccessMode`], whose
    /// text the schema shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_access: Option<crate::device_access::DeviceAccessMode>,

    /// The most devices for which deviceAccess auto collects device access (1 to 1000000;
    /// default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = without_minimum)]
    #[x_kube(
        validation = Rule::new("self >= 1 && self <= 1000000")
            .message("evidence.deviceAccessMaxDevices must be between 1 and 1000000")
            .reason(Reason::FieldValueInvalid)
    )]
    pub device_access_max_devices: Option<u32>,
}

/// Drops the `minimum: 0` schemars derives from `u32`: the field's CEL rule states the whole
/// range, so a negative value gets that one message instead of ">= 0" beside it.
fn without_minimum(schema: &mut schemars::Schema) {
    schema.remove("minimum");
}

fn default_region() -> Region {
    Region::Us
}
fn default_interval() -> String {
    "6h".to_owned()
}
fn default_key_check_interval() -> String {
    "5m".to_owned()
}
fn default_key_expiry_warning() -> String {
    "336h".to_owned()
}
fn default_secret_key() -> String {
    DEFAULT_SECRET_KEY.to_owned()
}
fn default_client_id_key() -> String {
    DEFAULT_CLIENT_ID_KEY.to_owned()
}
fn default_client_secret_key() -> String {
    DEFAULT_CLIENT_SECRET_KEY.to_owned()
}

/// Default sync timeout when `spec.timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A duration field that does not parse (only possible when the schema was bypassed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.{field} {value:?} is not a duration such as 30s, 15m or 6h")]
pub struct InvalidDuration {
    pub field: &'static str,
    pub value: String,
}

fn parse_duration(field: &'static str, value: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration {
        field,
        value: value.to_owned(),
    };
    let parsed: kube::core::Duration = value.parse().map_err(|_| invalid())?;
    if parsed.is_negative() {
        return Err(invalid());
    }
    Ok(parsed.into())
}

/// The spec's durations, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    pub sync: Duration,
    pub key_check: Duration,
    pub key_expiry_warning: Duration,
    pub timeout: Duration,
}

impl JumpCloudConnectionSpec {
    pub fn intervals(&self) -> Result<Intervals, InvalidDuration> {
        Ok(Intervals {
            sync: parse_duration("interval", &self.interval)?,
            key_check: parse_duration("keyCheckInterval", &self.key_check_interval)?,
            key_expiry_warning: parse_duration("keyExpiryWarning", &self.key_expiry_warning)?,
            timeout: match &self.timeout {
                Some(timeout) => parse_duration("timeout", timeout)?,
                None => DEFAULT_TIMEOUT,
            },
        })
    }

    /// The credential this connection names.
    pub fn credential_ref(&self) -> Result<CredentialRef<'_>, CredentialRefInvalid> {
        match (&self.api_key_secret_ref, &self.service_account_secret_ref) {
            (Some(key), None) => Ok(CredentialRef::ApiKey(key)),
            (None, Some(account))
                if account.token_url.is_some() || self.region.token_url().is_some() =>
            {
                Ok(CredentialRef::ServiceAccount(account))
            }
            (None, Some(_)) => Err(CredentialRefInvalid::NoTokenUrl),
            _ => Err(CredentialRefInvalid::NotOne),
        }
    }

    /// Days of events the first sync reads.
    pub fn events_days(&self) -> u32 {
        self.evidence
            .as_ref()
            .and_then(|evidence| evidence.events_days)
            .unwrap_or(crate::defaults::EVENTS_DAYS)
    }

    /// Whether and up to which size device access is collected.
    pub fn device_access(&self) -> crate::device_access::DeviceAccess {
        let evidence = self.evidence.as_ref();
        let defaults = crate::device_access::DeviceAccess::default();
        crate::device_access::DeviceAccess {
            mode: evidence
                .and_then(|evidence| evidence.device_access)
                .unwrap_or(defaults.mode),
            max_devices: evidence
                .and_then(|evidence| evidence.device_access_max_devices)
                .unwrap_or(defaults.max_devices),
        }
    }

    /// Days snapshots are kept.
    pub fn retention_days(&self) -> u32 {
        self.evidence
            .as_ref()
            .and_then(|evidence| evidence.retention_days)
            .unwrap_or(crate::defaults::RETENTION_DAYS)
    }
}

/// What the operator last observed. Never contains the API key: the key is identified by its
/// fingerprint (first 12 hex characters of its SHA-256).
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct JumpCloudConnectionStatus {
    /// The metadata.generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// spec.displayName, or metadata.name when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,

    /// Ready, KeyValid, LeastPrivilege, Synced, and Reconciling/Stalled while they hold.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The organization the key reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationStatus>,

    /// What is known about the credential, an API key or a service account (never its
    /// secret). Named `apiKey` before service accounts; that name is still read.
    #[serde(default, alias = "apiKey", skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialStatus>,

    /// resourceVersion of the Secret when it was last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_secret_version: Option<String>,

    /// When the key was last checked against JumpCloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key_check_time: Option<Time>,

    /// When the last sync attempt ended (successful or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,

    /// When evidence was last collected completely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_sync_time: Option<Time>,

    /// When the next sync is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_sync_time: Option<Time>,

    /// Record counts of the last good snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceStatus>,

    /// The last value of the jumpcloud-operator.io/sync-requested-at annotation acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_sync_request: Option<String>,

    /// Compliance control results of the last good snapshot (kept when a sync fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<ControlsStatus>,
}

/// Summary of the control results of one snapshot; the full results are stored with the
/// snapshot, and `jumpcloud-operator report` renders them.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ControlsStatus {
    /// Controls that pass.
    pub passing: u64,
    /// Controls that fail.
    pub failing: u64,
    /// Controls not applicable (disabled, or nothing in scope).
    pub not_applicable: u64,
    /// Controls that could not be evaluated (evidence missing).
    pub error: u64,
    /// Ids of the failing controls, sorted.
    #[serde(default)]
    pub failing_ids: Vec<String>,
    /// Ids of the controls in error, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_ids: Vec<String>,
    /// Ids of the controls not applicable, sorted (with the failing and error ids, the passing
    /// ones follow from the catalog: the per-control metrics are refilled from them at start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applicable_ids: Vec<String>,
    /// The evaluation time: when the snapshot's collection finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at: Option<Time>,
}

#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationStatus {
    pub id: String,
    pub name: String,
}

#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CredentialStatus {
    /// `ApiKey` (an administrator's key) or `ServiceAccount` (OAuth 2.0 client credentials).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// First 12 hex characters of the SHA-256 of the key (of `client id:client secret` for a
    /// service account, so each of its two secrets has its own).
    pub fingerprint: String,
    /// The service account's client id (an identifier, not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The service account's name, where JumpCloud tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email of the administrator the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrator: Option<String>,
    /// The role of the key's administrator or of the service account (Read Only is enough and
    /// safest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// When the key expires, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// When the service account's current access token expires (the token itself is kept in
    /// the operator's memory only and renewed before then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<Time>,
    /// When JumpCloud last accepted this credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_accepted_time: Option<Time>,
    /// When JumpCloud last rejected this credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rejected_time: Option<Time>,
    /// Other connections (namespace/name) whose Secret holds this same credential, sorted; at
    /// most the first 5 (`sharedWithCount` counts them all). Generating a new key for its
    /// administrator revokes it for all of them: give each its own key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
    /// How many other connections use this same credential (absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_with_count: Option<u64>,
    /// The API key this connection used before the current one, and whether something still
    /// uses it (JumpCloud revokes an administrator's previous key when a new one is made, and
    /// logs each use of a revoked key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousCredentialStatus>,
}

/// A replaced API key, watched for a while for uses: another integration that still has it.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PreviousCredentialStatus {
    /// Fingerprint of the replaced key.
    pub fingerprint: String,
    /// Its administrator, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrator: Option<String>,
    /// When the connection moved to the current key.
    pub replaced_at: Time,
    /// Uses of a revoked key of that administrator since then, from Directory Insights
    /// (`admin_old_api_key_attempt`; of the newest 20 looked at each sync).
    #[serde(default)]
    pub uses: u64,
    /// The newest of those uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_use: Option<OldKeyUseStatus>,
}

/// One use of a revoked key, as Directory Insights logged it.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OldKeyUseStatus {
    pub time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The key of an evidence kind in `status.evidence.counts`: camelCase like every other status
/// field (`application_users` is `applicationUsers`), so `kubectl describe` reads one style.
pub fn count_key(kind: &str) -> String {
    let mut key = String::with_capacity(kind.len());
    let mut upper = false;
    for c in kind.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            key.extend(c.to_uppercase());
            upper = false;
        } else {
            key.push(c);
        }
    }
    key
}

/// The evidence kind of a `status.evidence.counts` key; a key written before counts were
/// camelCase is already the kind.
pub fn kind_of_count_key(key: &str) -> String {
    let mut kind = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            kind.push('_');
            kind.push(c.to_ascii_lowercase());
        } else {
            kind.push(c);
        }
    }
    kind
}

#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// Records per evidence kind, keyed by the kind in camelCase (`systemInsightsOsVersion`).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// The last good snapshot in the evidence store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotStatus>,
}

/// Where the last good snapshot is and how to check it.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotStatus {
    /// Snapshot id in the evidence store (`jumpcloud-operator snapshots` lists it; `report
    /// --snapshot` and `diff` accept it).
    pub id: String,
    /// SHA-256 of the snapshot manifest, `sha256:<hex>`: what `verify` checks and what an
    /// auditor quotes.
    pub digest: String,
    /// Position in the connection's hash chain (0 for the first snapshot).
    pub sequence: u64,
    /// When the snapshot was committed.
    pub time: Time,
    /// Whether the manifest is signed.
    #[serde(default)]
    pub signed: bool,
}

/// The CRD as YAML, exactly as `crds/jumpcloudconnections.yaml` holds it.
pub fn crd_yaml() -> Result<String, serde_saphyr::ser::Error> {
    use kube::CustomResourceExt;
    let body = serde_saphyr::to_string(&JumpCloudConnection::crd())?;
    Ok(format!(
        "# Generated by `jumpcloud-operator crd`; do not edit.\n\
         # Regenerate with: cargo run -- crd > crds/jumpcloudconnections.yaml\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_keys_are_camel_case_and_lead_back_to_the_kind() {
        assert_eq!(count_key("application_users"), "applicationUsers");
        assert_eq!(
            count_key("system_insights_os_version"),
            "systemInsightsOsVersion"
        );
        for kind in [
            "organization",
            "administrators",
            "devices",
            "system_insights_disk_encryption",
            "system_insights_windows_security_products",
            "policy_statuses",
            "user_group_members",
            "suspended_user_applications",
            "authn_policies",
            "directory_insights_events",
            "application_users",
        ] {
            let key = count_key(kind);
            assert!(!key.contains('_'), "{key}");
            assert_eq!(kind_of_count_key(&key), kind);
        }
        // A status written before counts were camelCase still names its kinds.
        assert_eq!(kind_of_count_key("policy_statuses"), "policy_statuses");
    }
}
