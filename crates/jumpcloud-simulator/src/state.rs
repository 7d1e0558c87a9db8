//! Live state of one region: its organizations, console administrators and their keys, pending
//! faults and request counters. Everything the control API can change lives here.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::control::{AdminView, Advanced, Counters, DayChanges, Fault, FaultKind, RequestRecord};
use super::rate_limit::TokenBucket;
use super::service_accounts::{
    ClientSecret, ServiceAccount, Tokens, random_alphanumeric, random_client_id,
};

/// Requests kept in the request log.
const MAX_LOGGED_REQUESTS: usize = 10_000;
use super::generate::{Org, fmt_ts, generate_org};
use super::{OrgSize, key_fingerprint};
use crate::region::Region;

/// Built-in JumpCloud administrator roles (PowerShell `Get-JCAdmin`), plus one custom role.
pub(crate) const ROLES: &[(&str, bool, &str)] = &[
    (
        "Administrator With Billing",
        false,
        "Full access, including billing",
    ),
    ("Administrator", false, "Full access except billing"),
    ("Manager", false, "Manage users, devices and policies"),
    (
        "Command Runner With Billing",
        false,
        "Run commands and manage billing",
    ),
    ("Command Runner", false, "Run commands only"),
    ("Help Desk", false, "Reset passwords and unlock users"),
    ("Billing Only", false, "Billing only"),
    ("Read Only", false, "Read everything, change nothing"),
    (
        "Compliance Auditor",
        true,
        "Custom: read users, devices, policies and Directory Insights",
    ),
];

pub(crate) fn role_id(name: &str) -> String {
    let index = ROLES
        .iter()
        .position(|r| r.0 == name)
        .unwrap_or(ROLES.len());
    format!("5c3536e7c9a5e13cf7af{index:04x}")
}

/// Roles whose keys JumpCloud refuses for reading (the DI docs: Command Runner keys get 403).
pub(crate) fn role_may_read(role: &str) -> bool {
    !role.starts_with("Command Runner")
}

pub(crate) struct ApiKey {
    pub value: String,
    pub created_at: Timestamp,
    pub expire_at: Option<Timestamp>,
}

pub(crate) struct Admin {
    pub id: String,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    pub role_name: String,
    pub mfa: bool,
    pub created: Timestamp,
    pub password_updated_at: Timestamp,
    pub key: Option<ApiKey>,
    pub api_key_allowed: bool,
    pub api_key_updated_at: Option<Timestamp>,
    pub org_ids: Vec<String>,
}

impl Admin {
    pub(crate) fn view(&self) -> AdminView {
        AdminView {
            id: self.id.clone(),
            email: self.email.clone(),
            role_name: self.role_name.clone(),
            api_key: self.key.as_ref().map(|k| k.value.clone()),
            key_expires_at: self.key.as_ref().and_then(|k| k.expire_at),
            org_ids: self.org_ids.clone(),
        }
    }

    /// The v1 `userreturn` shape served by `/api/users` and `/api/users/getSelf`.
    pub(crate) fn record(&self) -> Value {
        let role = role_id(&self.role_name);
        let key_hash = self.key.as_ref().map(|k| {
            json!({"prefix": k.value.chars().take(8).collect::<String>(), "createdAt": fmt_ts(k.created_at),
                   "expireAt": k.expire_at.map(fmt_ts)})
        });
        let multi = self.org_ids.len() > 1;
        json!({
            "_id": self.id, "id": self.id, "email": self.email, "firstname": self.firstname, "lastname": self.lastname,
            "organization": self.org_ids.first(), "provider": if multi { json!(format!("{}pr", &self.id[..22])) } else { Value::Null },
            "enableMultiFactor": self.mfa, "totpEnrolled": self.mfa, "suspended": false, "registered": true,
            "role": role, "roleName": self.role_name, "roleNames": [self.role_name], "roles": [role],
            "apiKeyAllowed": self.api_key_allowed, "apiKeySet": self.key.is_some(),
            "apiKeyUpdatedAt": self.api_key_updated_at.map(fmt_ts), "apiKeyHash": key_hash,
            "created": fmt_ts(self.created), "passwordUpdatedAt": fmt_ts(self.password_updated_at),
            "sessionCount": 1, "organizationAccessTotal": self.org_ids.len(),
        })
    }
}

