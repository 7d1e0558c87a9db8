//! Directory Insights: the event count and the `search_after` paging of one query window,
//! bounded so that a server paging in a circle or forever ends the stream with an error.

use std::collections::HashSet;
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use reqwest::Method;
use url::Url;

use super::super::error::sanitize;
use super::super::paging::{self, MAX_EVENTS_PAGE};
use super::listing::SeenIds;
use super::page_budget::PageBudget;
use super::{JumpCloudClient, MAX_EVENT_PAGES, Page, RawResponse, RequestSpec, parse_json};
use crate::jumpcloud::JumpCloudError;

/// A Directory Insights query window.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// The organization the key was identified with, sent as `x-org-id` on every request of
    /// the query: Directory Insights documents `x-org-id` beside `x-api-key` in its security
    /// requirement, whether or not the connection names an organization.
    pub org_id: String,
    pub service: Vec<String>,
    pub start_time: jiff::Timestamp,
    pub end_time: jiff::Timestamp,
}

/// Where a Directory Insights query's paging stands.
struct EventsPaging {
    /// Events received so far.
    skip: u64,
    pages: u64,
    /// The cursor of the next page (`null` for the first).
    search_after: serde_json::Value,
    /// Every cursor seen, as text: one seen twice means paging in a circle.
    cursors: HashSet<String>,
    /// Every event id received: one seen twice means a page overlapped the previous one (and,
    /// with the count still right, that another event is missing).
    seen: SeenIds,
}

