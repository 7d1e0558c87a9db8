//! `jumpcloud-operator simulate`: the ready line with every region's URL, the credentials file,
//! and no key on stdout or stderr.

mod simulator_support;

use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn simulate_subcommand_prints_urls_and_writes_credentials_without_leaking_keys() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_jumpcloud-operator"))
        .args([
            "simulate",
            "--users",
            "5",
            "--devices",
            "5",
            "--regions",
            "us,eu",
            "--credentials-file",
        ])
        .arg(&credentials)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let us = ready["regions"]["us"].as_str().unwrap().to_string();
    assert!(us.starts_with("http://127.0.0.1:") && ready["regions"]["eu"].is_string());

    let written: Value = serde_json::from_slice(&std::fs::read(&credentials).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&credentials)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let admins = written["regions"]["us"]["admins"].as_array().unwrap();
    let key = admins
        .iter()
        .find(|a| a["role_name"] == "Read Only")
        .unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let response = reqwest::Client::new()
        .get(format!("{us}/api/systemusers"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["totalCount"], 5);
    // The service account's client id and secret are in the file too, and get a token.
    let account = written["regions"]["us"]["service_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role_name"] == "Read Only")
        .unwrap()
        .clone();
    let secret = account["secrets"][0]["secret"].as_str().unwrap().to_owned();
    let token = reqwest::Client::new()
        .post(format!("{us}/oauth2/token"))
        .basic_auth(account["client_id"].as_str().unwrap(), Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=api")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);

    // SIGTERM-free stop that works everywhere; then check nothing printed a key.
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let printed = format!(
        "{line}{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for admin in admins {
        if let Some(k) = admin["api_key"].as_str() {
            assert!(!printed.contains(k), "a key was printed");
            assert!(!printed.contains(&k[..12]));
        }
    }
    assert!(!printed.contains(&secret), "a client secret was printed");
    assert!(printed.contains("Read Only"), "{printed}");
}
