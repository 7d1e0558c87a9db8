//! Directory Insights events, collected incrementally (see [`super::history`], which they
//! share with the other histories). JumpCloud keeps 90 days of events; the store keeps every
//! event ever collected. The snapshot manifest keeps their position and coverage in its own
//! fields (`events`, `events_since`), which predate the other histories.

#[cfg(test)]
use std::collections::BTreeSet;

pub use super::history::HistoryState as EventsState;
use super::history::{TimeField, merge};

/// The evidence kind holding Directory Insights events.
pub const EVENTS_KIND: &str = "directory_insights_events";

/// Merges newly collected events into the stored history: returns the new segment (events not
/// stored before, in the order given) and the new position.
pub fn merge_events<'a>(
    previous: Option<&EventsState>,
    collected: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<&'a [u8]>, Option<EventsState>) {
    merge(TimeField::Timestamp, previous, collected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, time: &str) -> Vec<u8> {
        format!(r#"{{"id":"{id}","timestamp":"{time}","event_type":"user_login_attempt"}}"#)
            .into_bytes()
    }

    fn ids(segment: &[&[u8]]) -> Vec<String> {
        segment
            .iter()
            .map(|r| {
                serde_json::from_slice::<serde_json::Value>(r).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn first_collection_keeps_everything_and_records_the_boundary() {
        let batch = [
            event("a", "2026-01-01T00:00:00Z"),
            event("b", "2026-01-02T00:00:00Z"),
            event("c", "2026-01-02T00:00:00Z"),
        ];
        let (segment, state) = merge_events(None, batch.iter().map(Vec::as_slice));
        assert_eq!(ids(&segment), ["a", "b", "c"]);
        let state = state.unwrap();
        assert_eq!(
            state.last_timestamp,
            "2026-01-02T00:00:00Z".parse().unwrap()
        );
        assert_eq!(
            state.ids_at_last,
            BTreeSet::from(["b".to_owned(), "c".to_owned()])
        );
    }

    #[test]
    fn overlapping_collection_drops_boundary_duplicates_and_older_events() {
        let previous = EventsState {
            last_timestamp: "2026-01-02T00:00:00Z".parse().unwrap(),
            ids_at_last: BTreeSet::from(["b".to_owned(), "c".to_owned()]),
        };
        let batch = [
            event("a", "2026-01-01T00:00:00Z"),
            event("b", "2026-01-02T00:00:00Z"),
            event("c", "2026-01-02T00:00:00Z"),
            event("d", "2026-01-02T00:00:00Z"),
            event("e", "2026-01-03T00:00:00.5Z"),
            event("e", "2026-01-03T00:00:00.5Z"),
        ];
        let (segment, state) = merge_events(Some(&previous), batch.iter().map(Vec::as_slice));
        assert_eq!(ids(&segment), ["d", "e"]);
        let state = state.unwrap();
        assert_eq!(
            state.last_timestamp,
            "2026-01-03T00:00:00.5Z".parse().unwrap()
        );
        assert_eq!(state.ids_at_last, BTreeSet::from(["e".to_owned()]));
    }

    #[test]
    fn an_empty_collection_keeps_the_position() {
        let previous = EventsState {
            last_timestamp: "2026-01-02T00:00:00Z".parse().unwrap(),
            ids_at_last: BTreeSet::from(["b".to_owned()]),
        };
        let (segment, state) = merge_events(Some(&previous), std::iter::empty());
        assert!(segment.is_empty());
        assert_eq!(state, Some(previous));
    }

    #[test]
    fn events_without_id_or_time_are_kept_verbatim() {
        let odd: &[u8] = br#"{"event_type":"x"}"#;
        let (segment, state) = merge_events(None, [odd]);
        assert_eq!(segment, [odd]);
        assert_eq!(state, None);
    }

    #[test]
    fn history_grows_past_the_api_retention_across_many_syncs() {
        // Daily syncs over 200 days, each seeing the last 90 days (JumpCloud's retention):
        // every event ends up stored exactly once.
        let day = |d: i64| {
            (jiff::Timestamp::from_second(1_767_225_600).unwrap()
                + jiff::SignedDuration::from_hours(24 * d))
            .to_string()
        };
        let all: Vec<Vec<u8>> = (0..200)
            .map(|d| event(&format!("ev{d}"), &day(d)))
            .collect();
        let mut state = None;
        let mut stored = Vec::new();
        for today in 0..200usize {
            let window = &all[today.saturating_sub(89)..=today];
            let (segment, next) = merge_events(state.as_ref(), window.iter().map(Vec::as_slice));
            stored.extend(ids(&segment));
            state = next;
        }
        let expected: Vec<String> = (0..200).map(|d| format!("ev{d}")).collect();
        assert_eq!(stored, expected);
    }
}
