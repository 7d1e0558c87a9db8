//! The API server (the kube test server, which validates against the CRD's structural schema and
//! its CEL rules as the apiserver does) refuses what `--settings` refuses, with the field named.

mod operator_support;

use kube::api::{Patch, PatchParams};
use operator_support::*;
use serde_json::{Value, json};

async fn apply(env: &Env, name: &str, spec: Value) -> Result<(), String> {
    env.connections("settings")
        .patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&json!({
                "apiVersion": "jumpcloud-operator.io/v1alpha1",
                "kind": "JumpCloudConnection",
                "metadata": {"name": name, "namespace": "settings"},
                "spec": spec,
            })),
        )
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
}

#[tokio::test]
async fn the_api_server_refuses_bad_controls_and_retention_with_one_message() {
    let env = Env::without_operator(&[jumpcloud_operator::region::Region::Us], true).await;
    env.namespace("settings").await;
    let spec = |extra: Value| {
        let mut spec = json!({"apiKeySecretRef": {"name": "jc"}});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    };
    let error = apply(
        &env,
        "a",
        spec(json!({"controls": {"osBaselines": {"darwin": "latest"}}})),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("spec.controls.osBaselines.darwin"),
        "{error}"
    );
    assert!(error.contains("latest"), "{error}");
    let error = apply(
        &env,
        "b",
        spec(json!({"controls": {"disabledControls": ["JC-E99-NOPE"]}})),
    )
    .await
    .unwrap_err();
    assert!(error.contains("JC-E99-NOPE"), "{error}");
    assert!(
        error.contains("JC-E9-SSH-HARDENING"),
        "lists the supported ids: {error}"
    );
    let error = apply(&env, "c", spec(json!({"evidence": {"retentionDays": -1}})))
        .await
        .unwrap_err();
    assert!(
        error.contains("evidence.retentionDays must be between 1 and 3650"),
        "{error}"
    );
    assert!(
        !error.contains(">= 0") && !error.contains("greater than or equal"),
        "{error}"
    );
    // deviceAccess is one of its three values; the threshold has its one range message.
    let error = apply(
        &env,
        "e",
        spec(json!({"evidence": {"deviceAccess": "sometimes"}})),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("spec.evidence.deviceAccess") && error.contains("sometimes"),
        "{error}"
    );
    assert!(
        error.contains("always"),
        "lists the supported values: {error}"
    );
    let error = apply(
        &env,
        "f",
        spec(json!({"evidence": {"deviceAccessMaxDevices": 0}})),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("evidence.deviceAccessMaxDevices must be between 1 and 1000000"),
        "{error}"
    );
    apply(
        &env,
        "g",
        spec(json!({"evidence": {"deviceAccess": "always", "deviceAccessMaxDevices": 5000}})),
    )
    .await
    .unwrap();
    let stored = env.connections("settings").get("g").await.unwrap();
    assert_eq!(
        stored.spec.device_access().mode,
        jumpcloud_operator::device_access::DeviceAccessMode::Always
    );
    // Merging over the defaults, with null removing a family, is accepted and kept.
    apply(
        &env,
        "d",
        spec(json!({"controls": {"osBaselines": {"darwin": "15.0", "debian": null}}})),
    )
    .await
    .unwrap();
    let stored = env.connections("settings").get("d").await.unwrap();
    let baselines = stored.spec.controls.unwrap().os_baselines_or_default();
    assert_eq!(baselines["darwin"], "15.0");
    assert!(!baselines.contains_key("debian"), "{baselines:?}");
    assert_eq!(baselines["windows"], "10.0.22631");
}
