//! Directory Insights events over the last 30 days: logins of the active users (SSO, device,
//! portal) and the administrators' changes, sorted by (timestamp, id).

use jiff::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::draw::{days, fmt_ts, random_between};
use super::systems::{Os, SystemPlan};
use super::users::{Mfa, UserPlan, UserState};
use super::{Draws, Rec};
use crate::jsonw::Obj;
use crate::names::{CITIES, DEPARTMENTS};

/// One Directory Insights event, with its sort key kept outside the JSON.
pub(crate) struct Event {
    pub ts_ms: i64,
    pub id: String,
    pub service: &'static str,
    pub raw: Rec,
}

pub(super) fn generate(
    cx: &mut Draws,
    users: &[UserPlan],
    systems: &[SystemPlan],
    user_system_links: &[Vec<usize>],
    app_ids: &[String],
    applications: &[Value],
) -> Vec<Event> {
    let (now, domain, org_id) = (cx.now, cx.domain, cx.org_id.as_str());
    let window_start = now - days(30);
    let active_users: Vec<usize> = (0..users.len())
        .filter(|&u| users[u].state == UserState::Activated && !users[u].dormant)
        .collect();
    let mut events: Vec<Event> = Vec::with_capacity(cx.size.events);
    for j in 0..cx.size.events {
        let ts = random_between(&mut cx.rng, window_start, now);
        let id = cx.ids.next_id();
        let (service, raw) = if j % 10 == 9 || active_users.is_empty() {
            admin_event(&mut cx.rng, &id, ts, org_id, users, domain)
        } else {
            let u = active_users[(j - j / 10) % active_users.len()];
            user_event(
                &mut cx.rng,
                &id,
                ts,
                org_id,
                &users[u],
                &user_system_links[u],
                systems,
                app_ids,
                applications,
            )
        };
        events.push(Event {
            ts_ms: ts.as_millisecond(),
            id,
            service,
            raw,
        });
    }
    events.sort_by(|a, b| (a.ts_ms, &a.id).cmp(&(b.ts_ms, &b.id)));
    events
}

fn geo(rng: &mut ChaCha8Rng, city: usize) -> String {
    let (country, region, tz) = CITIES[city];
    let continent = match country {
        "IN" => "AS",
        "US" | "CA" => "NA",
        _ => "EU",
    };
    Obj::new()
        .str("country_code", country)
        .str("region_name", region)
        .str("timezone", tz)
        .str("continent_code", continent)
        .str("region_code", &format!("R{}", rng.random_range(1..9)))
        .finish()
}

fn user_agent(os: Os) -> &'static str {
    match os {
        Os::Mac => {
            r#"{"name":"Chrome","major":"131","os":"Mac OS X","os_major":"15","os_full":"Mac OS X 15.1","device":"Mac"}"#
        }
        Os::Windows => {
            r#"{"name":"Edge","major":"131","os":"Windows","os_major":"11","os_full":"Windows 11","device":"Other"}"#
        }
        Os::Linux => {
            r#"{"name":"Firefox","major":"133","os":"Ubuntu","os_major":"24","os_full":"Ubuntu 24.04","device":"Other"}"#
        }
    }
}

/// The fields every event has, in the order DI returns them.
fn event_head(
    id: &str,
    event_type: &str,
    service: &str,
    ts: Timestamp,
    org_id: &str,
    success: bool,
) -> Obj {
    Obj::new()
        .str("id", id)
        .str("event_type", event_type)
        .str("service", service)
        .str("timestamp", &fmt_ts(ts))
        .str("organization", org_id)
        .bool("success", success)
}

