//! The CRD: generated file in sync, examples valid, bad manifests refused with the field named.

use std::path::Path;

use jumpcloud_operator::crd::{self, JumpCloudConnection};
use jumpcloud_operator::region::Region;
use kube::CustomResourceExt;
use serde_json::{Value, json};

const CRD_FILES: [&str; 2] = [
    "crds/jumpcloudconnections.yaml",
    "charts/jumpcloud-operator/crds/jumpcloudconnections.yaml",
];

#[test]
fn crds_folder_and_chart_match_the_generated_crd() {
    let generated = crd::crd_yaml().unwrap();
    for file in CRD_FILES {
        let on_disk = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
            .unwrap_or_default();
        assert!(
            generated == on_disk,
            "{file} is out of date with src/crd.rs; regenerate it with:\n    \
             cargo run -- crd > {file}"
        );
    }
}

#[test]
fn crd_subcommand_prints_the_same_crd() {
    // JUMPCLOUD_OPERATOR_BIN: see tests/operator_support (shared target directories).
    let binary = std::env::var_os("JUMPCLOUD_OPERATOR_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_jumpcloud-operator").into());
    let output = std::process::Command::new(binary)
        .arg("crd")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        crd::crd_yaml().unwrap()
    );
}

#[test]
fn crd_identity_columns_and_status_subresource() {
    let crd = JumpCloudConnection::crd();
    assert_eq!(crd.spec.group, "jumpcloud-operator.io");
    assert_eq!(crd.spec.names.short_names, Some(vec!["jcc".to_owned()]));
    assert_eq!(
        crd.spec.names.categories,
        Some(vec!["jumpcloud".to_owned(), "compliance".to_owned()])
    );
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let columns: Vec<_> = version
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .filter(|c| c.priority.unwrap_or(0) == 0)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        columns,
        [
            "Display Name",
            "Org",
            "Ready",
            "Key",
            "Privilege",
            "Devices",
            "Users",
            "Failing",
            "Errors",
            "Last Sync",
            "Age"
        ]
    );
    let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
    let region = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["region"];
    assert_eq!(region["enum"], json!(["us", "eu", "in"]));
    assert_eq!(region["default"], json!("us"));
    let conditions = &schema["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], json!("map"));
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
    // spec.controls: thresholds carry ranges, so the API server refuses e.g. negative days
    // naming the field (spec.controls.staleDeviceDays).
    let controls = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["controls"];
    assert_eq!(controls["type"], json!("object"));
    let stale = &controls["properties"]["staleDeviceDays"];
    assert_eq!(stale["type"], json!("integer"));
    assert_eq!(stale["minimum"], json!(1.0));
    assert_eq!(stale["maximum"], json!(3650.0));
    assert_eq!(
        controls["properties"]["disabledControls"]["items"]["type"],
        json!("string")
    );
    let failing = &schema["openAPIV3Schema"]["properties"]["status"]["properties"]["controls"]["properties"]
        ["failingIds"];
    assert_eq!(failing["type"], json!("array"));
}

/// `retentionDays: -1` once got ">= 0" from the schema and "between 1 and 3650" from the rule:
/// the integer fields carry one rule, so the schema must not add a bound of its own.
#[test]
fn evidence_days_have_one_rule_each() {
    let crd = serde_json::to_value(JumpCloudConnection::crd()).unwrap();
    let evidence = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["evidence"]["properties"];
    for field in ["retentionDays", "eventsDays", "deviceAccessMaxDevices"] {
        let schema = evidence[field].as_object().unwrap();
        assert!(!schema.contains_key("minimum"), "{field}: {schema:?}");
        assert!(!schema.contains_key("maximum"), "{field}: {schema:?}");
        assert_eq!(
            schema["x-kubernetes-validations"].as_array().unwrap().len(),
            1
        );
    }
}

