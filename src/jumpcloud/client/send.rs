//! One logical request: its task, the attempts with backoff until success or a reason to stop,
//! one HTTP attempt (auth header, permit, timeout), and reading its body within the limits.

use std::time::{Duration, Instant};

use bytes::Bytes;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};

use super::super::JumpCloudError;
use super::super::adaptive::Outcome;
use super::super::encodings::redact;
use super::super::error::{RetryLimit, classify_status, classify_token_status, sanitize};
use super::super::retry::{RetryDecision, decide_retry, parse_retry_after};
use super::{
    Failure, JumpCloudClient, MAX_CONNECT_ATTEMPTS, MAX_ERROR_BODY_BYTES,
    MAX_SERVER_ERROR_ATTEMPTS, RawResponse, RequestAuth, RequestBody, RequestSpec, auth,
};

impl JumpCloudClient {
    /// One logical request, run as its own task. Callers hold requests in `buffered` and
    /// flattened streams that are not always polled; if a request holding one of the client's
    /// permits sat there unpolled while the stream's consumer waited for a permit, the whole
    /// collection would deadlock. As a task it always runs to completion and frees its permit.
    /// Dropping the returned future aborts the task.
    pub(super) async fn send(&self, spec: RequestSpec) -> Result<RawResponse, JumpCloudError> {
        let client = self.clone();
        let endpoint = spec.endpoint.clone();
        let task = AbortOnDrop(tokio::spawn(async move { client.send_now(&spec).await }));
        task.await.map_err(|error| JumpCloudError::Transport {
            endpoint,
            detail: format!("request task failed: {error}"),
        })?
    }

    /// Attempts with backoff until success, a non-retryable error, the attempt limit or the
    /// total deadline. Each attempt's timeout is cut to the time left before the deadline.
    pub(super) async fn send_now(&self, spec: &RequestSpec) -> Result<RawResponse, JumpCloudError> {
        let started = Instant::now();
        let deadline = started + self.inner.total_deadline;
        let mut failed_attempts = 0;
        let mut token_renewed = false;
        loop {
            let Failure {
                error, retry_after, ..
            } = match self.attempt(spec, deadline).await {
                Ok(response) => return Ok(response),
                Err(failure) if failure.error.is_retryable() => failure,
                Err(Failure {
                    refused_token: Some(sent),
                    error,
                    ..
                }) => {
                    // An old token may have ended early (revoked sessions, a clock ahead):
                    // renew once. A token refused right after it was issued means the
                    // credential itself is refused.
                    if sent.fetched_for_this_attempt || token_renewed {
                        return Err(auth::token_refused(error));
                    }
                    self.token_refused(&sent).await;
                    token_renewed = true;
                    continue;
                }
                Err(failure) => return Err(failure.error),
            };
            failed_attempts += 1;
            let gave_up = |limit| JumpCloudError::RetriesExhausted {
                attempts: failed_attempts,
                limit,
                last: Box::new(error.clone()),
            };
            // Classes with a cap of their own: a refused connection (a wrong host should fail in
            // about a second) and HTTP 500 (a lasting one is a server bug).
            let class_cap = match &error {
                JumpCloudError::Unreachable { .. } => Some(MAX_CONNECT_ATTEMPTS),
                JumpCloudError::Server { status: 500, .. } => Some(MAX_SERVER_ERROR_ATTEMPTS),
                _ => None,
            }
            .filter(|cap| *cap < self.inner.retry.max_attempts);
            if let Some(max) = class_cap
                && failed_attempts >= max
            {
                return Err(gave_up(RetryLimit::AttemptCap { max }));
            }
            let used = started.elapsed();
            let remaining = self.inner.total_deadline.saturating_sub(used);
            let jitter: f64 = rand::random();
            match decide_retry(
                &self.inner.retry,
                failed_attempts,
                retry_after,
                jitter,
                remaining,
            ) {
                RetryDecision::Wait(wait) => {
                    // A warning, so `collect` shows long waits (the path and status only: the
                    // key is never part of an endpoint or a status).
                    tracing::warn!(
                        endpoint = spec.endpoint.as_str(),
                        status = error.http_status(),
                        reason = error.reason(),
                        attempt = failed_attempts,
                        wait_ms = wait.as_millis() as u64,
                        retry_after = retry_after.is_some(),
                        "retrying {} after {}: waiting {:.1}s{}",
                        spec.endpoint,
                        error
                            .http_status()
                            .map_or_else(|| error.reason().to_owned(), |s| format!("HTTP {s}")),
                        wait.as_secs_f64(),
                        if retry_after.is_some() {
                            " (as its Retry-After asks)"
                        } else {
                            ""
                        }
                    );
                    tokio::time::sleep(wait).await;
                }
                RetryDecision::GiveUp { next_wait: None } => {
                    return Err(gave_up(RetryLimit::AttemptCap {
                        max: self.inner.retry.max_attempts,
                    }));
                }
                RetryDecision::GiveUp {
                    next_wait: Some(next_wait),
                } => {
                    return Err(gave_up(RetryLimit::Deadline {
                        deadline: self.inner.total_deadline,
                        used,
                        next_wait,
                    }));
                }
            }
        }
    }

