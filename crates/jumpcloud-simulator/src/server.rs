//! HTTP side of the simulator: one axum listener per region, one catch-all handler that applies
//! faults, authenticates, selects the org and routes to the JumpCloud endpoints, plus the
//! `/__simulator/` control routes (each family of routes in its own file under `server/`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::control::{
    AddOrgRequest, AddOrgResponse, Advance, DirectoryInsightsToggle, EchoInto, Fault, FaultKind,
    GetSelfStatus, GrowRecords, InsightsRows, KeyExpiry, NewServiceAccount, RateLimit,
    RequestRecord, RouteStatus, TokenLifetime,
};
use super::generate::{Event, Org, Rec};
use super::service_accounts::{MAX_SECRETS, ServiceAccount};
use super::state::{Admin, ApiKey, ROLES, RegionState, World, role_id, role_may_read};

mod console;
mod control_api;
mod derived;
mod directory_insights;
mod oauth;
mod policy_results;
mod principal;

use console::*;
use control_api::*;
use derived::*;
use directory_insights::*;
use principal::*;

const MAX_BODY: usize = 1 << 20;

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<RegionState>,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new().fallback(handle).with_state(state);
    let shutdown = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%error, "simulator listener failed");
    }
}

/// A response under construction.
pub(crate) struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: StatusCode, body: Vec<u8>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body,
        }
    }

    fn value(status: StatusCode, value: &Value) -> Self {
        Reply::json(status, value.to_string().into_bytes())
    }

    /// The `{error, message}` body real JumpCloud console routes send.
    fn error(status: StatusCode, message: &str) -> Self {
        let error = match status {
            StatusCode::UNAUTHORIZED => "Unauthorized".to_string(),
            StatusCode::FORBIDDEN => message.to_string(),
            _ => status.canonical_reason().unwrap_or("Error").to_string(),
        };
        Reply::value(status, &json!({"error": error, "message": message}))
    }

    /// Directory Insights errors carry only `{message}`.
    fn di_error(status: StatusCode, message: &str) -> Self {
        Reply::value(status, &json!({"message": message}))
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

async fn handle(State(state): State<Arc<RegionState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Reply::error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
                .into_response();
        }
    };
    if let Some(rest) = path.strip_prefix("/__simulator/") {
        return control(&state, &parts.method, rest.trim_end_matches('/'), &body).into_response();
    }
    let _in_flight = state.begin_request();
    let started_ms = state.elapsed_ms();
    // What the client sent (logged), and what the pager sees (a `shift` fault adds to it).
    let client_query = parts.uri.query().unwrap_or("").to_string();
    let mut query = client_query.clone();
    // The key, or a service account's access token: what the counters count per credential.
    let key = match presented(&parts.headers) {
        Ok(Presented::Key(key) | Presented::Bearer(key)) => Some(key.to_owned()),
        Err(_) => None,
    };
    // Checked on arrival, answered after the usual latency, as a remote API would.
    let throttled = state.take_rate_token().err();
    let fault = match throttled {
        Some(_) => None,
        None => state.take_fault(&path, &query),
    };
    if !state.response_delay.is_zero() {
        tokio::time::sleep(state.response_delay).await;
    }
    let log = |status: u16| {
        state.log_request(RequestRecord {
            method: parts.method.to_string(),
            path: path.clone(),
            query: client_query.clone(),
            status,
            started_ms,
            finished_ms: state.elapsed_ms(),
            body: if parts.method == Method::POST {
                String::from_utf8_lossy(&body).into_owned()
            } else {
                String::new()
            },
            org_ids: console::org_ids(&parts.headers)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        });
    };
    let mut malformed = false;
    let mut no_total = false;
    let mut grow = None;
    let mut echo = None;
    let mut huge = None;
    let reply = match fault {
        Some(FaultKind::Status {
            status,
            retry_after_secs,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = status.canonical_reason().unwrap_or("Error");
            let reply = Reply::value(status, &json!({"error": reason, "message": reason}));
            match retry_after_secs {
                Some(secs) => Some(reply.header("retry-after", secs.to_string())),
                None => Some(reply),
            }
        }
        Some(FaultKind::Delay { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            None
        }
        Some(FaultKind::Malformed) => {
            malformed = true;
            None
        }
        Some(FaultKind::Grow { records, count }) => {
            grow = Some((records, count));
            None
        }
        Some(FaultKind::Shift { by }) => {
            query = shifted(&query, by);
            None
        }
        Some(FaultKind::NoTotal | FaultKind::NoTotalLater) => {
            no_total = true;
            None
        }
        Some(FaultKind::EchoKey { into }) => {
            echo = Some(into);
            None
        }
        Some(FaultKind::Oversized { records }) => {
            query = with_param(&query, OVERSIZE_PARAM, &records.to_string());
            None
        }
        Some(FaultKind::HugeRecord { bytes }) => {
            huge = Some(bytes);
            None
        }
        Some(FaultKind::RepeatCursor) => {
            query = with_param(&query, REPEAT_CURSOR_PARAM, "repeat");
            None
        }
        Some(FaultKind::EndlessPages) => {
            query = with_param(&query, REPEAT_CURSOR_PARAM, "endless");
            None
        }
        Some(FaultKind::Reset) => {
            state.count(&path, key.as_deref(), 0);
            log(0);
            return reset_response();
        }
        None => None,
    };
    let reply = match throttled {
        Some(wait) => Some(
            Reply::value(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"error": "Too Many Requests", "message": "rate limit exceeded"}),
            )
            .header(
                "retry-after",
                super::rate_limit::retry_after_seconds(wait).to_string(),
            ),
        ),
        None => reply,
    };
    let mut reply = match reply {
        Some(reply) => reply,
        None => route(&state, &parts.method, &path, &query, &parts.headers, &body),
    };
    if malformed {
        reply.body.truncate(reply.body.len() / 2);
    }
    if no_total {
        reply.headers.retain(|(name, _)| name != "x-total-count");
        // `{"totalCount":N,"results":[...]}` becomes `{"results":[...]}`.
        if reply.body.starts_with(b"{\"totalCount\":")
            && let Some(comma) = reply.body.iter().position(|b| *b == b',')
        {
            reply.body.drain(1..=comma);
        }
    }
    if let Some(into) = echo {
        echo_key(&mut reply, into, key.as_deref().unwrap_or(""));
    }
    if let Some(bytes) = huge {
        let blob = format!("\"blob\":\"{}\"", "x".repeat(bytes as usize));
        insert_into_first_record(&mut reply.body, &blob);
    }
    if let Some((records, count)) = grow {
        let now = state.now();
        let mut world = state.world_mut();
        if let Some(org) = world.orgs.first_mut() {
            for _ in 0..count {
                match records {
                    GrowRecords::Users => org.add_user(now),
                    GrowRecords::Systems => org.add_system(now),
                    GrowRecords::Events => org.add_event(now),
                }
            }
        }
    }
    state.count(&path, key.as_deref(), reply.status.as_u16());
    log(reply.status.as_u16());
    reply.into_response()
}

