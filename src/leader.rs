//! Leader election with a `coordination.k8s.io/v1` Lease (kube-lease-manager).
//!
//! - [`acquire`] waits until this process holds the lease (or shutdown is requested). A standby
//!   re-reads the Lease every `retry` period, so a lease *released* by a leader stopping on
//!   SIGTERM is taken over within about one retry period; a lease left by a crashed leader is
//!   taken over once it has expired (`duration` after its last renewal).
//! - [`Leadership::hold`] renews the lease and returns when it is lost (another holder, or no
//!   successful renewal or read for a lease duration: then the process must stop, because
//!   another replica may take over).
//! - [`Leadership::release`] frees the lease at the end of a clean shutdown.
//!
//! API calls: `get`, `create` (first start) and `patch` (renew, take over, release) on one
//! Lease in one namespace.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio_util::sync::CancellationToken;

/// Name of the Lease.
pub const LEASE_NAME: &str = "jumpcloud-operator";

/// Leader election errors.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("invalid leader election timing: {0}")]
    InvalidTiming(String),
    #[error("lost the leader lease: {0} holds it no longer")]
    Lost(String),
    #[error("cannot renew the leader lease: {0}")]
    Renew(#[source] LeaseManagerError),
    #[error("cannot release the leader lease: {0}")]
    Release(#[source] LeaseManagerError),
}

/// How to elect.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    pub lease_name: String,
    /// Holder identity (the pod name).
    pub identity: String,
    /// Lease validity after the last renewal.
    pub duration: Duration,
    /// The holder renews this long before the lease expires.
    pub renew_before: Duration,
    /// How often a standby re-reads the Lease.
    pub retry: Duration,
}

impl LeaderConfig {
    fn seconds(&self) -> Result<(u64, u64), LeaderError> {
        let duration = self.duration.as_secs();
        let grace = self.renew_before.as_secs();
        if duration == 0 || grace == 0 || grace >= duration {
            return Err(LeaderError::InvalidTiming(format!(
                "the lease duration ({duration}s) must be longer than the renew margin ({grace}s), both at least 1s"
            )));
        }
        if self.retry.is_zero() {
            return Err(LeaderError::InvalidTiming(
                "the retry period must be positive".to_owned(),
            ));
        }
        Ok((duration, grace))
    }
}

/// The identity of this process: `POD_NAME`, else `<hostname>-<pid>`.
pub fn default_identity(pod_name: Option<&str>) -> String {
    if let Some(name) = pod_name.filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "jumpcloud-operator".to_owned());
    format!("{host}-{}", std::process::id())
}

/// This process holds the lease.
pub struct Leadership {
    manager: LeaseManager,
    client: Client,
    config: LeaderConfig,
}

/// Waits until this process holds the lease; `None` when `shutdown` was cancelled first.
/// API errors are logged and retried: a standby never gives up.
pub async fn acquire(
    client: &Client,
    config: &LeaderConfig,
    shutdown: &CancellationToken,
) -> Result<Option<Leadership>, LeaderError> {
    let (duration, grace) = config.seconds()?;
    let mut announced = false;
    loop {
        if shutdown.is_cancelled() {
            return Ok(None);
        }
        // A fresh manager reads the Lease anew: the manager alone would sleep until the
        // expiry it last saw and miss a release.
        let attempt = async {
            let manager = LeaseManagerBuilder::new(client.clone(), &config.lease_name)
                .with_namespace(&config.namespace)
                .with_identity(&config.identity)
                .with_duration(duration)
                .with_grace(grace)
                .build()
                .await?;
            let leader = manager.changed().await?;
            Ok::<_, LeaseManagerError>((manager, leader))
        };
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            outcome = tokio::time::timeout(config.retry, attempt) => match outcome {
                Ok(Ok((manager, true))) => {
                    tracing::info!(identity = %config.identity, lease = %config.lease_name, "became the leader");
                    return Ok(Some(Leadership { manager, client: client.clone(), config: config.clone() }));
                }
                Ok(Ok((_, false))) | Err(_) => {
                    if !announced {
                        tracing::info!(identity = %config.identity, lease = %config.lease_name, "waiting for the leader lease");
                        announced = true;
                    }
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "leader election: cannot read or take the lease; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(None),
                        _ = tokio::time::sleep(config.retry) => {}
                    }
                }
            },
        }
    }
}

impl Leadership {
    /// Renews the lease until it is lost or cannot be renewed; returns why.
    ///
    /// The manager renews without re-reading the Lease, so it would not notice another holder
    /// (for example after a renewal came too late and a standby took over). Every retry period
    /// the Lease is therefore read back: another holder means lost; no successful read for a
    /// whole lease duration means this process can no longer know, so it stops too.
    pub async fn hold(&self) -> LeaderError {
        let renew = async {
            loop {
                match self.manager.changed().await {
                    Ok(true) => continue,
                    Ok(false) => return LeaderError::Lost(self.config.identity.clone()),
                    Err(error) => return LeaderError::Renew(error),
                }
            }
        };
        let verify = async {
            let leases: Api<Lease> = Api::namespaced(self.client.clone(), &self.config.namespace);
            let mut confirmed = Instant::now();
            loop {
                tokio::time::sleep(self.config.retry).await;
                match leases.get_opt(&self.config.lease_name).await {
                    Ok(lease) => {
                        let holder = lease.and_then(|l| l.spec).and_then(|s| s.holder_identity);
                        if holder.as_deref() != Some(self.config.identity.as_str()) {
                            tracing::error!(holder = ?holder, "another replica holds the lease");
                            return LeaderError::Lost(self.config.identity.clone());
                        }
                        confirmed = Instant::now();
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the leader lease");
                        if confirmed.elapsed() >= self.config.duration {
                            return LeaderError::Renew(LeaseManagerError::KubeError(error));
                        }
                    }
                }
            }
        };
        tokio::select! {
            lost = renew => lost,
            lost = verify => lost,
        }
    }

    /// Frees the lease so a standby takes over at once.
    pub async fn release(self) -> Result<(), LeaderError> {
        self.manager.release().await.map_err(LeaderError::Release)?;
        tracing::info!(identity = %self.config.identity, "released the leader lease");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(duration: u64, grace: u64) -> LeaderConfig {
        LeaderConfig {
            namespace: "ns".into(),
            lease_name: LEASE_NAME.into(),
            identity: "a".into(),
            duration: Duration::from_secs(duration),
            renew_before: Duration::from_secs(grace),
            retry: Duration::from_secs(1),
        }
    }

    #[test]
    fn timing_is_checked_before_the_crate_would_panic() {
        assert!(config(15, 5).seconds().is_ok());
        assert!(config(5, 5).seconds().is_err());
        assert!(config(0, 0).seconds().is_err());
    }

    #[test]
    fn identity_prefers_the_pod_name() {
        assert_eq!(default_identity(Some("op-0")), "op-0");
        assert!(default_identity(None).ends_with(&format!("-{}", std::process::id())));
        assert!(default_identity(Some("")).ends_with(&format!("-{}", std::process::id())));
    }
}
