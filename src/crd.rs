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
        description = "State of the API key (Accepted, ExpiresSoon, KeyRevoked, ...)"
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
#[x_kube(validation = timeout_within_interval_rule())]
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

    /// The Secret in this namespace that holds the JumpCloud API key.
    pub api_key_secret_ref: ApiKeySecretRef,

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

    /// Days of events the first sync reads.
    pub fn events_days(&self) -> u32 {
        self.evidence
            .as_ref()
            .and_then(|evidence| evidence.events_days)
            .unwrap_or(crate::defaults::EVENTS_DAYS)
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

    /// What is known about the API key (never the key itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyStatus>,

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
pub struct ApiKeyStatus {
    /// First 12 hex characters of the SHA-256 of the key.
    pub fingerprint: String,
    /// Email of the administrator the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrator: Option<String>,
    /// The administrator's role (Read Only is enough and safest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// When the key expires, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// When JumpCloud last accepted this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_accepted_time: Option<Time>,
    /// When JumpCloud last rejected this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rejected_time: Option<Time>,
    /// Other connections (namespace/name) whose Secret holds this same key, sorted; at most
    /// the first 5 (`sharedWithCount` counts them all). Generating a new key for its
    /// administrator revokes it for all of them: give each its own key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
    /// How many other connections use this same key (absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_with_count: Option<u64>,
}

#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// Records per evidence kind.
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
