//! The cheap key check, asked once per credential (see [`crate::decide::credential_check`]):
//! the first connection of a group due for it asks JumpCloud while the others of the group
//! wait for its answer, and every later one within the re-check period takes that answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;

use super::context::lock;
use crate::decide::{self, Credential, KeyCheck, SharedCheck};

/// Answers older than this are dropped when a new one is kept: no connection takes them (the
/// longest `keyCheckInterval` is 24h), and rotated keys leave no entry behind for long.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The last answer per credential, each behind its own async lock so a group asks once.
#[derive(Default)]
pub(super) struct CredentialChecks {
    answers: Mutex<HashMap<Credential, Arc<tokio::sync::Mutex<Option<SharedCheck>>>>>,
}

impl CredentialChecks {
    /// The answer for `credential`: a reusable one (newer than `floor`, see
    /// [`decide::reusable`]), or the one `ask` gets, kept for the rest of the group. `ask`
    /// runs only while this credential's lock is held, so connections due together make one
    /// request.
    pub(super) async fn check<F>(
        &self,
        credential: Credential,
        floor: Option<Timestamp>,
        key_check_interval: Duration,
        ask: F,
    ) -> SharedCheck
    where
        F: Future<Output = (KeyCheck, Option<Duration>)>,
    {
        let entry = lock(&self.answers)
            .entry(credential.clone())
            .or_default()
            .clone();
        let mut answer = entry.lock().await;
        if let Some(shared) =
            decide::reusable(answer.as_ref(), floor, key_check_interval, Timestamp::now())
        {
            tracing::debug!("key check answered by another connection of the credential");
            return shared.clone();
        }
        let (check, retry_after) = ask.await;
        let shared = SharedCheck {
            checked_at: super::reconcile::now_seconds(),
            check,
            retry_after,
        };
        *answer = Some(shared.clone());
        drop(answer);
        self.forget_old(&credential, shared.checked_at);
        shared
    }

    /// Drops the answers of other credentials older than [`FORGET_AFTER`] (those not being
    /// asked right now).
    fn forget_old(&self, kept: &Credential, now: Timestamp) {
        let cutoff = now
            .checked_sub(jiff::SignedDuration::from_secs(
                FORGET_AFTER.as_secs() as i64
            ))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        lock(&self.answers).retain(|credential, entry| {
            credential == kept
                || entry.try_lock().map_or(true, |answer| {
                    answer.as_ref().is_some_and(|a| a.checked_at >= cutoff)
                })
        });
    }
}
