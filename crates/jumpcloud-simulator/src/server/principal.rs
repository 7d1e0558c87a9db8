//! Who an API request authenticates as: an administrator by `x-api-key`, or a service account
//! by `Authorization: Bearer <token>`.

use super::*;

/// The caller of an API request.
pub(super) enum Principal<'a> {
    Admin(&'a Admin),
    Service(&'a ServiceAccount),
}

impl Principal<'_> {
    pub(super) fn role_name(&self) -> &str {
        match self {
            Principal::Admin(admin) => &admin.role_name,
            Principal::Service(account) => &account.role_name,
        }
    }

    pub(super) fn org_ids(&self) -> &[String] {
        match self {
            Principal::Admin(admin) => &admin.org_ids,
            Principal::Service(account) => &account.org_ids,
        }
    }

    /// What `GET /api/users/getSelf` answers.
    pub(super) fn record(&self) -> Value {
        match self {
            Principal::Admin(admin) => admin.record(),
            Principal::Service(account) => account.record(),
        }
    }
}

/// A request's credentials, as sent.
pub(super) enum Presented<'h> {
    Key(&'h str),
    Bearer(&'h str),
}

/// Reads the credential headers. Both at once is refused: JumpCloud takes one or the other, and
/// a client that sends a token as `x-api-key` too has the bug this simulator exists to catch.
pub(super) fn presented(headers: &HeaderMap) -> Result<Presented<'_>, (StatusCode, &'static str)> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty());
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    match (key, bearer) {
        (Some(_), Some(_)) => Err((
            StatusCode::BAD_REQUEST,
            "Bad Request: send either x-api-key or Authorization: Bearer, not both",
        )),
        (Some(key), None) => Ok(Presented::Key(key)),
        (None, Some(token)) => Ok(Presented::Bearer(token)),
        (None, None) => Err((
            StatusCode::UNAUTHORIZED,
            "Unauthorized: api key not provided",
        )),
    }
}

/// Authenticates the presented credential; the error is the status and message to answer.
/// `tokens` is the region's issued tokens (read under the world lock, world first).
pub(super) fn authenticate<'w>(
    world: &'w World,
    tokens: &crate::service_accounts::Tokens,
    presented: &Presented<'_>,
    now: Timestamp,
) -> Result<Principal<'w>, (StatusCode, &'static str)> {
    match presented {
        Presented::Key(key) => {
            if tokens.is_token(key) {
                return Err((
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized: an access token was sent as x-api-key; send it as Authorization: Bearer <token>",
                ));
            }
            let admin = world
                .admins
                .iter()
                .find(|a| a.key.as_ref().is_some_and(|k| k.value == *key))
                .ok_or((
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized: api key user not found",
                ))?;
            if admin
                .key
                .as_ref()
                .and_then(|k| k.expire_at)
                .is_some_and(|at| at <= now)
            {
                return Err((StatusCode::UNAUTHORIZED, "Unauthorized: api key expired"));
            }
            Ok(Principal::Admin(admin))
        }
        Presented::Bearer(token) => {
            crate::service_accounts::authenticate_token(tokens, &world.service_accounts, token)
                .map(Principal::Service)
                .map_err(|refusal| (StatusCode::UNAUTHORIZED, refusal.message()))
        }
    }
}
