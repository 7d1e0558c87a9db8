//! Pure mapping of client and collection errors to the operator's outcomes: what a failed key
//! check says about the key, and which `Synced` reason a failed sync gets.

use std::time::Duration;

use crate::collect::CollectError;
use crate::conditions::Reason;
use crate::decide::{KeyCheck, SyncResult};
use crate::jumpcloud::JumpCloudError;

/// A transient failure's wait hint, from `Retry-After`.
pub fn retry_after(error: &JumpCloudError) -> Option<Duration> {
    match error.last_attempt() {
        JumpCloudError::RateLimited { retry_after, .. } => *retry_after,
        _ => None,
    }
}

/// A failure that says nothing about the key (rate limit, outage, timeout): the key state is
/// left as it was.
pub fn inconclusive(error: &JumpCloudError) -> KeyCheck {
    let reason = match error.last_attempt() {
        JumpCloudError::RateLimited { .. } => Reason::RateLimited,
        JumpCloudError::Server { .. }
        | JumpCloudError::Transport { .. }
        | JumpCloudError::Unreachable { .. } => Reason::JumpCloudUnavailable,
        JumpCloudError::Timeout { .. } => Reason::Timeout,
        _ => Reason::SyncFailed,
    };
    KeyCheck::Inconclusive {
        reason,
        message: error.to_string(),
    }
}

/// What an error of an identity or key-check request says about the key. `Rejected` names no
/// other region: probing them is a separate step.
pub fn key_error(error: &JumpCloudError) -> KeyCheck {
    match error {
        JumpCloudError::Unauthorized { .. }
        | JumpCloudError::TokenRefused { .. }
        | JumpCloudError::Forbidden { .. }
        | JumpCloudError::NoOrganization => KeyCheck::Rejected { accepted_by: None },
        // The shell names the client id (it holds the credential).
        JumpCloudError::TokenRejected { cause, .. } => KeyCheck::ClientRefused {
            cause: *cause,
            accepted_by: None,
            client_id: String::new(),
        },
        JumpCloudError::OrgIdRequired { count } => KeyCheck::OrgIdRequired {
            organizations: *count,
        },
        JumpCloudError::OrgNotAccessible { org_id } => KeyCheck::OrgNotAccessible {
            org_id: org_id.clone(),
        },
        other => inconclusive(other),
    }
}

/// The `Synced` outcome of a sync that failed with a client error; `kind` names the evidence
/// kind being collected, when known (the error itself names the endpoint).
pub fn sync_error(error: &JumpCloudError, kind: Option<&str>) -> SyncResult {
    let (reason, transient) = match error.last_attempt() {
        JumpCloudError::RateLimited { .. } => (Reason::RateLimited, true),
        JumpCloudError::Server { .. }
        | JumpCloudError::Transport { .. }
        | JumpCloudError::Unreachable { .. } => (Reason::JumpCloudUnavailable, true),
        JumpCloudError::Timeout { .. } => (Reason::Timeout, true),
        JumpCloudError::TruncatedCollection { .. }
        | JumpCloudError::TotalChanged { .. }
        | JumpCloudError::DuplicateRecord { .. } => (Reason::TruncatedCollection, true),
        JumpCloudError::Forbidden { .. } => (Reason::ForbiddenEndpoint, false),
        other => (Reason::SyncFailed, !other.is_terminal()),
    };
    let message = match kind {
        Some(kind) => format!("collecting {kind}: {error}"),
        None => error.to_string(),
    };
    SyncResult::Failed {
        reason,
        message,
        transient,
    }
}

/// The whole sync did not finish within `spec.timeout`.
pub fn sync_timed_out(timeout: Duration) -> SyncResult {
    SyncResult::Failed {
        reason: Reason::Timeout,
        message: format!(
            "the sync did not finish within spec.timeout ({}s)",
            timeout.as_secs()
        ),
        transient: true,
    }
}

