//! JumpCloud API simulator.
//!
//! Serves, on 127.0.0.1, every JumpCloud endpoint the client uses, with JumpCloud's pagination,
//! authentication, error bodies and status codes, for a deterministic generated organization per
//! region. A control API under `/__simulator/` changes the world while it runs (see this crate's
//! `README.md`). Reachable only through HTTP: the operator's client never imports this crate; the
//! operator's tests and its `simulate`, `collect --simulate` and `bench` commands start it.

pub mod control;
mod generate;
mod jsonw;
mod names;
mod rate_limit;
mod region;
mod server;
mod service_accounts;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use state::RegionState;

pub use control::SimulatorControl;
pub use generate::INSIGHT_TABLES;
pub use region::Region;

/// How many records of each kind the generated organization holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSize {
    pub users: usize,
    pub devices: usize,
    pub policies: usize,
    pub applications: usize,
    pub user_groups: usize,
    pub device_groups: usize,
    /// Directory Insights events over the last 30 days.
    pub events: usize,
}

impl OrgSize {
    pub fn small() -> Self {
        OrgSize {
            users: 60,
            devices: 55,
            policies: 12,
            applications: 12,
            user_groups: 16,
            device_groups: 6,
            events: 1_500,
        }
    }

    pub fn medium() -> Self {
        OrgSize {
            users: 1_000,
            devices: 1_000,
            policies: 24,
            applications: 30,
            user_groups: 60,
            device_groups: 20,
            events: 20_000,
        }
    }

    /// 10,000 users and 10,000 devices.
    pub fn large() -> Self {
        OrgSize {
            users: 10_000,
            devices: 10_000,
            policies: 40,
            applications: 60,
            user_groups: 150,
            device_groups: 40,
            events: 60_000,
        }
    }

    /// The second org of a multi-tenant admin.
    pub(crate) fn tiny() -> Self {
        OrgSize {
            users: 8,
            devices: 6,
            policies: 3,
            applications: 3,
            user_groups: 3,
            device_groups: 2,
            events: 40,
        }
    }
}

/// Configuration of a simulator run.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Same seed, sizes and `now` give a byte-identical org.
    pub seed: u64,
    pub org: OrgSize,
    /// One listener (own port, own org, own keys) per region.
    pub regions: Vec<Region>,
    /// Added to every API response (not to control requests); models WAN latency.
    pub response_delay: Duration,
    /// Anchor for every generated timestamp; `None` means the real time at start.
    pub now: Option<Timestamp>,
    /// Port of the first region's listener; 0 picks a free one. Other regions always use free ports.
    pub port: u16,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 42,
            org: OrgSize::small(),
            regions: vec![Region::Us],
            response_delay: Duration::ZERO,
            now: None,
            port: 0,
        }
    }
}

/// A console administrator as the simulator currently knows it, including its current key.
#[derive(Debug, Clone)]
pub struct SimAdmin {
    pub id: String,
    pub email: String,
    pub role_name: String,
    pub api_key: Option<SecretString>,
    pub key_expires_at: Option<Timestamp>,
    pub org_ids: Vec<String>,
}

/// A service account as the simulator currently knows it, with its current client secrets.
#[derive(Debug, Clone)]
pub struct SimServiceAccount {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub role_name: String,
    pub disabled: bool,
    /// `(secret id, secret)`, oldest first; at most two.
    pub secrets: Vec<(String, SecretString)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("simulator configuration is invalid: {0}")]
    InvalidConfig(String),
    #[error("cannot listen on 127.0.0.1:{port} for region {region}: {source}")]
    Bind {
        region: Region,
        port: u16,
        source: std::io::Error,
    },
    #[error("organization generation failed: {0}")]
    Generation(String),
}

struct Listener {
    region: Region,
    addr: SocketAddr,
    state: Arc<RegionState>,
    task: JoinHandle<()>,
}

/// A running simulator. Shuts down on drop or with [`Simulator::shutdown`].
pub struct Simulator {
    listeners: Vec<Listener>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<String> = self
            .listeners
            .iter()
            .map(|l| format!("{}={}", l.region, l.addr))
            .collect();
        f.debug_struct("Simulator")
            .field("listeners", &addrs)
            .finish()
    }
}

