//! Typed client errors, and the pure parts of turning an HTTP response into one.

use std::time::Duration;

use serde::Deserialize;

/// Longest server message kept in an error (bodies can be whole HTML pages).
const MAX_MESSAGE_CHARS: usize = 200;

/// Every way a JumpCloud request or collection can fail. The text names the endpoint (a path,
/// never a header or the key) and, where one exists, the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JumpCloudError {
    #[error(
        "{endpoint}: the API key was rejected (HTTP 401: {message}); it is revoked, invalid, \
         expired, or from another region: check --region and the key"
    )]
    Unauthorized { endpoint: String, message: String },
    #[error(
        "{endpoint}: forbidden (HTTP 403: {message}); the key's administrator role may not read \
         this (use a Read Only admin or higher), or the org id was sent where it is not allowed"
    )]
    Forbidden { endpoint: String, message: String },
    #[error(
        "{endpoint}: not licensed (HTTP 402: {message}); the feature is not enabled for the org"
    )]
    NotLicensed { endpoint: String, message: String },
    #[error("{endpoint}: rate limited (HTTP 429){}", retry_after_text(.retry_after))]
    RateLimited {
        endpoint: String,
        retry_after: Option<Duration>,
    },
    #[error("{endpoint}: server error (HTTP {status}: {message})")]
    Server {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: request rejected (HTTP {status}: {message})")]
    BadRequest {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: not found (HTTP 404: {message})")]
    NotFound { endpoint: String, message: String },
    #[error("{endpoint}: no answer within the request timeout")]
    Timeout { endpoint: String },
    #[error("{endpoint}: connection failed ({detail}); check the network and the base URL")]
    Transport { endpoint: String, detail: String },
    #[error(
        "{endpoint}: cannot connect ({detail}); check the network, proxy, --region and --base-url"
    )]
    Unreachable { endpoint: String, detail: String },
    #[error("{endpoint}: malformed response at byte {offset}: {detail}")]
    MalformedResponse {
        endpoint: String,
        offset: usize,
        detail: String,
    },
    #[error(
        "{endpoint}: truncated collection: the API reported {expected} records but {received} \
         arrived; the snapshot is not complete, so none was written"
    )]
    TruncatedCollection {
        endpoint: String,
        expected: u64,
        received: u64,
    },
    #[error(
        "{endpoint}: the reported total changed from {first} to {now} while paging; the data \
         moved underneath the collection, so it is not a consistent snapshot (retry later)"
    )]
    TotalChanged {
        endpoint: String,
        first: u64,
        now: u64,
    },
    #[error(
        "{endpoint}: the record {id:?} arrived twice while paging (page at offset {skip}); the \
         order moved underneath the collection, so a record is missing although the count \
         matches: the snapshot is not complete, so none was written (retry later)"
    )]
    DuplicateRecord {
        endpoint: String,
        id: String,
        skip: u64,
    },
    #[error(
        "the key reaches {count} organizations (multi-tenant administrator); choose one with \
         --org-id"
    )]
    OrgIdRequired { count: usize },
    #[error(
        "{endpoint}: the response is larger than the {limit_bytes}-byte limit for {what}; a \
         listing page or record this large is not JumpCloud's (raise {option} if it truly is)"
    )]
    ResponseTooLarge {
        endpoint: String,
        /// `a page` or `one record`.
        what: &'static str,
        limit_bytes: u64,
        /// The setting that raises the limit.
        option: &'static str,
    },
    #[error(
        "{endpoint}: the page at offset {skip} holds more than the {limit} records asked for; \
         the server ignores the page size, so the listing cannot be trusted (rejected while \
         parsing, nothing was kept)"
    )]
    TooManyRecords {
        endpoint: String,
        limit: u64,
        skip: u64,
    },
    #[error(
        "{endpoint}: the response carries the credential (the API key, client secret or access \
         token, raw or encoded); a server that echoes \
         the key is broken or hostile, so nothing it sent was kept: check --region and \
         --base-url"
    )]
    KeyEchoed { endpoint: String },
    #[error("{last}; gave up after {attempts} attempt{}: {limit}", plural(*.attempts))]
    RetriesExhausted {
        attempts: u32,
        limit: RetryLimit,
        /// The last attempt's error.
        last: Box<JumpCloudError>,
    },
    #[error("the key cannot reach organization {org_id}; check --org-id")]
    OrgNotAccessible { org_id: String },
    #[error("the key reaches no organization")]
    NoOrganization,
    #[error("invalid client configuration: {0}")]
    InvalidConfig(String),
    #[error(
        "{endpoint}: the service account's client credentials were refused ({}: {message}); {}",
        cause.code(),
        cause.advice()
    )]
    TokenRejected {
        endpoint: String,
        cause: TokenRejection,
        message: String,
    },
    #[error(
        "{endpoint}: the token request was refused (HTTP {status}, {error}: {message}); the \
         token endpoint's protocol differs from what this client sends: check --token-url, or \
         report it"
    )]
    TokenRequestRefused {
        endpoint: String,
        status: u16,
        error: String,
        message: String,
    },
    #[error(
        "{endpoint}: the service account's access token was refused although it was just \
         issued (HTTP 401: {message}); the account was disabled or deleted, or cannot reach this \
         organization: check it in the JumpCloud console (Settings > Service Accounts)"
    )]
    TokenRefused { endpoint: String, message: String },
}

