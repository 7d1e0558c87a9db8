//! HTTP layer: routing of API paths, verbs, content negotiation, fault injection, request log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::discovery::version_info;
use crate::faults::{Faults, RecordedRequest, lock};
use crate::patch::PatchType;
use crate::select::Selector;
use crate::status::ApiError;
use crate::store::{DeleteOpts, FieldValidation, ListOpts, State, Target, WriteOpts};
use crate::table::{self, View};
use crate::watch::{self, WatchParams};

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: Faults,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub addr: String,
    pub bookmark_interval: Duration,
    /// Bearer tokens a TokenReview authenticates (registered by tests).
    pub tokens: Mutex<HashMap<String, crate::reviews::TokenUser>>,
    /// Where the service proxy forwards to (registered by tests).
    pub backends: Mutex<crate::proxy::Backends>,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

enum Route {
    Version,
    Health,
    Api,
    Apis,
    Group(String),
    GroupVersion(String, String),
    Resource {
        group: String,
        version: String,
        namespace: Option<String>,
        resource: String,
        name: Option<String>,
        sub: Option<String>,
    },
    OpenApiV3,
    OpenApiV3Gv(String, String),
    NotFound,
}

fn parse_path(path: &str) -> Route {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "readyz" | "livez"] => Route::Health,
        ["api"] => Route::Api,
        ["apis"] => Route::Apis,
        ["openapi", "v3"] => Route::OpenApiV3,
        ["openapi", "v3", "api", v] => Route::OpenApiV3Gv(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => Route::OpenApiV3Gv(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => resource_route("", v, rest),
        ["apis", g] => Route::Group(g.to_string()),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    if rest.is_empty() {
        return Route::GroupVersion(group.into(), version.into());
    }
    let namespaced = rest[0] == "namespaces"
        && rest.len() >= 3
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (namespace, rest) = if namespaced {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let (resource, name, sub) = match rest {
        [r] => (r, None, None),
        [r, n] => (r, Some(n.to_string()), None),
        [r, n, s] => (r, Some(n.to_string()), Some(s.to_string())),
        _ => return Route::NotFound,
    };
    Route::Resource {
        group: group.into(),
        version: version.into(),
        namespace,
        resource: resource.to_string(),
        name,
        sub,
    }
}

fn json_response(code: u16, v: &Value, warnings: &[String]) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for w in warnings {
        if let Ok(h) = HeaderValue::from_str(&format!("299 - \"{}\"", w.replace('"', "\\\""))) {
            r.headers_mut().append("warning", h);
        }
    }
    r
}

fn error_response(e: &ApiError) -> Response {
    let mut r = json_response(e.code, &e.to_status(), &[]);
    if let Some(s) = e.retry_after
        && let Ok(h) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, h);
    }
    r
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let header_str = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let mut rec = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        accept: header_str(header::ACCEPT),
        verb: method.as_str().to_lowercase(),
        user_agent: header_str(header::USER_AGENT),
        field_manager: query.get("fieldManager").cloned(),
        content_type: header_str(header::CONTENT_TYPE).filter(|_| method == Method::PATCH),
        ..Default::default()
    };
    if let Some(proxy) = crate::proxy::parse(uri.path()) {
        rec.verb = verb(&method, true, &HashMap::new()).to_string();
        rec.version = "v1".into();
        rec.resource = "services".into();
        rec.subresource = Some("proxy".into());
        rec.namespace = Some(proxy.namespace.clone());
        rec.name = Some(proxy.service.clone());
        let backends = lock(&shared.backends).clone();
        let response =
            crate::proxy::forward(&backends, &proxy, method, uri.query(), &headers, body)
                .await
                .unwrap_or_else(|e| error_response(&e));
        rec.status = response.status().as_u16();
        lock(&shared.requests).push(rec);
        return response;
    }
    let route = parse_path(uri.path());
    if let Route::Resource {
        group,
        version,
        namespace,
        resource,
        name,
        sub,
    } = &route
    {
        rec.group = group.clone();
        rec.version = version.clone();
        rec.resource = resource.clone();
        rec.namespace = namespace.clone();
        rec.name = name.clone();
        rec.subresource = sub.clone();
        rec.verb = verb(&method, name.is_some(), &query).to_string();
    }
    if let Some(d) = shared
        .faults
        .delay(&rec.verb, &rec.resource, rec.subresource.as_deref())
    {
        tokio::time::sleep(d).await;
    }
    let response = match shared
        .faults
        .check(&rec.verb, &rec.resource, rec.subresource.as_deref())
    {
        Some((code, reason)) => error_response(&ApiError::injected(code, reason)),
        None => dispatch(&shared, route, &rec.verb, &query, &headers, &body)
            .unwrap_or_else(|e| error_response(&e)),
    };
    rec.status = response.status().as_u16();
    lock(&shared.requests).push(rec);
    response
}

