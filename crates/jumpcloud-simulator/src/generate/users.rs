//! Users: who they are, their state, MFA and sudo, drawn first because every other kind refers to
//! them; and their `/api/systemusers` record, written last.

use std::collections::HashMap;

use jiff::Timestamp;
use rand::Rng;

use super::draw::{ascii_fold, days, fmt_ts, pick, pick_weighted, random_between};
use super::{Draws, Rec};
use crate::jsonw::Obj;
use crate::names::{CITIES, DEPARTMENTS, FIRST_NAMES, LAST_NAMES};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum UserState {
    Staged,
    Activated,
    Suspended,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mfa {
    Enrolled,
    Pending,
    NotEnrolled,
    ExclusionActive,
    ExclusionExpired,
}

pub(super) struct UserPlan {
    pub(super) id: String,
    pub(super) username: String,
    pub(super) first: String,
    pub(super) last: String,
    pub(super) email: String,
    pub(super) dept: usize,
    pub(super) title: &'static str,
    pub(super) state: UserState,
    pub(super) locked: bool,
    pub(super) mfa: Mfa,
    pub(super) sudo: bool,
    pub(super) passwordless_sudo: bool,
    pub(super) created: Timestamp,
    pub(super) contractor: bool,
    pub(super) dormant: bool,
    pub(super) password_expired: bool,
    pub(super) password_never_expires: bool,
    pub(super) manager: Option<usize>,
    pub(super) city: usize,
}

/// Plans every user, then makes sure even a small org shows every case the checks look for.
pub(super) fn plan(cx: &mut Draws) -> Vec<UserPlan> {
    let (now, org_created, domain) = (cx.now, cx.org_created, cx.domain);
    let dept_weights: Vec<u32> = DEPARTMENTS.iter().map(|d| d.1).collect();
    let mut seen_usernames: HashMap<String, u32> = HashMap::new();
    let mut users: Vec<UserPlan> = Vec::with_capacity(cx.size.users);
    for i in 0..cx.size.users {
        let first = FIRST_NAMES[pick(&mut cx.rng, FIRST_NAMES.len())];
        let last = LAST_NAMES[pick(&mut cx.rng, LAST_NAMES.len())];
        let base = format!("{}.{}", ascii_fold(first), ascii_fold(last)).replace(' ', "");
        let count = seen_usernames.entry(base.clone()).or_insert(0);
        *count += 1;
        let username = if *count == 1 {
            base
        } else {
            format!("{base}{count}")
        };
        let dept = pick_weighted(&mut cx.rng, &dept_weights);
        let titles = DEPARTMENTS[dept].2;
        let title = titles[pick(&mut cx.rng, titles.len())];
        let state_roll = cx.rng.random_range(0..100);
        let state = match state_roll {
            0..5 => UserState::Staged,
            5..15 => UserState::Suspended,
            _ => UserState::Activated,
        };
        let mfa = match cx.rng.random_range(0..100) {
            0..68 => Mfa::Enrolled,
            68..78 => Mfa::Pending,
            78..94 => Mfa::NotEnrolled,
            94..97 => Mfa::ExclusionActive,
            _ => Mfa::ExclusionExpired,
        };
        let technical = matches!(
            DEPARTMENTS[dept].0,
            "Engineering" | "IT" | "Security" | "Data"
        );
        let sudo = technical && cx.rng.random_bool(0.3);
        let passwordless_sudo = sudo && cx.rng.random_bool(0.2);
        let locked = state == UserState::Activated && cx.rng.random_bool(0.03);
        let contractor = cx.rng.random_bool(0.08);
        let dormant = cx.rng.random_bool(0.12);
        let password_expired = state == UserState::Activated && cx.rng.random_bool(0.03);
        let password_never_expires = cx.rng.random_bool(0.04);
        let manager = if i > 0 && cx.rng.random_bool(0.8) {
            Some(pick(&mut cx.rng, i))
        } else {
            None
        };
        let created = random_between(&mut cx.rng, org_created, now - days(1));
        let city = pick(&mut cx.rng, CITIES.len());
        users.push(UserPlan {
            id: cx.ids.next_id(),
            email: format!("{username}@{domain}"),
            username,
            first: first.to_string(),
            last: last.to_string(),
            dept,
            title,
            state,
            locked,
            mfa,
            sudo,
            passwordless_sudo,
            created,
            contractor,
            dormant,
            password_expired,
            password_never_expires,
            manager,
            city,
        });
    }

    // Make sure even a small org shows every case the compliance checks look for; the random
    // draws above give the realistic proportions in larger orgs.
    if users.len() >= 12 {
        users[3].mfa = Mfa::ExclusionActive;
        users[4].mfa = Mfa::ExclusionExpired;
        users[5].state = UserState::Suspended;
        users[6].state = UserState::Activated;
        users[6].locked = true;
        users[7].mfa = Mfa::NotEnrolled;
        users[8].sudo = true;
        users[9].state = UserState::Staged;
    }
    users
}

fn mfa_status(m: Mfa) -> &'static str {
    match m {
        Mfa::Enrolled => "ENROLLED",
        Mfa::Pending => "PENDING_ACTIVATION",
        _ => "NOT_ENROLLED",
    }
}

