//! HTTP side of the simulator: one axum listener per region, one catch-all handler that applies
//! faults, authenticates, selects the org and routes to the JumpCloud endpoints, plus the
//! `/__simulator/` control routes.

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
    AddOrgRequest, AddOrgResponse, DirectoryInsightsToggle, EchoInto, Fault, FaultKind,
    GetSelfStatus, GrowRecords, InsightsRows, KeyExpiry, RequestRecord, RouteStatus,
};
use super::generate::{Event, Org, Rec};
use super::state::{Admin, ApiKey, ROLES, RegionState, World, role_id, role_may_read};

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
    let key = parts
        .headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let fault = state.take_fault(&path, &query);
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

// ---------------------------------------------------------------------------------------------
// JumpCloud API
// ---------------------------------------------------------------------------------------------

#[derive(PartialEq)]
enum Scope {
    /// Organization and administrator routes: no `x-org-id` allowed.
    OrgAdmin,
    /// Routes inside one org: `x-org-id` required for multi-tenant admins.
    Org,
    /// Directory Insights: repeatable `x-org-id`.
    Insights,
}

fn route(
    state: &RegionState,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let scope = match segments.as_slice() {
        ["api", "organizations"]
        | ["api", "organizations", _]
        | ["api", "users"]
        | ["api", "users", "getSelf"] => Scope::OrgAdmin,
        ["insights", "directory", "v1", "events"]
        | ["insights", "directory", "v1", "events", "count"] => Scope::Insights,
        ["api", _, ..] => Scope::Org,
        _ => return Reply::error(StatusCode::NOT_FOUND, "Not Found"),
    };
    let insights = scope == Scope::Insights;
    let fail = |status: StatusCode, message: &str| {
        if insights {
            Reply::di_error(status, message)
        } else {
            Reply::error(status, message)
        }
    };
    let now = state.now();
    let world = state.world();

    // Authentication: the key must belong to an admin of this region and be unexpired.
    let Some(key) = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
    else {
        return fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: api key not provided",
        );
    };
    let Some(admin) = world
        .admins
        .iter()
        .find(|a| a.key.as_ref().is_some_and(|k| k.value == key))
    else {
        return fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: api key user not found",
        );
    };
    if admin
        .key
        .as_ref()
        .and_then(|k| k.expire_at)
        .is_some_and(|at| at <= now)
    {
        return fail(StatusCode::UNAUTHORIZED, "Unauthorized: api key expired");
    }
    let get_self = segments.as_slice() == ["api", "users", "getSelf"];
    // The route is undocumented: the control API can make it vanish (404) or refuse GET (405).
    if get_self && let Some(status) = state.get_self_status() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
        return fail(status, status.canonical_reason().unwrap_or("Not Found"));
    }
    if let Some(status) = state.route_status(path) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
        return fail(status, status.canonical_reason().unwrap_or("Not Found"));
    }
    if !role_may_read(&admin.role_name) && !get_self {
        return fail(
            StatusCode::FORBIDDEN,
            "Forbidden: the role of this api key does not allow this request",
        );
    }
    let expected = if insights { Method::POST } else { Method::GET };
    if *method != expected {
        return fail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }

    // Organization selection.
    let org_headers: Vec<&str> = headers
        .get_all("x-org-id")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if scope == Scope::OrgAdmin {
        if !org_headers.is_empty() {
            return Reply::value(
                StatusCode::FORBIDDEN,
                &json!({"message": "Forbidden: organization selection not allowed via header", "error": "Forbidden: organization selection not allowed via header"}),
            );
        }
        return org_admin_route(&world, admin, &segments, query);
    }
    if !insights && org_headers.len() > 1 {
        return fail(
            StatusCode::BAD_REQUEST,
            "Bad Request: only one x-org-id may be sent",
        );
    }
    let mut orgs: Vec<&Org> = Vec::new();
    for id in &org_headers {
        if !is_object_id(id) {
            return fail(
                StatusCode::BAD_REQUEST,
                "Bad Request: x-org-id is not a valid organization id",
            );
        }
        let Some(org) = world.org(id) else {
            return fail(StatusCode::NOT_FOUND, "Not Found: organization not found");
        };
        if !admin.org_ids.iter().any(|o| o == id) {
            return fail(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: organization not accessible with this api key",
            );
        }
        orgs.push(org);
    }
    if orgs.is_empty() {
        if admin.org_ids.len() > 1 {
            return fail(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: no organization selected",
            );
        }
        match admin.org_ids.first().and_then(|id| world.org(id)) {
            Some(org) => orgs.push(org),
            None => {
                return fail(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized: api key user not found",
                );
            }
        }
    }
    if insights {
        let count_only = segments.last() == Some(&"count");
        let param = |wanted: &str| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.into_owned())
        };
        let paging = EventsFaults {
            paging: param(REPEAT_CURSOR_PARAM),
            shift: param(SHIFT_PARAM)
                .and_then(|by| by.parse().ok())
                .unwrap_or(0),
        };
        return events(state, &orgs, body, now, count_only, &paging);
    }
    org_route(orgs[0], &segments, query)
}

fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

struct Paging {
    limit: usize,
    skip: usize,
    /// A `shift` fault: the page starts this many records early but keeps its length.
    shift: usize,
    /// An `oversized` fault: the page holds this many records, whatever the limit.
    oversize: Option<usize>,
    descending: bool,
    filter: Option<String>,
}

fn parse_paging(query: &str, max: usize) -> Result<Paging, Reply> {
    let mut paging = Paging {
        limit: 10,
        skip: 0,
        shift: 0,
        oversize: None,
        descending: false,
        filter: None,
    };
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "limit" => {
                let limit: i64 = value.trim().parse().map_err(|_| {
                    Reply::error(
                        StatusCode::BAD_REQUEST,
                        &format!("Bad Request: limit must be an integer, got {value:?}"),
                    )
                })?;
                if limit < 0 || limit as usize > max {
                    return Err(Reply::error(
                        StatusCode::BAD_REQUEST,
                        &format!("Bad Request: limit must be between 0 and {max}"),
                    ));
                }
                if limit > 0 {
                    paging.limit = limit as usize;
                }
            }
            "skip" => {
                let skip: i64 = value.trim().parse().map_err(|_| {
                    Reply::error(
                        StatusCode::BAD_REQUEST,
                        &format!("Bad Request: skip must be an integer, got {value:?}"),
                    )
                })?;
                if skip < 0 {
                    return Err(Reply::error(
                        StatusCode::BAD_REQUEST,
                        "Bad Request: skip must not be negative",
                    ));
                }
                paging.skip = skip as usize;
            }
            // Lists are always in id order; `-_id` / `-id` reverses it. Other fields keep id order.
            "sort" => {
                let first = value
                    .split([',', ' '])
                    .find(|s| !s.is_empty())
                    .unwrap_or("");
                paging.descending = first == "-_id" || first == "-id";
            }
            "filter" => paging.filter = Some(value.into_owned()),
            SHIFT_PARAM => paging.shift = value.parse().unwrap_or(0),
            OVERSIZE_PARAM => paging.oversize = value.parse().ok(),
            _ => {}
        }
    }
    Ok(paging)
}

fn page<'a>(
    items: impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator,
    p: &Paging,
) -> Vec<&'a str> {
    // The page has the length it should have; a shift only moves where it starts.
    let length = p.limit.min(items.len().saturating_sub(p.skip));
    let start = p.skip.saturating_sub(p.shift);
    if let Some(records) = p.oversize {
        let all: Vec<&str> = items.collect();
        return all
            .iter()
            .cycle()
            .skip(start)
            .take(records)
            .copied()
            .collect();
    }
    if p.descending {
        items.rev().skip(start).take(length).collect()
    } else {
        items.skip(start).take(length).collect()
    }
}

fn join_array(items: &[&str], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item.as_bytes());
    }
    out.push(b']');
}

/// v1 list: `{totalCount, results}`.
fn envelope(items: &[Rec], query: &str, max: usize) -> Reply {
    let p = match parse_paging(query, max) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let selected = page(items.iter().map(|r| &**r), &p);
    let mut body = format!("{{\"totalCount\":{},\"results\":", items.len()).into_bytes();
    join_array(&selected, &mut body);
    body.push(b'}');
    Reply::json(StatusCode::OK, body)
}

