//! The reconcile IO shell and controller wiring: gather (the connection, its one Secret) ->
//! [`decide`](crate::decide) -> act ([`act`]: JumpCloud, evidence on disk) -> report (status by
//! server-side apply only when changed, events on transitions).

pub mod act;
pub mod backoff;
mod classify;
pub mod secrets;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Config as ControllerConfig};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use crate::crd::{JumpCloudConnection, JumpCloudConnectionStatus, SYNC_REQUESTED_AT_ANNOTATION};
use crate::decide::{
    self, EventKind, Inputs, KeyCheck, KeyRequest, Plan, SecretRead, Subject, SyncTrigger,
};
pub use act::EvidenceTarget;
use act::{Endpoints, SyncOutcome};
use backoff::BackoffTracker;

/// Field manager of every status write.
pub const FIELD_MANAGER: &str = "jumpcloud-operator";

/// Requeue of connections waiting for a human (Secret or spec change arrive through watches).
const STALLED_REQUEUE: Duration = Duration::from_secs(30 * 60);

/// Controller errors (the Kubernetes side; JumpCloud outcomes are statuses, not errors).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("the connection has no namespace")]
    NoNamespace,
    #[error("cannot serialise the status patch: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The evidence store; each connection writes under `<namespace>/<name>/`.
    pub evidence: act::EvidenceTarget,
    pub endpoints: Endpoints,
    /// Empty: all namespaces.
    pub watch_namespaces: Vec<String>,
    /// Label selector on connections.
    pub label_selector: Option<String>,
    /// Label selector narrowing the Secret metadata watch (less traffic; not a security
    /// boundary: RBAC cannot filter by label).
    pub secret_selector: Option<String>,
    pub concurrency: u16,
    /// Reporter instance in events (the pod name).
    pub instance: Option<String>,
    /// Prometheus metrics; `None` records nothing.
    pub metrics: Option<Arc<crate::telemetry::Metrics>>,
    /// Set ready once every connection store has its initial list.
    pub readiness: Option<crate::telemetry::Readiness>,
    /// How long a rejected key rests before its re-check ([`decide::REJECTED_KEY_RETRY`]
    /// outside tests).
    pub rejected_key_retry: Duration,
}

/// Shared state of all reconciles.
pub struct Context {
    client: Client,
    settings: Settings,
    recorder: Recorder,
    backoff: BackoffTracker,
    stores: RwLock<Vec<Store<JumpCloudConnection>>>,
    /// Status this process wrote, keyed by connection, with the resourceVersion it replaced:
    /// a reconcile that still sees that version in the cache uses what was written instead, so
    /// a lagging cache never repeats a JumpCloud request.
    written: Mutex<HashMap<String, Written>>,
    /// Peers a shared-key warning was last published for, per connection.
    shared_warned: Mutex<HashMap<String, Vec<String>>>,
    /// The last rejection of each connection's key, also when its status write failed: the
    /// dead key is not tried again on the Kubernetes-error backoff.
    rejections: Mutex<HashMap<String, decide::Rejection>>,
}

/// A status this process wrote.
struct Written {
    /// resourceVersions the write replaced (the reconcile's cached one, and the one of the
    /// in-progress status written before a sync), and the one it produced.
    replaced: Vec<Option<String>>,
    produced: Option<String>,
    status: JumpCloudConnectionStatus,
}

