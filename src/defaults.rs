//! Defaults more than one layer needs: the CRD's documented defaults are the collector's and
//! the store's, so they live here rather than in either (the CRD must not import the layers).

/// Days of Directory Insights events a first collection reads (JumpCloud keeps 90).
pub const EVENTS_DAYS: u32 = 90;

/// Days snapshots are kept: a 12-month audit period plus margin.
pub const RETENTION_DAYS: u32 = 400;
