//! One reconcile of one connection: gather (the connection, its one Secret) ->
//! [`decide`](crate::decide) -> act (the key step, then the sync step: JumpCloud, evidence) ->
//! report (status by server-side apply only when changed, events on transitions) -> requeue.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};

use super::act::{self, SyncOutcome};
use super::context::{Context, connection_key};
use super::shared_key::{shared_key_peers, warn_shared_key};
use super::{Error, FIELD_MANAGER, policy_reports, secrets};
use crate::crd::{
    JumpCloudConnection, JumpCloudConnectionSpec, JumpCloudConnectionStatus,
    SYNC_REQUESTED_AT_ANNOTATION,
};
use crate::decide::{
    self, EventSpec, Inputs, KeyCheck, KeyRequest, Plan, SecretRead, SharedCheck, Subject,
    SyncResult, SyncTrigger,
};
use crate::jumpcloud::Credential;
use crate::report::policy_report::ReportInput;

/// Requeue of connections waiting for a human (Secret or spec change arrive through watches).
const STALLED_REQUEUE: Duration = Duration::from_secs(30 * 60);

/// How acting moved the connection's backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backoff {
    /// A transient failure, with the server's wait hint.
    Failed { retry_after: Option<Duration> },
    /// JumpCloud answered: the backoff starts over.
    Succeeded,
    /// Nothing said either way.
    Unchanged,
}

impl Backoff {
    /// The backoff after `self` and then `later` in the same reconcile: a failure wins, then a
    /// success.
    fn then(self, later: Backoff) -> Backoff {
        match (self, later) {
            (_, failed @ Backoff::Failed { .. }) | (failed @ Backoff::Failed { .. }, _) => failed,
            (Backoff::Succeeded, _) | (_, Backoff::Succeeded) => Backoff::Succeeded,
            (Backoff::Unchanged, Backoff::Unchanged) => Backoff::Unchanged,
        }
    }
}

/// What the key step came to: how the backoff moves, and the sync to run next, if any.
struct KeyStep {
    backoff: Backoff,
    sync: Option<SyncTrigger>,
}

impl KeyStep {
    fn nothing() -> Self {
        KeyStep {
            backoff: Backoff::Unchanged,
            sync: None,
        }
    }
}

/// What the sync step came to.
struct SyncStep {
    backoff: Backoff,
    /// Events of the sync (controls that changed, retention).
    events: Vec<EventSpec>,
    /// The control results for the policy reports, after a successful sync.
    report: Option<Box<ReportInput>>,
}

/// The statuses written so far in this reconcile, for the write cache and the comparison.
struct Writes {
    /// What the API holds as far as this process knows.
    last_written: JumpCloudConnectionStatus,
    /// resourceVersions the next write replaces.
    replaced: Vec<Option<String>>,
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

/// Time as status holds it: whole seconds.
pub(super) fn now_seconds() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
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
    let mut now = now_seconds();
    let spec = &connection.spec;
    // The watch event of this process's own status write: nothing new to see (for a fleet,
    // one such event per connection per key check).
    if let Some(requeue) = ctx.echo_of_own_write(&key, &connection, Timestamp::now()) {
        tracing::debug!("own status write; nothing changed");
        return Ok(requeue.map_or_else(Action::await_change, Action::requeue));
    }

