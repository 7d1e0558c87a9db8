//! Reading stored objects back for the evidence endpoint: a manifest file byte for byte as
//! committed, and a blob's content as a stream (memory stays bounded whatever its size).
//!
//! A blob is served as its content (the NDJSON, decompressed), not as the compressed bytes
//! stored: what an auditor downloads hashes to the digest in its URL with any SHA-256 tool,
//! needs no zstd, and saved as `blobs/sha256/<digest>` beside the manifests it is a store that
//! `verify` checks offline (content stored as is is a valid encoding).

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::ObjectStoreExt;

use super::connection::{ConnectionStore, object_error};
use super::manifest::sha256_hex;
use super::{Result, StoreError};

/// One manifest file as stored: its file name in `snapshots/` and its exact bytes.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    pub file_name: String,
    pub bytes: Bytes,
}

impl ConnectionStore {
    /// The manifest of the snapshot `query` names (as [`resolve`](Self::resolve) finds it),
    /// byte-identical to the committed file and checked against the digest it was read with.
    pub async fn manifest_file(&self, query: &str) -> Result<ManifestFile> {
        let snapshot = self.resolve(query).await?;
        let stored = self
            .manifests()
            .await?
            .into_iter()
            .find(|m| m.id == snapshot.id)
            .ok_or_else(|| StoreError::UnknownSnapshot(query.to_owned()))?;
        let bytes = self.manifest_bytes(&stored.name).await?;
        if sha256_hex(&bytes) != stored.sha256 {
            return Err(StoreError::CorruptBlob {
                path: self.layout.manifest(&stored.name).to_string(),
            });
        }
        Ok(ManifestFile {
            file_name: stored.name.to_string(),
            bytes,
        })
    }

    /// The signature file of the snapshot `query` names, byte for byte, or None when unsigned.
    pub async fn signature_file(&self, query: &str) -> Result<Option<ManifestFile>> {
        let snapshot = self.resolve(query).await?;
        let path = self.layout.signature(&snapshot.id);
        match self.object.get(&path).await {
            Ok(result) => Ok(Some(ManifestFile {
                file_name: path.filename().unwrap_or_default().to_owned(),
                bytes: result.bytes().await.map_err(object_error("read", &path))?,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(object_error("read", &path)(error)),
        }
    }

    /// The content of blob `sha256` as a stream, decompressed as it is read, or None when this
    /// connection has no such blob. The digest is checked at the end: a damaged blob ends the
    /// stream with an error (the response is cut short) instead of completing. The digest must
    /// already be validated (64 lowercase hex characters).
    pub async fn blob_stream(
        &self,
        sha256: &str,
    ) -> Result<Option<BoxStream<'static, Result<Bytes>>>> {
        self.blob_content(sha256).await
    }
}
