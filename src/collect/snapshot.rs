//! Where a collection is written. The collector only talks to [`SnapshotSink`] and
//! [`KindSink`], so the evidence store (object storage, content-addressed blobs) can replace the
//! directory writer without touching collection.

use std::future::Future;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use super::{CollectError, Manifest};

/// File name of the manifest inside a snapshot directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What was written for one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub file: String,
    pub records: u64,
    pub sha256: String,
    pub bytes: u64,
}

/// A snapshot being written. Dropping it without [`SnapshotSink::commit`] discards everything
/// written so far: a failed collection leaves nothing behind.
pub trait SnapshotSink: Sync {
    type Kind: KindSink + Send;

    /// Opens the NDJSON stream of one evidence kind.
    fn open_kind(
        &self,
        kind: &str,
    ) -> impl Future<Output = Result<Self::Kind, CollectError>> + Send;

    /// Writes the manifest last and publishes the snapshot atomically.
    fn commit(
        self,
        manifest: &Manifest,
    ) -> impl Future<Output = Result<PathBuf, CollectError>> + Send;
}

/// The record stream of one kind.
pub trait KindSink {
    /// Appends one JSON value (it becomes one NDJSON line).
    fn write_record(
        &mut self,
        json: &[u8],
    ) -> impl Future<Output = Result<(), CollectError>> + Send;

    fn finish(self) -> impl Future<Output = Result<WrittenFile, CollectError>> + Send;
}

/// Writes a snapshot as a directory: `<kind>.ndjson` files and `manifest.json`, built in a hidden
/// temporary directory next to the target and renamed into place only when complete.
pub struct DirSnapshot {
    target: PathBuf,
    temp: tempfile::TempDir,
}

impl DirSnapshot {
    /// Prepares writing into `target`, which must not exist, be empty, or hold a previous
    /// snapshot (which is replaced only on success).
    pub fn create(target: &Path) -> Result<Self, CollectError> {
        check_target(target)?;
        let parent = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|source| CollectError::Io {
            path: parent.clone(),
            source,
        })?;
        let temp = tempfile::Builder::new()
            .prefix(".jumpcloud-snapshot-")
            .tempdir_in(&parent)
            .map_err(|source| CollectError::Io {
                path: parent.clone(),
                source,
            })?;
        Ok(DirSnapshot {
            target: target.to_path_buf(),
            temp,
        })
    }
}

fn check_target(target: &Path) -> Result<(), CollectError> {
    if !target.exists() {
        return Ok(());
    }
    if !target.is_dir() {
        return Err(CollectError::Target(format!(
            "{} exists and is not a directory; choose another --out",
            target.display()
        )));
    }
    let io = |source| CollectError::Io {
        path: target.to_path_buf(),
        source,
    };
    let empty = std::fs::read_dir(target).map_err(io)?.next().is_none();
    if empty || target.join(MANIFEST_FILE).is_file() {
        Ok(())
    } else {
        Err(CollectError::Target(format!(
            "{} is a non-empty directory that is not a snapshot; choose another --out",
            target.display()
        )))
    }
}

impl SnapshotSink for DirSnapshot {
    type Kind = FileKind;

    async fn open_kind(&self, kind: &str) -> Result<FileKind, CollectError> {
        let file = format!("{kind}.ndjson");
        let path = self.temp.path().join(&file);
        let handle = tokio::fs::File::create(&path)
            .await
            .map_err(|source| CollectError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(FileKind {
            file,
            path,
            writer: BufWriter::with_capacity(64 * 1024, handle),
            hasher: Sha256::new(),
            records: 0,
            bytes: 0,
        })
    }

    async fn commit(self, manifest: &Manifest) -> Result<PathBuf, CollectError> {
        let manifest_path = self.temp.path().join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(manifest).map_err(CollectError::Manifest)?;
        write_synced(&manifest_path, &json).await?;
        let DirSnapshot { target, temp } = self;
        let staged = temp.keep();
        let publish = || -> std::io::Result<()> {
            if target.exists() {
                // The target was checked at creation: empty, or a previous snapshot.
                let previous = target.with_file_name(format!(
                    ".jumpcloud-snapshot-old-{}",
                    staged
                        .file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ));
                std::fs::rename(&target, &previous)?;
                std::fs::rename(&staged, &target)?;
                std::fs::remove_dir_all(&previous)
            } else {
                std::fs::rename(&staged, &target)
            }
        };
        match publish() {
            Ok(()) => Ok(target),
            Err(source) => {
                let _ = std::fs::remove_dir_all(&staged);
                Err(CollectError::Io {
                    path: target,
                    source,
                })
            }
        }
    }
}

async fn write_synced(path: &Path, contents: &[u8]) -> Result<(), CollectError> {
    let io = |source| CollectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = tokio::fs::File::create(path).await.map_err(io)?;
    file.write_all(contents).await.map_err(io)?;
    file.sync_all().await.map_err(io)
}

/// One kind's NDJSON file, hashed and counted as it is written.
pub struct FileKind {
    file: String,
    path: PathBuf,
    writer: BufWriter<tokio::fs::File>,
    hasher: Sha256,
    records: u64,
    bytes: u64,
}

impl KindSink for FileKind {
    async fn write_record(&mut self, json: &[u8]) -> Result<(), CollectError> {
        let line = one_line(json);
        let io = |source| CollectError::Io {
            path: self.path.clone(),
            source,
        };
        self.writer.write_all(&line).await.map_err(io)?;
        self.writer.write_all(b"\n").await.map_err(io)?;
        self.hasher.update(&line);
        self.hasher.update(b"\n");
        self.records += 1;
        self.bytes += line.len() as u64 + 1;
        Ok(())
    }

    async fn finish(mut self) -> Result<WrittenFile, CollectError> {
        let io = |source| CollectError::Io {
            path: self.path.clone(),
            source,
        };
        self.writer.flush().await.map_err(io)?;
        self.writer.get_mut().sync_all().await.map_err(io)?;
        Ok(WrittenFile {
            file: self.file,
            records: self.records,
            sha256: hex::encode(self.hasher.finalize()),
            bytes: self.bytes,
        })
    }
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