    // Gather: the one Secret, read now and dropped at the end of this reconcile.
    let secret_read = {
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
        match spec.credential_ref() {
            Ok(credential) => secrets::read(&secrets, credential).await,
            // Both or neither reference: `decide` stops at InvalidSpec before the Secret counts.
            Err(_) => SecretRead::NotFound,
        }
    };
    let mut current_status = ctx.current_status(&key, &connection);
    // What the Kubernetes API holds as far as this process knows: writes and events compare
    // against it.
    let stored_status = current_status.clone();
    let generation = connection.metadata.generation;
    if ctx.restore_rejection(&key, &mut current_status, &secret_read, generation) {
        tracing::info!("the key's last rejection is not in the status yet; restored it");
    }
    let request = connection
        .annotations()
        .get(SYNC_REQUESTED_AT_ANNOTATION)
        .cloned();
    let mut retry_not_before = ctx.backoff.retry_not_before(&key);
    let uid = connection.uid();
    let mut inputs = Inputs {
        namespace: &namespace,
        name: &name,
        uid: uid.as_deref(),
        generation,
        spec,
        status: &current_status,
        sync_requested_at: request.as_deref(),
        secret: &secret_read,
        retry_not_before,
        rejected_key_retry: ctx.settings.rejected_key_retry,
        now,
    };
    let mut plan = decide::decide(&inputs);
    tracing::debug!(?plan, "decided");
    // JumpCloud work waits for its place: a person's before the periodic ones.
    let _place = match decide::priority(&plan) {
        Some(priority) => {
            let place = ctx.gate.enter(priority).await;
            // The wait can be long: decide again as of when the work starts.
            let started = now_seconds();
            if started != now {
                now = started;
                inputs.now = now;
                plan = decide::decide(&inputs);
            }
            Some(place)
        }
        None => None,
    };

    // Act: the key step, then the sync it leads to.
    let subject = Subject {
        namespace: &namespace,
        name: &name,
        uid: uid.as_deref(),
        generation,
        spec,
        now,
    };
    let mut status = current_status.clone();
    let key_step = key_step(&ctx, &plan, &secret_read, spec, &mut status, &subject).await;
    let api: Api<JumpCloudConnection> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut writes = Writes {
        last_written: stored_status.clone(),
        replaced: vec![connection.resource_version()],
    };
    let mut backoff = key_step.backoff;
    let mut sync_events = Vec::new();
    let mut policy_report = None;
    if let (
        Some(trigger),
        SecretRead::Present {
            key: api_key,
            fingerprint,
            version,
        },
    ) = (&key_step.sync, &secret_read)
    {
        let sync = SyncRun {
            ctx: &ctx,
            api: &api,
            key: &key,
            plan: &plan,
            trigger,
            api_key,
            fingerprint,
            secret_version: version.as_deref(),
            retry_not_before,
        };
        let step = sync.run(&mut status, &mut writes, &subject).await;
        backoff = backoff.then(step.backoff);
        sync_events = step.events;
        policy_report = step.report;
    }
    retry_not_before = match backoff {
        Backoff::Failed { retry_after } => Some(ctx.backoff.record_failure(&key, retry_after, now)),
        Backoff::Succeeded => {
            ctx.backoff.reset(&key);
            None
        }
        Backoff::Unchanged => retry_not_before,
    };
    decide::finish(&mut status, &plan, retry_not_before, &subject);
    if let Some(metrics) = &ctx.settings.metrics {
        crate::telemetry::record_status(metrics, &namespace, &name, spec, &status);
    }
    let fingerprint = match &secret_read {
        SecretRead::Present { fingerprint, .. } => Some(fingerprint.as_str()),
        _ => None,
    };
    if let Some(fp) = fingerprint {
        decide::set_shared_with(&mut status, fp, &shared_key_peers(&ctx, &key, fp));
    }
    if let SecretRead::Present {
        key: credential,
        fingerprint,
        ..
    } = &secret_read
        && credential.client_id().is_some()
    {
        let expires_at = ctx
            .settings
            .endpoints
            .token_expires_at(spec, credential)
            .await;
        decide::set_token_expiry(&mut status, fingerprint, expires_at);
    }
    ctx.remember_rejection(&key, &status);

    // Report: status only when changed, events on transitions.
    if status != writes.last_written {
        let produced = write_status(&api, &name, &status).await?;
        ctx.remember_write(&key, writes.replaced, produced, &status);
    }
    if let Some(input) = &policy_report {
        policy_reports::publish(&ctx.client, &ctx.report_kinds, &connection, input).await;
    }
    for event in decide::events(&stored_status.conditions, &status.conditions)
        .into_iter()
        .chain(sync_events)
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
    if let Some(fp) = fingerprint {
        warn_shared_key(&ctx, &connection, &key, fp).await;
    }

