//! `snapshots`, `verify` and `diff` through the real binary.

use assert_cmd::Command;
use jumpcloud_operator::store::{
    ConnectionStore, EvidenceStore, KindDraft, SigningKey, SnapshotDraft,
};

async fn snapshot(
    c: &ConnectionStore,
    users: &str,
    devices: &str,
    day: i64,
    key: &SigningKey,
) -> String {
    let mut kinds = Vec::new();
    for (kind, data) in [("users", users), ("devices", devices)] {
        let blob = c
            .put_blob(bytes::Bytes::from(data.to_owned()))
            .await
            .unwrap();
        kinds.push(KindDraft {
            kind: kind.into(),
            status: "complete".into(),
            blobs: vec![blob],
        });
    }
    let now = jiff::Timestamp::from_second(1_767_225_600 + day * 86_400).unwrap();
    let draft = SnapshotDraft {
        kinds,
        collection: serde_json::json!({}),
        ..Default::default()
    };
    c.commit(draft, Some(key), now)
        .await
        .unwrap()
        .id
        .to_string()
}

#[test]
fn list_verify_and_diff_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let key = SigningKey::from_seed([4; 32]);
    let public = dir.path().join("public.hex");
    std::fs::write(&public, key.verifying_key().to_hex()).unwrap();
    let (a, b) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = EvidenceStore::open(&url).unwrap();
        let c = store.connection(&"team/acme".parse().unwrap());
        let a = snapshot(&c,
            "{\"_id\":\"u1\",\"username\":\"ada\",\"mfa\":{\"configured\":true}}\n{\"_id\":\"u2\",\"username\":\"bob\"}\n",
            "{\"_id\":\"d1\",\"hostname\":\"mac-1\",\"fde\":{\"active\":true}}\n", 0, &key).await;
        let b = snapshot(&c,
            "{\"_id\":\"u1\",\"username\":\"ada\",\"mfa\":{\"configured\":false}}\n{\"_id\":\"u2\",\"username\":\"bob\"}\n",
            "{\"_id\":\"d1\",\"hostname\":\"mac-1\",\"fde\":{\"active\":false}}\n", 1, &key).await;
        (a, b)
    });

    let out = Command::cargo_bin("jumpcloud-operator")
        .unwrap()
        .args(["snapshots", "--store", &url])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("team/acme: 2 snapshot(s)") && text.contains(&a) && text.contains("yes"),
        "{text}"
    );

    Command::cargo_bin("jumpcloud-operator")
        .unwrap()
        .args(["verify", "--store", &url, "--public-key"])
        .arg(&public)
        .assert()
        .success();

    let out = Command::cargo_bin("jumpcloud-operator")
        .unwrap()
        .args(["diff", "--store", &url, &a, &b])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("users: 0 added, 0 removed, 1 changed"),
        "{text}"
    );
    assert!(
        text.contains("ada (u1)") && text.contains("mfa.configured: true -> false"),
        "{text}"
    );
    assert!(text.contains("fde.active: true -> false"), "{text}");
    let out = Command::cargo_bin("jumpcloud-operator")
        .unwrap()
        .args(["diff", "--json", "--store", &url, &a[..20], &b])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        json["kinds"][1]["changed"][0]["fields"][0]["path"],
        "mfa.configured"
    );

    // Tamper with the first manifest: verify fails and names it (its successor's link, and its
    // signature, which is named by the digest it had).
    let manifest = dir
        .path()
        .join("team/acme/snapshots/00000000000000000000.json");
    let edited = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("\"sequence\":0", "\"sequence\":0 ");
    std::fs::write(&manifest, edited).unwrap();
    let out = Command::cargo_bin("jumpcloud-operator")
        .unwrap()
        .args(["verify", "--store", &url, "--public-key"])
        .arg(&public)
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("chain broken: team/acme/snapshots/00000000000000000001.json")
            && text.contains("signature missing")
            && text.contains(&format!("{a}.json.sig")),
        "{text}"
    );
}
