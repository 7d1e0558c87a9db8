//! The policy results history (`GET /api/v2/policyresults`), collected incrementally: each
//! collection reads the results that ended in its window, from where the stored history ends
//! (bounded by how long JumpCloud keeps results) or `days` back when none is stored, up to the
//! collection's start. The sink keeps only the results it does not hold yet (see
//! `store::history`) and records the coverage.
//!
//! The window is a pair of documented v2 filters on `endedAt` (`ge` its start, `lt` its end):
//! a fixed set, so results that end while the listing is paged do not move its pages or its
//! `x-total-count`; they belong to the next collection. Pages are sorted by the unique `id`
//! like every v2 list ([`crate::jumpcloud::routes::stable_sort`]).

use super::collector::{Collector, KindOutcome};
use super::{CollectError, EventsWindow, SnapshotSink};
use crate::jumpcloud::ListRequest;

/// The kind (`store::history::POLICY_RESULTS_KIND`).
pub const POLICY_RESULTS_KIND: &str = "policy_results_history";

const PATH: &str = "/api/v2/policyresults";

/// How far back JumpCloud keeps policy results. Not documented: assumed like Directory
/// Insights' 90 days. An older resume point leaves a gap, which the coverage records.
pub const POLICY_RESULTS_RETENTION_DAYS: u32 = 90;
const _: () = assert!(crate::defaults::POLICY_RESULTS_DAYS <= POLICY_RESULTS_RETENTION_DAYS);

/// Millisecond precision, as JumpCloud writes its times.
fn filter_time(at: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at)
}

/// The window of a collection starting at `now`: from where the stored history ends (bounded
/// by the retention), or `days` back when nothing is stored; never inverted.
pub fn history_window(
    now: jiff::Timestamp,
    days: u32,
    stored_end: Option<jiff::Timestamp>,
) -> EventsWindow {
    let back = |days: u32| now - jiff::SignedDuration::from_hours(24 * i64::from(days));
    let start = match stored_end {
        Some(end) => end.max(back(POLICY_RESULTS_RETENTION_DAYS)).min(now),
        None => back(days),
    };
    EventsWindow {
        start: filter_time(start),
        end: filter_time(now),
    }
}

impl<S: SnapshotSink> Collector<'_, S> {
    pub(super) async fn policy_results_history(
        &self,
        now: jiff::Timestamp,
        days: u32,
    ) -> Result<KindOutcome, CollectError> {
        let window = history_window(now, days, self.sink.history_end(POLICY_RESULTS_KIND));
        let mut request = ListRequest::v2(POLICY_RESULTS_KIND, PATH);
        request.query.extend([
            ("filter".to_owned(), format!("endedAt:ge:{}", window.start)),
            ("filter".to_owned(), format!("endedAt:lt:{}", window.end)),
        ]);
        let mut outcome = self.listing(POLICY_RESULTS_KIND, request, |_| {}).await?;
        outcome.window = Some(window);
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_continues_where_the_stored_results_end_within_the_retention() {
        let now: jiff::Timestamp = "2026-11-29T00:00:00.123456Z".parse().unwrap();
        let days = |d: i64| now - jiff::SignedDuration::from_hours(24 * d);
        let window = history_window(now, 30, None);
        assert_eq!(window.start, filter_time(days(30)));
        assert_eq!(window.end.to_string(), "2026-11-29T00:00:00.123Z");
        assert_eq!(
            history_window(now, 30, Some(days(2))).start,
            filter_time(days(2))
        );
        assert_eq!(
            history_window(now, 30, Some(days(200))).start,
            filter_time(days(90))
        );
        let future = history_window(now, 30, Some(now + jiff::SignedDuration::from_hours(1)));
        assert_eq!(future.start, future.end);
    }
}
