//! HTTP servers for `/metrics` and for `/healthz` + `/readyz`, each on its own port.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::Metrics;

const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Errors of the telemetry servers.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the {server} server stopped: {source}")]
    Serve {
        server: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Readiness flag shared between the controller and the health server; clones share one flag.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A new flag: not ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// `/readyz` answers 200 from now on.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// `/readyz` answers 503 from now on (for example while shutting down).
    pub fn set_not_ready(&self) {
        self.0.store(false, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Router serving `GET /metrics`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(metrics)
}

/// Router serving `GET /healthz` and `GET /readyz`.
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(readyz_handler))
        .with_state(readiness)
}

/// Binds `addr` and serves `/metrics` until `shutdown` resolves.
pub async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TelemetryError> {
    serve_metrics_on(bind(addr).await?, metrics, shutdown).await
}

/// Serves `/metrics` on an already bound listener until `shutdown` resolves.
pub async fn serve_metrics_on(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TelemetryError> {
    serve("metrics", listener, metrics_router(metrics), shutdown).await
}

/// Binds `addr` and serves `/healthz` and `/readyz` until `shutdown` resolves.
pub async fn serve_health(
    addr: SocketAddr,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TelemetryError> {
    serve_health_on(bind(addr).await?, readiness, shutdown).await
}

/// Serves `/healthz` and `/readyz` on an already bound listener until `shutdown` resolves.
pub async fn serve_health_on(
    listener: TcpListener,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TelemetryError> {
    serve("health", listener, health_router(readiness), shutdown).await
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, TelemetryError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| TelemetryError::Bind { addr, source })
}

async fn serve(
    server: &'static str,
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TelemetryError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| TelemetryError::Serve { server, source })
}

async fn metrics_handler(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}

async fn readyz_handler(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if readiness.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::telemetry::{KeyState, SyncResultLabel};

    async fn local_listener() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        (listener, format!("http://{addr}"))
    }

    async fn get_status(client: &reqwest::Client, url: &str) -> (u16, String) {
        let response = client.get(url).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    #[tokio::test]
    async fn readyz_flips_when_readiness_is_set_and_healthz_is_always_ok() {
        let (listener, base) = local_listener().await;
        let readiness = Readiness::new();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_health_on(listener, readiness.clone(), async move {
            let _ = stop_rx.await;
        }));
        let client = reqwest::Client::new();

        assert_eq!(get_status(&client, &format!("{base}/healthz")).await.0, 200);
        assert_eq!(get_status(&client, &format!("{base}/readyz")).await.0, 503);
        readiness.set_ready();
        assert_eq!(get_status(&client, &format!("{base}/readyz")).await.0, 200);
        assert_eq!(get_status(&client, &format!("{base}/healthz")).await.0, 200);
        readiness.set_not_ready();
        assert_eq!(get_status(&client, &format!("{base}/readyz")).await.0, 503);
        assert_eq!(get_status(&client, &format!("{base}/metrics")).await.0, 404);

        stop_tx.send(()).expect("server still running");
        server.await.expect("join").expect("clean shutdown");
    }

    #[tokio::test]
    async fn metrics_endpoint_serves_openmetrics_text_and_stops_on_shutdown() {
        let (listener, base) = local_listener().await;
        let metrics = Arc::new(Metrics::new());
        metrics.record_sync(SyncResultLabel::Success, Duration::from_secs(2));
        metrics.set_key_state("team-a", "prod", KeyState::Accepted);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_metrics_on(listener, metrics.clone(), async move {
            let _ = stop_rx.await;
        }));
        let client = reqwest::Client::new();

        let response = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers()[header::CONTENT_TYPE.as_str()]
            .to_str()
            .expect("ascii header")
            .to_owned();
        assert!(content_type.starts_with("application/openmetrics-text"));
        let body = response.text().await.expect("body");
        assert!(body.contains("jumpcloud_operator_syncs_total{result=\"success\"} 1"));
        assert!(body.ends_with("# EOF\n"), "{body}");

        stop_tx.send(()).expect("server still running");
        server.await.expect("join").expect("clean shutdown");
        assert!(client.get(format!("{base}/metrics")).send().await.is_err());
    }

    #[tokio::test]
    async fn binding_a_used_port_names_the_address() {
        let (listener, _) = local_listener().await;
        let addr = listener.local_addr().expect("bound address");
        let error = serve_health(addr, Readiness::new(), async {})
            .await
            .expect_err("port already in use");
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    }
}