    // Requeue at the next thing due.
    let after = decide::decide(&Inputs {
        status: &status,
        retry_not_before,
        ..inputs
    });
    let wait = requeue(&after, now, retry_not_before);
    ctx.remember_requeue(&key, wait.map(|wait| decide::add(Timestamp::now(), wait)));
    let action = wait.map_or_else(Action::await_change, Action::requeue);
    let ready = crate::conditions::find(&status.conditions, crate::conditions::READY)
        .map(|c| c.reason.as_str())
        .unwrap_or("");
    // Routine reconciles (waiting, a key check or re-check that changed no condition) log at
    // debug: a fleet's log then grows with what changes, not with connections x key checks.
    if decide::is_routine(&plan, &stored_status.conditions, &status.conditions) {
        tracing::debug!(
            action = action_name(&plan),
            plan = plan.name(),
            ready,
            "reconciled"
        );
    } else {
        tracing::info!(
            action = action_name(&plan),
            plan = plan.name(),
            ready,
            "reconciled"
        );
    }
    Ok(action)
}

/// When to reconcile again, from the plan for the status just computed (`None`: on a change).
fn requeue(after: &Plan, now: Timestamp, retry_not_before: Option<Timestamp>) -> Option<Duration> {
    match after {
        Plan::Suspended | Plan::InvalidSpec(_) => None,
        Plan::SecretProblem => Some(STALLED_REQUEUE),
        Plan::SecretUnreadable(_) => Some(decide::requeue_after(
            now,
            retry_not_before.unwrap_or(now),
            rand::random(),
        )),
        Plan::Blocked { until } | Plan::Wait { until } => {
            Some(decide::requeue_after(now, *until, rand::random()))
        }
        // Something is due right away (e.g. the sync after a first identification).
        Plan::Identify { .. } | Plan::CheckKey | Plan::Recheck(_) | Plan::Sync { .. } => {
            Some(Duration::from_secs(1))
        }
    }
}

