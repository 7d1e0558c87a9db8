//! Who still uses a revoked API key: Directory Insights logs `admin_old_api_key_attempt` (the
//! key's administrator, the client's address and user agent) each time one is presented.

use super::{JumpCloudClient, parse_json};
use crate::jumpcloud::JumpCloudError;

/// The Directory Insights event type of a revoked key being used.
pub const OLD_KEY_EVENT: &str = "admin_old_api_key_attempt";

/// Most attempts one question returns (the newest): enough to say who, and that it goes on.
pub const MAX_OLD_KEY_ATTEMPTS: usize = 20;

/// One use of a revoked key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldKeyAttempt {
    pub at: jiff::Timestamp,
    /// Email of the key's administrator (`initiated_by.email`), when logged.
    pub administrator: Option<String>,
    pub client_ip: Option<String>,
    /// `useragent.name` and `useragent.version` (or `major`), when logged.
    pub user_agent: Option<String>,
}

impl OldKeyAttempt {
    /// Reads one event; `None` for anything that is not a dated attempt. Pure.
    pub fn parse(event: &serde_json::Value) -> Option<OldKeyAttempt> {
        if event.get("event_type")?.as_str()? != OLD_KEY_EVENT {
            return None;
        }
        let at = event.get("timestamp")?.as_str()?.parse().ok()?;
        let text = |value: Option<&serde_json::Value>| {
            value
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(200).collect::<String>())
        };
        let agent = event.get("useragent");
        let name = text(agent.and_then(|a| a.get("name")));
        let version = text(agent.and_then(|a| a.get("version")))
            .or_else(|| text(agent.and_then(|a| a.get("major"))));
        let user_agent = match (name, version) {
            (Some(name), Some(version)) => Some(format!("{name}/{version}")),
            (name, _) => name,
        };
        Some(OldKeyAttempt {
            at,
            administrator: text(event.get("initiated_by").and_then(|i| i.get("email"))),
            client_ip: text(event.get("client_ip")),
            user_agent,
        })
    }
}

impl JumpCloudClient {
    /// The newest uses of revoked keys in the organization `org_id` (the one the key was
    /// identified with, sent as `x-org-id`) since `since`, newest first (at most
    /// [`MAX_OLD_KEY_ATTEMPTS`]): one Directory Insights request filtered on the event type.
    /// Events that are not dated attempts are left out. No end time is sent: the server's
    /// "now" is the end, so a clock behind JumpCloud's does not hide the newest.
    pub async fn old_key_attempts(
        &self,
        org_id: &str,
        since: jiff::Timestamp,
    ) -> Result<Vec<OldKeyAttempt>, JumpCloudError> {
        const ENDPOINT: &str = "/events";
        let body = serde_json::json!({
            "service": ["directory"],
            "start_time": since.to_string(),
            "limit": MAX_OLD_KEY_ATTEMPTS,
            "sort": "DESC",
            "search_term": {"and": [{"event_type": OLD_KEY_EVENT}]},
        });
        let response = self
            .post_insights("old_keys", ENDPOINT, org_id, &body)
            .await?;
        let events: Vec<serde_json::Value> = parse_json(ENDPOINT, &response.body)?;
        if events.len() > MAX_OLD_KEY_ATTEMPTS {
            return Err(JumpCloudError::TooManyRecords {
                endpoint: ENDPOINT.to_owned(),
                limit: MAX_OLD_KEY_ATTEMPTS as u64,
                skip: 0,
            });
        }
        Ok(events.iter().filter_map(OldKeyAttempt::parse).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_who_where_and_with_what_and_skips_other_events() {
        let event = serde_json::json!({
            "event_type": "admin_old_api_key_attempt", "timestamp": "2026-12-01T10:00:00Z",
            "client_ip": "203.0.113.7", "initiated_by": {"email": "ro@acme.test", "type": "admin"},
            "useragent": {"name": "legacy-collector", "version": "2.3"},
        });
        let attempt = OldKeyAttempt::parse(&event).unwrap();
        assert_eq!(attempt.administrator.as_deref(), Some("ro@acme.test"));
        assert_eq!(attempt.client_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(attempt.user_agent.as_deref(), Some("legacy-collector/2.3"));
        assert_eq!(attempt.at.to_string(), "2026-12-01T10:00:00Z");
        let mut other = event.clone();
        other["event_type"] = "admin_login_attempt".into();
        assert_eq!(OldKeyAttempt::parse(&other), None);
        let mut undated = event;
        undated["timestamp"] = "yesterday".into();
        assert_eq!(OldKeyAttempt::parse(&undated), None);
    }
}
