//! The Directory Insights routes: event search with `search_after` paging, and the count.

use super::*;

pub(super) const DI_SERVICES: &[&str] = &[
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
pub(super) struct EventQuery {
    pub(super) service: Option<Vec<String>>,
    pub(super) start_time: Option<String>,
    pub(super) end_time: Option<String>,
    pub(super) limit: Option<Value>,
    pub(super) sort: Option<String>,
    pub(super) search_after: Option<Vec<Value>>,
    pub(super) fields: Option<Vec<String>>,
    /// `{"and"|"or": [{"event_type": "..."}, ...]}`; only `event_type` terms are served.
    pub(super) search_term: Option<Value>,
}

/// The event types a `search_term` asks for (`None`: no filter). Terms on other fields are
/// refused rather than ignored: a filter the simulator cannot apply must not look applied.
fn event_types(search_term: Option<&Value>) -> Result<Option<Vec<String>>, String> {
    let Some(term) = search_term else {
        return Ok(None);
    };
    let Some((_, terms)) = term
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
        .filter(|(op, _)| matches!(op.as_str(), "and" | "or"))
    else {
        return Err("search_term must be {\"and\"|\"or\": [terms]}".to_owned());
    };
    let mut types = Vec::new();
    for term in terms.as_array().into_iter().flatten() {
        match term
            .as_object()
            .and_then(|o| o.get("event_type"))
            .and_then(Value::as_str)
        {
            Some(t) if term.as_object().is_some_and(|o| o.len() == 1) => types.push(t.to_owned()),
            _ => return Err("the simulator filters search_term on event_type only".to_owned()),
        }
    }
    Ok(Some(types))
}

/// Faults that change how `POST /events` pages.
pub(super) struct EventsFaults {
    /// `repeat` (`repeat_cursor`) or `endless` (`endless_pages`).
    pub(super) paging: Option<String>,
    /// A `shift` fault: the page starts this many events before the cursor.
    pub(super) shift: usize,
}

/// `POST /events` pages through the window; `POST /events/count` (`count_only`) answers
/// `{"count": N}` for the same service and time window, as JumpCloud does.
pub(super) fn events(
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
    let types = match event_types(query.search_term.as_ref()) {
        Ok(types) => types,
        Err(message) => return bad(&message),
    };
    let (start_ms, end_ms) = (start.as_millisecond(), end.as_millisecond());
    let wanted = |e: &Event| {
        (all || services
            .iter()
            .any(|s| s == e.service || (s == "alert" && e.service == "alerts")))
            && types.as_ref().is_none_or(|types| {
                types
                    .iter()
                    .any(|t| e.raw.contains(&format!("\"event_type\":\"{t}\"")))
            })
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
