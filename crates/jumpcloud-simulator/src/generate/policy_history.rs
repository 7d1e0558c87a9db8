//! The org-wide policy results history (`GET /api/v2/policyresults`), generated lazily.
//!
//! Every (policy, device) binding of `policystatuses` has a history: the agent applies the policy
//! once a week (on the binding's own weekday), on every day its result differs from the day
//! before, and every day while it fails (it retries). Most bindings always succeed; a few had a
//! failure run of some days in the past; the bindings whose latest status is `failed` have been
//! failing for a stretch up to it, `pending` ones are pending from it on. The result on the day of
//! the latest status is that status (its state and `endedAt`), so the newest result of a binding
//! agrees with `policystatuses` until the clock is advanced (the statuses do not move with the
//! days; the history does: the devices keep applying their policies).
//!
//! Nothing is stored per result: a result is a function of its binding and its day, and the
//! listing is served from per-day counts, so memory follows the bindings (and the days advanced),
//! not the results. Results are ordered by (`endedAt`, `id`): the day, then the binding's time
//! of day; ids increase in that order.

use std::collections::HashMap;
use std::ops::Range;

use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::PolicyData;
use super::fmt_ts;
use super::systems::SystemPlan;

/// Its own random stream: drawing from the org's shared one would change every later kind.
const STREAM: u64 = 0x706f_6c69_6379_6869;

/// How far back results are served. JumpCloud does not document how long it keeps policy
/// results; the simulator keeps 90 days, like Directory Insights.
pub(crate) const RETENTION_DAYS: i64 = 90;

const DAY_SECS: i64 = 86_400;

/// Marks the ids of generated history results (the middle of an ObjectId).
const ID_MARK: u32 = 0x9e5f;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RunState {
    Success,
    Failed,
    Pending,
}

impl RunState {
    fn name(self) -> &'static str {
        match self {
            RunState::Success => "success",
            RunState::Failed => "failed",
            RunState::Pending => "pending",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "success" => RunState::Success,
            "failed" => RunState::Failed,
            _ => RunState::Pending,
        }
    }
}

struct Binding {
    policy_id: Box<str>,
    system_id: Box<str>,
    user: Option<Box<str>>,
    /// Milliseconds into the day at which the binding's results end (its latest status's time).
    offset: u32,
    /// First day with results (days since the Unix epoch).
    first: i64,
    /// Day of the latest status at generation; later days follow it (state `latest`).
    latest_day: i64,
    latest: RunState,
    /// Days (before `latest_day`) on which the policy failed.
    failed: Option<Range<i64>>,
    /// Weekday of the routine application (0..7).
    phase: i64,
    /// Whether the device was in contact in the week before generation, so that it keeps
    /// applying the policy on the days advanced after it (an offline device stays silent).
    continues: bool,
}

impl Binding {
    fn state(&self, day: i64) -> RunState {
        if day >= self.latest_day {
            self.latest
        } else if self.failed.as_ref().is_some_and(|run| run.contains(&day)) {
            RunState::Failed
        } else {
            RunState::Success
        }
    }

    /// The binding's result on `day` when the agent sent one: up to its latest status until
    /// the generation day `today`, then on the `advanced` days after it if it continues. Days
    /// advanced only add results after `today`, never before: a history already read stays
    /// as it was.
    fn result_on(&self, day: i64, today: i64, advanced: i64) -> Option<RunState> {
        let ran = if day <= today {
            (self.first..=self.latest_day).contains(&day)
        } else {
            self.continues && day <= today + advanced
        };
        if !ran {
            return None;
        }
        let state = self.state(day);
        let sent = day == self.latest_day
            || day == self.first
            || (day - self.phase).rem_euclid(7) == 0
            || state == RunState::Failed
            || state != self.state(day - 1);
        sent.then_some(state)
    }
}