impl Written {
    /// Whether a cached object at `cached` predates this write. resourceVersions are opaque,
    /// but when both are integers (etcd revisions) an older one is recognised too.
    fn is_newer_than(&self, cached: Option<&str>) -> bool {
        if self.replaced.iter().any(|r| r.as_deref() == cached) {
            return true;
        }
        match (
            cached.and_then(|c| c.parse::<u64>().ok()),
            self.produced.as_deref().and_then(|p| p.parse::<u64>().ok()),
        ) {
            (Some(cached), Some(produced)) => cached < produced,
            _ => false,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Poisoning only means a panic elsewhere; these maps stay consistent per operation.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Time as status holds it: whole seconds.
fn now_seconds() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

fn connection_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl Context {
    pub fn new(client: Client, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: settings.instance.clone(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            settings,
            backoff: BackoffTracker::default(),
            stores: RwLock::new(Vec::new()),
            written: Mutex::new(HashMap::new()),
            shared_warned: Mutex::new(HashMap::new()),
            rejections: Mutex::new(HashMap::new()),
        }
    }

    /// Drops what is remembered about a deleted connection.
    fn forget(&self, key: &str) {
        lock(&self.written).remove(key);
        lock(&self.shared_warned).remove(key);
        lock(&self.rejections).remove(key);
        self.backoff.reset(key);
    }

    /// Every connection with its last seen key fingerprint, across all watched namespaces.
    fn fingerprints(&self) -> Vec<(String, Option<String>)> {
        let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
        stores
            .iter()
            .flat_map(|store| store.state())
            .map(|c| {
                let key = connection_key(&c.namespace().unwrap_or_default(), &c.name_any());
                let fingerprint = c
                    .status
                    .as_ref()
                    .and_then(|s| s.api_key.as_ref())
                    .map(|k| k.fingerprint.clone());
                (key, fingerprint)
            })
            .collect()
    }

    /// A connection from the watch caches, by `namespace/name`.
    fn cached(&self, key: &str) -> Option<JumpCloudConnection> {
        let (namespace, name) = key.split_once('/')?;
        let reference = kube::runtime::reflector::ObjectRef::new(name).within(namespace);
        let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
        stores
            .iter()
            .find_map(|store| store.get(&reference))
            .map(|c| (*c).clone())
    }

    async fn publish(
        &self,
        connection: &JumpCloudConnection,
        kind: EventKind,
        reason: &str,
        note: &str,
        action: &str,
    ) {
        let event = Event {
            type_: match kind {
                EventKind::Normal => EventType::Normal,
                EventKind::Warning => EventType::Warning,
            },
            reason: reason.to_owned(),
            note: Some(note.chars().take(1000).collect()),
            action: action.to_owned(),
            secondary: None,
        };
        // Events are best effort: a failure is logged, never fails the reconcile.
        if let Err(error) = self
            .recorder
            .publish(&event, &connection.object_ref(&()))
            .await
        {
            tracing::warn!(%error, reason, "cannot publish event");
        }
    }
}

fn action_name(plan: &Plan) -> &'static str {
    match plan {
        Plan::Suspended => "Suspend",
        Plan::InvalidSpec(_) => "ValidateSpec",
        Plan::SecretProblem | Plan::SecretUnreadable(_) => "ReadSecret",
        Plan::Blocked { .. } | Plan::Wait { .. } => "Wait",
        Plan::Identify { .. } => "IdentifyKey",
        Plan::CheckKey | Plan::Recheck(_) => "CheckKey",
        Plan::Sync { .. } => "Sync",
    }
}

/// One reconcile of one connection.
#[tracing::instrument(skip(connection, ctx), fields(namespace, name = %connection.name_any(), generation = connection.metadata.generation))]
pub async fn reconcile(
    connection: Arc<JumpCloudConnection>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = connection.namespace().ok_or(Error::NoNamespace)?;
    tracing::Span::current().record("namespace", namespace.as_str());
    let name = connection.name_any();
    let key = connection_key(&namespace, &name);
    let now = now_seconds();
    let spec = &connection.spec;

    // Gather: the one Secret, read now and dropped at the end of this block.
    let (secret_read, api_key) = {
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
        let secret_ref = &spec.api_key_secret_ref;
        secrets::read(&secrets, &secret_ref.name, &secret_ref.key).await
    };

    let cached_version = connection.resource_version();
    let mut current_status = {
        let written = lock(&ctx.written);
        match written.get(&key) {
            Some(write) if write.is_newer_than(cached_version.as_deref()) => write.status.clone(),
            _ => connection.status.clone().unwrap_or_default(),
        }
    };
    // What the Kubernetes API holds as far as this process knows: writes and events compare
    // against it.
    let stored_status = current_status.clone();
    if let Some(rejection) = lock(&ctx.rejections).get(&key)
        && decide::restore_rejection(
            &mut current_status,
            rejection,
            &secret_read,
            connection.metadata.generation,
        )
    {
        tracing::info!("the key's last rejection is not in the status yet; restored it");
    }
    let request = connection
        .annotations()
        .get(SYNC_REQUESTED_AT_ANNOTATION)
        .cloned();
    let generation = connection.metadata.generation;
    let mut retry_not_before = ctx.backoff.retry_not_before(&key);
    let inputs = Inputs {
        namespace: &namespace,
        name: &name,
        generation,
        spec,
        status: &current_status,
        sync_requested_at: request.as_deref(),
        secret: &secret_read,
        retry_not_before,
        rejected_key_retry: ctx.settings.rejected_key_retry,
        now,
    };
    let plan = decide::decide(&inputs);
    tracing::debug!(?plan, "decided");

    // Act.
    let subject = Subject {
        namespace: &namespace,
        name: &name,
        generation,
        spec,
        now,
    };
    let mut status = current_status.clone();
    let fingerprint = match &secret_read {
        SecretRead::Present { fingerprint, .. } => Some(fingerprint.clone()),
        _ => None,
    };
    let secret_version = match &secret_read {
        SecretRead::Present { version, .. } => version.clone(),
        _ => None,
    };
    let mut transient: Option<Option<Duration>> = None;
    let mut succeeded = false;
    let mut control_events = Vec::new();
    let mut sync_trigger: Option<&SyncTrigger> = None;
    match (&plan, &api_key, &fingerprint) {
        (Plan::SecretProblem, _, _) => {
            decide::apply_secret_problem(&mut status, &secret_read, &subject)
        }
        (Plan::SecretUnreadable(error), _, _) => {
            decide::apply_secret_unreadable(&mut status, error, &subject);
            transient = Some(None);
        }
        (
            Plan::Identify {
                then_sync,
                probe_regions,
            },
            Some(api_key),
            Some(fp),
        ) => {
            let (check, retry_after) =
                act::identify(&ctx.settings.endpoints, spec, api_key, *probe_regions).await;
            decide::apply_key_check(&mut status, fp, secret_version.as_deref(), &check, &subject);
            match check {
                KeyCheck::Accepted { .. } => {
                    succeeded = true;
                    sync_trigger = then_sync.as_ref();
                }
                KeyCheck::Inconclusive { .. } => transient = Some(retry_after),
                _ => {}
            }
        }
        (Plan::CheckKey | Plan::Recheck(_), Some(api_key), Some(fp)) => {
            // Never a region probe here: the key was accepted before, or this is the hourly
            // re-check of a rejection, which asks the configured region only.
            let endpoints = &ctx.settings.endpoints;
            let (check, retry_after) = match &plan {
                Plan::Recheck(KeyRequest::Organizations) => {
                    act::identify(endpoints, spec, api_key, false).await
                }
                _ => act::check_key(endpoints, spec, api_key, false).await,
            };
            decide::apply_key_check(&mut status, fp, secret_version.as_deref(), &check, &subject);
            match check {
                KeyCheck::Accepted { .. } => succeeded = true,
                // The re-check of a rejected key used this period's one request: the next
                // comes a full period later, not on the short transient backoff.
                KeyCheck::Inconclusive { .. } if matches!(plan, Plan::Recheck(_)) => {
                    transient = Some(Some(ctx.settings.rejected_key_retry))
                }
                KeyCheck::Inconclusive { .. } => transient = Some(retry_after),
                _ => {}
            }
        }
        (Plan::Sync { trigger }, Some(_), Some(_)) => sync_trigger = Some(trigger),
        _ => {}
    }
    // A sync follows either a due interval or a successful identification of a new key.
    let api: Api<JumpCloudConnection> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut last_written = stored_status.clone();
    let mut replaced = vec![cached_version.clone()];
    if let (Some(trigger), Some(api_key), Some(fp)) = (sync_trigger, &api_key, &fingerprint) {
        // A sync can take minutes: show it (Reconciling=True, Ready present) before it runs.
        let mut in_progress = status.clone();
        decide::syncing(&mut in_progress, &plan, trigger, retry_not_before, &subject);
        if in_progress != last_written {
            match write_status(&api, &name, &in_progress).await {
                Ok(produced) => {
                    lock(&ctx.written).insert(
                        key.clone(),
                        Written {
                            replaced: replaced.clone(),
                            produced: produced.clone(),
                            status: in_progress.clone(),
                        },
                    );
                    replaced.push(produced);
                    // Reconciling has been True since now, whatever its reason after the sync.
                    if let Some(reconciling) = crate::conditions::find(
                        &in_progress.conditions,
                        crate::conditions::RECONCILING,
                    ) {
                        crate::conditions::put(&mut status.conditions, reconciling.clone());
                    }
                    last_written = in_progress;
                }
                // The sync matters more; the final write says everything again.
                Err(error) => tracing::warn!(%error, "cannot write the in-progress status"),
            }
        }
        let outcome = run_sync(&ctx, &namespace, &name, spec, api_key).await;
        // lastSyncTime is when the attempt ended.
        let subject = Subject {
            now: now_seconds(),
            ..subject
        };
        apply_sync_outcome(
            &mut status,
            outcome,
            trigger,
            fp,
            secret_version.as_deref(),
            &subject,
            &mut transient,
            &mut succeeded,
            &mut control_events,
        );
    }
    match transient {
        Some(retry_after) => {
            retry_not_before = Some(ctx.backoff.record_failure(&key, retry_after, now))
        }
        None if succeeded => {
            ctx.backoff.reset(&key);
            retry_not_before = None;
        }
        None => {}
    }
    decide::finish(&mut status, &plan, retry_not_before, &subject);
    if let Some(metrics) = &ctx.settings.metrics {
        let key_valid = crate::conditions::find(&status.conditions, crate::conditions::KEY_VALID);
        let state = crate::telemetry::key_state(key_valid.map(|c| c.reason.as_str()));
        metrics.set_key_state(&namespace, &name, state);
    }

    if let Some(fp) = &fingerprint {
        decide::set_shared_with(&mut status, fp, &shared_key_peers(&ctx, &key, fp));
    }
    // Remembered before writing, so a failed write cannot lose a rejection.
    {
        let mut rejections = lock(&ctx.rejections);
        match decide::rejection_of(&status) {
            Some(rejection) => rejections.insert(key.clone(), rejection),
            None => rejections.remove(&key),
        };
    }

    // Report: status only when changed, events on transitions.
    if status != last_written {
        let produced = write_status(&api, &name, &status).await?;
        lock(&ctx.written).insert(
            key.clone(),
            Written {
                replaced,
                produced,
                status: status.clone(),
            },
        );
    }
    for event in decide::events(&stored_status.conditions, &status.conditions)
        .into_iter()
        .chain(control_events)
    {
        ctx.publish(
            &connection,
            event.kind,
            &event.reason,
            &event.note,
            event.action.as_deref().unwrap_or(action_name(&plan)),
        )
        .await;
    }
    if let Some(fp) = &fingerprint {
        warn_shared_key(&ctx, &connection, &key, fp).await;
    }

    // Requeue at the next thing due.
    let after = decide::decide(&Inputs {
        status: &status,
        retry_not_before,
        ..inputs
    });
    let action = match after {
        Plan::Suspended | Plan::InvalidSpec(_) => Action::await_change(),
        Plan::SecretProblem => Action::requeue(STALLED_REQUEUE),
        Plan::SecretUnreadable(_) => Action::requeue(decide::requeue_after(
            now,
            retry_not_before.unwrap_or(now),
            rand::random(),
        )),
        Plan::Blocked { until } | Plan::Wait { until } => {
            Action::requeue(decide::requeue_after(now, until, rand::random()))
        }
        // Something is due right away (e.g. the sync after a first identification).
        _ => Action::requeue(Duration::from_secs(1)),
    };
    tracing::info!(
        action = action_name(&plan),
        plan = plan.name(),
        ready = crate::conditions::find(&status.conditions, crate::conditions::READY)
            .map(|c| c.reason.as_str())
            .unwrap_or(""),
        "reconciled"
    );
    Ok(action)
}

/// Server-side apply of the status subresource (apiVersion, kind and status only); returns the
/// resourceVersion it produced.
async fn write_status(
    api: &Api<JumpCloudConnection>,
    name: &str,
    status: &JumpCloudConnectionStatus,
) -> Result<Option<String>, Error> {
    let patch = serde_json::json!({
        "apiVersion": JumpCloudConnection::api_version(&()),
        "kind": JumpCloudConnection::kind(&()),
        "status": status,
    });
    let patched = api
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(patched.resource_version())
}

#[allow(clippy::too_many_arguments)]
fn apply_sync_outcome(
    status: &mut JumpCloudConnectionStatus,
    outcome: SyncOutcome,
    trigger: &SyncTrigger,
    fingerprint: &str,
    secret_version: Option<&str>,
    subject: &Subject<'_>,
    transient: &mut Option<Option<Duration>>,
    succeeded: &mut bool,
    events: &mut Vec<decide::EventSpec>,
) {
    match outcome {
        SyncOutcome::KeyProblem(check) => {
            decide::apply_key_check(status, fingerprint, secret_version, &check, subject);
            if let SyncTrigger::Requested(request) = trigger {
                status.last_handled_sync_request = Some(request.clone());
            }
        }
        SyncOutcome::Synced {
            result,
            identity,
            retry_after,
        } => {
            if let Some(mut identity) = identity {
                identity.administrator = status
                    .api_key
                    .as_ref()
                    .and_then(|k| k.administrator.clone());
                decide::apply_key_check(
                    status,
                    fingerprint,
                    secret_version,
                    &KeyCheck::Accepted {
                        identity: Some(identity),
                    },
                    subject,
                );
            }
            match &result {
                decide::SyncResult::Succeeded { .. } => *succeeded = true,
                decide::SyncResult::Failed {
                    transient: true, ..
                } => *transient = Some(retry_after),
                decide::SyncResult::Failed { .. } => {}
            }
            events.extend(decide::apply_sync(status, &result, trigger, subject));
        }
    }
}

async fn run_sync(
    ctx: &Context,
    namespace: &str,
    name: &str,
    spec: &crate::crd::JumpCloudConnectionSpec,
    api_key: &crate::jumpcloud::ApiKey,
) -> SyncOutcome {
    let timeout = spec
        .intervals()
        .map(|i| i.timeout)
        .unwrap_or(crate::crd::DEFAULT_TIMEOUT);
    let started = std::time::Instant::now();
    let outcome = match crate::store::ConnectionId::new(namespace, name) {
        Ok(connection) => {
            act::sync(
                &ctx.settings.endpoints,
                spec,
                api_key,
                timeout,
                &ctx.settings.evidence,
                &connection,
            )
            .await
        }
        // Kubernetes names are valid store names; this only guards the store's layout.
        Err(error) => act::write_failure(&crate::collect::CollectError::Store(error)),
    };
    if let Some(metrics) = &ctx.settings.metrics {
        record_sync_metrics(metrics, namespace, name, &outcome, started.elapsed());
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        ok = matches!(
            outcome,
            SyncOutcome::Synced {
                result: decide::SyncResult::Succeeded { .. },
                ..
            }
        ),
        "sync finished"
    );
    outcome
}

fn record_sync_metrics(
    metrics: &crate::telemetry::Metrics,
    namespace: &str,
    name: &str,
    outcome: &SyncOutcome,
    elapsed: Duration,
) {
    let result = match outcome {
        SyncOutcome::Synced { result, .. } => crate::telemetry::sync_outcome(result),
        SyncOutcome::KeyProblem(_) => crate::telemetry::SyncOutcome::KeyRejected,
    };
    metrics.record_sync(result, elapsed);
    if let SyncOutcome::Synced {
        result: decide::SyncResult::Succeeded {
            counts, controls, ..
        },
        ..
    } = outcome
    {
        {
            use crate::telemetry::ControlResult;
            let summary = &controls.summary;
            metrics.set_control_results(
                namespace,
                name,
                &[
                    (ControlResult::Pass, summary.passing),
                    (ControlResult::Fail, summary.failing),
                    (ControlResult::NotApplicable, summary.not_applicable),
                    (ControlResult::Error, summary.error),
                ],
            );
        }
        for (kind, count) in counts {
            metrics.set_evidence(
                namespace,
                name,
                crate::telemetry::endpoint_group(kind),
                *count,
            );
        }
    }
}

/// Every connection's last seen key fingerprint, with this one's as just read (the watch cache
/// may not show it yet).
fn all_fingerprints(ctx: &Context, key: &str, fingerprint: &str) -> Vec<(String, Option<String>)> {
    ctx.fingerprints()
        .into_iter()
        .filter(|(k, _)| k != key)
        .chain([(key.to_owned(), Some(fingerprint.to_owned()))])
        .collect()
}

/// The other connections using this key.
fn shared_key_peers(ctx: &Context, key: &str, fingerprint: &str) -> Vec<String> {
    decide::shared_key_peers(
        key,
        fingerprint,
        all_fingerprints(ctx, key, fingerprint)
            .iter()
            .map(|(k, fp)| (k.clone(), fp.as_deref())),
    )
}

/// Warns once per change when other connections use the same key: generating a new key for
/// that administrator revokes it for all of them. Every connection sharing it is warned, the
/// ones already running too (not only the one that just joined).
async fn warn_shared_key(
    ctx: &Context,
    connection: &JumpCloudConnection,
    key: &str,
    fingerprint: &str,
) {
    let all = all_fingerprints(ctx, key, fingerprint);
    let peers_of = |who: &str| {
        decide::shared_key_peers(
            who,
            fingerprint,
            all.iter().map(|(k, fp)| (k.clone(), fp.as_deref())),
        )
    };
    let peers = peers_of(key);
    let mut to_warn = vec![(key.to_owned(), peers.clone())];
    to_warn.extend(peers.iter().map(|peer| (peer.clone(), peers_of(peer))));
    for (who, peers) in to_warn {
        let changed = {
            let mut warned = lock(&ctx.shared_warned);
            let previous = warned.get(&who).cloned().unwrap_or_default();
            if previous == peers {
                false
            } else {
                warned.insert(who.clone(), peers.clone());
                !peers.is_empty()
            }
        };
        if !changed {
            continue;
        }
        let object = if who == key {
            Some(connection.clone())
        } else {
            ctx.cached(&who)
        };
        let Some(object) = object else {
            continue;
        };
        let note = format!(
            "The key (fingerprint {fingerprint}) is also used by {}. Generating a new key for its administrator revokes it for all of them; give each connection its own administrator's key.",
            peers.join(", ")
        );
        tracing::warn!(connection = %who, peers = %peers.join(","), "API key shared between connections");
        ctx.publish(&object, EventKind::Warning, "KeyShared", &note, "CheckKey")
            .await;
    }
}

/// Kubernetes-side failures (API server unreachable, conflicts): retry with per-object backoff.
pub fn error_policy(
    connection: Arc<JumpCloudConnection>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    let key = connection_key(
        &connection.namespace().unwrap_or_default(),
        &connection.name_any(),
    );
    tracing::warn!(%error, connection = %key, "reconcile failed");
    let now = Timestamp::now();
    let at = ctx.backoff.record_failure(&key, None, now);
    Action::requeue(decide::requeue_after(now, at, 0.0))
}

/// Why the controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "the JumpCloudConnection CRD is not installed in this cluster; install it with:\n    jumpcloud-operator crd | kubectl apply -f -"
    )]
    CrdMissing,
    #[error("cannot reach the Kubernetes API: {0}")]
    Kube(#[source] kube::Error),
}

