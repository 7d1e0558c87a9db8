//! The API key and its fingerprint. The key lives only in [`ApiKey`], whose `Debug` and `Display`
//! never print it; logs and output identify it by [`ApiKey::fingerprint`].

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Length of the fingerprint in hex characters (48 bits: enough to tell keys apart in output,
/// far too little to help anyone guess the key).
const FINGERPRINT_HEX_CHARS: usize = 12;

/// Why a string cannot be an API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("the API key is empty (check the key file or environment variable)")]
    Empty,
    #[error(
        "the API key contains whitespace or control characters inside it (only surrounding \
         whitespace is trimmed); check the key file"
    )]
    InnerWhitespace,
}

/// A JumpCloud API key. Surrounding whitespace is trimmed on construction: `echo KEY > file`
/// leaves a trailing newline that JumpCloud would reject as an unknown key.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(raw: &str) -> Result<Self, ApiKeyError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ApiKeyError::Empty);
        }
        // A header value cannot hold control characters, and a space inside a key always means
        // a copy-paste accident; both would otherwise surface as a confusing 401.
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ApiKeyError::InnerWhitespace);
        }
        Ok(ApiKey(SecretString::from(trimmed.to_owned())))
    }

    /// First 12 hex characters of the SHA-256 of the (trimmed) key.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.0.expose_secret().as_bytes());
        let mut hex = hex::encode(digest);
        hex.truncate(FINGERPRINT_HEX_CHARS);
        hex
    }

    /// The key itself, for the `x-api-key` header only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<SecretString> for ApiKey {
    /// For keys that are already trimmed secrets (the simulator hands them out this way). An
    /// empty secret still yields a key: the server will reject it with a clear 401.
    fn from(secret: SecretString) -> Self {
        let trimmed = secret.expose_secret().trim().to_owned();
        ApiKey(SecretString::from(trimmed))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey(fingerprint {})", self.fingerprint())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted api key {}>", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "jca_test-0123456789abcdefSECRET";

    #[test]
    fn trims_the_echo_newline_and_fingerprints_the_trimmed_key() {
        let plain = ApiKey::new(KEY).unwrap();
        let echoed = ApiKey::new(&format!("  {KEY}\r\n")).unwrap();
        assert_eq!(plain.expose(), KEY);
        assert_eq!(echoed.expose(), KEY);
        assert_eq!(plain.fingerprint(), echoed.fingerprint());
    }

    #[test]
    fn fingerprint_is_the_sha256_prefix() {
        let key = ApiKey::new("abc").unwrap();
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(key.fingerprint(), "ba7816bf8f01");
    }

    #[test]
    fn rejects_empty_and_inner_whitespace() {
        assert_eq!(ApiKey::new(" \n\t").unwrap_err(), ApiKeyError::Empty);
        assert_eq!(ApiKey::new("").unwrap_err(), ApiKeyError::Empty);
        assert_eq!(
            ApiKey::new("jca_a b").unwrap_err(),
            ApiKeyError::InnerWhitespace
        );
    }

    #[test]
    fn debug_and_display_never_show_the_key() {
        let key = ApiKey::new(KEY).unwrap();
        for text in [format!("{key:?}"), format!("{key}"), format!("{key:#?}")] {
            assert!(!text.contains(KEY), "{text}");
            assert!(!text.contains("SECRET"), "{text}");
            assert!(text.contains(&key.fingerprint()));
        }
    }
}
