//! The collection's step before the commit that evaluates the compliance controls on the staged
//! snapshot: one phase at a time, each loading only the kinds its controls read, and one
//! evaluation at a time in the process. The sink stores the results with the snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use super::{BeforeCommit, CollectError};
use crate::controls::catalog::{catalog_position, evaluation_phases};
use crate::controls::{ControlResult, ControlSettings, EvidenceSet, SettingsSource, SnapshotMeta};

/// Admits one evaluation at a time: its memory grows with the org, so concurrent syncs must not
/// add up.
static EVALUATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A staged snapshot the controls can be evaluated on before it is committed.
pub trait Evaluable: Send + Sync {
    /// The snapshot's metadata as the controls see it.
    fn meta(&self) -> SnapshotMeta;

    /// The staged evidence with `meta`: every kind with its state and count, the records of
    /// `kinds` loaded with only the fields the controls read.
    fn load_kinds(
        &self,
        meta: SnapshotMeta,
        kinds: &BTreeSet<&'static str>,
    ) -> impl Future<Output = Result<EvidenceSet, CollectError>> + Send;

    /// Hands the results to the commit, which stores them with the snapshot.
    fn add_results(
        &mut self,
        settings: ControlSettings,
        settings_sources: BTreeMap<String, SettingsSource>,
        evaluated_at: jiff::Timestamp,
        results: Vec<ControlResult>,
    );
}

/// Evaluates the controls with these settings before the commit.
pub struct EvaluateControls {
    settings: ControlSettings,
    source: SettingsSource,
}

impl EvaluateControls {
    /// `source`: where `settings` came from, stored per setting with the results.
    pub fn new(settings: ControlSettings, source: SettingsSource) -> Self {
        EvaluateControls { settings, source }
    }
}

impl<T: Evaluable> BeforeCommit<T> for EvaluateControls {
    /// Phase by phase ([`evaluation_phases`]): each phase's evidence is dropped before the next
    /// is loaded, so the two largest kinds are never in memory together. The results equal
    /// `evaluate_all` on the whole evidence, in catalog order, evaluated at the collection's end.
    async fn before_commit(&self, staged: &mut T) -> Result<(), CollectError> {
        // Failures read as they did when the store evaluated: the sink's, so `WriteFailed`.
        let failed = |what: String| {
            CollectError::store(format!("stored evidence cannot be read back: {what}"))
        };
        let meta = staged.meta();
        let evaluated_at = meta.finished_at.unwrap_or_else(jiff::Timestamp::now);
        let _turn = EVALUATIONS
            .acquire()
            .await
            .map_err(|error| failed(format!("evaluation queue closed: {error}")))?;
        let mut results = Vec::new();
        for phase in evaluation_phases() {
            let evidence = staged.load_kinds(meta.clone(), &phase.kinds).await?;
            let settings = self.settings.clone();
            let evaluated = tokio::task::spawn_blocking(move || {
                let results = phase.evaluate(&evidence, &settings, evaluated_at);
                // Dropping a phase's records takes a while too: here, off the async workers.
                drop(evidence);
                results
            })
            .await
            .map_err(|error| failed(format!("the evaluation task failed: {error}")))?;
            results.extend(evaluated);
        }
        results.sort_by_key(|result| catalog_position(&result.id));
        staged.add_results(
            self.settings.clone(),
            self.settings.sources(self.source),
            evaluated_at,
            results,
        );
        Ok(())
    }
}
