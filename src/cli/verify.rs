use std::path::PathBuf;
use std::process::ExitCode;

use super::snapshots::StoreArgs;
use crate::store::verify::{VerifyReport, verify_connection};
use crate::store::{StoreError, VerifyingKey};

/// Verify an evidence store offline: re-hash every blob, check every manifest and the hash
/// chain, and (with --public-key) every signature. Exits 1 when any problem is found, naming
/// each problem's path; 2 when the store cannot be read.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// Ed25519 public key (PEM, 32 raw bytes or 64 hex characters): every snapshot must carry
    /// a valid signature by its private key.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl VerifyArgs {
    pub async fn run(self) -> ExitCode {
        match self.verify().await {
            Ok(reports) => {
                if self.json {
                    match serde_json::to_string_pretty(&reports) {
                        Ok(json) => println!("{json}"),
                        Err(error) => eprintln!("error: {error}"),
                    }
                } else {
                    print_reports(&reports, self.public_key.is_some());
                }
                if reports.iter().all(VerifyReport::ok) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(2)
            }
        }
    }

    async fn verify(&self) -> Result<Vec<VerifyReport>, StoreError> {
        let key = match &self.public_key {
            Some(path) => Some(VerifyingKey::from_file(path)?),
            None => None,
        };
        let mut reports = Vec::new();
        for connection in self.store.connections().await? {
            reports.push(verify_connection(&connection, key.as_ref()).await?);
        }
        Ok(reports)
    }
}

fn print_reports(reports: &[VerifyReport], with_key: bool) {
    if reports.is_empty() {
        println!("no connections in the store");
    }
    for report in reports {
        let signatures = if with_key {
            format!("{} signature(s) verified", report.signed)
        } else {
            format!("{} signed (give --public-key to check)", report.signed)
        };
        println!(
            "{}: {} snapshot(s), {} blob(s), {} bytes re-hashed, {signatures}",
            report.connection, report.snapshots, report.blobs, report.blob_bytes
        );
        for note in &report.notes {
            println!("  note: {note}");
        }
        for problem in &report.problems {
            println!("  PROBLEM {problem}");
        }
        if report.ok() {
            println!("  OK");
        } else {
            println!("  {} problem(s)", report.problems.len());
        }
    }
}
