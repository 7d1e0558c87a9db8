use std::process::ExitCode;

use super::exit;
use crate::store::{ConnectionId, ConnectionStore, EvidenceStore, StoreError};

/// Where the evidence store is and which connection to look at (shared by `snapshots`, `verify`
/// and `diff`).
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Evidence store: `file:///absolute/dir`, a directory path, or `s3://bucket/prefix`
    /// (S3 credentials and endpoint from the standard AWS_* environment, e.g.
    /// AWS_ENDPOINT_URL and AWS_ALLOW_HTTP=true for MinIO-like servers).
    #[arg(long, env = "JUMPCLOUD_OPERATOR_STORE", value_name = "URL")]
    pub store: String,

    /// Connection `namespace/name` (the operator writes `<namespace>/<name>` of each
    /// JumpCloudConnection; `collect` writes `collect/default` unless given --connection).
    /// Default: every connection in the store.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub connection: Option<ConnectionId>,
}

impl StoreArgs {
    pub fn open(&self) -> Result<EvidenceStore, StoreError> {
        EvidenceStore::open_existing(&self.store)
    }

    /// The selected connection, or every connection in the store.
    pub async fn connections(&self) -> Result<Vec<ConnectionStore>, StoreError> {
        let store = self.open()?;
        let ids = match &self.connection {
            Some(id) => vec![id.clone()],
            None => store.connections().await?,
        };
        Ok(ids.iter().map(|id| store.connection(id)).collect())
    }

    /// The selected connection, or the store's only one.
    pub async fn single(&self) -> Result<ConnectionStore, StoreError> {
        let mut connections = self.connections().await?;
        match connections.len() {
            1 => {
                let connection = connections.remove(0);
                if connection.latest().await?.is_none() {
                    return Err(StoreError::NoSnapshots(format!(
                        "connection {} holds no snapshots yet in {}",
                        connection.connection(),
                        self.store
                    )));
                }
                Ok(connection)
            }
            0 => Err(StoreError::NoSnapshots(format!(
                "{} holds no snapshots yet",
                self.store
            ))),
            _ => Err(StoreError::ChooseConnection(format!(
                "{} holds several connections ({}); choose one with --connection",
                self.store,
                connections
                    .iter()
                    .map(|c| c.connection().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// List the snapshots in an evidence store: time, digest, record counts, signed or not.
#[derive(Debug, clap::Args)]
pub struct SnapshotsArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl SnapshotsArgs {
    pub async fn run(self) -> ExitCode {
        match self.list().await {
            Ok(0) => ExitCode::from(exit::NOTHING),
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(exit::of_store(&error))
            }
        }
    }

    /// Prints the list; answers how many snapshots it listed.
    async fn list(&self) -> Result<usize, StoreError> {
        let connections = self.store.connections().await?;
        let mut all = Vec::new();
        for connection in &connections {
            all.push((
                connection.connection().to_string(),
                connection.summaries().await?,
            ));
        }
        let listed = all.iter().map(|(_, snapshots)| snapshots.len()).sum();
        if self.json {
            let value: Vec<serde_json::Value> = all
                .iter()
                .map(|(connection, snapshots)| {
                    serde_json::json!({"connection": connection, "snapshots": snapshots})
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&value).map_err(StoreError::Serialise)?
            );
            return Ok(listed);
        }
        if listed == 0 {
            outln!("no snapshots in {}", self.store.store);
        }
        for (connection, snapshots) in all {
            outln!("{connection}: {} snapshot(s)", snapshots.len());
            outln!(
                "  {:<42} {:<20} {:<16} {:>6} {:>8} {:>8} {:>9}",
                "ID",
                "TIME",
                "SHA256",
                "SIGNED",
                "USERS",
                "DEVICES",
                "RECORDS"
            );
            for snapshot in snapshots.iter().rev() {
                let count = |kind: &str| {
                    snapshot
                        .counts
                        .get(kind)
                        .map_or("-".to_owned(), u64::to_string)
                };
                let records: u64 = snapshot.counts.values().sum();
                outln!(
                    "  {:<42} {:<20} {:<16} {:>6} {:>8} {:>8} {:>9}",
                    snapshot.id,
                    snapshot
                        .created_at
                        .strftime("%Y-%m-%d %H:%M:%S")
                        .to_string(),
                    &snapshot.sha256[..16],
                    if snapshot.signed { "yes" } else { "no" },
                    count("users"),
                    count("devices"),
                    records
                );
            }
        }
        Ok(listed)
    }
}
