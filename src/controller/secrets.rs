//! The referenced Secret: which connections a Secret change concerns (from metadata only), and
//! reading the credential (API key, or service account client id and secret) out of the one
//! Secret a reconcile needs. Secret data is never cached.

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};

use crate::crd::{CredentialRef, JumpCloudConnection};
use crate::decide::SecretRead;
use crate::jumpcloud::{
    ApiKey, ApiKeyError, ClientCredentials, ClientCredentialsError, Credential,
};

/// Connections in `namespace` whose credential reference names `secret_name`.
pub fn connections_referencing(
    store: &Store<JumpCloudConnection>,
    namespace: Option<&str>,
    secret_name: &str,
) -> Vec<ObjectRef<JumpCloudConnection>> {
    store
        .state_filter(|connection| references(connection, namespace, secret_name))
        .iter()
        .map(|connection| ObjectRef::from_obj(connection.as_ref()))
        .collect()
}

/// Whether `connection` reads the Secret `namespace/secret_name`.
pub fn references(
    connection: &JumpCloudConnection,
    namespace: Option<&str>,
    secret_name: &str,
) -> bool {
    connection.namespace().as_deref() == namespace
        && connection
            .spec
            .credential_ref()
            .is_ok_and(|credential| credential.secret_name() == secret_name)
}

/// Reads the Secret the credential reference names and the credential in it. A missing Secret
/// is recognised by the HTTP code 404, not by the Status reason (kube's `get_opt` compares only
/// the reason, which API servers and proxies may word differently); any other failure is
/// [`SecretRead::Unreadable`], so the status never claims more than is known.
pub async fn read(api: &Api<Secret>, credential: CredentialRef<'_>) -> SecretRead {
    let name = credential.secret_name();
    match api.get(name).await {
        Ok(secret) => read_credential(Some(&secret), credential),
        Err(kube::Error::Api(status)) if status.code == 404 => read_credential(None, credential),
        Err(error) => {
            let error = describe_read_error(&error);
            tracing::warn!(secret = name, %error, "cannot read the Secret");
            SecretRead::Unreadable { error }
        }
    }
}

/// What the status says about a failed Secret read. A parse error's text can quote the
/// response, which holds the Secret's data: only its kind is named.
fn describe_read_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                String::new()
            } else {
                format!(" {}", status.reason)
            };
            format!(
                "HTTP {}{reason}: {}",
                status.code,
                status.message.chars().take(300).collect::<String>()
            )
        }
        kube::Error::SerdeError(_) => "the answer is not a readable Secret".to_owned(),
        other => other.to_string(),
    }
}

/// The text under one data key: `Err` is what the status says when it is missing or not text.
fn value<'s>(secret: &'s Secret, key: &str) -> Result<&'s str, SecretRead> {
    let data = secret.data.as_ref();
    let Some(bytes) = data.and_then(|data| data.get(key)) else {
        let available = data
            .map(|data| data.keys().cloned().collect())
            .unwrap_or_default();
        return Err(SecretRead::KeyMissing {
            key: key.to_owned(),
            available,
        });
    };
    std::str::from_utf8(&bytes.0).map_err(|_| SecretRead::Malformed {
        key: key.to_owned(),
    })
}

