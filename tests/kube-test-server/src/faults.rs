//! Fault injection and the request log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the server understood it (Kubernetes RBAC vocabulary).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string (e.g. `watch=true&resourceVersion=12&allowWatchBookmarks=true`).
    pub query: String,
    /// `Accept` header (`...;as=PartialObjectMetadataList;...` for metadata-only calls).
    pub accept: Option<String>,
    /// RBAC verb: get, list, watch, create, update, patch, delete, deletecollection; for
    /// non-resource URLs (discovery, OpenAPI) the lowercase HTTP method.
    pub verb: String,
    pub group: String,
    pub version: String,
    /// Plural resource name, empty for non-resource URLs.
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub user_agent: Option<String>,
    /// `fieldManager` query parameter.
    pub field_manager: Option<String>,
    /// Content type of a PATCH (`application/apply-patch+yaml`, ...).
    pub content_type: Option<String>,
    /// HTTP status of the response (for watches: of the stream's start).
    pub status: u16,
}

impl RecordedRequest {
    /// True for calls on an API resource (not discovery or OpenAPI).
    pub fn is_resource_request(&self) -> bool {
        !self.resource.is_empty()
    }
}

#[derive(Clone, Debug)]
struct FailRule {
    verb: Option<String>,
    resource: Option<String>,
    subresource: Option<String>,
    remaining: usize,
    status: u16,
}

#[derive(Debug, Default)]
pub(crate) struct FaultState {
    rules: Vec<FailRule>,
    delay: Option<Duration>,
}

/// Handle to inject faults into a running [`crate::KubeTestServer`]. Cheap to clone.
#[derive(Clone)]
pub struct Faults {
    pub(crate) state: Arc<Mutex<FaultState>>,
    pub(crate) drop_watches: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Faults {
    /// Fails the next `times` requests matching `verb` (RBAC verb such as `"watch"` or
    /// `"patch"`; `None` = any) and `resource` (plural; `None` = any) with a `Status` of HTTP
    /// code `status` (429 and 503 carry `Retry-After: 1`). When `resource` is given,
    /// `subresource` must match too (`None` = the main resource, `Some("status")`).
    pub fn fail_next(
        &self,
        times: usize,
        verb: Option<&str>,
        resource: Option<&str>,
        subresource: Option<&str>,
        status: u16,
    ) {
        let rule = FailRule {
            verb: verb.map(String::from),
            resource: resource.map(String::from),
            subresource: subresource.map(String::from),
            remaining: times,
            status,
        };
        lock(&self.state).rules.push(rule);
    }

    /// Ends every open watch stream now (clients see a clean end of stream and reconnect).
    pub fn drop_watches(&self) {
        self.drop_watches.send_modify(|n| *n += 1);
    }

    /// Delays every response by `delay` (`None` to stop).
    pub fn set_delay(&self, delay: Option<Duration>) {
        lock(&self.state).delay = delay;
    }

    /// Removes all pending failure rules and the delay.
    pub fn clear(&self) {
        let mut s = lock(&self.state);
        s.rules.clear();
        s.delay = None;
    }

    /// The status to fail this request with, if a rule matches (consumes one use of it).
    pub(crate) fn check(
        &self,
        verb: &str,
        resource: &str,
        subresource: Option<&str>,
    ) -> Option<u16> {
        let mut s = lock(&self.state);
        let rule = s.rules.iter_mut().find(|r| {
            r.remaining > 0
                && r.verb.as_deref().is_none_or(|v| v == verb)
                && r.resource.as_deref().is_none_or(|v| v == resource)
                && (r.resource.is_none() || r.subresource.as_deref() == subresource)
        })?;
        rule.remaining -= 1;
        let status = rule.status;
        s.rules.retain(|r| r.remaining > 0);
        Some(status)
    }

    pub(crate) fn delay(&self) -> Option<Duration> {
        lock(&self.state).delay
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not hide the real failure).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