/// Short SHA-256 fingerprint of a key (16 hex chars), as used by the request counters.
pub fn key_fingerprint(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

impl Simulator {
    pub async fn start(config: SimulatorConfig) -> Result<Simulator, SimulatorError> {
        if config.regions.is_empty() {
            return Err(SimulatorError::InvalidConfig(
                "at least one region is required".into(),
            ));
        }
        let mut seen = config.regions.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != config.regions.len() {
            return Err(SimulatorError::InvalidConfig(
                "each region may appear only once".into(),
            ));
        }
        let (now, now_at) = clock_origin(config.now);
        let (stop, stop_rx) = watch::channel(false);
        let mut listeners = Vec::new();
        for (i, region) in config.regions.iter().copied().enumerate() {
            let port = if i == 0 { config.port } else { 0 };
            let tcp = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|source| SimulatorError::Bind {
                    region,
                    port,
                    source,
                })?;
            let addr = tcp.local_addr().map_err(|source| SimulatorError::Bind {
                region,
                port,
                source,
            })?;
            let (seed, size, delay) = (config.seed, config.org.clone(), config.response_delay);
            // Generation of a large org is CPU work: keep it off the async workers.
            let state = tokio::task::spawn_blocking(move || {
                RegionState::new(region, seed, &size, now, now_at, delay)
            })
            .await
            .map_err(|e| SimulatorError::Generation(e.to_string()))?;
            let state = Arc::new(state);
            let task = tokio::spawn(server::serve(tcp, state.clone(), stop_rx.clone()));
            listeners.push(Listener {
                region,
                addr,
                state,
                task,
            });
        }
        Ok(Simulator { listeners, stop })
    }

    fn listener(&self, region: impl Into<Region>) -> Option<&Listener> {
        let region = region.into();
        self.listeners.iter().find(|l| l.region == region)
    }

    // The lookups take any region convertible into the simulator's, so callers holding the
    // operator's region type (which converts with `From`) need no conversion at every call.

    /// `http://127.0.0.1:PORT/` of the region's listener, or `None` when the region isn't served.
    pub fn base_url(&self, region: impl Into<Region>) -> Option<url::Url> {
        let l = self.listener(region)?;
        url::Url::parse(&format!("http://{}/", l.addr)).ok()
    }

    /// A typed control-API client for the region's listener.
    pub fn control(&self, region: impl Into<Region>) -> Option<SimulatorControl> {
        self.base_url(region).map(SimulatorControl::new)
    }

    /// The regions served, in configuration order.
    pub fn regions(&self) -> Vec<Region> {
        self.listeners.iter().map(|l| l.region).collect()
    }

    /// Current administrators of the region, with their current keys.
    pub fn admins(&self, region: impl Into<Region>) -> Vec<SimAdmin> {
        let Some(l) = self.listener(region) else {
            return Vec::new();
        };
        let world = l.state.world();
        world
            .admins
            .iter()
            .map(|a| SimAdmin {
                id: a.id.clone(),
                email: a.email.clone(),
                role_name: a.role_name.clone(),
                api_key: a.key.as_ref().map(|k| SecretString::from(k.value.clone())),
                key_expires_at: a.key.as_ref().and_then(|k| k.expire_at),
                org_ids: a.org_ids.clone(),
            })
            .collect()
    }

    /// Current service accounts of the region, with their client secrets.
    pub fn service_accounts(&self, region: impl Into<Region>) -> Vec<SimServiceAccount> {
        let Some(l) = self.listener(region) else {
            return Vec::new();
        };
        let world = l.state.world();
        world
            .service_accounts
            .iter()
            .map(|a| SimServiceAccount {
                id: a.id.clone(),
                client_id: a.client_id.clone(),
                name: a.name.clone(),
                role_name: a.role_name.clone(),
                disabled: a.disabled,
                secrets: a
                    .secrets
                    .iter()
                    .map(|s| (s.id.clone(), SecretString::from(s.value.clone())))
                    .collect(),
            })
            .collect()
    }

    /// The region's Read Only service account (generated with one secret).
    ///
    /// # Panics
    /// When the region is not simulated or the account was deleted through the control API:
    /// both are mistakes in the calling test.
    pub fn read_only_service_account(&self, region: impl Into<Region>) -> SimServiceAccount {
        let region = region.into();
        self.service_accounts(region)
            .into_iter()
            .find(|a| a.role_name == "Read Only")
            .unwrap_or_else(|| {
                panic!(
                    "region {region} is not simulated or its Read Only service account was deleted"
                )
            })
    }

    /// The current key of the region's Read Only administrator.
    ///
    /// # Panics
    /// When the region is not served or the Read Only key was revoked through the control API:
    /// both are mistakes in the calling test.
    pub fn read_only_key(&self, region: impl Into<Region>) -> SecretString {
        let region = region.into();
        self.admins(region)
            .into_iter()
            .find(|a| a.role_name == "Read Only")
            .and_then(|a| a.api_key)
            .unwrap_or_else(|| {
                panic!("region {region} is not simulated or its Read Only key was revoked")
            })
    }

    /// Limits every region's API to `per_second` requests per second (a token bucket of one
    /// second's worth); beyond it requests get 429 with `Retry-After`. `None` lifts the limit.
    /// The control API's `rate-limit` does the same per region.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        for l in &self.listeners {
            l.state.set_rate_limit(per_second);
        }
    }

    /// The id of the region's (first) organization.
    pub fn org_id(&self, region: impl Into<Region>) -> Option<String> {
        let l = self.listener(region)?;
        l.state.world().orgs.first().map(|o| o.id.clone())
    }

    /// Stops every listener and waits (at most 5 s) for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for l in std::mem::take(&mut self.listeners) {
            let abort = l.task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), l.task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for l in &self.listeners {
            l.task.abort();
        }
    }
}

