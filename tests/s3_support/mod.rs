//! An S3-compatible server in the test process: s3s-fs over a local directory, served on
//! 127.0.0.1 with SigV4 checked, so the store's S3 code path (conditional PUTs, listing,
//! signing) runs for real without a cloud account or a container.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::net::SocketAddr;
use std::path::Path;

use jumpcloud_operator::store::EvidenceStore;
use s3s::service::S3Service;

/// The bucket every test store lives in (a directory under the server's root).
pub const BUCKET: &str = "evidence";
pub const ACCESS_KEY: &str = "test-access";
pub const SECRET_KEY: &str = "test-secret-key";
pub const REGION: &str = "us-east-1";

/// s3s-fs over `root` with the bucket created and requests authenticated with the test key.
pub fn s3_service(root: &Path) -> S3Service {
    std::fs::create_dir_all(root.join(BUCKET)).expect("bucket directory");
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs over the root");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    builder.build()
}

/// A server listening on 127.0.0.1; stops accepting connections when dropped.
pub struct S3Server {
    pub addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl S3Server {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Settings for [`EvidenceStore::open_with_options`] reaching this server.
    pub fn store_options(&self) -> Vec<(&'static str, String)> {
        vec![
            ("aws_endpoint", self.endpoint()),
            ("aws_access_key_id", ACCESS_KEY.to_owned()),
            ("aws_secret_access_key", SECRET_KEY.to_owned()),
            ("aws_region", REGION.to_owned()),
            ("aws_allow_http", "true".to_owned()),
            ("aws_virtual_hosted_style_request", "false".to_owned()),
        ]
    }

    /// The standard AWS environment a child process (the CLI) needs to reach this server.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        // Exactly the names the Helm chart renders for `evidence.storage: s3` with a plain-HTTP,
        // path-style endpoint (tests/chart checks the chart side), so these runs prove that
        // configuration works with the binary.
        vec![
            ("AWS_ENDPOINT_URL_S3", self.endpoint()),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false".to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// The store at `s3://evidence/<prefix>` on this server, opened in-process.
    pub fn store(&self, prefix: &str) -> EvidenceStore {
        EvidenceStore::open_with_options(&format!("s3://{BUCKET}/{prefix}"), self.store_options())
            .expect("S3 store opens")
    }
}

/// Serves `service` (s3s-fs, or a wrapper around it) on a free port of 127.0.0.1.
pub async fn serve<S>(service: S) -> S3Server
where
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = s3s::HttpResponse,
            Error = s3s::HttpError,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    // object_store's TLS stack wants one process-wide provider, even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("bound address");
    let accept = tokio::spawn(async move {
        let http =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            // Small responses go out at once instead of waiting on the client's delayed ACK
            // (about 40 ms per request otherwise).
            let _ = socket.set_nodelay(true);
            let conn = http
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(conn);
        }
    });
    S3Server { addr, accept }
}

/// A plain s3s-fs server over `root`.
pub async fn serve_dir(root: &Path) -> S3Server {
    serve(s3_service(root)).await
}

/// s3s-fs with create-only PUTs (`If-None-Match: *`) made atomic, as S3 makes them. s3s-fs
/// checks that the object is absent and then writes it, so two creates racing for one key can
/// both succeed there (the later one replacing the earlier); serialising the conditional PUTs
/// gives the compare-and-swap real S3 (and MinIO) provide, so races against the store's commit
/// can be tested.
#[derive(Clone)]
pub struct AtomicCreates {
    inner: S3Service,
    creates: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for AtomicCreates {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = futures::future::BoxFuture<'static, Result<s3s::HttpResponse, s3s::HttpError>>;

    fn call(&self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let conditional = request.method() == http::Method::PUT
            && request.headers().contains_key(http::header::IF_NONE_MATCH);
        let inner = self.inner.clone();
        let creates = self.creates.clone();
        Box::pin(async move {
            let _one_at_a_time = if conditional {
                Some(creates.lock().await)
            } else {
                None
            };
            hyper::service::Service::call(&inner, request).await
        })
    }
}

/// An s3s-fs server over `root` whose create-only PUTs are atomic ([`AtomicCreates`]).
pub async fn serve_dir_atomic(root: &Path) -> S3Server {
    serve(AtomicCreates {
        inner: s3_service(root),
        creates: Default::default(),
    })
    .await
}
