//! `JC-E8-POLICY-COMPLIANCE-HELD`: each policy held on each device over the audit window, from
//! the policy results history (not only the latest status).
//!
//! A day is a UTC calendar day. A compliant day is one whose state is success, where the state
//! of a day is the latest result that ended on or before that day's end: the latest result of
//! the day itself, else the previous day's state carried over (the agent does not report every
//! day). Days before the pair's first stored result are not counted; failed, pending and any
//! other state are not compliant. The window is the `policyHistoryDays` days ending with the
//! evaluation day; only the days over which the stored history is complete are evaluated.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use super::catalog::Finding;
use super::context::{Ctx, device_name, policy_name};
use super::json::id_of;
use super::kinds::{DEVICES, POLICY_RESULTS_HISTORY};
use super::policy_days::DayState;

const DAY_SECS: i64 = 86_400;

/// How a pair fared over the days evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Held {
    pub compliant: u32,
    pub counted: u32,
    /// The first and last day counted as not compliant.
    pub not_compliant: Option<(i64, i64)>,
}

/// The pair's compliance over `range` (days, inclusive) from its day states (in day order):
/// `None` when no day of the range is counted (every result came after it).
pub(super) fn held(days: &[DayState], range: RangeInclusive<i64>) -> Option<Held> {
    let mut state: Option<bool> = None;
    let mut next = 0;
    let mut out = Held {
        compliant: 0,
        counted: 0,
        not_compliant: None,
    };
    for day in range {
        while let Some(d) = days.get(next).filter(|d| d.day <= day) {
            state = Some(d.compliant);
            next += 1;
        }
        let Some(compliant) = state else {
            continue;
        };
        out.counted += 1;
        if compliant {
            out.compliant += 1;
        } else {
            let first = out.not_compliant.map_or(day, |(first, _)| first);
            out.not_compliant = Some((first, day));
        }
    }
    (out.counted > 0).then_some(out)
}

fn day_of(t: jiff::Timestamp) -> i64 {
    t.as_second().div_euclid(DAY_SECS)
}

fn date(day: i64) -> String {
    jiff::Timestamp::from_second(day * DAY_SECS)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| day.to_string())
}

/// The days evaluated: the window's days over which the stored history is complete. A day
/// counts from its start, so the day the coverage starts in counts only when it starts at
/// midnight.
fn evaluated_days(
    window_days: u32,
    now: jiff::Timestamp,
    since: jiff::Timestamp,
    until: jiff::Timestamp,
) -> RangeInclusive<i64> {
    let today = day_of(now);
    let window_start = today - i64::from(window_days) + 1;
    let covered_from =
        if since.as_second().rem_euclid(DAY_SECS) == 0 && since.subsec_nanosecond() == 0 {
            day_of(since)
        } else {
            day_of(since) + 1
        };
    window_start.max(covered_from)..=today.min(day_of(until))
}

