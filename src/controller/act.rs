//! The JumpCloud side of a reconcile: identify or check a key, probe other regions, run a sync.
//! Every function turns client errors into the typed outcomes of [`crate::decide`].

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use url::Url;

use super::classify::{self, CollectFailure, inconclusive, retry_after};
use super::credential_checks::{PerCredential, SharedReach};
use super::reconcile::now_seconds;
use crate::collect::{self, CollectError, CollectOptions, EvaluateControls, NoProgress};
use crate::crd::{JumpCloudConnectionSpec, OrganizationStatus, SnapshotStatus};
use crate::decide::control_status::ControlsEvaluation;
use crate::decide::{KeyCheck, KeyIdentity, SharedCredential, SyncResult};
use crate::jumpcloud::{
    ClientConfig, Credential, JumpCloudClient, JumpCloudError, OldKeyAttempt, RetryPolicy,
    TokenCaches, TokenRejection,
};
use crate::region::Region;
use crate::report::policy_report::{ReportInput, SnapshotRef};
use crate::store::retention::{RetentionPolicy, apply_retention};
use crate::store::{ConnectionId, EvidenceStore, SigningKey, StoreSink};
use jiff::Timestamp;

/// Budget of a key check or identification, retries included.
const KEY_CHECK_DEADLINE: Duration = Duration::from_secs(20);

/// Where each region's API lives. Empty in production (the real hosts). The overrides are FOR
/// TESTS AND PRIVATE ENDPOINTS: when any is set, only regions with an override are ever
/// contacted, so a test never reaches the internet.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub overrides: BTreeMap<Region, Url>,
    /// Counts every JumpCloud request (metrics).
    pub observer: Option<crate::telemetry::RequestObserver>,
    /// Service accounts' access tokens, shared by every client of the operator: a token serves
    /// every reconcile and sync of its credential until it is due for renewal.
    pub tokens: TokenCaches,
}

impl Endpoints {
    fn reachable(&self, region: Region) -> bool {
        self.overrides.is_empty() || self.overrides.contains_key(&region)
    }

    fn config(
        &self,
        spec: &JumpCloudConnectionSpec,
        region: Region,
        org_id: Option<&str>,
    ) -> Result<ClientConfig, JumpCloudError> {
        let mut config = ClientConfig::new(region);
        config.base_url_override = self.overrides.get(&region).cloned();
        config.org_id = org_id.map(str::to_owned);
        config.observer = self.observer.clone();
        config.tokens = self.tokens.clone();
        // The connection's own token URL is its region's: a probe of another region uses that
        // region's endpoint.
        if region == spec.region
            && let Some(url) = spec
                .service_account_secret_ref
                .as_ref()
                .and_then(|r| r.token_url.as_deref())
        {
            config.token_url_override = Some(Url::parse(url).map_err(|error| {
                JumpCloudError::InvalidConfig(format!(
                    "spec.serviceAccountSecretRef.tokenUrl {url:?} is not a URL: {error}"
                ))
            })?);
        }
        Ok(config)
    }

    /// When the credential's current access token expires (service accounts; `None` for a
    /// key or before the first token).
    pub async fn token_expires_at(
        &self,
        spec: &JumpCloudConnectionSpec,
        key: &Credential,
    ) -> Option<Timestamp> {
        let config = self
            .config(spec, spec.region, spec.org_id.as_deref())
            .ok()?;
        let client = JumpCloudClient::new(config, key.clone()).ok()?;
        client.token_expires_at().await
    }

    fn key_client(
        &self,
        spec: &JumpCloudConnectionSpec,
        region: Region,
        key: &Credential,
    ) -> Result<JumpCloudClient, JumpCloudError> {
        let org_id = if region == spec.region {
            spec.org_id.as_deref()
        } else {
            None
        };
        let mut config = self.config(spec, region, org_id)?;
        config.concurrency = 2;
        config.request_timeout = Duration::from_secs(15);
        config.total_deadline = KEY_CHECK_DEADLINE;
        config.retry = RetryPolicy {
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(5),
            max_attempts: 3,
        };
        JumpCloudClient::new(config, key.clone())
    }
}

