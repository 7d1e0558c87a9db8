//! Histories collected incrementally: kinds whose records are keyed by (time, id) and that the
//! API keeps for a limited time (Directory Insights events, policy results). The store keeps
//! every record ever collected by chaining segments: each snapshot's kind lists the previous
//! snapshot's segments plus one new segment holding only records not seen before.
//! [`HistoryState`] records where the previous collection stopped (the newest record time and
//! the ids at that time), so the next collection starts there (inclusive) and duplicates at
//! the boundary are dropped by id.
//!
//! Known limit: a record that the API ingests late, with a time older than the stored
//! position, is not collected.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::events::EVENTS_KIND;
/// The policy results history (`GET /api/v2/policyresults`), keyed by (`endedAt`, `id`).
pub use crate::collect::POLICY_RESULTS_KIND;

/// The field of a record that places it in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    /// Directory Insights events: `timestamp`.
    Timestamp,
    /// Policy results: `endedAt`.
    EndedAt,
}

/// The kinds collected incrementally, with their time field.
pub const INCREMENTAL_KINDS: [(&str, TimeField); 2] = [
    (EVENTS_KIND, TimeField::Timestamp),
    (POLICY_RESULTS_KIND, TimeField::EndedAt),
];

/// The time field of `kind` when it is collected incrementally.
pub fn incremental(kind: &str) -> Option<TimeField> {
    INCREMENTAL_KINDS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, field)| *field)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryState {
    /// Time of the newest stored record.
    pub last_timestamp: jiff::Timestamp,
    /// Ids of the stored records at exactly `last_timestamp`.
    pub ids_at_last: BTreeSet<String>,
}

impl HistoryState {
    /// Where the next collection starts (inclusive; boundary duplicates are filtered).
    pub fn resume_from(&self) -> jiff::Timestamp {
        self.last_timestamp
    }
}

/// What a snapshot manifest records of one incremental kind other than the Directory Insights
/// events (whose fields predate this and stay where they were): where the next collection
/// continues, and over which period the stored history is complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryCoverage {
    /// The newest stored record; `null` while none is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<HistoryState>,
    /// Since when the stored history has no gap: the start of the first collection's window,
    /// or of the window after a gap longer than the API keeps.
    pub complete_since: jiff::Timestamp,
    /// Up to when it is complete: the end of the latest collection's window.
    pub complete_until: jiff::Timestamp,
    /// Why coverage restarted at `complete_since` (a gap), when it did with this collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted: Option<String>,
}

/// The incremental kinds' coverage in a snapshot manifest, by kind.
pub type Histories = BTreeMap<String, HistoryCoverage>;

/// The coverage after a collection that read `window` of a kind completely, following the
/// previous snapshot's `previous` coverage: the previous start while this window starts at or
/// before where the previous one ended (no gap), else this window's start, saying why.
pub fn next_coverage(
    previous: Option<&HistoryCoverage>,
    window: (jiff::Timestamp, jiff::Timestamp),
    position: Option<HistoryState>,
) -> HistoryCoverage {
    let (start, end) = window;
    let (complete_since, restarted) = match previous {
        Some(previous) => {
            let covered_until = previous
                .position
                .as_ref()
                .map(HistoryState::resume_from)
                .map_or(previous.complete_until, |at| {
                    at.max(previous.complete_until)
                });
            if start <= covered_until {
                (previous.complete_since, None)
            } else {
                (
                    start,
                    Some(format!(
                        "the stored history was complete until {covered_until}, older than the API keeps; \
                         it is complete again from {start}: the records in between are not in the store"
                    )),
                )
            }
        }
        None => (start, None),
    };
    HistoryCoverage {
        position: position.or_else(|| previous.and_then(|p| p.position.clone())),
        complete_since,
        complete_until: end,
        restarted,
    }
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "endedAt")]
    ended_at: Option<Cow<'a, str>>,
}

/// Filters a stream of newly collected records against the stored position, and tracks the new
/// position. Pure: no IO.
#[derive(Debug, Clone)]
pub struct HistoryFilter {
    field: TimeField,
    previous: Option<HistoryState>,
    next: Option<HistoryState>,
    kept: u64,
    dropped: u64,
}

impl HistoryFilter {
    pub fn new(field: TimeField, previous: Option<HistoryState>) -> Self {
        HistoryFilter {
            field,
            next: previous.clone(),
            previous,
            kept: 0,
            dropped: 0,
        }
    }

