//! The referenced Secret: which connections a Secret change concerns (from metadata only), and
//! reading the key out of the one Secret a reconcile needs. Secret data is never cached.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

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

/// Reads the key under `key` from a fetched Secret (or its absence). Returns what the status may
/// say about it, and the key itself when usable.
pub fn read_key(secret: Option<&Secret>, key: &str) -> (SecretRead, Option<ApiKey>) {
    let Some(secret) = secret else {
        return (SecretRead::NotFound, None);
    };
    let version = secret.resource_version();
    let data = secret.data.as_ref();
    let Some(bytes) = data.and_then(|data| data.get(key)) else {
        let available = data
            .map(|data| data.keys().cloned().collect())
            .unwrap_or_default();
        return (SecretRead::KeyMissing { available }, None);
    };
    let Ok(text) = std::str::from_utf8(&bytes.0) else {
        return (SecretRead::Malformed, None);
    };
    match ApiKey::new(text) {
        Ok(api_key) => (
            SecretRead::Present {
                fingerprint: api_key.fingerprint(),
                version,
            },
            Some(api_key),
        ),
        Err(ApiKeyError::Empty) => (SecretRead::Empty, None),
        Err(ApiKeyError::InnerWhitespace) => (SecretRead::Malformed, None),
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
        let (read, key) = read_key(Some(&secret(&[("api-key", "jca_abc\n")])), "api-key");
        let trimmed = ApiKey::new("jca_abc").unwrap().fingerprint();
        assert_eq!(
            read,
            SecretRead::Present {
                fingerprint: trimmed,
                version: None
            }
        );
        assert!(key.is_some());
        let (read, _) = read_key(Some(&secret(&[("token", "x"), ("user", "y")])), "api-key");
        assert_eq!(
            read,
            SecretRead::KeyMissing {
                available: vec!["token".into(), "user".into()]
            }
        );
        assert_eq!(
            read_key(Some(&secret(&[("api-key", " \n")])), "api-key").0,
            SecretRead::Empty
        );
        assert_eq!(
            read_key(Some(&secret(&[("api-key", "a b")])), "api-key").0,
            SecretRead::Malformed
        );
        assert_eq!(read_key(None, "api-key").0, SecretRead::NotFound);
    }
}