/// When the configured region rejected a key never accepted before, asks the other regions'
/// hosts (one request each) whether it belongs there.
async fn probe_other_regions(
    endpoints: &Endpoints,
    spec: &JumpCloudConnectionSpec,
    key: &Credential,
) -> Option<Region> {
    for region in Region::ALL {
        if region == spec.region || !endpoints.reachable(region) {
            continue;
        }
        let Ok(client) = endpoints.key_client(spec, region, key) else {
            continue;
        };
        if client.verify_key().await.is_ok() {
            return Some(region);
        }
    }
    None
}

async fn finish_rejection(
    check: KeyCheck,
    probe: bool,
    endpoints: &Endpoints,
    spec: &JumpCloudConnectionSpec,
    key: &Credential,
) -> KeyCheck {
    match check {
        KeyCheck::Rejected { .. } if probe => KeyCheck::Rejected {
            accepted_by: probe_other_regions(endpoints, spec, key).await,
        },
        // Only a plain refusal may be the wrong region: an expired secret or a disabled
        // account was recognised where it lives.
        KeyCheck::ClientRefused { cause, .. } => KeyCheck::ClientRefused {
            cause,
            accepted_by: if probe && cause == TokenRejection::InvalidClient {
                probe_other_regions(endpoints, spec, key).await
            } else {
                None
            },
            client_id: key.client_id().unwrap_or_default().to_owned(),
        },
        other => other,
    }
}

/// Which credential the key step's requests use (see [`crate::decide::SharedCredential`]).
pub fn credential(
    endpoints: &Endpoints,
    spec: &JumpCloudConnectionSpec,
    fingerprint: &str,
) -> SharedCredential {
    SharedCredential {
        fingerprint: fingerprint.to_owned(),
        region: spec.region,
        base_url: endpoints.overrides.get(&spec.region).map(Url::to_string),
    }
}

/// Identifies the key: organizations, the selected one, the administrator and its role.
/// `probe` allows asking the other regions when the key is rejected (never accepted before).
/// What the key reaches is asked once per credential (`reaches`): a listing another connection
/// got within the key check period serves when it holds this connection's organization.
pub(super) async fn identify(
    endpoints: &Endpoints,
    spec: &JumpCloudConnectionSpec,
    key: &Credential,
    probe: bool,
    reaches: &PerCredential<SharedReach>,
) -> (KeyCheck, Option<Duration>, Timestamp) {
    let client = match endpoints.key_client(spec, spec.region, key) {
        Ok(client) => client,
        Err(error) => return (inconclusive(&error), None, now_seconds()),
    };
    let org_id = spec.org_id.as_deref();
    let interval = spec
        .intervals()
        .map(|i| i.key_check)
        .unwrap_or(Duration::ZERO);
    let reuse = |shared: &SharedReach| {
        crate::decide::reach_reusable(shared.answered_at, interval, jiff::Timestamp::now())
            && shared.reach.select(org_id).is_ok()
    };
    let ask = async {
        let reach = client.reach().await?;
        Ok::<_, JumpCloudError>(SharedReach {
            answered_at: now_seconds(),
            reach,
        })
    };
    let shared = reaches
        .answer(&credential(endpoints, spec, &key.fingerprint()), reuse, ask)
        .await;
    let answered_at = shared
        .as_ref()
        .map_or_else(|_| now_seconds(), |s| s.answered_at);
    match shared.and_then(|shared| shared.reach.select(org_id)) {
        Ok(identity) => {
            let admin = identity.administrator;
            let check = KeyCheck::Accepted {
                identity: Some(KeyIdentity {
                    organization: OrganizationStatus {
                        id: identity.org.id,
                        name: identity.org.name,
                    },
                    administrator: admin
                        .as_ref()
                        .filter(|a| !a.service_account)
                        .map(|a| a.email.clone()),
                    role: admin.as_ref().and_then(|a| a.role_name.clone()),
                    expires_at: admin.as_ref().and_then(|a| a.key_expires_at),
                    client_id: key.client_id().map(str::to_owned),
                    name: admin.as_ref().and_then(|a| a.name.clone()),
                }),
            };
            (check, None, answered_at)
        }
        Err(error) => {
            let check =
                finish_rejection(classify::key_error(&error), probe, endpoints, spec, key).await;
            (check, retry_after(&error), answered_at)
        }
    }
}

