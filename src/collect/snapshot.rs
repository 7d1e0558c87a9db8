//! Where a collection is written. The collector only talks to [`SnapshotSink`] and
//! [`KindSink`] (the evidence store implements them), so collection knows nothing of blobs,
//! manifests or object storage; a [`BeforeCommit`] step (evaluating the controls) runs between
//! the last kind written and the commit.

use std::future::Future;

use super::{CollectError, Manifest, ManifestOrg};

/// What was written for one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Where the records went (a blob path, a file name).
    pub file: String,
    pub records: u64,
    pub sha256: String,
    pub bytes: u64,
}

/// A snapshot being written. Dropping it without [`SnapshotSink::commit`] discards everything
/// written so far: a failed collection publishes nothing.
pub trait SnapshotSink: Sync {
    type Kind: KindSink + Send;
    /// Everything written, described by the manifest, not yet published: what a
    /// [`BeforeCommit`] step reads and adds to.
    type Staged: Send;
    /// What a commit produces (the stored snapshot).
    type Committed: Send;

    /// Called once the key's organization is known, before any evidence is written. Returns
    /// the time up to which Directory Insights events are already stored, if any: collection
    /// continues from there instead of re-reading the whole window.
    fn begin(&mut self, org: &ManifestOrg) -> Result<Option<jiff::Timestamp>, CollectError>;

    /// Where the stored history of an incrementally collected kind other than the Directory
    /// Insights events ends (policy results): collection continues from there. `None`: nothing
    /// stored, read the whole first window.
    fn history_end(&self, _kind: &str) -> Option<jiff::Timestamp> {
        None
    }

    /// Opens the NDJSON stream of one evidence kind.
    fn open_kind(
        &self,
        kind: &str,
    ) -> impl Future<Output = Result<Self::Kind, CollectError>> + Send;

    /// Describes what was written with the manifest; publishes nothing.
    fn stage(&self, manifest: &Manifest) -> Result<Self::Staged, CollectError>;

    /// Writes the manifest last and publishes the staged snapshot atomically.
    fn commit(
        self,
        staged: Self::Staged,
    ) -> impl Future<Output = Result<Self::Committed, CollectError>> + Send;
}

/// A step of the collection after every kind is written and before the commit, on the staged
/// snapshot (`T`, a sink's [`SnapshotSink::Staged`]): it reads it and may add to what the commit
/// publishes. A failure fails the collection, which then publishes nothing.
pub trait BeforeCommit<T>: Sync {
    fn before_commit(
        &self,
        staged: &mut T,
    ) -> impl Future<Output = Result<(), CollectError>> + Send;
}

/// No step: the snapshot is committed as collected.
pub struct CommitAsCollected;

impl<T: Send> BeforeCommit<T> for CommitAsCollected {
    async fn before_commit(&self, _: &mut T) -> Result<(), CollectError> {
        Ok(())
    }
}

/// The record stream of one kind.
pub trait KindSink {
    /// Appends one JSON value (it becomes one NDJSON line, see [`one_line`]).
    fn write_record(
        &mut self,
        json: &[u8],
    ) -> impl Future<Output = Result<(), CollectError>> + Send;

    fn finish(self) -> impl Future<Output = Result<WrittenFile, CollectError>> + Send;
}

/// A JSON value on one line. JSON strings cannot hold raw line breaks, so any CR or LF byte is
/// insignificant whitespace between tokens (a pretty-printing server) and becomes a space;
/// everything else is kept byte for byte.
pub fn one_line(json: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if json.iter().any(|b| matches!(b, b'\n' | b'\r')) {
        std::borrow::Cow::Owned(
            json.iter()
                .map(|b| if matches!(b, b'\n' | b'\r') { b' ' } else { *b })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_records_become_single_lines_with_the_same_value() {
        let pretty = b"{\n  \"a\": \"x y\",\r\n  \"b\": [1,\n 2]\n}";
        let line = one_line(pretty);
        assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
        let before: serde_json::Value = serde_json::from_slice(pretty).unwrap();
        let after: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(before, after);
        assert!(matches!(
            one_line(b"{\"a\":1}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