impl JumpCloudClient {
    /// Counts Directory Insights events in the window (`POST /events/count`). `None` when the
    /// route is not available.
    pub async fn count_events(
        &self,
        label: &str,
        query: &EventQuery,
    ) -> Result<Option<u64>, JumpCloudError> {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        let body = serde_json::json!({
            "service": query.service,
            "start_time": query.start_time.to_string(),
            "end_time": query.end_time.to_string(),
        });
        match self
            .post_insights(label, "/events/count", &query.org_id, &body)
            .await
        {
            Ok(response) => {
                let count: Count = parse_json("/events/count", &response.body)?;
                Ok(Some(count.count))
            }
            Err(JumpCloudError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Streams Directory Insights events of the window, oldest first, paging with
    /// `search_after` until a page is shorter than the limit. `expected` is the window's
    /// `/events/count`, when known. A server that pages forever is stopped: a cursor that
    /// repeats an earlier one, more events than `expected`, or more pages than `expected`
    /// allows (or [`MAX_EVENT_PAGES`] without a count) end the stream with an error.
    pub fn events(
        &self,
        label: &str,
        query: EventQuery,
        expected: Option<u64>,
    ) -> BoxStream<'static, Result<Page, JumpCloudError>> {
        let client = self.clone();
        let label = label.to_owned();
        let query = Arc::new(query);
        let max_pages = expected.map_or(MAX_EVENT_PAGES, |count| count / MAX_EVENTS_PAGE + 2);
        let start = Some(EventsPaging {
            skip: 0,
            pages: 0,
            search_after: serde_json::Value::Null,
            cursors: HashSet::new(),
            seen: SeenIds::default(),
        });
        stream::try_unfold(start, move |state| {
            let client = client.clone();
            let label = label.clone();
            let query = query.clone();
            async move {
                let Some(mut state) = state else {
                    return Ok(None);
                };
                const ENDPOINT: &str = "/events";
                if state.pages >= max_pages {
                    return Err(JumpCloudError::MalformedResponse {
                        endpoint: ENDPOINT.to_owned(),
                        offset: 0,
                        detail: format!(
                            "paging did not end after {} pages ({} events){}; the server keeps \
                             sending full pages",
                            state.pages,
                            state.skip,
                            expected.map_or_else(String::new, |count| format!(
                                ", although /events/count reported {count}"
                            ))
                        ),
                    });
                }
                let mut body = serde_json::json!({
                    "service": query.service,
                    "start_time": query.start_time.to_string(),
                    "end_time": query.end_time.to_string(),
                    "limit": MAX_EVENTS_PAGE,
                    "sort": "ASC",
                });
                if !state.search_after.is_null() {
                    body["search_after"] = state.search_after.clone();
                }
                let budget = PageBudget::for_limit(MAX_EVENTS_PAGE).await;
                let response = client
                    .post_insights(&label, ENDPOINT, &query.org_id, &body)
                    .await?;
                let limits = client.page_limits(MAX_EVENTS_PAGE, state.skip);
                let (body, spans) = paging::parse_array(ENDPOINT, response.body, limits)?;
                let header_number = |name: &str| {
                    response
                        .headers
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|text| text.trim().parse::<u64>().ok())
                };
                let count = header_number("x-result-count").unwrap_or(spans.len() as u64);
                let limit = header_number("x-limit").unwrap_or(MAX_EVENTS_PAGE);
                let page = Page::new(state.skip, body, spans, budget);
                for record in page.records() {
                    if let Some(id) = paging::record_id(record)
                        && !state.seen.insert(&id)
                    {
                        return Err(JumpCloudError::DuplicateRecord {
                            endpoint: ENDPOINT.to_owned(),
                            id: sanitize(&id, client.inner.credential.expose_secret()),
                            skip: state.skip,
                        });
                    }
                }
                state.skip += page.len() as u64;
                state.pages += 1;
                if let Some(expected) = expected
                    && state.skip > expected
                {
                    return Err(JumpCloudError::TruncatedCollection {
                        endpoint: ENDPOINT.to_owned(),
                        expected,
                        received: state.skip,
                    });
                }
                if count < limit || page.is_empty() {
                    return Ok(Some((page, None)));
                }
                let cursor = response
                    .headers
                    .get("x-search_after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
                    .filter(serde_json::Value::is_array)
                    .ok_or_else(|| JumpCloudError::MalformedResponse {
                        endpoint: ENDPOINT.to_owned(),
                        offset: 0,
                        detail: "a full page came without a JSON X-Search_after header".to_owned(),
                    })?;
                // The cursor is server text: compared, never shown.
                if !state.cursors.insert(cursor.to_string()) {
                    return Err(JumpCloudError::MalformedResponse {
                        endpoint: ENDPOINT.to_owned(),
                        offset: 0,
                        detail: format!(
                            "the X-Search_after cursor of page {} repeats an earlier page's, so \
                             paging would never end",
                            state.pages
                        ),
                    });
                }
                state.search_after = cursor;
                Ok(Some((page, Some(state))))
            }
        })
        .boxed()
    }

    pub(super) async fn post_insights(
        &self,
        label: &str,
        route: &str,
        org_id: &str,
        body: &serde_json::Value,
    ) -> Result<RawResponse, JumpCloudError> {
        if org_id.is_empty() || reqwest::header::HeaderValue::from_str(org_id).is_err() {
            return Err(JumpCloudError::InvalidConfig(format!(
                "the organization id {:?} of a Directory Insights query is empty or contains \
                 characters a header cannot carry",
                sanitize(org_id, self.inner.credential.expose_secret())
            )));
        }
        let url =
            Url::parse(&format!("{}{}", self.inner.insights_base, route)).map_err(|error| {
                JumpCloudError::InvalidConfig(format!("bad URL for {route}: {error}"))
            })?;
        let json_body = serde_json::to_vec(body)
            .map_err(|error| JumpCloudError::InvalidConfig(error.to_string()))?;
        let spec = RequestSpec {
            label: label.to_owned(),
            endpoint: route.to_owned(),
            method: Method::POST,
            url,
            org_id: Some(org_id.to_owned()),
            body: Some(super::RequestBody::Json(json_body)),
            auth: super::RequestAuth::Credential,
        };
        self.send(spec).await
    }
}
