//! The state all reconciles share: the Kubernetes client, the settings, the event recorder, the
//! backoff, the watch caches, and what this process remembers between reconciles (the statuses
//! it wrote, the shared-key warnings it published, the rejections it saw).

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};

use super::backoff::BackoffTracker;
use super::credential_checks::{PerCredential, SharedReach};
use super::event_recorder::{EventRecorder, Publish};
use super::gate::Gate;
use super::{FIELD_MANAGER, Settings};
use crate::crd::{JumpCloudConnection, JumpCloudConnectionStatus};
use crate::decide::{self, EventKind, SecretRead, SharedCheck};
use crate::report::policy_report::ReportKind;

/// Shared state of all reconciles.
pub struct Context {
    pub(super) client: Client,
    pub(super) settings: Settings,
    recorder: EventRecorder,
    pub(super) backoff: BackoffTracker,
    /// At most `concurrency` reconciles call JumpCloud at once, a person's first.
    pub(super) gate: Gate,
    /// The last cheap key check per credential, taken by all its connections.
    pub(super) key_checks: PerCredential<SharedCheck>,
    /// What each credential's key reaches (the identification's listing), likewise.
    pub(super) reaches: PerCredential<SharedReach>,
    pub(super) stores: RwLock<Vec<Store<JumpCloudConnection>>>,
    /// Status this process wrote, keyed by connection, with the resourceVersion it replaced:
    /// a reconcile that still sees that version in the cache uses what was written instead, so
    /// a lagging cache never repeats a JumpCloud request.
    written: Mutex<HashMap<String, Written>>,
    /// The key fingerprint each connection was last warned about sharing.
    pub(super) shared_warned: Mutex<HashMap<String, String>>,
    /// Connections per shared key fingerprint when it was last logged.
    pub(super) shared_logged: Mutex<HashMap<String, usize>>,
    /// The last rejection of each connection's key, also when its status write failed: the
    /// dead key is not tried again on the Kubernetes-error backoff.
    rejections: Mutex<HashMap<String, decide::Rejection>>,
    /// Connections whose Secret changed since their last reconcile (the Secret watch).
    secret_changed: Mutex<std::collections::HashSet<String>>,
    /// When each connection's last reconcile asked to run again (`None`: on a change only).
    requeue_at: Mutex<HashMap<String, Option<jiff::Timestamp>>>,
    /// The policy report kinds written after each sync (found at start, see
    /// [`super::policy_reports::discover`]).
    pub(super) report_kinds: Vec<ReportKind>,
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

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Poisoning only means a panic elsewhere; these maps stay consistent per operation.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How connections are keyed in the maps: `namespace/name`.
pub(super) fn connection_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl Context {
    pub fn new(client: Client, settings: Settings) -> Self {
        let gate = Gate::new(settings.concurrency);
        Context {
            recorder: EventRecorder::new(
                client.clone(),
                FIELD_MANAGER.to_owned(),
                settings.instance.clone(),
            ),
            client,
            settings,
            backoff: BackoffTracker::default(),
            gate,
            key_checks: PerCredential::default(),
            reaches: PerCredential::default(),
            stores: RwLock::new(Vec::new()),
            written: Mutex::new(HashMap::new()),
            shared_warned: Mutex::new(HashMap::new()),
            shared_logged: Mutex::new(HashMap::new()),
            rejections: Mutex::new(HashMap::new()),
            secret_changed: Mutex::new(std::collections::HashSet::new()),
            requeue_at: Mutex::new(HashMap::new()),
            report_kinds: Vec::new(),
        }
    }

    /// Writes these policy report kinds after each sync (none by default).
    pub fn with_report_kinds(mut self, kinds: Vec<ReportKind>) -> Self {
        self.report_kinds = kinds;
        self
    }

    /// Adds a watch cache of connections (one per watched namespace): shared-key peers are
    /// looked up in them.
    pub fn add_store(&self, store: Store<JumpCloudConnection>) {
        self.stores
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(store);
    }

    /// Drops what is remembered about a deleted connection.
    pub(super) fn forget(&self, key: &str) {
        lock(&self.written).remove(key);
        lock(&self.shared_warned).remove(key);
        lock(&self.rejections).remove(key);
        lock(&self.secret_changed).remove(key);
        lock(&self.requeue_at).remove(key);
        self.backoff.reset(key);
    }

    /// The connections (in the watch caches) that read the Secret `namespace/name`, noted as
    /// having a changed Secret: their next reconcile reads it whatever else holds. The Secret
    /// watch calls this for every Secret event.
    pub fn secret_changed(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Vec<kube::runtime::reflector::ObjectRef<JumpCloudConnection>> {
        let stores = self
            .stores
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let refs: Vec<_> = stores
            .iter()
            .flat_map(|store| super::secrets::connections_referencing(store, namespace, name))
            .collect();
        let mut changed = lock(&self.secret_changed);
        for r in &refs {
            changed.insert(connection_key(
                r.namespace.as_deref().unwrap_or_default(),
                &r.name,
            ));
        }
        refs
    }

    /// Whether this reconcile only echoes this process's own last status write: the cached
    /// object is exactly what it wrote (its resourceVersion is the one the write produced), no
    /// Secret changed since, and the last reconcile's requeue time has not come. Then nothing
    /// can have changed that the last reconcile did not see, and the answer is its requeue
    /// (`Some(None)`: wait for a change). Takes the Secret-changed mark.
    pub(super) fn echo_of_own_write(
        &self,
        key: &str,
        connection: &JumpCloudConnection,
        now: jiff::Timestamp,
    ) -> Option<Option<std::time::Duration>> {
        if lock(&self.secret_changed).remove(key) {
            return None;
        }
        let own = lock(&self.written)
            .get(key)
            .is_some_and(|w| w.produced.is_some() && w.produced == connection.resource_version());
        if !own {
            return None;
        }
        match lock(&self.requeue_at).get(key).copied()? {
            None => Some(None),
            Some(at) if at > now => {
                Some(Some(at.duration_since(now).try_into().unwrap_or_default()))
            }
            Some(_) => None,
        }
    }

    /// Remembers when the reconcile just finished asked to run again.
    pub(super) fn remember_requeue(&self, key: &str, at: Option<jiff::Timestamp>) {
        lock(&self.requeue_at).insert(key.to_owned(), at);
    }

    /// The status a reconcile starts from: what this process last wrote when the cached object
    /// predates that write, the cached status otherwise.
    pub(super) fn current_status(
        &self,
        key: &str,
        connection: &JumpCloudConnection,
    ) -> JumpCloudConnectionStatus {
        let cached_version = connection.resource_version();
        let written = lock(&self.written);
        match written.get(key) {
            Some(write) if write.is_newer_than(cached_version.as_deref()) => write.status.clone(),
            _ => connection.status.clone().unwrap_or_default(),
        }
    }

    /// Remembers a status written to the API (see [`Context::current_status`]).
    pub(super) fn remember_write(
        &self,
        key: &str,
        replaced: Vec<Option<String>>,
        produced: Option<String>,
        status: &JumpCloudConnectionStatus,
    ) {
        lock(&self.written).insert(
            key.to_owned(),
            Written {
                replaced,
                produced,
                status: status.clone(),
            },
        );
    }

    /// Puts back the remembered rejection of this connection's key into `status` when it lacks
    /// it; returns whether it did.
    pub(super) fn restore_rejection(
        &self,
        key: &str,
        status: &mut JumpCloudConnectionStatus,
        secret: &SecretRead,
        generation: Option<i64>,
    ) -> bool {
        lock(&self.rejections).get(key).is_some_and(|rejection| {
            decide::restore_rejection(status, rejection, secret, generation)
        })
    }

    /// Remembers the rejection `status` records (or that there is none), before it is written,
    /// so a failed write cannot lose it.
    pub(super) fn remember_rejection(&self, key: &str, status: &JumpCloudConnectionStatus) {
        let mut rejections = lock(&self.rejections);
        match decide::rejection_of(status) {
            Some(rejection) => rejections.insert(key.to_owned(), rejection),
            None => rejections.remove(key),
        };
    }

    /// Every connection with its last seen key fingerprint, across all watched namespaces.
    pub(super) fn fingerprints(&self) -> Vec<(String, Option<String>)> {
        let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
        stores
            .iter()
            .flat_map(|store| store.state())
            .map(|c| {
                let key = connection_key(&c.namespace().unwrap_or_default(), &c.name_any());
                let fingerprint = c
                    .status
                    .as_ref()
                    .and_then(|s| s.credential.as_ref())
                    .map(|k| k.fingerprint.clone());
                (key, fingerprint)
            })
            .collect()
    }

    /// A connection from the watch caches, by `namespace/name`.
    pub(super) fn cached(&self, key: &str) -> Option<JumpCloudConnection> {
        let (namespace, name) = key.split_once('/')?;
        let reference = kube::runtime::reflector::ObjectRef::new(name).within(namespace);
        let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
        stores
            .iter()
            .find_map(|store| store.get(&reference))
            .map(|c| (*c).clone())
    }

    pub(super) async fn publish(
        &self,
        connection: &JumpCloudConnection,
        kind: EventKind,
        reason: &str,
        note: &str,
        action: &str,
    ) {
        // The API server takes at most 1 KiB of note.
        let note: String = note.chars().take(1000).collect();
        let event = Publish {
            warning: kind == EventKind::Warning,
            reason,
            note: &note,
            action,
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