/// v2 list: bare array, total in `x-total-count`.
fn bare_list<'a>(
    items: impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator,
    query: &str,
    max: usize,
) -> Reply {
    let p = match parse_paging(query, max) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let total = items.len();
    let selected = page(items, &p);
    let mut body = Vec::new();
    join_array(&selected, &mut body);
    Reply::json(StatusCode::OK, body).header("x-total-count", total.to_string())
}

fn recs(items: &[Rec]) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
    items.iter().map(|r| &**r)
}

fn org_admin_route(world: &World, admin: &Admin, segments: &[&str], query: &str) -> Reply {
    match segments {
        ["api", "organizations"] => {
            let mut orgs: Vec<&Org> = admin
                .org_ids
                .iter()
                .filter_map(|id| world.org(id))
                .collect();
            orgs.sort_by(|a, b| a.id.cmp(&b.id));
            let items: Vec<Rec> = orgs
                .iter()
                .map(|o| super::generate::to_rec(&json!({"_id": o.id, "id": o.id, "displayName": o.name, "logoUrl": "", "created": o.record["created"]})))
                .collect();
            envelope(&items, query, 100)
        }
        ["api", "organizations", id] => {
            if !is_object_id(id) {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: invalid organization id",
                );
            }
            match world
                .org(id)
                .filter(|_| admin.org_ids.iter().any(|o| o == id))
            {
                Some(org) => {
                    let mut record = org.record.clone();
                    record["settings"]["features"]["directoryInsights"]["enabled"] =
                        json!(org.directory_insights);
                    Reply::value(StatusCode::OK, &record)
                }
                None => Reply::error(StatusCode::NOT_FOUND, "Not Found: organization not found"),
            }
        }
        ["api", "users", "getSelf"] => Reply::value(StatusCode::OK, &admin.record()),
        ["api", "users"] => {
            let mut visible: Vec<&Admin> = world
                .admins
                .iter()
                .filter(|a| a.org_ids.iter().any(|o| admin.org_ids.contains(o)))
                .collect();
            visible.sort_by(|a, b| a.id.cmp(&b.id));
            let items: Vec<Rec> = visible
                .iter()
                .map(|a| super::generate::to_rec(&a.record()))
                .collect();
            envelope(&items, query, 100)
        }
        _ => Reply::error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn not_found() -> Reply {
    Reply::error(StatusCode::NOT_FOUND, "Not Found")
}

fn by_id(map: &std::collections::HashMap<String, Vec<Rec>>, id: &str, query: &str) -> Reply {
    match map.get(id) {
        Some(items) => bare_list(recs(items), query, 100),
        None => Reply::error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: no object with id {id}"),
        ),
    }
}

