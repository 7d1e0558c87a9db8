//! JumpCloud HTTP client: API keys and service accounts (OAuth tokens), auth headers, regions, pagination with exact
//! totals, retries with backoff, typed errors and identity.

pub mod adaptive;
mod client;
mod credential;
mod encodings;
mod error;
mod identity;
mod key;
pub mod paging;
pub mod retry;
pub mod routes;

pub use client::{
    ClientConfig, DEFAULT_MAX_PAGE_BYTES, DEFAULT_MAX_RECORD_BYTES, EventQuery, JumpCloudClient,
    LARGE_PAGES_IN_MEMORY, ListRequest, Listing, MAX_OLD_KEY_ATTEMPTS, OLD_KEY_EVENT,
    OldKeyAttempt, Page, TokenCaches,
};
pub use credential::{ClientCredentials, ClientCredentialsError, Credential, CredentialKind};
pub use encodings::key_encodings;
pub use error::{JumpCloudError, RetryLimit, TokenRejection};
pub use identity::{Administrator, Identity, KeyReach, Org, select_org};
pub use key::{ApiKey, ApiKeyError};
pub use paging::ListShape;
pub use retry::RetryPolicy;