/// Reads the credential from a fetched Secret (or its absence): what the status may say about
/// it, with the credential itself when usable.
pub fn read_credential(secret: Option<&Secret>, credential: CredentialRef<'_>) -> SecretRead {
    let Some(secret) = secret else {
        return SecretRead::NotFound;
    };
    let version = secret.resource_version();
    let present = |credential: Credential| SecretRead::Present {
        fingerprint: credential.fingerprint(),
        key: credential,
        version: version.clone(),
    };
    match credential {
        CredentialRef::ApiKey(secret_ref) => {
            let text = match value(secret, &secret_ref.key) {
                Ok(text) => text,
                Err(problem) => return problem,
            };
            let key = secret_ref.key.clone();
            match ApiKey::new(text) {
                Ok(api_key) => present(api_key.into()),
                Err(ApiKeyError::Empty) => SecretRead::Empty { key },
                Err(ApiKeyError::InnerWhitespace) => SecretRead::Malformed { key },
            }
        }
        CredentialRef::ServiceAccount(secret_ref) => {
            let (id_key, secret_key) = (&secret_ref.client_id_key, &secret_ref.client_secret_key);
            let client_id = match value(secret, id_key) {
                Ok(text) => text,
                Err(problem) => return problem,
            };
            let client_secret = match value(secret, secret_key) {
                Ok(text) => text,
                Err(problem) => return problem,
            };
            let empty = |key: &String| SecretRead::Empty { key: key.clone() };
            let malformed = |key: &String| SecretRead::Malformed { key: key.clone() };
            match ClientCredentials::new(client_id, client_secret) {
                Ok(account) => present(account.into()),
                Err(ClientCredentialsError::EmptyClientId) => empty(id_key),
                Err(ClientCredentialsError::EmptySecret) => empty(secret_key),
                Err(ClientCredentialsError::ClientIdWhitespace) => malformed(id_key),
                Err(ClientCredentialsError::SecretWhitespace) => malformed(secret_key),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use kube::runtime::{reflector, watcher};
    use std::collections::BTreeMap;

    fn connection(ns: &str, name: &str, secret: &str) -> JumpCloudConnection {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "jumpcloud-operator.io/v1alpha1", "kind": "JumpCloudConnection",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"apiKeySecretRef": {"name": secret}},
        }))
        .unwrap()
    }

    #[test]
    fn a_secret_maps_to_the_connections_of_its_namespace_that_name_it() {
        let (store, mut writer) = reflector::store::<JumpCloudConnection>();
        for c in [
            connection("a", "one", "jc"),
            connection("a", "two", "jc"),
            connection("a", "three", "other"),
            connection("b", "four", "jc"),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(c));
        }
        let mut names: Vec<_> = connections_referencing(&store, Some("a"), "jc")
            .into_iter()
            .map(|r| r.name)
            .collect();
        names.sort();
        assert_eq!(names, ["one", "two"]);
        assert!(connections_referencing(&store, Some("c"), "jc").is_empty());
    }

    fn secret(entries: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    fn key_ref() -> crate::crd::ApiKeySecretRef {
        crate::crd::ApiKeySecretRef {
            name: "jc".into(),
            key: "api-key".into(),
        }
    }

    fn account_ref() -> crate::crd::ServiceAccountSecretRef {
        crate::crd::ServiceAccountSecretRef {
            name: "jc".into(),
            client_id_key: "client-id".into(),
            client_secret_key: "client-secret".into(),
            token_url: None,
        }
    }

    #[test]
    fn reading_the_key_trims_and_classifies() {
        let r = key_ref();
        let read_key = |secret: Option<&Secret>| read_credential(secret, CredentialRef::ApiKey(&r));
        let read = read_key(Some(&secret(&[("api-key", "jca_abc\n")])));
        let trimmed = ApiKey::new("jca_abc").unwrap();
        assert_eq!(
            read,
            SecretRead::Present {
                fingerprint: trimmed.fingerprint(),
                key: trimmed.into(),
                version: None
            }
        );
        let read = read_key(Some(&secret(&[("token", "x"), ("user", "y")])));
        assert_eq!(
            read,
            SecretRead::KeyMissing {
                key: "api-key".into(),
                available: vec!["token".into(), "user".into()]
            }
        );
        assert_eq!(
            read_key(Some(&secret(&[("api-key", " \n")]))),
            SecretRead::Empty {
                key: "api-key".into()
            }
        );
        assert_eq!(
            read_key(Some(&secret(&[("api-key", "a b")]))),
            SecretRead::Malformed {
                key: "api-key".into()
            }
        );
        assert_eq!(read_key(None), SecretRead::NotFound);
    }

    #[test]
    fn reading_a_service_account_names_the_key_that_is_missing_or_wrong() {
        let r = account_ref();
        let read = |entries: &[(&str, &str)]| {
            read_credential(Some(&secret(entries)), CredentialRef::ServiceAccount(&r))
        };
        let both = read(&[("client-id", "id-1\n"), ("client-secret", "s3cret\n")]);
        let expected = Credential::from(ClientCredentials::new("id-1", "s3cret").unwrap());
        assert_eq!(
            both,
            SecretRead::Present {
                fingerprint: expected.fingerprint(),
                key: expected,
                version: None
            }
        );
        assert_eq!(
            read(&[("client-id", "id-1")]),
            SecretRead::KeyMissing {
                key: "client-secret".into(),
                available: vec!["client-id".into()]
            }
        );
        assert_eq!(
            read(&[("client-id", " "), ("client-secret", "x")]),
            SecretRead::Empty {
                key: "client-id".into()
            }
        );
        assert_eq!(
            read(&[("client-id", "id"), ("client-secret", "a b")]),
            SecretRead::Malformed {
                key: "client-secret".into()
            }
        );
    }

    #[test]
    fn a_secret_change_concerns_the_connections_of_either_kind_of_reference() {
        let mut account = connection("a", "sa", "other");
        account.spec.api_key_secret_ref = None;
        account.spec.service_account_secret_ref = Some(account_ref());
        assert!(references(&account, Some("a"), "jc"));
        assert!(!references(&account, Some("a"), "other"));
    }

    #[test]
    fn a_failed_read_is_described_without_the_answer_of_a_parse_error() {
        let status = kube::core::Status::failure("etcd is down", "InternalError").with_code(500);
        assert_eq!(
            describe_read_error(&kube::Error::Api(Box::new(status))),
            "HTTP 500 InternalError: etcd is down"
        );
        let parse = serde_json::from_str::<u64>("\"jca_secret\"").unwrap_err();
        let text = describe_read_error(&kube::Error::SerdeError(parse));
        assert!(!text.contains("jca_secret"), "{text}");
    }
}
