use std::process::ExitCode;

use super::exit;
use super::snapshots::StoreArgs;
use crate::store::StoreError;
use crate::store::diff::{KindDiff, SnapshotDiff, diff_snapshots};

/// Records shown per list in text output (JSON has all).
const TEXT_LIMIT: usize = 25;

/// What changed between two snapshots of a connection, per evidence kind: records added,
/// removed, and the fields that changed (e.g. a user whose MFA was turned off, a device that
/// lost disk encryption). Snapshots are given by id, id prefix or manifest digest prefix.
#[derive(Debug, clap::Args)]
#[command(mut_arg("connection", |arg| arg.help(
    "Connection `namespace/name` both snapshots belong to. Default: the store's only connection \
     (a store with several needs it)"
)))]
pub struct DiffArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// The older snapshot.
    from: String,

    /// The newer snapshot.
    to: String,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl DiffArgs {
    pub async fn run(self) -> ExitCode {
        match self.diff().await {
            Ok(diff) => {
                if self.json {
                    match serde_json::to_string_pretty(&diff) {
                        Ok(json) => outln!("{json}"),
                        Err(error) => {
                            eprintln!("error: {error}");
                            return ExitCode::from(exit::FAILED);
                        }
                    }
                } else {
                    print_diff(&diff);
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(exit::of_store(&error))
            }
        }
    }

    async fn diff(&self) -> Result<SnapshotDiff, StoreError> {
        let connection = self.store.single().await?;
        let from = connection.resolve(&self.from).await?;
        let to = connection.resolve(&self.to).await?;
        diff_snapshots(&connection, &from, &to).await
    }
}

fn name(key: &str, label: &Option<String>) -> String {
    match label {
        Some(label) => format!("{label} ({key})"),
        None => key.to_owned(),
    }
}

fn print_kind(kind: &KindDiff) {
    if let Some(status) = &kind.status {
        outln!("{}: status {status} (records not compared)", kind.kind);
        return;
    }
    outln!(
        "{}: {} added, {} removed, {} changed",
        kind.kind,
        kind.added.len(),
        kind.removed.len(),
        kind.changed.len()
    );
    for record in kind.added.iter().take(TEXT_LIMIT) {
        outln!("  + {}", name(&record.key, &record.label));
    }
    if kind.added.len() > TEXT_LIMIT {
        outln!("  + ... and {} more", kind.added.len() - TEXT_LIMIT);
    }
    for record in kind.removed.iter().take(TEXT_LIMIT) {
        outln!("  - {}", name(&record.key, &record.label));
    }
    if kind.removed.len() > TEXT_LIMIT {
        outln!("  - ... and {} more", kind.removed.len() - TEXT_LIMIT);
    }
    for change in kind.changed.iter().take(TEXT_LIMIT) {
        outln!("  ~ {}", name(&change.key, &change.label));
        for field in &change.fields {
            let show = |v: &Option<serde_json::Value>| {
                v.as_ref().map_or("(absent)".to_owned(), |v| v.to_string())
            };
            outln!(
                "      {}: {} -> {}",
                field.path,
                show(&field.from),
                show(&field.to)
            );
        }
    }
    if kind.changed.len() > TEXT_LIMIT {
        outln!("  ~ ... and {} more", kind.changed.len() - TEXT_LIMIT);
    }
}

fn print_diff(diff: &SnapshotDiff) {
    outln!("{} -> {}", diff.from, diff.to);
    if diff.kinds.is_empty() {
        outln!("no changes");
    }
    for kind in &diff.kinds {
        print_kind(kind);
    }
}