pub(super) fn user_record(u: &UserPlan, org_id: &str, users: &[UserPlan], now: Timestamp) -> Rec {
    let (state, activated, suspended) = match u.state {
        UserState::Staged => ("STAGED", false, false),
        UserState::Activated => ("ACTIVATED", true, false),
        UserState::Suspended => ("SUSPENDED", true, true),
    };
    let totp = u.mfa == Mfa::Enrolled;
    let (exclusion, until) = match u.mfa {
        Mfa::ExclusionActive => (true, Some(fmt_ts(now + days(10)))),
        Mfa::ExclusionExpired => (true, Some(fmt_ts(now - days(20)))),
        _ => (false, None),
    };
    let password_date = u
        .created
        .max(now - days(((u.id.len() as i64 * 7) + u.username.len() as i64 * 3) % 120));
    let expiration = (!u.password_never_expires).then(|| fmt_ts(password_date + days(90)));
    let locked_date = u.locked.then(|| fmt_ts(now - days(2)));
    let (country, region, _) = CITIES[u.city];
    let uid = 5000 + u32::from_str_radix(&u.id[18..], 16).unwrap_or(0);
    let web_authn = if totp && u.username.len().is_multiple_of(3) {
        "ENROLLED"
    } else {
        "NOT_ENROLLED"
    };
    let address = Obj::new()
        .str("type", "work")
        .str("country", country)
        .str("region", region)
        .finish();
    Obj::new()
        .str("_id", &u.id)
        .str("id", &u.id)
        .str("organization", org_id)
        .str("username", &u.username)
        .str("email", &u.email)
        .str("firstname", &u.first)
        .str("middlename", "")
        .str("lastname", &u.last)
        .str("displayname", &format!("{} {}", u.first, u.last))
        // No alternate email and no recovery address: JumpCloud documents both as strings, so
        // absent ones are left out, not null.
        .obj("recoveryEmail", Obj::new().bool("verified", false))
        .str("created", &fmt_ts(u.created))
        .str("state", state)
        .bool("activated", activated)
        .bool("suspended", suspended)
        .bool("account_locked", u.locked)
        .opt_str("account_locked_date", locked_date.as_deref())
        .num("badLoginAttempts", if u.locked { 10 } else { 0 })
        .bool("password_expired", u.password_expired)
        .opt_str("password_expiration_date", expiration.as_deref())
        .str("password_date", &fmt_ts(password_date))
        .bool("password_never_expires", u.password_never_expires)
        .bool("sudo", u.sudo)
        .bool("passwordless_sudo", u.passwordless_sudo)
        .bool("totp_enabled", totp)
        .bool("enable_user_portal_multifactor", u.mfa != Mfa::NotEnrolled)
        .obj(
            "mfa",
            Obj::new()
                .bool("configured", totp)
                .bool("exclusion", exclusion)
                .some_str("exclusionUntil", until.as_deref())
                .raw("exclusionDays", if exclusion { "30" } else { "null" }),
        )
        .obj(
            "mfaEnrollment",
            Obj::new()
                .str("overallStatus", mfa_status(u.mfa))
                .str("totpStatus", mfa_status(u.mfa))
                .str("webAuthnStatus", web_authn)
                .str("pushStatus", "NOT_ENROLLED")
                .str("smsStatus", "DISABLED")
                .str("jcGoStatus", "NOT_ENROLLED"),
        )
        .null("admin")
        .bool("externally_managed", false)
        .str("external_source_type", "")
        .raw("restrictedFields", "[]")
        // No `delegatedAuthority`: its documented name is `ActiveDirectory`; a user without
        // delegated authentication has no such object.
        .bool("ldap_binding_user", false)
        .bool("samba_service_user", false)
        .some_str(
            "manager",
            u.manager.and_then(|m| users.get(m)).map(|m| m.id.as_str()),
        )
        .str("department", DEPARTMENTS[u.dept].0)
        .str("jobTitle", u.title)
        .str("company", "")
        .str("costCenter", &format!("CC-{:03}", 100 + u.dept))
        .str(
            "employeeType",
            if u.contractor {
                "Contractor"
            } else {
                "Full-time"
            },
        )
        .str("employeeIdentifier", &format!("E{}", &u.id[18..]))
        .str("location", region)
        .raw("addresses", &format!("[{address}]"))
        .raw("phoneNumbers", "[]")
        .raw("attributes", "[]")
        .str("description", "")
        .str(
            "creationSource",
            if u.id.ends_with(['0', '5']) {
                "scim:okta"
            } else {
                "jumpcloud:console"
            },
        )
        .num("unix_uid", uid)
        .num("unix_guid", uid)
        .bool("enable_managed_uid", false)
        .bool("allow_public_key", true)
        .str("public_key", "")
        .raw("ssh_keys", "[]")
        .str("systemUsername", "")
        .str("managedAppleId", "")
        .finish()
        .into_boxed_str()
}
