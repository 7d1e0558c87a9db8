//! The HTTP client: auth headers, retries, pagination, request accounting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::StreamExt;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use url::Url;

use super::adaptive::AdaptiveLimit;
use super::encodings::KeyMatcher;
use super::paging::{
    self, ListShape, MAX_INSIGHTS_PAGE, MAX_PAGE, PageLimits, check_page, malformed,
};
use super::retry::RetryPolicy;
use super::routes::{returns_secrets, stable_sort, takes_org_header};
use super::{Credential, CredentialKind, JumpCloudError};
use crate::region::Region;
use page_budget::PageBudget;
use token::TokenCache;

mod auth;
mod insights;
mod listing;
mod old_keys;
mod page_budget;
mod send;
mod token;
pub use old_keys::{MAX_OLD_KEY_ATTEMPTS, OLD_KEY_EVENT, OldKeyAttempt};
pub use page_budget::LARGE_PAGES_IN_MEMORY;
pub use token::TokenCaches;

pub use insights::EventQuery;

const DI_PATH: &str = "/insights/directory/v1";

/// Attempts when no connection can be made at all (refused, DNS): a wrong host or port should
/// fail in about a second, not after the full backoff.
const MAX_CONNECT_ATTEMPTS: u32 = 3;

/// How to reach JumpCloud and how hard to try.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub region: Region,
    /// FOR TESTS AND PRIVATE ENDPOINTS ONLY. Replaces the region's hosts: console routes go to
    /// `<override>/api...`, Directory Insights to `<override>/insights/directory/v1`. Production
    /// use picks a [`Region`] instead.
    pub base_url_override: Option<Url>,
    /// The organization to act on. Needed for multi-tenant administrators; sent as `x-org-id`
    /// on org-scoped console routes only (Directory Insights requests send their query's
    /// [`EventQuery::org_id`], the organization the key was identified with).
    pub org_id: Option<String>,
    /// The most requests in flight at once across the whole client; the adaptive limit
    /// ([`super::adaptive`]) finds how many the API takes, up to this.
    pub concurrency: usize,
    /// Timeout of one HTTP attempt.
    pub request_timeout: Duration,
    /// Time budget of one request including all its retries.
    pub total_deadline: Duration,
    pub retry: RetryPolicy,
    /// Called after every HTTP attempt with the request label and status (metrics).
    pub observer: Option<crate::telemetry::RequestObserver>,
    /// Largest response body read (a page, or one object); a larger one fails the request
    /// while it is being read.
    pub max_page_bytes: u64,
    /// Largest single record of a page.
    pub max_record_bytes: u64,
    /// Where a service account gets its access tokens; `None`: the region's token endpoint
    /// (with [`Self::base_url_override`], `<override>/oauth2/token`).
    pub token_url_override: Option<Url>,
    /// Access tokens, shared by every client built with a clone of this.
    pub tokens: TokenCaches,
}

/// Default [`ClientConfig::max_page_bytes`]: a full System Insights or Directory Insights page
/// (10,000 rows or events) is 5 to 20 MB; 64 MiB leaves room without letting a hostile server
/// take gigabytes.
pub const DEFAULT_MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;
/// Default [`ClientConfig::max_record_bytes`]: JumpCloud objects are kilobytes; an application
/// with its certificates and metadata stays far below 4 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 4 * 1024 * 1024;

/// Most bytes of an error body read for its message (the message keeps 200 characters).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Attempts of a request answered HTTP 500: one transient 500 is retried, a lasting one (a
/// server bug that every retry meets) gives up sooner than the policy's cap.
const MAX_SERVER_ERROR_ATTEMPTS: u32 = 4;

/// Most Directory Insights pages of one query when `/events/count` gave no total (with a
/// total, the count bounds the pages): 10,000 pages of 10,000 events.
const MAX_EVENT_PAGES: u64 = 10_000;

impl ClientConfig {
    pub fn new(region: Region) -> Self {
        ClientConfig {
            region,
            base_url_override: None,
            org_id: None,
            concurrency: crate::defaults::MAX_CONCURRENCY,
            request_timeout: Duration::from_secs(60),
            total_deadline: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            observer: None,
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            token_url_override: None,
            tokens: TokenCaches::default(),
        }
    }
}

