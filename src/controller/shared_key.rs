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

/// Warns once per change when other connections use the same key: generating a new key for
/// that administrator revokes it for all of them. Every connection sharing it is warned, the
/// ones already running too (not only the one that just joined).
pub(super) async fn warn_shared_key(
    ctx: &Context,
    connection: &JumpCloudConnection,
    key: &str,
    fingerprint: &str,
) {
    let all = all_fingerprints(ctx, key, fingerprint);
    let peers_of = |who: &str| {
        decide::shared_key_peers(
            who,
            fingerprint,
            all.iter().map(|(k, fp)| (k.clone(), fp.as_deref())),
        )
    };
    let peers = peers_of(key);
    let mut to_warn = vec![(key.to_owned(), peers.clone())];
    to_warn.extend(peers.iter().map(|peer| (peer.clone(), peers_of(peer))));
    for (who, peers) in to_warn {
        let changed = {
            let mut warned = lock(&ctx.shared_warned);
            let previous = warned.get(&who).cloned().unwrap_or_default();
            if previous == peers {
                false
            } else {
                warned.insert(who.clone(), peers.clone());
                !peers.is_empty()
            }
        };
        if !changed {
            continue;
        }
        let object = if who == key {
            Some(connection.clone())
        } else {
            ctx.cached(&who)
        };
        let Some(object) = object else {
            continue;
        };
        let note = format!(
            "The key (fingerprint {fingerprint}) is also used by {}. Generating a new key for its administrator revokes it for all of them; give each connection its own administrator's key.",
            peers.join(", ")
        );
        tracing::warn!(connection = %who, peers = %peers.join(","), "API key shared between connections");
        ctx.publish(&object, EventKind::Warning, "KeyShared", &note, "CheckKey")
            .await;
    }
}
