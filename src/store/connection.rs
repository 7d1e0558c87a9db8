//! Opening a store by URL, writing blobs and committing snapshots, reading them back.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use sha2::{Digest, Sha256};

use super::blob_writer::BlobWriter;
use super::encoding::{self, Encoding};
use super::events::EventsState;
use super::layout::{ConnectionId, Layout, ManifestName, SnapshotId, to_micros};
use super::manifest::{
    BlobRef, PreviousSnapshot, SNAPSHOT_FORMAT, SnapshotIndex, SnapshotManifest, StoredKind,
    check_format, sha256_hex,
};
use super::retention::{self, RetentionPolicy};
use super::sign::{SignatureFile, SigningKey};
use super::{Result, StoreError, private, spool};

/// An evidence store (local directory or S3-compatible bucket), opened from a URL.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    object: Arc<dyn ObjectStore>,
    root: String,
    url: String,
}

pub(crate) fn object_error(
    operation: &'static str,
    path: &Path,
) -> impl FnOnce(object_store::Error) -> StoreError {
    let path = path.to_string();
    move |source| StoreError::Object {
        operation,
        path,
        source,
    }
}

impl EvidenceStore {
    /// Opens `file:///abs/dir`, a plain directory path, or `s3://bucket[/prefix]` (credentials
    /// and endpoint from the standard `AWS_*` environment: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// `AWS_ALLOW_HTTP`, web identity and instance metadata).
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with_options(url, std::iter::empty::<(String, String)>())
    }

    /// Like [`open`](Self::open), with S3 settings (`aws_endpoint`, `aws_access_key_id`, ...)
    /// applied over the environment.
    pub fn open_with_options(
        url: &str,
        options: impl IntoIterator<Item = (impl AsRef<str>, impl Into<String>)>,
    ) -> Result<Self> {
        Self::open_as(url, options, true)
    }

    /// Opens a store to read it (`verify`, `report`, `snapshots`, `diff`): a local directory
    /// must exist, so a mistyped path is an error rather than an empty store created there.
    pub fn open_existing(url: &str) -> Result<Self> {
        Self::open_as(url, std::iter::empty::<(String, String)>(), false)
    }

    fn open_as(
        url: &str,
        options: impl IntoIterator<Item = (impl AsRef<str>, impl Into<String>)>,
        create: bool,
    ) -> Result<Self> {
        spool::sweep_once();
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("no bucket; use s3://bucket/prefix"));
            }
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            for (key, value) in options {
                let key = key
                    .as_ref()
                    .parse()
                    .map_err(|_| invalid(&format!("unknown S3 option `{}`", key.as_ref())))?;
                builder = builder.with_config(key, value);
            }
            let object = builder.build().map_err(|source| StoreError::Open {
                url: url.to_owned(),
                source,
            })?;
            return Ok(EvidenceStore {
                object: Arc::new(object),
                root: prefix.trim_matches('/').to_owned(),
                url: url.to_owned(),
            });
        }
        let dir = if url.starts_with("file:") {
            url::Url::parse(url)
                .ok()
                .and_then(|parsed| parsed.to_file_path().ok())
                .ok_or_else(|| invalid("use file:///absolute/path"))?
        } else if url.contains("://") {
            return Err(invalid(
                "supported: file:///absolute/path, s3://bucket/prefix",
            ));
        } else {
            std::path::PathBuf::from(url)
        };
        if !create && !dir.is_dir() {
            return Err(StoreError::NoStore {
                url: url.to_owned(),
            });
        }
        private::restrict_umask();
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Local {
            path: dir.display().to_string(),
            source,
        })?;
        // fsync of files and their directories: a commit reported done survives power loss.
        let object = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|source| StoreError::Open {
                url: url.to_owned(),
                source,
            })?
            .with_fsync(true);
        Ok(EvidenceStore {
            object: Arc::new(object),
            root: String::new(),
            url: url.to_owned(),
        })
    }

    /// A store over any object store (wrappers for tests and fault injection).
    pub fn from_object_store(object: Arc<dyn ObjectStore>, root: &str, label: &str) -> Self {
        EvidenceStore {
            object,
            root: root.trim_matches('/').to_owned(),
            url: label.to_owned(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.object.clone()
    }

    pub fn connection(&self, connection: &ConnectionId) -> ConnectionStore {
        ConnectionStore {
            object: self.object.clone(),
            layout: Layout::new(&self.root, connection),
            connection: connection.clone(),
        }
    }

    /// Every connection that has written anything.
    pub async fn connections(&self) -> Result<Vec<ConnectionId>> {
        let root = (!self.root.is_empty()).then(|| Path::from(self.root.as_str()));
        let namespaces = self
            .object
            .list_with_delimiter(root.as_ref())
            .await
            .map_err(object_error("list", &root.clone().unwrap_or_default()))?;
        let mut connections = Vec::new();
        for namespace in namespaces.common_prefixes {
            let names = self
                .object
                .list_with_delimiter(Some(&namespace))
                .await
                .map_err(object_error("list", &namespace))?;
            for name in names.common_prefixes {
                if let (Some(ns), Some(n)) = (namespace.filename(), name.filename())
                    && let Ok(id) = ConnectionId::new(ns, n)
                {
                    connections.push(id);
                }
            }
        }
        connections.sort();
        Ok(connections)
    }
}

/// One connection's part of the store.
#[derive(Debug, Clone)]
pub struct ConnectionStore {
    pub(crate) object: Arc<dyn ObjectStore>,
    pub(crate) layout: Layout,
    connection: ConnectionId,
}

/// A committed snapshot as read back.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: SnapshotId,
    /// SHA-256 of the manifest bytes.
    pub sha256: String,
    pub manifest: SnapshotManifest,
    pub index: SnapshotIndex,
}

