//! The policy results history, as the control on it reads it: for each (policy, device) pair,
//! the state of the latest result of each day that has one. Reduced while reading, so memory
//! follows pairs times days with a result, not results.

use std::collections::{BTreeMap, HashMap};

use super::context::{status_state, system_of};
use super::json::str_at;
use super::record::Record;

const DAY_MS: i64 = 86_400_000;

/// A day (days since the Unix epoch, UTC) and whether its latest result succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayState {
    pub day: i64,
    pub compliant: bool,
}

/// The history of one policy on one device.
#[derive(Debug, Clone, PartialEq)]
pub struct PairDays<'a> {
    pub policy_id: &'a str,
    pub system_id: &'a str,
    /// In day order.
    pub days: &'a [DayState],
    /// Results of the pair without a readable `endedAt`: they cannot be placed on a day.
    pub unreadable: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct Pair {
    policy: Box<str>,
    system: Box<str>,
    days: Vec<DayState>,
    unreadable: u32,
}

/// The day states of every pair, in (policy id, device id) order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyDays {
    pairs: Vec<Pair>,
    /// Results naming no policy or no device.
    unplaced: u64,
    results: u64,
}

impl PolicyDays {
    pub fn pairs(&self) -> impl Iterator<Item = PairDays<'_>> {
        self.pairs.iter().map(|pair| PairDays {
            policy_id: &pair.policy,
            system_id: &pair.system,
            days: &pair.days,
            unreadable: pair.unreadable,
        })
    }

    /// Results that name no policy or no device.
    pub fn unplaced(&self) -> u64 {
        self.unplaced
    }

    /// Results read.
    pub fn results(&self) -> u64 {
        self.results
    }
}

/// The latest result of a day so far: its end (ms) and whether it succeeded.
#[derive(Debug, Clone, Copy)]
struct Latest {
    ended_ms: i64,
    compliant: bool,
}

#[derive(Debug, Default)]
struct PairBuilder {
    days: BTreeMap<i64, Latest>,
    unreadable: u32,
}

/// Builds [`PolicyDays`] one result at a time.
#[derive(Debug, Default)]
pub struct PolicyDaysBuilder {
    pairs: HashMap<(Box<str>, Box<str>), PairBuilder>,
    unplaced: u64,
    results: u64,
}

impl PolicyDaysBuilder {
    /// One line of the `policy_results_history` kind (a raw PolicyResult).
    pub fn add(&mut self, result: &Record) {
        self.results += 1;
        let policy = str_at(result, "policyID").unwrap_or("");
        let system = system_of(result);
        if policy.is_empty() || system.is_empty() {
            self.unplaced += 1;
            return;
        }
        let pair = self
            .pairs
            .entry((policy.into(), system.into()))
            .or_default();
        let ended = str_at(result, "endedAt").and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let Some(ended) = ended else {
            pair.unreadable += 1;
            return;
        };
        // Only success is compliant: failed, pending and any unknown state are not.
        let latest = Latest {
            ended_ms: ended.as_millisecond(),
            compliant: status_state(result) == "success",
        };
        let day = latest.ended_ms.div_euclid(DAY_MS);
        pair.days
            .entry(day)
            .and_modify(|kept| {
                // Of two results ending at the same instant, the non-compliant one counts.
                let later = latest.ended_ms > kept.ended_ms
                    || (latest.ended_ms == kept.ended_ms && !latest.compliant);
                if later {
                    *kept = latest;
                }
            })
            .or_insert(latest);
    }

    pub fn finish(self) -> PolicyDays {
        let mut pairs: Vec<Pair> = self
            .pairs
            .into_iter()
            .map(|((policy, system), built)| Pair {
                policy,
                system,
                days: built
                    .days
                    .into_iter()
                    .map(|(day, latest)| DayState {
                        day,
                        compliant: latest.compliant,
                    })
                    .collect(),
                unreadable: built.unreadable,
            })
            .collect();
        pairs.sort_by(|a, b| (&a.policy, &a.system).cmp(&(&b.policy, &b.system)));
        PolicyDays {
            pairs,
            unplaced: self.unplaced,
            results: self.results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(builder: &mut PolicyDaysBuilder, value: serde_json::Value) {
        builder.add(&value.into());
    }

    #[test]
    fn each_day_keeps_its_latest_result_and_unplaceable_results_are_counted() {
        let mut builder = PolicyDaysBuilder::default();
        let r = |ended: &str, state: &str| serde_json::json!({"policyID": "p1", "systemID": "d1", "endedAt": ended, "state": state});
        add(&mut builder, r("2026-01-01T10:00:00Z", "failed"));
        add(&mut builder, r("2026-01-01T12:00:00Z", "success"));
        add(&mut builder, r("2026-01-02T12:00:00Z", "success"));
        add(&mut builder, r("2026-01-02T09:00:00Z", "failed"));
        add(&mut builder, r("2026-01-03T09:00:00Z", "success"));
        add(&mut builder, r("2026-01-03T09:00:00Z", "pending"));
        add(&mut builder, r("not a time", "success"));
        add(
            &mut builder,
            serde_json::json!({"systemID": "d1", "state": "success"}),
        );
        let days = builder.finish();
        let pair = days.pairs().next().unwrap();
        let day = |text: &str| {
            text.parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond()
                .div_euclid(DAY_MS)
        };
        assert_eq!(
            pair.days,
            [
                DayState {
                    day: day("2026-01-01T00:00:00Z"),
                    compliant: true
                },
                DayState {
                    day: day("2026-01-02T00:00:00Z"),
                    compliant: true
                },
                // Same instant: the one that is not success counts.
                DayState {
                    day: day("2026-01-03T00:00:00Z"),
                    compliant: false
                },
            ]
        );
        assert_eq!(pair.unreadable, 1);
        assert_eq!(days.unplaced(), 1);
        assert_eq!(days.results(), 8);
    }
}