/// Why the token endpoint refused the client (OAuth `invalid_client`), as far as its
/// `error_description` tells. JumpCloud does not document the descriptions: anything not
/// recognised is [`TokenRejection::InvalidClient`], whose advice covers every cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    /// Unknown client id, wrong or deleted secret, or an unrecognised description.
    InvalidClient,
    SecretExpired,
    /// The service account is disabled (or deleted, where the server says so).
    AccountDisabled,
}

impl TokenRejection {
    /// From an `invalid_client` answer's description.
    pub(crate) fn from_description(description: &str) -> Self {
        let text = description.to_ascii_lowercase();
        if text.contains("expired") {
            TokenRejection::SecretExpired
        } else if [
            "disabled",
            "deactivated",
            "suspended",
            "inactive",
            "deleted",
        ]
        .iter()
        .any(|word| text.contains(word))
        {
            TokenRejection::AccountDisabled
        } else {
            TokenRejection::InvalidClient
        }
    }

    fn code(self) -> &'static str {
        match self {
            TokenRejection::InvalidClient => "invalid_client",
            TokenRejection::SecretExpired => "invalid_client, secret expired",
            TokenRejection::AccountDisabled => "invalid_client, account disabled",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            TokenRejection::InvalidClient => {
                "the client id or secret is wrong, the secret was deleted, or the account belongs \
                 to another region: put a current client secret of the service account in the \
                 Secret, and check the region"
            }
            TokenRejection::SecretExpired => {
                "create a new client secret for the service account in the JumpCloud console \
                 (Settings > Service Accounts) and put it in the Secret"
            }
            TokenRejection::AccountDisabled => {
                "enable the service account in the JumpCloud console (Settings > Service \
                 Accounts), or create a new one and put its client id and secret in the Secret"
            }
        }
    }
}

/// RFC 6749 section 5.2 error body of the token endpoint.
#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The error of a token request answered with a non-success status. `secret` is the client
/// secret, removed from anything kept.
pub(crate) fn classify_token_status(
    endpoint: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    secret: &str,
) -> JumpCloudError {
    let Ok(oauth) = serde_json::from_slice::<OAuthErrorBody>(body) else {
        return match status {
            401 => JumpCloudError::TokenRejected {
                endpoint: endpoint.to_owned(),
                cause: TokenRejection::InvalidClient,
                message: error_message(body, secret),
            },
            _ => classify_status(endpoint, status, retry_after, body, secret),
        };
    };
    let message = sanitize(
        oauth
            .error_description
            .as_deref()
            .unwrap_or("no description"),
        secret,
    );
    match oauth.error.as_str() {
        "invalid_client" => JumpCloudError::TokenRejected {
            endpoint: endpoint.to_owned(),
            cause: TokenRejection::from_description(&message),
            message,
        },
        _ if status == 429 || status >= 500 => {
            classify_status(endpoint, status, retry_after, body, secret)
        }
        other => JumpCloudError::TokenRequestRefused {
            endpoint: endpoint.to_owned(),
            status,
            error: sanitize(other, secret),
            message,
        },
    }
}

/// Which bound ended the retries of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryLimit {
    /// The retry policy's attempt cap (`max_attempts`, or the cap of its error class).
    AttemptCap { max: u32 },
    /// The next wait would have passed the request's total deadline.
    Deadline {
        deadline: Duration,
        used: Duration,
        next_wait: Duration,
    },
}

impl std::fmt::Display for RetryLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryLimit::AttemptCap { max } => {
                write!(f, "the attempt cap of {max} was reached")
            }
            RetryLimit::Deadline {
                deadline,
                used,
                next_wait,
            } => write!(
                f,
                "the next wait ({:.1}s) would pass the request deadline ({:.1}s, {:.1}s used)",
                next_wait.as_secs_f64(),
                deadline.as_secs_f64(),
                used.as_secs_f64()
            ),
        }
    }
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn retry_after_text(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(" (Retry-After {}s)", wait.as_secs()),
        None => String::new(),
    }
}

