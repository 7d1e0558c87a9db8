//! Who is asking and what they may see, the Kubernetes way: the bearer token goes to a
//! TokenReview, the user it names to SubjectAccessReviews for `get jumpcloudconnections`.
//! Gathering only: the decisions are in `access.rs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The header that carries the token through the API server's service proxy, which removes
/// `Authorization` (its authentication filter strips the caller's credentials) before
/// forwarding.
pub const TOKEN_HEADER: &str = "x-jumpcloud-operator-token";

/// How long a TokenReview answer is reused: short, so a revoked token stops working soon.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(30);
/// Cached tokens at most; the cache is emptied when full (memory stays bounded under a flood
/// of distinct tokens, at the price of a few extra reviews).
pub const TOKEN_CACHE_ENTRIES: usize = 1024;

/// The API group and resource a caller needs `get` on.
pub const GROUP: &str = "jumpcloud-operator.io";
pub const RESOURCE: &str = "jumpcloudconnections";

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
    pub extra: std::collections::BTreeMap<String, Vec<String>>,
}

/// Errors of the Kubernetes calls that decide access (a 500: the caller is neither let in nor
/// told they are unauthorised when the answer is unknown).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "cannot check the token: TokenReview failed ({0}); the operator needs `create tokenreviews.authentication.k8s.io` (the chart grants it)"
    )]
    TokenReview(String),
    #[error(
        "cannot check the permission: SubjectAccessReview failed ({0}); the operator needs `create subjectaccessreviews.authorization.k8s.io` (the chart grants it)"
    )]
    AccessReview(String),
}

/// The token of a request: `Authorization: Bearer <token>`, else the proxy header. Never
/// logged, never echoed.
pub fn token_of(headers: &HeaderMap) -> Option<SecretString> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let token = bearer.or_else(|| headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()))?;
    let token = token.trim();
    (!token.is_empty()).then(|| SecretString::from(token.to_owned()))
}

type CacheKey = [u8; 32];

/// TokenReviews and SubjectAccessReviews through the operator's client, with a short cache of
/// TokenReview answers keyed by the token's SHA-256 (memory only).
pub struct Authorizer {
    client: kube::Client,
    cache: Mutex<HashMap<CacheKey, (Instant, Option<User>)>>,
}

impl Authorizer {
    pub fn new(client: kube::Client) -> Self {
        Authorizer {
            client,
            cache: Mutex::default(),
        }
    }

    /// The user the token authenticates, or None when the API server says it does not.
    pub async fn authenticate(&self, token: &SecretString) -> Result<Option<User>, AuthError> {
        let key: CacheKey = Sha256::digest(token.expose_secret().as_bytes()).into();
        if let Some(user) = self.cached(&key) {
            return Ok(user);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.expose_secret().to_owned(),
                audiences: None,
            },
            ..Default::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|error| AuthError::TokenReview(error.to_string()))?;
        let user = answer
            .status
            .filter(|status| status.authenticated == Some(true))
            .and_then(|status| status.user)
            .and_then(|user| {
                // Fail closed: an authenticated answer without a user name lets nobody in.
                let username = user.username.filter(|name| !name.is_empty())?;
                Some(User {
                    username,
                    uid: user.uid,
                    groups: user.groups.unwrap_or_default(),
                    extra: user.extra.unwrap_or_default(),
                })
            });
        self.remember(key, user.clone());
        Ok(user)
    }

    fn cached(&self, key: &CacheKey) -> Option<Option<User>> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(_, user)| user.clone())
    }

    fn remember(&self, key: CacheKey, user: Option<User>) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if cache.len() >= TOKEN_CACHE_ENTRIES {
            cache.retain(|_, (at, _)| at.elapsed() < TOKEN_CACHE_TTL);
            if cache.len() >= TOKEN_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), user));
    }

    /// Whether `user` may `get jumpcloudconnections` in `namespace` (that one object when
    /// `name` is given, any when it is None).
    pub async fn may_get(
        &self,
        user: &User,
        namespace: &str,
        name: Option<&str>,
    ) -> Result<bool, AuthError> {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.username.clone()),
                uid: user.uid.clone(),
                groups: Some(user.groups.clone()),
                extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(namespace.to_owned()),
                    verb: Some("get".to_owned()),
                    group: Some(GROUP.to_owned()),
                    resource: Some(RESOURCE.to_owned()),
                    name: name.map(str::to_owned),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|error| AuthError::AccessReview(error.to_string()))?;
        // Fail closed: no status, or a denial, is a no.
        Ok(answer
            .status
            .is_some_and(|status| status.allowed && status.denied != Some(true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_bearer_or_the_proxy_header() {
        let mut headers = HeaderMap::new();
        assert!(token_of(&headers).is_none());
        headers.insert(TOKEN_HEADER, "via-proxy".parse().unwrap());
        assert_eq!(token_of(&headers).unwrap().expose_secret(), "via-proxy");
        headers.insert("authorization", "Bearer direct".parse().unwrap());
        assert_eq!(token_of(&headers).unwrap().expose_secret(), "direct");
        headers.insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());
        assert_eq!(token_of(&headers).unwrap().expose_secret(), "via-proxy");
        headers.remove(TOKEN_HEADER);
        assert!(token_of(&headers).is_none(), "basic auth is no token");
        headers.insert("authorization", "Bearer   ".parse().unwrap());
        assert!(token_of(&headers).is_none());
    }
}
