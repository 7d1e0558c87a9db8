//! Pagination planning and page parsing. Pure: no IO, unit-tested.
//!
//! The rule that matters most: after paging, the number of records equals the total the API
//! reported, or the collection fails naming the endpoint. Silent truncation (stopping at the
//! first empty or short page) is the bug class that hurts JumpCloud integrations most.

use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;
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

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "totalCount", default)]
    total_count: Option<u64>,
    #[serde(borrow)]
    results: Vec<&'a RawValue>,
}

/// Where a borrowed record lies in the body it was parsed from.
fn span_of(body: &[u8], record: &RawValue) -> Range<usize> {
    let start = record.get().as_ptr() as usize - body.as_ptr() as usize;
    start..start + record.get().len()
}

/// Parses a bare JSON array of records.
pub fn parse_array(
    endpoint: &str,
    body: Bytes,
) -> Result<(Bytes, Vec<Range<usize>>), JumpCloudError> {
    let records: Vec<&RawValue> =
        serde_json::from_slice(&body).map_err(|error| malformed(endpoint, &body, &error))?;
    let spans = records
        .iter()
        .map(|record| span_of(&body, record))
        .collect();
    Ok((body, spans))
}

fn malformed(endpoint: &str, body: &[u8], error: &serde_json::Error) -> JumpCloudError {
    JumpCloudError::MalformedResponse {
        endpoint: endpoint.to_owned(),
        offset: super::error::byte_offset(body, error.line(), error.column()),
        detail: error.to_string(),
    }
}

/// Parses a page body. `header_total` is the `x-total-count` header, if any.
pub fn parse_page(
    endpoint: &str,
    shape: ListShape,
    body: Bytes,
    header_total: Option<u64>,
) -> Result<ParsedPage, JumpCloudError> {
    match shape {
        ListShape::Envelope => {
            let envelope: Envelope<'_> = serde_json::from_slice(&body)
                .map_err(|error| malformed(endpoint, &body, &error))?;
            let spans = envelope
                .results
                .iter()
                .map(|record| span_of(&body, record))
                .collect();
            let total = envelope.total_count.or(header_total);
            Ok(ParsedPage { body, spans, total })
        }
        ListShape::Array => {
            let (body, spans) = parse_array(endpoint, body)?;
            Ok(ParsedPage {
                body,
                spans,
                total: header_total,
            })
        }
    }
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
        )
        .unwrap();
        assert_eq!(page.total, Some(2));
        assert_eq!(
            &page.body[page.spans[0].clone()],
            br#"{"_id":"a", "x": [1, 2]}"#
        );
        assert_eq!(&page.body[page.spans[1].clone()], br#"{"_id":"b"}"#);
        let array = Bytes::from_static(b"[ {\"id\":1} ]");
        let page = parse_page("/api/v2/usergroups", ListShape::Array, array, Some(7)).unwrap();
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
        )
        .unwrap_err();
        assert_eq!(error.reason(), "MalformedResponse");
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
