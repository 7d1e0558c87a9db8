//! Content-defined chunking of a kind at record boundaries: a kind's NDJSON is cut after a line
//! whose hash says so (once the chunk has [`MIN_CHUNK`] bytes) or when the chunk reaches
//! [`MAX_CHUNK`]. The cuts depend on the records, not on their offsets, so a record added,
//! removed or changed moves at most the cuts next to it: the other chunks of a changed kind
//! keep their content, their digest and their stored blob, shared by every snapshot.

use sha2::{Digest, Sha256};

use super::Result;
use super::blob_writer::BlobWriter;
use super::connection::ConnectionStore;
use super::manifest::BlobRef;

/// No cut before a chunk holds this much content: small chunks compress worse and cost a
/// request each.
pub const MIN_CHUNK: u64 = 64 * 1024;
/// Always a cut once a chunk holds this much: a long run without a cut line still shares.
pub const MAX_CHUNK: u64 = 1024 * 1024;
/// One line in this many is a cut (past the minimum): chunks of ~64 KiB plus 64 records.
const CUT_ONE_IN: u64 = 64;

/// FNV-1a: small, fast and fixed forever (the cuts must not change with the toolchain, or
/// every chunk would be stored again once).
fn line_hash(line: &[u8]) -> u64 {
    line.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether the chunk ends after `line`, the chunk then holding `chunk_bytes`. Pure.
pub fn cut_after(chunk_bytes: u64, line: &[u8]) -> bool {
    chunk_bytes >= MAX_CHUNK
        || (chunk_bytes >= MIN_CHUNK && line_hash(line).is_multiple_of(CUT_ONE_IN))
}

/// A kind written as chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedKind {
    /// The chunk blobs in order (one, empty, when nothing was written).
    pub chunks: Vec<BlobRef>,
    /// SHA-256 of the whole content (the chunks concatenated).
    pub sha256: String,
    pub bytes: u64,
    pub records: u64,
}

/// Writes one kind's records as chunk blobs, each stored (once) as soon as it is cut: memory
/// holds one chunk at most.
pub struct ChunkedWriter {
    store: ConnectionStore,
    current: Option<BlobWriter>,
    chunks: Vec<BlobRef>,
    whole: Sha256,
    bytes: u64,
    records: u64,
}

impl ChunkedWriter {
    pub fn new(store: ConnectionStore) -> Self {
        ChunkedWriter {
            store,
            current: None,
            chunks: Vec::new(),
            whole: Sha256::new(),
            bytes: 0,
            records: 0,
        }
    }

    /// Writes one record (`line` without its newline) and its newline.
    pub async fn write_record(&mut self, line: &[u8]) -> Result<()> {
        let writer = self.current.get_or_insert_with(|| self.store.blob_writer());
        writer.write(line)?;
        writer.write(b"\n")?;
        self.whole.update(line);
        self.whole.update(b"\n");
        self.bytes += line.len() as u64 + 1;
        self.records += 1;
        if cut_after(writer.bytes(), line)
            && let Some(full) = self.current.take()
        {
            self.chunks.push(full.finish().await?);
        }
        Ok(())
    }

    /// Content bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Stores the last chunk; a kind without records is one empty blob, as it always was.
    pub async fn finish(mut self) -> Result<ChunkedKind> {
        let last = match self.current.take() {
            Some(last) => Some(last),
            None if self.chunks.is_empty() => Some(self.store.blob_writer()),
            None => None,
        };
        if let Some(last) = last {
            self.chunks.push(last.finish().await?);
        }
        Ok(ChunkedKind {
            chunks: self.chunks,
            sha256: hex::encode(self.whole.finalize()),
            bytes: self.bytes,
            records: self.records,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `cut_after` cuts a list of lines: the chunks as line ranges.
    fn chunks(lines: &[String]) -> Vec<Vec<String>> {
        let mut out = vec![Vec::new()];
        let mut bytes = 0;
        for line in lines {
            bytes += line.len() as u64 + 1;
            out.last_mut().unwrap().push(line.clone());
            if cut_after(bytes, line.as_bytes()) {
                out.push(Vec::new());
                bytes = 0;
            }
        }
        out.retain(|chunk| !chunk.is_empty());
        out
    }

    fn record(i: usize, version: u32) -> String {
        format!(
            "{{\"id\":\"{i:024x}\",\"email\":\"user{i}@example.com\",\"v\":{version},\"pad\":\"{}\"}}",
            "x".repeat(400)
        )
    }

    #[test]
    fn a_changed_record_changes_only_the_chunks_around_it() {
        let before: Vec<String> = (0..5_000).map(|i| record(i, 0)).collect();
        let mut after = before.clone();
        after[2_500] = record(2_500, 1);
        after.insert(4_000, record(9_999, 0));
        after.remove(100);
        let old = chunks(&before);
        let new = chunks(&after);
        assert!(old.len() > 10, "{} chunks", old.len());
        let shared = new.iter().filter(|chunk| old.contains(chunk)).count();
        // Three edits: each changes its own chunk (and at most the one after it).
        assert!(shared + 6 >= new.len(), "{shared} of {} shared", new.len());
        assert!(shared < new.len());
        for chunk in &new {
            let bytes: usize = chunk.iter().map(|l| l.len() + 1).sum();
            assert!(bytes as u64 <= MAX_CHUNK + 1024, "{bytes}");
        }
    }

    #[test]
    fn cuts_respect_the_bounds() {
        let line = b"{}";
        assert!(!cut_after(MIN_CHUNK - 1, line));
        assert!(cut_after(MAX_CHUNK, line));
        // Past the minimum, about one line in CUT_ONE_IN cuts.
        let cuts = (0..10_000)
            .filter(|i| cut_after(MIN_CHUNK, record(*i, 0).as_bytes()))
            .count();
        assert!((100..300).contains(&cuts), "{cuts}");
    }
}
