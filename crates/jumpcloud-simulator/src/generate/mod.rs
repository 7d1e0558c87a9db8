//! Deterministic generation of one JumpCloud organization.
//!
//! Everything is drawn from one `ChaCha8Rng` in a fixed order, and every record is serialised once
//! into a JSON string, so serving a page is a memcpy and the same seed gives byte-identical output.
//! Ids are ObjectId-shaped (24 hex) and increase in generation order, so "sorted by id" is the
//! natural order of every list. One module per generated kind; `generate_org` calls them in the
//! order the draws have always been made, which is what keeps a seed's org unchanged.

mod access;
mod applications;
mod authn;
mod commands;
mod daily;
mod draw;
mod events;
mod graph;
mod groups;
mod insights;
mod inventory;
mod organization;
mod policies;
mod policy_history;
mod systems;
mod users;

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::OrgSize;
use crate::names::COMPANIES;
use draw::{ID_EPOCH, IdGen, days, pick};
use organization::org_record;
use systems::{AGENT_VERSIONS, Os, SystemPlan, system_record};
use users::{Mfa, UserPlan, UserState, user_record};

pub(crate) use draw::fmt_ts;
pub(crate) use events::Event;
pub(crate) use insights::InsightRow;
pub(crate) use policies::PolicyData;
pub(crate) use policy_history::{PolicyHistory, RETENTION_DAYS as POLICY_RESULTS_RETENTION_DAYS};

/// System Insights tables served under `/api/v2/systeminsights/{table}`: the device-state
/// tables, then the inventory tables.
pub const INSIGHT_TABLES: [&str; 19] = concat(insights::STATE_TABLES, inventory::INVENTORY_TABLES);

const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    assert!(
        a.len() + b.len() == N,
        "INSIGHT_TABLES' length is the sum of both lists"
    );
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

/// One pre-serialised record.
pub(crate) type Rec = Box<str>;

pub(crate) fn to_rec(value: &Value) -> Rec {
    value.to_string().into_boxed_str()
}

/// What every kind's generator shares: the one random stream and id counter, in draw order, and
/// the org's anchors.
struct Draws<'a> {
    rng: ChaCha8Rng,
    ids: IdGen,
    size: &'a OrgSize,
    /// Anchor of every relative timestamp.
    now: Timestamp,
    org_created: Timestamp,
    org_id: String,
    company: &'static str,
    domain: &'static str,
}

/// A generated organization, ready to serve.
pub(crate) struct Org {
    pub id: String,
    pub name: String,
    pub domain: String,
    pub created: Timestamp,
    /// `GET /api/organizations/{id}` without the Directory Insights flag, which is live state.
    pub record: Value,
    pub directory_insights: bool,
    pub users: Vec<Rec>,
    pub systems: Vec<Rec>,
    pub applications: Vec<Rec>,
    pub policies: Vec<PolicyData>,
    pub user_groups: Vec<Rec>,
    pub system_groups: Vec<Rec>,
    pub authn_policies: Vec<Rec>,
    pub usergroup_membership: HashMap<String, Vec<Rec>>,
    pub systemgroup_membership: HashMap<String, Vec<Rec>>,
    pub app_users: HashMap<String, Vec<Rec>>,
    pub app_usergroups: HashMap<String, Vec<Rec>>,
    pub user_systems: HashMap<String, Vec<Rec>>,
    pub user_apps: HashMap<String, Vec<Rec>>,
    pub user_memberof: HashMap<String, Vec<Rec>>,
    /// `/api/v2/systems/{id}/users`, by device id.
    pub system_users: HashMap<String, Vec<Rec>>,
    /// `/api/commands` (without the script bodies).
    pub commands: Vec<Rec>,
    /// `/api/v2/commands/{id}/systems` and `/systemgroups`, by command id.
    pub command_systems: HashMap<String, Vec<Rec>>,
    pub command_systemgroups: HashMap<String, Vec<Rec>>,
    pub insights: BTreeMap<&'static str, Vec<InsightRow>>,
    /// The inventory tables, apart from `insights` so that the pinned hash of the older
    /// kinds (generate/tests.rs) stays what it was.
    pub inventory: BTreeMap<&'static str, Vec<InsightRow>>,
    /// Sorted by (timestamp, id).
    pub events: Vec<Event>,
    /// `GET /api/v2/policyresults`, generated as it is read.
    pub policy_history: PolicyHistory,
    /// Emails of the first users, reused for the console administrators.
    pub staff_names: Vec<(String, String, String)>,
    ids: IdGen,
    grown: u32,
}

