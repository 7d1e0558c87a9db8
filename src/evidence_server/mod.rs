//! The read-only evidence endpoint of `run`: per connection the reports of any stored snapshot
//! (HTML, JSON, Markdown, CSV as a ZIP), the snapshot list, manifests and blobs by digest (to
//! re-verify offline), and an index of the connections the caller may see. Every request
//! needs a Kubernetes bearer token (TokenReview) and `get` on the JumpCloudConnection
//! (SubjectAccessReview). It runs on every replica: it reads the store, not the leader's state.
//!
//! Shape: `auth` gathers (reviews, cached), `access` decides (pure), `routes` act and render.

pub mod access;
pub mod auth;
pub mod index;
mod routes;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use auth::{TOKEN_HEADER, User};
pub use index::{IndexEntry, render_index};

use crate::store::EvidenceStore;

/// What the endpoint serves from and asks.
pub struct EvidenceServer {
    pub(crate) store: EvidenceStore,
    pub(crate) client: kube::Client,
    pub(crate) authorizer: auth::Authorizer,
    /// The namespaces the operator watches (all when empty): the index lists connections there.
    pub(crate) namespaces: Vec<String>,
}

/// Errors of serving the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceServerError {
    #[error("evidence server: {0}")]
    Serve(#[source] std::io::Error),
}

impl EvidenceServer {
    pub fn new(store: EvidenceStore, client: kube::Client, namespaces: Vec<String>) -> Self {
        EvidenceServer {
            store,
            authorizer: auth::Authorizer::new(client.clone()),
            client,
            namespaces,
        }
    }

    /// Serves on an already bound listener until `shutdown` resolves.
    pub async fn serve_on(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EvidenceServerError> {
        axum::serve(listener, routes::router(Arc::new(self)))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(EvidenceServerError::Serve)
    }
}