impl Snapshot {
    pub fn kind(&self, name: &str) -> Option<&StoredKind> {
        self.index.kinds.iter().find(|kind| kind.kind == name)
    }

    /// Every blob the snapshot references (its index, control results and evidence).
    pub fn blob_digests(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.manifest.index.sha256.as_str())
            .chain(self.manifest.controls.iter().map(|b| b.sha256.as_str()))
            .chain(self.index.blob_digests())
    }
}

/// What `snapshots` lists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotSummary {
    pub id: String,
    pub created_at: jiff::Timestamp,
    pub sha256: String,
    pub sequence: u64,
    pub signed: bool,
    /// Records per kind (a JSON object, `{"users": 60, ...}`).
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// One kind of a snapshot about to be committed.
#[derive(Debug, Clone)]
pub struct KindDraft {
    pub kind: String,
    pub status: String,
    pub blobs: Vec<BlobRef>,
}

/// A snapshot about to be committed: its blobs are already stored.
#[derive(Debug, Clone, Default)]
pub struct SnapshotDraft {
    pub kinds: Vec<KindDraft>,
    pub events: Option<EventsState>,
    pub events_since: Option<jiff::Timestamp>,
    /// Control results, already stored as a blob.
    pub controls: Option<BlobRef>,
    /// Facts that change every sync (org, region, key fingerprint, times): in the manifest.
    pub collection: serde_json::Value,
    /// Per-kind details of the collection (endpoints, totals): in the shared index.
    pub sources: serde_json::Value,
    /// Retention to decide with this commit: the manifest records the snapshots it retires,
    /// [`retention::apply_retention`] deletes them after the commit.
    pub retention: Option<RetentionPolicy>,
}

/// A manifest as stored, checked against its name, without the index it references.
#[derive(Debug, Clone)]
pub(crate) struct StoredManifest {
    pub name: ManifestName,
    pub id: SnapshotId,
    pub sha256: String,
    pub manifest: SnapshotManifest,
}

pub(crate) fn is_already_exists(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::AlreadyExists { .. })
}

pub(super) fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