fn org_route(org: &Org, segments: &[&str], query: &str) -> Reply {
    match segments {
        ["api", "systemusers"] => envelope(&org.users, query, 100),
        ["api", "systems"] => envelope(&org.systems, query, 100),
        ["api", "applications"] => envelope(&org.applications, query, 100),
        ["api", "v2", "roles"] => {
            let items: Vec<Rec> = ROLES
                .iter()
                .map(|(name, custom, description)| {
                    let scopes = if *custom { json!(["users.read", "systems.read", "policies.read", "directoryinsights.read"]) } else { json!([]) };
                    super::generate::to_rec(&json!({"id": role_id(name), "name": name, "scopes": scopes, "isCustom": custom,
                                                     "providerId": Value::Null, "organizationIds": if *custom { json!([org.id]) } else { json!([]) },
                                                     "description": description}))
                })
                .collect();
            envelope(&items, query, 100)
        }
        ["api", "v2", "policies"] => bare_list(org.policies.iter().map(|p| &*p.list), query, 100),
        ["api", "v2", "policies", id] => match org.policies.iter().find(|p| p.id == *id) {
            Some(p) => Reply::json(StatusCode::OK, p.detail.as_bytes().to_vec()),
            None => not_found(),
        },
        ["api", "v2", "policies", id, "policystatuses"] => {
            match org.policies.iter().find(|p| p.id == *id) {
                Some(p) => bare_list(recs(&p.statuses), query, 100),
                None => not_found(),
            }
        }
        ["api", "v2", "usergroups"] => bare_list(recs(&org.user_groups), query, 100),
        ["api", "v2", "systemgroups"] => bare_list(recs(&org.system_groups), query, 100),
        ["api", "v2", "usergroups", id, "membership"] => {
            by_id(&org.usergroup_membership, id, query)
        }
        ["api", "v2", "systemgroups", id, "membership"] => {
            by_id(&org.systemgroup_membership, id, query)
        }
        ["api", "v2", "applications", id, "users"] => by_id(&org.app_users, id, query),
        ["api", "v2", "applications", id, "usergroups"] => by_id(&org.app_usergroups, id, query),
        ["api", "v2", "users", id, "systems"] => by_id(&org.user_systems, id, query),
        ["api", "v2", "users", id, "applications"] => by_id(&org.user_apps, id, query),
        ["api", "v2", "users", id, "memberof"] => by_id(&org.user_memberof, id, query),
        ["api", "v2", "authn", "policies"] => bare_list(recs(&org.authn_policies), query, 100),
        ["api", "v2", "systeminsights", table] => match org.insights.get(table) {
            Some(rows) => insights_table(rows, query),
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// System Insights: bare array, `limit` up to 10,000, optional `filter=system_id:eq:X` or
/// `filter=system_id:in:A|B`.
fn insights_table(rows: &[super::generate::InsightRow], query: &str) -> Reply {
    let p = match parse_paging(query, 10_000) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let wanted: Option<Vec<String>> = match p.filter.as_deref() {
        None | Some("") => None,
        Some(filter) => match filter
            .split_once(':')
            .and_then(|(field, rest)| rest.split_once(':').map(|(op, v)| (field, op, v)))
        {
            Some(("system_id", "eq", value)) => Some(vec![value.to_string()]),
            Some(("system_id", "in", values)) => {
                Some(values.split('|').map(str::to_string).collect())
            }
            _ => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    &format!("Bad Request: unsupported filter {filter:?}"),
                );
            }
        },
    };
    let selected: Vec<&str> = match &wanted {
        None => rows.iter().map(|r| &*r.raw).collect(),
        Some(ids) => rows
            .iter()
            .filter(|r| ids.contains(&r.system_id))
            .map(|r| &*r.raw)
            .collect(),
    };
    let total = selected.len();
    let items = page(selected.into_iter(), &p);
    let mut body = Vec::new();
    join_array(&items, &mut body);
    Reply::json(StatusCode::OK, body).header("x-total-count", total.to_string())
}

// ---------------------------------------------------------------------------------------------
// Directory Insights
// ---------------------------------------------------------------------------------------------

const DI_SERVICES: &[&str] = &[
    "alerts",
    "alert",
    "all",
    "directory",
    "ldap",
    "mdm",
    "notifications",
    "object_storage",
    "password_manager",
    "password_vault",
    "radius",
    "reports",
    "saas_app_management",
    "software",
    "sso",
    "systems",
    "access_management",
    "asset_management",
    "workflows",
    "genai",
    "aigw",
    "ai_admin",
    "generic_di",
];

#[derive(Deserialize)]
struct EventQuery {
    service: Option<Vec<String>>,
    start_time: Option<String>,
    end_time: Option<String>,
    limit: Option<Value>,
    sort: Option<String>,
    search_after: Option<Vec<Value>>,
    fields: Option<Vec<String>>,
}

/// Faults that change how `POST /events` pages.
struct EventsFaults {
    /// `repeat` (`repeat_cursor`) or `endless` (`endless_pages`).
    paging: Option<String>,
    /// A `shift` fault: the page starts this many events before the cursor.
    shift: usize,
}

/// `POST /events` pages through the window; `POST /events/count` (`count_only`) answers
/// `{"count": N}` for the same service and time window, as JumpCloud does.
fn events(
    state: &RegionState,
    orgs: &[&Org],
    body: &[u8],
    now: Timestamp,
    count_only: bool,
    faults: &EventsFaults,
) -> Reply {
    let bad = |message: &str| Reply::di_error(StatusCode::BAD_REQUEST, message);
    if orgs.iter().any(|o| !o.directory_insights) {
        return Reply::di_error(
            StatusCode::PAYMENT_REQUIRED,
            "Directory Insights is not enabled for this organization",
        );
    }
    let query: EventQuery = match serde_json::from_slice(body) {
        Ok(q) => q,
        Err(e) => return bad(&format!("invalid request body: {e}")),
    };
    let services = match query.service {
        Some(s) if !s.is_empty() => s,
        _ => return bad("service is required"),
    };
    if let Some(unknown) = services.iter().find(|s| !DI_SERVICES.contains(&s.as_str())) {
        return bad(&format!("unknown service {unknown:?}"));
    }
    let all = services.iter().any(|s| s == "all");
    let Some(start) = query.start_time else {
        return bad("start_time is required");
    };
    let Ok(start) = start.parse::<Timestamp>() else {
        return bad("start_time must be an RFC 3339 timestamp");
    };
    let end = match query.end_time {
        None => now,
        Some(end) => match end.parse::<Timestamp>() {
            Ok(t) => t,
            Err(_) => return bad("end_time must be an RFC 3339 timestamp"),
        },
    };
    if matches!(&query.fields, Some(f) if f.is_empty()) {
        return bad("fields must not be empty");
    }
    // Nonsense limits fall back to the default, as the DI docs say.
    let limit = match query.limit.as_ref().and_then(Value::as_u64) {
        Some(l) if (1..=10_000).contains(&l) => l as usize,
        _ => 1_000,
    };
    let descending = match query
        .sort
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => return bad(&format!("sort must be ASC or DESC, got {other:?}")),
    };
    let after = match &query.search_after {
        None => None,
        Some(values) => match values.as_slice() {
            [Value::Number(ts), Value::String(id)] if ts.as_i64().is_some() => {
                ts.as_i64().map(|t| (t, id.clone()))
            }
            [] => None,
            _ => return bad("search_after must be [timestamp, id] as returned in X-Search_after"),
        },
    };
    let (start_ms, end_ms) = (start.as_millisecond(), end.as_millisecond());
    let wanted = |e: &Event| {
        all || services
            .iter()
            .any(|s| s == e.service || (s == "alert" && e.service == "alerts"))
    };
    if count_only {
        let count: usize = orgs
            .iter()
            .map(|org| {
                let list = &org.events;
                let lo = list.partition_point(|e| e.ts_ms < start_ms);
                let hi = list.partition_point(|e| e.ts_ms < end_ms);
                list[lo..hi.max(lo)].iter().filter(|e| wanted(e)).count()
            })
            .sum();
        return Reply::json(
            StatusCode::OK,
            json!({ "count": count }).to_string().into_bytes(),
        );
    }
    let mut selected: Vec<&Event> = Vec::new();
    for org in orgs {
        let list = &org.events;
        let lo = list.partition_point(|e| e.ts_ms < start_ms);
        let hi = list.partition_point(|e| e.ts_ms < end_ms);
        let window = &list[lo..hi.max(lo)];
        if descending {
            let upper = match &after {
                Some((ts, id)) => {
                    window.partition_point(|e| (e.ts_ms, e.id.as_str()) < (*ts, id.as_str()))
                }
                None => window.len(),
            };
            selected.extend(
                window[..upper]
                    .iter()
                    .rev()
                    .filter(|e| wanted(e))
                    .take(limit),
            );
        } else {
            let lower = match &after {
                Some((ts, id)) => {
                    window.partition_point(|e| (e.ts_ms, e.id.as_str()) <= (*ts, id.as_str()))
                }
                None => 0,
            };
            // A `shift` fault: the page starts that many events before the cursor.
            let lower = lower.saturating_sub(faults.shift);
            selected.extend(window[lower..].iter().filter(|e| wanted(e)).take(limit));
        }
    }
    if orgs.len() > 1 {
        selected.sort_by(|a, b| (a.ts_ms, &a.id).cmp(&(b.ts_ms, &b.id)));
        if descending {
            selected.reverse();
        }
        selected.truncate(limit);
    }
    if let Some(fault) = faults.paging.as_deref() {
        // `repeat`: a full page every time (the window's events repeated) with one fixed
        // cursor. `endless`: one event claimed to be a full page, with a new cursor each time.
        let window: Vec<&Event> = orgs
            .iter()
            .flat_map(|org| org.events.iter())
            .filter(|e| e.ts_ms >= start_ms && e.ts_ms < end_ms)
            .collect();
        let request = state.next_request_id();
        let (length, cursor) = match fault {
            "endless" => (1, format!("[{request},\"endless\"]")),
            _ => (limit, "[0,\"repeat\"]".to_owned()),
        };
        // Each event served gets an id of its own, so the pages differ only in their cursor
        // (a client's repeat check on event ids does not see them first).
        let raw: Vec<String> = window
            .iter()
            .cycle()
            .take(length)
            .enumerate()
            .map(|(i, event)| {
                let mut value: Value = serde_json::from_str(&event.raw).unwrap_or_default();
                value["id"] = json!(format!("{request:08x}{i:016x}"));
                value.to_string()
            })
            .collect();
        let raw: Vec<&str> = raw.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        join_array(&raw, &mut out);
        return Reply::json(StatusCode::OK, out)
            .header("x-result-count", limit.to_string())
            .header("x-limit", limit.to_string())
            .header("x-sort", "ASC")
            .header("x-search_after", cursor);
    }
    let raw: Vec<&str> = selected.iter().map(|e| &*e.raw).collect();
    let mut out = Vec::new();
    join_array(&raw, &mut out);
    let search_after = match selected.last() {
        Some(e) => json!([e.ts_ms, e.id]).to_string(),
        None => query
            .search_after
            .map(|v| Value::Array(v).to_string())
            .unwrap_or_else(|| "[]".into()),
    };
    Reply::json(StatusCode::OK, out)
        .header("x-result-count", selected.len().to_string())
        .header("x-limit", limit.to_string())
        .header("x-sort", if descending { "DESC" } else { "ASC" })
        .header("x-search_after", search_after)
        .header(
            "x-request-id",
            format!("sim-{}-{}", state.region, state.next_request_id()),
        )
}

