//! jumpcloud-operator: collects, verifies and evaluates JumpCloud compliance evidence,
//! as a one-shot CLI (`collect`) and as a Kubernetes operator (`run`).
//!
//! Layout follows gather (IO) -> decide (pure) -> act (IO) -> report:
//! - [`jumpcloud`]: the HTTP client for the JumpCloud API (IO).
//! - [`simulator`]: a faithful JumpCloud API simulator, reachable only through HTTP.
//! - [`collect`]: turns a client into an evidence snapshot on disk.
//! - [`cli`]: the command-line interface.

pub mod cli;
pub mod collect;
pub mod conditions;
pub mod controller;
pub mod controls;
pub mod crd;
pub mod decide;
pub mod defaults;
pub mod jumpcloud;
pub mod leader;
pub mod region;
pub mod report;
pub mod simulator;
pub mod store;
pub mod telemetry;