fn verb(method: &Method, named: bool, q: &HashMap<String, String>) -> &'static str {
    let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    match (method.as_str(), named) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

fn dispatch(
    shared: &Arc<Shared>,
    route: Route,
    verb: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let st = || lock(&shared.state);
    let ok = |v: Value| Ok(json_response(200, &v, &[]));
    match route {
        Route::Version => ok(version_info()),
        Route::Health => Ok(Response::new(Body::from("ok"))),
        Route::Api => ok(st().registry.api_versions(&shared.addr)),
        Route::Apis => ok(st().registry.api_group_list()),
        Route::Group(g) => st()
            .registry
            .api_group(&g)
            .map_or_else(|| Err(not_found_path()), ok),
        Route::GroupVersion(g, v) => st()
            .registry
            .api_resource_list(&g, &v)
            .map_or_else(|| Err(not_found_path()), ok),
        Route::OpenApiV3 => {
            let s = st();
            ok(s.registry.openapi_v3_root(s.registry_generation))
        }
        Route::OpenApiV3Gv(g, v) => st()
            .registry
            .openapi_v3_group_version(&g, &v)
            .map_or_else(|| Err(not_found_path()), ok),
        Route::NotFound => Err(not_found_path()),
        Route::Resource {
            group,
            version,
            namespace,
            resource,
            name,
            sub,
        } => {
            let info = st()
                .registry
                .find(&group, &version, &resource)
                .cloned()
                .ok_or_else(not_found_path)?;
            if sub
                .as_deref()
                .is_some_and(|s| !(s == "status" && info.status))
                || (namespace.is_some() && !info.namespaced)
            {
                return Err(not_found_path());
            }
            if info.namespaced && name.is_some() && namespace.is_none() {
                return Err(not_found_path());
            }
            if info.create_only {
                return review(shared, &info.plural, verb, name.is_some(), headers, body);
            }
            let t = Target {
                info,
                version,
                namespace,
                name,
                subresource: sub,
            };
            resource_request(shared, t, verb, q, headers, body)
        }
    }
}

/// TokenReview and SubjectAccessReview: only `create` on the collection, answered at once
/// and never stored.
fn review(
    shared: &Arc<Shared>,
    plural: &str,
    verb: &str,
    named: bool,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    if verb != "create" || named {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let body = parse_body(body, headers)?;
    let answer = if plural == "tokenreviews" {
        crate::reviews::token_review(&lock(&shared.tokens), body)?
    } else {
        crate::reviews::subject_access_review(&lock(&shared.state), body)?
    };
    Ok(json_response(201, &answer, &[]))
}

fn parse_body(body: &Bytes, headers: &HeaderMap) -> Result<Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ct.starts_with("application/vnd.kubernetes.protobuf") {
        return crate::proto::decode(body);
    }
    serde_json::from_slice(body)
        .or_else(|_| serde_saphyr::from_slice::<Value>(body).map_err(|e| e.to_string()))
        .map_err(|e| ApiError::bad_request(format!("error decoding body: {e}")))
}

fn write_opts(q: &HashMap<String, String>, headers: &HeaderMap) -> Result<WriteOpts, ApiError> {
    let ua_manager = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.split('/').next().unwrap_or(ua).to_string())
        .unwrap_or_else(|| "unknown".into());
    let validation = match q.get("fieldValidation").map(String::as_str) {
        None | Some("Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, got {other}"
            )));
        }
    };
    Ok(WriteOpts {
        manager: q.get("fieldManager").cloned().unwrap_or(ua_manager),
        explicit_manager: q.contains_key("fieldManager"),
        force: q.get("force").is_some_and(|f| f == "true"),
        dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
        validation,
    })
}

fn list_opts(q: &HashMap<String, String>, t: &Target) -> Result<ListOpts, ApiError> {
    let selector = Selector::parse(
        q.get("labelSelector").map(String::as_str),
        q.get("fieldSelector").map(String::as_str),
    )?;
    selector.check_fields(&t.info, &t.version)?;
    Ok(ListOpts {
        selector,
        limit: q.get("limit").and_then(|l| l.parse().ok()),
        continue_token: q.get("continue").filter(|c| !c.is_empty()).cloned(),
    })
}

fn list_body(
    t: &Target,
    view: View,
    items: Vec<Value>,
    meta: Value,
    q: &HashMap<String, String>,
) -> Value {
    match view {
        View::Table => table::table(
            &t.info,
            &t.version,
            &items,
            meta,
            q.get("includeObject").map_or("Metadata", String::as_str),
        ),
        View::Metadata => {
            json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "items": items.iter().map(table::partial_metadata).collect::<Vec<_>>()})
        }
        View::Full => {
            json!({"kind": format!("{}List", t.info.kind), "apiVersion": t.info.api_version(&t.version), "metadata": meta, "items": items})
        }
    }
}

