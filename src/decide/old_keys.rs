//! Who still uses a replaced API key. JumpCloud revokes an administrator's key when a new one
//! is generated and logs every later use of the old one (`admin_old_api_key_attempt`): after a
//! connection moves to a new key, each sync asks for such uses since the move, and a new one
//! is a Warning ("another integration still has it"). Pure: the shell asks and publishes.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::events::{EventKind, EventSpec};
use super::{format_time, time};
use crate::conditions::{self, KEY_VALID};
use crate::crd::{
    CredentialStatus, JumpCloudConnectionStatus, OldKeyUseStatus, PreviousCredentialStatus,
};
use crate::jumpcloud::{CredentialKind, OldKeyAttempt};

/// How long after a rotation uses of the old key are looked for: integrations that run daily
/// or weekly show up well within it, and the question stops costing a request after.
pub const OLD_KEY_WATCH: Duration = Duration::from_secs(30 * 24 * 3600);

/// The name this operator's requests carry in `User-Agent` (its own uses are not counted).
const OWN_USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/");

/// The Event reason of a use of a replaced key.
pub const OLD_KEY_USED: &str = "OldKeyUsed";

/// What the entry of a credential being replaced leaves behind: the key itself when it was an
/// accepted API key, else what it remembered (a mistyped key in between does not hide the
/// original one).
pub(super) fn replaced(old: CredentialStatus, now: Timestamp) -> Option<PreviousCredentialStatus> {
    let was_key = old
        .type_
        .as_deref()
        .is_none_or(|t| t == CredentialKind::ApiKey.as_str());
    if was_key && old.last_accepted_time.is_some() {
        return Some(PreviousCredentialStatus {
            fingerprint: old.fingerprint,
            administrator: old.administrator,
            replaced_at: Time(now),
            uses: 0,
            last_use: None,
        });
    }
    old.previous
}

/// Since when to ask for uses of the previous key, if at all: within [`OLD_KEY_WATCH`] of the
/// rotation, while the current key is accepted.
pub fn old_key_question(status: &JumpCloudConnectionStatus, now: Timestamp) -> Option<Timestamp> {
    let accepted =
        conditions::find(&status.conditions, KEY_VALID).is_some_and(|c| c.status == "True");
    let previous = status.credential.as_ref()?.previous.as_ref()?;
    let since = previous.replaced_at.0;
    let watched = super::add(since, OLD_KEY_WATCH) > now;
    (accepted && watched).then_some(since)
}

