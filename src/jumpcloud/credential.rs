//! What the client authenticates with: an administrator's API key, or a service account's
//! client id and secret (OAuth 2.0 client credentials). Neither's `Debug` or `Display` prints a
//! secret; output identifies a credential by [`Credential::fingerprint`] and, for a service
//! account, by its client id (an identifier, not a secret).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::ApiKey;

/// Length of the fingerprint in hex characters, as for keys.
const FINGERPRINT_HEX_CHARS: usize = 12;

/// Why a client id and secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientCredentialsError {
    #[error(
        "the client id is empty (check the client id file, environment variable or Secret key)"
    )]
    EmptyClientId,
    #[error(
        "the client secret is empty (check the client secret file, environment variable or Secret key)"
    )]
    EmptySecret,
    #[error(
        "the client id contains whitespace or control characters inside it (only surrounding \
         whitespace is trimmed)"
    )]
    ClientIdWhitespace,
    #[error(
        "the client secret contains whitespace or control characters inside it (only surrounding \
         whitespace is trimmed)"
    )]
    SecretWhitespace,
}

/// A service account's client id and one of its client secrets.
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    secret: SecretString,
}

fn usable(text: &str) -> bool {
    !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl ClientCredentials {
    /// Surrounding whitespace is trimmed from both, as for keys (`echo ID > file`).
    pub fn new(client_id: &str, secret: &str) -> Result<Self, ClientCredentialsError> {
        let (client_id, secret) = (client_id.trim(), secret.trim());
        if client_id.is_empty() {
            return Err(ClientCredentialsError::EmptyClientId);
        }
        if secret.is_empty() {
            return Err(ClientCredentialsError::EmptySecret);
        }
        if !usable(client_id) {
            return Err(ClientCredentialsError::ClientIdWhitespace);
        }
        if !usable(secret) {
            return Err(ClientCredentialsError::SecretWhitespace);
        }
        Ok(ClientCredentials {
            client_id: client_id.to_owned(),
            secret: SecretString::from(secret.to_owned()),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(crate) fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

/// Which kind of credential a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    ApiKey,
    ServiceAccount,
}

impl CredentialKind {
    /// The name status and output use (`ApiKey`, `ServiceAccount`).
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "ApiKey",
            CredentialKind::ServiceAccount => "ServiceAccount",
        }
    }
}

/// A credential the client can authenticate with.
#[derive(Clone)]
pub enum Credential {
    ApiKey(ApiKey),
    ServiceAccount(ClientCredentials),
}

impl Credential {
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::ApiKey(_) => CredentialKind::ApiKey,
            Credential::ServiceAccount(_) => CredentialKind::ServiceAccount,
        }
    }

    /// First 12 hex characters of a SHA-256: of the key, or of `client id:client secret` (so
    /// rotating to the account's other secret is a new credential, as a new key is).
    pub fn fingerprint(&self) -> String {
        match self {
            Credential::ApiKey(key) => key.fingerprint(),
            Credential::ServiceAccount(account) => {
                let mut hasher = Sha256::new();
                hasher.update(account.client_id.as_bytes());
                hasher.update(b":");
                hasher.update(account.expose_secret().as_bytes());
                let mut hex = hex::encode(hasher.finalize());
                hex.truncate(FINGERPRINT_HEX_CHARS);
                hex
            }
        }
    }

    pub fn client_id(&self) -> Option<&str> {
        match self {
            Credential::ApiKey(_) => None,
            Credential::ServiceAccount(account) => Some(account.client_id()),
        }
    }

    /// The secret part: what no response, log or error may carry.
    pub(crate) fn expose_secret(&self) -> &str {
        match self {
            Credential::ApiKey(key) => key.expose(),
            Credential::ServiceAccount(account) => account.expose_secret(),
        }
    }
}

impl From<ApiKey> for Credential {
    fn from(key: ApiKey) -> Self {
        Credential::ApiKey(key)
    }
}

impl From<ClientCredentials> for Credential {
    fn from(account: ClientCredentials) -> Self {
        Credential::ServiceAccount(account)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ApiKey(key) => key.fmt(f),
            Credential::ServiceAccount(account) => write!(
                f,
                "ServiceAccount(client id {}, fingerprint {})",
                account.client_id,
                self.fingerprint()
            ),
        }
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ApiKey(key) => key.fmt(f),
            Credential::ServiceAccount(account) => write!(
                f,
                "<service account {} (redacted secret {})>",
                account.client_id,
                self.fingerprint()
            ),
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Credential::ServiceAccount(self.clone()).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3tVALUEthatMUSTnotLEAK";

    #[test]
    fn trims_and_refuses_what_no_header_can_carry() {
        let account = ClientCredentials::new(" id-1\n", &format!("{SECRET}\r\n")).unwrap();
        assert_eq!(account.client_id(), "id-1");
        assert_eq!(account.expose_secret(), SECRET);
        assert_eq!(
            ClientCredentials::new(" ", SECRET).unwrap_err(),
            ClientCredentialsError::EmptyClientId
        );
        assert_eq!(
            ClientCredentials::new("id", "\n").unwrap_err(),
            ClientCredentialsError::EmptySecret
        );
        assert_eq!(
            ClientCredentials::new("i d", SECRET).unwrap_err(),
            ClientCredentialsError::ClientIdWhitespace
        );
        assert_eq!(
            ClientCredentials::new("id", "a b").unwrap_err(),
            ClientCredentialsError::SecretWhitespace
        );
    }

    #[test]
    fn each_secret_of_an_account_is_its_own_fingerprint() {
        let first = Credential::from(ClientCredentials::new("id", "one").unwrap());
        let second = Credential::from(ClientCredentials::new("id", "two").unwrap());
        let other = Credential::from(ClientCredentials::new("id2", "one").unwrap());
        assert_ne!(first.fingerprint(), second.fingerprint());
        assert_ne!(first.fingerprint(), other.fingerprint());
        assert_eq!(first.fingerprint().len(), 12);
        assert_eq!(first.client_id(), Some("id"));
        assert_eq!(first.kind(), CredentialKind::ServiceAccount);
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let account = ClientCredentials::new("client-7", SECRET).unwrap();
        let credential = Credential::from(account.clone());
        for text in [
            format!("{account:?}"),
            format!("{credential:?}"),
            format!("{credential}"),
            format!("{credential:#?}"),
        ] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(text.contains("client-7"), "{text}");
            assert!(text.contains(&credential.fingerprint()), "{text}");
        }
    }
}
