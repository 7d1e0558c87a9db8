//! JumpCloud HTTP client: the API key type, auth headers, regions, pagination with exact
//! totals, retries with backoff, typed errors and identity.

mod client;
mod error;
mod identity;
mod key;
pub mod paging;
pub mod retry;
pub mod routes;

pub use client::{ClientConfig, EventQuery, JumpCloudClient, ListRequest, Listing, Page};
pub use error::JumpCloudError;
pub use identity::{Administrator, Identity, Org, select_org};
pub use key::{ApiKey, ApiKeyError};
pub use paging::ListShape;
pub use retry::RetryPolicy;
