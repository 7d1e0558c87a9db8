//! Service accounts (OAuth 2.0 client credentials): accounts with a role and up to two client
//! secrets, the access tokens issued for them, and who a request authenticates as. JumpCloud
//! hands out tokens at `POST /oauth2/token` (`admin-oauth.id[.eu].jumpcloud.com`); the API then
//! takes `Authorization: Bearer <token>` instead of `x-api-key`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::generate::fmt_ts;

/// JumpCloud allows two client secrets per service account, so one can be rotated while the
/// other works.
pub(crate) const MAX_SECRETS: usize = 2;

/// Token lifetime when none is configured (JumpCloud's tokens last about an hour).
pub(crate) const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

pub(crate) struct ClientSecret {
    pub id: String,
    pub value: String,
    pub created_at: Timestamp,
    pub expire_at: Option<Timestamp>,
}

pub(crate) struct ServiceAccount {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub role_name: String,
    pub disabled: bool,
    pub created: Timestamp,
    pub secrets: Vec<ClientSecret>,
    pub org_ids: Vec<String>,
}

impl ServiceAccount {
    /// What `GET /api/users/getSelf` answers for a service account's token: its id, name and
    /// role, like an administrator's record but without a person's fields.
    pub(crate) fn record(&self) -> Value {
        let role = super::state::role_id(&self.role_name);
        json!({
            "_id": self.id, "id": self.id, "name": self.name, "serviceAccount": true,
            "organization": self.org_ids.first(), "role": role, "roleName": self.role_name,
            "roleNames": [self.role_name], "roles": [role], "created": fmt_ts(self.created),
        })
    }

    pub(crate) fn view(&self) -> crate::control::ServiceAccountView {
        crate::control::ServiceAccountView {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            name: self.name.clone(),
            role_name: self.role_name.clone(),
            disabled: self.disabled,
            org_ids: self.org_ids.clone(),
            secrets: self
                .secrets
                .iter()
                .map(|s| crate::control::ClientSecretView {
                    id: s.id.clone(),
                    secret: s.value.clone(),
                    created_at: s.created_at,
                    expires_at: s.expire_at,
                })
                .collect(),
        }
    }
}

/// Random identifiers in JumpCloud's shapes, drawn from the seed.
pub(crate) fn random_alphanumeric(rng: &mut ChaCha8Rng, length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..length)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A client id shaped like a UUID (what JumpCloud shows in the console).
pub(crate) fn random_client_id(rng: &mut ChaCha8Rng) -> String {
    let hex: String = (0..32)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Why the token endpoint refuses a client. Each has its own `error_description`, so a client
/// can tell the person what to fix; all are `invalid_client` (RFC 6749 section 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientRefusal {
    /// No `Authorization: Basic` header, or one that does not decode.
    NoAuthentication,
    /// No service account has this client id (never existed, or deleted).
    UnknownClient,
    Disabled,
    /// The secret is none of the account's current secrets.
    WrongSecret,
    /// The secret is the account's, but past its expiry.
    SecretExpired,
}

impl ClientRefusal {
    pub(crate) fn description(self) -> &'static str {
        match self {
            ClientRefusal::NoAuthentication => {
                "Client authentication failed: no client authentication included (use HTTP Basic with the client id and secret)"
            }
            ClientRefusal::UnknownClient => "Client authentication failed: unknown client",
            ClientRefusal::Disabled => {
                "Client authentication failed: the service account is disabled"
            }
            ClientRefusal::WrongSecret => {
                "Client authentication failed: the client secret does not match"
            }
            ClientRefusal::SecretExpired => {
                "Client authentication failed: the client secret has expired"
            }
        }
    }
}

/// An access token the token endpoint issued.
pub(crate) struct IssuedToken {
    pub account_id: String,
    pub secret_id: String,
    /// Real time, not the simulated clock: tests shorten the lifetime to seconds and wait for
    /// expiry as a client would.
    pub expires: Instant,
}

/// The tokens of one region, and how long new ones last.
pub(crate) struct Tokens {
    pub lifetime: Duration,
    issued: HashMap<String, IssuedToken>,
    rng: ChaCha8Rng,
}

impl Tokens {
    pub(crate) fn new(rng: ChaCha8Rng) -> Self {
        Tokens {
            lifetime: DEFAULT_TOKEN_LIFETIME,
            issued: HashMap::new(),
            rng,
        }
    }

    /// Issues a token for the account's secret; expired tokens are forgotten on the way.
    pub(crate) fn issue(&mut self, account_id: &str, secret_id: &str) -> (String, Duration) {
        let now = Instant::now();
        self.issued.retain(|_, token| token.expires > now);
        let value = format!("jcat_{}", random_alphanumeric(&mut self.rng, 48));
        self.issued.insert(
            value.clone(),
            IssuedToken {
                account_id: account_id.to_owned(),
                secret_id: secret_id.to_owned(),
                expires: now + self.lifetime,
            },
        );
        (value, self.lifetime)
    }

    pub(crate) fn get(&self, token: &str) -> Option<&IssuedToken> {
        self.issued.get(token)
    }

    pub(crate) fn is_token(&self, value: &str) -> bool {
        self.issued.contains_key(value)
    }

    /// Forgets the tokens issued with this secret (revoking a secret ends its sessions).
    pub(crate) fn revoke_secret(&mut self, secret_id: &str) {
        self.issued.retain(|_, token| token.secret_id != secret_id);
    }

