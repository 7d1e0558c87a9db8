//! The Prometheus registry of the operator and the only ways to change it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use super::labels::{ControlResultLabel, KeyState, StatusClass, SyncResultLabel};
use super::status_gauges::ConnectionGauges;

/// Label value recorded instead of a namespace or connection name that is not a valid
/// Kubernetes object name. Keeps arbitrary text (and so anything key-like) out of `/metrics`.
pub const INVALID_NAME_LABEL: &str = "_invalid";

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
struct ControlStatusLabels {
    namespace: String,
    connection: String,
    control: &'static str,
    status: &'static str,
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
    last_successful_sync: Family<HeadLabels, Gauge>,
    key_expiry: Family<HeadLabels, Gauge>,
    sync_interval: Family<HeadLabels, Gauge>,
    old_key_uses: Family<HeadLabels, Gauge>,
    control_status: Family<ControlStatusLabels, Gauge>,
    /// The one `control_status` series of each control, so a change replaces it.
    control_series: Mutex<BTreeMap<ConnectionLabel, BTreeMap<&'static str, ControlResultLabel>>>,
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
        let last_successful_sync = Family::<HeadLabels, Gauge>::default();
        registry.register_with_unit(
            "last_successful_sync_timestamp",
            "When each connection's last successful sync finished (status.lastSuccessfulSyncTime), Unix time",
            Unit::Seconds,
            last_successful_sync.clone(),
        );
        let key_expiry = Family::<HeadLabels, Gauge>::default();
        registry.register_with_unit(
            "key_expiry_timestamp",
            "When each connection's API key expires (status.credential.expiresAt), Unix time; absent for keys that do not expire",
            Unit::Seconds,
            key_expiry.clone(),
        );
        let sync_interval = Family::<HeadLabels, Gauge>::default();
        registry.register_with_unit(
            "sync_interval",
            "Each connection's sync interval (spec.interval)",
            Unit::Seconds,
            sync_interval.clone(),
        );
        let old_key_uses = Family::<HeadLabels, Gauge>::default();
        registry.register(
            "old_key_uses",
            "Uses of each connection's previous, replaced API key since the rotation, from Directory Insights (admin_old_api_key_attempt): another integration still has it; absent when no key was replaced",
            old_key_uses.clone(),
        );
        let control_status = Family::<ControlStatusLabels, Gauge>::default();
        registry.register(
            "control_status",
            "Result of each compliance control in each connection's last evaluation: one series per control, 1, labelled with its status",
            control_status.clone(),
        );
        Self {
            registry,
            evidence_head,
            last_successful_sync,
            key_expiry,
            sync_interval,
            old_key_uses,
            control_status,
            control_series: Mutex::new(BTreeMap::new()),
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

    /// Sets every per-connection gauge to what the connection's status says.
    pub fn set_connection_gauges(
        &self,
        namespace: &str,
        connection: &str,
        gauges: &ConnectionGauges,
    ) {
        self.set_key_state(namespace, connection, gauges.key_state);
        if let Some(counts) = &gauges.control_results {
            self.set_control_results(namespace, connection, counts);
        }
        for (kind, count) in &gauges.evidence {
            self.set_evidence(namespace, connection, kind, *count);
        }
        let label = ConnectionLabel::new(namespace, connection);
        let head = || HeadLabels {
            namespace: label.namespace.clone(),
            connection: label.connection.clone(),
        };
        for (family, value) in [
            (
                &self.evidence_head,
                gauges.head_sequence.map(saturating_i64),
            ),
            (&self.last_successful_sync, gauges.last_successful_sync),
            (&self.key_expiry, gauges.key_expiry),
            (
                &self.sync_interval,
                gauges.sync_interval.map(saturating_i64),
            ),
            (&self.old_key_uses, gauges.old_key_uses.map(saturating_i64)),
        ] {
            match value {
                Some(value) => {
                    family.get_or_create(&head()).set(value);
                }
                None => {
                    family.remove(&head());
                }
            }
        }
        self.set_control_status(&label, &gauges.controls);
    }

    /// Replaces the connection's `control_status` series by `controls` (one series each).
    fn set_control_status(
        &self,
        label: &ConnectionLabel,
        controls: &BTreeMap<&'static str, ControlResultLabel>,
    ) {
        let mut series = self
            .control_series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let labels = |control: &'static str, status: ControlResultLabel| ControlStatusLabels {
            namespace: label.namespace.clone(),
            connection: label.connection.clone(),
            control,
            status: status.as_str(),
        };
        let previous = series.remove(label).unwrap_or_default();
        for (control, status) in &previous {
            if controls.get(control) != Some(status) {
                self.control_status.remove(&labels(control, *status));
            }
        }
        for (control, status) in controls {
            self.control_status
                .get_or_create(&labels(control, *status))
                .set(1);
        }
        if !controls.is_empty() {
            series.insert(label.clone(), controls.clone());
        }
    }

