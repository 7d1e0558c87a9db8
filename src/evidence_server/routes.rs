//! The endpoint's routes: authenticate and authorise each request (gathered by `auth`,
//! decided by `access`), then read the store and render.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kube::api::{Api, ListParams};
use serde::Deserialize;

use super::EvidenceServer;
use super::access::{self, Access};
use super::auth::{AuthError, User, token_of};
use super::index::{IndexEntry, render_index};
use crate::crd::JumpCloudConnection;
use crate::report::{Format, Rendered, render, stored_report, write_zip};
use crate::store::{ConnectionId, ConnectionStore, StoreError};

type Shared = Arc<EvidenceServer>;

pub(super) fn router(server: Shared) -> Router {
    Router::new()
        .route("/", get(index_html))
        .route("/connections", get(index_json))
        .route("/connections/{namespace}/{name}/snapshots", get(snapshots))
        .route("/connections/{namespace}/{name}/report", get(report))
        .route("/connections/{namespace}/{name}/snapshots/{id}/manifest", get(manifest))
        .route("/connections/{namespace}/{name}/snapshots/{id}/signature", get(signature))
        .route("/connections/{namespace}/{name}/blobs/sha256/{digest}", get(blob))
        .fallback(|| async {
            text(StatusCode::NOT_FOUND, "no such route: see GET / for the connections and their links (README, \"Getting the evidence out\")\n".to_owned())
        })
        .with_state(server)
}

/// Why a request ends without its answer; each a plain-text response naming the fix.
#[derive(Debug, thiserror::Error)]
enum RouteError {
    #[error("{}", .0.message())]
    Refused(Access),
    #[error("{0}\n")]
    Auth(#[from] AuthError),
    #[error("{0}\n")]
    BadRequest(String),
    #[error("{0}\n")]
    NotFound(String),
    #[error("refusing to serve a report of incomplete or altered evidence: {0}\n")]
    Incomplete(StoreError),
    #[error("evidence store: {0}\n")]
    Store(StoreError),
    #[error(
        "cannot list JumpCloudConnections: {0}; the operator needs `list jumpcloudconnections.jumpcloud-operator.io` (the chart grants it)\n"
    )]
    List(String),
    #[error("cannot render the report: {0}\n")]
    Render(#[from] crate::report::RenderError),
}

impl RouteError {
    fn status(&self) -> StatusCode {
        match self {
            RouteError::Refused(access) => access.status(),
            RouteError::BadRequest(_) => StatusCode::BAD_REQUEST,
            RouteError::NotFound(_) => StatusCode::NOT_FOUND,
            RouteError::Incomplete(_) => StatusCode::CONFLICT,
            RouteError::Auth(_)
            | RouteError::Store(_)
            | RouteError::List(_)
            | RouteError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for RouteError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UnknownSnapshot(_) | StoreError::AmbiguousSnapshot(_) => {
                RouteError::NotFound(error.to_string())
            }
            other => RouteError::Store(other),
        }
    }
}

impl IntoResponse for RouteError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(server = "evidence", error = %self, "request failed");
        }
        text(status, self.to_string())
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn typed(content_type: &'static str, body: impl Into<Body>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

/// The authenticated caller, or a 401.
async fn caller(server: &EvidenceServer, headers: &HeaderMap) -> Result<User, RouteError> {
    let token = token_of(headers);
    let user = match &token {
        Some(token) => server.authorizer.authenticate(token).await?,
        None => None,
    };
    match (access::index_access(token.is_some(), user.is_some()), user) {
        (Access::Allowed, Some(user)) => Ok(user),
        (refused, _) => Err(RouteError::Refused(refused)),
    }
}

/// The connection's store when the caller may get the connection: 401, 400 (not a
/// connection name, before any review names it), 403, in that order.
async fn authorised(
    server: &EvidenceServer,
    headers: &HeaderMap,
    namespace: &str,
    name: &str,
) -> Result<ConnectionStore, RouteError> {
    let user = caller(server, headers).await?;
    let id = ConnectionId::new(namespace, name).map_err(|_| {
        RouteError::BadRequest(format!(
            "{namespace:?}/{name:?} is not a connection: namespace and name are lowercase DNS names (see GET /)"
        ))
    })?;
    let allowed = server
        .authorizer
        .may_get(&user, namespace, Some(name))
        .await?;
    match access::connection_access(true, true, allowed, namespace, name) {
        Access::Allowed => Ok(server.store.connection(&id)),
        refused => {
            tracing::info!(server = "evidence", user = %user.username, connection = %id, "forbidden");
            Err(RouteError::Refused(refused))
        }
    }
}

/// The connections the caller may get, with their status.
async fn visible_entries(
    server: &EvidenceServer,
    user: &User,
) -> Result<Vec<IndexEntry>, RouteError> {
    let mut all: Vec<JumpCloudConnection> = Vec::new();
    let scopes: Vec<Api<JumpCloudConnection>> = if server.namespaces.is_empty() {
        vec![Api::all(server.client.clone())]
    } else {
        server
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(server.client.clone(), ns))
            .collect()
    };
    for api in scopes {
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| RouteError::List(e.to_string()))?;
        all.extend(list.items);
    }
    let mut by_id: BTreeMap<(String, String), JumpCloudConnection> = all
        .into_iter()
        .filter_map(|c| Some(((c.metadata.namespace.clone()?, c.metadata.name.clone()?), c)))
        .collect();
    let ids: Vec<(String, String)> = by_id.keys().cloned().collect();
    let namespaces: BTreeSet<&String> = ids.iter().map(|(ns, _)| ns).collect();
    let mut namespace_allowed = BTreeMap::new();
    for namespace in namespaces {
        let allowed = server.authorizer.may_get(user, namespace, None).await?;
        namespace_allowed.insert(namespace.clone(), allowed);
    }
    let mut name_allowed = BTreeSet::new();
    for (namespace, name) in access::names_to_check(&ids, &namespace_allowed) {
        if server
            .authorizer
            .may_get(user, namespace, Some(name))
            .await?
        {
            name_allowed.insert((namespace.clone(), name.clone()));
        }
    }
    Ok(access::visible(&ids, &namespace_allowed, &name_allowed)
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .map(|c| IndexEntry::of(&c))
        .collect())
}

