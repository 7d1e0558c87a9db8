//! Status conditions: types, reasons, and the pure helpers that set them the kstatus way.
//!
//! `Ready` is always present. `Reconciling` and `Stalled` are "abnormal-true": present only while
//! True, removed otherwise. `lastTransitionTime` changes only when a condition's status flips;
//! `observedGeneration` is the generation the condition was computed for.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const KEY_VALID: &str = "KeyValid";
pub const LEAST_PRIVILEGE: &str = "LeastPrivilege";
pub const SYNCED: &str = "Synced";

/// Condition types whose False (or True, for the abnormal-true ones) means a problem.
pub const ALL_TYPES: [&str; 6] = [
    READY,
    KEY_VALID,
    LEAST_PRIVILEGE,
    SYNCED,
    RECONCILING,
    STALLED,
];

/// Reasons, PascalCase, a fixed set shared by conditions, events and logs; each is written as
/// its name ([`Reason::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // KeyValid
    Accepted,
    ExpiresSoon,
    SecretNotFound,
    SecretKeyMissing,
    /// The Kubernetes API did not answer the Secret's read (5xx, 403, timeout): nothing is
    /// known about the key now.
    SecretUnreadable,
    KeyEmpty,
    KeyMalformed,
    KeyRejected,
    KeyRevoked,
    KeyExpired,
    WrongRegion,
    OrgIdRequired,
    OrgNotAccessible,
    NotChecked,
    /// The token endpoint refuses a service account's client id and secret it never accepted.
    ClientSecretRejected,
    /// ... one it accepted before (the secret was deleted, e.g. rotated away).
    ClientSecretRevoked,
    ClientSecretExpired,
    ServiceAccountDisabled,
    // LeastPrivilege
    ReadOnly,
    PrivilegedRole,
    RoleUnknown,
    // Synced
    Succeeded,
    RateLimited,
    JumpCloudUnavailable,
    TruncatedCollection,
    ForbiddenEndpoint,
    Timeout,
    SyncFailed,
    EvidenceWriteFailed,
    // Ready / Reconciling
    Progressing,
    ProgressingWithRetry,
    /// Reconciling=True while an evidence sync runs.
    Syncing,
    Suspended,
    InvalidSpec,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 34] = [
        Reason::Accepted,
        Reason::ExpiresSoon,
        Reason::SecretNotFound,
        Reason::SecretKeyMissing,
        Reason::SecretUnreadable,
        Reason::KeyEmpty,
        Reason::KeyMalformed,
        Reason::KeyRejected,
        Reason::KeyRevoked,
        Reason::KeyExpired,
        Reason::WrongRegion,
        Reason::OrgIdRequired,
        Reason::OrgNotAccessible,
        Reason::NotChecked,
        Reason::ClientSecretRejected,
        Reason::ClientSecretRevoked,
        Reason::ClientSecretExpired,
        Reason::ServiceAccountDisabled,
        Reason::ReadOnly,
        Reason::PrivilegedRole,
        Reason::RoleUnknown,
        Reason::Succeeded,
        Reason::RateLimited,
        Reason::JumpCloudUnavailable,
        Reason::TruncatedCollection,
        Reason::ForbiddenEndpoint,
        Reason::Timeout,
        Reason::SyncFailed,
        Reason::EvidenceWriteFailed,
        Reason::Progressing,
        Reason::ProgressingWithRetry,
        Reason::Syncing,
        Reason::Suspended,
        Reason::InvalidSpec,
    ];

    /// The reason as conditions, events and logs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Accepted => "Accepted",
            Reason::ExpiresSoon => "ExpiresSoon",
            Reason::SecretNotFound => "SecretNotFound",
            Reason::SecretKeyMissing => "SecretKeyMissing",
            Reason::SecretUnreadable => "SecretUnreadable",
            Reason::KeyEmpty => "KeyEmpty",
            Reason::KeyMalformed => "KeyMalformed",
            Reason::KeyRejected => "KeyRejected",
            Reason::KeyRevoked => "KeyRevoked",
            Reason::KeyExpired => "KeyExpired",
            Reason::WrongRegion => "WrongRegion",
            Reason::OrgIdRequired => "OrgIdRequired",
            Reason::OrgNotAccessible => "OrgNotAccessible",
            Reason::NotChecked => "NotChecked",
            Reason::ClientSecretRejected => "ClientSecretRejected",
            Reason::ClientSecretRevoked => "ClientSecretRevoked",
            Reason::ClientSecretExpired => "ClientSecretExpired",
            Reason::ServiceAccountDisabled => "ServiceAccountDisabled",
            Reason::ReadOnly => "ReadOnly",
            Reason::PrivilegedRole => "PrivilegedRole",
            Reason::RoleUnknown => "RoleUnknown",
            Reason::Succeeded => "Succeeded",
            Reason::RateLimited => "RateLimited",
            Reason::JumpCloudUnavailable => "JumpCloudUnavailable",
            Reason::TruncatedCollection => "TruncatedCollection",
            Reason::ForbiddenEndpoint => "ForbiddenEndpoint",
            Reason::Timeout => "Timeout",
            Reason::SyncFailed => "SyncFailed",
            Reason::EvidenceWriteFailed => "EvidenceWriteFailed",
            Reason::Progressing => "Progressing",
            Reason::ProgressingWithRetry => "ProgressingWithRetry",
            Reason::Syncing => "Syncing",
            Reason::Suspended => "Suspended",
            Reason::InvalidSpec => "InvalidSpec",
        }
    }

    /// The reason a condition holds (conditions hold `String`s); `None` for one this version
    /// does not write.
    pub fn parse(text: &str) -> Option<Reason> {
        Reason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<Reason> for str {
    fn eq(&self, reason: &Reason) -> bool {
        self == reason.as_str()
    }
}

impl PartialEq<Reason> for &str {
    fn eq(&self, reason: &Reason) -> bool {
        *self == reason.as_str()
    }
}

impl PartialEq<Reason> for String {
    fn eq(&self, reason: &Reason) -> bool {
        self == reason.as_str()
    }
}

/// Status of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    True,
    False,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }

    pub fn parse(text: &str) -> Status {
        match text {
            "True" => Status::True,
            "False" => Status::False,
            _ => Status::Unknown,
        }
    }
}

