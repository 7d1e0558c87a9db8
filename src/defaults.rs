//! Defaults more than one layer needs: the CRD's documented defaults are the collector's and
//! the store's, so they live here rather than in either (the CRD must not import the layers).

/// Days of Directory Insights events a first collection reads (JumpCloud keeps 90).
pub const EVENTS_DAYS: u32 = 90;

/// Days snapshots are kept: a 12-month audit period plus margin.
pub const RETENTION_DAYS: u32 = 400;

#[cfg(test)]
mod tests {
    /// Until `collect` and `store::retention` take their constants from here, they must agree.
    #[test]
    fn the_layers_use_the_shared_defaults() {
        assert_eq!(crate::collect::EVENTS_RETENTION_DAYS, super::EVENTS_DAYS);
        assert_eq!(
            crate::store::retention::DEFAULT_RETENTION_DAYS,
            super::RETENTION_DAYS
        );
    }
}
