//! The bounded label values of the operator's series: enums, so no free-form text (and so no
//! key material) can become a label.

use prometheus_client::encoding::EncodeLabelValue;

/// The `result` label of `syncs_total`: how one evidence sync ended, in the few values the
/// metric allows (the controller's own `SyncOutcome` is what a sync produced).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum SyncResultLabel {
    Success,
    /// Collected, but at least one endpoint was truncated or forbidden.
    Partial,
    RateLimited,
    Unavailable,
    Timeout,
    /// Collected, but the evidence store refused the snapshot.
    EvidenceWriteFailed,
    /// The key was refused (revoked, expired, wrong region...): a human must act.
    KeyRejected,
    Error,
}

impl SyncResultLabel {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncResultLabel::Success => "success",
            SyncResultLabel::Partial => "partial",
            SyncResultLabel::RateLimited => "rate_limited",
            SyncResultLabel::Unavailable => "unavailable",
            SyncResultLabel::Timeout => "timeout",
            SyncResultLabel::EvidenceWriteFailed => "evidence_write_failed",
            SyncResultLabel::KeyRejected => "key_rejected",
            SyncResultLabel::Error => "error",
        }
    }
}

/// State of a connection's API key, mirroring the `KeyValid` condition reasons
/// (label `state` of `key_state`; exactly one state is 1 per connection).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelValue)]
pub enum KeyState {
    Accepted,
    ExpiresSoon,
    SecretNotFound,
    SecretKeyMissing,
    KeyEmpty,
    KeyRejected,
    KeyRevoked,
    KeyExpired,
    WrongRegion,
    OrgIdRequired,
    OrgNotAccessible,
    ClientSecretRejected,
    ClientSecretRevoked,
    ClientSecretExpired,
    ServiceAccountDisabled,
    Unknown,
}

impl KeyState {
    pub const ALL: [KeyState; 16] = [
        KeyState::Accepted,
        KeyState::ExpiresSoon,
        KeyState::SecretNotFound,
        KeyState::SecretKeyMissing,
        KeyState::KeyEmpty,
        KeyState::KeyRejected,
        KeyState::KeyRevoked,
        KeyState::KeyExpired,
        KeyState::WrongRegion,
        KeyState::OrgIdRequired,
        KeyState::OrgNotAccessible,
        KeyState::ClientSecretRejected,
        KeyState::ClientSecretRevoked,
        KeyState::ClientSecretExpired,
        KeyState::ServiceAccountDisabled,
        KeyState::Unknown,
    ];
}

/// Result of one compliance control (label `result` of `control_results`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum ControlResultLabel {
    Pass,
    Fail,
    NotApplicable,
    Error,
}

impl ControlResultLabel {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlResultLabel::Pass => "pass",
            ControlResultLabel::Fail => "fail",
            ControlResultLabel::NotApplicable => "not-applicable",
            ControlResultLabel::Error => "error",
        }
    }
}

impl ControlResultLabel {
    pub const ALL: [ControlResultLabel; 4] = [
        ControlResultLabel::Pass,
        ControlResultLabel::Fail,
        ControlResultLabel::NotApplicable,
        ControlResultLabel::Error,
    ];
}

/// HTTP status class of a JumpCloud response; `transport` when no response arrived.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusClass {
    Informational,
    Success,
    Redirection,
    ClientError,
    ServerError,
    /// Connection refused, TLS failure, timeout before any status line.
    Transport,
}

impl StatusClass {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Informational => "1xx",
            StatusClass::Success => "2xx",
            StatusClass::Redirection => "3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
            StatusClass::Transport => "transport",
        }
    }
}

impl StatusClass {
    /// Classifies an HTTP status code; codes outside 100..=599 count as `transport` failures
    /// because no valid HTTP response was received.
    pub fn from_status(status: u16) -> Self {
        match status {
            100..=199 => StatusClass::Informational,
            200..=299 => StatusClass::Success,
            300..=399 => StatusClass::Redirection,
            400..=499 => StatusClass::ClientError,
            500..=599 => StatusClass::ServerError,
            _ => StatusClass::Transport,
        }
    }
}