impl JumpCloudError {
    /// The error of the last attempt: a request that gave up after retries is classified by
    /// what its last attempt got.
    pub fn last_attempt(&self) -> &JumpCloudError {
        match self {
            JumpCloudError::RetriesExhausted { last, .. } => last.last_attempt(),
            other => other,
        }
    }

    /// A stable PascalCase name, usable as a Kubernetes condition reason or a metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            JumpCloudError::RetriesExhausted { last, .. } => last.reason(),
            JumpCloudError::ResponseTooLarge { .. } => "ResponseTooLarge",
            JumpCloudError::TooManyRecords { .. } => "TooManyRecords",
            JumpCloudError::KeyEchoed { .. } => "KeyEchoed",
            JumpCloudError::Unauthorized { .. } => "Unauthorized",
            JumpCloudError::Forbidden { .. } => "Forbidden",
            JumpCloudError::NotLicensed { .. } => "NotLicensed",
            JumpCloudError::RateLimited { .. } => "RateLimited",
            JumpCloudError::Server { .. } => "ServerError",
            JumpCloudError::BadRequest { .. } => "BadRequest",
            JumpCloudError::NotFound { .. } => "NotFound",
            JumpCloudError::Timeout { .. } => "Timeout",
            JumpCloudError::Transport { .. } => "TransportError",
            JumpCloudError::Unreachable { .. } => "Unreachable",
            JumpCloudError::MalformedResponse { .. } => "MalformedResponse",
            JumpCloudError::TruncatedCollection { .. } => "TruncatedCollection",
            JumpCloudError::TotalChanged { .. } => "TotalChanged",
            JumpCloudError::DuplicateRecord { .. } => "DuplicateRecord",
            JumpCloudError::OrgIdRequired { .. } => "OrgIdRequired",
            JumpCloudError::OrgNotAccessible { .. } => "OrgNotAccessible",
            JumpCloudError::NoOrganization => "NoOrganization",
            JumpCloudError::InvalidConfig(_) => "InvalidConfig",
            JumpCloudError::TokenRejected { cause, .. } => match cause {
                TokenRejection::InvalidClient => "InvalidClient",
                TokenRejection::SecretExpired => "ClientSecretExpired",
                TokenRejection::AccountDisabled => "ServiceAccountDisabled",
            },
            JumpCloudError::TokenRequestRefused { .. } => "TokenRequestRefused",
            JumpCloudError::TokenRefused { .. } => "Unauthorized",
        }
    }

    /// The HTTP status behind the error, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            JumpCloudError::RetriesExhausted { last, .. } => last.http_status(),
            JumpCloudError::Unauthorized { .. }
            | JumpCloudError::TokenRejected { .. }
            | JumpCloudError::TokenRefused { .. } => Some(401),
            JumpCloudError::TokenRequestRefused { status, .. } => Some(*status),
            JumpCloudError::Forbidden { .. } => Some(403),
            JumpCloudError::NotLicensed { .. } => Some(402),
            JumpCloudError::RateLimited { .. } => Some(429),
            JumpCloudError::NotFound { .. } => Some(404),
            JumpCloudError::Server { status, .. } | JumpCloudError::BadRequest { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// True when trying again later cannot help until a human changes something (the key, its
    /// role, the licence, the configuration). Callers must not retry these in a loop: a revoked
    /// key hammering the API is how IPs get blocked.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.last_attempt(),
            JumpCloudError::Unauthorized { .. }
                | JumpCloudError::TokenRejected { .. }
                | JumpCloudError::TokenRequestRefused { .. }
                | JumpCloudError::TokenRefused { .. }
                | JumpCloudError::Forbidden { .. }
                | JumpCloudError::NotLicensed { .. }
                | JumpCloudError::BadRequest { .. }
                | JumpCloudError::NotFound { .. }
                | JumpCloudError::OrgIdRequired { .. }
                | JumpCloudError::OrgNotAccessible { .. }
                | JumpCloudError::NoOrganization
                | JumpCloudError::InvalidConfig(_)
        )
    }

    /// Whether the client's own backoff loop retries this error within one request.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            JumpCloudError::RateLimited { .. }
            | JumpCloudError::Timeout { .. }
            | JumpCloudError::Transport { .. }
            | JumpCloudError::Unreachable { .. } => true,
            // 500 too: one transient 500 is common; a lasting one meets the attempt cap of its
            // class. 501 (not implemented) and 505+ never change on retry.
            JumpCloudError::Server { status, .. } => matches!(status, 500 | 502..=504),
            _ => false,
        }
    }
}