/// Writing evidence failed (the store, not JumpCloud).
pub fn write_failure(error: &CollectError) -> SyncResult {
    SyncResult::Failed {
        reason: Reason::EvidenceWriteFailed,
        message: format!("{error}; check the operator's evidence store"),
        transient: true,
    }
}

/// What a failed collection means: a problem with the key, or a failed sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectFailure {
    Key(KeyCheck),
    Sync {
        result: SyncResult,
        retry_after: Option<Duration>,
    },
}

/// Classifies a failed collection.
pub fn collect_error(error: &CollectError) -> CollectFailure {
    let sync = |result: SyncResult, source: Option<&JumpCloudError>| CollectFailure::Sync {
        result,
        retry_after: source.and_then(retry_after),
    };
    match error {
        CollectError::Identity(source) => match key_error(source) {
            KeyCheck::Inconclusive { .. } => sync(sync_error(source, None), Some(source)),
            check => CollectFailure::Key(check),
        },
        CollectError::Api {
            source:
                source @ (JumpCloudError::Unauthorized { .. }
                | JumpCloudError::TokenRefused { .. }
                | JumpCloudError::TokenRejected { .. }),
            ..
        } => CollectFailure::Key(key_error(source)),
        CollectError::Api { kind, source } => sync(sync_error(source, Some(kind)), Some(source)),
        // The store holds another organization's history for this connection: retrying cannot
        // help, a person must point the connection at the right key or rename it.
        CollectError::Target(message) => sync(
            SyncResult::Failed {
                reason: Reason::SyncFailed,
                message: message.clone(),
                transient: false,
            },
            None,
        ),
        CollectError::Store(_) => sync(write_failure(error), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(result: &SyncResult) -> (Reason, &str, bool) {
        match result {
            SyncResult::Failed {
                reason,
                message,
                transient,
            } => (*reason, message.as_str(), *transient),
            SyncResult::Succeeded { .. } => panic!("not a failure"),
        }
    }

    fn endpoint() -> String {
        "/api/systems".to_owned()
    }

    #[test]
    fn a_refused_service_account_is_a_key_problem_with_its_cause() {
        use crate::jumpcloud::TokenRejection;
        let refused = JumpCloudError::TokenRejected {
            endpoint: "/oauth2/token".into(),
            cause: TokenRejection::SecretExpired,
            message: "expired".into(),
        };
        assert!(matches!(
            key_error(&refused),
            KeyCheck::ClientRefused {
                cause: TokenRejection::SecretExpired,
                ..
            }
        ));
        let mid_sync = CollectError::Api {
            kind: "users".into(),
            source: refused,
        };
        assert!(matches!(
            collect_error(&mid_sync),
            CollectFailure::Key(KeyCheck::ClientRefused { .. })
        ));
        let token = JumpCloudError::TokenRefused {
            endpoint: "/api/systemusers".into(),
            message: "no".into(),
        };
        assert_eq!(key_error(&token), KeyCheck::Rejected { accepted_by: None });
    }

    #[test]
    fn every_sync_failure_gets_its_reason_and_retry_policy() {
        let cases: Vec<(JumpCloudError, Reason, bool)> = vec![
            (
                JumpCloudError::RateLimited {
                    endpoint: endpoint(),
                    retry_after: Some(Duration::from_secs(7)),
                },
                Reason::RateLimited,
                true,
            ),
            (
                JumpCloudError::Server {
                    endpoint: endpoint(),
                    status: 503,
                    message: "down".into(),
                },
                Reason::JumpCloudUnavailable,
                true,
            ),
            (
                JumpCloudError::Transport {
                    endpoint: endpoint(),
                    detail: "reset".into(),
                },
                Reason::JumpCloudUnavailable,
                true,
            ),
            (
                JumpCloudError::Unreachable {
                    endpoint: endpoint(),
                    detail: "dns error".into(),
                },
                Reason::JumpCloudUnavailable,
                true,
            ),
            (
                JumpCloudError::Timeout {
                    endpoint: endpoint(),
                },
                Reason::Timeout,
                true,
            ),
            (
                JumpCloudError::TruncatedCollection {
                    endpoint: endpoint(),
                    expected: 55,
                    received: 50,
                },
                Reason::TruncatedCollection,
                true,
            ),
            (
                JumpCloudError::TotalChanged {
                    endpoint: endpoint(),
                    first: 55,
                    now: 56,
                },
                Reason::TruncatedCollection,
                true,
            ),
            (
                JumpCloudError::DuplicateRecord {
                    endpoint: endpoint(),
                    id: "5f0c".into(),
                    skip: 100,
                },
                Reason::TruncatedCollection,
                true,
            ),
            (
                JumpCloudError::Forbidden {
                    endpoint: endpoint(),
                    message: "no".into(),
                },
                Reason::ForbiddenEndpoint,
                false,
            ),
            (
                JumpCloudError::NotLicensed {
                    endpoint: endpoint(),
                    message: "off".into(),
                },
                Reason::SyncFailed,
                false,
            ),
            (
                JumpCloudError::MalformedResponse {
                    endpoint: endpoint(),
                    offset: 3,
                    detail: "eof".into(),
                },
                Reason::SyncFailed,
                true,
            ),
        ];
        for (error, expected, retried) in cases {
            let result = sync_error(&error, Some("devices"));
            let (reason, message, transient) = failed(&result);
            assert_eq!((reason, transient), (expected, retried), "{error:?}");
            // The message names the evidence kind and the endpoint.
            assert!(message.starts_with("collecting devices: "), "{message}");
            assert!(message.contains("/api/systems"), "{message}");
        }
        let timed_out = sync_timed_out(Duration::from_secs(900));
        let (reason, message, transient) = failed(&timed_out);
        assert_eq!((reason, transient), (Reason::Timeout, true));
        assert!(message.contains("spec.timeout (900s)"));
    }

    #[test]
    fn a_dns_or_connect_failure_is_jumpcloud_unavailable_not_a_key_problem() {
        let error = JumpCloudError::Unreachable {
            endpoint: "/api/organizations".into(),
            detail: "dns error".into(),
        };
        assert!(matches!(
            key_error(&error),
            KeyCheck::Inconclusive {
                reason: Reason::JumpCloudUnavailable,
                ..
            }
        ));
        match collect_error(&CollectError::Identity(error)) {
            CollectFailure::Sync { result, .. } => {
                assert_eq!(failed(&result).0, Reason::JumpCloudUnavailable)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn key_errors_name_the_key_problem() {
        let unauthorized = JumpCloudError::Unauthorized {
            endpoint: "/api/organizations".into(),
            message: "no".into(),
        };
        assert_eq!(
            key_error(&unauthorized),
            KeyCheck::Rejected { accepted_by: None }
        );
        assert_eq!(
            key_error(&JumpCloudError::OrgIdRequired { count: 3 }),
            KeyCheck::OrgIdRequired { organizations: 3 }
        );
        assert_eq!(
            key_error(&JumpCloudError::OrgNotAccessible { org_id: "x".into() }),
            KeyCheck::OrgNotAccessible { org_id: "x".into() }
        );
        // A 401 in the middle of a collection is the key, not the endpoint.
        assert_eq!(
            collect_error(&CollectError::Api {
                kind: "devices".into(),
                source: unauthorized,
            }),
            CollectFailure::Key(KeyCheck::Rejected { accepted_by: None })
        );
        // Retry-After is carried to the backoff.
        match collect_error(&CollectError::Api {
            kind: "devices".into(),
            source: JumpCloudError::RateLimited {
                endpoint: endpoint(),
                retry_after: Some(Duration::from_secs(7)),
            },
        }) {
            CollectFailure::Sync { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            other => panic!("{other:?}"),
        }
        match collect_error(&CollectError::Target("another org".into())) {
            CollectFailure::Sync { result, .. } => {
                assert_eq!(failed(&result), (Reason::SyncFailed, "another org", false))
            }
            other => panic!("{other:?}"),
        }
    }
}
