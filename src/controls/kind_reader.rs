//! Reads one kind's NDJSON as it streams in, chunk by chunk: each line parsed into a
//! [`Record`] (only the fields the controls read, when asked), kept or reduced into its
//! [`Aggregate`], so no more than one chunk of text is held at a time.

use super::aggregate::{Aggregate, Aggregator};
use super::evidence::{LoadError, child_parts};
use super::projection::fields_read;
use super::record::{Interner, Keep, Record, parse_line};

/// How much of a kind to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Every record whole (and the aggregate of a reduced kind).
    Whole,
    /// What an evaluation reads: the fields the controls read, and of a reduced kind only its
    /// aggregate.
    ForControls,
}

/// A kind being read.
pub struct KindReader {
    fields: Option<&'static [&'static str]>,
    parent_field: Option<String>,
    aggregator: Option<Aggregator>,
    keep_records: bool,
    records: Vec<Record>,
    shared: Interner,
    /// Where the text comes from (a blob path), for errors.
    origin: String,
    /// Lines seen so far, blank ones included (errors count them as an editor would).
    lines: usize,
    /// The start of a line whose end is in the next chunk.
    partial: Vec<u8>,
}

/// What reading a kind gave.
#[derive(Debug)]
pub struct KindRead {
    /// The records, when kept.
    pub records: Option<Vec<Record>>,
    pub aggregate: Option<Aggregate>,
}

impl KindReader {
    pub fn new(kind: &str, parent_field: Option<String>, mode: ReadMode, origin: String) -> Self {
        let aggregator = Aggregator::for_kind(kind);
        KindReader {
            fields: match mode {
                ReadMode::Whole => None,
                ReadMode::ForControls => fields_read(kind),
            },
            parent_field,
            keep_records: mode == ReadMode::Whole || aggregator.is_none(),
            aggregator,
            records: Vec::new(),
            shared: Interner::default(),
            origin,
            lines: 0,
            partial: Vec::new(),
        }
    }

    /// The next chunk of the kind's text.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), LoadError> {
        if !self.partial.is_empty() {
            let Some(end) = memchr::memchr(b'\n', chunk) else {
                self.partial.extend_from_slice(chunk);
                return Ok(());
            };
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&chunk[..end]);
            self.line(&line)?;
            chunk = &chunk[end + 1..];
        }
        let mut rest = chunk;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.line(&rest[..end])?;
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// The kind once all its text was fed.
    pub fn finish(mut self) -> Result<KindRead, LoadError> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line)?;
        }
        Ok(KindRead {
            records: self.keep_records.then_some(self.records),
            aggregate: self.aggregator.map(Aggregator::finish),
        })
    }

    fn line(&mut self, line: &[u8]) -> Result<(), LoadError> {
        self.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let keep = Keep {
            fields: self.fields,
            parent_field: self.parent_field.as_deref(),
        };
        let record =
            parse_line(line, keep, &mut self.shared).map_err(|source| LoadError::Record {
                origin: self.origin.clone(),
                line: self.lines,
                source,
            })?;
        if let Some(aggregator) = &mut self.aggregator {
            let (parent, inner) = child_parts(&record, self.parent_field.as_deref());
            aggregator.add(parent, inner);
        }
        if self.keep_records {
            self.records.push(record);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut reader: KindReader, ndjson: &[u8]) -> Result<KindRead, LoadError> {
        reader.feed(ndjson)?;
        reader.finish()
    }

    fn reader(kind: &str, parent: Option<&str>, mode: ReadMode) -> KindReader {
        KindReader::new(kind, parent.map(str::to_owned), mode, "blobs/x".to_owned())
    }

    #[test]
    fn lines_split_across_chunks_read_as_one_text() {
        let text = b"{\"id\":\"a\",\"event_type\":\"x\",\"noise\":[1,2]}\n\n{\"id\":\"b\"}\n{\"id\":\"c\"}";
        let whole = read_all(reader("users", None, ReadMode::Whole), text).unwrap();
        for size in 1..text.len() {
            let mut streamed = reader("users", None, ReadMode::Whole);
            for chunk in text.chunks(size) {
                streamed.feed(chunk).unwrap();
            }
            let streamed = streamed.finish().unwrap();
            assert_eq!(streamed.records, whole.records, "chunks of {size} bytes");
        }
        let records = whole.records.unwrap();
        assert_eq!(records.len(), 3);
        assert!(records[0].get("noise").is_some());
        let trimmed = read_all(reader("users", None, ReadMode::ForControls), text).unwrap();
        assert!(trimmed.records.unwrap()[0].get("noise").is_none());
    }

    #[test]
    fn errors_name_the_origin_and_the_line_across_chunks() {
        let mut streamed = reader("users", None, ReadMode::Whole);
        streamed.feed(b"{}\n\n{\"id\":").unwrap();
        let error = streamed.feed(b"1} trailing\n").unwrap_err();
        assert!(error.to_string().starts_with("blobs/x line 3:"), "{error}");
        let error = read_all(reader("users", None, ReadMode::Whole), b"{}\nnot json").unwrap_err();
        assert!(error.to_string().starts_with("blobs/x line 2:"), "{error}");
    }

    #[test]
    fn reduced_kinds_keep_only_their_aggregate_for_controls() {
        let text = br#"{"policy_id":"p1","record":{"systemID":"d1","state":"failed","detail":"x"}}
{"policy_id":"p1","record":{"systemID":"d2","success":true}}
"#;
        let read = read_all(
            reader("policy_statuses", Some("policy_id"), ReadMode::ForControls),
            text,
        )
        .unwrap();
        assert!(read.records.is_none(), "the records are not held");
        let Some(Aggregate::PolicyResults(results)) = read.aggregate else {
            panic!("policy results expected")
        };
        let states: Vec<&str> = results.iter().map(|r| r.state).collect();
        assert_eq!(states, ["failed", "success"]);
        let whole = read_all(
            reader("policy_statuses", Some("policy_id"), ReadMode::Whole),
            text,
        )
        .unwrap();
        assert_eq!(whole.records.map(|r| r.len()), Some(2));
        assert_eq!(
            whole.aggregate,
            Some(Aggregate::PolicyResults(results)),
            "the same aggregate whichever the mode"
        );
    }
}