    /// Whether any per-connection series was set for this connection since start.
    pub fn knows_connection(&self, namespace: &str, connection: &str) -> bool {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&(namespace.to_owned(), connection.to_owned()))
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
        for family in [
            &self.evidence_head,
            &self.last_successful_sync,
            &self.key_expiry,
            &self.sync_interval,
            &self.old_key_uses,
        ] {
            family.remove(&HeadLabels {
                namespace: label.namespace.clone(),
                connection: label.connection.clone(),
            });
        }
        self.set_control_status(&label, &BTreeMap::new());
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

    fn gauges(controls: &[(&'static str, ControlResultLabel)]) -> ConnectionGauges {
        ConnectionGauges {
            key_state: KeyState::Accepted,
            last_successful_sync: Some(1_800_000_000),
            key_expiry: Some(1_900_000_000),
            sync_interval: Some(21_600),
            old_key_uses: Some(2),
            head_sequence: Some(3),
            evidence: vec![("devices", 55)],
            control_results: None,
            controls: controls.iter().copied().collect(),
        }
    }

    #[test]
    fn connection_gauges_replace_each_controls_series_and_drop_absent_values() {
        let metrics = Metrics::new();
        metrics.set_connection_gauges(
            "team-a",
            "prod",
            &gauges(&[
                ("JC-A", ControlResultLabel::Pass),
                ("JC-B", ControlResultLabel::Fail),
            ]),
        );
        let text = exposition(&metrics);
        for expected in [
            "jumpcloud_operator_last_successful_sync_timestamp_seconds{namespace=\"team-a\",connection=\"prod\"} 1800000000",
            "jumpcloud_operator_key_expiry_timestamp_seconds{namespace=\"team-a\",connection=\"prod\"} 1900000000",
            "jumpcloud_operator_sync_interval_seconds{namespace=\"team-a\",connection=\"prod\"} 21600",
            "jumpcloud_operator_evidence_head_sequence{namespace=\"team-a\",connection=\"prod\"} 3",
            "jumpcloud_operator_old_key_uses{namespace=\"team-a\",connection=\"prod\"} 2",
            "jumpcloud_operator_control_status{namespace=\"team-a\",connection=\"prod\",control=\"JC-A\",status=\"pass\"} 1",
            "jumpcloud_operator_control_status{namespace=\"team-a\",connection=\"prod\",control=\"JC-B\",status=\"fail\"} 1",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }

        // JC-B recovers, JC-A is no longer evaluated, the key no longer expires.
        let mut next = gauges(&[("JC-B", ControlResultLabel::Pass)]);
        next.key_expiry = None;
        metrics.set_connection_gauges("team-a", "prod", &next);
        let text = exposition(&metrics);
        let control_lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("jumpcloud_operator_control_status{"))
            .collect();
        assert_eq!(
            control_lines,
            [
                "jumpcloud_operator_control_status{namespace=\"team-a\",connection=\"prod\",control=\"JC-B\",status=\"pass\"} 1"
            ],
            "{text}"
        );
        assert!(!text.contains("key_expiry_timestamp_seconds{"), "{text}");

        metrics.forget_connection("team-a", "prod");
        let text = exposition(&metrics);
        assert!(!text.contains("connection=\"prod\""), "{text}");
        assert!(!metrics.knows_connection("team-a", "prod"));
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
