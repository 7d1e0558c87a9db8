//! The service proxy, `/api/v1/namespaces/{ns}/services/{name}[:{port}]/proxy/{path}`, forwarding
//! to a backend URL a test registers. Like the apiserver it removes the `Authorization` header
//! (its authentication filter strips the caller's credentials before proxying) and passes the
//! other headers, the method, the body and the query on.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use crate::status::ApiError;

/// A parsed proxy path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyPath {
    pub namespace: String,
    pub service: String,
    /// The port name or number after `:`, empty when none was given.
    pub port: String,
    /// The path on the backend, starting with `/`.
    pub rest: String,
}

/// Recognises a service proxy path (`[scheme:]name[:port]` as the apiserver accepts it).
pub(crate) fn parse(path: &str) -> Option<ProxyPath> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("services/")?;
    let (service, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("proxy")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let parts: Vec<&str> = service.split(':').collect();
    let (service, port) = match parts.as_slice() {
        [name] => (*name, ""),
        [name, port] => (*name, *port),
        [_scheme, name, port] => (*name, *port),
        _ => return None,
    };
    Some(ProxyPath {
        namespace: namespace.to_owned(),
        service: service.to_owned(),
        port: port.to_owned(),
        rest: if rest.is_empty() {
            "/".into()
        } else {
            rest.to_owned()
        },
    })
}

/// Backends by (namespace, service, port name); an empty port name matches any request port.
pub(crate) type Backends = HashMap<(String, String, String), url::Url>;

fn backend(backends: &Backends, p: &ProxyPath) -> Option<url::Url> {
    let key = |port: &str| (p.namespace.clone(), p.service.clone(), port.to_owned());
    backends
        .get(&key(&p.port))
        .or_else(|| backends.get(&key("")))
        .or_else(|| {
            // No port given: the service's only registered port, as for a one-port Service.
            let mut ports = backends
                .iter()
                .filter(|((ns, svc, _), _)| *ns == p.namespace && *svc == p.service);
            match (p.port.is_empty(), ports.next(), ports.next()) {
                (true, Some((_, url)), None) => Some(url),
                _ => None,
            }
        })
        .cloned()
}

/// Forwards the request and returns the backend's answer (status, headers, body).
pub(crate) async fn forward(
    backends: &Backends,
    p: &ProxyPath,
    method: Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(base) = backend(backends, p) else {
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no endpoints available for service \"{}\"", p.service),
        ));
    };
    let mut url = base.clone();
    url.set_path(&format!("{}{}", base.path().trim_end_matches('/'), p.rest));
    url.set_query(query);
    let mut forwarded = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        if name == header::AUTHORIZATION || name == header::HOST || name == header::CONTENT_LENGTH {
            continue;
        }
        forwarded.append(name.clone(), value.clone());
    }
    let client = reqwest::Client::new();
    let answer = client
        .request(method, url)
        .headers(forwarded)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            ApiError::new(
                503,
                "ServiceUnavailable",
                format!("error trying to reach service: {e}"),
            )
        })?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let answer_headers = answer.headers().clone();
    let bytes = answer.bytes().await.map_err(|e| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("error reading from service: {e}"),
        )
    })?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &answer_headers {
        if name == header::TRANSFER_ENCODING
            || name == header::CONTENT_LENGTH
            || name == header::CONNECTION
        {
            continue;
        }
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            response.headers_mut().append(name.clone(), value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths_with_and_without_port() {
        let p = parse("/api/v1/namespaces/op/services/svc:evidence/proxy/connections/a/b").unwrap();
        assert_eq!(
            (
                p.namespace.as_str(),
                p.service.as_str(),
                p.port.as_str(),
                p.rest.as_str()
            ),
            ("op", "svc", "evidence", "/connections/a/b")
        );
        let p = parse("/api/v1/namespaces/op/services/http:svc:8082/proxy").unwrap();
        assert_eq!(
            (p.service.as_str(), p.port.as_str(), p.rest.as_str()),
            ("svc", "8082", "/")
        );
        assert_eq!(parse("/api/v1/namespaces/op/services/svc"), None);
        assert_eq!(parse("/api/v1/namespaces/op/services/svc/proxyx"), None);
    }
}