async fn index_html(
    State(server): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let user = caller(&server, &headers).await?;
    let entries = visible_entries(&server, &user).await?;
    Ok(typed(
        "text/html; charset=utf-8",
        render_index(&entries, &user.username),
    ))
}

async fn index_json(
    State(server): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let user = caller(&server, &headers).await?;
    let entries = visible_entries(&server, &user).await?;
    Ok(
        axum::Json(serde_json::json!({ "user": user.username, "connections": entries }))
            .into_response(),
    )
}

async fn snapshots(
    State(server): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let store = authorised(&server, &headers, &namespace, &name).await?;
    let base = format!("connections/{namespace}/{name}");
    let list: Vec<serde_json::Value> = store
        .summaries()
        .await?
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id, "sequence": s.sequence, "time": s.created_at,
                "manifestDigest": format!("sha256:{}", s.sha256), "signed": s.signed,
                "manifest": format!("{base}/snapshots/{}/manifest", s.id),
                "report": format!("{base}/report?snapshot={}", s.id),
            })
        })
        .collect();
    Ok(axum::Json(
        serde_json::json!({ "connection": format!("{namespace}/{name}"), "snapshots": list }),
    )
    .into_response())
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    format: Option<String>,
    snapshot: Option<String>,
}

fn parse_format(text: Option<&str>) -> Result<Format, RouteError> {
    let Some(text) = text else {
        return Ok(Format::Html);
    };
    <Format as clap::ValueEnum>::from_str(text, true).map_err(|_| {
        let known: Vec<String> = <Format as clap::ValueEnum>::value_variants()
            .iter()
            .filter_map(|f| clap::ValueEnum::to_possible_value(f).map(|v| v.get_name().to_owned()))
            .collect();
        RouteError::BadRequest(format!(
            "format={text:?} is not a report format: use one of {}",
            known.join(", ")
        ))
    })
}

async fn report(
    State(server): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let store = authorised(&server, &headers, &namespace, &name).await?;
    let format = parse_format(query.format.as_deref())?;
    let snapshot = match &query.snapshot {
        Some(id) => store.resolve(id).await?,
        None => store.latest().await?.ok_or_else(|| {
            RouteError::NotFound(format!(
                "connection {namespace}/{name} has no snapshot yet: wait for its first successful sync (status.evidence.snapshot)"
            ))
        })?,
    };
    // As `report`: never a report of evidence that is not all there, or not as committed.
    store
        .check_blobs(&snapshot)
        .await
        .map_err(|error| match error {
            StoreError::MissingBlob { .. } | StoreError::CorruptBlob { .. } => {
                RouteError::Incomplete(error)
            }
            other => RouteError::Store(other),
        })?;
    let report = stored_report(&store, &snapshot, None).await?;
    let response = match render(format, &report)? {
        Rendered::Document { text, media_type } => typed(media_type, text),
        Rendered::Files(files) => {
            let mut response = typed("application/zip", write_zip(&files));
            let file = format!(
                "attachment; filename=\"{namespace}-{name}-{}-csv.zip\"",
                snapshot.id
            );
            if let Ok(value) = HeaderValue::from_str(&file) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
    };
    Ok(response)
}

async fn manifest(
    State(server): State<Shared>,
    Path((namespace, name, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let store = authorised(&server, &headers, &namespace, &name).await?;
    let file = store.manifest_file(&id).await?;
    let mut response = typed("application/json", file.bytes);
    // The file name in `snapshots/`, so an offline copy can rebuild the store layout.
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.file_name))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn signature(
    State(server): State<Shared>,
    Path((namespace, name, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let store = authorised(&server, &headers, &namespace, &name).await?;
    match store.signature_file(&id).await? {
        Some(file) => {
            let mut response = typed("application/json", file.bytes);
            if let Ok(value) =
                HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.file_name))
            {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, value);
            }
            Ok(response)
        }
        None => Err(RouteError::NotFound(format!(
            "snapshot {id} of {namespace}/{name} is not signed (run the operator with --signing-key-file to sign)"
        ))),
    }
}

async fn blob(
    State(server): State<Shared>,
    Path((namespace, name, digest)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let store = authorised(&server, &headers, &namespace, &name).await?;
    if !access::valid_digest(&digest) {
        return Err(RouteError::BadRequest(
            "a blob is named by its SHA-256: 64 lowercase hex characters (see the snapshot's manifest and index)".to_owned(),
        ));
    }
    match store.blob_stream(&digest).await? {
        Some(stream) => Ok(typed("application/octet-stream", Body::from_stream(stream))),
        None => Err(RouteError::NotFound(format!(
            "connection {namespace}/{name} has no blob {digest}"
        ))),
    }
}
