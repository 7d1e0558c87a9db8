//! JumpCloud HTTP client: the API key type, auth headers, regions, pagination with exact
//! totals, retries with backoff, typed errors and identity.

pub mod adaptive;
mod client;
mod encodings;
mod error;
mod identity;
mod key;
pub mod paging;
pub mod retry;
pub mod routes;

pub use client::{
    ClientConfig, DEFAULT_MAX_PAGE_BYTES, DEFAULT_MAX_RECORD_BYTES, EventQuery, JumpCloudClient,
    LARGE_PAGES_IN_MEMORY, ListRequest, Listing, Page,
};
pub use encodings::key_encodings;
pub use error::{JumpCloudError, RetryLimit};
pub use identity::{Administrator, Identity, KeyReach, Org, select_org};
pub use key::{ApiKey, ApiKeyError};
pub use paging::ListShape;
pub use retry::RetryPolicy;