    fn place(&self, record: &[u8]) -> Option<(String, jiff::Timestamp)> {
        let probe: Probe = serde_json::from_slice(record).ok()?;
        let time = match self.field {
            TimeField::Timestamp => probe.timestamp,
            TimeField::EndedAt => probe.ended_at,
        }?;
        Some((probe.id?.into_owned(), time.parse().ok()?))
    }

    /// Whether the record (one JSON value) is new and must be stored.
    pub fn offer(&mut self, record: &[u8]) -> bool {
        // Without a usable id and time a record cannot be placed: keep it, faithfully.
        let Some((id, time)) = self.place(record) else {
            self.kept += 1;
            return true;
        };
        if let Some(previous) = &self.previous {
            let already = time < previous.last_timestamp
                || (time == previous.last_timestamp && previous.ids_at_last.contains(&id));
            if already {
                self.dropped += 1;
                return false;
            }
        }
        match &mut self.next {
            Some(next) if time < next.last_timestamp => {}
            Some(next) if time == next.last_timestamp => {
                if !next.ids_at_last.insert(id) {
                    // The same record twice in one collection.
                    self.dropped += 1;
                    return false;
                }
            }
            _ => {
                self.next = Some(HistoryState {
                    last_timestamp: time,
                    ids_at_last: BTreeSet::from([id]),
                })
            }
        }
        self.kept += 1;
        true
    }

    /// The position after everything offered: where the following collection starts.
    pub fn state(&self) -> Option<&HistoryState> {
        self.next.as_ref()
    }

    pub fn kept(&self) -> u64 {
        self.kept
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Merges newly collected records into the stored history: returns the new segment (records
/// not stored before, in the order given) and the new position.
pub fn merge<'a>(
    field: TimeField,
    previous: Option<&HistoryState>,
    collected: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<&'a [u8]>, Option<HistoryState>) {
    let mut filter = HistoryFilter::new(field, previous.cloned());
    let segment = collected
        .into_iter()
        .filter(|record| filter.offer(record))
        .collect();
    (segment, filter.next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, ended: &str) -> Vec<u8> {
        format!(r#"{{"id":"{id}","endedAt":"{ended}","state":"success","timestamp":"1999-01-01T00:00:00Z"}}"#)
            .into_bytes()
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn policy_results_are_placed_by_ended_at_not_by_another_time_field() {
        let previous = HistoryState {
            last_timestamp: at("2026-01-02T00:00:00Z"),
            ids_at_last: BTreeSet::from(["b".to_owned()]),
        };
        let batch = [
            result("a", "2026-01-01T00:00:00Z"),
            result("b", "2026-01-02T00:00:00Z"),
            result("c", "2026-01-02T00:00:00Z"),
            result("d", "2026-01-03T00:00:00Z"),
        ];
        let (segment, state) = merge(
            TimeField::EndedAt,
            Some(&previous),
            batch.iter().map(Vec::as_slice),
        );
        assert_eq!(segment.len(), 2, "c and d are new");
        assert_eq!(state.unwrap().last_timestamp, at("2026-01-03T00:00:00Z"));
    }

    #[test]
    fn coverage_continues_while_windows_meet_and_restarts_after_a_gap_saying_so() {
        let first = next_coverage(
            None,
            (at("2026-01-01T00:00:00Z"), at("2026-04-01T00:00:00Z")),
            None,
        );
        assert_eq!(first.complete_since, at("2026-01-01T00:00:00Z"));
        assert_eq!(first.restarted, None);
        let next = next_coverage(
            Some(&first),
            (at("2026-03-31T00:00:00Z"), at("2026-04-02T00:00:00Z")),
            None,
        );
        assert_eq!(next.complete_since, at("2026-01-01T00:00:00Z"));
        assert_eq!(next.complete_until, at("2026-04-02T00:00:00Z"));
        // Collected again only after the API dropped what was in between.
        let gap = next_coverage(
            Some(&next),
            (at("2026-08-01T00:00:00Z"), at("2026-10-30T00:00:00Z")),
            None,
        );
        assert_eq!(gap.complete_since, at("2026-08-01T00:00:00Z"));
        let why = gap.restarted.unwrap();
        assert!(why.contains("complete until 2026-04-02"), "{why}");
    }
}