fn object_body(t: &Target, view: View, obj: Value, q: &HashMap<String, String>) -> Value {
    match view {
        View::Table => {
            let rv = obj["metadata"]["resourceVersion"].clone();
            table::table(
                &t.info,
                &t.version,
                &[obj],
                json!({"resourceVersion": rv}),
                q.get("includeObject").map_or("Metadata", String::as_str),
            )
        }
        View::Metadata => table::partial_metadata(&obj),
        View::Full => obj,
    }
}

fn delete_opts(q: &HashMap<String, String>, body: &Bytes) -> DeleteOpts {
    let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let s = |v: &Value| v.as_str().map(String::from);
    let orphan_dependents = b["orphanDependents"].as_bool().or_else(|| {
        q.get("orphanDependents")
            .and_then(|o| o.parse::<bool>().ok())
    });
    let orphan = orphan_dependents == Some(true);
    DeleteOpts {
        orphan_dependents,
        propagation: s(&b["propagationPolicy"])
            .or_else(|| q.get("propagationPolicy").cloned())
            .or(orphan.then(|| "Orphan".to_string())),
        precondition_rv: s(&b["preconditions"]["resourceVersion"]),
        precondition_uid: s(&b["preconditions"]["uid"]),
        dry_run: b["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "All"))
            || q.get("dryRun").is_some_and(|d| d == "All"),
    }
}

fn resource_request(
    shared: &Arc<Shared>,
    t: Target,
    verb: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let view = View::from_accept(
        headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json"),
    );
    let mut st = lock(&shared.state);
    match verb {
        "get" => Ok(json_response(
            200,
            &object_body(&t, view, st.get(&t)?, q),
            &[],
        )),
        "list" => {
            let (items, meta) = st.list(&t, &list_opts(q, &t)?)?;
            Ok(json_response(
                200,
                &list_body(&t, view, items, meta, q),
                &[],
            ))
        }
        "watch" => {
            drop(st);
            let rv = q
                .get("resourceVersion")
                .filter(|r| !r.is_empty() && *r != "0");
            let from = match rv {
                Some(r) => Some(r.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {r}"))
                })?),
                None => None,
            };
            let p = WatchParams {
                from,
                timeout: Duration::from_secs(
                    q.get("timeoutSeconds")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(1800),
                ),
                bookmarks: q.get("allowWatchBookmarks").is_some_and(|b| b == "true"),
                send_initial_events: q.get("sendInitialEvents").is_some_and(|b| b == "true"),
                selector: list_opts(q, &t)?.selector,
                view,
            };
            let mut r = Response::new(watch::start(shared.clone(), t, p));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r.headers_mut().insert(
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            );
            Ok(r)
        }
        "create" => {
            let (obj, w) = st.create(&t, parse_body(body, headers)?, &write_opts(q, headers)?)?;
            Ok(json_response(201, &object_body(&t, view, obj, q), &w))
        }
        "update" => {
            let (obj, w) = st.update(&t, parse_body(body, headers)?, &write_opts(q, headers)?)?;
            Ok(json_response(200, &object_body(&t, view, obj, q), &w))
        }
        "patch" => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let pt = PatchType::from_content_type(ct).ok_or_else(|| {
                ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {ct})"))
            })?;
            let (obj, created, w) = st.patch(&t, pt, body, &write_opts(q, headers)?)?;
            Ok(json_response(
                if created { 201 } else { 200 },
                &object_body(&t, view, obj, q),
                &w,
            ))
        }
        "delete" => {
            let opts = delete_opts(q, body);
            let obj = st.delete(&t, &opts)?;
            // As the apiserver: 200 with the object, also when finalizers keep it (it then
            // carries deletionTimestamp); 202 only when it was not deleted at once and the
            // client explicitly sent `orphanDependents: false`.
            let pending = obj["metadata"]["deletionTimestamp"].is_string()
                && !obj["metadata"]["finalizers"]
                    .as_array()
                    .is_none_or(Vec::is_empty);
            let code = if pending && opts.orphan_dependents == Some(false) {
                202
            } else {
                200
            };
            Ok(json_response(code, &object_body(&t, view, obj, q), &[]))
        }
        "deletecollection" => {
            let items = st.delete_collection(&t, &list_opts(q, &t)?, &delete_opts(q, body))?;
            let meta = json!({"resourceVersion": st.rv.to_string()});
            Ok(json_response(
                200,
                &list_body(&t, view, items, meta, q),
                &[],
            ))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}
