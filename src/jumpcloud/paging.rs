//! Pagination planning and page parsing. Pure: no IO, unit-tested.
//!
//! The rule that matters most: after paging, the number of records equals the total the API
//! reported, or the collection fails naming the endpoint. Silent truncation (stopping at the
//! first empty or short page) is the bug class that hurts JumpCloud integrations most.

use std::cell::Cell;
use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::JumpCloudError;

/// Largest page the console APIs accept.
pub const MAX_PAGE: u64 = 100;
/// Largest page System Insights accepts.
pub const MAX_INSIGHTS_PAGE: u64 = 10_000;
/// Largest page Directory Insights accepts.
pub const MAX_EVENTS_PAGE: u64 = 10_000;

/// How a list endpoint shapes its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListShape {
    /// v1 lists and a few v2 routes: `{ "totalCount": N, "results": [...] }`.
    Envelope,
    /// v2 lists: a bare JSON array; the total is in the `x-total-count` header.
    Array,
}

/// One parsed page: the response body and where each record lies in it. Records are never
/// copied out of the body, so a page costs its body once.
#[derive(Debug)]
pub struct ParsedPage {
    pub body: Bytes,
    pub spans: Vec<Range<usize>>,
    pub total: Option<u64>,
}

impl ParsedPage {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// Bounds on one page, checked while it is parsed: a hostile or broken server that ignores
/// `limit` is stopped at the first record too many, not after a million have been indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// Records the page may hold (the `limit` asked for).
    pub max_records: u64,
    /// Bytes one record may take.
    pub max_record_bytes: u64,
    /// Offset of the page, for the error text.
    pub skip: u64,
}

/// Which bound a page broke while it was parsed.
#[derive(Debug, Clone, Copy)]
enum Overflow {
    Records,
    RecordBytes,
}

/// The records of a JSON array, bounded by [`PageLimits`].
struct Records<'a> {
    limits: PageLimits,
    overflow: &'a Cell<Option<Overflow>>,
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = Vec<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::new();
        while let Some(record) = seq.next_element::<&'de RawValue>()? {
            let overflow = if records.len() as u64 >= self.limits.max_records {
                Some(Overflow::Records)
            } else if record.get().len() as u64 > self.limits.max_record_bytes {
                Some(Overflow::RecordBytes)
            } else {
                None
            };
            if let Some(overflow) = overflow {
                self.overflow.set(Some(overflow));
                return Err(serde::de::Error::custom("page bound exceeded"));
            }
            records.push(record);
        }
        Ok(records)
    }
}

/// A v1 envelope `{"totalCount": N, "results": [...]}`; other members are skipped.
struct EnvelopeVisitor<'a> {
    records: Records<'a>,
}

impl<'de> Visitor<'de> for EnvelopeVisitor<'_> {
    type Value = (Option<u64>, Vec<&'de RawValue>);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object with totalCount and results")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut total = None;
        let mut results = None;
        let mut seed = Some(self.records);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "totalCount" if total.is_none() => total = Some(map.next_value::<Option<u64>>()?),
                "results" => match seed.take() {
                    Some(seed) => results = Some(map.next_value_seed(seed)?),
                    None => return Err(serde::de::Error::duplicate_field("results")),
                },
                "totalCount" => return Err(serde::de::Error::duplicate_field("totalCount")),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let results = results.ok_or_else(|| serde::de::Error::missing_field("results"))?;
        Ok((total.flatten(), results))
    }
}

/// Where a borrowed record lies in the body it was parsed from.
fn span_of(body: &[u8], record: &RawValue) -> Range<usize> {
    let start = record.get().as_ptr() as usize - body.as_ptr() as usize;
    start..start + record.get().len()
}

