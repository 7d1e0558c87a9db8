//! Access tokens of a service account: fetched on demand, kept in memory only, renewed before
//! they expire, one renewal in flight at a time. A token is never logged or returned: the client
//! only puts it into the `Authorization` header of its own requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::jumpcloud::JumpCloudError;
use crate::jumpcloud::encodings::KeyMatcher;
use crate::jumpcloud::error::parse_error_detail;

/// Renew when less than this share of the token's lifetime is left, so a request started
/// near the end does not arrive with an expired token.
const RENEW_AT_REMAINING_SHARE: f64 = 0.2;
/// ... but never earlier than this before expiry (an hour's token is renewed at 59 minutes).
const RENEW_MARGIN_MAX: Duration = Duration::from_secs(60);
/// How long a refusal of the client (a terminal token error) answers every request waiting for
/// a token: when a secret is revoked mid-collection, the requests in flight ask once, not each.
const REFUSAL_TTL: Duration = Duration::from_secs(10);

/// One issued token.
pub(super) struct Token {
    value: SecretString,
    expires_at: Instant,
    renew_at: Instant,
    /// Counts the tokens of this cache: a request that got 401 asks to replace exactly the
    /// token it sent, so concurrent requests replace it once.
    pub(super) generation: u64,
    /// When the token expires on the wall clock (what status shows).
    pub(super) expires_at_wall: jiff::Timestamp,
    /// When its request started: the lifetime counts from there, to be safe.
    requested_at: Instant,
    /// Finds the token (raw or encoded) in an answer: evidence and errors must not hold it.
    matcher: KeyMatcher,
}

impl Token {
    pub(super) fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    /// Whether `bytes` carry this token in any encoding.
    pub(super) fn carried_by(&self, bytes: &[u8]) -> bool {
        self.matcher.carries(bytes)
    }

    /// Whether the token was issued (its request started) at or after `at`.
    pub(super) fn issued_after(&self, at: Instant) -> bool {
        self.requested_at >= at
    }

    fn fresh(&self, now: Instant) -> bool {
        now < self.renew_at && now < self.expires_at
    }
}

/// The token of one credential at one token endpoint, shared by every client built with the
/// same [`TokenCaches`].
#[derive(Clone, Default)]
pub(super) struct TokenCache(Arc<tokio::sync::Mutex<CacheState>>);

#[derive(Default)]
struct CacheState {
    token: Option<Arc<Token>>,
    generation: u64,
    /// A token the server refused although it was current: the next `current` fetches anew.
    refused: Option<u64>,
    /// The token endpoint's last terminal refusal, and when.
    failure: Option<(Instant, JumpCloudError)>,
}

/// Tokens by credential (fingerprint) and token URL. Clients built from the same
/// [`super::ClientConfig::tokens`] share them, so the operator's reconciles of one connection,
/// and connections sharing a service account, use one token until it is due for renewal.
#[derive(Clone, Default)]
pub struct TokenCaches(Arc<Mutex<HashMap<String, TokenCache>>>);

impl std::fmt::Debug for TokenCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCaches")
    }
}

impl TokenCaches {
    pub(super) fn cache(&self, fingerprint: &str, token_url: &str) -> TokenCache {
        // A poisoned map only means a panic elsewhere; the entries stay usable.
        let mut caches = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Entries of rotated credentials would otherwise stay for the process's life: one that
        // no client holds and whose token expired is dropped.
        let now = Instant::now();
        caches.retain(|_, cache| Arc::strong_count(&cache.0) > 1 || cache.live(now));
        caches
            .entry(format!("{fingerprint} {token_url}"))
            .or_default()
            .clone()
    }
}

/// The token endpoint's success answer (RFC 6749 section 5.1).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    expires_in: Option<serde_json::Number>,
}

/// How long before expiry a token of this lifetime is renewed.
pub(super) fn renew_margin(lifetime: Duration) -> Duration {
    lifetime
        .mul_f64(RENEW_AT_REMAINING_SHARE)
        .min(RENEW_MARGIN_MAX)
}

/// Parses the token endpoint's answer. The lifetime is read, never assumed: an answer without
/// `expires_in` is refused, since a token of unknown lifetime cannot be renewed in time.
pub(super) fn parse_answer(
    endpoint: &str,
    body: &[u8],
    generation: u64,
    now: Instant,
) -> Result<Token, JumpCloudError> {
    let malformed = |detail: String| JumpCloudError::MalformedResponse {
        endpoint: endpoint.to_owned(),
        offset: 0,
        detail,
    };
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|error| {
        malformed(format!(
            "not a token answer: {}",
            parse_error_detail(&error)
        ))
    })?;
    if !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(malformed(format!(
            "token_type is {:?}, not bearer",
            answer.token_type.chars().take(40).collect::<String>()
        )));
    }
    let token = answer.access_token.as_str();
    if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(malformed(
            "access_token is empty or holds characters a header cannot carry".to_owned(),
        ));
    }
    let seconds = answer
        .expires_in
        .as_ref()
        .and_then(serde_json::Number::as_f64)
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| {
            malformed(
                "expires_in is missing or not a positive number, so the token cannot be renewed in time"
                    .to_owned(),
            )
        })?;
    let lifetime = Duration::from_secs_f64(seconds.min(366.0 * 24.0 * 3600.0));
    let expires_at_wall = jiff::SignedDuration::try_from(lifetime)
        .ok()
        .and_then(|d| jiff::Timestamp::now().checked_add(d).ok())
        .unwrap_or(jiff::Timestamp::MAX);
    let matcher = KeyMatcher::new(&answer.access_token);
    Ok(Token {
        matcher,
        value: SecretString::from(answer.access_token),
        expires_at: now + lifetime,
        renew_at: now + lifetime - renew_margin(lifetime),
        generation,
        expires_at_wall,
        requested_at: now,
    })
}

