//! Wiring: one kube-runtime `Controller` per watched namespace (connections, and the metadata
//! of Secrets mapped to the connections that name them), the readiness and metrics upkeep
//! tasks, and the start-up check that the CRD is installed.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt};

use super::context::{Context, connection_key};
use super::reconcile::{error_policy, reconcile};
use super::{Settings, policy_reports};
use crate::crd::JumpCloudConnection;

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
    let selector = settings.label_selector.clone();
    let all_metrics = settings.metrics.clone();
    let readiness = settings.readiness.clone();
    let secret_selector = settings.secret_selector.clone();
    let report_kinds = policy_reports::discover(&client, settings.policy_reports).await;
    let ctx = Arc::new(Context::new(client.clone(), settings).with_report_kinds(report_kinds));
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
        // Unbounded: reconciles with nothing to ask JumpCloud finish at once, and those with
        // something wait at the context's gate, `concurrency` at a time and new work first
        // (kube-runtime's own limit would queue them in arrival order, new behind due).
        let controller = Controller::new(connections, config);
        let store = controller.store();
        ctx.add_store(store.clone());
        let mut stop = stop_rx.clone();
        let metrics = all_metrics.clone();
        let controller = controller
            .watches(secrets, secret_config.clone(), {
                let ctx = ctx.clone();
                move |secret| {
                    // Noted, so the reconcile this brings reads the Secret even if the
                    // connection itself is unchanged since this process wrote it.
                    ctx.secret_changed(secret.namespace().as_deref(), &secret.name_any())
                }
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
    {
        let stores = ctx.stores.read().unwrap_or_else(|p| p.into_inner()).clone();
        let metrics = all_metrics.clone();
        tokio::spawn(async move {
            for store in &stores {
                if crate::telemetry::store_ready(store).await.is_err() {
                    return;
                }
            }
            tracing::info!("connection store ready");
            if let Some(readiness) = readiness {
                readiness.set_ready();
            }
            // The gauges as the stored statuses left them, before the reconciles (queued
            // `concurrency` at a time) get to every connection.
            if let Some(metrics) = metrics {
                let mut refilled = 0usize;
                for connection in stores.iter().flat_map(|store| store.state()) {
                    let name = connection.name_any();
                    if let (Some(namespace), Some(status)) =
                        (connection.namespace(), connection.status.as_ref())
                        // A reconcile that already set them knows newer values than the cache.
                        && !metrics.knows_connection(&namespace, &name)
                    {
                        crate::telemetry::record_status(
                            &metrics,
                            &namespace,
                            &name,
                            &connection.spec,
                            status,
                        );
                        refilled += 1;
                    }
                }
                tracing::info!(connections = refilled, "metrics refilled from status");
            }
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