pub(crate) struct World {
    pub orgs: Vec<Org>,
    pub admins: Vec<Admin>,
    pub service_accounts: Vec<ServiceAccount>,
    /// Keys replaced or revoked through the control API, with their administrator: presenting
    /// one is logged as `admin_old_api_key_attempt`.
    pub revoked_keys: Vec<(String, String)>,
    key_rng: ChaCha8Rng,
    account_rng: ChaCha8Rng,
}

impl World {
    pub(crate) fn org(&self, id: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.id == id)
    }

    pub(crate) fn admin_mut(&mut self, id: &str) -> Option<&mut Admin> {
        self.admins.iter_mut().find(|a| a.id == id)
    }

    pub(crate) fn new_key(&mut self) -> String {
        format!("jca_{}", random_alphanumeric(&mut self.key_rng, 36))
    }

    /// Takes the administrator's key away, remembering it as revoked.
    pub(crate) fn revoke_key(&mut self, admin_id: &str) {
        if let Some(admin) = self.admin_mut(admin_id)
            && let Some(key) = admin.key.take()
        {
            self.revoked_keys.push((key.value, admin_id.to_owned()));
        }
    }

    /// The administrator whose revoked key this is.
    pub(crate) fn old_key_owner(&self, key: &str) -> Option<&Admin> {
        let (_, admin_id) = self.revoked_keys.iter().find(|(k, _)| k == key)?;
        self.admins.iter().find(|a| &a.id == admin_id)
    }

    pub(crate) fn service_account_mut(&mut self, id: &str) -> Option<&mut ServiceAccount> {
        self.service_accounts.iter_mut().find(|a| a.id == id)
    }

    /// A new client secret for the account's next slot.
    pub(crate) fn new_client_secret(
        &mut self,
        created_at: Timestamp,
        expire_at: Option<Timestamp>,
    ) -> ClientSecret {
        ClientSecret {
            id: format!("{:024x}", self.account_rng.random::<u128>() >> 32),
            value: random_alphanumeric(&mut self.account_rng, 64),
            created_at,
            expire_at,
        }
    }

    /// A service account with one secret (JumpCloud shows the secret once, at creation).
    pub(crate) fn add_service_account(
        &mut self,
        name: &str,
        role_name: &str,
        now: Timestamp,
        secret_expires_at: Option<Timestamp>,
    ) -> String {
        let id = format!("{:024x}", self.account_rng.random::<u128>() >> 32);
        let client_id = random_client_id(&mut self.account_rng);
        let secret = self.new_client_secret(now, secret_expires_at);
        let org_ids = self
            .orgs
            .first()
            .map(|org| vec![org.id.clone()])
            .unwrap_or_default();
        self.service_accounts.push(ServiceAccount {
            id: id.clone(),
            client_id,
            name: name.to_owned(),
            role_name: role_name.to_owned(),
            disabled: false,
            created: now,
            secrets: vec![secret],
            org_ids,
        });
        id
    }
}

pub(crate) struct RegionState {
    pub region: Region,
    pub seed: u64,
    /// The configured "now" and the days the control API advanced it since.
    clock: Mutex<(Timestamp, u64)>,
    /// When the simulator started: the request log's times count from here.
    started: Instant,
    /// The instant the clock's configured time stands for (it may lie up to half a second
    /// ahead, see `clock_origin`): the clock counts real time from here. Kept apart from
    /// `started`, whose elapsed times must never stand still.
    clock_at: Instant,
    pub response_delay: Duration,
    world: RwLock<World>,
    faults: Mutex<Vec<Fault>>,
    counters: Mutex<Counters>,
    request_ids: Mutex<u64>,
    requests: Mutex<VecDeque<RequestRecord>>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// Status `/api/users/getSelf` answers instead of the administrator (control API).
    get_self_status: Mutex<Option<u16>>,
    /// Exact API paths that answer a status instead (control API `route-status`).
    route_status: Mutex<BTreeMap<String, u16>>,
    /// Requests per second before 429 (control API `rate-limit`); `None`: unlimited.
    rate_limit: Mutex<Option<TokenBucket>>,
    /// Access tokens the token endpoint issued.
    tokens: Mutex<Tokens>,
}