// ---------------------------------------------------------------------------------------------
// Control API
// ---------------------------------------------------------------------------------------------

fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            &format!("invalid control body: {e}"),
        )
    })
}

fn no_content() -> Reply {
    Reply::json(StatusCode::NO_CONTENT, Vec::new())
}

fn control(state: &RegionState, method: &Method, path: &str, body: &[u8]) -> Reply {
    let segments: Vec<&str> = path.split('/').collect();
    let ok = |value: Value| Reply::value(StatusCode::OK, &value);
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["admins"]) => {
            let world = state.world();
            ok(json!(
                world.admins.iter().map(Admin::view).collect::<Vec<_>>()
            ))
        }
        ("POST" | "PUT", ["admins", id, action]) => {
            let now = state.now();
            let mut world = state.world_mut();
            if world.admin_mut(id).is_none() {
                return Reply::error(
                    StatusCode::NOT_FOUND,
                    &format!("no administrator with id {id}"),
                );
            }
            match *action {
                "revoke-key" => {
                    if let Some(admin) = world.admin_mut(id) {
                        admin.key = None;
                    }
                }
                "issue-key" => {
                    let expiry: KeyExpiry = match parse_body(body) {
                        Ok(e) => e,
                        Err(reply) => return reply,
                    };
                    let value = world.new_key();
                    if let Some(admin) = world.admin_mut(id) {
                        admin.key = Some(ApiKey {
                            value,
                            created_at: now,
                            expire_at: expiry.expires_at,
                        });
                        admin.api_key_allowed = true;
                        admin.api_key_updated_at = Some(now);
                    }
                }
                "expire-key" | "key-expiry" => {
                    let expires_at = if *action == "expire-key" {
                        Some(now - jiff::SignedDuration::from_secs(1))
                    } else {
                        match parse_body::<KeyExpiry>(body) {
                            Ok(e) => e.expires_at,
                            Err(reply) => return reply,
                        }
                    };
                    match world.admin_mut(id).and_then(|a| a.key.as_mut()) {
                        Some(key) => key.expire_at = expires_at,
                        None => {
                            return Reply::error(
                                StatusCode::CONFLICT,
                                &format!("administrator {id} has no api key"),
                            );
                        }
                    }
                }
                _ => {
                    return Reply::error(
                        StatusCode::NOT_FOUND,
                        &format!("unknown control route {path}"),
                    );
                }
            }
            let view = world.admins.iter().find(|a| a.id == *id).map(Admin::view);
            ok(json!(view))
        }
        ("GET", ["orgs"]) => ok(json!(state.org_counts())),
        ("POST", ["orgs"]) => {
            let request: AddOrgRequest = match parse_body(body) {
                Ok(r) => r,
                Err(reply) => return reply,
            };
            match state.add_org(&request.admin_ids) {
                Ok((org_id, name)) => ok(json!(AddOrgResponse { org_id, name })),
                Err(message) => Reply::error(StatusCode::NOT_FOUND, &message),
            }
        }
        ("PUT" | "POST", ["directory-insights"]) => {
            let toggle: DirectoryInsightsToggle = match serde_json::from_slice(body) {
                Ok(t) => t,
                Err(e) => {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        &format!("invalid control body: {e}"),
                    );
                }
            };
            let mut world = state.world_mut();
            for org in world
                .orgs
                .iter_mut()
                .filter(|o| toggle.org_id.as_ref().is_none_or(|id| *id == o.id))
            {
                org.directory_insights = toggle.enabled;
            }
            no_content()
        }
        ("GET", ["faults"]) => ok(json!(state.list_faults())),
        ("POST", ["faults"]) => match serde_json::from_slice::<Fault>(body) {
            Ok(fault) => {
                if let FaultKind::Status { status, .. } = &fault.kind
                    && !(400..=599).contains(status)
                {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        "status faults need a 4xx or 5xx status",
                    );
                }
                state.add_fault(fault);
                no_content()
            }
            Err(e) => Reply::error(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")),
        },
        ("DELETE", ["faults"]) => {
            state.clear_faults();
            no_content()
        }
        ("GET", ["counters"]) => ok(json!(state.counters_view())),
        ("GET", ["requests"]) => ok(json!(state.logged_requests())),
        ("PUT" | "POST", ["get-self"]) => match parse_body::<GetSelfStatus>(body) {
            Ok(GetSelfStatus { status }) => {
                if status.is_some_and(|s| !(400..=599).contains(&s)) {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        "get-self needs a 4xx or 5xx status, or null",
                    );
                }
                state.set_get_self_status(status);
                no_content()
            }
            Err(reply) => reply,
        },
        ("PUT" | "POST", ["route-status"]) => match parse_body::<RouteStatus>(body) {
            Ok(RouteStatus { path, status }) => {
                if status.is_some_and(|s| !(400..=599).contains(&s)) || !path.starts_with('/') {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        "route-status needs a path starting with / and a 4xx or 5xx status, or null",
                    );
                }
                state.set_route_status(&path, status);
                no_content()
            }
            Err(reply) => reply,
        },
        ("PUT" | "POST", ["insights-rows"]) => match serde_json::from_slice::<InsightsRows>(body) {
            Ok(InsightsRows { table, rows }) => match state.set_insights_rows(&table, rows) {
                Ok(()) => no_content(),
                Err(message) => Reply::error(StatusCode::BAD_REQUEST, &message),
            },
            Err(e) => Reply::error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
        },
        ("DELETE", ["counters"]) => {
            state.reset_counters();
            no_content()
        }
        ("POST", ["reset"]) => {
            state.clear_faults();
            state.reset_counters();
            no_content()
        }
        _ => Reply::error(
            StatusCode::NOT_FOUND,
            &format!("unknown control route {method} /__simulator/{path}"),
        ),
    }
}
