//! The OSCAL mapping: states, tokens, UUIDs, evidence digests, the embedded plan, refusals.

use base64::Engine as _;
use serde_json::{Value, json};

use super::model::Prop;
use super::results::objective_state;
use super::*;
use crate::controls::{ControlSettings, ControlStatus, EvidenceSet, SnapshotMeta};
use crate::report::{Report, build_report};

const MANIFEST: &str = "b4b2af6a0998188a072c30f624db495772f0a8e142a3751c664e0fefe72e834e";
const DEVICES_BLOB: &str = "99ae6e9c1736dcff05a7d0dac66b2c73fa648cf40a8b57228f397782df067b71";
const EMPTY_BLOB: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn at() -> jiff::Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

/// A stored-looking report: one device (failing most endpoint controls), Directory Insights
/// events in two blobs, two empty kinds sharing the empty blob, the rest missing (errors).
fn report() -> Report {
    let evidence = EvidenceSet {
        meta: SnapshotMeta {
            org_id: "5f0c1a2b3c4d5e6f7a8b9c0d".into(),
            org_name: "Acme <b>Corp</b>".into(),
            region: Some("us".into()),
            started_at: Some("2026-05-31T23:59:00Z".parse().unwrap()),
            finished_at: Some(at()),
            connection: Some("compliance/acme".into()),
            snapshot_id: Some("20260601T000000Z-b4b2af6a0998188a".into()),
            sequence: Some(3),
            manifest_sha256: Some(MANIFEST.into()),
            ..SnapshotMeta::default()
        },
        ..EvidenceSet::default()
    }
    .with_kind(
        "devices",
        vec![json!({"_id": "d1", "displayName": "mac", "osFamily": "darwin"})],
    )
    .with_kind("directory_insights_events", vec![])
    .with_children("suspended_user_systems", "user_id", vec![])
    .with_children("suspended_user_groups", "user_id", vec![]);
    let mut report = build_report(&evidence, None, &ControlSettings::default(), at());
    for info in &mut report.evidence {
        info.blobs = match info.kind.as_str() {
            "devices" => vec![DEVICES_BLOB.into()],
            "directory_insights_events" => vec!["a".repeat(64), "b".repeat(64)],
            _ => vec![EMPTY_BLOB.into()],
        };
    }
    report
}

fn results(report: &Report) -> Value {
    serde_json::from_str(&render_oscal_results(report).unwrap()).unwrap()
}

fn finding<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["assessment-results"]["results"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"]["target-id"] == control_token(id))
        .unwrap_or_else(|| panic!("no finding for {id}"))
}

fn resource<'a>(doc: &'a Value, href: &str) -> &'a Value {
    let uuid = href.strip_prefix('#').expect("a fragment href");
    doc["assessment-results"]["back-matter"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uuid"] == uuid)
        .unwrap_or_else(|| panic!("no resource {uuid}"))
}

#[test]
fn only_a_passing_control_is_satisfied() {
    assert_eq!(objective_state(ControlStatus::Pass), "satisfied");
    for status in [
        ControlStatus::Fail,
        ControlStatus::NotApplicable,
        ControlStatus::Error,
    ] {
        assert_eq!(objective_state(status), "not-satisfied", "{status}");
    }
}