/// The cheap check: exactly one request (plus region probes after a first rejection).
pub async fn check_key(
    endpoints: &Endpoints,
    spec: &JumpCloudConnectionSpec,
    key: &Credential,
    probe: bool,
) -> (KeyCheck, Option<Duration>) {
    let client = match endpoints.key_client(spec, spec.region, key) {
        Ok(client) => client,
        Err(error) => return (inconclusive(&error), None),
    };
    match client.verify_key().await {
        Ok(()) => (KeyCheck::Accepted { identity: None }, None),
        Err(error) => {
            let check =
                finish_rejection(classify::key_error(&error), probe, endpoints, spec, key).await;
            (check, retry_after(&error))
        }
    }
}

/// What a sync produced: a sync result, or a key problem found while syncing.
#[derive(Debug)]
pub enum SyncOutcome {
    Synced {
        result: SyncResult,
        /// What the manifest says about the key (organization, role, expiry).
        identity: Option<KeyIdentity>,
        retry_after: Option<Duration>,
        /// The full control results of a successful sync, for the policy reports.
        report: Option<Box<ReportInput>>,
        /// Uses of revoked keys since the connection's last key rotation, when asked
        /// ([`crate::decide::old_key_question`]), newest first.
        old_keys: Vec<OldKeyAttempt>,
    },
    KeyProblem(KeyCheck),
}

impl SyncOutcome {
    /// Takes the control results for the policy reports out of the outcome.
    pub fn take_report(&mut self) -> Option<Box<ReportInput>> {
        match self {
            SyncOutcome::Synced { report, .. } => report.take(),
            SyncOutcome::KeyProblem(_) => None,
        }
    }
}

fn sync_failure(error: &JumpCloudError) -> SyncOutcome {
    SyncOutcome::Synced {
        result: classify::sync_error(error, None),
        identity: None,
        retry_after: retry_after(error),
        report: None,
        old_keys: Vec::new(),
    }
}

/// Where and how the operator stores evidence.
#[derive(Debug, Clone)]
pub struct EvidenceTarget {
    pub store: EvidenceStore,
    /// Signs every manifest when set.
    pub signer: Option<SigningKey>,
}