/// Parses a page body: a bare array, or a v1 envelope with its `totalCount`.
fn parse_bounded(
    endpoint: &str,
    body: &[u8],
    shape: ListShape,
    limits: PageLimits,
) -> Result<(Option<u64>, Vec<Range<usize>>), JumpCloudError> {
    let overflow = Cell::new(None);
    let records = Records {
        limits,
        overflow: &overflow,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = match shape {
        ListShape::Array => records.deserialize(&mut deserializer).map(|r| (None, r)),
        ListShape::Envelope => deserializer.deserialize_map(EnvelopeVisitor { records }),
    }
    .and_then(|parsed| deserializer.end().map(|()| parsed));
    let (total, records) = parsed.map_err(|error| match overflow.get() {
        Some(Overflow::Records) => JumpCloudError::TooManyRecords {
            endpoint: endpoint.to_owned(),
            limit: limits.max_records,
            skip: limits.skip,
        },
        Some(Overflow::RecordBytes) => JumpCloudError::ResponseTooLarge {
            endpoint: endpoint.to_owned(),
            what: "one record",
            limit_bytes: limits.max_record_bytes,
            option: "--max-record-bytes",
        },
        None => malformed(endpoint, body, &error),
    })?;
    let spans = records.iter().map(|record| span_of(body, record)).collect();
    Ok((total, spans))
}

/// Parses a bare JSON array of records.
pub fn parse_array(
    endpoint: &str,
    body: Bytes,
    limits: PageLimits,
) -> Result<(Bytes, Vec<Range<usize>>), JumpCloudError> {
    let (_, spans) = parse_bounded(endpoint, &body, ListShape::Array, limits)?;
    Ok((body, spans))
}

pub(crate) fn malformed(endpoint: &str, body: &[u8], error: &serde_json::Error) -> JumpCloudError {
    JumpCloudError::MalformedResponse {
        endpoint: endpoint.to_owned(),
        offset: super::error::byte_offset(body, error.line(), error.column()),
        detail: super::error::parse_error_detail(error),
    }
}

/// Parses a page body. `header_total` is the `x-total-count` header, if any.
pub fn parse_page(
    endpoint: &str,
    shape: ListShape,
    body: Bytes,
    header_total: Option<u64>,
    limits: PageLimits,
) -> Result<ParsedPage, JumpCloudError> {
    let (envelope_total, spans) = parse_bounded(endpoint, &body, shape, limits)?;
    Ok(ParsedPage {
        body,
        spans,
        total: envelope_total.or(header_total),
    })
}

/// Offsets of the pages after the first, for a known total.
pub fn remaining_skips(total: u64, limit: u64) -> impl Iterator<Item = u64> {
    let limit = limit.max(1);
    (1..)
        .map(move |page| page * limit)
        .take_while(move |skip| *skip < total)
}

/// The fewest requests that can list `total` records with pages of `limit`.
pub fn min_requests(total: u64, limit: u64) -> u64 {
    total.div_ceil(limit.max(1)).max(1)
}

/// Checks one page of a listing whose total was `expected_total` on the first page.
pub fn check_page(
    endpoint: &str,
    expected_total: u64,
    limit: u64,
    skip: u64,
    page_total: Option<u64>,
    received: usize,
) -> Result<(), JumpCloudError> {
    if let Some(now) = page_total
        && now != expected_total
    {
        return Err(JumpCloudError::TotalChanged {
            endpoint: endpoint.to_owned(),
            first: expected_total,
            now,
        });
    }
    let expected = expected_total.saturating_sub(skip).min(limit);
    let received = received as u64;
    if received != expected {
        return Err(JumpCloudError::TruncatedCollection {
            endpoint: endpoint.to_owned(),
            // Counted over the whole listing so the message reads as the user expects:
            // "reported N, got M".
            expected: expected_total,
            received: skip + received,
        });
    }
    Ok(())
}

/// A compact fingerprint of a record's whole text (the first 128 bits of its SHA-256), for the
/// repeat check of records that carry no id (System Insights rows).
pub fn record_fingerprint(record: &[u8]) -> u128 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(record);
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

#[derive(Deserialize)]
struct IdProbe {
    #[serde(rename = "_id", default)]
    underscore_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

/// A record's unique id (`_id` in v1, `id` in v2), when it has one. System Insights rows have
/// none.
pub fn record_id(record: &[u8]) -> Option<String> {
    let probe: IdProbe = serde_json::from_slice(record).ok()?;
    probe.underscore_id.or(probe.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits {
        max_records: 100,
        max_record_bytes: 1024,
        skip: 0,
    };

    #[test]
    fn plans_pages_for_edge_sizes() {
        let skips = |total| remaining_skips(total, 100).collect::<Vec<_>>();
        assert!(skips(0).is_empty());
        assert!(skips(1).is_empty());
        assert!(skips(99).is_empty());
        assert!(skips(100).is_empty());
        assert_eq!(skips(101), vec![100]);
        assert_eq!(skips(10_001).len(), 100);
        assert_eq!(skips(10_001).last(), Some(&10_000));
        for (total, pages) in [(0, 1), (1, 1), (99, 1), (100, 1), (101, 2), (10_001, 101)] {
            assert_eq!(min_requests(total, 100), pages, "{total}");
            assert_eq!(1 + skips(total).len() as u64, pages, "{total}");
        }
        assert_eq!(min_requests(10_001, 10_000), 2);
    }

    #[test]
    fn parses_both_shapes_keeping_records_verbatim() {
        let body = br#"{"totalCount": 2, "results": [{"_id":"a", "x": [1, 2]}, {"_id":"b"}]}"#;
        let page = parse_page(
            "/api/systemusers",
            ListShape::Envelope,
            Bytes::from_static(body),
            None,
            LIMITS,
        )
        .unwrap();
        assert_eq!(page.total, Some(2));
        assert_eq!(
            &page.body[page.spans[0].clone()],
            br#"{"_id":"a", "x": [1, 2]}"#
        );
        assert_eq!(&page.body[page.spans[1].clone()], br#"{"_id":"b"}"#);
        let array = Bytes::from_static(b"[ {\"id\":1} ]");
        let page = parse_page(
            "/api/v2/usergroups",
            ListShape::Array,
            array,
            Some(7),
            LIMITS,
        )
        .unwrap();
        assert_eq!(page.total, Some(7));
        assert_eq!(page.len(), 1);
        assert_eq!(&page.body[page.spans[0].clone()], b"{\"id\":1}");
    }

    #[test]
    fn record_ids_are_read_from_v1_and_v2_records() {
        assert_eq!(
            record_id(br#"{"_id":"a","x":{"id":"n"}}"#).as_deref(),
            Some("a")
        );
        assert_eq!(record_id(br#"{"id":"b","paths":[]}"#).as_deref(), Some("b"));
        assert_eq!(record_id(br#"{"system_id":"s"}"#), None);
        assert_eq!(record_id(br#"{"id":7}"#), None);
    }

    #[test]
    fn malformed_pages_name_endpoint_and_offset() {
        let body = br#"{"totalCount": 2, "results": [{"_id":"a"}, {"_id" "b"}]}"#;
        let error = parse_page(
            "/api/systems",
            ListShape::Envelope,
            Bytes::from_static(body),
            None,
            LIMITS,
        )
        .unwrap_err();
        let JumpCloudError::MalformedResponse {
            endpoint, offset, ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(endpoint, "/api/systems");
        assert_eq!(&body[*offset..*offset + 3], br#""b""#);
        let error = parse_page(
            "/api/v2/x",
            ListShape::Array,
            Bytes::from_static(br#"{"a":1}"#),
            None,
            LIMITS,
        )
        .unwrap_err();
        assert_eq!(error.reason(), "MalformedResponse");
    }

    #[test]
    fn a_page_over_its_limit_or_with_a_huge_record_is_stopped_while_parsing() {
        let limits = PageLimits {
            max_records: 2,
            max_record_bytes: 16,
            skip: 200,
        };
        let parse = |shape, body: &'static [u8]| {
            parse_page("/e", shape, Bytes::from_static(body), Some(3), limits)
        };
        assert_eq!(parse(ListShape::Array, b"[{},{}]").unwrap().len(), 2);
        // The third record is refused although the array is not even complete: the parser
        // never gets to the end of a page that is too long.
        for (shape, body) in [
            (ListShape::Array, &b"[{},{},{},"[..]),
            (
                ListShape::Envelope,
                &br#"{"totalCount":3,"results":[1,2,3]}"#[..],
            ),
        ] {
            assert_eq!(
                parse(shape, body).unwrap_err(),
                JumpCloudError::TooManyRecords {
                    endpoint: "/e".into(),
                    limit: 2,
                    skip: 200
                }
            );
        }
        let huge = parse(ListShape::Array, br#"[{"a":"0123456789abcdef"}]"#).unwrap_err();
        assert_eq!(huge.reason(), "ResponseTooLarge");
        assert!(huge.to_string().contains("--max-record-bytes"), "{huge}");
        let twice = parse(ListShape::Envelope, br#"{"results":[],"results":[]}"#).unwrap_err();
        assert_eq!(twice.reason(), "MalformedResponse");
        let none = parse(ListShape::Envelope, br#"{"totalCount":1}"#).unwrap_err();
        assert!(
            none.to_string().contains("missing field `results`"),
            "{none}"
        );
    }

    #[test]
    fn parse_errors_name_the_expectation_never_the_value() {
        let secret = "jca_EchoedKey0123456789";
        for body in [
            format!(r#"{{"totalCount":"{secret}","results":[]}}"#),
            format!(r#"{{"totalCount":[{{"{secret}":1}}],"results":[]}}"#),
            format!(r#"{{"totalCount":-1,"results":{{"{secret}":2}}}}"#),
        ] {
            let error = parse_page(
                "/api/systemusers",
                ListShape::Envelope,
                Bytes::from(body.clone()),
                None,
                LIMITS,
            )
            .unwrap_err();
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!text.contains("EchoedKey"), "{text}");
                assert!(text.contains("/api/systemusers"), "{text}");
                assert!(text.contains("value not shown"), "{text}");
            }
        }
        let error = parse_page(
            "/e",
            ListShape::Envelope,
            Bytes::from(format!(r#"{{"totalCount":"{secret}","results":[]}}"#)),
            None,
            LIMITS,
        )
        .unwrap_err();
        let JumpCloudError::MalformedResponse { offset, detail, .. } = &error else {
            panic!("{error:?}")
        };
        // serde_json reports where the value ended: inside it, not at the start of the body.
        assert!((14..=14 + secret.len() + 2).contains(offset), "{offset}");
        assert!(detail.ends_with("expected u64"), "{detail}");
    }

    #[test]
    fn fingerprints_tell_rows_apart_by_their_whole_text() {
        let a = record_fingerprint(br#"{"system_id":"s1","name":"macOS"}"#);
        assert_eq!(
            a,
            record_fingerprint(br#"{"system_id":"s1","name":"macOS"}"#)
        );
        assert_ne!(
            a,
            record_fingerprint(br#"{"system_id":"s1","name":"macOS "}"#)
        );
    }

    #[test]
    fn short_pages_and_changing_totals_fail_naming_the_endpoint() {
        assert!(check_page("/e", 250, 100, 0, Some(250), 100).is_ok());
        assert!(check_page("/e", 250, 100, 200, Some(250), 50).is_ok());
        assert!(check_page("/e", 0, 100, 0, Some(0), 0).is_ok());
        let short = check_page("/e", 250, 100, 100, Some(250), 40).unwrap_err();
        assert_eq!(
            short,
            JumpCloudError::TruncatedCollection {
                endpoint: "/e".into(),
                expected: 250,
                received: 140
            }
        );
        let empty = check_page("/e", 250, 100, 200, None, 0).unwrap_err();
        assert_eq!(empty.reason(), "TruncatedCollection");
        let changed = check_page("/e", 250, 100, 100, Some(251), 100).unwrap_err();
        assert_eq!(
            changed,
            JumpCloudError::TotalChanged {
                endpoint: "/e".into(),
                first: 250,
                now: 251
            }
        );
        let long = check_page("/e", 150, 100, 100, Some(150), 60).unwrap_err();
        assert_eq!(long.reason(), "TruncatedCollection");
    }
}
