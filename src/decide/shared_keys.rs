//! Keys shared between connections: who else uses this key, as the status records it, and
//! whom to warn. Everything here is O(connections) per change, never O(pairs): a fleet of
//! 1,000 connections sharing one multi-tenant key gets 1,000 warnings in all, not a million.

use std::collections::HashMap;

use crate::crd::JumpCloudConnectionStatus;

/// Peers named in status, Events and logs; the rest are counted.
pub const SHARED_SAMPLE: usize = 5;

/// Records in status how many other connections use the same key and the first of them
/// (`peers`, sorted), so the warning outlives the KeyShared event.
pub fn set_shared_with(
    status: &mut JumpCloudConnectionStatus,
    fingerprint: &str,
    peers: &[String],
) {
    if let Some(key) = status
        .credential
        .as_mut()
        .filter(|key| key.fingerprint == fingerprint)
    {
        key.shared_with = peers.iter().take(SHARED_SAMPLE).cloned().collect();
        key.shared_with_count = (!peers.is_empty()).then_some(peers.len() as u64);
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

/// "a/x, b/y and 3 more": the first [`SHARED_SAMPLE`] names and a count of the rest.
pub fn sample_of(names: &[String]) -> String {
    let shown = names
        .iter()
        .take(SHARED_SAMPLE)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match names.len().saturating_sub(SHARED_SAMPLE) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// Who to warn now that `me` uses the key `fingerprint` with `peers` (sorted): every
/// connection of the group not yet warned about this key (`warned`: connection to the
/// fingerprint it was warned about). A connection is warned once per key it shares, however
/// many connections join later. `me` without peers is forgotten, so sharing again warns again.
pub fn to_warn(
    warned: &mut HashMap<String, String>,
    me: &str,
    fingerprint: &str,
    peers: &[String],
) -> Vec<String> {
    if peers.is_empty() {
        warned.remove(me);
        return Vec::new();
    }
    let mut out = Vec::new();
    for who in std::iter::once(me).chain(peers.iter().map(String::as_str)) {
        if warned.get(who).map(String::as_str) != Some(fingerprint) {
            warned.insert(who.to_owned(), fingerprint.to_owned());
            out.push(who.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("ns/c{i:04}")).collect()
    }

    /// 1,000 connections joining one key one by one: 1,000 warnings in all.
    #[test]
    fn a_growing_group_is_warned_once_per_connection() {
        let all = names(1000);
        let mut warned = HashMap::new();
        let mut total = 0;
        for joined in 1..=all.len() {
            let me = &all[joined - 1];
            let peers: Vec<String> = all[..joined - 1].to_vec();
            total += to_warn(&mut warned, me, "fp", &peers).len();
        }
        assert_eq!(total, 1000);
        // The second connection warns itself and the first.
        let mut warned = HashMap::new();
        assert!(to_warn(&mut warned, "a/1", "fp", &[]).is_empty());
        assert_eq!(
            to_warn(&mut warned, "a/2", "fp", &["a/1".to_owned()]),
            ["a/2", "a/1"]
        );
    }

    #[test]
    fn a_new_key_or_sharing_again_warns_again() {
        let mut warned = HashMap::new();
        let peer = vec!["a/2".to_owned()];
        assert_eq!(to_warn(&mut warned, "a/1", "old", &peer).len(), 2);
        assert!(to_warn(&mut warned, "a/1", "old", &peer).is_empty());
        assert_eq!(to_warn(&mut warned, "a/1", "new", &peer).len(), 2);
        assert!(to_warn(&mut warned, "a/1", "new", &[]).is_empty());
        assert_eq!(to_warn(&mut warned, "a/1", "new", &peer), ["a/1"]);
    }

    #[test]
    fn status_and_text_name_a_bounded_sample_and_count_all() {
        let mut status = JumpCloudConnectionStatus {
            credential: Some(crate::crd::CredentialStatus {
                fingerprint: "fp".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        set_shared_with(&mut status, "fp", &names(999));
        let key = status.credential.as_ref().unwrap();
        assert_eq!(key.shared_with, names(5));
        assert_eq!(key.shared_with_count, Some(999));
        assert_eq!(
            sample_of(&names(7)),
            "ns/c0000, ns/c0001, ns/c0002, ns/c0003, ns/c0004 and 2 more"
        );
        assert_eq!(sample_of(&names(1)), "ns/c0000");
        set_shared_with(&mut status, "fp", &[]);
        let key = status.credential.as_ref().unwrap();
        assert!(key.shared_with.is_empty() && key.shared_with_count.is_none());
    }
}
