//! The operator's controller, the IO shell around [`decide`](crate::decide): gather (the
//! connection, its one Secret: [`secrets`]) -> decide -> act ([`act`]: JumpCloud, evidence in
//! the store) -> report (status by server-side apply only when changed, events on transitions).
//!
//! Layout: `reconcile` (one reconcile, step by step), `context` (state shared by reconciles:
//! the write cache, rejection memory), `event_recorder` (Events whose series key includes the
//! note, so each says what is true now), `credential_checks` (one cheap key
//! check per credential, its answer taken by every connection using it), `shared_key` (the
//! KeyShared warning), `gate` (at most `concurrency` reconciles at JumpCloud, a person's first),
//! `wiring` (the kube-runtime controllers and the start-up CRD check), `classify` (client and
//! collection errors to key checks and sync results), [`backoff`], `policy_reports` (the
//! PolicyReport / OpenReports kinds served, and each connection's report after a sync).

pub mod act;
pub mod backoff;
mod classify;
mod context;
mod credential_checks;
mod event_recorder;
mod gate;
mod policy_reports;
mod reconcile;
pub mod secrets;
mod shared_key;
mod wiring;

use std::sync::Arc;
use std::time::Duration;

pub use act::{Endpoints, EvidenceTarget};
pub use context::Context;
pub use policy_reports::PolicyReportMode;
pub use reconcile::{error_policy, reconcile};
pub use wiring::{StartError, check_crd, run};

/// Field manager of every status write.
pub const FIELD_MANAGER: &str = "jumpcloud-operator";

/// Controller errors (the Kubernetes side; JumpCloud outcomes are statuses, not errors).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("the connection has no namespace")]
    NoNamespace,
    #[error("cannot serialise the status patch: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The evidence store; each connection writes under `<namespace>/<name>/`.
    pub evidence: act::EvidenceTarget,
    pub endpoints: Endpoints,
    /// Empty: all namespaces.
    pub watch_namespaces: Vec<String>,
    /// Label selector on connections.
    pub label_selector: Option<String>,
    /// Label selector narrowing the Secret metadata watch (less traffic; not a security
    /// boundary: RBAC cannot filter by label).
    pub secret_selector: Option<String>,
    /// Reconciles calling JumpCloud at once (the others only read and write Kubernetes
    /// objects, and run unbounded).
    pub concurrency: u16,
    /// Reporter instance in events (the pod name).
    pub instance: Option<String>,
    /// Prometheus metrics; `None` records nothing.
    pub metrics: Option<Arc<crate::telemetry::Metrics>>,
    /// Set ready once every connection store has its initial list.
    pub readiness: Option<crate::telemetry::Readiness>,
    /// Which policy reports to write after each sync (found by API discovery at start).
    pub policy_reports: PolicyReportMode,
    /// How long a rejected key rests before its re-check ([`crate::decide::REJECTED_KEY_RETRY`]
    /// outside tests).
    pub rejected_key_retry: Duration,
}