/// The key step: records what the Secret showed, or identifies or checks the key, as the plan
/// says. The plans that call JumpCloud come only with a key in the Secret.
async fn key_step(
    ctx: &Context,
    plan: &Plan,
    secret: &SecretRead,
    spec: &JumpCloudConnectionSpec,
    status: &mut JumpCloudConnectionStatus,
    subject: &Subject<'_>,
) -> KeyStep {
    let endpoints = &ctx.settings.endpoints;
    match (plan, secret) {
        (Plan::Suspended | Plan::InvalidSpec(_) | Plan::Blocked { .. } | Plan::Wait { .. }, _) => {
            KeyStep::nothing()
        }
        (Plan::SecretProblem, _) => {
            decide::apply_secret_problem(status, secret, subject);
            KeyStep::nothing()
        }
        (Plan::SecretUnreadable(error), _) => {
            decide::apply_secret_unreadable(status, error, subject);
            KeyStep {
                backoff: Backoff::Failed { retry_after: None },
                sync: None,
            }
        }
        (
            Plan::Identify {
                then_sync,
                probe_regions,
            },
            SecretRead::Present {
                key,
                fingerprint,
                version,
            },
        ) => {
            let (check, retry_after, checked_at) =
                act::identify(endpoints, spec, key, *probe_regions, &ctx.reaches).await;
            let checked = Subject {
                now: checked_at,
                ..*subject
            };
            decide::apply_key_check(status, fingerprint, version.as_deref(), &check, &checked);
            match check {
                KeyCheck::Accepted { .. } => KeyStep {
                    backoff: Backoff::Succeeded,
                    sync: then_sync.clone(),
                },
                KeyCheck::Inconclusive { .. } => KeyStep {
                    backoff: Backoff::Failed { retry_after },
                    sync: None,
                },
                _ => KeyStep::nothing(),
            }
        }
        (
            Plan::CheckKey | Plan::Recheck(_),
            SecretRead::Present {
                key,
                fingerprint,
                version,
            },
        ) => {
            // Never a region probe here: the key was accepted before, or this is the hourly
            // re-check of a rejection, which asks the configured region only.
            let (check, retry_after, checked_at) = match plan {
                Plan::Recheck(KeyRequest::Organizations) => {
                    act::identify(endpoints, spec, key, false, &ctx.reaches).await
                }
                // The cheap request is the same for every connection of the credential:
                // asked once, its answer taken by all (with its time, so they stay due
                // together).
                _ => {
                    let interval = spec
                        .intervals()
                        .map(|i| i.key_check)
                        .unwrap_or(Duration::ZERO);
                    let floor = decide::check_floor(status, subject.now);
                    let reuse = |shared: &SharedCheck| {
                        decide::reusable(Some(shared), floor, interval, Timestamp::now()).is_some()
                    };
                    let ask = async {
                        let (check, retry_after) =
                            act::check_key(endpoints, spec, key, false).await;
                        Ok::<_, std::convert::Infallible>(SharedCheck {
                            checked_at: now_seconds(),
                            check,
                            retry_after,
                        })
                    };
                    let credential = act::credential(endpoints, spec, fingerprint);
                    match ctx.key_checks.answer(&credential, reuse, ask).await {
                        Ok(shared) => (shared.check, shared.retry_after, shared.checked_at),
                        Err(never) => match never {},
                    }
                }
            };
            let checked = Subject {
                now: checked_at,
                ..*subject
            };
            decide::apply_key_check(status, fingerprint, version.as_deref(), &check, &checked);
            let backoff = match check {
                KeyCheck::Accepted { .. } => Backoff::Succeeded,
                // The re-check of a rejected key used this period's one request: the next
                // comes a full period later, not on the short transient backoff.
                KeyCheck::Inconclusive { .. } if matches!(plan, Plan::Recheck(_)) => {
                    Backoff::Failed {
                        retry_after: Some(ctx.settings.rejected_key_retry),
                    }
                }
                KeyCheck::Inconclusive { .. } => Backoff::Failed { retry_after },
                _ => Backoff::Unchanged,
            };
            KeyStep {
                backoff,
                sync: None,
            }
        }
        (Plan::Sync { trigger }, SecretRead::Present { .. }) => KeyStep {
            backoff: Backoff::Unchanged,
            sync: Some(trigger.clone()),
        },
        (Plan::Identify { .. } | Plan::CheckKey | Plan::Recheck(_) | Plan::Sync { .. }, _) => {
            // `decide` plans a JumpCloud call only for a key it was shown.
            tracing::error!(plan = plan.name(), "a plan that needs the key, without one");
            KeyStep::nothing()
        }
    }
}

/// A sync about to run, and what it needs.
struct SyncRun<'a> {
    ctx: &'a Context,
    api: &'a Api<JumpCloudConnection>,
    key: &'a str,
    plan: &'a Plan,
    trigger: &'a SyncTrigger,
    api_key: &'a Credential,
    fingerprint: &'a str,
    secret_version: Option<&'a str>,
    retry_not_before: Option<Timestamp>,
}

