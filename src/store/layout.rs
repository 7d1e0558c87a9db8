//! Names: connections, snapshot ids and the object paths derived from them.

use std::fmt;
use std::str::FromStr;

use object_store::path::Path;

use super::StoreError;
use super::encoding::Encoding;

/// `namespace/name` of a connection; each writes under its own prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    pub namespace: String,
    pub name: String,
}

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 253
        && segment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && segment.as_bytes()[0].is_ascii_alphanumeric()
}

impl ConnectionId {
    pub fn new(namespace: &str, name: &str) -> Result<Self, StoreError> {
        if valid_segment(namespace) && valid_segment(name) {
            Ok(ConnectionId {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
        } else {
            Err(StoreError::InvalidConnection(format!("{namespace}/{name}")))
        }
    }
}

impl FromStr for ConnectionId {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s.split_once('/') {
            Some((namespace, name)) => ConnectionId::new(namespace, name),
            None => Err(StoreError::InvalidConnection(s.to_owned())),
        }
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Length of the manifest digest prefix in a snapshot id.
pub const ID_DIGEST_CHARS: usize = 16;

/// `<UTC time to the microsecond>-<manifest digest prefix>`, e.g.
/// `20261129T032605.123456Z-3f9a0c2b71d4e8a5`. Ids sort by time as strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(String);

impl SnapshotId {
    pub fn new(created_at: jiff::Timestamp, manifest_sha256: &str) -> Self {
        let digest = &manifest_sha256[..ID_DIGEST_CHARS.min(manifest_sha256.len())];
        SnapshotId(format!("{}-{digest}", time_part(created_at)))
    }

    /// Parses an id (as found in a manifest file name).
    pub fn parse(s: &str) -> Option<Self> {
        let (time, digest) = s.split_once('-')?;
        let ok = parse_time_part(time).is_some()
            && digest.len() == ID_DIGEST_CHARS
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| SnapshotId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The time encoded in the id.
    pub fn time(&self) -> Option<jiff::Timestamp> {
        parse_time_part(self.0.split_once('-')?.0)
    }

    /// The manifest digest prefix encoded in the id.
    pub fn digest_prefix(&self) -> &str {
        self.0.split_once('-').map_or("", |(_, digest)| digest)
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Truncates to whole microseconds, the precision of ids and manifest times.
pub fn to_micros(time: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(time.as_microsecond()).unwrap_or(time)
}

fn time_part(time: jiff::Timestamp) -> String {
    let micros = time.as_microsecond().rem_euclid(1_000_000);
    format!("{}.{micros:06}Z", time.strftime("%Y%m%dT%H%M%S"))
}

fn parse_time_part(s: &str) -> Option<jiff::Timestamp> {
    let body = s.strip_suffix('Z')?;
    let (seconds, micros) = body.split_once('.')?;
    if micros.len() != 6 || !micros.bytes().all(|b| b.is_ascii_digit()) || seconds.len() != 15 {
        return None;
    }
    let whole = jiff::Timestamp::strptime("%Y%m%dT%H%M%S%z", format!("{seconds}+0000")).ok()?;
    let micros: i64 = micros.parse().ok()?;
    whole
        .checked_add(jiff::SignedDuration::from_micros(micros))
        .ok()
}

/// Object paths of one connection under the store root.
#[derive(Debug, Clone)]
pub struct Layout {
    base: String,
}

pub const MANIFEST_SUFFIX: &str = ".json";
pub const SIGNATURE_SUFFIX: &str = ".json.sig";

/// Digits of the sequence number in a manifest's file name: names sort in chain order.
const SEQUENCE_DIGITS: usize = 20;

/// What a manifest's file name says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ManifestName {
    /// `<id>.json`, written by versions before the chain head was compare-and-swapped. Sorts
    /// first: those versions' manifests all precede the first one named by its sequence.
    Legacy(SnapshotId),
    /// `<20-digit sequence>.json`: two writers of the same sequence meet at the same name,
    /// and the create-only write lets exactly one of them commit.
    Sequence(u64),
}

impl ManifestName {
    /// Parses the file name of a manifest (not a signature or anything else).
    pub fn parse(file_name: &str) -> Option<Self> {
        let stem = file_name.strip_suffix(MANIFEST_SUFFIX)?;
        if stem.len() == SEQUENCE_DIGITS && stem.bytes().all(|b| b.is_ascii_digit()) {
            return stem.parse().ok().map(ManifestName::Sequence);
        }
        SnapshotId::parse(stem).map(ManifestName::Legacy)
    }
}

impl fmt::Display for ManifestName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestName::Legacy(id) => write!(f, "{id}{MANIFEST_SUFFIX}"),
            ManifestName::Sequence(sequence) => {
                write!(
                    f,
                    "{sequence:0width$}{MANIFEST_SUFFIX}",
                    width = SEQUENCE_DIGITS
                )
            }
        }
    }
}

impl Layout {
    pub fn new(root: &str, connection: &ConnectionId) -> Self {
        let root = root.trim_matches('/');
        let base = if root.is_empty() {
            connection.to_string()
        } else {
            format!("{root}/{connection}")
        };
        Layout { base }
    }

    pub fn blobs_dir(&self) -> Path {
        Path::from(format!("{}/blobs/sha256", self.base))
    }

    /// Where this version writes the blob of content `sha256` (compressed).
    pub fn blob(&self, sha256: &str) -> Path {
        self.blob_as(sha256, Encoding::Zstd)
    }

    pub fn blob_as(&self, sha256: &str, encoding: Encoding) -> Path {
        Path::from(format!(
            "{}/blobs/sha256/{sha256}{}",
            self.base,
            encoding.suffix()
        ))
    }

    pub fn snapshots_dir(&self) -> Path {
        Path::from(format!("{}/snapshots", self.base))
    }

    pub fn manifest(&self, name: &ManifestName) -> Path {
        Path::from(format!("{}/snapshots/{name}", self.base))
    }

    pub fn signature(&self, id: &SnapshotId) -> Path {
        Path::from(format!("{}/snapshots/{id}{SIGNATURE_SUFFIX}", self.base))
    }

    /// Where this version writes a snapshot's auditor report (compressed).
    pub fn report(&self, id: &SnapshotId) -> Path {
        self.report_as(id, Encoding::Zstd)
    }

    pub fn report_as(&self, id: &SnapshotId, encoding: Encoding) -> Path {
        Path::from(format!(
            "{}/reports/{id}.html{}",
            self.base,
            encoding.suffix()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_time() {
        let t1: jiff::Timestamp = "2026-11-29T03:26:05.123456Z".parse().unwrap();
        let t2: jiff::Timestamp = "2026-11-29T03:26:05.2Z".parse().unwrap();
        let digest = "3f9a0c2b71d4e8a5ffffffffffffffffffffffffffffffffffffffffffffffff";
        let a = SnapshotId::new(t1, digest);
        assert_eq!(a.as_str(), "20261129T032605.123456Z-3f9a0c2b71d4e8a5");
        assert_eq!(SnapshotId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.time(), Some(t1));
        let b = SnapshotId::new(t2, digest);
        assert!(a < b);
        assert_eq!(SnapshotId::parse("20261129T032605Z-3f9a"), None);
        assert_eq!(SnapshotId::parse("nonsense"), None);
    }

    #[test]
    fn manifest_names_are_a_sequence_or_a_legacy_id() {
        let name = ManifestName::Sequence(42);
        assert_eq!(name.to_string(), "00000000000000000042.json");
        assert_eq!(ManifestName::parse(&name.to_string()), Some(name));
        let legacy = "20261129T032605.123456Z-3f9a0c2b71d4e8a5.json";
        let parsed = ManifestName::parse(legacy).unwrap();
        assert_eq!(parsed.to_string(), legacy);
        assert!(parsed < ManifestName::Sequence(0));
        assert_eq!(ManifestName::parse("00000000000000000042.json.sig"), None);
        assert_eq!(ManifestName::parse("42.json"), None);
        assert_eq!(ManifestName::parse("x.json"), None);
    }

    #[test]
    fn connections_are_validated() {
        let c: ConnectionId = "compliance/acme-prod".parse().unwrap();
        assert_eq!(c.to_string(), "compliance/acme-prod");
        assert!("noslash".parse::<ConnectionId>().is_err());
        assert!("a/B".parse::<ConnectionId>().is_err());
        assert!("a/../x".parse::<ConnectionId>().is_err());
        assert!("/x".parse::<ConnectionId>().is_err());
        let layout = Layout::new("evidence/", &c);
        assert_eq!(
            layout.blob("ab").as_ref(),
            "evidence/compliance/acme-prod/blobs/sha256/ab.zst"
        );
        assert_eq!(
            layout.blob_as("ab", Encoding::Identity).as_ref(),
            "evidence/compliance/acme-prod/blobs/sha256/ab"
        );
    }
}
