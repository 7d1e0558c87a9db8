//! `report`: evaluate the controls on a stored snapshot and render the auditor report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::exit::{self, FailOn};
use super::from_cluster::{self, FromCluster};
use super::snapshots::StoreArgs;
use crate::controls::ControlSettings;
use crate::report::{Format, Rendered, render, stored_report};
use crate::store::{ConnectionId, StoreError};

/// Evaluate the compliance controls on a stored snapshot and write a report for auditors:
/// organization, period, snapshot digest and chain position, every control with its failing
/// resources, the changes since the previous snapshot, and how to verify the snapshot.
///
/// The controls are evaluated at the snapshot's collection time, so a stored snapshot always
/// gives the same results, byte for byte.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    jumpcloud-operator report --store evidence --format html --out report.html\n  \
    jumpcloud-operator report --store s3://bucket/jc --connection compliance/acme --snapshot 20261129T0326 --format markdown\n  \
    jumpcloud-operator report --store evidence --format csv --out report-csv/ --settings controls.yaml\n  \
    jumpcloud-operator report --from-cluster team-a/acme --out report.html\n  \
    jumpcloud-operator report --from-cluster team-a/acme --endpoint http://127.0.0.1:8082 --format json\n  \
    jumpcloud-operator report --store evidence --format oscal --out assessment-results.json\n  \
    jumpcloud-operator report --store evidence --format oscal-plan --out assessment-plan.json")]
pub struct ReportArgs {
    /// Evidence store: `file:///absolute/dir`, a directory path, or `s3://bucket/prefix`
    /// (S3 credentials and endpoint from the standard AWS_* environment). Or --from-cluster.
    #[arg(long, env = "JUMPCLOUD_OPERATOR_STORE", value_name = "URL")]
    store: Option<String>,
    /// Connection `namespace/name` in the store. Default: the store's only connection.
    #[arg(long, value_name = "NAMESPACE/NAME", conflicts_with = "from_cluster")]
    connection: Option<ConnectionId>,
    /// Fetch the report of connection NAMESPACE/NAME from the operator's evidence endpoint
    /// instead of reading a store: through the API server's service proxy with your
    /// kubeconfig (you need `get` on the connection), or `--endpoint`.
    #[arg(long, value_name = "NAMESPACE/NAME", conflicts_with = "settings")]
    from_cluster: Option<ConnectionId>,
    /// The operator's Service, for --from-cluster (the chart's release `jumpcloud-operator`
    /// in namespace `jumpcloud-operator` by default).
    #[arg(
        long,
        value_name = "NAMESPACE/NAME",
        default_value = "jumpcloud-operator/jumpcloud-operator"
    )]
    operator_service: String,
    /// The evidence endpoint's URL instead of the service proxy, e.g. after
    /// `kubectl port-forward -n jumpcloud-operator svc/jumpcloud-operator 8082:evidence`.
    #[arg(long, value_name = "URL", requires = "from_cluster")]
    endpoint: Option<String>,
    /// A file holding the bearer token for the endpoint (default: the kubeconfig's token).
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    token_file: Option<PathBuf>,
    /// Snapshot id, id prefix or manifest digest prefix (see `snapshots`). Default: the latest.
    #[arg(long, value_name = "ID")]
    snapshot: Option<String>,
    /// Output format. For GRC tools, write both `oscal` and `oscal-plan` of the same snapshot,
    /// side by side.
    #[arg(long, value_enum, default_value = "html")]
    format: Format,
    /// Output file (a directory for csv; with --from-cluster, a path ending in `.zip` keeps the
    /// CSV archive as downloaded). Default: standard output (required for csv).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Control settings (thresholds and scope, the CRD's `spec.controls`) as YAML or JSON.
    /// Default: the settings the snapshot's results were stored with.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// For CI: after writing the report, exit 8 when a control fails (`failing`), or fails or
    /// is in error (`error`). Not with --from-cluster (the endpoint serves the rendered report).
    #[arg(long, value_enum, value_name = "WHEN", conflicts_with = "from_cluster")]
    fail_on: Option<FailOn>,
}

