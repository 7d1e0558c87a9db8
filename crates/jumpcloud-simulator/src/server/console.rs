//! The JumpCloud console API routes (v1, v2, System Insights) and their paging.

use super::*;

#[derive(PartialEq)]
pub(super) enum Scope {
    /// Organization and administrator routes: no `x-org-id` allowed.
    OrgAdmin,
    /// Routes inside one org: `x-org-id` required for multi-tenant admins.
    Org,
    /// Directory Insights: repeatable `x-org-id`.
    Insights,
}

pub(super) fn route(
    state: &RegionState,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.as_slice() == ["oauth2", "token"] {
        return super::oauth::token(state, method, headers, body);
    }
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
    let presented = match presented(headers) {
        Ok(presented) => presented,
        Err((status, message)) => return fail(status, message),
    };
    // A revoked key is refused like any unknown one, and Directory Insights logs the attempt.
    if let Presented::Key(key) = &presented
        && record_old_key_attempt(state, key, headers, now)
    {
        return fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: api key user not found",
        );
    }
    let world = state.world();
    let tokens = state.tokens();
    let admin = match authenticate(&world, &tokens, &presented, now) {
        Ok(principal) => principal,
        Err((status, message)) => return fail(status, message),
    };
    drop(tokens);
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
    if !role_may_read(admin.role_name()) && !get_self {
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
    let org_headers = org_ids(headers);
    if scope == Scope::OrgAdmin {
        if !org_headers.is_empty() {
            return Reply::value(
                StatusCode::FORBIDDEN,
                &json!({"message": "Forbidden: organization selection not allowed via header", "error": "Forbidden: organization selection not allowed via header"}),
            );
        }
        return org_admin_route(&world, &admin, &segments, query);
    }
    if !insights && org_headers.len() > 1 {
        return fail(
            StatusCode::BAD_REQUEST,
            "Bad Request: only one x-org-id may be sent",
        );
    }
    // Directory Insights documents `x-org-id` beside `x-api-key` in its security requirement.
    if insights && org_headers.is_empty() {
        return fail(
            StatusCode::BAD_REQUEST,
            "Bad Request: x-org-id is required: send the organization id",
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
        if !admin.org_ids().iter().any(|o| o == id) {
            return fail(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: organization not accessible with this api key",
            );
        }
        orgs.push(org);
    }
    if orgs.is_empty() {
        if admin.org_ids().len() > 1 {
            return fail(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: no organization selected",
            );
        }
        match admin.org_ids().first().and_then(|id| world.org(id)) {
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
    if segments.as_slice() == ["api", "v2", "policyresults"] {
        return super::policy_results::policy_results(orgs[0], query, state.base_now());
    }
    org_route(orgs[0], &segments, query)
}

/// The `x-org-id` values of a request: every header, split at commas, blanks dropped.
pub(super) fn org_ids(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-org-id")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

pub(super) fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) struct Paging {
    pub(super) limit: usize,
    pub(super) skip: usize,
    /// A `shift` fault: the page starts this many records early but keeps its length.
    pub(super) shift: usize,
    /// An `oversized` fault: the page holds this many records, whatever the limit.
    pub(super) oversize: Option<usize>,
    pub(super) descending: bool,
    pub(super) filter: Option<String>,
}

pub(super) fn parse_paging(query: &str, max: usize) -> Result<Paging, Reply> {
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

pub(super) fn page<'a>(
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

pub(super) fn join_array(items: &[&str], out: &mut Vec<u8>) {
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
pub(super) fn envelope(items: &[Rec], query: &str, max: usize) -> Reply {
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
pub(super) fn bare_list<'a>(
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

pub(super) fn recs(items: &[Rec]) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
    items.iter().map(|r| &**r)
}

pub(super) fn org_admin_route(
    world: &World,
    admin: &Principal<'_>,
    segments: &[&str],
    query: &str,
) -> Reply {
    match segments {
        ["api", "organizations"] => {
            let mut orgs: Vec<&Org> = admin
                .org_ids()
                .iter()
                .filter_map(|id| world.org(id))
                .collect();
            orgs.sort_by(|a, b| a.id.cmp(&b.id));
            let items: Vec<Rec> = orgs
                .iter()
                .map(|o| crate::generate::to_rec(&json!({"_id": o.id, "id": o.id, "displayName": o.name, "logoUrl": "", "created": o.record["created"]})))
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
                .filter(|_| admin.org_ids().iter().any(|o| o == id))
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
                .filter(|a| a.org_ids.iter().any(|o| admin.org_ids().contains(o)))
                .collect();
            visible.sort_by(|a, b| a.id.cmp(&b.id));
            let items: Vec<Rec> = visible
                .iter()
                .map(|a| crate::generate::to_rec(&a.record()))
                .collect();
            envelope(&items, query, 100)
        }
        _ => Reply::error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

pub(super) fn not_found() -> Reply {
    Reply::error(StatusCode::NOT_FOUND, "Not Found")
}

pub(super) fn by_id(
    map: &std::collections::HashMap<String, Vec<Rec>>,
    id: &str,
    query: &str,
) -> Reply {
    match map.get(id) {
        Some(items) => bare_list(recs(items), query, 100),
        None => Reply::error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: no object with id {id}"),
        ),
    }
}

pub(super) fn org_route(org: &Org, segments: &[&str], query: &str) -> Reply {
    match segments {
        ["api", "systemusers"] => envelope(&org.users, query, 100),
        ["api", "systems"] => envelope(&org.systems, query, 100),
        ["api", "applications"] => envelope(&org.applications, query, 100),
        ["api", "v2", "roles"] => {
            // No `providerId`: the roles are the org's, not a provider's (a documented string is
            // left out rather than null).
            let items: Vec<Rec> = ROLES
                .iter()
                .map(|(name, custom, description)| {
                    let scopes = if *custom { json!(["users.read", "systems.read", "policies.read", "directoryinsights.read"]) } else { json!([]) };
                    crate::generate::to_rec(&json!({"id": role_id(name), "name": name, "scopes": scopes, "isCustom": custom,
                                                     "organizationIds": if *custom { json!([org.id]) } else { json!([]) },
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
        ["api", "v2", "usergroups", id, "members"] => user_group_members(org, id, query),
        ["api", "v2", "systems", id, "policystatuses"] => system_policy_statuses(org, id, query),
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
        ["api", "v2", "systems", id, "users"] => by_id(&org.system_users, id, query),
        ["api", "commands"] => envelope(&org.commands, query, 100),
        ["api", "v2", "commands", id, "systems"] => by_id(&org.command_systems, id, query),
        ["api", "v2", "commands", id, "systemgroups"] => {
            by_id(&org.command_systemgroups, id, query)
        }
        ["api", "v2", "authn", "policies"] => bare_list(recs(&org.authn_policies), query, 100),
        ["api", "v2", "systeminsights", table] => match org.insight_table(table) {
            Some(rows) => insights_table(rows, query),
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// System Insights: bare array, `limit` up to 10,000, optional `filter=system_id:eq:X` or
/// `filter=system_id:in:A|B`.
pub(super) fn insights_table(rows: &[crate::generate::InsightRow], query: &str) -> Reply {
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

/// Whether `key` is a revoked key; if so, logs `admin_old_api_key_attempt` in the org of its
/// administrator, with the client's address and user agent.
fn record_old_key_attempt(
    state: &RegionState,
    key: &str,
    headers: &HeaderMap,
    now: Timestamp,
) -> bool {
    let owner = {
        let world = state.world();
        world
            .old_key_owner(key)
            .map(|admin| (admin.id.clone(), admin.email.clone(), admin.org_ids.clone()))
    };
    let Some((admin_id, email, org_ids)) = owner else {
        return false;
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The listener serves loopback only; a proxy in front would say who the client was.
    let client_ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map_or("127.0.0.1", str::trim);
    let mut world = state.world_mut();
    for org in world
        .orgs
        .iter_mut()
        .filter(|org| org_ids.contains(&org.id))
    {
        org.add_old_key_attempt(now, &admin_id, &email, client_ip, user_agent);
    }
    true
}