/// Real JumpCloud error bodies are `{error, message}`; the spec says `{code, message, status}`;
/// Directory Insights sends `{message}`. Read whatever is there.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// The human-readable message of an error body, never longer than [`MAX_MESSAGE_CHARS`], with
/// every occurrence of `secret` (the API key) removed in case a server echoes it.
pub(crate) fn error_message(body: &[u8], secret: &str) -> String {
    let from_json = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|parsed| {
            let text = |value: Option<serde_json::Value>| match value {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s),
                _ => None,
            };
            text(parsed.message).or_else(|| text(parsed.error))
        });
    let message = match from_json {
        Some(message) => message,
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "no message".to_owned()
            } else {
                text.to_owned()
            }
        }
    };
    sanitize(&message, secret)
}

/// Removes the secret (in every encoding [`key_encodings`](super::encodings::key_encodings)
/// lists) and control characters, and bounds the length.
pub(crate) fn sanitize(text: &str, secret: &str) -> String {
    let text = super::encodings::redact(text, secret);
    let mut clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        clean.push('…');
    }
    clean
}

/// What went wrong in a JSON parse, without the offending value: serde_json's data errors quote
/// it (`invalid type: string "jca_…", expected u64`), and a server may put anything there,
/// the key included. Syntax and end-of-input messages are fixed texts; of a data error only
/// its class and the expectation (which comes from this crate's own types) are kept.
pub(crate) fn parse_error_detail(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let full = error.to_string();
    // serde_json appends " at line L column C"; the offset is reported separately.
    let message = match full.rfind(" at line ") {
        Some(at) => &full[..at],
        None => full.as_str(),
    };
    match error.classify() {
        Category::Syntax | Category::Eof => format!("invalid JSON: {message}"),
        Category::Io => "the body could not be read".to_owned(),
        Category::Data => {
            let expected = message
                .rfind(", expected ")
                .map(|at| &message[at..])
                .filter(|tail| !tail.contains(['"', '\'']))
                .unwrap_or("");
            let class = [
                "invalid type",
                "invalid value",
                "invalid length",
                "unknown field",
                "unknown variant",
            ]
            .into_iter()
            .find(|class| message.starts_with(class));
            let own_field = ["missing field `", "duplicate field `"]
                .iter()
                .any(|prefix| message.starts_with(prefix));
            match class {
                // Field names in these come from this crate's types, never from the server.
                None if own_field => message.to_owned(),
                Some(class) => format!("{class} (value not shown){expected}"),
                None => format!("unexpected data (value not shown){expected}"),
            }
        }
    }
}

/// Converts serde_json's 1-based line and column into a byte offset into `body`.
pub(crate) fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map(|(index, _)| index + 1)
            .unwrap_or(body.len())
    };
    (line_start + column.saturating_sub(1)).min(body.len())
}

