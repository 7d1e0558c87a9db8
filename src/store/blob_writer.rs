//! Streaming one blob into the store with bounded memory: the content hashed and counted as
//! written, kept in memory while small and spooled to this process's private spool folder
//! beyond that, then compressed when the blob is finished, one blob at a time in the process (a
//! compressor holds about 2 MiB, and a collection writes every kind at once).

use std::io::Write;

use bytes::Bytes;
use object_store::{ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

use super::connection::{ConnectionStore, count_lines, object_error};
use super::encoding::ZSTD_LEVEL;
use super::manifest::BlobRef;
use super::{Result, StoreError, spool};

/// Blobs whose compressed bytes stay up to this size are uploaded with one create-only PUT
/// from memory; larger ones are spooled to a temporary file while written and uploaded in parts.
/// A collection writes every kind at once, so this bounds its memory: about a hundred KiB per
/// kind, whatever the org's size.
const IN_MEMORY_BLOB: usize = 64 * 1024;
/// S3's smallest part (but the last).
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts buffered per upload: one being sent while the next is read from the spool file.
const PARTS_IN_FLIGHT: usize = 2;

/// Admits one multipart upload at a time in the process: each buffers its parts in memory, and
/// the kinds of a collection finish at about the same time.
static UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Admits one compression at a time in the process.
static COMPRESSIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Where bytes go: memory, then a spool file once they outgrow it.
struct Stored {
    memory: Vec<u8>,
    spool: Option<std::io::BufWriter<tempfile::NamedTempFile>>,
}

impl Write for Stored {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Some(spool) = &mut self.spool {
            return spool.write(data);
        }
        self.memory.extend_from_slice(data);
        if self.memory.len() > IN_MEMORY_BLOB {
            let dir = spool::own_dir()?;
            let file = tempfile::NamedTempFile::new_in(&dir)?;
            let mut spool = std::io::BufWriter::with_capacity(64 * 1024, file);
            spool.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.spool = Some(spool);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.spool {
            Some(spool) => spool.flush(),
            None => Ok(()),
        }
    }
}

impl Stored {
    fn new() -> Self {
        Stored {
            memory: Vec::new(),
            spool: None,
        }
    }

    /// The bytes written, compressed into a new `Stored`. Blocking (reads the spool file).
    fn compressed(self) -> std::io::Result<Stored> {
        let mut encoder = zstd::stream::write::Encoder::new(Stored::new(), ZSTD_LEVEL)?;
        match self.spool {
            None => encoder.write_all(&self.memory)?,
            Some(spool) => {
                let file = spool.into_inner().map_err(|error| error.into_error())?;
                let mut reader = std::io::BufReader::with_capacity(64 * 1024, file.reopen()?);
                std::io::copy(&mut reader, &mut encoder)?;
            }
        }
        let mut compressed = encoder.finish()?;
        compressed.flush()?;
        Ok(compressed)
    }
}

/// Streams one blob: hashed and counted as written, compressed and stored (once) by
/// [`finish`](BlobWriter::finish) at `blobs/sha256/<content digest>.zst`.
pub struct BlobWriter {
    store: ConnectionStore,
    content: Stored,
    hasher: Sha256,
    bytes: u64,
    records: u64,
}

impl BlobWriter {
    pub(super) fn new(store: ConnectionStore) -> Self {
        BlobWriter {
            store,
            content: Stored::new(),
            hasher: Sha256::new(),
            bytes: 0,
            records: 0,
        }
    }

    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        self.records += count_lines(data);
        self.content.write_all(data).map_err(local_error)
    }

    /// Content bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub async fn finish(self) -> Result<BlobRef> {
        let blob = BlobRef {
            sha256: hex::encode(self.hasher.finalize()),
            bytes: self.bytes,
            records: self.records,
        };
        if self.store.has_blob(&blob.sha256).await? {
            return Ok(blob);
        }
        let stored = {
            // The semaphore is never closed.
            let _turn = COMPRESSIONS.acquire().await.ok();
            let content = self.content;
            tokio::task::spawn_blocking(move || content.compressed())
                .await
                .map_err(|error| local_error(std::io::Error::other(error.to_string())))?
                .map_err(local_error)?
        };
        let path = self.store.layout.blob(&blob.sha256);
        let Some(spool) = stored.spool else {
            self.store
                .put_stored(&path, Bytes::from(stored.memory))
                .await?;
            return Ok(blob);
        };
        let file = spool
            .into_inner()
            .map_err(|error| local_error(error.into_error()))?;
        let mut reader = tokio::fs::File::from_std(file.reopen().map_err(local_error)?);
        // The semaphore is never closed.
        let _turn = UPLOADS.acquire().await.ok();
        let upload = self
            .store
            .object
            .put_multipart(&path)
            .await
            .map_err(object_error("write", &path))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            use tokio::io::AsyncReadExt;
            let read = reader.read(&mut buffer).await.map_err(local_error)?;
            if read == 0 {
                break;
            }
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(object_error("write", &path))?;
            writer.write(&buffer[..read]);
        }
        writer
            .finish()
            .await
            .map_err(object_error("write", &path))?;
        drop(file);
        Ok(blob)
    }
}

fn local_error(source: std::io::Error) -> StoreError {
    StoreError::Local {
        path: spool::describe(),
        source,
    }
}