pub(super) fn e8_policy_held(ctx: &Ctx) -> Result<Finding, String> {
    let window_days = ctx.settings.policy_history_days_or_default();
    let min_percent = ctx.settings.policy_compliance_min_percent_or_default();
    let coverage = ctx
        .ev
        .meta
        .history_coverage
        .get(POLICY_RESULTS_HISTORY)
        .ok_or_else(|| {
            format!(
                "the snapshot does not record over which period the `{POLICY_RESULTS_HISTORY}` history is complete; collect again with this version"
            )
        })?;
    let range = evaluated_days(
        window_days,
        ctx.now,
        coverage.complete_since,
        coverage.complete_until,
    );
    if range.is_empty() {
        return Err(format!(
            "the stored policy results history (complete from {} to {}) covers no whole day of the {window_days}-day window ending {}; collect again, or wait a day",
            coverage.complete_since,
            coverage.complete_until,
            date(day_of(ctx.now)),
        ));
    }
    let history = ctx.policy_days()?;
    // A result that names no policy or no device may be any pair's failure.
    if history.unplaced() > 0 {
        return Err(format!(
            "{} of the {} policy results name no policy (policyID) or no device (systemID), so they cannot be attributed to a (policy, device) pair",
            history.unplaced(),
            history.results()
        ));
    }
    let (devices, mut f) = ctx.device_scope()?;
    let in_scope: BTreeSet<String> = devices.iter().map(|d| id_of(d)).collect();
    let all_devices: BTreeSet<String> = ctx.records(DEVICES)?.iter().map(id_of).collect();
    let names: std::collections::BTreeMap<String, String> =
        devices.iter().map(|d| (id_of(d), device_name(d))).collect();
    let policies = ctx.policies()?;
    let evaluated = (range.end() - range.start() + 1) as u32;
    if evaluated < window_days {
        f.notes.push(format!(
            "The stored policy results history is complete only since {}: {evaluated} of the {window_days} days of the window ({} to {}) are evaluated. The history grows with every collection; or lower policyHistoryDays.",
            coverage.complete_since,
            date(*range.start()),
            date(*range.end()),
        ));
    }
    if let Some(restarted) = &coverage.restarted {
        f.notes.push(format!("Coverage restarted: {restarted}."));
    }
    let (mut orphaned, mut silent) = (0u64, 0u64);
    let mut with_history: BTreeSet<(&str, &str)> = BTreeSet::new();
    for pair in history.pairs() {
        with_history.insert((pair.policy_id, pair.system_id));
        if !all_devices.contains(pair.system_id) {
            orphaned += 1;
            continue;
        }
        if !in_scope.contains(pair.system_id) {
            continue;
        }
        let policy = policies
            .get(pair.policy_id)
            .map_or_else(|| pair.policy_id.to_owned(), |p| policy_name(p));
        let device = names.get(pair.system_id).cloned().unwrap_or_default();
        let id = format!("{}/{}", pair.policy_id, pair.system_id);
        let name = format!("{policy} on {device}");
        if pair.unreadable > 0 {
            f.evaluated += 1;
            f.fail(
                id,
                name,
                format!(
                    "{} results have no readable endedAt: they cannot be placed on a day, so the history cannot be judged",
                    pair.unreadable
                ),
            );
            continue;
        }
        let Some(held) = held(pair.days, range.clone()) else {
            silent += 1;
            continue;
        };
        f.evaluated += 1;
        if u64::from(held.compliant) * 100 < u64::from(min_percent) * u64::from(held.counted) {
            let (first, last) = held.not_compliant.unwrap_or_default();
            f.fail(
                id,
                name,
                format!(
                    "compliant on {} of {} days ({:.1}%, below {min_percent}%); not compliant on {} days between {} and {}",
                    held.compliant,
                    held.counted,
                    f64::from(held.compliant) * 100.0 / f64::from(held.counted),
                    held.counted - held.compliant,
                    date(first),
                    date(last),
                ),
            );
        }
    }
    // A binding the latest statuses show but the history has no result of: its compliance
    // over the window is unknown, which is said, never passed over in silence.
    for status in ctx.policy_results()?.iter() {
        if !in_scope.contains(status.system_id)
            || with_history.contains(&(status.policy_id, status.system_id))
        {
            continue;
        }
        let policy = policies
            .get(status.policy_id)
            .map_or_else(|| status.policy_id.to_owned(), |p| policy_name(p));
        let device = names.get(status.system_id).cloned().unwrap_or_default();
        f.skip(
            format!("{}/{}", status.policy_id, status.system_id),
            format!("{policy} on {device}"),
            format!(
                "bound (latest status {}) but without any result in the stored policy results history, so its compliance over the window is not known",
                status.state
            ),
        );
    }
    if orphaned > 0 {
        f.notes.push(format!(
            "{orphaned} (policy, device) pairs of devices that no longer exist were ignored (joined against the live device list)."
        ));
    }
    if silent > 0 {
        f.notes.push(format!(
            "{silent} (policy, device) pairs have no result on or before the window's last day and were not evaluated."
        ));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(days: &[(i64, bool)]) -> Vec<DayState> {
        days.iter()
            .map(|&(day, compliant)| DayState { day, compliant })
            .collect()
    }

    #[test]
    fn a_day_without_a_result_carries_the_previous_state_and_days_before_the_first_are_not_counted()
    {
        // First result on day 3 (failed), success from day 5.
        let days = states(&[(3, false), (5, true), (9, true)]);
        let held = held(&days, 1..=10).unwrap();
        assert_eq!(held.counted, 8, "days 3 to 10");
        assert_eq!(held.compliant, 6, "days 5 to 10");
        assert_eq!(held.not_compliant, Some((3, 4)));
    }

    #[test]
    fn results_before_the_window_set_its_first_state() {
        // A history longer than the window: the failure on day 2 carries into day 5.
        let days = states(&[(2, false), (7, true)]);
        let held = held(&days, 5..=9).unwrap();
        assert_eq!((held.compliant, held.counted), (3, 5));
        assert_eq!(held.not_compliant, Some((5, 6)));
        // Results only after the window: nothing counted.
        assert_eq!(super::held(&states(&[(20, true)]), 5..=9), None);
    }

    #[test]
    fn the_days_evaluated_are_the_window_cut_to_the_coverage() {
        let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
        let now = at("2026-06-30T10:00:00Z");
        let today = day_of(now);
        // Covered for longer than the window: the whole window.
        let range = evaluated_days(90, now, at("2026-01-01T00:00:00Z"), now);
        assert_eq!(range, today - 89..=today);
        // Coverage from mid-day: from the next day on.
        let range = evaluated_days(90, now, at("2026-06-20T08:00:00Z"), now);
        assert_eq!(range, day_of(at("2026-06-21T00:00:00Z"))..=today);
        // Coverage from midnight counts that day.
        let range = evaluated_days(90, now, at("2026-06-20T00:00:00Z"), now);
        assert_eq!(*range.start(), day_of(at("2026-06-20T00:00:00Z")));
        // Coverage of today only, from mid-day: nothing whole.
        assert!(evaluated_days(90, now, at("2026-06-30T01:00:00Z"), now).is_empty());
    }
}
