//! The shared-key warning: other connections using the same key are listed in status and
//! warned, since a new key for that administrator revokes it for all of them.

use super::context::{Context, lock};
use crate::crd::JumpCloudConnection;
use crate::decide::{self, EventKind};

/// Every connection's last seen key fingerprint, with this one's as just read (the watch cache
/// may not show it yet).
fn all_fingerprints(ctx: &Context, key: &str, fingerprint: &str) -> Vec<(String, Option<String>)> {
    ctx.fingerprints()
        .into_iter()
        .filter(|(k, _)| k != key)
        .chain([(key.to_owned(), Some(fingerprint.to_owned()))])
        .collect()
}

/// The other connections using this key.
pub(super) fn shared_key_peers(ctx: &Context, key: &str, fingerprint: &str) -> Vec<String> {
    decide::shared_key_peers(
        key,
        fingerprint,
        all_fingerprints(ctx, key, fingerprint)
            .iter()
            .map(|(k, fp)| (k.clone(), fp.as_deref())),
    )
}

/// Warns every connection of the group not yet warned about this key (once each, however
/// many join later), and logs one line when the group's size changes: O(connections) Events
/// and log lines over a fleet's life, each naming at most a bounded sample.
pub(super) async fn warn_shared_key(
    ctx: &Context,
    connection: &JumpCloudConnection,
    key: &str,
    fingerprint: &str,
) {
    let peers = shared_key_peers(ctx, key, fingerprint);
    let group = peers.len() + 1;
    let log = {
        let mut logged = lock(&ctx.shared_logged);
        let before = logged.get(fingerprint).copied().unwrap_or(1);
        if peers.is_empty() {
            logged.remove(fingerprint);
        } else {
            logged.insert(fingerprint.to_owned(), group);
        }
        before != group && !peers.is_empty()
    };
    if log {
        let mut members: Vec<String> = peers.iter().cloned().chain([key.to_owned()]).collect();
        members.sort();
        tracing::warn!(
            connections = group,
            sample = %decide::sample_of(&members),
            "API key shared between connections"
        );
    }
    let to_warn = decide::to_warn(&mut lock(&ctx.shared_warned), key, fingerprint, &peers);
    for who in to_warn {
        let object = if who == key {
            Some(connection.clone())
        } else {
            ctx.cached(&who)
        };
        let Some(object) = object else {
            continue;
        };
        let others: Vec<String> = peers
            .iter()
            .cloned()
            .chain([key.to_owned()])
            .filter(|name| *name != who)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let service_account = matches!(
            object.spec.credential_ref(),
            Ok(crate::crd::CredentialRef::ServiceAccount(_))
        );
        let (what, consequence) = if service_account {
            (
                "The service account's client secret",
                "Deleting or rotating that secret stops all of them at once; give each connection its own secret (or service account) to rotate them one by one.",
            )
        } else {
            (
                "The key",
                "Generating a new key for its administrator revokes it for all of them; give each connection its own administrator's key.",
            )
        };
        let note = format!(
            "{what} (fingerprint {fingerprint}) is also used by {} other connection{}: {}. {consequence}",
            others.len(),
            if others.len() == 1 { "" } else { "s" },
            decide::sample_of(&others)
        );
        ctx.publish(&object, EventKind::Warning, "KeyShared", &note, "CheckKey")
            .await;
    }
}
