//! The last successful sign-in of each user, reduced from the Directory Insights events while
//! reading them: memory follows the number of users, not of events.

use std::collections::BTreeMap;

use super::json::{bool_at, str_at, time_at};
use super::record::Record;

/// Directory Insights event types that are a user's sign-in.
pub(super) const SIGN_IN_EVENTS: &[&str] = &[
    "user_login_attempt",
    "sso_auth",
    "login_attempt",
    "ldap_bind",
    "radius_auth",
    "user_portal_login",
    "password_manager_login",
];

/// The events of a snapshot, as the controls read them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignIns {
    /// Latest successful sign-in by user id, and by `@username` (lower case) for events that
    /// name the user only.
    last: BTreeMap<String, jiff::Timestamp>,
    /// Every event read, sign-in or not.
    events: u64,
}

impl SignIns {
    /// Counts one event and, when it is a successful sign-in with a readable time, records it
    /// for the user it names.
    pub fn add(&mut self, event: &Record) {
        self.events += 1;
        let kind = str_at(event, "event_type").unwrap_or("");
        if !SIGN_IN_EVENTS.contains(&kind) || bool_at(event, "success") != Some(true) {
            return;
        }
        let Some(at_time) = time_at(event, "timestamp") else {
            return;
        };
        let keys = [
            str_at(event, "initiated_by.id").map(str::to_owned),
            str_at(event, "initiated_by.username").map(|u| format!("@{}", u.to_ascii_lowercase())),
            str_at(event, "username").map(|u| format!("@{}", u.to_ascii_lowercase())),
        ];
        // An empty id or name would match every user without one.
        for key in keys
            .into_iter()
            .flatten()
            .filter(|k| !k.is_empty() && k != "@")
        {
            let entry = self.last.entry(key).or_insert(at_time);
            if at_time > *entry {
                *entry = at_time;
            }
        }
    }

    /// The latest successful sign-in of the user with this id or user name.
    pub fn last_of(&self, id: &str, username: &str) -> Option<jiff::Timestamp> {
        let by_id = self.last.get(id).copied();
        let by_name = Some(username)
            .filter(|name| !name.is_empty())
            .and_then(|name| self.last.get(&format!("@{}", name.to_ascii_lowercase())))
            .copied();
        by_id.max(by_name)
    }

    /// How many events were read.
    pub fn events(&self) -> u64 {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_successful_sign_ins_with_a_time_count_and_the_latest_wins() {
        let mut sign_ins = SignIns::default();
        for event in [
            serde_json::json!({"event_type": "sso_auth", "success": true, "timestamp": "2026-01-02T00:00:00Z", "initiated_by": {"id": "u1"}}),
            serde_json::json!({"event_type": "sso_auth", "success": true, "timestamp": "2026-01-05T00:00:00Z", "initiated_by": {"id": "u1"}}),
            serde_json::json!({"event_type": "sso_auth", "success": true, "timestamp": "2026-01-03T00:00:00Z", "initiated_by": {"id": "u1"}}),
            serde_json::json!({"event_type": "sso_auth", "success": false, "timestamp": "2026-02-01T00:00:00Z", "initiated_by": {"id": "u2"}}),
            serde_json::json!({"event_type": "admin_update", "success": true, "timestamp": "2026-02-01T00:00:00Z", "initiated_by": {"id": "u3"}}),
            serde_json::json!({"event_type": "ldap_bind", "success": "true", "timestamp": "2026-01-04T00:00:00Z", "username": "Ann"}),
            serde_json::json!({"event_type": "ldap_bind", "success": true, "timestamp": "not a time", "username": "bob"}),
            serde_json::json!({"event_type": "ldap_bind", "success": true, "timestamp": "2026-01-04T00:00:00Z", "username": "", "initiated_by": {"id": ""}}),
        ] {
            sign_ins.add(&event.into());
        }
        assert_eq!(sign_ins.events(), 8);
        let day =
            |d: &str| -> jiff::Timestamp { format!("2026-01-{d}T00:00:00Z").parse().unwrap() };
        assert_eq!(sign_ins.last_of("u1", ""), Some(day("05")));
        assert_eq!(sign_ins.last_of("u2", ""), None);
        assert_eq!(sign_ins.last_of("u3", ""), None);
        assert_eq!(sign_ins.last_of("x", "ANN"), Some(day("04")));
        assert_eq!(sign_ins.last_of("x", "bob"), None);
        assert_eq!(
            sign_ins.last_of("", ""),
            None,
            "empty ids and names match nobody"
        );
        assert_eq!(sign_ins.last.len(), 2);
    }
}
