//! `POST /oauth2/token`: JumpCloud's OAuth 2.0 client-credentials token endpoint
//! (`admin-oauth.id[.eu].jumpcloud.com`), served on each region's listener. Client
//! authentication is HTTP Basic (`client_secret_basic`, id and secret form-encoded first, as
//! RFC 6749 section 2.3.1 asks); errors have RFC 6749's `{"error", "error_description"}` shape.

use base64::Engine;

use super::*;
use crate::service_accounts::{ClientRefusal, authenticate_client};

/// RFC 6749 section 5.2 error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    let reply = Reply::value(
        status,
        &json!({"error": error, "error_description": description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        reply.header("www-authenticate", "Basic realm=\"oauth2\"")
    } else {
        reply
    }
}

/// The client id and secret of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

pub(super) fn token(
    state: &RegionState,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    if *method != Method::POST {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "the token endpoint takes POST",
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    };
    if field("client_secret").is_some() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the client secret must be sent with HTTP Basic authentication, not in the body",
        );
    }
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
    }
    if field("scope") != Some("api") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the requested scope is invalid: request scope=api",
        );
    }
    let Some((client_id, secret)) = basic_credentials(headers) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            ClientRefusal::NoAuthentication.description(),
        );
    };
    let now = state.now();
    let world = state.world();
    let (account_id, secret_id) =
        match authenticate_client(&world.service_accounts, &client_id, &secret, now) {
            Ok((account, secret)) => (account.id.clone(), secret.id.clone()),
            Err(refusal) => {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    refusal.description(),
                );
            }
        };
    let (access_token, lifetime) = state.tokens().issue(&account_id, &secret_id);
    Reply::value(
        StatusCode::OK,
        &json!({
            "access_token": access_token, "token_type": "bearer",
            "expires_in": lifetime.as_secs(), "scope": "api",
        }),
    )
}
