//! `report --from-cluster NS/NAME`: the report from the operator's evidence endpoint, through
//! the API server's service proxy with the user's kubeconfig (or `--endpoint URL`, e.g. a
//! `kubectl port-forward`). The endpoint checks the user's bearer token itself, so the token
//! goes in `X-Jumpcloud-Operator-Token` (the proxy removes `Authorization`).

use std::path::{Path, PathBuf};

use kube::client::ConfigExt;
use secrecy::{ExposeSecret, SecretString};
use tower::{Layer, Service, ServiceExt};

use crate::evidence_server::TOKEN_HEADER;
use crate::report::{Format, read_zip};
use crate::store::ConnectionId;

/// Errors of fetching a report from the cluster.
#[derive(Debug, thiserror::Error)]
pub enum FromClusterError {
    #[error("cannot load the kubeconfig: {0} (set KUBECONFIG or run `kubectl config use-context`)")]
    Config(String),
    #[error(
        "the kubeconfig authenticates without a bearer token (client certificates or basic auth), and the evidence endpoint needs one: pass --token-file FILE with a token, e.g. `kubectl create token NAME --namespace NS > token` for a ServiceAccount bound to a Role with get on the connection"
    )]
    NoToken,
    #[error("cannot read the token from the kubeconfig: {0}")]
    Token(String),
    #[error("cannot read --token-file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--operator-service {0:?} is not NAMESPACE/NAME")]
    Service(String),
    #[error("{0:?} is not a URL: {1}")]
    Endpoint(String, String),
    #[error("cannot reach the evidence endpoint ({0}): {1}")]
    Request(String, String),
    #[error("the evidence endpoint answered {status} for {url}: {body}")]
    Refused {
        status: u16,
        url: String,
        body: String,
    },
    #[error("the CSV archive from the endpoint is not valid: {0}")]
    Zip(#[from] crate::report::ZipError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to fetch and where it goes.
pub struct FromCluster<'a> {
    pub connection: &'a ConnectionId,
    pub operator_service: &'a str,
    pub endpoint: Option<&'a str>,
    pub token_file: Option<&'a Path>,
    pub format: Format,
    pub snapshot: Option<&'a str>,
    pub out: Option<&'a Path>,
}

/// The format's name on the endpoint (`format=`), as `report --format` spells it.
fn format_name(format: Format) -> String {
    clap::ValueEnum::to_possible_value(&format)
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default()
}

/// The path and query of the report on the endpoint.
pub fn report_path(connection: &ConnectionId, format: Format, snapshot: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("format", &format_name(format));
    if let Some(snapshot) = snapshot {
        query.append_pair("snapshot", snapshot);
    }
    format!(
        "connections/{}/{}/report?{}",
        connection.namespace,
        connection.name,
        query.finish()
    )
}

/// The bearer token the kubeconfig would send (static token, token file, exec plugin, OIDC
/// refresh: whatever kube's auth layer adds to a request).
async fn kubeconfig_token(config: &kube::Config) -> Result<SecretString, FromClusterError> {
    let layer = config
        .auth_layer()
        .map_err(|e| FromClusterError::Token(e.to_string()))?
        .ok_or(FromClusterError::NoToken)?;
    // A service that answers with the Authorization header the layer put on the request.
    let capture = tower::service_fn(|request: http::Request<kube::client::Body>| async move {
        let mut response = http::Response::new(());
        if let Some(value) = request.headers().get(http::header::AUTHORIZATION) {
            response
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value.clone());
        }
        Ok::<_, tower::BoxError>(response)
    });
    let mut service = layer.layer(capture);
    let header = service
        .ready()
        .await
        .map_err(|e| FromClusterError::Token(e.to_string()))?
        .call(http::Request::new(kube::client::Body::from(Vec::new())))
        .await
        .map_err(|e| FromClusterError::Token(e.to_string()))?;
    header
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| SecretString::from(token.trim().to_owned()))
        .ok_or(FromClusterError::NoToken)
}

async fn token(
    config: Option<&kube::Config>,
    file: Option<&Path>,
) -> Result<SecretString, FromClusterError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| FromClusterError::TokenFile {
            path: path.to_path_buf(),
            source,
        })?;
        return Ok(SecretString::from(text.trim().to_owned()));
    }
    match config {
        Some(config) => kubeconfig_token(config).await,
        None => Err(FromClusterError::NoToken),
    }
}