impl SnapshotIndex {
    /// The index of a draft's kinds: totals from their blobs, sorted by kind.
    pub fn of(kinds: Vec<KindDraft>, sources: serde_json::Value) -> Self {
        let mut kinds: Vec<StoredKind> = kinds
            .into_iter()
            .map(|kind| StoredKind {
                records: kind.blobs.iter().map(|b| b.records).sum(),
                bytes: kind.blobs.iter().map(|b| b.bytes).sum(),
                kind: kind.kind,
                status: kind.status,
                blobs: kind.blobs,
            })
            .collect();
        kinds.sort_by(|a, b| a.kind.cmp(&b.kind));
        SnapshotIndex { kinds, sources }
    }
}

impl ConnectionStore {
    pub fn connection(&self) -> &ConnectionId {
        &self.connection
    }

    /// Stores `bytes` (the content) as a compressed blob, once: a blob of that content already
    /// there, in either encoding, is kept.
    pub async fn put_blob(&self, bytes: Bytes) -> Result<BlobRef> {
        let sha256 = sha256_hex(&bytes);
        let blob = BlobRef {
            bytes: bytes.len() as u64,
            records: count_lines(&bytes),
            sha256,
        };
        if self.has_blob(&blob.sha256).await? {
            return Ok(blob);
        }
        let path = self.layout.blob(&blob.sha256);
        let stored = encoding::compress(&bytes).map_err(|source| StoreError::Local {
            path: path.to_string(),
            source,
        })?;
        self.put_stored(&path, Bytes::from(stored)).await?;
        Ok(blob)
    }

