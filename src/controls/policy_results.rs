//! The latest policy results, as the controls read them: one row per result of a policy on a
//! device, reduced while reading to three table indexes (the policy, the device and the result
//! state), so memory follows the number of devices and policies, at 12 bytes a result.

use std::collections::HashMap;

use super::context::{status_state, system_of};
use super::json::str_at;
use super::record::Record;

/// The policy results of a snapshot, in (policy id, device id) order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyResults {
    policies: Vec<Box<str>>,
    systems: Vec<Box<str>>,
    states: Vec<Box<str>>,
    rows: Vec<Row>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    policy: u32,
    system: u32,
    state: u32,
}

/// One policy result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyResult<'a> {
    pub policy_id: &'a str,
    /// The device (`systemID`); empty when the result names none.
    pub system_id: &'a str,
    /// The result's `state`, else `success`/`failed` from its `success` flag, else `unknown`.
    pub state: &'a str,
}

impl PolicyResults {
    pub fn iter(&self) -> impl Iterator<Item = PolicyResult<'_>> {
        self.rows.iter().map(|row| PolicyResult {
            policy_id: &self.policies[row.policy as usize],
            system_id: &self.systems[row.system as usize],
            state: &self.states[row.state as usize],
        })
    }
}

/// Builds [`PolicyResults`] one result at a time.
#[derive(Debug, Default)]
pub struct PolicyResultsBuilder {
    policies: Interner,
    systems: Interner,
    states: Interner,
    rows: Vec<Row>,
}

impl PolicyResultsBuilder {
    /// One line of the `policy_statuses` kind: the policy it was listed under (`parent`, empty
    /// when the line has none: then the result's own `policyID`) and the result.
    pub fn add(&mut self, parent: &str, status: &Record) {
        let policy = if parent.is_empty() {
            str_at(status, "policyID").unwrap_or("")
        } else {
            parent
        };
        self.rows.push(Row {
            policy: self.policies.index(policy),
            system: self.systems.index(system_of(status)),
            state: self.states.index(status_state(status)),
        });
    }

    pub fn finish(self) -> PolicyResults {
        let mut results = PolicyResults {
            policies: self.policies.into_table(),
            systems: self.systems.into_table(),
            states: self.states.into_table(),
            rows: self.rows,
        };
        // Stable: results of the same policy and device keep the order they were listed in.
        let PolicyResults {
            policies,
            systems,
            rows,
            ..
        } = &mut results;
        rows.sort_by(|a, b| {
            (&policies[a.policy as usize], &systems[a.system as usize])
                .cmp(&(&policies[b.policy as usize], &systems[b.system as usize]))
        });
        results
    }
}

/// Distinct strings, each stored once, by first appearance.
#[derive(Debug, Default)]
struct Interner {
    index: HashMap<Box<str>, u32>,
    table: Vec<Box<str>>,
}

impl Interner {
    fn index(&mut self, text: &str) -> u32 {
        if let Some(index) = self.index.get(text) {
            return *index;
        }
        // More distinct values than u32 counts would need more records than memory holds.
        let index = u32::try_from(self.table.len()).unwrap_or(u32::MAX);
        self.table.push(text.into());
        self.index.insert(text.into(), index);
        index
    }

    fn into_table(self) -> Vec<Box<str>> {
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: serde_json::Value) -> Record {
        value.into()
    }

    #[test]
    fn results_read_the_policy_device_and_state_in_policy_then_device_order() {
        let mut builder = PolicyResultsBuilder::default();
        builder.add(
            "p2",
            &record(serde_json::json!({"systemID": "d1", "state": "failed"})),
        );
        builder.add(
            "p1",
            &record(serde_json::json!({"systemID": "d2", "success": true})),
        );
        builder.add(
            "",
            &record(serde_json::json!({"policyID": "p1", "system_id": "d1", "success": false})),
        );
        builder.add(
            "p1",
            &record(serde_json::json!({"systemID": "d2", "state": 3})),
        );
        builder.add("p0", &record(serde_json::json!({})));
        let results = builder.finish();
        let rows: Vec<(&str, &str, &str)> = results
            .iter()
            .map(|r| (r.policy_id, r.system_id, r.state))
            .collect();
        assert_eq!(
            rows,
            [
                ("p0", "", "unknown"),
                ("p1", "d1", "failed"),
                ("p1", "d2", "success"),
                // A state that is not text falls back to the success flag, here absent.
                ("p1", "d2", "unknown"),
                ("p2", "d1", "failed"),
            ]
        );
        assert_eq!(results.iter().count(), 5);
        assert_eq!(results.systems.len(), 3, "each device id is stored once");
    }
}
