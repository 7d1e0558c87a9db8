//! `report`: evaluate the controls on a stored snapshot and render the auditor report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::controls::{ControlSettings, EvidenceSet, LoadError};
use crate::report::{Format, build_report, render_csv, render_html, render_json, render_markdown};

/// Evaluate the compliance controls on a snapshot and write a report for auditors.
///
/// The controls are evaluated at the snapshot's collection time, so a stored snapshot always
/// gives the same results, byte for byte.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    jumpcloud-operator report --snapshot snapshots/2026-11-29 --format html --out report.html\n  \
    jumpcloud-operator report --snapshot NEW --previous OLD --format markdown\n  \
    jumpcloud-operator report --snapshot DIR --format csv --out report-csv/ --settings controls.yaml")]
pub struct ReportArgs {
    /// Snapshot directory written by `collect` (manifest.json plus one NDJSON file per kind).
    #[arg(long, value_name = "DIR")]
    snapshot: PathBuf,
    /// An earlier snapshot directory: the report then shows what changed since it.
    #[arg(long, value_name = "DIR")]
    previous: Option<PathBuf>,
    /// Output format. `csv` writes a directory: summary.csv and one file per control.
    #[arg(long, value_enum, default_value = "html")]
    format: Format,
    /// Output file (a directory for csv). Default: standard output (required for csv).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Control settings (thresholds and scope, the CRD's `spec.controls`) as YAML or JSON.
    /// Unset fields take their documented defaults.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
}

/// Errors of the `report` command.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Load(#[from] LoadError),
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
    #[error("--format csv writes several files: give a directory with --out")]
    CsvNeedsOut,
}

/// Loads a snapshot for reporting. The evidence store will add other sources behind this.
pub fn load_snapshot(dir: &Path) -> Result<EvidenceSet, ReportError> {
    Ok(crate::report::load_for_controls(dir)?)
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
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))
    } else if text.trim().is_empty() {
        Ok(ControlSettings::default())
    } else {
        serde_saphyr::from_str(&text).map_err(|e| invalid(e.to_string()))
    }
}

impl ReportArgs {
    pub fn run(self) -> ExitCode {
        match self.execute() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    }

    fn execute(&self) -> Result<(), ReportError> {
        let settings = match &self.settings {
            Some(path) => load_settings(path)?,
            None => ControlSettings::default(),
        };
        let current = load_snapshot(&self.snapshot)?;
        let previous = self.previous.as_deref().map(load_snapshot).transpose()?;
        let report = build_report(
            &current,
            previous.as_ref(),
            &settings,
            jiff::Timestamp::now(),
        );
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