/// `spec.evidence.deviceAccess` takes only its three values (the schema's enum refuses any
/// other, naming them); unset, it is `auto` up to 1000 devices.
#[test]
fn device_access_is_an_enum_with_a_documented_default() {
    let crd = serde_json::to_value(JumpCloudConnection::crd()).unwrap();
    let evidence = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["evidence"]["properties"];
    assert_eq!(
        evidence["deviceAccess"]["enum"],
        json!(["auto", "always", "never"])
    );
    let c = connection(json!({"apiKeySecretRef": {"name": "jc"}}));
    let access = c.spec.device_access();
    assert_eq!(
        (access.mode, access.max_devices),
        (
            jumpcloud_operator::device_access::DeviceAccessMode::Auto,
            1000
        )
    );
    let c = connection(
        json!({"apiKeySecretRef": {"name": "jc"}, "evidence": {"deviceAccess": "never", "deviceAccessMaxDevices": 50}}),
    );
    c.validate_cel().unwrap();
    let access = c.spec.device_access();
    assert_eq!(
        (access.mode, access.max_devices),
        (
            jumpcloud_operator::device_access::DeviceAccessMode::Never,
            50
        )
    );
    let bad = serde_json::from_value::<JumpCloudConnection>(json!({
        "apiVersion": "jumpcloud-operator.io/v1alpha1", "kind": "JumpCloudConnection",
        "metadata": {"name": "x"}, "spec": {"apiKeySecretRef": {"name": "jc"}, "evidence": {"deviceAccess": "sometimes"}}
    }));
    assert!(bad.unwrap_err().to_string().contains("sometimes"));
}

/// `spec.controls` refuses what `--settings` refuses: unknown control ids (an enum from the
/// catalog) and OS versions that are not dotted numbers (a pattern).
#[test]
fn controls_schema_refuses_unknown_ids_and_bad_versions() {
    let crd = serde_json::to_value(JumpCloudConnection::crd()).unwrap();
    let controls = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["controls"];
    let ids: Vec<&str> = controls["properties"]["disabledControls"]["items"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let catalog: Vec<&str> = jumpcloud_operator::controls::CATALOG
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, catalog);
    let versions = &controls["properties"]["osBaselines"]["additionalProperties"];
    assert_eq!(versions["pattern"], "^[0-9]+([.][0-9]+)*$");
    assert_eq!(
        versions["nullable"], true,
        "null removes a default baseline"
    );
}

fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
    .unwrap()
}

fn connections_in(yaml: &str) -> Vec<JumpCloudConnection> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(yaml).unwrap();
    documents
        .into_iter()
        .filter(|d| d["kind"] == "JumpCloudConnection")
        .map(|d| serde_json::from_value(d).unwrap())
        .collect()
}