/// A JumpCloud API client. Cheap to clone; clones share the concurrency limit and counters.
#[derive(Clone)]
pub struct JumpCloudClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    credential: Credential,
    /// A service account's token cache and token endpoint; `None` for an API key.
    token: Option<(TokenCache, Url)>,
    region: Region,
    console_base: String,
    insights_base: String,
    org_id: Option<String>,
    concurrency: usize,
    limit: AdaptiveLimit,
    request_timeout: Duration,
    total_deadline: Duration,
    retry: RetryPolicy,
    requests: Mutex<BTreeMap<String, u64>>,
    observer: Option<crate::telemetry::RequestObserver>,
    max_page_bytes: u64,
    max_record_bytes: u64,
    /// Finds the key's encodings a response must not carry.
    key_matcher: KeyMatcher,
}

impl std::fmt::Debug for JumpCloudClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JumpCloudClient")
            .field("region", &self.inner.region)
            .field("console_base", &self.inner.console_base)
            .field("org_id", &self.inner.org_id)
            .field("credential", &self.inner.credential)
            .finish()
    }
}

/// A list request: one endpoint, paged with `limit`/`skip`.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// Groups requests in the per-label counters (e.g. the evidence kind).
    pub label: String,
    /// Console path, e.g. `/api/systemusers`.
    pub path: String,
    pub shape: ListShape,
    pub limit: u64,
    pub query: Vec<(String, String)>,
}

/// The `sort` query of a list route: a unique field where the route has a `sort` parameter
/// ([`stable_sort`] says which and why), nothing where it has none.
fn sort_query(path: &str) -> Vec<(String, String)> {
    stable_sort(path)
        .map(|field| vec![("sort".to_owned(), field.to_owned())])
        .unwrap_or_default()
}

impl ListRequest {
    /// A v1 list (`{totalCount, results}`), 100 per page, sorted by the unique `_id` so pages
    /// neither overlap nor leave gaps.
    pub fn v1(label: &str, path: impl Into<String>) -> Self {
        let path = path.into();
        ListRequest {
            label: label.to_owned(),
            query: sort_query(&path),
            path,
            shape: ListShape::Envelope,
            limit: MAX_PAGE,
        }
    }

    /// A v2 list (bare array, `x-total-count`), 100 per page, sorted by the unique `id` where
    /// the route takes `sort` (graph traversal routes take none; see [`stable_sort`]).
    pub fn v2(label: &str, path: impl Into<String>) -> Self {
        let path = path.into();
        ListRequest {
            label: label.to_owned(),
            query: sort_query(&path),
            path,
            shape: ListShape::Array,
            limit: MAX_PAGE,
        }
    }

    /// A v2 route that uses the v1 envelope (`/api/v2/roles`, ...).
    pub fn v2_envelope(label: &str, path: impl Into<String>) -> Self {
        ListRequest {
            shape: ListShape::Envelope,
            ..ListRequest::v2(label, path)
        }
    }

    /// A System Insights table, 10,000 rows per page, sorted by `system_id`.
    pub fn system_insights(label: &str, table: &str) -> Self {
        ListRequest {
            limit: MAX_INSIGHTS_PAGE,
            ..ListRequest::v2(label, format!("/api/v2/systeminsights/{table}"))
        }
    }
}

/// Records of one page, exactly as the API sent them (slices of the response body).
#[derive(Debug)]
pub struct Page {
    pub skip: u64,
    body: Bytes,
    spans: Vec<std::ops::Range<usize>>,
    /// The page's place in memory, freed when it is dropped (written).
    _budget: PageBudget,
}

impl Page {
    fn new(skip: u64, body: Bytes, spans: Vec<std::ops::Range<usize>>, budget: PageBudget) -> Self {
        Page {
            skip,
            body,
            spans,
            _budget: budget,
        }
    }

    /// Each record's JSON text, byte for byte as received.
    pub fn records(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|span| &self.body[span.clone()])
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// A listing whose first page has been fetched: the total is known before the rest is
/// requested.
pub struct Listing {
    client: JumpCloudClient,
    request: Arc<ListRequest>,
    first: Page,
    total: u64,
}

struct RawResponse {
    headers: HeaderMap,
    body: Bytes,
}

/// A failed attempt: the error, and the server's `Retry-After` when it sent one.
struct Failure {
    error: JumpCloudError,
    retry_after: Option<Duration>,
    /// The bearer token the attempt sent, when the server refused it (401).
    refused_token: Option<auth::SentToken>,
}

impl From<JumpCloudError> for Failure {
    fn from(error: JumpCloudError) -> Self {
        Failure {
            error,
            retry_after: None,
            refused_token: None,
        }
    }
}

struct RequestSpec {
    label: String,
    /// Path used in error messages (no query, no host).
    endpoint: String,
    method: Method,
    url: Url,
    /// The `x-org-id` the request carries, if any.
    org_id: Option<String>,
    body: Option<RequestBody>,
    auth: RequestAuth,
}

enum RequestBody {
    Json(Vec<u8>),
    /// `application/x-www-form-urlencoded` (the token request).
    Form(String),
}

/// How a request authenticates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RequestAuth {
    /// The client's credential: `x-api-key`, or a service account's bearer token.
    Credential,
    /// The service account's client id and secret (the token request itself).
    ClientSecretBasic,
}