    /// One HTTP attempt, timing out at the deadline at the latest (the wait for a permit
    /// counts too).
    async fn attempt(&self, spec: &RequestSpec, deadline: Instant) -> Result<RawResponse, Failure> {
        let endpoint = spec.endpoint.as_str();
        // Before a permit: fetching a token takes one of its own.
        let (auth_header, sent_token) = self.auth_header(spec.auth).await?;
        // Dropped unreported (an early return below) it counts as no answer.
        let slot = self.inner.limit.acquire().await;
        let left = deadline.saturating_duration_since(Instant::now());
        *self
            .lock_requests()
            .entry(spec.label.to_owned())
            .or_default() += 1;

        let mut request = self
            .inner
            .http
            .request(spec.method.clone(), spec.url.clone())
            .header(auth_header.0, auth_header.1)
            .header(ACCEPT, "application/json");
        if left < self.inner.request_timeout {
            request = request.timeout(left.max(Duration::from_millis(1)));
        }
        if let Some(org_id) = &spec.org_id {
            request = request.header("x-org-id", org_id.as_str());
        }
        match &spec.body {
            Some(RequestBody::Json(body)) => {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            Some(RequestBody::Form(body)) => {
                request = request
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body.clone());
            }
            None => {}
        }
        let response = request.send().await;
        if let Some(observer) = &self.inner.observer {
            observer.observe(
                &spec.label,
                response.as_ref().ok().map(|r| r.status().as_u16()),
            );
        }
        let mut response = response.map_err(|error| self.transport_error(endpoint, &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            let body = self.read_capped(endpoint, &mut response).await?;
            let matcher = &self.inner.key_matcher;
            let token = sent_token.as_ref().map(|sent| &sent.token);
            let carries = |bytes: &[u8]| {
                matcher.carries(bytes) || token.is_some_and(|token| token.carried_by(bytes))
            };
            let in_headers = headers.values().any(|value| carries(value.as_bytes()));
            let latency = slot.elapsed();
            slot.finish(Outcome::Answered {
                endpoint: &spec.label,
                latency,
            });
            if in_headers || carries(&body) {
                return Err(Failure::from(JumpCloudError::KeyEchoed {
                    endpoint: endpoint.to_owned(),
                }));
            }
            return Ok(RawResponse { headers, body });
        }
        let mut body = self.read_error_body(endpoint, &mut response).await?;
        // An error body that quotes the access token must not carry it into a message.
        if let Some(sent) = &sent_token
            && sent.token.carried_by(&body)
        {
            let text = redact(&String::from_utf8_lossy(&body), sent.token.expose());
            body = Bytes::from(text.into_bytes());
        }
        if status.is_redirection() {
            return Err(Failure::from(JumpCloudError::BadRequest {
                endpoint: endpoint.to_owned(),
                status: status.as_u16(),
                message: "unexpected redirect (not followed: it would carry the key elsewhere); \
                          check the region or base URL"
                    .to_owned(),
            }));
        }
        // Honoured on every status that is retried (429, 500, 502, 503, 504), not only 429.
        let retryable =
            status == StatusCode::TOO_MANY_REQUESTS || matches!(status.as_u16(), 500 | 502..=504);
        let retry_after = retryable
            .then(|| headers.get(RETRY_AFTER))
            .flatten()
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, jiff::Timestamp::now()));
        let latency = slot.elapsed();
        slot.finish(
            if status == StatusCode::TOO_MANY_REQUESTS || retry_after.is_some() {
                Outcome::Throttled { retry_after }
            } else if status.is_server_error() {
                // A failing server says nothing about how much it accepts.
                Outcome::NoAnswer
            } else {
                Outcome::Answered {
                    endpoint: &spec.label,
                    latency,
                }
            },
        );
        let secret = self.inner.credential.expose_secret();
        let error = match spec.auth {
            RequestAuth::ClientSecretBasic => {
                classify_token_status(endpoint, status.as_u16(), retry_after, &body, secret)
            }
            RequestAuth::Credential => {
                classify_status(endpoint, status.as_u16(), retry_after, &body, secret)
            }
        };
        Err(Failure {
            refused_token: sent_token.filter(|_| status == StatusCode::UNAUTHORIZED),
            error,
            retry_after,
        })
    }

    /// Reads a success body, failing as soon as it passes [`ClientConfig::max_page_bytes`]
    /// (announced by `Content-Length` or counted while reading), so a hostile server cannot
    /// make the process hold more than that.
    async fn read_capped(
        &self,
        endpoint: &str,
        response: &mut reqwest::Response,
    ) -> Result<Bytes, Failure> {
        let cap = self.inner.max_page_bytes;
        let too_large = || {
            Failure::from(JumpCloudError::ResponseTooLarge {
                endpoint: endpoint.to_owned(),
                what: "a page",
                limit_bytes: cap,
                option: "--max-page-bytes",
            })
        };
        if response.content_length().is_some_and(|length| length > cap) {
            return Err(too_large());
        }
        // Sized once when announced: growing by doubling would hold up to twice the page.
        let mut body =
            bytes::BytesMut::with_capacity(response.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(endpoint, &error))?
        {
            if (body.len() + chunk.len()) as u64 > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Reads the start of an error body, enough for its message; the rest is not read.
    async fn read_error_body(
        &self,
        endpoint: &str,
        response: &mut reqwest::Response,
    ) -> Result<Bytes, Failure> {
        let mut body = bytes::BytesMut::new();
        while body.len() < MAX_ERROR_BODY_BYTES
            && let Some(chunk) = response
                .chunk()
                .await
                .map_err(|error| self.transport_error(endpoint, &error))?
        {
            body.extend_from_slice(&chunk);
        }
        body.truncate(MAX_ERROR_BODY_BYTES);
        Ok(body.freeze())
    }

    fn transport_error(&self, endpoint: &str, error: &reqwest::Error) -> JumpCloudError {
        if error.is_timeout() {
            return JumpCloudError::Timeout {
                endpoint: endpoint.to_owned(),
            };
        }
        // The innermost cause ("connection refused", "connection reset by peer") is what a
        // user can act on; reqwest's own text only repeats the URL.
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            detail = cause.to_string();
            source = cause.source();
        }
        let detail = sanitize(&detail, self.inner.credential.expose_secret());
        let endpoint = endpoint.to_owned();
        if error.is_connect() {
            JumpCloudError::Unreachable { endpoint, detail }
        } else {
            JumpCloudError::Transport { endpoint, detail }
        }
    }
}

/// A spawned task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}