/// Fetches the report bytes, through the service proxy or straight from `--endpoint`.
pub async fn fetch(request: &FromCluster<'_>) -> Result<Vec<u8>, FromClusterError> {
    let path = report_path(request.connection, request.format, request.snapshot);
    let refused = |status: u16, url: String, body: &[u8]| FromClusterError::Refused {
        status,
        url,
        body: String::from_utf8_lossy(body).trim().to_owned(),
    };
    if let Some(endpoint) = request.endpoint {
        let base = url::Url::parse(endpoint)
            .map_err(|e| FromClusterError::Endpoint(endpoint.to_owned(), e.to_string()))?;
        let config = match request.token_file {
            Some(_) => None,
            None => Some(
                kube::Config::infer()
                    .await
                    .map_err(|e| FromClusterError::Config(e.to_string()))?,
            ),
        };
        let token = token(config.as_ref(), request.token_file).await?;
        let url = base
            .join(&path)
            .map_err(|e| FromClusterError::Endpoint(endpoint.to_owned(), e.to_string()))?;
        let response = reqwest::Client::new()
            .get(url.clone())
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| FromClusterError::Request(url.to_string(), e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| FromClusterError::Request(url.to_string(), e.to_string()))?;
        return if status == 200 {
            Ok(body.to_vec())
        } else {
            Err(refused(status, url.to_string(), &body))
        };
    }
    let (service_namespace, service) = request
        .operator_service
        .split_once('/')
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| FromClusterError::Service(request.operator_service.to_owned()))?;
    let config = kube::Config::infer()
        .await
        .map_err(|e| FromClusterError::Config(e.to_string()))?;
    let token = token(Some(&config), request.token_file).await?;
    let client =
        kube::Client::try_from(config).map_err(|e| FromClusterError::Config(e.to_string()))?;
    let proxied =
        format!("/api/v1/namespaces/{service_namespace}/services/{service}:evidence/proxy/{path}");
    let mut header = http::HeaderValue::from_str(token.expose_secret())
        .map_err(|_| FromClusterError::Token("the token is not a valid header value".into()))?;
    header.set_sensitive(true);
    let http_request = http::Request::get(&proxied)
        .header(TOKEN_HEADER, header)
        .body(Vec::new())
        .map_err(|e| FromClusterError::Request(proxied.clone(), e.to_string()))?;
    let response = client
        .send(http_request.map(kube::client::Body::from))
        .await
        .map_err(|e| FromClusterError::Request(proxied.clone(), e.to_string()))?;
    let status = response.status().as_u16();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .map_err(|e| FromClusterError::Request(proxied.clone(), e.to_string()))?
        .to_bytes();
    if status == 200 {
        Ok(body.to_vec())
    } else {
        Err(refused(status, proxied, &body))
    }
}

/// Writes what was fetched: a file, standard output, or for csv the archive unpacked into
/// the `--out` directory (as the local `report --format csv` writes it), or kept as is when
/// `--out` ends in `.zip`.
pub fn write(request: &FromCluster<'_>, bytes: &[u8]) -> Result<String, FromClusterError> {
    let write = |path: &Path, contents: &[u8]| {
        std::fs::write(path, contents).map_err(|source| FromClusterError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    match (request.format, request.out) {
        (Format::Csv, Some(out)) if out.extension().is_none_or(|e| e != "zip") => {
            let files = read_zip(bytes)?;
            std::fs::create_dir_all(out).map_err(|source| FromClusterError::Write {
                path: out.to_path_buf(),
                source,
            })?;
            for (name, contents) in &files {
                write(&out.join(name), contents)?;
            }
            Ok(format!(
                "wrote {} CSV files to {}",
                files.len(),
                out.display()
            ))
        }
        (_, Some(out)) => {
            write(out, bytes)?;
            Ok(format!("wrote {}", out.display()))
        }
        (_, None) => {
            use std::io::Write;
            match std::io::stdout().write_all(bytes) {
                // A reader that stopped early (`| head`) took what it wanted.
                Err(source) if source.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(FromClusterError::Write {
                        path: PathBuf::from("-"),
                        source,
                    })
                }
                _ => Ok(String::new()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_path_names_format_and_snapshot() {
        let id: ConnectionId = "team-a/acme".parse().unwrap();
        assert_eq!(
            report_path(&id, Format::Html, None),
            "connections/team-a/acme/report?format=html"
        );
        assert_eq!(
            report_path(&id, Format::Csv, Some("2026 x")),
            "connections/team-a/acme/report?format=csv&snapshot=2026+x"
        );
    }
}