    /// Writes a blob's stored bytes with one create-only PUT (a blob already there has the
    /// same content: it is kept).
    pub(super) async fn put_stored(&self, path: &Path, stored: Bytes) -> Result<()> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .object
            .put_opts(path, PutPayload::from_bytes(stored), options)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_already_exists(&error) => Ok(()),
            Err(error) => Err(object_error("write", path)(error)),
        }
    }

    pub(super) async fn blob_exists(&self, path: &Path) -> Result<bool> {
        match self.object.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(object_error("read", path)(error)),
        }
    }

    /// Whether the blob of content `sha256` is stored, in any encoding.
    pub(super) async fn has_blob(&self, sha256: &str) -> Result<bool> {
        for encoding in Encoding::ALL {
            if self
                .blob_exists(&self.layout.blob_as(sha256, encoding))
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A streaming blob writer: memory stays bounded whatever the size.
    pub fn blob_writer(&self) -> BlobWriter {
        BlobWriter::new(self.clone())
    }

    /// The content of blob `sha256` as a stream, decompressed as it is read and checked
    /// against the digest at its end (the last item is an error when it does not match), or
    /// `None` when no encoding of it is stored. The compressed blob is looked for first.
    pub async fn blob_content(
        &self,
        sha256: &str,
    ) -> Result<Option<BoxStream<'static, Result<Bytes>>>> {
        for encoding in Encoding::ALL {
            let path = self.layout.blob_as(sha256, encoding);
            match self.object.get(&path).await {
                Ok(result) => {
                    let content =
                        encoding::content_stream(result.into_stream(), path.clone(), encoding);
                    return Ok(Some(checked(content, path, sha256.to_owned())));
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(object_error("read", &path)(error)),
            }
        }
        Ok(None)
    }

    /// [`blob_content`](Self::blob_content), a missing blob an error.
    async fn existing_content(&self, sha256: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        match self.blob_content(sha256).await? {
            Some(content) => Ok(content),
            None => {
                let path = self.layout.blob(sha256);
                Err(StoreError::Object {
                    operation: "read",
                    path: path.to_string(),
                    source: object_store::Error::NotFound {
                        path: path.to_string(),
                        source: "no blob of this digest, compressed or not".into(),
                    },
                })
            }
        }
    }

    /// The content of blob `sha256` (decompressed), checked against its digest.
    pub async fn read_blob(&self, sha256: &str) -> Result<Bytes> {
        let mut content = self.existing_content(sha256).await?;
        let mut all = Vec::new();
        while let Some(piece) = content.try_next().await? {
            all.extend_from_slice(&piece);
        }
        Ok(Bytes::from(all))
    }

    /// Checks that every blob the snapshot references is there and matches its digest,
    /// streaming (memory stays bounded): a report is never rendered from incomplete evidence.
    pub async fn check_blobs(&self, snapshot: &Snapshot) -> Result<()> {
        let digests: BTreeSet<&str> = snapshot.blob_digests().collect();
        for digest in digests {
            let Some(mut content) = self.blob_content(digest).await? else {
                return Err(StoreError::MissingBlob {
                    path: self.layout.blob(digest).to_string(),
                    snapshot: snapshot.id.to_string(),
                });
            };
            while content.try_next().await?.is_some() {}
        }
        Ok(())
    }

    /// The NDJSON content of one kind streamed in pieces, blob after blob, each blob
    /// decompressed as it is read and checked against its digest when it ends: memory stays
    /// bounded whatever the kind's size. A consumer must discard what it built from the
    /// pieces when an error arrives.
    pub fn kind_chunks<'a>(&'a self, kind: &'a StoredKind) -> BoxStream<'a, Result<Bytes>> {
        futures::stream::iter(kind.blobs.iter())
            .then(move |blob| self.existing_content(&blob.sha256))
            .try_flatten()
            .boxed()
    }

    /// The NDJSON of one kind (its blobs' content concatenated), each blob checked against its
    /// digest.
    pub async fn read_kind(&self, kind: &StoredKind) -> Result<Vec<u8>> {
        let mut all = Vec::with_capacity(kind.bytes as usize);
        for blob in &kind.blobs {
            all.extend_from_slice(&self.read_blob(&blob.sha256).await?);
        }
        Ok(all)
    }

    /// Manifest file names in chain order: those of earlier versions (`<id>.json`) by time,
    /// then those named by their sequence.
    pub(crate) async fn manifest_names(&self) -> Result<Vec<ManifestName>> {
        let dir = self.layout.snapshots_dir();
        let objects: Vec<_> = self
            .object
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(object_error("list", &dir))?;
        let mut names: Vec<ManifestName> = objects
            .iter()
            .filter_map(|meta| meta.location.filename())
            .filter_map(ManifestName::parse)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Raw manifest bytes.
    pub(crate) async fn manifest_bytes(&self, name: &ManifestName) -> Result<Bytes> {
        let path = self.layout.manifest(name);
        self.object
            .get(&path)
            .await
            .map_err(object_error("read", &path))?
            .bytes()
            .await
            .map_err(object_error("read", &path))
    }

    /// One manifest, checked against its name: a legacy name carries the digest prefix, a
    /// sequence name the sequence.
    pub(crate) async fn read_manifest(&self, name: &ManifestName) -> Result<StoredManifest> {
        let bytes = self.manifest_bytes(name).await?;
        let path = self.layout.manifest(name).to_string();
        let bad = |reason: String| StoreError::BadManifest {
            path: path.clone(),
            reason,
        };
        let manifest: SnapshotManifest =
            serde_json::from_slice(&bytes).map_err(|error| bad(error.to_string()))?;
        // Fail closed: a layout this version does not know could mean anything.
        check_format(&manifest.format).map_err(&bad)?;
        let sha256 = sha256_hex(&bytes);
        let id = match name {
            ManifestName::Legacy(id) if !sha256.starts_with(id.digest_prefix()) => {
                return Err(bad(
                    "content does not match the digest in its name".to_owned()
                ));
            }
            ManifestName::Legacy(id) => id.clone(),
            ManifestName::Sequence(sequence) if *sequence != manifest.sequence => {
                return Err(bad(format!(
                    "holds sequence {}, its name says {sequence}",
                    manifest.sequence
                )));
            }
            ManifestName::Sequence(_) => SnapshotId::new(manifest.created_at, &sha256),
        };
        Ok(StoredManifest {
            name: name.clone(),
            id,
            sha256,
            manifest,
        })
    }

    /// Every manifest, in chain order (a few read at a time).
    pub(crate) async fn manifests(&self) -> Result<Vec<StoredManifest>> {
        let names = self.manifest_names().await?;
        let reads = names.into_iter().map(|name| {
            let store = self.clone();
            async move { store.read_manifest(&name).await }
        });
        futures::stream::iter(reads)
            .buffered(16)
            .try_collect()
            .await
    }

    pub(crate) async fn with_index(&self, stored: StoredManifest) -> Result<Snapshot> {
        let index = self.read_index(&stored.manifest.index).await?;
        Ok(Snapshot {
            id: stored.id,
            sha256: stored.sha256,
            manifest: stored.manifest,
            index,
        })
    }

    /// Snapshot ids in chain order, oldest first.
    pub async fn list_snapshots(&self) -> Result<Vec<SnapshotId>> {
        Ok(self.manifests().await?.into_iter().map(|m| m.id).collect())
    }

    pub async fn load(&self, id: &SnapshotId) -> Result<Snapshot> {
        let found = self.manifests().await?.into_iter().find(|m| &m.id == id);
        match found {
            Some(stored) => self.with_index(stored).await,
            None => Err(StoreError::UnknownSnapshot(id.to_string())),
        }
    }

    pub(crate) async fn read_index(&self, blob: &BlobRef) -> Result<SnapshotIndex> {
        let bytes = self.read_blob(&blob.sha256).await?;
        serde_json::from_slice(&bytes).map_err(|error| StoreError::BadManifest {
            path: self.layout.blob(&blob.sha256).to_string(),
            reason: format!("snapshot index: {error}"),
        })
    }

    /// The head of the chain: the last good sync. Reads one manifest, whatever the history.
    pub async fn latest(&self) -> Result<Option<Snapshot>> {
        match self.manifest_names().await?.last() {
            Some(name) => {
                let stored = self.read_manifest(name).await?;
                self.with_index(stored).await.map(Some)
            }
            None => Ok(None),
        }
    }

    /// Finds a snapshot by id, id prefix, or manifest digest prefix (with or without `sha256:`).
    pub async fn resolve(&self, query: &str) -> Result<Snapshot> {
        let manifests = self.manifests().await?;
        if let Some(exact) = manifests.iter().find(|m| m.id.as_str() == query) {
            return self.with_index(exact.clone()).await;
        }
        let digest = query.strip_prefix("sha256:").unwrap_or(query);
        let by_id: Vec<&StoredManifest> = manifests
            .iter()
            .filter(|m| m.id.as_str().starts_with(query))
            .collect();
        let mut found: Vec<&StoredManifest> = if by_id.is_empty() && digest.len() >= 4 {
            manifests
                .iter()
                .filter(|m| m.sha256.starts_with(digest))
                .collect()
        } else {
            by_id
        };
        match found.len() {
            0 => Err(StoreError::UnknownSnapshot(query.to_owned())),
            1 => self.with_index(found.remove(0).clone()).await,
            _ => Err(StoreError::AmbiguousSnapshot(query.to_owned())),
        }
    }

    /// Stores the auditor report of a committed snapshot, compressed (replacing an earlier
    /// rendering). An org L report is megabytes of HTML, one per snapshot: compressed it is a
    /// small part of the store.
    pub async fn put_report(&self, id: &SnapshotId, html: String) -> Result<()> {
        let path = self.layout.report(id);
        let stored = encoding::compress(html.as_bytes()).map_err(|source| StoreError::Local {
            path: path.to_string(),
            source,
        })?;
        self.object
            .put(&path, PutPayload::from(stored))
            .await
            .map(|_| ())
            .map_err(object_error("write", &path))
    }

    /// The stored auditor report of a snapshot (decompressed), if one was written; earlier
    /// versions stored it as is.
    pub async fn read_report(&self, id: &SnapshotId) -> Result<Option<Bytes>> {
        for encoding in Encoding::ALL {
            let path = self.layout.report_as(id, encoding);
            match self.object.get(&path).await {
                Ok(result) => {
                    let mut content =
                        encoding::content_stream(result.into_stream(), path, encoding);
                    let mut all = Vec::new();
                    while let Some(piece) = content.try_next().await? {
                        all.extend_from_slice(&piece);
                    }
                    return Ok(Some(Bytes::from(all)));
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(object_error("read", &path)(error)),
            }
        }
        Ok(None)
    }

    pub async fn is_signed(&self, id: &SnapshotId) -> Result<bool> {
        self.blob_exists(&self.layout.signature(id)).await
    }

    pub async fn read_signature(&self, id: &SnapshotId) -> Result<Option<SignatureFile>> {
        let path = self.layout.signature(id);
        match self.object.get(&path).await {
            Ok(result) => {
                let bytes = result.bytes().await.map_err(object_error("read", &path))?;
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|error| StoreError::BadManifest {
                        path: path.to_string(),
                        reason: error.to_string(),
                    })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(object_error("read", &path)(error)),
        }
    }

    /// Summaries of every snapshot, oldest first.
    pub async fn summaries(&self) -> Result<Vec<SnapshotSummary>> {
        let mut out = Vec::new();
        for stored in self.manifests().await? {
            let signed = self.is_signed(&stored.id).await?;
            let snapshot = self.with_index(stored).await?;
            out.push(SnapshotSummary {
                signed,
                id: snapshot.id.to_string(),
                created_at: snapshot.manifest.created_at,
                sha256: snapshot.sha256,
                sequence: snapshot.manifest.sequence,
                counts: snapshot
                    .index
                    .kinds
                    .iter()
                    .map(|kind| (kind.kind.clone(), kind.records))
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Commits a snapshot after the current head of the chain (see [`commit_after`]).
    ///
    /// [`commit_after`]: Self::commit_after
    pub async fn commit(
        &self,
        draft: SnapshotDraft,
        signer: Option<&SigningKey>,
        now: jiff::Timestamp,
    ) -> Result<Snapshot> {
        let head = self.latest().await?;
        self.commit_after(head.as_ref(), draft, signer, now).await
    }

    /// Commits a snapshot whose blobs are stored as the successor of `previous` (the head the
    /// draft was built on): writes the (optional) signature, then the manifest with one
    /// create-only write at the name of its sequence. That write is the compare-and-swap of
    /// the chain head: when another writer committed that sequence first, nothing is committed
    /// and the error is [`StoreError::Conflict`]; the chain never forks. Until that write
    /// nothing of the sync is visible; the signature is named by the manifest's digest, so one
    /// left by a crashed writer blocks no one.
    pub async fn commit_after(
        &self,
        previous: Option<&Snapshot>,
        draft: SnapshotDraft,
        signer: Option<&SigningKey>,
        now: jiff::Timestamp,
    ) -> Result<Snapshot> {
        // Every referenced blob must exist: a manifest never points at nothing.
        let mut checked = BTreeSet::new();
        let evidence = draft.kinds.iter().flat_map(|kind| kind.blobs.iter());
        for blob in evidence.chain(draft.controls.iter()) {
            if checked.insert(blob.sha256.clone()) {
                let path = self.layout.blob(&blob.sha256);
                if !self.has_blob(&blob.sha256).await? {
                    return Err(StoreError::Object {
                        operation: "commit",
                        path: path.to_string(),
                        source: object_store::Error::NotFound {
                            path: path.to_string(),
                            source: "blob referenced by the new manifest is missing".into(),
                        },
                    });
                }
            }
        }
        let mut created_at = to_micros(now);
        if let Some(previous) = previous
            && created_at <= previous.manifest.created_at
        {
            // Ids must sort in chain order even if the clock went back.
            created_at = previous.manifest.created_at + jiff::SignedDuration::from_micros(1);
        }
        let sequence = previous.map_or(0, |p| p.manifest.sequence + 1);
        let retention = match &draft.retention {
            Some(policy) => {
                let chain = self.manifests().await?;
                retention::record(&chain, previous, policy, now)
            }
            None => None,
        };
        let index = SnapshotIndex::of(draft.kinds, draft.sources);
        let mut index_bytes = serde_json::to_vec(&index).map_err(StoreError::Serialise)?;
        index_bytes.push(b'\n');
        let index_blob = self.put_blob(Bytes::from(index_bytes)).await?;
        let manifest = SnapshotManifest {
            format: SNAPSHOT_FORMAT.to_owned(),
            connection: self.connection.to_string(),
            sequence,
            created_at,
            previous: previous.map(|p| PreviousSnapshot {
                id: p.id.to_string(),
                sha256: p.sha256.clone(),
            }),
            index: index_blob,
            events: draft.events,
            events_since: draft.events_since,
            controls: draft.controls,
            collection: draft.collection,
            retention,
        };
        let mut bytes = serde_json::to_vec(&manifest).map_err(StoreError::Serialise)?;
        bytes.push(b'\n');
        let sha256 = sha256_hex(&bytes);
        let id = SnapshotId::new(created_at, &sha256);
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        if let Some(signer) = signer {
            let signature = signer.sign(&sha256);
            let json = serde_json::to_vec_pretty(&signature).map_err(StoreError::Serialise)?;
            let path = self.layout.signature(&id);
            match self
                .object
                .put_opts(&path, PutPayload::from(json), create.clone())
                .await
            {
                // The same manifest bytes signed before by a run that died before its commit:
                // the same content, so the same signature of the same key is already there.
                Ok(_) => {}
                Err(error) if is_already_exists(&error) => {}
                Err(error) => return Err(object_error("write", &path)(error)),
            }
        }
        let path = self.layout.manifest(&ManifestName::Sequence(sequence));
        match self
            .object
            .put_opts(&path, PutPayload::from(bytes), create)
            .await
        {
            Ok(_) => {}
            Err(error) if is_already_exists(&error) => {
                return Err(StoreError::Conflict {
                    connection: self.connection.to_string(),
                    sequence,
                    path: path.to_string(),
                });
            }
            Err(error) => return Err(object_error("write", &path)(error)),
        }
        // One of the anchors an auditor keeps outside the store (`verify --expect-head`).
        tracing::info!(
            connection = %self.connection,
            sequence,
            snapshot = %id,
            digest = %format!("sha256:{sha256}"),
            "evidence snapshot committed"
        );
        Ok(Snapshot {
            id,
            sha256,
            manifest,
            index,
        })
    }
}

/// `content` followed by a check of its SHA-256 against `digest`: a mismatch is the last item.
fn checked(
    content: BoxStream<'static, Result<Bytes>>,
    path: Path,
    digest: String,
) -> BoxStream<'static, Result<Bytes>> {
    futures::stream::try_unfold(
        (content, Some(Sha256::new())),
        move |(mut content, mut hasher)| {
            let path = path.clone();
            let digest = digest.clone();
            async move {
                let Some(running) = hasher.as_mut() else {
                    return Ok(None);
                };
                match content.try_next().await? {
                    Some(piece) => {
                        running.update(&piece);
                        Ok(Some((piece, (content, hasher))))
                    }
                    None => {
                        let matches = hasher
                            .take()
                            .is_some_and(|done| hex::encode(done.finalize()) == digest);
                        if matches {
                            Ok(None)
                        } else {
                            Err(StoreError::CorruptBlob {
                                path: path.to_string(),
                            })
                        }
                    }
                }
            }
        },
    )
    .boxed()
}

/// Every object under a prefix with its size and time (for verification and retention).
pub(crate) async fn list_all(
    object: &Arc<dyn ObjectStore>,
    prefix: &Path,
) -> Result<Vec<object_store::ObjectMeta>> {
    object
        .list(Some(prefix))
        .map(|item| item.map_err(object_error("list", prefix)))
        .try_collect()
        .await
}