pub(crate) struct PolicyHistory {
    bindings: Vec<Binding>,
    /// Binding indexes by (time of day, index): the order of one day's results.
    order: Vec<u32>,
    /// First day counted (generation day minus the retention and a day).
    first_day: i64,
    /// The generation day.
    today: i64,
    advanced: i64,
    /// Results per day from `first_day`, and their running sum before each day.
    day_counts: Vec<u64>,
    day_starts: Vec<u64>,
}

fn day_of(t: Timestamp) -> i64 {
    t.as_second().div_euclid(DAY_SECS)
}

impl PolicyHistory {
    /// The history of every binding in `policies`' statuses of a device in `systems`.
    pub(super) fn build(
        seed: u64,
        policies: &[PolicyData],
        systems: &[SystemPlan],
        now: Timestamp,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ STREAM);
        let created: HashMap<&str, Timestamp> =
            systems.iter().map(|s| (s.id.as_str(), s.created)).collect();
        let today = day_of(now);
        let first_day = today - RETENTION_DAYS - 1;
        let mut bindings = Vec::new();
        for status in policies.iter().flat_map(|p| p.statuses.iter()) {
            let Ok(status) = serde_json::from_str::<Value>(status) else {
                continue;
            };
            let text = |field: &str| status[field].as_str().unwrap_or_default().to_owned();
            // Results of deleted devices (kept under their policy) are older than the history.
            let Some(device_created) = created.get(text("systemID").as_str()) else {
                continue;
            };
            let Ok(ended) = text("endedAt").parse::<Timestamp>() else {
                continue;
            };
            let latest_day = day_of(ended);
            let latest = RunState::parse(&text("state"));
            let failed = match latest {
                RunState::Failed => {
                    let length = rng.random_range(1..=30);
                    Some(latest_day - length..latest_day)
                }
                _ if rng.random_bool(0.1) => {
                    let length = rng.random_range(2..=12);
                    let start = latest_day - rng.random_range(length + 1..=RETENTION_DAYS);
                    Some(start..start + length)
                }
                _ => None,
            };
            bindings.push(Binding {
                policy_id: text("policyID").into(),
                system_id: text("systemID").into(),
                user: status["userObjectId"].as_str().map(Into::into),
                offset: ended.as_millisecond().rem_euclid(DAY_SECS * 1000) as u32,
                first: day_of(*device_created).max(first_day),
                latest_day,
                latest,
                failed,
                phase: rng.random_range(0..7),
                continues: latest_day >= today - 7,
            });
        }
        let mut order: Vec<u32> = (0..bindings.len() as u32).collect();
        order.sort_by_key(|&b| (bindings[b as usize].offset, b));
        let mut history = PolicyHistory {
            bindings,
            order,
            first_day,
            today,
            advanced: 0,
            day_counts: Vec::new(),
            day_starts: Vec::new(),
        };
        history.count_days();
        history
    }

    /// The clock moved to day `days` after generation: the devices keep applying policies.
    pub(crate) fn advance_to(&mut self, days: u64) {
        self.advanced = days as i64;
        self.count_days();
    }

    fn last_day(&self) -> i64 {
        self.today + self.advanced
    }

    fn result_on(&self, binding: &Binding, day: i64) -> Option<RunState> {
        binding.result_on(day, self.today, self.advanced)
    }

    fn count_days(&mut self) {
        let days = (self.last_day() - self.first_day + 1).max(0) as usize;
        self.day_counts = (0..days as i64)
            .map(|d| {
                let day = self.first_day + d;
                self.bindings
                    .iter()
                    .filter(|b| self.result_on(b, day).is_some())
                    .count() as u64
            })
            .collect();
        let mut sum = 0;
        self.day_starts = self
            .day_counts
            .iter()
            .map(|count| {
                let start = sum;
                sum += count;
                start
            })
            .collect();
    }

    fn total(&self) -> u64 {
        self.day_starts
            .last()
            .zip(self.day_counts.last())
            .map_or(0, |(start, count)| start + count)
    }

    /// How many results end before `t` (or at `t` too, with `inclusive`): the position of `t`
    /// in the (`endedAt`, `id`) order.
    pub(crate) fn position(&self, t: Timestamp, inclusive: bool) -> u64 {
        let day = day_of(t);
        if day < self.first_day {
            return 0;
        }
        let index = (day - self.first_day) as usize;
        if index >= self.day_counts.len() {
            return self.total();
        }
        let millis = t.as_millisecond() - day * DAY_SECS * 1000;
        let before = self
            .order
            .iter()
            .map(|&b| &self.bindings[b as usize])
            .filter(|b| self.result_on(b, day).is_some())
            .take_while(|b| {
                let ended = i64::from(b.offset);
                ended < millis || (inclusive && ended == millis)
            })
            .count() as u64;
        self.day_starts[index] + before
    }

    /// The results at `positions` (ascending), serialised.
    pub(crate) fn results(&self, positions: Range<u64>) -> Vec<String> {
        let mut out = Vec::with_capacity((positions.end - positions.start) as usize);
        let Some(mut index) = self
            .day_starts
            .iter()
            .rposition(|&start| start <= positions.start)
        else {
            return out;
        };
        let mut position = self.day_starts[index];
        while position < positions.end && index < self.day_counts.len() {
            let day = self.first_day + index as i64;
            for &b in &self.order {
                let binding = &self.bindings[b as usize];
                let Some(state) = self.result_on(binding, day) else {
                    continue;
                };
                if position >= positions.start && position < positions.end {
                    out.push(record(binding, b, day, state));
                }
                position += 1;
            }
            index += 1;
        }
        out
    }
}

