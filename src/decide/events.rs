//! Events: a Warning on each transition into a problem, a Normal on recovery.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::conditions::{self, KEY_VALID, LEAST_PRIVILEGE, Reason, SYNCED};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Normal,
    Warning,
}

/// An event to publish: a transition into a problem (Warning) or out of one (Normal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub kind: EventKind,
    pub reason: String,
    pub note: String,
    /// The event's action when not the reconcile's. The event recorder merges events with the
    /// same reason and action into one series that keeps the first note, so events about
    /// different subjects (e.g. one per control) need distinct actions.
    pub action: Option<String>,
}

/// Events for the changes between two condition lists; none when nothing changed.
pub fn events(old: &[Condition], new: &[Condition]) -> Vec<EventSpec> {
    let mut out = Vec::new();
    for type_ in [KEY_VALID, LEAST_PRIVILEGE, SYNCED] {
        let Some(after) = conditions::find(new, type_) else {
            continue;
        };
        let before = conditions::find(old, type_);
        let unchanged =
            before.is_some_and(|b| b.status == after.status && b.reason == after.reason);
        if unchanged {
            continue;
        }
        let warning = after.status == "False"
            || (after.status == "True" && after.reason == Reason::ExpiresSoon)
            || after.reason == Reason::SecretUnreadable;
        let recovered = after.status == "True"
            && before.is_none_or(|b| b.status != "True" || b.reason == Reason::ExpiresSoon);
        let kind = if warning {
            EventKind::Warning
        } else if recovered {
            EventKind::Normal
        } else {
            continue;
        };
        out.push(EventSpec {
            kind,
            reason: after.reason.clone(),
            note: after.message.clone(),
            action: None,
        });
    }
    out
}
