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
enum Action {
    /// The HTTP code, and the `Status` reason when not the usual one for that code.
    Fail(u16, Option<String>),
    Delay(Duration),
}

#[derive(Clone, Debug)]
struct Rule {
    verb: Option<String>,
    resource: Option<String>,
    subresource: Option<String>,
    remaining: usize,
    action: Action,
}

impl Rule {
    fn matches(&self, verb: &str, resource: &str, subresource: Option<&str>) -> bool {
        self.remaining > 0
            && self.verb.as_deref().is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|v| v == resource)
            && (self.resource.is_none() || self.subresource.as_deref() == subresource)
    }
}

#[derive(Debug, Default)]
pub(crate) struct FaultState {
    rules: Vec<Rule>,
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
        self.push(
            times,
            verb,
            resource,
            subresource,
            Action::Fail(status, None),
        );
    }

    /// As [`Self::fail_next`], with `reason` as the `Status` reason instead of the usual one
    /// for `status`: an API server (or a proxy in front of it) that words it differently, so a
    /// client that looks at the reason rather than the code is caught.
    pub fn fail_next_with_reason(
        &self,
        times: usize,
        verb: Option<&str>,
        resource: Option<&str>,
        subresource: Option<&str>,
        status: u16,
        reason: &str,
    ) {
        let action = Action::Fail(status, Some(reason.to_owned()));
        self.push(times, verb, resource, subresource, action);
    }

    /// Delays the next `times` requests matching `verb`, `resource` and `subresource` (as in
    /// [`Self::fail_next`]) by `delay` before they are handled; other requests are not delayed.
    pub fn delay_next(
        &self,
        times: usize,
        verb: Option<&str>,
        resource: Option<&str>,
        subresource: Option<&str>,
        delay: Duration,
    ) {
        self.push(times, verb, resource, subresource, Action::Delay(delay));
    }

    fn push(
        &self,
        times: usize,
        verb: Option<&str>,
        resource: Option<&str>,
        subresource: Option<&str>,
        action: Action,
    ) {
        let rule = Rule {
            verb: verb.map(String::from),
            resource: resource.map(String::from),
            subresource: subresource.map(String::from),
            remaining: times,
            action,
        };
        lock(&self.state).rules.push(rule);
    }

    /// Ends every open watch stream now (clients see a clean end of stream and reconnect).
    pub fn drop_watches(&self) {
        self.drop_watches.send_modify(|n| *n += 1);
    }

    /// Delays every request by `delay` (`None` to stop); see [`Self::delay_next`] to delay
    /// only some.
    pub fn set_delay(&self, delay: Option<Duration>) {
        lock(&self.state).delay = delay;
    }

    /// Removes all pending failure and delay rules and the global delay.
    pub fn clear(&self) {
        let mut s = lock(&self.state);
        s.rules.clear();
        s.delay = None;
    }

    /// The status (and reason, when overridden) to fail this request with, if a failure rule
    /// matches (consumes one use).
    pub(crate) fn check(
        &self,
        verb: &str,
        resource: &str,
        subresource: Option<&str>,
    ) -> Option<(u16, Option<String>)> {
        self.take(verb, resource, subresource, |a| match a {
            Action::Fail(code, reason) => Some((*code, reason.clone())),
            Action::Delay(_) => None,
        })
    }

    /// How long to hold this request: the global delay plus a matching delay rule's (which
    /// loses one use).
    pub(crate) fn delay(
        &self,
        verb: &str,
        resource: &str,
        subresource: Option<&str>,
    ) -> Option<Duration> {
        let global = lock(&self.state).delay;
        let rule = self.take(verb, resource, subresource, |a| match a {
            Action::Delay(d) => Some(*d),
            Action::Fail(..) => None,
        });
        match (global, rule) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        }
    }

    /// Consumes one use of the first rule that matches and whose action `pick` accepts.
    fn take<T>(
        &self,
        verb: &str,
        resource: &str,
        subresource: Option<&str>,
        pick: impl Fn(&Action) -> Option<T>,
    ) -> Option<T> {
        let mut s = lock(&self.state);
        let rule = s
            .rules
            .iter_mut()
            .find(|r| r.matches(verb, resource, subresource) && pick(&r.action).is_some())?;
        rule.remaining -= 1;
        let out = pick(&rule.action);
        s.rules.retain(|r| r.remaining > 0);
        out
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not hide the real failure).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
