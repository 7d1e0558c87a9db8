//! jumpcloud-operator: collects, verifies and evaluates JumpCloud compliance evidence,
//! as a one-shot CLI (`collect`, `report`, `verify`, ...) and as a Kubernetes operator (`run`).
//!
//! The shape is gather (IO) -> decide (pure) -> act (IO) -> report:
//!
//! | layer | modules |
//! | --- | --- |
//! | gather | [`jumpcloud`] (the JumpCloud HTTP client), [`collect`] (every evidence kind into a snapshot sink, then the step before the commit that evaluates the controls), the Secret and connection reads in [`controller`] |
//! | decide (pure) | [`decide`] (the operator's plan and status), [`conditions`] (kstatus conditions and their reasons), [`controls`] (the control catalog evaluated over a snapshot) |
//! | act | [`controller`] (the reconcile shell: JumpCloud calls, the sync, status and events), [`store`] (the evidence store: blobs, manifests, chain, signatures, retention; the collection's sink) |
//! | report | [`report`] (auditor reports), [`evidence_server`] (the operator's read-only evidence endpoint: TokenReview/SubjectAccessReview gathered in `auth`, decided in `access`, served in `routes`), [`cli`] (one module per subcommand), [`telemetry`] (metrics and health) |
//!
//! Dependencies point one way. [`collect`] names no store: it writes through its own
//! `SnapshotSink` traits, which [`store`] implements, and its errors box the sink's. The
//! collection evaluates the controls itself, between the last kind written and the commit
//! (`collect::EvaluateControls`, one evaluation at a time in the process); the store only
//! stores the results and reads its blobs back as evidence. [`controls`] know neither.
//!
//! Shared contracts: [`crd`] (the `JumpCloudConnection` resource), [`region`] (regions and
//! hosts), [`defaults`] (defaults the CRD shares with the collector and the store), [`device_access`]
//! (when the one-request-per-device kind is collected: the CRD's, the CLI's and the collector's
//! setting), [`leader`]
//! (leader election with a Lease).
//!
//! The JumpCloud API simulator is its own crate (`crates/jumpcloud-simulator`, not part of this
//! library): the tests and the `simulate`, `collect --simulate` and `bench` commands start it, and
//! the client reaches it only through HTTP.

pub mod cli;
pub mod collect;
pub mod conditions;
pub mod controller;
pub mod controls;
pub mod crd;
pub mod decide;
pub mod defaults;
pub mod device_access;
pub mod evidence_server;
pub mod jumpcloud;
pub mod leader;
pub mod region;
pub mod report;
pub mod store;
pub mod telemetry;