/// Marks one API request in progress until dropped.
pub(crate) struct InFlight<'a>(&'a RegionState);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Seed for one region's org, so every region holds a different company with different keys.
pub(crate) fn region_seed(seed: u64, region: Region) -> u64 {
    let salt = match region {
        Region::Us => 0x5553_0000,
        Region::Eu => 0x4555_0000,
        Region::In => 0x494e_0000,
    };
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt
}

impl RegionState {
    pub(crate) fn new(
        region: Region,
        seed: u64,
        size: &OrgSize,
        now: Timestamp,
        now_at: Instant,
        response_delay: Duration,
    ) -> Self {
        let seed = region_seed(seed, region);
        let org = generate_org(seed, size, now);
        let mut key_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b65_7973);
        let plan: [(&str, Option<i64>, bool, bool); 7] = [
            // role, key expiry in days (None = never), has key, MFA
            ("Administrator With Billing", None, true, true),
            ("Administrator", Some(8), true, true),
            ("Manager", Some(180), true, false),
            ("Help Desk", None, false, true),
            ("Read Only", Some(365), true, true),
            ("Command Runner", None, true, true),
            ("Administrator", Some(-20), true, false),
        ];
        let fallback = [
            ("Dana", "Okafor"),
            ("Sam", "Rivera"),
            ("Kai", "Lindqvist"),
            ("Ines", "Moreau"),
            ("Ravi", "Iyer"),
            ("Mara", "Volkov"),
            ("Theo", "Brandt"),
        ];
        let mut world = World {
            orgs: Vec::new(),
            admins: Vec::new(),
            service_accounts: Vec::new(),
            revoked_keys: Vec::new(),
            key_rng: ChaCha8Rng::seed_from_u64(0),
            // Its own stream: service accounts leave the administrators' keys as they were.
            account_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x7361_6363),
        };
        let mut admins = Vec::new();
        for (i, (role, expiry, has_key, mfa)) in plan.into_iter().enumerate() {
            let (first, last, email) = match org.staff_names.get(i) {
                Some((f, l, e)) => (f.clone(), l.clone(), e.clone()),
                None => {
                    let (f, l) = fallback[i];
                    (
                        f.to_string(),
                        l.to_string(),
                        format!("{}.{}@{}", f.to_lowercase(), l.to_lowercase(), org.domain),
                    )
                }
            };
            let id = format!(
                "{:08x}{:016x}",
                org.created.as_second() as u32 + i as u32,
                key_rng.random::<u64>()
            );
            let created = org.created + days(i as i64 * 40);
            let key_created = now - days(30 + i as i64 * 17);
            let key = has_key.then(|| ApiKey {
                value: String::new(),
                created_at: key_created,
                expire_at: expiry.map(|d| now + days(d)),
            });
            admins.push(Admin {
                id,
                email,
                firstname: first,
                lastname: last,
                role_name: role.to_string(),
                mfa,
                created,
                password_updated_at: now - days(60 + i as i64 * 11),
                api_key_updated_at: key.as_ref().map(|k| k.created_at),
                key,
                api_key_allowed: has_key,
                org_ids: vec![org.id.clone()],
            });
        }
        world.key_rng = key_rng;
        for admin in &mut admins {
            if let Some(k) = admin.key.as_mut() {
                k.value = world.new_key();
            }
        }
        world.admins = admins;
        world.orgs.push(org);
        world.add_service_account(
            "Compliance evidence",
            "Read Only",
            now - days(20),
            Some(now + days(90)),
        );
        world.add_service_account("Provisioning", "Administrator", now - days(200), None);
        RegionState {
            region,
            seed,
            clock: Mutex::new((now, 0)),
            started: Instant::now(),
            clock_at: now_at,
            response_delay,
            world: RwLock::new(world),
            faults: Mutex::new(Vec::new()),
            counters: Mutex::new(Counters::default()),
            request_ids: Mutex::new(0),
            requests: Mutex::new(VecDeque::new()),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            get_self_status: Mutex::new(None),
            route_status: Mutex::new(BTreeMap::new()),
            rate_limit: Mutex::new(None),
            tokens: Mutex::new(Tokens::new(ChaCha8Rng::seed_from_u64(seed ^ 0x746f_6b65))),
        }
    }

    pub(crate) fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Limits API requests to `per_second` (a token bucket holding one second's worth);
    /// `None` lifts the limit.
    pub(crate) fn set_rate_limit(&self, per_second: Option<u32>) {
        *self
            .rate_limit
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            per_second.map(|n| TokenBucket::new(n, Instant::now()));
    }

    /// `Err(wait)` when the request exceeds the rate limit.
    pub(crate) fn take_rate_token(&self) -> Result<(), Duration> {
        match self
            .rate_limit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            Some(bucket) => bucket.take(Instant::now()),
            None => Ok(()),
        }
    }

    /// Simulated clock: the configured "now", plus the days advanced, plus real time elapsed
    /// since start.
    pub(crate) fn now(&self) -> Timestamp {
        let elapsed =
            SignedDuration::try_from(self.clock_at.elapsed()).unwrap_or(SignedDuration::ZERO);
        self.base_now() + elapsed
    }

    /// The clock without the real time elapsed: the configured "now" plus the days advanced.
    /// What the day-based histories (policy results) are served up to, so that they change only
    /// when the control API advances the clock, never between two pages of a listing.
    pub(crate) fn base_now(&self) -> Timestamp {
        self.clock.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// Moves the clock `days` days ahead, each day changing every org of the region as a day
    /// changes a real org (`Org::advance_day`, drawn from the seed, the org and the day).
    pub(crate) fn advance(&self, days: u32) -> Advanced {
        let mut world = self.world_mut();
        let mut clock = self.clock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut changes = DayChanges::default();
        for _ in 0..days {
            clock.1 += 1;
            for (index, org) in world.orgs.iter_mut().enumerate() {
                let seed = self.seed.wrapping_add(index as u64);
                changes.add(&org.advance_day(seed, clock.1, clock.0));
            }
            clock.0 += SignedDuration::from_hours(24);
        }
        Advanced {
            now: clock.0,
            day: clock.1,
            changes,
        }
    }

    pub(crate) fn world(&self) -> RwLockReadGuard<'_, World> {
        self.world.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn world_mut(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn faults(&self) -> MutexGuard<'_, Vec<Fault>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn counters(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The counters with the in-flight maximum filled in.
    pub(crate) fn counters_view(&self) -> Counters {
        let mut counters = self.counters().clone();
        counters.max_in_flight = self.max_in_flight.load(Ordering::SeqCst);
        counters
    }

    /// Milliseconds since the simulator started.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Counts one API request in progress (and the maximum) until the guard is dropped.
    pub(crate) fn begin_request(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    pub(crate) fn log_request(&self, record: RequestRecord) {
        let mut log = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() >= MAX_LOGGED_REQUESTS {
            log.pop_front();
        }
        log.push_back(record);
    }

    pub(crate) fn logged_requests(&self) -> Vec<RequestRecord> {
        let log = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter().cloned().collect()
    }

    pub(crate) fn get_self_status(&self) -> Option<u16> {
        *self
            .get_self_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_get_self_status(&self, status: Option<u16>) {
        *self
            .get_self_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = status;
    }

    pub(crate) fn route_status(&self, path: &str) -> Option<u16> {
        self.route_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .copied()
    }

    pub(crate) fn set_route_status(&self, path: &str, status: Option<u16>) {
        let mut routes = self
            .route_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match status {
            Some(status) => routes.insert(path.to_owned(), status),
            None => routes.remove(path),
        };
    }

    /// Gives a System Insights table of the first org exactly `rows` rows: existing rows are
    /// repeated with new `system_id`s (sorting after every real one) so each row stays distinct
    /// and the table stays in `system_id` order.
    pub(crate) fn set_insights_rows(&self, table: &str, rows: usize) -> Result<(), String> {
        let mut world = self.world_mut();
        let org = world.orgs.first_mut().ok_or("the region has no org")?;
        let list = org
            .insight_table_mut(table)
            .ok_or_else(|| format!("no System Insights table {table:?}"))?;
        if list.is_empty() && rows > 0 {
            return Err(format!("table {table:?} has no row to repeat"));
        }
        let originals = list.len();
        list.truncate(rows);
        for copy in originals..rows {
            let template = &list[copy % originals];
            let mut row: Value = serde_json::from_str(&template.raw)
                .map_err(|e| format!("row of {table:?} is not JSON: {e}"))?;
            let system_id = format!("ffff{copy:020x}");
            row["system_id"] = Value::String(system_id.clone());
            list.push(super::generate::InsightRow {
                system_id,
                raw: row.to_string().into_boxed_str(),
            });
        }
        Ok(())
    }

    pub(crate) fn next_request_id(&self) -> u64 {
        let mut id = self
            .request_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *id += 1;
        *id
    }

    pub(crate) fn add_fault(&self, fault: Fault) {
        self.faults().push(fault);
    }

    pub(crate) fn list_faults(&self) -> Vec<Fault> {
        self.faults().clone()
    }

    pub(crate) fn clear_faults(&self) {
        self.faults().clear();
    }

    /// Takes one use of the first pending fault whose path prefix matches (and, for a fault
    /// meant for later pages, whose query asks for one).
    pub(crate) fn take_fault(&self, path: &str, query: &str) -> Option<FaultKind> {
        let later_page = url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, value)| name == "skip" && value.parse::<u64>().is_ok_and(|s| s > 0));
        let mut faults = self.faults();
        let index = faults.iter().position(|f| {
            f.times > 0
                && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
                && (later_page || f.kind != FaultKind::NoTotalLater)
        })?;
        let fault = &mut faults[index];
        fault.times -= 1;
        let kind = fault.kind.clone();
        if fault.times == 0 {
            faults.remove(index);
        }
        Some(kind)
    }

    pub(crate) fn count(&self, path: &str, key: Option<&str>, status: u16) {
        let mut c = self.counters();
        c.total += 1;
        *c.by_path.entry(path.to_string()).or_default() += 1;
        let fp = key
            .map(key_fingerprint)
            .unwrap_or_else(|| "none".to_string());
        *c.by_key.entry(fp).or_default() += 1;
        *c.by_status.entry(status.to_string()).or_default() += 1;
    }

    /// Clears the counters, the in-flight maximum and the request log.
    pub(crate) fn reset_counters(&self) {
        *self.counters() = Counters::default();
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Adds another organization to this region and gives the named admins (all when empty)
    /// access to it, which makes them multi-tenant.
    pub(crate) fn add_org(&self, admin_ids: &[String]) -> Result<(String, String), String> {
        let mut world = self.world_mut();
        for id in admin_ids {
            if !world.admins.iter().any(|a| &a.id == id) {
                return Err(format!("no administrator with id {id}"));
            }
        }
        let seed = self.seed.wrapping_add(1 + world.orgs.len() as u64);
        let org = generate_org(seed, &OrgSize::tiny(), self.base_now());
        let (id, name) = (org.id.clone(), org.name.clone());
        world.orgs.push(org);
        for admin in &mut world.admins {
            if admin_ids.is_empty() || admin_ids.contains(&admin.id) {
                admin.org_ids.push(id.clone());
            }
        }
        Ok((id, name))
    }

    pub(crate) fn org_counts(&self) -> BTreeMap<String, Value> {
        let world = self.world();
        world
            .orgs
            .iter()
            .map(|o| {
                let statuses: usize = o.policies.iter().map(|p| p.statuses.len()).sum();
                let insights: BTreeMap<&str, usize> = o.insights.iter().chain(&o.inventory).map(|(t, rows)| (*t, rows.len())).collect();
                (
                    o.id.clone(),
                    json!({"name": o.name, "directory_insights": o.directory_insights,
                           "users": o.users.len(), "systems": o.systems.len(), "applications": o.applications.len(),
                           "policies": o.policies.len(), "policy_statuses": statuses,
                           "user_groups": o.user_groups.len(), "system_groups": o.system_groups.len(),
                           "authn_policies": o.authn_policies.len(), "events": o.events.len(),
                           "system_insights": insights}),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_jumpcloud_shape_and_differ_per_admin() {
        let now = Timestamp::from_second(1_780_000_000).unwrap();
        let state = RegionState::new(
            Region::Us,
            7,
            &OrgSize::tiny(),
            now,
            Instant::now(),
            Duration::ZERO,
        );
        let world = state.world();
        let keys: Vec<&str> = world
            .admins
            .iter()
            .filter_map(|a| a.key.as_ref())
            .map(|k| k.value.as_str())
            .collect();
        assert!(keys.len() >= 5);
        for key in &keys {
            assert_eq!(key.len(), 40);
            assert!(key.starts_with("jca_"));
            assert!(key[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        }
        let unique: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len());
        assert_eq!(
            world
                .admins
                .iter()
                .filter(|a| a.role_name == "Read Only")
                .count(),
            1
        );
    }
}