#[test]
fn examples_deserialise_and_pass_the_schema_rules() {
    let mut seen = 0;
    for (file, region, org) in [
        ("connection.yaml", Region::Us, None),
        ("connection-eu.yaml", Region::Eu, None),
        (
            "connection-multi-tenant.yaml",
            Region::Us,
            Some("5f0c1b2a3d4e5f6a7b8c9d0e"),
        ),
    ] {
        for connection in connections_in(&example(file)) {
            connection
                .validate_cel()
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            connection.spec.intervals().unwrap();
            assert_eq!(connection.spec.region, region, "{file}");
            assert_eq!(connection.spec.org_id.as_deref(), org, "{file}");
            if let Some(controls) = &connection.spec.controls {
                // What `--settings` would refuse (control ids, OS version form).
                controls.check().unwrap_or_else(|e| panic!("{file}: {e}"));
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
    let documents: Vec<Value> = serde_saphyr::from_multiple(&example("connection.yaml")).unwrap();
    assert!(documents.iter().any(|d| d["kind"] == "Secret"));
}

fn connection(spec: Value) -> JumpCloudConnection {
    serde_json::from_value(json!({
        "apiVersion": "jumpcloud-operator.io/v1alpha1",
        "kind": "JumpCloudConnection",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": spec,
    }))
    .unwrap()
}

fn refused(spec: Value) -> String {
    match connection(spec.clone()).validate_cel() {
        Ok(()) => panic!("accepted {spec}"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn defaults_fill_a_minimal_spec() {
    let c = connection(json!({"apiKeySecretRef": {"name": "jc"}}));
    c.validate_cel().unwrap();
    assert_eq!(c.spec.api_key_secret_ref.as_ref().unwrap().key, "api-key");
    assert_eq!(c.spec.region, Region::Us);
    let intervals = c.spec.intervals().unwrap();
    assert_eq!(intervals.sync.as_secs(), 6 * 3600);
    assert_eq!(intervals.key_check.as_secs(), 300);
    assert!(!c.spec.suspend);
}

#[test]
fn bad_manifests_are_refused_with_the_field_named() {
    let base = |extra: Value| {
        let mut spec = json!({"apiKeySecretRef": {"name": "jc"}});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    };
    let cases = [
        (
            base(json!({"interval": "6 hours"})),
            "interval must be a duration",
        ),
        (
            base(json!({"interval": "1m"})),
            "interval must be between 5m and 168h",
        ),
        (
            base(json!({"keyCheckInterval": "5s"})),
            "keyCheckInterval must be between 30s",
        ),
        (
            base(json!({"timeout": "abc"})),
            "timeout must be a duration",
        ),
        (
            base(json!({"interval": "10m", "timeout": "1h"})),
            "timeout must not be longer than interval",
        ),
        (
            base(json!({"orgId": "acme"})),
            "orgId must be the 24-character",
        ),
        (
            base(json!({"displayName": ""})),
            "displayName must be 1 to 128",
        ),
        (
            json!({"apiKeySecretRef": {"name": "Bad_Name"}}),
            "apiKeySecretRef.name must be a Secret name",
        ),
        (
            json!({"apiKeySecretRef": {"name": "jc", "key": "a/b"}}),
            "apiKeySecretRef.key must be a Secret data key",
        ),
        (
            base(json!({"evidence": {"eventsDays": 365}})),
            "evidence.eventsDays",
        ),
        (
            base(json!({"evidence": {"retentionDays": 0}})),
            "evidence.retentionDays must be between 1 and 3650",
        ),
        (
            base(json!({"evidence": {"deviceAccessMaxDevices": 0}})),
            "evidence.deviceAccessMaxDevices must be between 1 and 1000000",
        ),
        (json!({}), "set exactly one of spec.apiKeySecretRef"),
        (
            base(json!({"serviceAccountSecretRef": {"name": "sa"}})),
            "set exactly one of spec.apiKeySecretRef",
        ),
        (
            json!({"serviceAccountSecretRef": {"name": "sa"}, "region": "in"}),
            "needs spec.serviceAccountSecretRef.tokenUrl",
        ),
        (
            json!({"serviceAccountSecretRef": {"name": "sa", "tokenUrl": "http://evil.example/token"}}),
            "tokenUrl must be an https URL",
        ),
        (
            json!({"serviceAccountSecretRef": {"name": "sa", "clientSecretKey": "a/b"}}),
            "clientSecretKey must be a Secret data key",
        ),
    ];
    for (spec, expected) in cases {
        let message = refused(spec.clone());
        assert!(message.contains(expected), "{spec}: {message}");
    }
    // The enum and required fields are enforced by the schema itself (and serde here).
    let bad_region = serde_json::from_value::<JumpCloudConnection>(json!({
        "apiVersion": "jumpcloud-operator.io/v1alpha1", "kind": "JumpCloudConnection",
        "metadata": {"name": "x"}, "spec": {"apiKeySecretRef": {"name": "jc"}, "region": "mars"}
    }));
    assert!(bad_region.unwrap_err().to_string().contains("mars"));
    // A service account reference alone is valid, with the documented default keys.
    let account = serde_json::from_value::<JumpCloudConnection>(json!({
        "apiVersion": "jumpcloud-operator.io/v1alpha1", "kind": "JumpCloudConnection",
        "metadata": {"name": "x"}, "spec": {"serviceAccountSecretRef": {"name": "sa"}}
    }))
    .unwrap();
    let account_ref = account.spec.service_account_secret_ref.as_ref().unwrap();
    assert_eq!(
        (
            account_ref.client_id_key.as_str(),
            account_ref.client_secret_key.as_str()
        ),
        ("client-id", "client-secret")
    );
    assert!(account.spec.credential_ref().is_ok());
}
