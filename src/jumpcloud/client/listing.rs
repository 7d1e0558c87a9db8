//! A listing's pages as one stream: the remaining pages fetched concurrently, every page
//! checked against the first page's total, and no record delivered twice.

use std::collections::HashSet;

use futures::stream::{self, BoxStream, StreamExt};

use super::super::error::sanitize;
use super::super::paging::{self, ListShape, check_page, remaining_skips};
use super::{ListRequest, Listing, Page};
use crate::jumpcloud::JumpCloudError;

impl Listing {
    /// The total the API reported on the first page.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn limit(&self) -> u64 {
        self.request.limit
    }

    pub fn endpoint(&self) -> &str {
        &self.request.path
    }

    /// All pages in order, the first one included. The remaining pages are fetched
    /// concurrently (bounded by the client) and every page is checked: its length must be
    /// exactly what the total implies and the total must not change, otherwise the stream ends
    /// with [`JumpCloudError::TruncatedCollection`] or [`JumpCloudError::TotalChanged`]. A
    /// record id (`_id` or `id`) seen twice ends it with [`JumpCloudError::DuplicateRecord`]:
    /// with the count still right, a repeated record means another one is missing.
    pub fn pages(self) -> BoxStream<'static, Result<Page, JumpCloudError>> {
        let Listing {
            client,
            request,
            first,
            total,
        } = self;
        let limit = request.limit;
        let concurrency = client.inner.concurrency;
        let endpoint = request.path.clone();
        let credential = client.inner.credential.clone();
        let rest = stream::iter(remaining_skips(total, limit))
            .map(move |skip| {
                let client = client.clone();
                let request = request.clone();
                async move {
                    let (parsed, budget) = client.fetch_page(&request, skip).await?;
                    if parsed.total.is_none() {
                        return Err(missing_total(&request, skip));
                    }
                    check_page(
                        &request.path,
                        total,
                        limit,
                        skip,
                        parsed.total,
                        parsed.len(),
                    )?;
                    Ok(Page::new(skip, parsed.body, parsed.spans, budget))
                }
            })
            .buffered(concurrency);
        let mut seen = SeenIds::default();
        stream::once(async move { Ok(first) })
            .chain(rest)
            .map(move |page: Result<Page, JumpCloudError>| {
                let page = page?;
                for record in page.records() {
                    let repeated = match paging::record_id(record) {
                        Some(id) => (!seen.insert(&id)).then_some(id),
                        None => {
                            let fingerprint = paging::record_fingerprint(record);
                            (!seen.rows.insert(fingerprint)).then(|| {
                                format!("(no id) whole-row fingerprint {fingerprint:032x}")
                            })
                        }
                    };
                    if let Some(id) = repeated {
                        return Err(JumpCloudError::DuplicateRecord {
                            endpoint: endpoint.clone(),
                            id: sanitize(&id, credential.expose_secret()),
                            skip: page.skip,
                        });
                    }
                }
                Ok(page)
            })
            .boxed()
    }
}

/// The records a listing has delivered, for the duplicate check. It lives as long as the
/// listing, so it is kept small: JumpCloud ids are 24 lower-case hex digits (12-byte
/// ObjectIds), kept as numbers (about a third of the memory of the text); any other id as text;
/// records without an id (System Insights rows) as a 128-bit fingerprint of the whole row.
#[derive(Default)]
pub(super) struct SeenIds {
    object_ids: HashSet<u128>,
    others: HashSet<Box<str>>,
    rows: HashSet<u128>,
}

impl SeenIds {
    /// Whether `id` is new.
    pub(super) fn insert(&mut self, id: &str) -> bool {
        let is_object_id = id.len() == 24
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        match u128::from_str_radix(id, 16) {
            Ok(number) if is_object_id => self.object_ids.insert(number),
            _ => self.others.insert(id.into()),
        }
    }
}

/// A page after the first came without its total: the first page's total cannot be confirmed,
/// so the listing is not known to be consistent.
fn missing_total(request: &ListRequest, skip: u64) -> JumpCloudError {
    JumpCloudError::MalformedResponse {
        endpoint: request.path.clone(),
        offset: 0,
        detail: format!(
            "the page at offset {skip} came without {}, so the listing cannot be checked \
             against the first page's total",
            match request.shape {
                ListShape::Envelope => "a totalCount",
                ListShape::Array => "an x-total-count header",
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::SeenIds;

    #[test]
    fn seen_ids_tell_every_distinct_id_apart() {
        let mut seen = SeenIds::default();
        let object_id = "5f0c1b2a3d4e5f6a7b8c9d0e";
        assert!(seen.insert(object_id));
        assert!(!seen.insert(object_id));
        // Text that parses to the same number is another id.
        assert!(seen.insert("5F0C1B2A3D4E5F6A7B8C9D0E"));
        assert!(seen.insert("+f0c1b2a3d4e5f6a7b8c9d0e"));
        assert!(seen.insert("0f0c1b2a3d4e5f6a7b8c9d0e"));
        assert!(seen.insert("+0f0c1b2a3d4e5f6a7b8c9d0"));
        assert!(seen.insert("user-1"));
        assert!(!seen.insert("user-1"));
        assert!(!seen.insert("+f0c1b2a3d4e5f6a7b8c9d0e"));
        assert_eq!((seen.object_ids.len(), seen.others.len()), (2, 4));
    }
}
