//! An org changing the way real orgs do, one day at a time: every device checks in (its
//! `lastContact` moves a day), about 1% of the users change (a few hired, a few suspended, the
//! rest an MFA or job title change), a day of Directory Insights events arrives, and the devices
//! apply their policies (the policy results history moves a day). Each day's
//! changes are drawn from the seed and the day number alone, so a history is reproducible.

use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::{Org, fmt_ts, to_rec};
use crate::control::DayChanges;

/// Events older than this are dropped as days pass: the generated history spans 30 days, and
/// keeping it at that keeps memory flat over a simulated year.
const EVENTS_KEPT: SignedDuration = SignedDuration::from_hours(30 * 24);

const JOB_TITLES: &[&str] = &[
    "Software Engineer",
    "Account Executive",
    "Product Manager",
    "Support Specialist",
    "Data Analyst",
    "Designer",
];

fn day() -> SignedDuration {
    SignedDuration::from_hours(24)
}

/// Moves a timestamp field (JumpCloud's `2026-10-02T00:00:00.000Z`) by `by`; absent or null
/// stays so.
fn shift(record: &mut Value, field: &str, by: SignedDuration) {
    if let Some(Value::String(text)) = record.get(field)
        && let Ok(time) = text.parse::<Timestamp>()
    {
        record[field] = Value::String(fmt_ts(time + by));
    }
}

fn set_mfa(user: &mut Value, enrolled: bool) {
    let status = if enrolled { "ENROLLED" } else { "NOT_ENROLLED" };
    user["totp_enabled"] = Value::Bool(enrolled);
    user["mfa"]["configured"] = Value::Bool(enrolled);
    user["mfaEnrollment"]["totpStatus"] = Value::String(status.to_owned());
    user["mfaEnrollment"]["overallStatus"] = Value::String(status.to_owned());
}

impl Org {
    /// Day `day` (1 for the first day after generation) of the org's life, its clock moving
    /// from `now` to `now + 1 day`.
    pub(crate) fn advance_day(&mut self, seed: u64, day_number: u64, now: Timestamp) -> DayChanges {
        let next = now + day();
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed ^ day_number.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut changes = DayChanges::default();

        for system in &mut self.systems {
            let Ok(mut record) = serde_json::from_str::<Value>(system) else {
                continue;
            };
            shift(&mut record, "lastContact", day());
            *system = to_rec(&record);
            changes.devices_checked_in += 1;
        }

        // About 1% of the users: a tenth hired, a tenth suspended, the rest an MFA or title change.
        let existing = self.users.len();
        let changed = existing.div_ceil(100);
        let hires = changed.div_ceil(10);
        let suspensions = changed.div_ceil(10);
        for _ in 0..hires {
            self.add_user(next);
        }
        changes.users_added = hires;
        for n in 0..changed.saturating_sub(hires) {
            if existing == 0 {
                break;
            }
            let index = rng.random_range(0..existing);
            let Ok(mut user) = serde_json::from_str::<Value>(&self.users[index]) else {
                continue;
            };
            if n < suspensions {
                user["suspended"] = Value::Bool(true);
                user["state"] = Value::String("SUSPENDED".to_owned());
                changes.users_suspended += 1;
            } else if rng.random_bool(0.5) {
                let enrolled = user["totp_enabled"].as_bool() == Some(true);
                set_mfa(&mut user, !enrolled);
                changes.users_mfa_changed += 1;
            } else {
                let title = JOB_TITLES[rng.random_range(0..JOB_TITLES.len())];
                user["jobTitle"] = Value::String(title.to_owned());
                changes.users_attributes_changed += 1;
            }
            self.users[index] = to_rec(&user);
        }

        // A day of events: yesterday's, a day later, with new ids.
        let since = (now - day()).as_millisecond();
        let yesterday: Vec<usize> = (0..self.events.len())
            .filter(|i| self.events[*i].ts_ms > since)
            .collect();
        for index in yesterday {
            let source = &self.events[index];
            let Ok(mut raw) = serde_json::from_str::<Value>(&source.raw) else {
                continue;
            };
            let id = self.ids.next_id();
            let ts_ms = source.ts_ms + day().as_millis() as i64;
            let service = source.service;
            raw["id"] = Value::String(id.clone());
            shift(&mut raw, "timestamp", day());
            self.events.push(super::Event {
                ts_ms,
                id,
                service,
                raw: to_rec(&raw),
            });
            changes.events_added += 1;
        }
        self.policy_history.advance_to(day_number);
        let cutoff = (next - EVENTS_KEPT).as_millisecond();
        self.events.retain(|event| event.ts_ms >= cutoff);
        self.events
            .sort_by(|a, b| (a.ts_ms, &a.id).cmp(&(b.ts_ms, &b.id)));
        changes
    }
}
