//! Reports of snapshots in the evidence store: the current snapshot's results (stored with it,
//! or re-evaluated with other settings) compared with the snapshot before it in the chain.

use std::collections::BTreeMap;

use super::{
    Baseline, RecordChanges, Report, device_owners, kind_states, record_changes, report_of,
    trend_of,
};
use crate::controls::kinds::{DEVICES, DI_EVENTS, POLICY_RESULTS_HISTORY, POLICY_STATUSES, USERS};
use crate::controls::{ControlSettings, EvidenceSet, KindState, SettingsSource, evaluate_all};
use crate::store::diff::diff_snapshot_kinds;
use crate::store::{
    ChainResults, ConnectionStore, Records, Snapshot, StoreError, StoredControls, chain_results,
    load_controls, load_evidence, load_kinds, snapshot_meta,
};

/// Who and what changed per kind between two snapshots, for the kinds collected on both sides.
/// Events, policy results and their history are appended or recomputed wholesale, so their
/// counts say what changed; the rest is diffed record by record (kinds whose blobs are equal are
/// not read).
async fn records_between(
    store: &ConnectionStore,
    previous: &Snapshot,
    previous_states: &BTreeMap<String, KindState>,
    current: &Snapshot,
    current_states: &BTreeMap<String, KindState>,
) -> Result<BTreeMap<String, RecordChanges>, StoreError> {
    let complete = |states: &BTreeMap<String, KindState>, kind: &str| {
        states.get(kind) == Some(&KindState::Complete)
    };
    let diff = diff_snapshot_kinds(store, previous, current, |kind| {
        kind != DI_EVENTS
            && kind != POLICY_STATUSES
            && kind != POLICY_RESULTS_HISTORY
            && complete(previous_states, kind)
            && complete(current_states, kind)
    })
    .await?;
    Ok(diff
        .kinds
        .iter()
        .map(|kind| (kind.kind.clone(), record_changes(kind)))
        .collect())
}

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
                let (previous_evidence, stored) = results_of(store, &previous, &settings).await?;
                let states = kind_states(&previous_evidence);
                let records =
                    records_between(store, &previous, &states, snapshot, &kind_states(&evidence))
                        .await?;
                Some(Baseline {
                    meta: previous_evidence.meta.clone(),
                    counts: previous_evidence.counts(),
                    states,
                    results: stored.results,
                    records,
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
    report.signed = Some(store.is_signed(&snapshot.id).await?);
    if report.device_owners.is_none() {
        // Stored results were used, so no records were read: the bindings come from the
        // devices and users alone.
        let kinds = [DEVICES, USERS].into_iter().collect();
        let evidence = load_kinds(store, snapshot_meta(snapshot), &snapshot.index, &kinds).await?;
        report.device_owners = device_owners(&evidence);
    }
    // The trend reads the results stored with each snapshot of the period; this snapshot's
    // point is the results the report shows (re-evaluated when other settings were given).
    let mut chain = chain_results(store, snapshot.manifest.sequence).await?;
    if let Some(current) = chain
        .iter_mut()
        .find(|c| c.snapshot_id == snapshot.id.to_string())
    {
        *current = ChainResults {
            snapshot_id: current.snapshot_id.clone(),
            at: current.at,
            statuses: Some(
                report
                    .results
                    .iter()
                    .map(|r| (r.id.clone(), r.status))
                    .collect(),
            ),
        };
    }
    report.trend = Some(trend_of(&chain));
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
