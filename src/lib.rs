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
pub mod jumpcloud;
pub mod region;
pub mod simulator;
pub mod store;