/// Generate one organization. `now` anchors every relative timestamp.
pub(crate) fn generate_org(seed: u64, size: &OrgSize, now: Timestamp) -> Org {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (company, domain) = COMPANIES[pick(&mut rng, COMPANIES.len())];
    let org_created = now - days(4 * 365 + pick(&mut rng, 300) as i64);
    // Ids must not move with the clock: the same seed is the same org on every run, so
    // repeated collections of it chain in one store.
    let mut ids = IdGen::new(&mut rng, ID_EPOCH);
    let org_id = ids.next_id();
    let mut cx = Draws {
        rng,
        ids,
        size,
        now,
        org_created,
        org_id,
        company,
        domain,
    };

    // The order of these calls is the order of the draws: changing it changes every seed's org.
    let users = users::plan(&mut cx);
    let systems = systems::plan(&mut cx, &users);
    let (policies, policy_stats) = policies::generate(&mut cx, &users, &systems);
    let user_groups = groups::user_groups(&mut cx, &users);
    let device_groups = groups::device_groups(&mut cx, &users, &systems);
    let applications = applications::generate(&mut cx, &users);
    let graph = graph::build(
        &users,
        &systems,
        &user_groups,
        &device_groups,
        &applications,
    );
    // Own streams, after the shared one's draws (they draw nothing from it).
    let system_users =
        access::system_users(seed, &users, &systems, &user_groups, &device_groups, &graph);
    let commands = commands::generate(seed, &cx.org_id, &systems, &device_groups);
    let insights = insights::generate(&mut cx, &systems);
    let authn_policies = authn::generate(&mut cx, &graph.ug_ids, user_groups.fixed, &graph.app_ids);
    let events = events::generate(
        &mut cx,
        &users,
        &systems,
        &graph.user_system_links,
        &graph.app_ids,
        &applications.records,
    );

    // From its own random stream, after every draw of the shared one.
    let policy_history = PolicyHistory::build(seed, &policies, &systems, now);
    // Its own stream: drawn last, it moves none of the draws above.
    let inventory = inventory::generate(seed, &systems, &users);

    // Users and systems are serialised last: their records need the bindings above.
    let Draws { ids, org_id, .. } = cx;
    let staff_names: Vec<(String, String, String)> = users
        .iter()
        .filter(|u| u.state == UserState::Activated)
        .take(8)
        .map(|u| (u.first.clone(), u.last.clone(), u.email.clone()))
        .collect();
    let user_recs = users
        .iter()
        .map(|u| user_record(u, &org_id, &users, now))
        .collect();
    let system_recs = systems
        .iter()
        .enumerate()
        .map(|(i, s)| system_record(s, &org_id, &users, policy_stats[i], now))
        .collect();
    let record = org_record(&org_id, company, domain, org_created, users.len(), now);

    Org {
        id: org_id,
        name: company.to_string(),
        domain: domain.to_string(),
        created: org_created,
        record,
        directory_insights: true,
        users: user_recs,
        systems: system_recs,
        applications: applications.records.iter().map(to_rec).collect(),
        policies,
        user_groups: user_groups.records.iter().map(to_rec).collect(),
        system_groups: device_groups.records.iter().map(to_rec).collect(),
        authn_policies,
        usergroup_membership: graph.usergroup_membership,
        systemgroup_membership: graph.systemgroup_membership,
        app_users: graph.app_users,
        app_usergroups: graph.app_usergroups,
        user_systems: graph.user_systems,
        user_apps: graph.user_apps,
        user_memberof: graph.user_memberof,
        system_users,
        commands: commands.records,
        command_systems: commands.systems,
        command_systemgroups: commands.system_groups,
        insights,
        inventory,
        events,
        policy_history,
        staff_names,
        ids,
        grown: 0,
    }
}

impl Org {
    /// The rows of a System Insights table, of either kind of table.
    pub(crate) fn insight_table(&self, table: &str) -> Option<&Vec<InsightRow>> {
        self.insights
            .get(table)
            .or_else(|| self.inventory.get(table))
    }