/// A condition as the decision logic wants it; time and generation are added when set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub type_: &'static str,
    pub status: Status,
    pub reason: Reason,
    pub message: String,
}

impl Desired {
    pub fn new(
        type_: &'static str,
        status: Status,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        Desired {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

/// Longest condition message kept (the API server allows 32 KiB; `kubectl describe` wants less).
const MAX_MESSAGE_CHARS: usize = 1024;

fn clamp_message(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.to_owned();
    }
    let mut kept: String = message.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    kept.push('…');
    kept
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition is present with this status.
pub fn is(conditions: &[Condition], type_: &str, status: Status) -> bool {
    find(conditions, type_).is_some_and(|c| Status::parse(&c.status) == status)
}

/// Sets (inserts or replaces) a condition. `lastTransitionTime` is kept when the status does not
/// change, so it answers "since when" truthfully.
pub fn set(
    conditions: &mut Vec<Condition>,
    desired: Desired,
    generation: Option<i64>,
    now: Timestamp,
) {
    let transition_time = match find(conditions, desired.type_) {
        Some(existing) if existing.status == desired.status.as_str() => {
            existing.last_transition_time.clone()
        }
        _ => Time(now),
    };
    let condition = Condition {
        type_: desired.type_.to_owned(),
        status: desired.status.as_str().to_owned(),
        reason: desired.reason.as_str().to_owned(),
        message: clamp_message(&desired.message),
        observed_generation: generation,
        last_transition_time: transition_time,
    };
    match conditions.iter_mut().find(|c| c.type_ == desired.type_) {
        Some(slot) => *slot = condition,
        None => conditions.push(condition),
    }
    conditions.sort_by_key(|c| order(&c.type_));
}

/// Puts back a condition exactly as it was recorded (times and generation included).
pub fn put(conditions: &mut Vec<Condition>, condition: Condition) {
    remove(conditions, &condition.type_);
    conditions.push(condition);
    conditions.sort_by_key(|c| order(&c.type_));
}

/// Removes a condition (used for the abnormal-true ones when they stop holding).
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Sets an abnormal-true condition when `desired` is given, removes it otherwise.
pub fn set_abnormal(
    conditions: &mut Vec<Condition>,
    type_: &'static str,
    desired: Option<(Reason, String)>,
    generation: Option<i64>,
    now: Timestamp,
) {
    match desired {
        Some((reason, message)) => set(
            conditions,
            Desired::new(type_, Status::True, reason, message),
            generation,
            now,
        ),
        None => remove(conditions, type_),
    }
}

/// Stable order in status so diffs and `kubectl describe` read the same every time.
fn order(type_: &str) -> usize {
    ALL_TYPES
        .iter()
        .position(|known| *known == type_)
        .unwrap_or(ALL_TYPES.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn reasons_are_written_as_their_pascal_case_names_and_read_back() {
        for reason in Reason::ALL {
            assert_eq!(reason.as_str(), format!("{reason:?}"));
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(Reason::parse("Unheard"), None);
        assert_eq!(Reason::KeyRevoked.as_str(), "KeyRevoked");
    }

    #[test]
    fn transition_time_changes_only_when_status_flips() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            Desired::new(KEY_VALID, Status::True, Reason::Accepted, "ok"),
            Some(1),
            at(100),
        );
        set(
            &mut conditions,
            Desired::new(KEY_VALID, Status::True, Reason::ExpiresSoon, "soon"),
            Some(2),
            at(200),
        );
        let c = find(&conditions, KEY_VALID).unwrap();
        assert_eq!(c.last_transition_time, Time(at(100)));
        assert_eq!(c.reason, Reason::ExpiresSoon);
        assert_eq!(c.observed_generation, Some(2));

        set(
            &mut conditions,
            Desired::new(KEY_VALID, Status::False, Reason::KeyRevoked, "revoked"),
            Some(2),
            at(300),
        );
        assert_eq!(
            find(&conditions, KEY_VALID).unwrap().last_transition_time,
            Time(at(300))
        );
    }

    #[test]
    fn abnormal_true_conditions_are_removed_rather_than_false() {
        let mut conditions = Vec::new();
        set_abnormal(
            &mut conditions,
            STALLED,
            Some((Reason::KeyRevoked, "update the Secret".into())),
            Some(1),
            at(1),
        );
        assert!(is(&conditions, STALLED, Status::True));
        set_abnormal(&mut conditions, STALLED, None, Some(1), at(2));
        assert!(find(&conditions, STALLED).is_none());
    }

    #[test]
    fn conditions_keep_a_stable_order_and_long_messages_are_clamped() {
        let mut conditions = Vec::new();
        for type_ in [SYNCED, STALLED, READY, KEY_VALID] {
            set(
                &mut conditions,
                Desired::new(type_, Status::True, Reason::Succeeded, "x".repeat(5000)),
                None,
                at(1),
            );
        }
        let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [READY, KEY_VALID, SYNCED, STALLED]);
        assert!(conditions[0].message.chars().count() <= MAX_MESSAGE_CHARS);
    }
}