/// Checks that the CRD is served, for a clear error at start.
pub async fn check_crd(client: &Client, namespace: Option<&str>) -> Result<(), StartError> {
    let api: Api<JumpCloudConnection> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    match api.list(&kube::api::ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        // The code, not the reason text (which `is_not_found` compares).
        Err(kube::Error::Api(status)) if status.code == 404 => Err(StartError::CrdMissing),
        Err(error) => Err(StartError::Kube(error)),
    }
}

/// Runs the controller(s) until `shutdown` resolves; in-flight reconciles finish first.
pub async fn run(
    client: Client,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let namespaces: Vec<Option<String>> = if settings.watch_namespaces.is_empty() {
        vec![None]
    } else {
        settings
            .watch_namespaces
            .iter()
            .cloned()
            .map(Some)
            .collect()
    };
    for namespace in &namespaces {
        check_crd(&client, namespace.as_deref()).await?;
    }
    let concurrency = settings.concurrency;
    let selector = settings.label_selector.clone();
    let all_metrics = settings.metrics.clone();
    let readiness = settings.readiness.clone();
    let secret_selector = settings.secret_selector.clone();
    let ctx = Arc::new(Context::new(client.clone(), settings));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let secret_config = match &secret_selector {
        Some(selector) => watcher::Config::default().labels(selector),
        None => watcher::Config::default(),
    };
    let mut controllers = Vec::new();
    for namespace in namespaces {
        let (connections, secrets): (Api<JumpCloudConnection>, Api<PartialObjectMeta<Secret>>) =
            match &namespace {
                Some(ns) => (
                    Api::namespaced(client.clone(), ns),
                    Api::namespaced(client.clone(), ns),
                ),
                None => (Api::all(client.clone()), Api::all(client.clone())),
            };
        let mut config = watcher::Config::default().any_semantic();
        if let Some(selector) = &selector {
            config = config.labels(selector);
        }
        let controller = Controller::new(connections, config)
            .with_config(ControllerConfig::default().concurrency(concurrency));
        let store = controller.store();
        ctx.stores
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(store.clone());
        let mut stop = stop_rx.clone();
        let metrics = all_metrics.clone();
        let controller = controller
            .watches(secrets, secret_config.clone(), move |secret| {
                secrets::connections_referencing(
                    &store,
                    secret.namespace().as_deref(),
                    &secret.name_any(),
                )
            })
            .graceful_shutdown_on(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .run(reconcile, error_policy, ctx.clone())
            .for_each({
                let ctx = ctx.clone();
                move |result| {
                    let ctx = ctx.clone();
                    let metrics = metrics.clone();
                    async move {
                        match result {
                            Ok(_) => {}
                            Err(kube::runtime::controller::Error::ObjectNotFound(object)) => {
                                tracing::debug!(%object, "connection deleted");
                                ctx.forget(&connection_key(
                                    object.namespace.as_deref().unwrap_or_default(),
                                    &object.name,
                                ));
                                if let Some(metrics) = &metrics {
                                    metrics.forget_connection(
                                        object.namespace.as_deref().unwrap_or_default(),
                                        &object.name,
                                    );
                                }
                            }
                            Err(error) => tracing::warn!(%error, "controller"),
                        }
                    }
                }
            });
        controllers.push(controller);
    }
    if let Some(readiness) = readiness {
        let stores = ctx.stores.read().unwrap_or_else(|p| p.into_inner()).clone();
        tokio::spawn(async move {
            for store in stores {
                if crate::telemetry::store_ready(&store).await.is_err() {
                    return;
                }
            }
            tracing::info!("connection store ready");
            readiness.set_ready();
        });
    }
    if let Some(metrics) = all_metrics {
        // Deletions trigger no reconcile: drop the series of connections gone from the cache.
        let stores = ctx.stores.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => return,
                    _ = tick.tick() => {}
                }
                metrics.retain_connections(|namespace, name| {
                    stores.iter().any(|store| {
                        store
                            .get(&kube::runtime::reflector::ObjectRef::new(name).within(namespace))
                            .is_some()
                    })
                });
            }
        });
    }
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    futures::future::join_all(controllers).await;
    Ok(())
}

/// Parses `region=url` pairs (flag values or a comma-separated env var).
pub fn parse_endpoint(text: &str) -> Result<(crate::region::Region, url::Url), String> {
    let (region, url) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not REGION=URL (e.g. eu=http://127.0.0.1:8080)"))?;
    let region = region.parse().map_err(|e| format!("{e}"))?;
    let url = url::Url::parse(url.trim()).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    Ok((region, url))
}

/// Collects endpoint overrides into a map.
pub fn endpoints(pairs: Vec<(crate::region::Region, url::Url)>) -> Endpoints {
    Endpoints {
        overrides: pairs.into_iter().collect::<BTreeMap<_, _>>(),
        observer: None,
    }
}