impl TokenCache {
    /// The current token, fetched with `fetch` when there is none, it is due for renewal, or
    /// the server refused it. The lock is held while fetching: one renewal at a time, and
    /// every request waiting for it takes its result.
    pub(super) async fn current<F, Fut>(&self, fetch: F) -> Result<Arc<Token>, JumpCloudError>
    where
        F: FnOnce(u64) -> Fut,
        Fut: std::future::Future<Output = Result<Token, JumpCloudError>>,
    {
        let mut state = self.0.lock().await;
        if let Some(token) = &state.token
            && state.refused != Some(token.generation)
            && token.fresh(Instant::now())
        {
            return Ok(token.clone());
        }
        if let Some((at, error)) = &state.failure
            && at.elapsed() < REFUSAL_TTL
        {
            return Err(error.clone());
        }
        let generation = state.generation + 1;
        let token = match fetch(generation).await {
            Ok(token) => Arc::new(token),
            Err(error) => {
                if error.is_terminal() {
                    state.failure = Some((Instant::now(), error.clone()));
                }
                return Err(error);
            }
        };
        state.failure = None;
        state.generation = generation;
        state.token = Some(token.clone());
        state.refused = None;
        Ok(token)
    }

    /// Whether the cache holds a token still valid at `now` (or is busy fetching one).
    fn live(&self, now: Instant) -> bool {
        match self.0.try_lock() {
            Ok(state) => state.token.as_ref().is_some_and(|t| now < t.expires_at),
            Err(_) => true,
        }
    }

    /// Marks the token of `generation` refused, unless a newer one replaced it already.
    pub(super) async fn refused(&self, generation: u64) {
        let mut state = self.0.lock().await;
        if state.generation == generation {
            state.refused = Some(generation);
        }
    }

    /// When the current token expires, if there is one.
    pub(super) async fn expires_at(&self) -> Option<jiff::Timestamp> {
        let state = self.0.lock().await;
        state.token.as_ref().map(|t| t.expires_at_wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_token_is_renewed_a_minute_early_and_a_short_one_at_a_fifth() {
        assert_eq!(
            renew_margin(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            renew_margin(Duration::from_secs(10)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn the_answer_must_say_bearer_and_how_long() {
        let now = Instant::now();
        let ok =
            br#"{"access_token":"tok_1","token_type":"Bearer","expires_in":3600,"scope":"api"}"#;
        let token = parse_answer("/oauth2/token", ok, 1, now).unwrap();
        assert_eq!(token.expose(), "tok_1");
        assert_eq!(token.expires_at, now + Duration::from_secs(3600));
        assert!(token.fresh(now) && !token.fresh(now + Duration::from_secs(3541)));
        for bad in [
            &br#"{"access_token":"tok_1","token_type":"bearer"}"#[..],
            br#"{"access_token":"tok_1","token_type":"bearer","expires_in":0}"#,
            br#"{"access_token":"tok_1","token_type":"mac","expires_in":60}"#,
            br#"{"access_token":"","token_type":"bearer","expires_in":60}"#,
            br#"{"token_type":"bearer","expires_in":60}"#,
        ] {
            let error = parse_answer("/oauth2/token", bad, 1, now).err().unwrap();
            assert!(!error.to_string().contains("tok_1"), "{error}");
            assert_eq!(error.reason(), "MalformedResponse", "{error}");
        }
    }

    #[tokio::test]
    async fn one_fetch_serves_all_and_a_refusal_replaces_only_the_refused_token() {
        let cache = TokenCache::default();
        let fetches = std::sync::atomic::AtomicU32::new(0);
        let fetch = |generation: u64| {
            fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                let body = format!(
                    r#"{{"access_token":"t{generation}","token_type":"bearer","expires_in":3600}}"#
                );
                parse_answer("/oauth2/token", body.as_bytes(), generation, Instant::now())
            }
        };
        let (a, b) = tokio::join!(cache.current(fetch), cache.current(fetch));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.expose(), b.expose()), ("t1", "t1"));
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
        cache.refused(1).await;
        cache.refused(1).await;
        let c = cache.current(fetch).await.unwrap();
        assert_eq!(c.expose(), "t2");
        // A late refusal of the old token does not throw away the new one.
        cache.refused(1).await;
        assert_eq!(cache.current(fetch).await.unwrap().expose(), "t2");
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_client_is_asked_once_for_all_waiting_requests() {
        let cache = TokenCache::default();
        let fetches = std::sync::atomic::AtomicU32::new(0);
        let fetch = |_: u64| {
            fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async {
                Err::<Token, _>(JumpCloudError::TokenRejected {
                    endpoint: "/oauth2/token".into(),
                    cause: crate::jumpcloud::TokenRejection::InvalidClient,
                    message: "no".into(),
                })
            }
        };
        let (a, b, c) = tokio::join!(
            cache.current(fetch),
            cache.current(fetch),
            cache.current(fetch)
        );
        assert!(a.is_err() && b.is_err() && c.is_err());
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
