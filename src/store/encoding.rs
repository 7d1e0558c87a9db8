//! How a blob's content is stored: zstd-compressed (`<digest>.zst`, what this version writes)
//! or as is (`<digest>`, written by earlier versions). The digest is always the SHA-256 of the
//! content (the uncompressed NDJSON), so a blob keeps its name whatever the encoding or the
//! compression level, and deduplication works across both; the file name makes the encoding
//! visible, and reading decompresses and re-hashes.

use std::collections::VecDeque;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};

use super::connection::object_error;
use super::{Result, StoreError};

/// zstd level of new blobs. Measured on the blobs of an org L snapshot (169 MB of NDJSON,
/// BENCHMARKS.md "Compressed, deduplicated evidence"): level 1 7.4 MB, level 3 7.2 MB, level 6
/// 6.2 MB for 4x the CPU of level 3, level 9 5.3 MB for 6x. Level 3 compresses faster than the
/// collection produces records, so collect stays as fast as before, and one snapshot stays well
/// under the 15 MB target even cut into chunks; the slower levels would buy 15-25% for CPU that
/// every sync of every connection pays.
pub const ZSTD_LEVEL: i32 = 3;

/// Suffix of a zstd-compressed blob's file name.
pub const ZSTD_SUFFIX: &str = ".zst";

/// Largest piece of decompressed content handed on at once: a small compressed chunk can
/// expand a lot, and readers promise bounded memory.
const PIECE: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    /// zstd, one frame per blob.
    Zstd,
    /// The content as is (blobs of stores written before compression).
    Identity,
}

impl Encoding {
    /// Every encoding, in the order a reader looks for a blob: what this version writes first.
    pub const ALL: [Encoding; 2] = [Encoding::Zstd, Encoding::Identity];

    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Zstd => ZSTD_SUFFIX,
            Encoding::Identity => "",
        }
    }

    /// The digest and encoding a blob's file name says; `None` for anything else.
    pub fn parse_file_name(name: &str) -> Option<(&str, Encoding)> {
        let (digest, encoding) = match name.strip_suffix(ZSTD_SUFFIX) {
            Some(digest) => (digest, Encoding::Zstd),
            None => (name, Encoding::Identity),
        };
        let hex = digest.len() == 64
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        hex.then_some((digest, encoding))
    }
}

/// Compresses a whole (small) blob.
pub fn compress(content: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::bulk::compress(content, ZSTD_LEVEL)
}

/// Streaming decompression of one blob: fed the stored bytes, it hands back the content in
/// pieces of at most [`PIECE`] bytes.
pub struct Inflater {
    decoder: Option<Decoder<'static>>,
    /// Whether the last frame ended (a truncated blob does not).
    at_frame_end: bool,
}

impl Inflater {
    pub fn new(encoding: Encoding) -> std::io::Result<Self> {
        let decoder = match encoding {
            Encoding::Zstd => Some(Decoder::new()?),
            Encoding::Identity => None,
        };
        Ok(Inflater {
            decoder,
            at_frame_end: true,
        })
    }

    /// The content in `stored`, in pieces.
    pub fn push(&mut self, stored: Bytes, out: &mut VecDeque<Bytes>) -> std::io::Result<()> {
        let Some(decoder) = &mut self.decoder else {
            out.push_back(stored);
            return Ok(());
        };
        let mut input = InBuffer::around(&stored);
        while input.pos < stored.len() {
            let mut buffer = vec![0u8; PIECE];
            let mut output = OutBuffer::around(&mut buffer);
            let hint = decoder.run(&mut input, &mut output)?;
            let written = output.pos();
            self.at_frame_end = hint == 0;
            if written > 0 {
                buffer.truncate(written);
                out.push_back(Bytes::from(buffer));
            }
        }
        // The input is consumed; the decoder may still hold content of it.
        loop {
            let mut buffer = vec![0u8; PIECE];
            let mut output = OutBuffer::around(&mut buffer);
            let mut empty = InBuffer::around(&[]);
            let hint = decoder.run(&mut empty, &mut output)?;
            let written = output.pos();
            if hint == 0 {
                self.at_frame_end = true;
            }
            if written == 0 {
                return Ok(());
            }
            buffer.truncate(written);
            out.push_back(Bytes::from(buffer));
        }
    }

