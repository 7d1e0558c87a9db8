//! How a request authenticates: the API key as `x-api-key`, or a service account's access
//! token as `Authorization: Bearer` (never as `x-api-key`: another client's known bug), and the
//! token request itself with HTTP Basic (`client_secret_basic`).

use std::time::Instant;

use base64::Engine;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use url::Url;

use super::token::{self, Token};
use super::{ClientConfig, JumpCloudClient, RequestAuth, RequestBody, RequestSpec};
use crate::jumpcloud::{Credential, JumpCloudError};

/// Path of the token endpoint under a base URL override (tests, private endpoints).
const TOKEN_PATH: &str = "/oauth2/token";
/// Label of token requests in the counters and metrics.
const TOKEN_LABEL: &str = "token";

/// The bearer token an attempt sent.
pub(super) struct SentToken {
    pub(super) token: std::sync::Arc<Token>,
    generation: u64,
    /// The token was fetched for this very attempt: a 401 then refuses the credential.
    pub(super) fetched_for_this_attempt: bool,
}

/// Where the service account's tokens come from: the override, `<base URL>/oauth2/token`, or
/// the region's token endpoint. The region without a published one needs an override.
pub(super) fn token_url(config: &ClientConfig) -> Result<Url, JumpCloudError> {
    if let Some(url) = &config.token_url_override {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(JumpCloudError::InvalidConfig(format!(
                "the token URL must be http or https, not {:?}",
                url.scheme()
            )));
        }
        return Ok(url.clone());
    }
    let joined = match &config.base_url_override {
        Some(base) => format!("{}{TOKEN_PATH}", base.as_str().trim_end_matches('/')),
        None => config
            .region
            .token_url()
            .ok_or_else(|| {
                JumpCloudError::InvalidConfig(format!(
                    "JumpCloud publishes no service account token endpoint for the {} region: \
                     set the token URL (spec.serviceAccountSecretRef.tokenUrl, or --token-url) \
                     to the one your JumpCloud console names",
                    config.region
                ))
            })?
            .to_owned(),
    };
    Url::parse(&joined)
        .map_err(|error| JumpCloudError::InvalidConfig(format!("bad token URL: {error}")))
}

/// The error of a request whose freshly issued token was refused.
pub(super) fn token_refused(error: JumpCloudError) -> JumpCloudError {
    match error {
        JumpCloudError::Unauthorized { endpoint, message } => {
            JumpCloudError::TokenRefused { endpoint, message }
        }
        other => other,
    }
}

fn sensitive(value: &str, what: &str) -> Result<HeaderValue, JumpCloudError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        JumpCloudError::InvalidConfig(format!("the {what} cannot be sent as a header"))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

impl JumpCloudClient {
    /// The header that authenticates a request, and the token it carries, if one.
    pub(super) async fn auth_header(
        &self,
        auth: RequestAuth,
    ) -> Result<((HeaderName, HeaderValue), Option<SentToken>), JumpCloudError> {
        match (&self.inner.credential, auth) {
            (Credential::ApiKey(key), _) => Ok((
                (
                    HeaderName::from_static("x-api-key"),
                    sensitive(key.expose(), "API key")?,
                ),
                None,
            )),
            (Credential::ServiceAccount(account), RequestAuth::ClientSecretBasic) => {
                // RFC 6749 section 2.3.1: both form-encoded before joining.
                let encode = |part: &str| {
                    url::form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>()
                };
                let pair = format!(
                    "{}:{}",
                    encode(account.client_id()),
                    encode(account.expose_secret())
                );
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                Ok((
                    (
                        AUTHORIZATION,
                        sensitive(&format!("Basic {basic}"), "client secret")?,
                    ),
                    None,
                ))
            }
            (Credential::ServiceAccount(_), RequestAuth::Credential) => {
                let (cache, _) = self.token_slot()?;
                let before = Instant::now();
                let token = cache
                    .current(|generation| self.fetch_token(generation))
                    .await?;
                let header = sensitive(&format!("Bearer {}", token.expose()), "access token")?;
                Ok((
                    (AUTHORIZATION, header),
                    Some(SentToken {
                        generation: token.generation,
                        fetched_for_this_attempt: token.issued_after(before),
                        token: token.clone(),
                    }),
                ))
            }
        }
    }

    fn token_slot(&self) -> Result<&(token::TokenCache, Url), JumpCloudError> {
        self.inner.token.as_ref().ok_or_else(|| {
            JumpCloudError::InvalidConfig(
                "a service account client without a token endpoint".into(),
            )
        })
    }

    /// Asks the token endpoint for a new token, with the client's retries: an unreachable or
    /// failing endpoint is transient, a refused client is not.
    async fn fetch_token(&self, generation: u64) -> Result<Token, JumpCloudError> {
        let (_, url) = self.token_slot()?;
        let spec = RequestSpec {
            label: TOKEN_LABEL.to_owned(),
            endpoint: TOKEN_PATH.to_owned(),
            method: Method::POST,
            url: url.clone(),
            org_id: None,
            body: Some(RequestBody::Form(
                "grant_type=client_credentials&scope=api".to_owned(),
            )),
            auth: RequestAuth::ClientSecretBasic,
        };
        let started = Instant::now();
        // Boxed: a request may fetch a token, which is a request.
        let response = Box::pin(self.send_now(&spec)).await?;
        let token = token::parse_answer(TOKEN_PATH, &response.body, generation, started)?;
        tracing::debug!(
            generation,
            expires_at = %token.expires_at_wall,
            "issued a service account access token"
        );
        Ok(token)
    }

    /// Marks the token a request sent as refused, so the next request fetches a new one.
    pub(super) async fn token_refused(&self, sent: &SentToken) {
        if let Some((cache, _)) = &self.inner.token {
            cache.refused(sent.generation).await;
        }
    }

    /// When the service account's current access token expires (`None`: an API key, or no
    /// token fetched yet). Status shows it; the token itself never leaves the client.
    pub async fn token_expires_at(&self) -> Option<jiff::Timestamp> {
        match &self.inner.token {
            Some((cache, _)) => cache.expires_at().await,
            None => None,
        }
    }
}
