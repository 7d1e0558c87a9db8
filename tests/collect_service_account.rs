//! `collect` with a service account (`--client-id-file`/`--client-secret-file`, or `-env`)
//! against the simulator: a verifiable snapshot, refusals that say which and exit 3, usage
//! errors that name the file or variable, and neither the secret nor a token in any output.

mod client_support;

use std::path::{Path, PathBuf};

use client_support::*;
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::{OrgSize, Simulator};
use secrecy::ExposeSecret;

struct Run {
    code: Option<i32>,
    output: String,
}

async fn run(args: Vec<String>, env: Vec<(&'static str, String)>) -> Run {
    tokio::task::spawn_blocking(move || {
        let mut command = assert_cmd::Command::cargo_bin("jumpcloud-operator").unwrap();
        command.args(&args).env_remove("RUST_LOG");
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        Run {
            code: output.status.code(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    })
    .await
    .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{text}\n")).unwrap();
    path
}

fn args(sim: &Simulator, credential: &[String], out: &Path) -> Vec<String> {
    let mut args = vec!["collect".to_owned()];
    args.extend(credential.iter().cloned());
    args.extend([
        "--base-url".to_owned(),
        sim.base_url(Region::Us).unwrap().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
    ]);
    args
}

/// `--client-id-file ID --client-secret-file SECRET`.
fn from_files(id: &Path, secret: &Path) -> Vec<String> {
    vec![
        "--client-id-file".into(),
        id.display().to_string(),
        "--client-secret-file".into(),
        secret.display().to_string(),
    ]
}

fn all_files(dir: &Path) -> String {
    let mut text = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return text;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&all_files(&path));
        } else {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_account_collects_a_verifiable_snapshot_and_leaks_nothing() {
    let sim = simulator(OrgSize::small()).await;
    let account = sim.read_only_service_account(Region::Us);
    let secret = account.secrets[0].1.expose_secret().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let id_file = write(dir.path(), "id.txt", &account.client_id);
    let secret_file = write(dir.path(), "secret.txt", &secret);
    let out = dir.path().join("evidence");
    let credential = [
        "--client-id-file".to_owned(),
        id_file.display().to_string(),
        "--client-secret-file".to_owned(),
        secret_file.display().to_string(),
    ];
    let collected = run(
        args(&sim, &credential, &out),
        vec![("RUST_LOG", "debug".into())],
    )
    .await;
    assert_eq!(collected.code, Some(0), "{}", collected.output);
    assert!(
        collected.output.contains("service account secret"),
        "{}",
        collected.output
    );
    let verified = run(
        vec!["verify".into(), "--store".into(), out.display().to_string()],
        vec![],
    )
    .await;
    assert_eq!(verified.code, Some(0), "{}", verified.output);
    let requests = control(&sim).requests().await.unwrap();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path == "/oauth2/token")
            .count(),
        1,
        "one token for the whole collection"
    );
    for (what, text) in [("output", &collected.output), ("store", &all_files(&out))] {
        assert!(!text.contains(&secret), "the client secret in the {what}");
        assert!(!text.contains("jcat_"), "an access token in the {what}");
    }

    // The same from environment variables.
    let out_env = dir.path().join("evidence-env");
    let from_env = run(
        args(
            &sim,
            &[
                "--client-id-env".into(),
                "JC_CLIENT_ID".into(),
                "--client-secret-env".into(),
                "JC_CLIENT_SECRET".into(),
            ],
            &out_env,
        ),
        vec![
            ("JC_CLIENT_ID", account.client_id.clone()),
            ("JC_CLIENT_SECRET", secret.clone()),
        ],
    )
    .await;
    assert_eq!(from_env.code, Some(0), "{}", from_env.output);
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_exit_3_and_say_which_and_usage_errors_name_the_source() {
    let sim = simulator(OrgSize::small()).await;
    let account = sim.read_only_service_account(Region::Us);
    let dir = tempfile::tempdir().unwrap();
    let id_file = write(dir.path(), "id.txt", &account.client_id);
    let wrong = write(dir.path(), "wrong.txt", "not-the-secret");
    let out = dir.path().join("evidence");
    let refused = run(args(&sim, &from_files(&id_file, &wrong), &out), vec![]).await;
    assert_eq!(refused.code, Some(3), "{}", refused.output);
    assert!(
        refused.output.contains("invalid_client"),
        "{}",
        refused.output
    );
    assert!(
        !refused.output.contains("not-the-secret"),
        "{}",
        refused.output
    );
    assert!(all_files(&out).is_empty() || !out.join("snapshots").exists());

    control(&sim)
        .expire_client_secret(&account.id, &account.secrets[0].0)
        .await
        .unwrap();
    let expired_secret = write(
        dir.path(),
        "expired.txt",
        account.secrets[0].1.expose_secret(),
    );
    let expired = run(
        args(&sim, &from_files(&id_file, &expired_secret), &out),
        vec![],
    )
    .await;
    assert_eq!(expired.code, Some(3), "{}", expired.output);
    assert!(
        expired.output.contains("create a new client secret"),
        "{}",
        expired.output
    );

    let empty = write(dir.path(), "empty.txt", " ");
    let empty_run = run(args(&sim, &from_files(&id_file, &empty), &out), vec![]).await;
    assert_eq!(empty_run.code, Some(2), "{}", empty_run.output);
    assert!(
        empty_run.output.contains(&empty.display().to_string()),
        "{}",
        empty_run.output
    );

    // A client id without a secret, or with an API key, is refused before anything runs.
    let alone = run(
        args(
            &sim,
            &["--client-id-file".into(), id_file.display().to_string()],
            &out,
        ),
        vec![],
    )
    .await;
    assert_eq!(alone.code, Some(2), "{}", alone.output);
    let both = run(
        args(
            &sim,
            &[
                "--client-id-file".into(),
                id_file.display().to_string(),
                "--client-secret-file".into(),
                wrong.display().to_string(),
                "--api-key-file".into(),
                wrong.display().to_string(),
            ],
            &out,
        ),
        vec![],
    )
    .await;
    assert_eq!(both.code, Some(2), "{}", both.output);
}