impl SyncRun<'_> {
    /// Shows the sync in progress (Reconciling=True, Ready present) before it runs, since it
    /// can take minutes; runs it; records its outcome.
    async fn run(
        &self,
        status: &mut JumpCloudConnectionStatus,
        writes: &mut Writes,
        subject: &Subject<'_>,
    ) -> SyncStep {
        let mut in_progress = status.clone();
        decide::syncing(
            &mut in_progress,
            self.plan,
            self.trigger,
            self.retry_not_before,
            subject,
        );
        if in_progress != writes.last_written {
            match write_status(self.api, subject.name, &in_progress).await {
                Ok(produced) => {
                    self.ctx.remember_write(
                        self.key,
                        writes.replaced.clone(),
                        produced.clone(),
                        &in_progress,
                    );
                    writes.replaced.push(produced);
                    // Reconciling has been True since now, whatever its reason after the sync.
                    if let Some(reconciling) = crate::conditions::find(
                        &in_progress.conditions,
                        crate::conditions::RECONCILING,
                    ) {
                        crate::conditions::put(&mut status.conditions, reconciling.clone());
                    }
                    writes.last_written = in_progress;
                }
                // The sync matters more; the final write says everything again.
                Err(error) => tracing::warn!(%error, "cannot write the in-progress status"),
            }
        }
        let old_key_since = decide::old_key_question(status, subject.now);
        let mut outcome = run_sync(self.ctx, subject, self.api_key, old_key_since).await;
        let report = outcome.take_report();
        // lastSyncTime is when the attempt ended.
        let subject = Subject {
            now: now_seconds(),
            ..*subject
        };
        let step = apply_sync_outcome(
            status,
            outcome,
            self.trigger,
            self.fingerprint,
            self.secret_version,
            &subject,
        );
        SyncStep { report, ..step }
    }
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

/// Records what a sync came to in the status.
fn apply_sync_outcome(
    status: &mut JumpCloudConnectionStatus,
    outcome: SyncOutcome,
    trigger: &SyncTrigger,
    fingerprint: &str,
    secret_version: Option<&str>,
    subject: &Subject<'_>,
) -> SyncStep {
    match outcome {
        SyncOutcome::KeyProblem(check) => {
            decide::apply_key_check(status, fingerprint, secret_version, &check, subject);
            if let SyncTrigger::Requested(request) = trigger {
                status.last_handled_sync_request = Some(request.clone());
            }
            SyncStep {
                backoff: Backoff::Unchanged,
                events: Vec::new(),
                report: None,
            }
        }
        SyncOutcome::Synced {
            result,
            identity,
            retry_after,
            old_keys,
            ..
        } => {
            if let Some(mut identity) = identity {
                // The manifest does not name who the credential is; the identification did.
                if let Some(known) = status.credential.as_ref() {
                    identity.administrator = known.administrator.clone();
                    identity.name = known.name.clone();
                }
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
            let backoff = match &result {
                SyncResult::Succeeded { .. } => Backoff::Succeeded,
                SyncResult::Failed {
                    transient: true, ..
                } => Backoff::Failed { retry_after },
                SyncResult::Failed { .. } => Backoff::Unchanged,
            };
            let mut events = decide::apply_sync(status, &result, trigger, subject);
            events.extend(decide::apply_old_key_attempts(status, &old_keys));
            SyncStep {
                backoff,
                events,
                report: None,
            }
        }
    }
}

async fn run_sync(
    ctx: &Context,
    subject: &Subject<'_>,
    api_key: &Credential,
    old_key_since: Option<Timestamp>,
) -> SyncOutcome {
    let (namespace, name, spec) = (subject.namespace, subject.name, subject.spec);
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
                old_key_since,
            )
            .await
        }
        // Kubernetes names are valid store names; this only guards the store's layout.
        Err(error) => act::write_failure(&crate::collect::CollectError::store(error)),
    };
    if let Some(metrics) = &ctx.settings.metrics {
        let result = match &outcome {
            SyncOutcome::Synced { result, .. } => Some(result),
            SyncOutcome::KeyProblem(_) => None,
        };
        crate::telemetry::record_sync(metrics, result, started.elapsed());
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        ok = matches!(
            outcome,
            SyncOutcome::Synced {
                result: SyncResult::Succeeded { .. },
                ..
            }
        ),
        "sync finished"
    );
    outcome
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_in_either_step_wins_then_a_success() {
        let failed = Backoff::Failed { retry_after: None };
        assert_eq!(Backoff::Succeeded.then(failed), failed);
        assert_eq!(failed.then(Backoff::Unchanged), failed);
        assert_eq!(
            Backoff::Succeeded.then(Backoff::Unchanged),
            Backoff::Succeeded
        );
        assert_eq!(
            Backoff::Unchanged.then(Backoff::Unchanged),
            Backoff::Unchanged
        );
    }
}