/// Collects a snapshot into the connection's part of the evidence store exactly as `collect`
/// does (the latest snapshot changes only when the new one is complete), stores the auditor
/// report next to it, and applies retention.
pub async fn sync(
    endpoints: &Endpoints,
    spec: &JumpCloudConnectionSpec,
    key: &Credential,
    timeout: Duration,
    evidence: &EvidenceTarget,
    connection: &ConnectionId,
    old_key_since: Option<Timestamp>,
) -> SyncOutcome {
    let mut config = match endpoints.config(spec, spec.region, spec.org_id.as_deref()) {
        Ok(config) => config,
        Err(error) => return sync_failure(&error),
    };
    config.total_deadline = timeout;
    config.request_timeout = config.request_timeout.min(timeout);
    let client = match JumpCloudClient::new(config, key.clone()) {
        Ok(client) => client,
        Err(error) => return sync_failure(&error),
    };
    let store = evidence.store.connection(connection);
    let sink = match StoreSink::open(store.clone()).await {
        Ok(sink) => sink
            .signed_by(evidence.signer.clone())
            .retaining(RetentionPolicy::days(spec.retention_days())),
        Err(error) => return write_failure(&CollectError::store(error)),
    };
    let options = CollectOptions {
        events_days: spec.events_days(),
        device_access: spec.device_access(),
        ..CollectOptions::default()
    };
    let evaluate = EvaluateControls::new(
        spec.controls.clone().unwrap_or_default(),
        crate::controls::SettingsSource::Crd,
    );
    let run = collect::collect_with(&client, sink, &evaluate, &options, &NoProgress);
    let report = match tokio::time::timeout(timeout, run).await {
        Err(_) => {
            return SyncOutcome::Synced {
                result: classify::sync_timed_out(timeout),
                identity: None,
                retry_after: None,
                report: None,
                old_keys: Vec::new(),
            };
        }
        Ok(Ok(report)) => report,
        Ok(Err(error)) => {
            return match classify::collect_error(&error) {
                CollectFailure::Key(check) => SyncOutcome::KeyProblem(
                    finish_rejection(check, false, endpoints, spec, key).await,
                ),
                CollectFailure::Sync {
                    result,
                    retry_after,
                } => SyncOutcome::Synced {
                    result,
                    identity: None,
                    retry_after,
                    report: None,
                    old_keys: Vec::new(),
                },
            };
        }
    };
    let committed = report.committed;
    let snapshot = &committed.snapshot;
    let mut controls = match &committed.controls {
        Some(stored) => ControlsEvaluation::of(&stored.results, stored.evaluated_at),
        // The collection above always evaluates; an empty evaluation is the honest fallback.
        None => ControlsEvaluation::of(&[], snapshot.manifest.created_at),
    };
    let snapshot_ref = SnapshotRef {
        id: snapshot.id.to_string(),
        digest: format!("sha256:{}", snapshot.sha256),
        sequence: snapshot.manifest.sequence,
    };
    // No evaluation, no report: an empty one would claim that nothing fails.
    let policy_report = committed.controls.map(|stored| {
        Box::new(ReportInput {
            results: stored.results,
            evaluated_at: stored.evaluated_at,
            snapshot: snapshot_ref.clone(),
        })
    });
    if let Err(error) = crate::report::publish_report(&store, snapshot).await {
        controls.report_error = Some(error.to_string());
    }
    let policy = RetentionPolicy::days(spec.retention_days());
    let retention_problem = match apply_retention(&store, &policy, jiff::Timestamp::now()).await {
        Ok(outcome) if outcome.failures.is_empty() => None,
        Ok(outcome) => Some(
            outcome
                .failures
                .iter()
                .map(|(path, error)| format!("{path}: {error}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(error) => Some(error.to_string()),
    };
    // Asked after the commit: Directory Insights may be unlicensed or down, which must not
    // fail a sync whose evidence is stored.
    let old_keys = match old_key_since {
        Some(since) => match client
            .old_key_attempts(&report.manifest.org.id, since)
            .await
        {
            Ok(attempts) => attempts,
            Err(error) => {
                tracing::warn!(%error, "cannot ask Directory Insights for uses of the previous key");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let manifest = report.manifest;
    let counts = snapshot
        .index
        .kinds
        .iter()
        .map(|kind| (kind.kind.clone(), kind.records))
        .collect();
    SyncOutcome::Synced {
        result: SyncResult::Succeeded {
            counts,
            snapshot: SnapshotStatus {
                id: snapshot_ref.id,
                digest: snapshot_ref.digest,
                sequence: snapshot_ref.sequence,
                time: Time(snapshot.manifest.created_at),
                signed: evidence.signer.is_some(),
            },
            controls: Box::new(controls),
            retention_problem,
        },
        identity: Some(KeyIdentity {
            organization: OrganizationStatus {
                id: manifest.org.id,
                name: manifest.org.name,
            },
            administrator: None,
            role: manifest.administrator_role,
            expires_at: manifest.administrator_key_expires_at,
            client_id: key.client_id().map(str::to_owned),
            name: None,
        }),
        retry_after: None,
        report: policy_report,
        old_keys,
    }
}

pub fn write_failure(error: &CollectError) -> SyncOutcome {
    SyncOutcome::Synced {
        result: classify::write_failure(error),
        identity: None,
        retry_after: None,
        report: None,
        old_keys: Vec::new(),
    }
}
