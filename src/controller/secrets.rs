//! The referenced Secret: which connections a Secret change concerns (from metadata only), and
//! reading the key out of the one Secret a reconcile needs. Secret data is never cached.

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};

use crate::crd::JumpCloudConnection;
use crate::decide::SecretRead;
use crate::jumpcloud::{ApiKey, ApiKeyError};

/// Connections in `namespace` whose `apiKeySecretRef` names `secret_name`.
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
        && connection.spec.api_key_secret_ref.name == secret_name
}

/// Reads the Secret `name` and the key under `key` in it. A missing Secret is recognised by
/// the HTTP code 404, not by the Status reason (kube's `get_opt` compares only the reason,
/// which API servers and proxies may word differently); any other failure is
/// [`SecretRead::Unreadable`], so the status never claims more than is known.
pub async fn read(api: &Api<Secret>, name: &str, key: &str) -> SecretRead {
    match api.get(name).await {
        Ok(secret) => read_key(Some(&secret), key),
        Err(kube::Error::Api(status)) if status.code == 404 => read_key(None, key),
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

/// Reads the key under `key` from a fetched Secret (or its absence): what the status may say
/// about it, with the key itself when usable.
pub fn read_key(secret: Option<&Secret>, key: &str) -> SecretRead {
    let Some(secret) = secret else {
        return SecretRead::NotFound;
    };
    let version = secret.resource_version();
    let data = secret.data.as_ref();
    let Some(bytes) = data.and_then(|data| data.get(key)) else {
        let available = data
            .map(|data| data.keys().cloned().collect())
            .unwrap_or_default();
        return SecretRead::KeyMissing { available };
    };
    let Ok(text) = std::str::from_utf8(&bytes.0) else {
        return SecretRead::Malformed;
    };
    match ApiKey::new(text) {
        Ok(api_key) => SecretRead::Present {
            fingerprint: api_key.fingerprint(),
            key: api_key,
            version,
        },
        Err(ApiKeyError::Empty) => SecretRead::Empty,
        Err(ApiKeyError::InnerWhitespace) => SecretRead::Malformed,
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

    #[test]
    fn reading_the_key_trims_and_classifies() {
        let read = read_key(Some(&secret(&[("api-key", "jca_abc\n")])), "api-key");
        let trimmed = ApiKey::new("jca_abc").unwrap();
        assert_eq!(
            read,
            SecretRead::Present {
                fingerprint: trimmed.fingerprint(),
                key: trimmed,
                version: None
            }
        );
        let read = read_key(Some(&secret(&[("token", "x"), ("user", "y")])), "api-key");
        assert_eq!(
            read,
            SecretRead::KeyMissing {
                available: vec!["token".into(), "user".into()]
            }
        );
        assert_eq!(
            read_key(Some(&secret(&[("api-key", " \n")])), "api-key"),
            SecretRead::Empty
        );
        assert_eq!(
            read_key(Some(&secret(&[("api-key", "a b")])), "api-key"),
            SecretRead::Malformed
        );
        assert_eq!(read_key(None, "api-key"), SecretRead::NotFound);
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