/// Errors of the `report` command.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read settings {path}: {source}")]
    SettingsIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid settings {path}: {message}")]
    Settings { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Render(#[from] crate::report::RenderError),
    #[error("--format csv writes several files: give a directory with --out")]
    CsvNeedsOut,
    #[error("give --store URL (a local or S3 evidence store) or --from-cluster NAMESPACE/NAME")]
    NoSource,
    #[error(
        "--store and --from-cluster exclude each other: read a store, or fetch from the cluster"
    )]
    TwoSources,
    #[error(transparent)]
    FromCluster(#[from] super::from_cluster::FromClusterError),
}

impl ReportError {
    fn exit_code(&self) -> u8 {
        match self {
            ReportError::Store(error) => exit::of_store(error),
            ReportError::SettingsIo { .. }
            | ReportError::Settings { .. }
            | ReportError::CsvNeedsOut
            | ReportError::NoSource
            | ReportError::TwoSources => exit::USAGE,
            ReportError::Write { .. } | ReportError::Render(_) | ReportError::FromCluster(_) => {
                exit::FAILED
            }
        }
    }
}

/// Reads `ControlSettings` from YAML or JSON (JSON is tried first for `.json` files).
pub fn load_settings(path: &Path) -> Result<ControlSettings, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::SettingsIo {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| ReportError::Settings {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?
    } else if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_saphyr::from_str(&text).map_err(|e| invalid(e.to_string()))?
    };
    ControlSettings::from_json_value(value).map_err(|e| invalid(e.to_string()))
}

impl ReportArgs {
    pub async fn run(self) -> ExitCode {
        match self.execute().await {
            Ok(results) => match exit::fail_on(self.fail_on, &results) {
                Some((code, message)) => {
                    eprintln!("{message}");
                    ExitCode::from(code)
                }
                None => ExitCode::SUCCESS,
            },
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(error.exit_code())
            }
        }
    }

    /// Writes the report; answers the control results it shows (none when fetched).
    async fn execute(&self) -> Result<Vec<crate::controls::ControlResult>, ReportError> {
        let settings = self.settings.as_deref().map(load_settings).transpose()?;
        if self.format == Format::Csv && self.out.is_none() {
            return Err(ReportError::CsvNeedsOut);
        }
        let store = match (&self.store, &self.from_cluster) {
            (Some(_), Some(_)) => return Err(ReportError::TwoSources),
            (None, None) => return Err(ReportError::NoSource),
            (None, Some(connection)) => return self.fetch(connection).await.map(|()| Vec::new()),
            (Some(store), None) => StoreArgs {
                store: store.clone(),
                connection: self.connection.clone(),
            },
        };
        let connection = store.single().await?;
        let snapshot = match &self.snapshot {
            Some(query) => connection.resolve(query).await?,
            None => connection.latest().await?.ok_or_else(|| {
                StoreError::NoSnapshots(format!(
                    "connection {} holds no snapshots yet",
                    connection.connection()
                ))
            })?,
        };
        // Refuse before rendering: a report of evidence that is not all there, or not as
        // committed, would look as authoritative as a good one.
        connection.check_blobs(&snapshot).await?;
        let report = stored_report(&connection, &snapshot, settings.as_ref()).await?;
        let write = |path: &Path, contents: &str| {
            std::fs::write(path, contents).map_err(|source| ReportError::Write {
                path: path.to_path_buf(),
                source,
            })
        };
        let single = match render(self.format, &report)? {
            Rendered::Document { text, .. } => text,
            Rendered::Files(files) => {
                let dir = self.out.as_ref().ok_or(ReportError::CsvNeedsOut)?;
                std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
                    path: dir.clone(),
                    source,
                })?;
                let count = files.len();
                for (name, contents) in files {
                    write(&dir.join(name), &contents)?;
                }
                eprintln!("wrote {count} CSV files to {}", dir.display());
                return Ok(report.results);
            }
        };
        match &self.out {
            Some(path) => {
                write(path, &single)?;
                eprintln!("wrote {}", path.display());
            }
            None => out!("{single}"),
        }
        Ok(report.results)
    }

    async fn fetch(&self, connection: &ConnectionId) -> Result<(), ReportError> {
        let request = FromCluster {
            connection,
            operator_service: &self.operator_service,
            endpoint: self.endpoint.as_deref(),
            token_file: self.token_file.as_deref(),
            format: self.format,
            snapshot: self.snapshot.as_deref(),
            out: self.out.as_deref(),
        };
        let bytes = from_cluster::fetch(&request).await?;
        let done = from_cluster::write(&request, &bytes)?;
        if !done.is_empty() {
            eprintln!("{done}");
        }
        Ok(())
    }
}
