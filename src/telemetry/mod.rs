//! Operator telemetry: Prometheus metrics and the health endpoints.
//!
//! # API for the operator (`run`)
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use jumpcloud_operator::telemetry::{
//!     serve_health, serve_metrics, ControlResultLabel, KeyState, Metrics, Readiness, StatusClass,
//!     SyncResultLabel,
//! };
//!
//! # async fn wiring() {
//! let metrics = Arc::new(Metrics::new());
//! let readiness = Readiness::new();
//! let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
//! let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
//!     let _ = rx.wait_for(|stop| *stop).await;
//! };
//! tokio::spawn(serve_metrics(
//!     SocketAddr::from(([0, 0, 0, 0], 8080)),
//!     metrics.clone(),
//!     stopped(stop_rx.clone()),
//! ));
//! tokio::spawn(serve_health(
//!     SocketAddr::from(([0, 0, 0, 0], 8081)),
//!     readiness.clone(),
//!     stopped(stop_rx.clone()),
//! ));
//! // Once the connection store has its initial list (or this replica is a standby):
//! readiness.set_ready();
//! // In the client and in reconcile:
//! metrics.record_request("systemusers", StatusClass::from_status(200));
//! metrics.record_sync(SyncResultLabel::Success, Duration::from_secs(3));
//! metrics.set_key_state("team-a", "prod", KeyState::Accepted);
//! metrics.set_evidence("team-a", "prod", "devices", 120);
//! metrics.set_control_results("team-a", "prod", &[(ControlResultLabel::Pass, 14), (ControlResultLabel::Fail, 1)]);
//! // When the connection is deleted:
//! metrics.forget_connection("team-a", "prod");
//! // On SIGTERM: stop taking traffic, then stop both servers.
//! readiness.set_not_ready();
//! let _ = stop_tx.send(true);
//! # }
//! ```
//!
//! # Wiring in this crate
//!
//! `run` owns one [`Metrics`] and one [`Readiness`]. The JumpCloud client reports every HTTP
//! attempt through a [`RequestObserver`] (`ClientConfig::observer`), with its request label
//! turned into a bounded group by [`endpoint_group`]. The controller counts each sync
//! ([`record_sync`]); every per-connection gauge is derived from the connection's status alone
//! ([`record_status`], [`ConnectionGauges`]), set after each reconcile and refilled from the
//! controller's cache at start, so a restart does not blank them until the next sync. It
//! forgets deleted connections (on `ObjectNotFound`, and by a sweep against its cache every
//! 5 s, since deletions trigger no reconcile), and sets readiness once its stores are listed
//! ([`store_ready`]).
//!
//! # Series (all prefixed `jumpcloud_operator_`)
//!
//! | series | type | labels |
//! | --- | --- | --- |
//! | `sync_duration_seconds` | histogram | none |
//! | `syncs_total` | counter | `result` ([`SyncResultLabel`]) |
//! | `jumpcloud_requests_total` | counter | `endpoint_group` (a `&'static str`), `status_class` (`1xx`..`5xx`, `transport`) |
//! | `key_state` | gauge 0/1 | `namespace`, `connection`, `state` ([`KeyState`]: the `KeyValid` reasons) |
//! | `evidence_records` | gauge | `namespace`, `connection`, `kind` (a `&'static str` evidence kind) |
//! | `control_results` | gauge | `namespace`, `connection`, `result` ([`ControlResultLabel`]) |
//! | `control_status` | gauge, 1 | `namespace`, `connection`, `control` (a catalog id), `status` ([`ControlResultLabel`]): one series per control |
//! | `evidence_head_sequence` | gauge | `namespace`, `connection` |
//! | `last_successful_sync_timestamp_seconds` | gauge | `namespace`, `connection` |
//! | `key_expiry_timestamp_seconds` | gauge | `namespace`, `connection` (absent for keys without expiry) |
//! | `sync_interval_seconds` | gauge | `namespace`, `connection` |
//!
//! # Label hygiene (the API key can never become a label)
//!
//! Every label value is either an enum defined here, a `&'static str` compiled into the binary
//! (evidence kinds, endpoint groups), or a Kubernetes object name. Object names are checked against the
//! Kubernetes naming rules (RFC 1123, at most 253 characters); anything else is recorded as
//! `_invalid`. No method accepts an `ApiKey`, a fingerprint or free-form text, so there is no
//! path from a key to `/metrics`, and the cardinality is bounded by the number of connections.
//!
//! # Health
//!
//! `/healthz` answers 200 while the process serves requests (it checks neither the apiserver nor
//! JumpCloud, so an outage cannot cause a restart storm); `/readyz` answers 503 until
//! [`Readiness::set_ready`] and 200 afterwards.

mod hooks;
mod labels;
mod metrics;
mod server;
mod status_gauges;

pub use hooks::{
    OTHER_GROUP, RequestObserver, endpoint_group, key_state, record_sync, store_ready,
    sync_result_label,
};
pub use status_gauges::{ConnectionGauges, record_status};

pub use labels::{ControlResultLabel, KeyState, StatusClass, SyncResultLabel};
pub use metrics::{INVALID_NAME_LABEL, Metrics};
pub use server::{
    Readiness, TelemetryError, health_router, metrics_router, serve_health, serve_health_on,
    serve_metrics, serve_metrics_on,
};
