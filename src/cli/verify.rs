use std::path::PathBuf;
use std::process::ExitCode;

use super::snapshots::StoreArgs;
use crate::store::verify::{HeadAnchor, VerifyReport, check_head, verify_connection};
use crate::store::{StoreError, VerifyingKey};

/// Verify an evidence store offline: re-hash every blob, check every manifest and the hash
/// chain (no fork; a snapshot missing without a retention record is a problem), with
/// --public-key every signature, and with --expect-head / --expect-sequence the head of the
/// chain against an anchor kept outside the store. Exits 1 when any problem is found, naming
/// each problem's path, or the store cannot be read; 7 when there is nothing to verify (no
/// snapshot at that store and connection); 2 when the arguments are wrong (README "Exit codes").
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    jumpcloud-operator verify --store evidence --public-key signing.pub\n  \
    jumpcloud-operator verify --store s3://bucket/jc --connection compliance/acme \\\n    \
    --expect-head \"$(kubectl get jumpcloudconnection acme -n compliance -o jsonpath='{.status.evidence.snapshot.digest}')\"")]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// Ed25519 public key (PEM, 32 raw bytes or 64 hex characters): every snapshot must carry
    /// a valid signature by its private key.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,

    /// The newest snapshot must be exactly this manifest digest (`sha256:<64 hex>` or the 64
    /// hex digits): the connection's `status.evidence.snapshot.digest`, or the digest of the
    /// last "evidence snapshot committed" log line. Detects removed newest snapshots
    /// (rollback), which the chain alone cannot. Needs one connection.
    #[arg(long, value_name = "DIGEST", value_parser = parse_digest)]
    expect_head: Option<String>,

    /// The newest snapshot's sequence must be at least N: the highest
    /// `jumpcloud_operator_evidence_head_sequence` seen, or the sequence of a commit log line.
    /// Needs one connection.
    #[arg(long, value_name = "N")]
    expect_sequence: Option<u64>,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The 64 hex digits of a full SHA-256 digest, with or without `sha256:`. A prefix is refused:
/// an anchor must name exactly one manifest.
fn parse_digest(text: &str) -> Result<String, String> {
    let hex = text.trim().strip_prefix("sha256:").unwrap_or(text.trim());
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err("expected a full manifest digest: sha256: and 64 hex digits".to_owned())
    }
}

/// Why `verify` could not run, with its exit code.
#[derive(Debug, thiserror::Error)]
enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Nothing(String),
}

impl VerifyArgs {
    pub async fn run(self) -> ExitCode {
        let reports = match self.verify().await {
            Ok(reports) => reports,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(match &error {
                    VerifyError::Nothing(_) => super::exit::NOTHING,
                    VerifyError::Store(error) => super::exit::of_store(error),
                    VerifyError::Usage(_) => super::exit::USAGE,
                });
            }
        };
        if self.json {
            match serde_json::to_string_pretty(&reports) {
                Ok(json) => outln!("{json}"),
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

    async fn verify(&self) -> Result<Vec<VerifyReport>, VerifyError> {
        let key = match &self.public_key {
            Some(path) => Some(VerifyingKey::from_file(path)?),
            None => None,
        };
        let anchor = HeadAnchor {
            digest: self.expect_head.clone(),
            min_sequence: self.expect_sequence,
        };
        let connections = self.store.connections().await?;
        if connections.is_empty() {
            return Err(VerifyError::Nothing(format!(
                "no connections in the store at {}: nothing was verified (check --store)",
                self.store.store
            )));
        }
        if anchor != HeadAnchor::default() && connections.len() > 1 {
            return Err(VerifyError::Usage(format!(
                "--expect-head and --expect-sequence anchor one connection's chain; the store \
                 holds {}: choose one with --connection",
                connections
                    .iter()
                    .map(|c| c.connection().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut reports = Vec::new();
        for connection in &connections {
            let mut report = verify_connection(connection, key.as_ref()).await?;
            check_head(&mut report, &anchor);
            reports.push(report);
        }
        // A connection without any snapshot (a first sync that never committed) is nothing to
        // verify: fine next to others, a failure when it is all there is.
        if reports
            .iter()
            .all(|r| r.snapshots == 0 && r.problems.is_empty())
        {
            let which = match &self.store.connection {
                Some(connection) => format!("connection {connection}"),
                None => "any connection".to_owned(),
            };
            return Err(VerifyError::Nothing(format!(
                "no snapshot of {which} in the store at {}: nothing was verified (check --store and --connection)",
                self.store.store
            )));
        }
        Ok(reports)
    }
}

fn print_reports(reports: &[VerifyReport], with_key: bool) {
    for report in reports {
        let signatures = if with_key {
            format!(
                "{} of {} signature(s) verified",
                report.valid_signatures, report.snapshots
            )
        } else {
            format!("{} signed (give --public-key to check)", report.signed)
        };
        outln!(
            "{}: {} snapshot(s), {} blob(s), {} bytes re-hashed ({} stored), {signatures}",
            report.connection,
            report.snapshots,
            report.blobs,
            report.blob_bytes,
            report.stored_bytes
        );
        if let Some(head) = &report.head {
            outln!(
                "  head: sequence {} {} {}",
                head.sequence,
                head.id,
                head.digest
            );
        } else if report.snapshots == 0 {
            outln!("  no snapshot (a first sync that never committed)");
        }
        for note in &report.notes {
            outln!("  note: {note}");
        }
        for problem in &report.problems {
            outln!("  PROBLEM {problem}");
        }
        if report.ok() {
            outln!("  OK");
        } else {
            outln!("  {} problem(s)", report.problems.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_full_digests() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_digest(&format!("sha256:{hex}")), Ok(hex.clone()));
        assert_eq!(parse_digest(&hex.to_uppercase()), Ok(hex));
        assert!(parse_digest("sha256:abcd").is_err());
        assert!(parse_digest(&"g".repeat(64)).is_err());
    }
}