fn record(binding: &Binding, index: u32, day: i64, state: RunState) -> String {
    let ended_ms = day * DAY_SECS * 1000 + i64::from(binding.offset);
    let ended_secs = ended_ms.div_euclid(1000);
    let ended = Timestamp::from_millisecond(ended_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let started = Timestamp::from_millisecond(ended_ms - 4000).unwrap_or(Timestamp::UNIX_EPOCH);
    let id = format!(
        "{:08x}{ID_MARK:04x}{:012x}",
        ended_secs as u32,
        ((day as u64 & 0xff_ffff) << 24) | u64::from(index)
    );
    let (exit, detail, stderr) = match state {
        RunState::Success => (0, "", ""),
        RunState::Failed => (
            1,
            "policy could not be applied",
            "error: configuration profile rejected by the device",
        ),
        RunState::Pending => (0, "waiting for the device to check in", ""),
    };
    // `userObjectId` (a documented string) is left out for a device-wide result, not null.
    let user = binding
        .user
        .as_ref()
        .map(|u| format!(",\"userObjectId\":\"{u}\""))
        .unwrap_or_default();
    format!(
        r#"{{"detail":"{detail}","endedAt":"{}","exitStatus":{exit},"id":"{id}","policyID":"{}","startedAt":"{}","state":"{}","stdErr":"{stderr}","stdOut":"","success":{},"systemID":"{}"{user}}}"#,
        fmt_ts(ended),
        binding.policy_id,
        fmt_ts(started),
        state.name(),
        state == RunState::Success,
        binding.system_id,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;
    use crate::OrgSize;
    use crate::generate::generate_org;

    fn now() -> Timestamp {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    fn parsed(history: &PolicyHistory) -> Vec<Value> {
        history
            .results(0..history.total())
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect()
    }

    #[test]
    fn the_history_is_ordered_unique_and_its_newest_results_are_the_statuses() {
        let org = generate_org(42, &OrgSize::small(), now());
        let results = parsed(&org.policy_history);
        assert!(results.len() > 1_000, "{}", results.len());
        let keys: Vec<(String, String)> = results
            .iter()
            .map(|r| {
                let key = |f: &str| r[f].as_str().unwrap().to_owned();
                (key("endedAt"), key("id"))
            })
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "not in (endedAt, id) order"
        );
        let ids: HashSet<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), results.len());
        assert!(
            results
                .iter()
                .all(|r| r.get("userObjectId") != Some(&Value::Null))
        );
        // The newest result of each binding is its policy status.
        let mut newest: BTreeMap<(String, String), &Value> = BTreeMap::new();
        for r in &results {
            let key = (r["policyID"].to_string(), r["systemID"].to_string());
            newest.insert(key, r);
        }
        let mut agreed = 0;
        for status in org.policies.iter().flat_map(|p| p.statuses.iter()) {
            let status: Value = serde_json::from_str(status).unwrap();
            let key = (
                status["policyID"].to_string(),
                status["systemID"].to_string(),
            );
            if let Some(latest) = newest.get(&key) {
                assert_eq!(latest["state"], status["state"], "{key:?}");
                assert_eq!(latest["endedAt"], status["endedAt"], "{key:?}");
                agreed += 1;
            }
        }
        assert!(agreed > 100, "{agreed}");
    }

    #[test]
    fn positions_count_the_results_before_a_time() {
        let org = generate_org(7, &OrgSize::small(), now());
        let history = &org.policy_history;
        let results = parsed(history);
        for probe in [
            &results[0],
            &results[results.len() / 2],
            &results[results.len() - 1],
        ] {
            let at: Timestamp = probe["endedAt"].as_str().unwrap().parse().unwrap();
            let before = results
                .iter()
                .filter(|r| r["endedAt"].as_str().unwrap().parse::<Timestamp>().unwrap() < at)
                .count() as u64;
            let through = results
                .iter()
                .filter(|r| r["endedAt"].as_str().unwrap().parse::<Timestamp>().unwrap() <= at)
                .count() as u64;
            assert_eq!(history.position(at, false), before);
            assert_eq!(history.position(at, true), through);
        }
        let page = history.results(10..20);
        assert_eq!(page, history.results(0..history.total())[10..20]);
    }

    #[test]
    fn days_advanced_bring_new_results_and_most_bindings_hold_their_policy() {
        let mut org = generate_org(42, &OrgSize::small(), now());
        let before = org.policy_history.total();
        let at_generation = org.policy_history.results(0..before);
        org.policy_history.advance_to(3);
        let after = org.policy_history.total();
        assert!(after > before);
        // New results come after the ones already there, which do not change.
        assert_eq!(org.policy_history.results(0..before), at_generation);
        assert_eq!(org.policy_history.position(now(), false), before);
        // A realistic mix: per binding, the share of results failed over the window.
        let mut failed: BTreeMap<(String, String), (u32, u32)> = BTreeMap::new();
        for r in parsed(&org.policy_history) {
            let entry = failed
                .entry((r["policyID"].to_string(), r["systemID"].to_string()))
                .or_default();
            entry.0 += u32::from(r["state"] == "failed");
            entry.1 += 1;
        }
        let failing = failed.values().filter(|(f, _)| *f > 0).count();
        assert!(
            failing > 0 && failing * 4 < failed.len(),
            "{failing} of {}",
            failed.len()
        );
    }
}

/// Not an assertion on size or speed: prints the figures for the README.
#[cfg(test)]
#[test]
fn history_size_of_the_presets() {
    use crate::OrgSize;
    for (name, size) in [
        ("S", OrgSize::small()),
        ("M", OrgSize::medium()),
        ("L", OrgSize::large()),
    ] {
        let org = super::generate_org(42, &size, "2026-06-01T12:00:00Z".parse().unwrap());
        let history = &org.policy_history;
        let memory = history.bindings.len() * (std::mem::size_of::<Binding>() + 24 * 2 + 24)
            + history.order.len() * 4
            + history.day_counts.len() * 16;
        println!(
            "org {name}: {} bindings, {} results over 90 days, ~{} KB held",
            history.bindings.len(),
            history.total(),
            memory / 1000
        );
    }
}
