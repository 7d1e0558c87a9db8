//! `collect`'s credential flags: an administrator's API key, or a service account's client id
//! and secret (OAuth 2.0 client credentials), each from a file or an environment variable.

use std::path::{Path, PathBuf};

use url::Url;

use crate::jumpcloud::{ApiKey, ClientCredentials, Credential};

#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("client_id").args(["client_id_file", "client_id_env"])),
    group(clap::ArgGroup::new("client_secret").args(["client_secret_file", "client_secret_env"]))
)]
pub struct CredentialArgs {
    /// Read the API key from this file (surrounding whitespace, e.g. echo's newline, is ignored).
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,

    /// Read the API key from this environment variable.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,

    /// Read a service account's client id from this file (instead of an API key; needs
    /// --client-secret-file or --client-secret-env).
    #[arg(
        long,
        value_name = "FILE",
        requires = "client_secret",
        conflicts_with_all = ["api_key_file", "api_key_env"]
    )]
    client_id_file: Option<PathBuf>,

    /// Read a service account's client id from this environment variable.
    #[arg(
        long,
        value_name = "VAR",
        requires = "client_secret",
        conflicts_with_all = ["api_key_file", "api_key_env"]
    )]
    client_id_env: Option<String>,

    /// Read the service account's client secret from this file.
    #[arg(long, value_name = "FILE", requires = "client_id")]
    client_secret_file: Option<PathBuf>,

    /// Read the service account's client secret from this environment variable.
    #[arg(long, value_name = "VAR", requires = "client_id")]
    client_secret_env: Option<String>,

    /// The service account token endpoint, when not the region's (required for region in,
    /// whose endpoint JumpCloud does not publish).
    #[arg(long, value_name = "URL", requires = "client_id")]
    token_url: Option<Url>,
}

/// A flag's value, from its file or environment variable; the error names the source and says
/// what to fix, never the value.
fn read(file: Option<&Path>, env: Option<&str>, what: &str) -> Result<Option<String>, String> {
    match (file, env) {
        (Some(path), _) => {
            crate::store::warn_if_exposed(path, what);
            let text = std::fs::read_to_string(path).map_err(|error| {
                format!("cannot read the {what} file {}: {error}", path.display())
            })?;
            if text.trim().is_empty() {
                return Err(format!(
                    "the {what} file {} is empty; put the {what} in it",
                    path.display()
                ));
            }
            Ok(Some(text))
        }
        (None, Some(var)) => {
            let text = std::env::var(var).map_err(|_| {
                format!("the environment variable {var} (the {what}) is not set or not UTF-8")
            })?;
            if text.trim().is_empty() {
                return Err(format!(
                    "the environment variable {var} (the {what}) is empty"
                ));
            }
            Ok(Some(text))
        }
        (None, None) => Ok(None),
    }
}

impl CredentialArgs {
    /// The credential the flags name; `None` when none was given (`--simulate`).
    pub fn credential(&self) -> Result<Option<Credential>, String> {
        if let Some(key) = read(
            self.api_key_file.as_deref(),
            self.api_key_env.as_deref(),
            "API key",
        )? {
            let key = ApiKey::new(&key).map_err(|error| error.to_string())?;
            return Ok(Some(key.into()));
        }
        let client_id = read(
            self.client_id_file.as_deref(),
            self.client_id_env.as_deref(),
            "client id",
        )?;
        let secret = read(
            self.client_secret_file.as_deref(),
            self.client_secret_env.as_deref(),
            "client secret",
        )?;
        match (client_id, secret) {
            (Some(client_id), Some(secret)) => ClientCredentials::new(&client_id, &secret)
                .map(|account| Some(account.into()))
                .map_err(|error| error.to_string()),
            (None, None) => Ok(None),
            // clap's `requires` refuses one without the other before this runs.
            _ => Err("give both the client id and the client secret".to_owned()),
        }
    }

    pub fn token_url(&self) -> Option<&Url> {
        self.token_url.as_ref()
    }
}