    pub(crate) fn insight_table_mut(&mut self, table: &str) -> Option<&mut Vec<InsightRow>> {
        match self.insights.get_mut(table) {
            Some(rows) => Some(rows),
            None => self.inventory.get_mut(table),
        }
    }

    /// Adds a freshly hired user (used by the "change totals between pages" fault).
    pub(crate) fn add_user(&mut self, now: Timestamp) {
        self.grown += 1;
        let username = format!("new.hire{}", self.grown);
        let plan = UserPlan {
            id: self.ids.next_id(),
            email: format!("{username}@{}", self.domain),
            username,
            first: "New".into(),
            last: format!("Hire{}", self.grown),
            dept: 0,
            title: "Software Engineer",
            state: UserState::Staged,
            locked: false,
            mfa: Mfa::NotEnrolled,
            sudo: false,
            passwordless_sudo: false,
            created: now,
            contractor: false,
            dormant: true,
            password_expired: false,
            password_never_expires: false,
            manager: None,
            city: 0,
        };
        let rec = user_record(&plan, &self.id, &[], now);
        for map in [
            &mut self.user_systems,
            &mut self.user_apps,
            &mut self.user_memberof,
        ] {
            map.insert(plan.id.clone(), Vec::new());
        }
        self.users.push(rec);
    }

    /// Adds a freshly enrolled device (used by the "change totals between pages" fault).
    /// A Directory Insights event happening `now` (a copy of the newest one with a new id),
    /// as events keep arriving on a live org.
    pub(crate) fn add_event(&mut self, now: Timestamp) {
        let Some(newest) = self.events.last() else {
            return;
        };
        let mut raw: Value = serde_json::from_str(&newest.raw).unwrap_or_default();
        let id = self.ids.next_id();
        raw["id"] = Value::String(id.clone());
        raw["timestamp"] = Value::String(fmt_ts(now));
        let event = Event {
            ts_ms: now.as_millisecond().max(newest.ts_ms),
            id,
            service: newest.service,
            raw: to_rec(&raw),
        };
        self.events.push(event);
    }

    /// Records what Directory Insights logs when a revoked API key is presented: the key's
    /// administrator, and the client's address and user agent.
    pub(crate) fn add_old_key_attempt(
        &mut self,
        now: Timestamp,
        admin_id: &str,
        admin_email: &str,
        client_ip: &str,
        user_agent: &str,
    ) {
        let id = self.ids.next_id();
        let initiated = serde_json::json!({"id": admin_id, "type": "admin", "email": admin_email});
        // Directory Insights parses the header into name and version.
        let product = user_agent.split_whitespace().next().unwrap_or("");
        let (name, version) = product.split_once('/').unwrap_or((product, ""));
        let raw = serde_json::json!({
            "id": id, "event_type": "admin_old_api_key_attempt", "service": "directory",
            "timestamp": fmt_ts(now), "organization": self.id, "success": false,
            "client_ip": client_ip, "initiated_by": initiated,
            "useragent": {"name": name, "version": version, "major": version.split('.').next().unwrap_or("")},
        });
        let ts_ms = self.events.last().map_or(now.as_millisecond(), |newest| {
            now.as_millisecond().max(newest.ts_ms)
        });
        self.events.push(Event {
            ts_ms,
            id,
            service: "directory",
            raw: to_rec(&raw),
        });
    }

    pub(crate) fn add_system(&mut self, now: Timestamp) {
        self.grown += 1;
        let host = format!("new-device-{:04}", self.grown);
        let plan = SystemPlan {
            id: self.ids.next_id(),
            os: Os::Linux,
            variant: 0,
            hostname: host.clone(),
            display_name: host,
            serial: format!("VMNEW{:04}", self.grown),
            created: now,
            fde_active: true,
            key_present: true,
            last_contact: Some(now),
            insights: "deferred",
            owner: None,
            firewall_on: true,
            av_ok: true,
            arm: false,
            mdm_enrolled: true,
            remote_ip: "203.0.113.7".into(),
            agent_version: AGENT_VERSIONS[0],
        };
        self.system_users.insert(plan.id.clone(), Vec::new());
        self.systems
            .push(system_record(&plan, &self.id, &[], [0; 4], now));
    }
}

#[cfg(test)]
mod tests;
