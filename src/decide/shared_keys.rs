//! Keys shared between connections: who else uses this key, as the status records it.

use crate::crd::JumpCloudConnectionStatus;

/// Records in status which other connections use the same key (`peers`, sorted), so the
/// warning outlives the KeyShared event.
pub fn set_shared_with(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    peers: &[String],
) {
    if let Some(key) = status
        .api_key
        .as_mut()
        .filter(|key| key.fingerprint == fingerprint)
    {
        key.shared_with = peers.to_vec();
    }
}

/// Connections (as `namespace/name`) other than `me` whose last seen key has `fingerprint`.
pub fn shared_key_peers<'a>(
    me: &str,
    fingerprint: &str,
    others: impl IntoIterator<Item = (String, Option<&'a str>)>,
) -> Vec<String> {
    let mut peers: Vec<String> = others
        .into_iter()
        .filter(|(id, fp)| id != me && *fp == Some(fingerprint))
        .map(|(id, _)| id)
        .collect();
    peers.sort();
    peers
}