#[allow(clippy::too_many_arguments)]
fn user_event(
    rng: &mut ChaCha8Rng,
    id: &str,
    ts: Timestamp,
    org_id: &str,
    u: &UserPlan,
    own_systems: &[usize],
    systems: &[SystemPlan],
    app_ids: &[String],
    apps: &[Value],
) -> (&'static str, Rec) {
    let success = !rng.random_bool(0.05);
    let mfa = u.mfa == Mfa::Enrolled;
    let ip = format!("198.51.100.{}", rng.random_range(1..255u32));
    let kind = rng.random_range(0..10);
    let os = own_systems
        .first()
        .map(|&s| systems[s].os)
        .unwrap_or(Os::Mac);
    let geoip = geo(rng, u.city);
    let (service, event) = if kind < 3 && !app_ids.is_empty() {
        let a = rng.random_range(0..app_ids.len());
        let text = |field: &str| apps[a][field].as_str().unwrap_or_default().to_string();
        let application = Obj::new()
            .str("id", &app_ids[a])
            .str("name", &text("name"))
            .str("display_label", &text("displayLabel"))
            .str("sso_type", "saml")
            .str("sso_url", &text("ssoUrl"));
        let event = event_head(id, "sso_auth", "sso", ts, org_id, success)
            .obj("application", application)
            .bool("idp_initiated", kind == 0)
            .str("auth_method", "password")
            .bool("mfa", mfa);
        ("sso", event)
    } else if kind < 5 && !own_systems.is_empty() {
        let s = &systems[own_systems[0]];
        let system = Obj::new()
            .str("id", &s.id)
            .str("hostname", &s.hostname)
            .str("displayName", &s.display_name);
        let event = event_head(id, "login_attempt", "systems", ts, org_id, success)
            .obj("system", system)
            .str("username", &u.username)
            .str(
                "process_name",
                if s.os == Os::Mac {
                    "loginwindow"
                } else {
                    "winlogon"
                },
            )
            .null("sso_token_success")
            .bool("mfa", mfa && s.os != Os::Linux)
            .str("system_timestamp", &fmt_ts(ts));
        ("systems", event)
    } else {
        let event = event_head(id, "user_login_attempt", "directory", ts, org_id, success)
            .str("auth_method", "password")
            .bool("mfa", mfa)
            .obj(
                "mfa_meta",
                Obj::new().str("type", if mfa { "totp" } else { "none" }),
            );
        ("directory", event)
    };
    let initiated = Obj::new()
        .str("id", &u.id)
        .str("type", "user")
        .str("username", &u.username)
        .str("email", &u.email);
    let resource = Obj::new()
        .str("id", &u.id)
        .str("type", "user")
        .str("username", &u.username);
    let mut event = event
        .str("client_ip", &ip)
        .obj("initiated_by", initiated)
        .obj("resource", resource)
        .raw("geoip", &geoip)
        .raw("useragent", user_agent(os));
    if !success {
        event = event.str("error_message", "invalid credentials");
    }
    (service, event.finish().into_boxed_str())
}

fn admin_event(
    rng: &mut ChaCha8Rng,
    id: &str,
    ts: Timestamp,
    org_id: &str,
    users: &[UserPlan],
    domain: &str,
) -> (&'static str, Rec) {
    let initiated = Obj::new()
        .str("id", &format!("{}ad", &org_id[..22]))
        .str("type", "admin")
        .str("email", &format!("it-admin@{domain}"));
    let event = match (rng.random_range(0..4), users.is_empty()) {
        (0, _) | (_, true) => event_head(id, "admin_login_attempt", "directory", ts, org_id, true)
            .bool("mfa", true)
            .str("auth_method", "password"),
        (k, false) => {
            let u = &users[rng.random_range(0..users.len())];
            let event_type = ["user_update", "user_create", "user_group_update"][k - 1];
            let change = Obj::new()
                .str("field", "department")
                .str("from", "")
                .str("to", DEPARTMENTS[u.dept].0)
                .finish();
            event_head(id, event_type, "directory", ts, org_id, true)
                .obj(
                    "resource",
                    Obj::new()
                        .str("id", &u.id)
                        .str("type", "user")
                        .str("username", &u.username),
                )
                .raw("changes", &format!("[{change}]"))
        }
    };
    let event = event
        .str("client_ip", "192.0.2.10")
        .obj("initiated_by", initiated)
        .raw(
            "geoip",
            r#"{"country_code":"US","region_name":"California","timezone":"America/Los_Angeles"}"#,
        )
        .raw("useragent", user_agent(Os::Mac));
    ("directory", event.finish().into_boxed_str())
}