impl JumpCloudClient {
    pub fn new(
        config: ClientConfig,
        credential: impl Into<Credential>,
    ) -> Result<Self, JumpCloudError> {
        let credential = credential.into();
        if config.concurrency == 0 {
            return Err(JumpCloudError::InvalidConfig(
                "concurrency must be at least 1".to_owned(),
            ));
        }
        if let Some(org_id) = &config.org_id
            && (org_id.is_empty() || HeaderValue::from_str(org_id).is_err())
        {
            return Err(JumpCloudError::InvalidConfig(
                "the org id is empty or contains characters a header cannot carry".to_owned(),
            ));
        }
        let (console_base, insights_base) = match &config.base_url_override {
            Some(url) => {
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(JumpCloudError::InvalidConfig(format!(
                        "the base URL must be http or https, not {:?}",
                        url.scheme()
                    )));
                }
                let base = url.as_str().trim_end_matches('/').to_owned();
                (base.clone(), format!("{base}{DI_PATH}"))
            }
            None => (
                config.region.console_base().to_owned(),
                config.region.insights_base().to_owned(),
            ),
        };
        let key_matcher = KeyMatcher::new(credential.expose_secret());
        let token = match credential.kind() {
            CredentialKind::ApiKey => None,
            CredentialKind::ServiceAccount => {
                let url = auth::token_url(&config)?;
                let cache = config.tokens.cache(&credential.fingerprint(), url.as_str());
                Some((cache, url))
            }
        };
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(30)))
            // A redirect would forward the custom x-api-key header to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jumpcloud-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| JumpCloudError::InvalidConfig(error.to_string()))?;
        Ok(JumpCloudClient {
            inner: Arc::new(Inner {
                http,
                region: config.region,
                console_base,
                insights_base,
                org_id: config.org_id,
                concurrency: config.concurrency,
                limit: AdaptiveLimit::new(config.concurrency),
                request_timeout: config.request_timeout,
                total_deadline: config.total_deadline,
                retry: config.retry,
                requests: Mutex::new(BTreeMap::new()),
                observer: config.observer,
                max_page_bytes: config.max_page_bytes,
                max_record_bytes: config.max_record_bytes,
                key_matcher,
                credential,
                token,
            }),
        })
    }

    pub fn region(&self) -> Region {
        self.inner.region
    }

    pub fn org_id(&self) -> Option<&str> {
        self.inner.org_id.as_deref()
    }

    pub fn key_fingerprint(&self) -> String {
        self.inner.credential.fingerprint()
    }

    pub fn credential_kind(&self) -> CredentialKind {
        self.inner.credential.kind()
    }

    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    /// HTTP attempts made so far (retries included), per request label.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.lock_requests().clone()
    }

    pub fn total_requests(&self) -> u64 {
        self.lock_requests().values().sum()
    }

    fn lock_requests(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        // A poisoned counter map only means a panic elsewhere; the counts are still usable.
        self.inner
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn console_url(&self, path: &str, query: &[(String, String)]) -> Result<Url, JumpCloudError> {
        if returns_secrets(path) {
            return Err(JumpCloudError::InvalidConfig(format!(
                "{path} answers with secrets (recovery keys, shared secrets, command scripts), which evidence must \
                 never hold: the client does not request it"
            )));
        }
        let mut url =
            Url::parse(&format!("{}{}", self.inner.console_base, path)).map_err(|error| {
                JumpCloudError::InvalidConfig(format!("bad URL for {path}: {error}"))
            })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// GET a single console object, typed.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        label: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, JumpCloudError> {
        let response = self.get(label, path, query).await?;
        if response.body.len() as u64 > self.inner.max_record_bytes {
            return Err(JumpCloudError::ResponseTooLarge {
                endpoint: path.to_owned(),
                what: "one record",
                limit_bytes: self.inner.max_record_bytes,
                option: "--max-record-bytes",
            });
        }
        parse_json(path, &response.body)
    }

    /// GET a single console object, kept exactly as sent.
    pub async fn get_raw(&self, label: &str, path: &str) -> Result<Box<RawValue>, JumpCloudError> {
        self.get_json(label, path, &[]).await
    }

    async fn get(
        &self,
        label: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Result<RawResponse, JumpCloudError> {
        let spec = RequestSpec {
            label: label.to_owned(),
            endpoint: path.to_owned(),
            method: Method::GET,
            url: self.console_url(path, query)?,
            org_id: self.inner.org_id.clone().filter(|_| takes_org_header(path)),
            body: None,
            auth: RequestAuth::Credential,
        };
        self.send(spec).await
    }

    /// The cheapest possible "is the key still valid" probe: exactly one request.
    pub async fn verify_key(&self) -> Result<(), JumpCloudError> {
        let query = [("limit".to_owned(), "1".to_owned())];
        self.get("verify", "/api/organizations", &query).await?;
        Ok(())
    }

    /// Fetches the first page of a listing. A first page without a total (no `totalCount` in a
    /// v1 envelope, no `x-total-count` header on a v2 array) is a malformed response: without
    /// the total, completeness cannot be proved, and paging "until a short page" is exactly the
    /// silent truncation this client exists to prevent.
    pub async fn open_listing(&self, request: ListRequest) -> Result<Listing, JumpCloudError> {
        let (parsed, budget) = self.fetch_page(&request, 0).await?;
        let Some(total) = parsed.total else {
            return Err(JumpCloudError::MalformedResponse {
                endpoint: request.path.clone(),
                offset: 0,
                detail: match request.shape {
                    ListShape::Envelope => "the list has no totalCount",
                    ListShape::Array => "the list came without an x-total-count header",
                }
                .to_owned()
                    + ", so its completeness cannot be checked",
            });
        };
        check_page(&request.path, total, request.limit, 0, None, parsed.len())?;
        Ok(Listing {
            client: self.clone(),
            request: Arc::new(request),
            total,
            first: Page::new(0, parsed.body, parsed.spans, budget),
        })
    }

    /// Fetches a whole (small) listing into memory, each record deserialised as `T`. For
    /// collections that may be large, stream [`Listing::pages`] instead.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        request: ListRequest,
    ) -> Result<Vec<T>, JumpCloudError> {
        let endpoint = request.path.clone();
        let mut pages = self.open_listing(request).await?.pages();
        let mut records = Vec::new();
        while let Some(page) = pages.next().await {
            for record in page?.records() {
                records.push(parse_json(&endpoint, record)?);
            }
        }
        Ok(records)
    }

    /// One page and its place in memory (taken before the request, see [`PageBudget`]).
    async fn fetch_page(
        &self,
        request: &ListRequest,
        skip: u64,
    ) -> Result<(paging::ParsedPage, PageBudget), JumpCloudError> {
        let budget = PageBudget::for_limit(request.limit).await;
        let mut query = vec![
            ("limit".to_owned(), request.limit.to_string()),
            ("skip".to_owned(), skip.to_string()),
        ];
        query.extend(request.query.iter().cloned());
        let response = self.get(&request.label, &request.path, &query).await?;
        let header_total = match response.headers.get("x-total-count") {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|text| text.trim().parse::<u64>().ok())
                    .ok_or_else(|| JumpCloudError::MalformedResponse {
                        endpoint: request.path.clone(),
                        offset: 0,
                        detail: "the x-total-count header is not a number".to_owned(),
                    })?,
            ),
        };
        let limits = self.page_limits(request.limit, skip);
        let parsed = paging::parse_page(
            &request.path,
            request.shape,
            response.body,
            header_total,
            limits,
        )?;
        Ok((parsed, budget))
    }

    fn page_limits(&self, max_records: u64, skip: u64) -> PageLimits {
        PageLimits {
            max_records,
            max_record_bytes: self.inner.max_record_bytes,
            skip,
        }
    }
}

/// Parses a body as `T`; the error names the endpoint, the offset and what was expected, never
/// the value found ([`malformed`]).
fn parse_json<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, JumpCloudError> {
    serde_json::from_slice(body).map_err(|error| malformed(endpoint, body, &error))
}