/// The simulated clock's start: the configured time (else real time rounded to the second) and
/// the instant it stands for. Both are taken before the orgs are generated, so the clock never
/// lags real time by the generation's duration (a large org takes seconds).
fn clock_origin(configured: Option<Timestamp>) -> (Timestamp, std::time::Instant) {
    let origin = std::time::Instant::now();
    match configured {
        Some(now) => (now, origin),
        None => rounded_clock(Timestamp::now(), origin),
    }
}

/// Real time `real` (read at `origin`) rounded to the second, and the instant the rounded time
/// stands for. Rounding moves the time by up to half a second: the instant moves with it, so
/// the clock reads real time (or stands still for that half second), never behind it. A clock
/// behind real time would date a request before a moment the operator recorded just before
/// sending it.
fn rounded_clock(real: Timestamp, origin: std::time::Instant) -> (Timestamp, std::time::Instant) {
    let now = real.round(jiff::Unit::Second).unwrap_or(real);
    let offset = now.duration_since(real);
    let at = if offset.is_negative() {
        origin.checked_sub(offset.unsigned_abs()).unwrap_or(origin)
    } else {
        origin + offset.unsigned_abs()
    };
    (now, at)
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn a_rounded_clock_stands_for_the_instant_that_keeps_it_on_real_time() {
        let origin = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for (real, now, instant_shift_ms) in [
            // Rounded down by 300 ms: it stands for 300 ms before `origin`.
            ("2026-12-07T10:00:00.3Z", "2026-12-07T10:00:00Z", -300),
            // Rounded up by 300 ms: it stands for 300 ms after `origin`.
            ("2026-12-07T10:00:00.7Z", "2026-12-07T10:00:01Z", 300),
            ("2026-12-07T10:00:00Z", "2026-12-07T10:00:00Z", 0),
        ] {
            let (rounded, at) = rounded_clock(real.parse().unwrap(), origin);
            assert_eq!(rounded, now.parse::<Timestamp>().unwrap(), "{real}");
            let shift = if at >= origin {
                i64::try_from((at - origin).as_millis()).unwrap()
            } else {
                -i64::try_from((origin - at).as_millis()).unwrap()
            };
            assert_eq!(shift, instant_shift_ms, "{real}");
        }
        let configured = Timestamp::from_second(1_780_000_000).unwrap();
        assert_eq!(clock_origin(Some(configured)).0, configured);
    }
}
