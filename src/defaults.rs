//! Defaults more than one layer needs: the CRD's documented defaults are the collector's and
//! the store's, so they live here rather than in either (the CRD must not import the layers).

/// Days of Directory Insights events a first collection reads (JumpCloud keeps 90).
pub const EVENTS_DAYS: u32 = 90;

/// Days of policy results a first collection reads (JumpCloud does not document how long it
/// keeps them; 90 like Directory Insights).
pub const POLICY_RESULTS_DAYS: u32 = 90;

/// Days snapshots are kept: a 12-month audit period plus margin.
pub const RETENTION_DAYS: u32 = 400;

/// The most JumpCloud requests in flight per client (`collect --concurrency`, and the
/// operator's clients); the adaptive limit finds how many the API takes, up to this. 16 in flight
/// reached 15x a sequential collection of a large org with 20 ms answers (BENCHMARKS.md).
pub const MAX_CONCURRENCY: usize = 16;