#[test]
fn every_control_is_a_finding_with_its_result_as_reason_and_its_references() {
    let report = report();
    let doc = results(&report);
    let mut seen = Vec::new();
    for r in &report.results {
        let f = finding(&doc, &r.id);
        let status = &f["target"]["status"];
        assert_eq!(f["target"]["type"], "objective-id");
        assert_eq!(status["state"], objective_state(r.status), "{}", r.id);
        assert_eq!(status["reason"], r.status.as_str());
        let props = f["props"].as_array().unwrap();
        let values = |name: &str| -> Vec<String> {
            props
                .iter()
                .filter(|p| p["name"] == name && p["ns"] == NS)
                .map(|p| p["value"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(values("soc2-tsc"), r.references.soc2);
        assert_eq!(values("iso-iec-27001-2022-annex-a"), r.references.iso27001);
        assert_eq!(values("control-id"), vec![r.id.clone()]);
        if matches!(
            r.status,
            ControlStatus::NotApplicable | ControlStatus::Error
        ) {
            let description = f["description"].as_str().unwrap();
            assert!(description.starts_with("Not evaluated"), "{description}");
            assert!(
                status["remarks"]
                    .as_str()
                    .unwrap()
                    .contains("Not evaluated")
            );
        }
        seen.push(r.status);
    }
    // The sparse org covers the states that need a decision.
    for status in [ControlStatus::Fail, ControlStatus::Error] {
        assert!(seen.contains(&status), "no {status} result to check");
    }
}

#[test]
fn control_ids_become_lower_case_oscal_tokens() {
    for def in crate::controls::CATALOG {
        let token = control_token(def.id);
        assert!(
            token.starts_with(|c: char| c.is_ascii_lowercase()),
            "{token}"
        );
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{token}"
        );
    }
    assert_eq!(
        control_token("JC-E1-DISK-ENCRYPTION"),
        "jc-e1-disk-encryption"
    );
}

#[test]
fn rendering_is_deterministic_and_uuids_are_v5_of_the_manifest_digest() {
    let report = report();
    assert_eq!(
        render_oscal_results(&report).unwrap(),
        render_oscal_results(&report).unwrap()
    );
    assert_eq!(
        render_oscal_plan(&report).unwrap(),
        render_oscal_plan(&report).unwrap()
    );
    let doc = results(&report);
    let uuid = doc["assessment-results"]["uuid"].as_str().unwrap();
    let parsed = uuid::Uuid::parse_str(uuid).unwrap();
    assert_eq!(parsed.get_version_num(), 5);
    assert_eq!(uuid, Uuids::of(MANIFEST).of_path("assessment-results"));

    // Another snapshot: other UUIDs throughout.
    let mut other = report.clone();
    other.snapshot.manifest_sha256 = Some("c".repeat(64));
    let other = results(&other);
    assert_ne!(other["assessment-results"]["uuid"], uuid);
    assert_ne!(
        other["assessment-results"]["results"][0]["findings"][0]["uuid"],
        doc["assessment-results"]["results"][0]["findings"][0]["uuid"]
    );
}

#[test]
fn observations_name_every_blob_of_every_kind_read_and_the_manifest() {
    let report = report();
    let doc = results(&report);
    let i10 = finding(&doc, "JC-I10-AUDIT-LOGGING");
    let observation_uuid = &i10["related-observations"][0]["observation-uuid"];
    let observation = doc["assessment-results"]["results"][0]["observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| &o["uuid"] == observation_uuid)
        .expect("the finding's observation exists");
    assert_eq!(observation["methods"], json!(["TEST"]));
    assert_eq!(observation["collected"], "2026-06-01T00:00:00Z");
    let hashes: Vec<String> = observation["relevant-evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["href"].as_str())
        .map(|href| {
            resource(&doc, href)["rlinks"][0]["hashes"][0]["value"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // The manifest, then both blobs of the events; the organization kind is not in the snapshot.
    assert_eq!(
        hashes,
        vec![MANIFEST.into(), "a".repeat(64), "b".repeat(64)]
    );
    let descriptions = observation["relevant-evidence"].to_string();
    assert!(descriptions.contains("blob 2 of 2"), "{descriptions}");
    assert!(
        descriptions.contains("Evidence kind organization: not in the snapshot."),
        "{descriptions}"
    );
    let manifest = resource(
        &doc,
        observation["relevant-evidence"][0]["href"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        manifest["rlinks"][0]["href"],
        "compliance/acme/snapshots/00000000000000000003.json"
    );
}

#[test]
fn a_blob_shared_by_kinds_is_one_resource_with_its_hash() {
    let doc = results(&report());
    let resources = doc["assessment-results"]["back-matter"]["resources"]
        .as_array()
        .unwrap();
    let empty: Vec<&Value> = resources
        .iter()
        .filter(|r| r["rlinks"][0]["hashes"][0]["value"] == EMPTY_BLOB)
        .collect();
    assert_eq!(empty.len(), 1, "{empty:#?}");
    assert_eq!(empty[0]["rlinks"][0]["hashes"][0]["algorithm"], "SHA-256");
    assert_eq!(
        empty[0]["rlinks"][0]["href"],
        format!("compliance/acme/blobs/sha256/{EMPTY_BLOB}")
    );
    let kinds: Vec<&Value> = empty[0]["props"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["value"])
        .collect();
    assert_eq!(
        kinds,
        vec![
            &json!("suspended_user_groups"),
            &json!("suspended_user_systems")
        ]
    );
    // Manifest, plan, devices, the two event blobs and the empty blob.
    assert_eq!(resources.len(), 6);
}

#[test]
fn the_results_import_the_plan_embedded_and_hashed() {
    let report = report();
    let doc = results(&report);
    let plan = render_oscal_plan(&report).unwrap();
    let href = doc["assessment-results"]["import-ap"]["href"]
        .as_str()
        .unwrap();
    let resource = resource(&doc, href);
    let embedded = base64::engine::general_purpose::STANDARD
        .decode(resource["base64"]["value"].as_str().unwrap())
        .unwrap();
    assert_eq!(embedded, plan.as_bytes());
    assert_eq!(resource["rlinks"][0]["href"], PLAN_FILE);
    assert_eq!(
        resource["rlinks"][0]["hashes"][0]["value"],
        crate::store::sha256_hex(plan.as_bytes())
    );
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let plan = &plan["assessment-plan"];
    // The plan's subject is the results' organization party, and its SSP placeholder resolves.
    assert_eq!(
        plan["assessment-subjects"][0]["include-subjects"][0]["subject-uuid"],
        doc["assessment-results"]["metadata"]["parties"][0]["uuid"]
    );
    let ssp = plan["import-ssp"]["href"].as_str().unwrap();
    assert_eq!(
        plan["back-matter"]["resources"][0]["uuid"],
        ssp.strip_prefix('#').unwrap()
    );
    assert_eq!(
        plan["reviewed-controls"],
        doc["assessment-results"]["results"][0]["reviewed-controls"]
    );
}

#[test]
fn markup_from_the_org_is_escaped_and_props_are_never_blank() {
    let doc = results(&report());
    let title = doc["assessment-results"]["metadata"]["title"]
        .as_str()
        .unwrap();
    assert!(title.contains("Acme &lt;b&gt;Corp&lt;/b&gt;"), "{title}");
    assert!(Prop::ours("name", " \n ").is_none());
    assert_eq!(Prop::ours("name", " a\n b ").unwrap().value, "a b");
}

#[test]
fn a_report_not_of_the_store_is_refused_naming_the_field() {
    let mut report = report();
    report.snapshot.manifest_sha256 = None;
    let error = render_oscal_results(&report).unwrap_err().to_string();
    assert!(error.contains("snapshot.manifestSha256"), "{error}");
    assert!(render_oscal_plan(&report).is_err());

    let mut report = self::report();
    let devices = report
        .evidence
        .iter_mut()
        .find(|k| k.kind == "devices")
        .unwrap();
    devices.blobs.clear();
    let error = render_oscal_results(&report).unwrap_err().to_string();
    assert!(error.contains("`devices` has 1 records"), "{error}");
}

#[test]
fn an_empty_kind_stored_without_a_blob_is_named_without_a_digest() {
    let mut report = report();
    let events = report
        .evidence
        .iter_mut()
        .find(|k| k.kind == "directory_insights_events")
        .unwrap();
    assert_eq!(events.records, 0);
    events.blobs.clear();
    let doc = results(&report);
    let text = doc.to_string();
    assert!(
        text.contains(
            "Evidence kind directory_insights_events: no records, complete; stored without a blob."
        ),
        "{text}"
    );
    assert!(!text.contains(&"a".repeat(64)));
}
