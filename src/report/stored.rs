//! Reports of snapshots in the evidence store: the current snapshot's results (stored with it,
//! or re-evaluated with other settings) compared with the snapshot before it in the chain.

use super::{Baseline, Report, report_of};
use crate::controls::{ControlSettings, EvidenceSet, SettingsSource, evaluate_all};
use crate::store::{
    ConnectionStore, Records, Snapshot, StoreError, StoredControls, load_controls, load_evidence,
};

/// Results of `snapshot` under `settings`: the stored ones when they were evaluated with the
/// same settings (no evidence is parsed), else a fresh evaluation. Either way identical, since
/// evaluation is a pure function of the snapshot and the settings.
async fn results_of(
    store: &ConnectionStore,
    snapshot: &Snapshot,
    settings: &ControlSettings,
) -> Result<(EvidenceSet, StoredControls), StoreError> {
    if let Some(stored) = load_controls(store, snapshot).await?
        && &stored.settings == settings
    {
        let evidence = load_evidence(store, snapshot, Records::Counts).await?;
        return Ok((evidence, stored));
    }
    let evidence = load_evidence(store, snapshot, Records::ForControls).await?;
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || {
        let evaluated_at = super::evaluation_time(&evidence, jiff::Timestamp::now());
        let results = evaluate_all(&evidence, &settings, evaluated_at);
        let stored = StoredControls {
            evaluated_at,
            summary: crate::controls::ResultsSummary::of(&results),
            // The caller knows where the settings came from and sets the sources.
            settings_sources: Default::default(),
            settings,
            results,
        };
        (evidence, stored)
    })
    .await
    .map_err(|error| StoreError::Evidence(format!("the evaluation task failed: {error}")))
}

/// The report of a stored snapshot with `settings` (default: the settings its results were
/// stored with), including the changes since the snapshot before it in the chain.
pub async fn stored_report(
    store: &ConnectionStore,
    snapshot: &Snapshot,
    settings: Option<&ControlSettings>,
) -> Result<Report, StoreError> {
    let (settings, sources) = match settings {
        Some(settings) => (
            settings.clone(),
            settings.sources(SettingsSource::SettingsFile),
        ),
        None => load_controls(store, snapshot)
            .await?
            .map(|stored| (stored.settings, stored.settings_sources))
            .unwrap_or_else(|| {
                let defaults = ControlSettings::default();
                let sources = defaults.sources(SettingsSource::Default);
                (defaults, sources)
            }),
    };
    let (evidence, stored) = results_of(store, snapshot, &settings).await?;
    let baseline = match &snapshot.manifest.previous {
        None => None,
        Some(previous) => match store.resolve(&previous.id).await {
            Ok(previous) => {
                let (evidence, stored) = results_of(store, &previous, &settings).await?;
                Some(Baseline {
                    meta: evidence.meta.clone(),
                    counts: evidence.counts(),
                    results: stored.results,
                })
            }
            // Retention removed it: a report without changes, not a failure.
            Err(StoreError::UnknownSnapshot(_)) => None,
            Err(error) => return Err(error),
        },
    };
    let mut report = report_of(
        &evidence,
        stored.results,
        stored.evaluated_at,
        baseline.as_ref(),
        &settings,
    );
    report.settings_sources = sources;
    Ok(report)
}

/// Renders the snapshot's HTML report and stores it next to the snapshot (`reports/<id>.html`).
pub async fn publish_report(
    store: &ConnectionStore,
    snapshot: &Snapshot,
) -> Result<Report, StoreError> {
    let report = stored_report(store, snapshot, None).await?;
    store
        .put_report(&snapshot.id, super::render_html(&report))
        .await?;
    Ok(report)
}