/// Builds the error for a non-success status.
pub(crate) fn classify_status(
    endpoint: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    secret: &str,
) -> JumpCloudError {
    let endpoint = endpoint.to_owned();
    let message = error_message(body, secret);
    match status {
        401 => JumpCloudError::Unauthorized { endpoint, message },
        402 => JumpCloudError::NotLicensed { endpoint, message },
        403 => JumpCloudError::Forbidden { endpoint, message },
        404 => JumpCloudError::NotFound { endpoint, message },
        429 => JumpCloudError::RateLimited {
            endpoint,
            retry_after,
        },
        500..=599 => JumpCloudError::Server {
            endpoint,
            status,
            message,
        },
        _ => JumpCloudError::BadRequest {
            endpoint,
            status,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_refusals_are_told_apart_by_their_description_and_keep_no_secret() {
        let refusal = |description: &str| {
            let body =
                serde_json::json!({"error": "invalid_client", "error_description": description});
            classify_token_status(
                "/oauth2/token",
                401,
                None,
                body.to_string().as_bytes(),
                "S3CRET",
            )
        };
        let cause = |error: JumpCloudError| match error {
            JumpCloudError::TokenRejected { cause, .. } => cause,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            cause(refusal(
                "Client authentication failed: the client secret has expired"
            )),
            TokenRejection::SecretExpired
        );
        assert_eq!(
            cause(refusal("the service account is disabled")),
            TokenRejection::AccountDisabled
        );
        assert_eq!(
            cause(refusal(
                "Client authentication failed (e.g., unknown client)"
            )),
            TokenRejection::InvalidClient
        );
        let echoed = refusal("secret S3CRET does not match");
        assert!(!echoed.to_string().contains("S3CRET"), "{echoed}");
        assert!(echoed.is_terminal() && !echoed.is_retryable());
        assert_eq!(echoed.reason(), "InvalidClient");
        // Not OAuth-shaped: a 401 still refuses the client; a 503 stays transient.
        assert_eq!(
            cause(classify_token_status(
                "/oauth2/token",
                401,
                None,
                b"<html>no</html>",
                "S"
            )),
            TokenRejection::InvalidClient
        );
        assert!(classify_token_status("/oauth2/token", 503, None, b"down", "S").is_retryable());
        let scope = serde_json::json!({"error": "invalid_scope", "error_description": "bad scope"});
        let error = classify_token_status(
            "/oauth2/token",
            400,
            None,
            scope.to_string().as_bytes(),
            "S",
        );
        assert!(
            matches!(error, JumpCloudError::TokenRequestRefused { .. }),
            "{error:?}"
        );
        assert!(error.is_terminal());
    }

    #[test]
    fn reads_message_then_error_then_raw_text() {
        let real = br#"{"error":"Unauthorized","message":"Unauthorized: api key user not found"}"#;
        assert_eq!(
            error_message(real, "jca_secret"),
            "Unauthorized: api key user not found"
        );
        assert_eq!(
            error_message(br#"{"error":"Forbidden: x"}"#, "jca_secret"),
            "Forbidden: x"
        );
        assert_eq!(
            error_message(br#"{"code":500,"message":""}"#, "jca_secret"),
            "{\"code\":500,\"message\":\"\"}"
        );
        assert_eq!(
            error_message(b"<html>bad gateway</html>\n", "jca_secret"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_message(b"", "k"), "no message");
    }

    #[test]
    fn error_messages_never_carry_the_key_or_unbounded_text() {
        let body = br#"{"message":"bad key jca_SECRET123 sent"}"#;
        let message = error_message(body, "jca_SECRET123");
        assert!(!message.contains("jca_SECRET123"));
        assert!(message.contains("<redacted>"));
        let long = "x".repeat(5000);
        assert!(error_message(long.as_bytes(), "k").chars().count() <= MAX_MESSAGE_CHARS + 1);
        // Every encoding a server might echo: base64, base64url, URL-encoded, hex.
        let key = "jca_SECRET123";
        for form in super::super::encodings::key_encodings(key) {
            let body = format!(r#"{{"message":"bad key {form} sent"}}"#);
            let error = classify_status("/api/x", 400, None, body.as_bytes(), key);
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!text.contains(&form), "{text}");
                assert!(text.contains("bad key <redacted> sent"), "{text}");
            }
        }
    }

    #[test]
    fn classifies_each_status() {
        let reason = |status| classify_status("/api/x", status, None, b"{}", "k").reason();
        assert_eq!(reason(401), "Unauthorized");
        assert_eq!(reason(402), "NotLicensed");
        assert_eq!(reason(403), "Forbidden");
        assert_eq!(reason(404), "NotFound");
        assert_eq!(reason(400), "BadRequest");
        assert_eq!(reason(429), "RateLimited");
        assert_eq!(reason(500), "ServerError");
        assert_eq!(reason(503), "ServerError");
    }

    #[test]
    fn retry_and_terminal_classes() {
        let error = |status| classify_status("/api/x", status, None, b"{}", "k");
        for status in [429, 500, 502, 503, 504] {
            assert!(error(status).is_retryable(), "{status}");
            assert!(!error(status).is_terminal(), "{status}");
        }
        for status in [400, 401, 402, 403, 404] {
            assert!(!error(status).is_retryable(), "{status}");
            assert!(error(status).is_terminal(), "{status}");
        }
        assert!(!error(501).is_retryable());
        assert!(
            JumpCloudError::Timeout {
                endpoint: "e".into()
            }
            .is_retryable()
        );
    }

    #[test]
    fn byte_offsets_follow_lines_and_columns() {
        let body = b"[1,\n2,\nx]";
        let error = serde_json::from_slice::<serde_json::Value>(body).unwrap_err();
        let offset = byte_offset(body, error.line(), error.column());
        assert_eq!(body[offset], b'x');
        assert_eq!(byte_offset(b"abc", 1, 1), 0);
        assert_eq!(byte_offset(b"abc", 9, 9), 3);
    }

    #[test]
    fn unauthorized_text_names_the_fix() {
        let text = classify_status("/api/organizations", 401, None, b"{}", "k").to_string();
        assert!(text.contains("check --region"), "{text}");
        assert!(text.contains("/api/organizations"), "{text}");
    }
}
