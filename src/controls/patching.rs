//! JC-E14: Windows hotfixes installed recently, from System Insights `patches`.

use jiff::civil::Date;

use super::catalog::Finding;
use super::context::*;
use super::json::{id_of, show, str_at};
use super::kinds::*;

pub(super) fn e14_patch_currency(ctx: &Ctx) -> Result<Finding, String> {
    let (devices, mut f) = ctx.device_scope()?;
    let patches = ctx.insights(SI_PATCHES)?;
    let max_age = i64::from(ctx.settings.patch_max_age_days_or_default());
    let today = ctx.now.to_zoned(jiff::tz::TimeZone::UTC).date();
    for device in devices {
        if Family::of(device) != Family::Windows {
            continue;
        }
        f.evaluated += 1;
        let id = id_of(device);
        let Some(rows) = patches.get(id.as_str()).filter(|rows| !rows.is_empty()) else {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "no System Insights patches rows (systemInsights.state={}): hotfixes are not confirmed",
                    insights_state(device)
                ),
            );
            continue;
        };
        let newest = rows
            .iter()
            .filter_map(|r| Some((str_at(r, "installed_on").and_then(installed_on)?, r)))
            .max_by_key(|(date, _)| *date);
        let Some((date, row)) = newest else {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "no hotfix has a readable installed_on (e.g. {}): hotfixes are not confirmed",
                    show(rows[0], "installed_on")
                ),
            );
            continue;
        };
        let age = i64::from((today - date).get_days());
        if age < -1 {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "the newest hotfix ({}) is dated {date}, after the collection: the date is not believable",
                    show(row, "hotfix_id")
                ),
            );
        } else if age > max_age {
            f.fail(
                &id,
                device_name(device),
                format!(
                    "the newest hotfix ({}) was installed on {date}, {age} days before the collection (patchMaxAgeDays {max_age})",
                    show(row, "hotfix_id")
                ),
            );
        }
    }
    Ok(f)
}

/// The date of a `patches.installed_on`: Windows gives `M/D/YYYY` (US order, as WMI's
/// Win32_QuickFixEngineering reports it, sometimes with a time after it); ISO dates
/// (`YYYY-MM-DD`, or an RFC 3339 timestamp) are read too. Anything else is unreadable.
pub(super) fn installed_on(value: &str) -> Option<Date> {
    let value = value.trim();
    let first = value.split_whitespace().next()?;
    if let Some((month, rest)) = first.split_once('/') {
        let (day, year) = rest.split_once('/')?;
        // A two-digit year would be read as the first century.
        let year: i16 = digits(year, 4)
            .filter(|_| year.len() == 4)?
            .try_into()
            .ok()?;
        let month: i8 = digits(month, 2)?.try_into().ok()?;
        let day: i8 = digits(day, 2)?.try_into().ok()?;
        return Date::new(year, month, day).ok();
    }
    if let Ok(timestamp) = value.parse::<jiff::Timestamp>() {
        return Some(timestamp.to_zoned(jiff::tz::TimeZone::UTC).date());
    }
    if first.len() == 10 {
        return first.parse::<Date>().ok();
    }
    None
}

/// A number of one to `max` ASCII digits.
fn digits(s: &str, max: usize) -> Option<i32> {
    (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::installed_on;
    use jiff::civil::date;

    #[test]
    fn installed_on_reads_the_windows_and_iso_forms_and_nothing_else() {
        assert_eq!(installed_on("11/3/2026"), Some(date(2026, 11, 3)));
        assert_eq!(
            installed_on("1/15/2026 12:00:00 AM"),
            Some(date(2026, 1, 15))
        );
        assert_eq!(installed_on("2026-05-20"), Some(date(2026, 5, 20)));
        assert_eq!(
            installed_on("2026-05-20T10:00:00Z"),
            Some(date(2026, 5, 20))
        );
        for unreadable in [
            "",
            " ",
            "13/1/2026",
            "2/30/2026",
            "11/3/26",
            "3-11-2026",
            "20260520",
            "yesterday",
            "1/2/3/2026",
            "2026-05-20T10:00:00",
        ] {
            assert_eq!(installed_on(unreadable), None, "{unreadable:?}");
        }
    }
}
