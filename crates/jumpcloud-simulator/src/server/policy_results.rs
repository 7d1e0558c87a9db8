//! `GET /api/v2/policyresults`: the org's policy results history, a v2 list (bare array,
//! `x-total-count`, `limit` up to 100, `skip`) with the documented v2 `filter` (`field:op:value`,
//! repeatable, all must hold) on `endedAt` (`eq ne gt ge lt le`) and `sort` by `endedAt` and
//! `id` (comma-separated, `-` descending). Results are served over the last
//! [`POLICY_RESULTS_RETENTION_DAYS`] days of the day clock.

use std::ops::Range;

use jiff::SignedDuration;

use super::*;
use crate::generate::{POLICY_RESULTS_RETENTION_DAYS, PolicyHistory};

const MAX_LIMIT: usize = 100;

fn bad(message: &str) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, &format!("Bad Request: {message}"))
}

/// Intersects two sets of positions, each a list of disjoint ascending ranges.
fn intersect(a: &[Range<u64>], b: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let (start, end) = (x.start.max(y.start), x.end.min(y.end));
            if start < end {
                out.push(start..end);
            }
        }
    }
    out
}

fn one(range: Range<u64>) -> Vec<Range<u64>> {
    std::iter::once(range).collect()
}

/// The positions one `endedAt` filter selects.
fn filter_positions(
    history: &PolicyHistory,
    filter: &str,
    all: &Range<u64>,
) -> Result<Vec<Range<u64>>, Reply> {
    let mut parts = filter.splitn(3, ':');
    let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad(&format!(
            "filter {filter:?} is not field:operator:value"
        )));
    };
    if field != "endedAt" {
        return Err(bad(&format!(
            "filter field {field:?} is not supported here (supported: endedAt)"
        )));
    }
    let at: Timestamp = value
        .parse()
        .map_err(|_| bad(&format!("filter value {value:?} is not an RFC 3339 time")))?;
    let before = history.position(at, false);
    let through = history.position(at, true);
    Ok(match op {
        "eq" => one(before..through),
        "ne" => vec![all.start..before, through..all.end],
        "gt" => one(through..all.end),
        "ge" => one(before..all.end),
        "lt" => one(all.start..before),
        "le" => one(all.start..through),
        other => {
            return Err(bad(&format!(
                "filter operator {other:?} is not supported on endedAt (supported: eq ne gt ge lt le)"
            )));
        }
    })
}

/// Whether `sort` asks for the descending order; the fields must be `endedAt` or `id` (the
/// order is the same: ids increase with `endedAt`).
fn descending(sort: &str) -> Result<bool, Reply> {
    let fields: Vec<&str> = sort.split(',').filter(|s| !s.is_empty()).collect();
    for field in &fields {
        if !matches!(field.trim_start_matches('-'), "endedAt" | "id") {
            return Err(bad(&format!(
                "sort field {field:?} is not supported here (supported: endedAt, id)"
            )));
        }
    }
    Ok(fields.first().is_some_and(|f| f.starts_with('-')))
}

pub(super) fn policy_results(org: &Org, query: &str, day_clock: Timestamp) -> Reply {
    let paging = match parse_paging(query, MAX_LIMIT) {
        Ok(paging) => paging,
        Err(reply) => return reply,
    };
    let history = &org.policy_history;
    let kept_from = day_clock - SignedDuration::from_hours(24 * POLICY_RESULTS_RETENTION_DAYS);
    let all = history.position(kept_from, false)..history.position(day_clock, false);
    let mut selected = vec![all.clone()];
    let mut descending_order = false;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "filter" => match filter_positions(history, &value, &all) {
                Ok(positions) => selected = intersect(&selected, &positions),
                Err(reply) => return reply,
            },
            "sort" => match descending(&value) {
                Ok(descending) => descending_order = descending,
                Err(reply) => return reply,
            },
            _ => {}
        }
    }
    let total: u64 = selected.iter().map(|r| r.end - r.start).sum();
    let length = (paging.limit as u64).min(total.saturating_sub(paging.skip as u64));
    let start = paging.skip.saturating_sub(paging.shift) as u64;
    // The page's positions in the selection's order, mapped to positions in the history.
    let wanted: Vec<u64> = (start..start + length)
        .map(|k| if descending_order { total - 1 - k } else { k })
        .filter_map(|k| nth(&selected, k))
        .collect();
    let low = wanted.iter().min().copied().unwrap_or(0);
    let high = wanted.iter().max().map_or(low, |high| high + 1);
    let span = history.results(low..high);
    let records: Vec<&str> = wanted
        .iter()
        .filter_map(|position| span.get((position - low) as usize))
        .map(String::as_str)
        .collect();
    let mut body = Vec::new();
    join_array(&records, &mut body);
    Reply::json(StatusCode::OK, body).header("x-total-count", total.to_string())
}

/// The `k`-th position of a selection of disjoint ascending ranges.
fn nth(selected: &[Range<u64>], mut k: u64) -> Option<u64> {
    for range in selected {
        let length = range.end - range.start;
        if k < length {
            return Some(range.start + k);
        }
        k -= length;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_intersect_and_index_like_one_list() {
        let a = one(0..10);
        let b = [0..3, 5..20];
        let both = intersect(&a, &b);
        assert_eq!(both, [0..3, 5..10]);
        assert_eq!(nth(&both, 2), Some(2));
        assert_eq!(nth(&both, 3), Some(5));
        assert_eq!(nth(&both, 8), None);
    }

    #[test]
    fn only_documented_sort_fields_are_accepted() {
        assert_eq!(descending("endedAt,id").ok(), Some(false));
        assert_eq!(descending("-endedAt,-id").ok(), Some(true));
        assert!(descending("name").is_err());
    }
}
