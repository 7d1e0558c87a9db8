//! Questions asked once per credential (see [`crate::decide::credential_check`]): the cheap
//! key check and the identification's listing of what the key reaches. The first connection
//! of a group to need an answer asks JumpCloud while the others of the group wait for it, and
//! every later one takes that answer while it is still good.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;

use super::context::lock;
use crate::decide::{SharedCheck, SharedCredential};
use crate::jumpcloud::KeyReach;

/// Answers older than this are dropped when a new one is kept: no connection takes them (the
/// longest `keyCheckInterval` is 24h), and rotated keys leave no entry behind for long.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// An answer with the time it was given.
pub(super) trait Answer: Clone {
    fn answered_at(&self) -> Timestamp;
}

impl Answer for SharedCheck {
    fn answered_at(&self) -> Timestamp {
        self.checked_at
    }
}

/// What the key reaches, and when JumpCloud said so.
#[derive(Debug, Clone)]
pub(super) struct SharedReach {
    pub(super) answered_at: Timestamp,
    pub(super) reach: KeyReach,
}

impl Answer for SharedReach {
    fn answered_at(&self) -> Timestamp {
        self.answered_at
    }
}

/// The last answer per credential, each behind its own async lock so a group asks once.
pub(super) struct PerCredential<T> {
    answers: Mutex<HashMap<SharedCredential, Arc<tokio::sync::Mutex<Option<T>>>>>,
}

impl<T> Default for PerCredential<T> {
    fn default() -> Self {
        PerCredential {
            answers: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Answer> PerCredential<T> {
    /// The last answer for `credential` when `reuse` takes it, else what `ask` gets (kept for
    /// the rest of the group when it is `Ok`; failures are each connection's own). `ask` runs
    /// only while this credential's lock is held, so connections needing an answer together
    /// make one request.
    pub(super) async fn answer<F, E>(
        &self,
        credential: &SharedCredential,
        reuse: impl FnOnce(&T) -> bool,
        ask: F,
    ) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let entry = lock(&self.answers)
            .entry(credential.clone())
            .or_default()
            .clone();
        let mut answer = entry.lock().await;
        if let Some(shared) = answer.as_ref().filter(|shared| reuse(shared)) {
            tracing::debug!("answered by another connection of the credential");
            return Ok(shared.clone());
        }
        let asked = ask.await?;
        *answer = Some(asked.clone());
        drop(answer);
        self.forget_old(credential, asked.answered_at());
        Ok(asked)
    }

    /// Drops the answers of other credentials older than [`FORGET_AFTER`] (skipping those
    /// being asked right now).
    fn forget_old(&self, kept: &SharedCredential, now: Timestamp) {
        let cutoff = jiff::SignedDuration::try_from(FORGET_AFTER)
            .ok()
            .and_then(|age| now.checked_sub(age).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        lock(&self.answers).retain(|credential, entry| {
            credential == kept
                || entry.try_lock().map_or(true, |answer| {
                    answer.as_ref().is_some_and(|a| a.answered_at() >= cutoff)
                })
        });
    }
}
