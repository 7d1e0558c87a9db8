//! The Prometheus registry of the operator and the only ways to change it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Label value recorded instead of a namespace or connection name that is not a valid
/// Kubernetes object name. Keeps arbitrary text (and so anything key-like) out of `/metrics`.
pub const INVALID_NAME_LABEL: &str = "_invalid";

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
    Unknown,
}

impl KeyState {
    pub const ALL: [KeyState; 12] = [
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint_group: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyStateLabels {
    namespace: String,
    connection: String,
    state: KeyState,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EvidenceLabels {
    namespace: String,
    connection: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HeadLabels {
    namespace: String,
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControlLabels {
    namespace: String,
    connection: String,
    result: &'static str,
}

/// A connection as it appears in labels: namespace and name, validated.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ConnectionLabel {
    namespace: String,
    connection: String,
}

impl ConnectionLabel {
    fn new(namespace: &str, connection: &str) -> Self {
        Self {
            namespace: kubernetes_name_label(namespace),
            connection: kubernetes_name_label(connection),
        }
    }
}

/// Returns `name` when it is a Kubernetes object name (RFC 1123 subdomain: lower-case
/// alphanumerics, `-` and `.`, starting and ending alphanumeric, at most 253 characters),
/// otherwise [`INVALID_NAME_LABEL`].
fn kubernetes_name_label(name: &str) -> String {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.chars().all(valid_char)
        && name.starts_with(alphanumeric)
        && name.ends_with(alphanumeric);
    if valid {
        name.to_owned()
    } else {
        INVALID_NAME_LABEL.to_owned()
    }
}

/// All operator metrics in one registry. Share it as `Arc<Metrics>`; every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    sync_duration: Histogram,
    syncs: Family<SyncLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    key_state: Family<KeyStateLabels, Gauge>,
    evidence_records: Family<EvidenceLabels, Gauge>,
    control_results: Family<ControlLabels, Gauge>,
    evidence_head: Family<HeadLabels, Gauge>,
    /// Evidence kinds set per connection, so `forget_connection` can remove exactly those series.
    evidence_kinds: Mutex<BTreeMap<ConnectionLabel, BTreeSet<&'static str>>>,
    /// Connections with per-connection series, as given (namespace, name).
    known: Mutex<BTreeSet<(String, String)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("jumpcloud_operator");
        // 0.25 s .. ~17 min: a key check takes well under a second, a full sync of a large
        // organisation can take many minutes.
        let sync_duration = Histogram::new(exponential_buckets(0.25, 2.0, 13));
        registry.register_with_unit(
            "sync_duration",
            "Duration of one evidence sync of one connection",
            Unit::Seconds,
            sync_duration.clone(),
        );
        let syncs = Family::<SyncLabels, Counter>::default();
        registry.register("syncs", "Evidence syncs by result", syncs.clone());
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "jumpcloud_requests",
            "Requests to the JumpCloud API by endpoint group and HTTP status class",
            requests.clone(),
        );
        let key_state = Family::<KeyStateLabels, Gauge>::default();
        registry.register(
            "key_state",
            "State of each connection's API key: 1 for the current state, 0 for the others",
            key_state.clone(),
        );
        let evidence_records = Family::<EvidenceLabels, Gauge>::default();
        registry.register(
            "evidence_records",
            "Evidence records per kind in each connection's last good snapshot",
            evidence_records.clone(),
        );
        let control_results = Family::<ControlLabels, Gauge>::default();
        registry.register(
            "control_results",
            "Compliance controls per result in each connection's last evaluation",
            control_results.clone(),
        );
        let evidence_head = Family::<HeadLabels, Gauge>::default();
        registry.register(
            "evidence_head_sequence",
            "Sequence of the newest committed snapshot of each connection's hash chain (an anchor for `verify --expect-sequence`)",
            evidence_head.clone(),
        );
        Self {
            registry,
            evidence_head,
            sync_duration,
            syncs,
            requests,
            key_state,
            evidence_records,
            control_results,
            evidence_kinds: Mutex::new(BTreeMap::new()),
            known: Mutex::new(BTreeSet::new()),
        }
    }

    /// Counts one finished sync and observes its duration.
    pub fn record_sync(&self, outcome: SyncResultLabel, duration: Duration) {
        self.sync_duration.observe(duration.as_secs_f64());
        self.syncs
            .get_or_create(&SyncLabels {
                result: outcome.as_str(),
            })
            .inc();
    }

    /// Counts one JumpCloud request. `endpoint_group` is a name compiled into the binary
    /// (for example `"systemusers"`), never a URL with ids in it.
    pub fn record_request(&self, endpoint_group: &'static str, status: StatusClass) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint_group,
                status_class: status.as_str(),
            })
            .inc();
    }

    /// Sets the connection's key state: `state` to 1 and every other state to 0, so alerts can
    /// match `key_state{state="KeyRevoked"} == 1`.
    pub fn set_key_state(&self, namespace: &str, connection: &str, state: KeyState) {
        self.remember(namespace, connection);
        let label = ConnectionLabel::new(namespace, connection);
        for candidate in KeyState::ALL {
            let value = i64::from(candidate == state);
            self.key_state
                .get_or_create(&KeyStateLabels {
                    namespace: label.namespace.clone(),
                    connection: label.connection.clone(),
                    state: candidate,
                })
                .set(value);
        }
    }

    /// Sets the number of records of one evidence kind in the connection's last good snapshot.
    pub fn set_evidence(&self, namespace: &str, connection: &str, kind: &'static str, count: u64) {
        self.remember(namespace, connection);
        let label = ConnectionLabel::new(namespace, connection);
        self.evidence_records
            .get_or_create(&EvidenceLabels {
                namespace: label.namespace.clone(),
                connection: label.connection.clone(),
                kind,
            })
            .set(saturating_i64(count));
        self.evidence_kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(label)
            .or_default()
            .insert(kind);
    }

    /// Sets the sequence of the connection's newest committed snapshot.
    pub fn set_evidence_head(&self, namespace: &str, connection: &str, sequence: u64) {
        self.remember(namespace, connection);
        let label = ConnectionLabel::new(namespace, connection);
        self.evidence_head
            .get_or_create(&HeadLabels {
                namespace: label.namespace,
                connection: label.connection,
            })
            .set(saturating_i64(sequence));
    }

    /// Sets how many controls ended with each result; results not given are set to 0.
    pub fn set_control_results(
        &self,
        namespace: &str,
        connection: &str,
        counts: &[(ControlResultLabel, u64)],
    ) {
        self.remember(namespace, connection);
        let label = ConnectionLabel::new(namespace, connection);
        for result in ControlResultLabel::ALL {
            let count: u64 = counts
                .iter()
                .filter(|(given, _)| *given == result)
                .map(|(_, count)| *count)
                .sum();
            self.control_results
                .get_or_create(&ControlLabels {
                    namespace: label.namespace.clone(),
                    connection: label.connection.clone(),
                    result: result.as_str(),
                })
                .set(saturating_i64(count));
        }
    }

    fn remember(&self, namespace: &str, connection: &str) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((namespace.to_owned(), connection.to_owned()));
    }

    /// Forgets every connection with series for which `alive(namespace, name)` is false (a
    /// sweep against the controller's cache catches deletions no reconcile reports).
    pub fn retain_connections(&self, alive: impl Fn(&str, &str) -> bool) {
        let gone: Vec<(String, String)> = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(ns, name)| !alive(ns, name))
            .cloned()
            .collect();
        for (ns, name) in gone {
            self.forget_connection(&ns, &name);
        }
    }

    /// Removes every per-connection series of a deleted connection.
    pub fn forget_connection(&self, namespace: &str, connection: &str) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(namespace.to_owned(), connection.to_owned()));
        let label = ConnectionLabel::new(namespace, connection);
        for state in KeyState::ALL {
            self.key_state.remove(&KeyStateLabels {
                namespace: label.namespace.clone(),
                connection: label.connection.clone(),
                state,
            });
        }
        for result in ControlResultLabel::ALL {
            self.control_results.remove(&ControlLabels {
                namespace: label.namespace.clone(),
                connection: label.connection.clone(),
                result: result.as_str(),
            });
        }
        self.evidence_head.remove(&HeadLabels {
            namespace: label.namespace.clone(),
            connection: label.connection.clone(),
        });
        let kinds = self
            .evidence_kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&label)
            .unwrap_or_default();
        for kind in kinds {
            self.evidence_records.remove(&EvidenceLabels {
                namespace: label.namespace.clone(),
                connection: label.connection.clone(),
                kind,
            });
        }
    }

    /// The OpenMetrics text exposition served on `/metrics`.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn saturating_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(metrics: &Metrics) -> String {
        metrics
            .encode()
            .expect("encoding into a String cannot fail")
    }

    #[test]
    fn exposition_contains_every_documented_series() {
        let metrics = Metrics::new();
        metrics.record_sync(SyncResultLabel::Success, Duration::from_millis(1500));
        metrics.record_request("systemusers", StatusClass::from_status(200));
        metrics.set_key_state("team-a", "prod", KeyState::Accepted);
        metrics.set_evidence("team-a", "prod", "devices", 120);
        metrics.set_control_results("team-a", "prod", &[(ControlResultLabel::Pass, 14)]);
        metrics.set_evidence_head("team-a", "prod", 41);
        let text = exposition(&metrics);
        for expected in [
            "# TYPE jumpcloud_operator_sync_duration_seconds histogram",
            "jumpcloud_operator_sync_duration_seconds_count 1",
            "jumpcloud_operator_sync_duration_seconds_bucket{le=\"2.0\"} 1",
            "jumpcloud_operator_sync_duration_seconds_bucket{le=\"1.0\"} 0",
            "jumpcloud_operator_syncs_total{result=\"success\"} 1",
            "jumpcloud_operator_jumpcloud_requests_total{endpoint_group=\"systemusers\",status_class=\"2xx\"} 1",
            "jumpcloud_operator_key_state{namespace=\"team-a\",connection=\"prod\",state=\"Accepted\"} 1",
            "jumpcloud_operator_key_state{namespace=\"team-a\",connection=\"prod\",state=\"KeyRevoked\"} 0",
            "jumpcloud_operator_evidence_records{namespace=\"team-a\",connection=\"prod\",kind=\"devices\"} 120",
            "jumpcloud_operator_control_results{namespace=\"team-a\",connection=\"prod\",result=\"pass\"} 14",
            "jumpcloud_operator_control_results{namespace=\"team-a\",connection=\"prod\",result=\"fail\"} 0",
            "jumpcloud_operator_evidence_head_sequence{namespace=\"team-a\",connection=\"prod\"} 41",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }

    #[test]
    fn key_state_has_exactly_one_current_state_after_a_change() {
        let metrics = Metrics::new();
        metrics.set_key_state("team-a", "prod", KeyState::Accepted);
        metrics.set_key_state("team-a", "prod", KeyState::KeyRevoked);
        let text = exposition(&metrics);
        let ones: Vec<&str> = text
            .lines()
            .filter(|line| {
                line.starts_with("jumpcloud_operator_key_state{") && line.ends_with(" 1")
            })
            .collect();
        assert_eq!(ones.len(), 1, "{text}");
        assert!(ones[0].contains("state=\"KeyRevoked\""), "{text}");
    }

    #[test]
    fn status_classes_cover_every_code() {
        assert_eq!(StatusClass::from_status(204), StatusClass::Success);
        assert_eq!(StatusClass::from_status(401), StatusClass::ClientError);
        assert_eq!(StatusClass::from_status(429), StatusClass::ClientError);
        assert_eq!(StatusClass::from_status(503), StatusClass::ServerError);
        assert_eq!(StatusClass::from_status(0), StatusClass::Transport);
        assert_eq!(StatusClass::from_status(999), StatusClass::Transport);
    }

    #[test]
    fn forget_connection_removes_only_that_connections_series() {
        let metrics = Metrics::new();
        for name in ["prod", "staging"] {
            metrics.set_key_state("team-a", name, KeyState::Accepted);
            metrics.set_evidence("team-a", name, "devices", 3);
            metrics.set_evidence("team-a", name, "users", 5);
            metrics.set_control_results("team-a", name, &[(ControlResultLabel::Fail, 2)]);
            metrics.set_evidence_head("team-a", name, 7);
        }
        metrics.record_sync(SyncResultLabel::Success, Duration::from_secs(1));
        metrics.forget_connection("team-a", "prod");
        let text = exposition(&metrics);
        assert!(!text.contains("connection=\"prod\""), "{text}");
        assert!(
            text.contains("connection=\"staging\",kind=\"users\"} 5"),
            "{text}"
        );
        assert!(text.contains("jumpcloud_operator_syncs_total{result=\"success\"} 1"));
    }

    /// Names are the only free-form label input. Anything that is not a Kubernetes object name,
    /// such as an API key pasted into the wrong place, is replaced, so its text never appears.
    #[test]
    fn label_values_never_carry_key_like_text() {
        let key = "jca_example-0123456789abcdefABCDEF0123456789abcdef";
        let legacy_key = "0123456789abcdef0123456789abcdef01234567";
        let metrics = Metrics::new();
        metrics.set_key_state(key, key, KeyState::KeyRevoked);
        metrics.set_evidence("team-a", key, "devices", 1);
        metrics.set_control_results(key, "prod", &[(ControlResultLabel::Pass, 1)]);
        metrics.forget_connection("ns", "Name With Spaces");
        let text = exposition(&metrics);
        assert!(!text.contains(key), "{text}");
        assert!(!text.contains("jca_"), "{text}");
        assert!(text.contains(&format!("connection=\"{INVALID_NAME_LABEL}\"")));
        // A legacy 40-hex key is a valid DNS label, which is why no API takes a key or a
        // fingerprint at all: the only names that reach these methods are object names.
        assert_eq!(kubernetes_name_label(legacy_key), legacy_key);
        assert_eq!(kubernetes_name_label("-bad"), INVALID_NAME_LABEL);
        assert_eq!(kubernetes_name_label("bad-"), INVALID_NAME_LABEL);
        assert_eq!(kubernetes_name_label(""), INVALID_NAME_LABEL);
        assert_eq!(kubernetes_name_label(&"a".repeat(254)), INVALID_NAME_LABEL);
        assert_eq!(kubernetes_name_label("a.b-c"), "a.b-c");
    }

    #[test]
    fn every_label_value_in_the_exposition_is_bounded() {
        let metrics = Metrics::new();
        for outcome in [
            SyncResultLabel::Success,
            SyncResultLabel::Partial,
            SyncResultLabel::RateLimited,
            SyncResultLabel::Unavailable,
            SyncResultLabel::Timeout,
            SyncResultLabel::KeyRejected,
            SyncResultLabel::Error,
        ] {
            metrics.record_sync(outcome, Duration::from_secs(1));
        }
        for status in [100, 200, 301, 404, 500, 0] {
            metrics.record_request("systems", StatusClass::from_status(status));
        }
        metrics.set_key_state("ns", "conn", KeyState::Unknown);
        let text = exposition(&metrics);
        let allowed = |value: &str| {
            value.len() <= 253
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._+".contains(c))
        };
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            if let Some((_, labels)) = line.split_once('{') {
                let labels = labels.split('}').next().unwrap_or_default();
                for pair in labels.split(',') {
                    let (_, value) = pair.split_once('=').expect("label pair");
                    let value = value.trim_matches('"');
                    assert!(allowed(value), "unexpected label value {value:?} in {line}");
                }
            }
        }
    }
}