    /// Ends every session: clients must fetch new tokens with their (still valid) secrets.
    pub(crate) fn revoke_all(&mut self) {
        self.issued.clear();
    }

    pub(crate) fn revoke_account(&mut self, account_id: &str) {
        self.issued
            .retain(|_, token| token.account_id != account_id);
    }
}

/// Finds the account and secret a client authenticates with, as the token endpoint checks
/// them. `now` is the simulated clock (secret expiry is a date, like a key's).
pub(crate) fn authenticate_client<'a>(
    accounts: &'a [ServiceAccount],
    client_id: &str,
    secret: &str,
    now: Timestamp,
) -> Result<(&'a ServiceAccount, &'a ClientSecret), ClientRefusal> {
    let account = accounts
        .iter()
        .find(|a| a.client_id == client_id)
        .ok_or(ClientRefusal::UnknownClient)?;
    if account.disabled {
        return Err(ClientRefusal::Disabled);
    }
    let secret = account
        .secrets
        .iter()
        .find(|s| s.value == secret)
        .ok_or(ClientRefusal::WrongSecret)?;
    if secret.expire_at.is_some_and(|at| at <= now) {
        return Err(ClientRefusal::SecretExpired);
    }
    Ok((account, secret))
}

/// Why a bearer token does not authenticate an API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    /// Never issued, revoked with its secret, or forgotten after expiry.
    Unknown,
    Expired,
    /// The account was disabled or deleted after the token was issued.
    AccountGone,
}

impl TokenRefusal {
    pub(crate) fn message(self) -> &'static str {
        match self {
            TokenRefusal::Unknown => "Unauthorized: invalid access token",
            TokenRefusal::Expired => "Unauthorized: access token expired",
            TokenRefusal::AccountGone => {
                "Unauthorized: the service account of this token is disabled or deleted"
            }
        }
    }
}

/// The account a bearer token stands for.
pub(crate) fn authenticate_token<'a>(
    tokens: &Tokens,
    accounts: &'a [ServiceAccount],
    token: &str,
) -> Result<&'a ServiceAccount, TokenRefusal> {
    let issued = tokens.get(token).ok_or(TokenRefusal::Unknown)?;
    if issued.expires <= Instant::now() {
        return Err(TokenRefusal::Expired);
    }
    accounts
        .iter()
        .find(|a| a.id == issued.account_id && !a.disabled)
        .ok_or(TokenRefusal::AccountGone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn account(now: Timestamp) -> ServiceAccount {
        ServiceAccount {
            id: "sa1".into(),
            client_id: "client-1".into(),
            name: "evidence".into(),
            role_name: "Read Only".into(),
            disabled: false,
            created: now,
            secrets: vec![
                ClientSecret {
                    id: "s1".into(),
                    value: "first".into(),
                    created_at: now,
                    expire_at: Some(now - jiff::SignedDuration::from_secs(1)),
                },
                ClientSecret {
                    id: "s2".into(),
                    value: "second".into(),
                    created_at: now,
                    expire_at: None,
                },
            ],
            org_ids: vec!["org".into()],
        }
    }

    #[test]
    fn the_token_endpoint_tells_each_refusal_apart() {
        let now = Timestamp::from_second(1_780_000_000).unwrap();
        let mut accounts = vec![account(now)];
        assert_eq!(
            authenticate_client(&accounts, "nobody", "second", now).err(),
            Some(ClientRefusal::UnknownClient)
        );
        assert_eq!(
            authenticate_client(&accounts, "client-1", "third", now).err(),
            Some(ClientRefusal::WrongSecret)
        );
        assert_eq!(
            authenticate_client(&accounts, "client-1", "first", now).err(),
            Some(ClientRefusal::SecretExpired)
        );
        let (_, secret) = authenticate_client(&accounts, "client-1", "second", now).unwrap();
        assert_eq!(secret.id, "s2");
        accounts[0].disabled = true;
        assert_eq!(
            authenticate_client(&accounts, "client-1", "second", now).err(),
            Some(ClientRefusal::Disabled)
        );
    }

    #[test]
    fn tokens_end_with_their_secret_or_account() {
        let now = Timestamp::from_second(1_780_000_000).unwrap();
        let mut accounts = vec![account(now)];
        let mut tokens = Tokens::new(ChaCha8Rng::seed_from_u64(1));
        let (token, lifetime) = tokens.issue("sa1", "s2");
        assert_eq!(lifetime, DEFAULT_TOKEN_LIFETIME);
        assert!(token.starts_with("jcat_"));
        assert_eq!(
            authenticate_token(&tokens, &accounts, &token).map(|a| a.id.as_str()),
            Ok("sa1")
        );
        accounts[0].disabled = true;
        assert_eq!(
            authenticate_token(&tokens, &accounts, &token).err(),
            Some(TokenRefusal::AccountGone)
        );
        accounts[0].disabled = false;
        tokens.revoke_secret("s2");
        assert_eq!(
            authenticate_token(&tokens, &accounts, &token).err(),
            Some(TokenRefusal::Unknown)
        );
        tokens.lifetime = Duration::ZERO;
        let (token, _) = tokens.issue("sa1", "s2");
        assert_eq!(
            authenticate_token(&tokens, &accounts, &token).err(),
            Some(TokenRefusal::Expired)
        );
    }
}
