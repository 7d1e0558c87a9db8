//! `report`: evaluate the controls on a stored snapshot and render the auditor report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::snapshots::StoreArgs;
use crate::controls::ControlSettings;
use crate::report::{
    Format, render_csv, render_html, render_json, render_markdown, render_oscal_plan,
    render_oscal_results, stored_report,
};
use crate::store::StoreError;

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
    jumpcloud-operator report --store evidence --format oscal --out assessment-results.json\n  \
    jumpcloud-operator report --store evidence --format oscal-plan --out assessment-plan.json")]
pub struct ReportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Snapshot id, id prefix or manifest digest prefix (see `snapshots`). Default: the latest.
    #[arg(long, value_name = "ID")]
    snapshot: Option<String>,
    /// Output format. For GRC tools, write both `oscal` and `oscal-plan` of the same snapshot,
    /// side by side.
    #[arg(long, value_enum, default_value = "html")]
    format: Format,
    /// Output file (a directory for csv). Default: standard output (required for csv).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Control settings (thresholds and scope, the CRD's `spec.controls`) as YAML or JSON.
    /// Default: the settings the snapshot's results were stored with.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
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
    Csv(#[from] crate::report::CsvError),
    #[error(transparent)]
    Oscal(#[from] crate::report::OscalError),
    #[error("--format csv writes several files: give a directory with --out")]
    CsvNeedsOut,
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
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    }

    async fn execute(&self) -> Result<(), ReportError> {
        let settings = self.settings.as_deref().map(load_settings).transpose()?;
        if self.format == Format::Csv && self.out.is_none() {
            return Err(ReportError::CsvNeedsOut);
        }
        let connection = self.store.single().await?;
        let snapshot = match &self.snapshot {
            Some(query) => connection.resolve(query).await?,
            None => connection.latest().await?.ok_or_else(|| {
                StoreError::UnknownSnapshot(format!("latest of {}", connection.connection()))
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
        let single = match self.format {
            Format::Html => render_html(&report),
            Format::Json => render_json(&report),
            Format::Markdown => render_markdown(&report),
            Format::Oscal => render_oscal_results(&report)?,
            Format::OscalPlan => render_oscal_plan(&report)?,
            Format::Csv => {
                let dir = self.out.as_ref().ok_or(ReportError::CsvNeedsOut)?;
                std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
                    path: dir.clone(),
                    source,
                })?;
                for (name, contents) in render_csv(&report)? {
                    write(&dir.join(name), &contents)?;
                }
                eprintln!(
                    "wrote {} CSV files to {}",
                    report.results.len() + 1,
                    dir.display()
                );
                return Ok(());
            }
        };
        match &self.out {
            Some(path) => {
                write(path, &single)?;
                eprintln!("wrote {}", path.display());
            }
            None => print!("{single}"),
        }
        Ok(())
    }
}