/// Internal query parameter carrying a `shift` fault to the pager.
const SHIFT_PARAM: &str = "__simulator_shift";
/// Internal query parameter carrying an `oversized` fault to the pager: the page's length.
const OVERSIZE_PARAM: &str = "__simulator_oversize";
/// Internal query parameter carrying a `repeat_cursor` (`repeat`) or `endless_pages`
/// (`endless`) fault to Directory Insights.
const REPEAT_CURSOR_PARAM: &str = "__simulator_repeat_cursor";

/// The query with a `shift` fault for the pager added.
fn shifted(query: &str, by: u32) -> String {
    with_param(query, SHIFT_PARAM, &by.to_string())
}

fn with_param(query: &str, name: &str, value: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(query.to_string());
    out.append_pair(name, value);
    out.finish()
}

/// An `echo_key` fault: the key goes into the total (a number) or into a string field of the
/// first record.
fn echo_key(reply: &mut Reply, into: EchoInto, key: &str) {
    let quoted = serde_json::to_string(key).unwrap_or_default();
    match into {
        EchoInto::Record => {
            insert_into_first_record(&mut reply.body, &format!("\"echo\":{quoted}"))
        }
        EchoInto::Total => {
            for prefix in [&b"{\"totalCount\":"[..], &b"{\"count\":"[..]] {
                if reply.body.starts_with(prefix)
                    && let Some(end) = reply.body[prefix.len()..]
                        .iter()
                        .position(|b| matches!(b, b',' | b'}'))
                {
                    reply
                        .body
                        .splice(prefix.len()..prefix.len() + end, quoted.bytes());
                    return;
                }
            }
            for (name, value) in &mut reply.headers {
                if name == "x-total-count" {
                    *value = key.to_owned();
                }
            }
        }
    }
}

/// Adds `field` (`"name":value`) as the first member of the page's first record, or of the
/// object when the body is one object.
fn insert_into_first_record(body: &mut Vec<u8>, field: &str) {
    let find = |needle: &[u8]| {
        body.windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + needle.len())
    };
    let at = if body.starts_with(b"[{") {
        Some(2)
    } else if body.starts_with(b"{\"totalCount\":") {
        find(b"\"results\":[{")
    } else if body.starts_with(b"{") {
        Some(1)
    } else {
        None
    };
    let Some(at) = at else {
        return;
    };
    let separator = if body.get(at) == Some(&b'}') { "" } else { "," };
    let insert = format!("{field}{separator}");
    body.splice(at..at, insert.bytes());
}

/// A 200 whose body fails after the headers: hyper closes the connection mid-response, which
/// the client sees as a reset.
fn reset_response() -> Response {
    let failing = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        ))
    });
    let mut response = Response::new(Body::from_stream(failing));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