/// Records the uses of revoked keys Directory Insights returned (newest first) that concern
/// the previous key: after its replacement, by its administrator (any, when it is unknown).
/// A use newer than the last one recorded is a Warning Event.
pub fn apply_old_key_attempts(
    status: &mut JumpCloudConnectionStatus,
    attempts: &[OldKeyAttempt],
) -> Option<EventSpec> {
    let previous = status.credential.as_mut()?.previous.as_mut()?;
    let since = previous.replaced_at.0;
    let ours: Vec<&OldKeyAttempt> = attempts
        .iter()
        // Times are whole seconds here and finer in Directory Insights: a use in the second
        // of the rotation counts. The operator's own last check of the revoked key (it may
        // fall in that second) is no other integration.
        .filter(|a| a.at >= since)
        .filter(|a| {
            a.user_agent
                .as_deref()
                .is_none_or(|agent| !agent.starts_with(OWN_USER_AGENT))
        })
        .filter(|a| match (&previous.administrator, &a.administrator) {
            (Some(ours), Some(theirs)) => ours.eq_ignore_ascii_case(theirs),
            // An attempt that names nobody, or a previous key of unknown owner: it may be ours.
            _ => true,
        })
        .collect();
    let newest = ours.iter().max_by_key(|a| a.at)?;
    let known = time(&previous.last_use.as_ref().map(|u| u.time.clone()));
    previous.uses = previous.uses.max(ours.len() as u64);
    if known.is_some_and(|known| newest.at <= known) {
        return None;
    }
    previous.last_use = Some(OldKeyUseStatus {
        time: Time(newest.at),
        client_ip: newest.client_ip.clone(),
        user_agent: newest.user_agent.clone(),
    });
    let who = previous.administrator.as_deref().map_or_else(
        || "the previous key".to_owned(),
        |a| format!("the previous key of {a}"),
    );
    let from = newest
        .client_ip
        .as_deref()
        .map_or_else(String::new, |ip| format!(" from {ip}"));
    let with = newest
        .user_agent
        .as_deref()
        .map_or_else(String::new, |ua| format!(" with {ua}"));
    Some(EventSpec {
        kind: EventKind::Warning,
        reason: OLD_KEY_USED.to_owned(),
        note: format!(
            "{who} (fingerprint {}, replaced at {}) was used{from}{with} at {}: another integration still has it and gets no data. Give it its own key, or update it.",
            previous.fingerprint,
            format_time(since),
            format_time(newest.at),
        ),
        action: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{Desired, Reason, Status};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn attempt(when: &str, admin: Option<&str>) -> OldKeyAttempt {
        OldKeyAttempt {
            at: at(when),
            administrator: admin.map(str::to_owned),
            client_ip: Some("203.0.113.7".into()),
            user_agent: Some("legacy/2.3".into()),
        }
    }

    fn rotated_status() -> JumpCloudConnectionStatus {
        let old = CredentialStatus {
            fingerprint: "aaaaaaaaaaaa".into(),
            administrator: Some("ro@acme.test".into()),
            last_accepted_time: Some(Time(at("2026-11-01T00:00:00Z"))),
            ..CredentialStatus::default()
        };
        let mut status = JumpCloudConnectionStatus {
            credential: Some(CredentialStatus {
                fingerprint: "bbbbbbbbbbbb".into(),
                previous: replaced(old, at("2026-12-01T00:00:00Z")),
                ..CredentialStatus::default()
            }),
            ..JumpCloudConnectionStatus::default()
        };
        conditions::set(
            &mut status.conditions,
            Desired::new(KEY_VALID, Status::True, Reason::Accepted, "ok"),
            None,
            at("2026-12-01T00:00:00Z"),
        );
        status
    }

    #[test]
    fn only_an_accepted_key_is_remembered_and_a_rejected_one_in_between_keeps_it() {
        let status = rotated_status();
        let previous = status
            .credential
            .as_ref()
            .unwrap()
            .previous
            .clone()
            .unwrap();
        assert_eq!(previous.fingerprint, "aaaaaaaaaaaa");
        // A typo key (never accepted) replaced by the right one: the original stays.
        let typo = CredentialStatus {
            fingerprint: "cccccccccccc".into(),
            previous: Some(previous.clone()),
            ..CredentialStatus::default()
        };
        assert_eq!(replaced(typo, at("2026-12-02T00:00:00Z")), Some(previous));
        let account = CredentialStatus {
            type_: Some("ServiceAccount".into()),
            last_accepted_time: Some(Time(at("2026-11-01T00:00:00Z"))),
            ..CredentialStatus::default()
        };
        assert_eq!(replaced(account, at("2026-12-02T00:00:00Z")), None);
    }

    #[test]
    fn the_question_is_asked_for_thirty_days_while_the_new_key_works() {
        let status = rotated_status();
        assert_eq!(
            old_key_question(&status, at("2026-12-10T00:00:00Z")),
            Some(at("2026-12-01T00:00:00Z"))
        );
        assert_eq!(old_key_question(&status, at("2027-01-01T00:00:01Z")), None);
        let mut rejected = status.clone();
        rejected.conditions.clear();
        assert_eq!(
            old_key_question(&rejected, at("2026-12-10T00:00:00Z")),
            None
        );
    }

    #[test]
    fn a_use_in_the_second_of_the_rotation_counts() {
        let mut status = rotated_status();
        let event = apply_old_key_attempts(&mut status, &[attempt("2026-12-01T00:00:00Z", None)]);
        assert!(event.is_some());
    }

    #[test]
    fn a_new_use_by_the_old_keys_administrator_warns_once() {
        let mut status = rotated_status();
        let attempts = [
            attempt("2026-12-03T10:00:00Z", Some("RO@acme.test")),
            attempt("2026-12-02T10:00:00Z", Some("ro@acme.test")),
            attempt("2026-12-03T11:00:00Z", Some("someone@else.test")),
            attempt("2026-11-30T10:00:00Z", Some("ro@acme.test")),
            OldKeyAttempt {
                user_agent: Some(format!("{}0.1.0", OWN_USER_AGENT)),
                ..attempt("2026-12-04T10:00:00Z", Some("ro@acme.test"))
            },
        ];
        let event = apply_old_key_attempts(&mut status, &attempts).unwrap();
        assert_eq!(
            (event.kind, event.reason.as_str()),
            (EventKind::Warning, OLD_KEY_USED)
        );
        assert!(
            event.note.contains("the previous key of ro@acme.test"),
            "{}",
            event.note
        );
        assert!(
            event
                .note
                .contains("from 203.0.113.7 with legacy/2.3 at 2026-12-03T10:00:00Z"),
            "{}",
            event.note
        );
        let previous = status
            .credential
            .as_ref()
            .unwrap()
            .previous
            .as_ref()
            .unwrap();
        assert_eq!(
            previous.uses, 2,
            "after the rotation, by that administrator"
        );
        assert_eq!(
            previous.last_use.as_ref().unwrap().time.0,
            at("2026-12-03T10:00:00Z")
        );
        // The same answer again: no new Event.
        assert_eq!(apply_old_key_attempts(&mut status, &attempts), None);
        assert_eq!(apply_old_key_attempts(&mut status, &[]), None);
    }
}