    /// Fails when the stored bytes ended inside a frame.
    pub fn finish(&self) -> std::io::Result<()> {
        if self.at_frame_end {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the compressed data ends in the middle of a frame",
            ))
        }
    }
}

fn undecodable(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Undecodable {
        path: path.to_string(),
        reason: error.to_string(),
    }
}

/// The content of a stored blob, streamed: the stored bytes decompressed as they arrive.
/// Errors name the path. The digest is not checked here (the callers do, at the end).
pub fn content_stream(
    stored: BoxStream<'static, object_store::Result<Bytes>>,
    path: Path,
    encoding: Encoding,
) -> BoxStream<'static, Result<Bytes>> {
    struct State {
        stored: BoxStream<'static, object_store::Result<Bytes>>,
        inflater: Option<Inflater>,
        pending: VecDeque<Bytes>,
        path: Path,
        encoding: Encoding,
    }
    let state = State {
        stored,
        inflater: None,
        pending: VecDeque::new(),
        path,
        encoding,
    };
    futures::stream::try_unfold(state, |mut state| async move {
        loop {
            if let Some(piece) = state.pending.pop_front() {
                return Ok(Some((piece, state)));
            }
            let inflater = match &mut state.inflater {
                Some(inflater) => inflater,
                None => state.inflater.insert(
                    Inflater::new(state.encoding).map_err(|e| undecodable(&state.path, e))?,
                ),
            };
            let next = state.stored.try_next().await;
            match next.map_err(object_error("read", &state.path))? {
                Some(chunk) => inflater
                    .push(chunk, &mut state.pending)
                    .map_err(|e| undecodable(&state.path, e))?,
                None => {
                    inflater.finish().map_err(|e| undecodable(&state.path, e))?;
                    return Ok(None);
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_in_pieces(stored: &[u8], piece: usize) -> std::io::Result<Vec<u8>> {
        let mut inflater = Inflater::new(Encoding::Zstd)?;
        let mut out = VecDeque::new();
        for chunk in stored.chunks(piece) {
            inflater.push(Bytes::copy_from_slice(chunk), &mut out)?;
        }
        inflater.finish()?;
        Ok(out.into_iter().flat_map(|b| b.to_vec()).collect())
    }

    #[test]
    fn streaming_decompression_returns_the_content_in_bounded_pieces() {
        let content: Vec<u8> = (0..200_000)
            .flat_map(|i: u32| format!("{{\"id\":{i},\"name\":\"user{}\"}}\n", i % 97).into_bytes())
            .collect();
        let stored = compress(&content).unwrap();
        assert!(stored.len() * 5 < content.len());
        for piece in [1, 7, 8192, stored.len()] {
            assert_eq!(inflate_in_pieces(&stored, piece).unwrap(), content);
        }
        let mut inflater = Inflater::new(Encoding::Zstd).unwrap();
        let mut out = VecDeque::new();
        inflater.push(Bytes::from(stored), &mut out).unwrap();
        assert!(out.iter().all(|piece| piece.len() <= PIECE));
    }

    #[test]
    fn truncated_or_damaged_compressed_data_fails() {
        let content = b"{\"a\":1}\n".repeat(10_000);
        let stored = compress(&content).unwrap();
        let truncated = &stored[..stored.len() - 3];
        assert!(inflate_in_pieces(truncated, 100).is_err());
        let mut damaged = stored.clone();
        damaged[0] ^= 0xff;
        assert!(inflate_in_pieces(&damaged, 100).is_err());
    }

    #[test]
    fn file_names_say_digest_and_encoding() {
        let digest = "ab".repeat(32);
        assert_eq!(
            Encoding::parse_file_name(&format!("{digest}.zst")),
            Some((digest.as_str(), Encoding::Zstd))
        );
        assert_eq!(
            Encoding::parse_file_name(&digest),
            Some((digest.as_str(), Encoding::Identity))
        );
        assert_eq!(Encoding::parse_file_name("ab.zst"), None);
        assert_eq!(Encoding::parse_file_name(&format!("{digest}.gz")), None);
    }
}
