//! Identity controls (I1-I12): MFA, password and lockout policy, dormant accounts, leavers,
//! privileged access, API keys, audit logging, conditional access and certificates.

use std::collections::BTreeMap;

use super::record::Record;

use super::catalog::Finding;
use super::context::*;
use super::evidence::KindState;
use super::json::{at, bool_at, f64_at, id_of, show, str_at, time_at};
use super::kinds::*;
use super::settings::MfaExclusionHandling;

pub(super) fn is_suspended(user: &Record) -> bool {
    bool_at(user, "suspended") == Some(true)
        || str_at(user, "state").is_some_and(|s| s.eq_ignore_ascii_case("SUSPENDED"))
}

pub(super) fn is_active_user(user: &Record, include_staged: bool) -> bool {
    if is_suspended(user) {
        return false;
    }
    match str_at(user, "state") {
        Some(state) if state.eq_ignore_ascii_case("ACTIVATED") => true,
        Some(state) if state.eq_ignore_ascii_case("STAGED") => include_staged,
        // A state JumpCloud does not document is read like an absent one: the user stays in
        // scope unless `activated` says otherwise, so it is evaluated rather than skipped.
        _ => bool_at(user, "activated") != Some(false),
    }
}

pub(super) fn i1_user_mfa(ctx: &Ctx) -> Result<Finding, String> {
    let (users, mut f) = ctx.user_scope()?;
    let staged = ctx.settings.include_staged_users_or_default();
    let handling = ctx.settings.mfa_exclusions_or_default();
    let mut honoured = Vec::new();
    let mut staged_skipped = 0;
    for user in users {
        if !staged
            && !is_suspended(user)
            && str_at(user, "state").is_some_and(|s| s.eq_ignore_ascii_case("STAGED"))
        {
            staged_skipped += 1;
        }
        if !is_active_user(user, staged) {
            continue;
        }
        f.evaluated += 1;
        let enrolled = str_at(user, "mfaEnrollment.overallStatus") == Some("ENROLLED")
            || bool_at(user, "totp_enabled") == Some(true);
        if enrolled {
            continue;
        }
        let status = show(user, "mfaEnrollment.overallStatus");
        if bool_at(user, "mfa.exclusion") == Some(true) {
            let until = time_at(user, "mfa.exclusionUntil");
            match (handling, until) {
                (MfaExclusionHandling::HonourUntilEnd, Some(until)) if until > ctx.now => {
                    honoured.push(format!("{} ({}) until {until}", user_name(user), id_of(user)));
                    continue;
                }
                (MfaExclusionHandling::Ignore, _) => f.fail(
                    id_of(user),
                    user_name(user),
                    format!("not enrolled in MFA (overallStatus={status}); MFA exclusions are not accepted by the settings"),
                ),
                (_, Some(until)) => f.fail(
                    id_of(user),
                    user_name(user),
                    format!("not enrolled in MFA (overallStatus={status}); MFA exclusion ended {until}"),
                ),
                (_, None) => f.fail(
                    id_of(user),
                    user_name(user),
                    format!("not enrolled in MFA (overallStatus={status}); MFA exclusion without an end date is not honoured"),
                ),
            }
        } else {
            f.fail(
                id_of(user),
                user_name(user),
                format!("not enrolled in MFA (overallStatus={status})"),
            );
        }
    }
    if !honoured.is_empty() {
        f.notes.push(format!(
            "{} users pass only through an MFA exclusion that has not ended: {}.",
            honoured.len(),
            honoured.join(", ")
        ));
    }
    if staged_skipped > 0 {
        f.notes.push(format!(
            "{staged_skipped} STAGED users (not yet activated) were not evaluated (includeStagedUsers=false)."
        ));
    }
    Ok(f)
}

pub(super) fn i2_admin_mfa(ctx: &Ctx) -> Result<Finding, String> {
    let org = ctx.organization()?;
    let admins = ctx.records(ADMINISTRATORS)?;
    let mut f = Finding::default();
    f.evaluated += 1;
    if bool_at(org, "settings.requireAdminMFA") != Some(true) {
        f.fail(
            id_of(org),
            str_at(org, "displayName").unwrap_or(""),
            format!(
                "organization does not require MFA for administrators (settings.requireAdminMFA={})",
                show(org, "settings.requireAdminMFA")
            ),
        );
    }
    let mut admins: Vec<&Record> = admins.iter().collect();
    admins.sort_by_key(|a| id_of(a));
    for admin in admins {
        if bool_at(admin, "suspended") == Some(true) {
            continue;
        }
        f.evaluated += 1;
        let enabled = bool_at(admin, "enableMultiFactor") == Some(true);
        let enrolled = bool_at(admin, "totpEnrolled") == Some(true);
        if !(enabled && enrolled) {
            f.fail(
                id_of(admin),
                str_at(admin, "email").unwrap_or(""),
                format!(
                    "administrator ({}) without MFA: enableMultiFactor={}, totpEnrolled={}",
                    show(admin, "roleName"),
                    show(admin, "enableMultiFactor"),
                    show(admin, "totpEnrolled")
                ),
            );
        }
    }
    Ok(f)
}

pub(super) fn i3_password_policy(ctx: &Ctx) -> Result<Finding, String> {
    let org = ctx.organization()?;
    let Some(policy) = at(org, "settings.passwordPolicy") else {
        return Err("the organization has no settings.passwordPolicy".to_owned());
    };
    let s = ctx.settings;
    let mut f = Finding::default();
    let rule = |f: &mut Finding, field: &str, ok: bool, why: String| {
        f.evaluated += 1;
        if !ok {
            f.fail(format!("passwordPolicy.{field}"), field.to_owned(), why);
        }
    };
    let min = f64::from(s.password_min_length_or_default());
    let enabled = bool_at(policy, "enableMinLength") == Some(true);
    let length = f64_at(policy, "minLength");
    rule(
        &mut f,
        "minLength",
        enabled && length.is_some_and(|l| l >= min),
        format!(
            "minimum length {} (enableMinLength={}), baseline {min}",
            show(policy, "minLength"),
            show(policy, "enableMinLength")
        ),
    );
    if s.password_require_complexity_or_default() {
        for field in [
            "needsLowercase",
            "needsUppercase",
            "needsNumeric",
            "needsSymbolic",
        ] {
            rule(
                &mut f,
                field,
                bool_at(policy, field) == Some(true),
                format!("{field}={}, complexity required", show(policy, field)),
            );
        }
    }
    let max_expiry = s.password_max_expiry_days_or_default();
    if max_expiry > 0 {
        let enabled = bool_at(policy, "enablePasswordExpirationInDays") == Some(true);
        let days = f64_at(policy, "passwordExpirationInDays");
        rule(
            &mut f,
            "passwordExpirationInDays",
            enabled && days.is_some_and(|d| d > 0.0 && d <= f64::from(max_expiry)),
            format!(
                "expiry {} days (enablePasswordExpirationInDays={}), at most {max_expiry} required",
                show(policy, "passwordExpirationInDays"),
                show(policy, "enablePasswordExpirationInDays")
            ),
        );
    }
    let history = s.password_min_history_or_default();
    if history > 0 {
        let enabled = bool_at(policy, "enableMaxHistory") == Some(true);
        let kept = f64_at(policy, "maxHistory");
        rule(
            &mut f,
            "maxHistory",
            enabled && kept.is_some_and(|k| k >= f64::from(history)),
            format!(
                "history {} (enableMaxHistory={}), at least {history} required",
                show(policy, "maxHistory"),
                show(policy, "enableMaxHistory")
            ),
        );
    }
    Ok(f)
}

pub(super) fn i4_lockout(ctx: &Ctx) -> Result<Finding, String> {
    let org = ctx.organization()?;
    let policy = at(org, "settings.passwordPolicy")
        .cloned()
        .unwrap_or(Record::Null);
    let max = f64::from(ctx.settings.max_login_attempts_or_default());
    let mut f = Finding {
        evaluated: 1,
        ..Finding::default()
    };
    let enabled = bool_at(&policy, "enableMaxLoginAttempts") == Some(true);
    let attempts = f64_at(&policy, "maxLoginAttempts");
    if !(enabled && attempts.is_some_and(|a| a >= 1.0 && a <= max)) {
        f.fail(
            "passwordPolicy.maxLoginAttempts",
            "maxLoginAttempts",
            format!(
                "lockout after {} attempts (enableMaxLoginAttempts={}), at most {max} required",
                show(&policy, "maxLoginAttempts"),
                show(&policy, "enableMaxLoginAttempts")
            ),
        );
    }
    if let Ok(users) = ctx.records(USERS) {
        let mut locked: Vec<String> = users
            .iter()
            .filter(|u| bool_at(u, "account_locked") == Some(true))
            .map(|u| format!("{} ({})", user_name(u), id_of(u)))
            .collect();
        locked.sort();
        if !locked.is_empty() {
            f.notes.push(format!(
                "{} users are currently locked out: {}.",
                locked.len(),
                locked.join(", ")
            ));
        }
    }
    Ok(f)
}

pub(super) fn i5_dormant(ctx: &Ctx) -> Result<Finding, String> {
    if ctx.ev.state(DI_EVENTS) == KindState::NotLicensed {
        return Err(
            "Directory Insights is not licensed for this organization (HTTP 402), and JumpCloud users carry no last-login field".to_owned(),
        );
    }
    let sign_ins = ctx.sign_ins()?;
    let (users, mut f) = ctx.user_scope()?;
    let days = i64::from(ctx.settings.dormant_account_days_or_default());
    let (Some(start), Some(end)) = (
        ctx.ev.meta.events_window_start,
        ctx.ev.meta.events_window_end,
    ) else {
        return Err("the snapshot does not record the Directory Insights events window".to_owned());
    };
    let window = days_between(start, end);
    if window < days {
        return Err(format!(
            "the Directory Insights events cover {window} days, fewer than dormantAccountDays ({days}); collect a longer window or lower the threshold"
        ));
    }
    let mut too_new = 0;
    for user in users {
        if !is_active_user(user, false) {
            continue;
        }
        if time_at(user, "created").is_some_and(|c| days_between(c, ctx.now) <= days) {
            too_new += 1;
            continue;
        }
        f.evaluated += 1;
        match sign_ins.last_of(&id_of(user), &user_name(user)) {
            Some(seen) if days_between(seen, ctx.now) <= days => {}
            Some(seen) => f.fail(
                id_of(user),
                user_name(user),
                format!("last successful sign-in {seen}, more than {days} days ago"),
            ),
            None => f.fail(
                id_of(user),
                user_name(user),
                format!("no successful sign-in between {start} and {end}"),
            ),
        }
    }
    if too_new > 0 {
        f.notes.push(format!(
            "{too_new} users created within the last {days} days were not evaluated."
        ));
    }
    Ok(f)
}

pub(super) fn i6_leavers(ctx: &Ctx) -> Result<Finding, String> {
    let users = ctx.records(USERS)?;
    let kinds = [
        (SUSPENDED_USER_SYSTEMS, "devices"),
        (SUSPENDED_USER_APPLICATIONS, "applications"),
        (SUSPENDED_USER_GROUPS, "groups"),
    ];
    let mut bindings: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
    for (kind, label) in kinds {
        for (user, record) in ctx.children(kind)? {
            bindings
                .entry(user)
                .or_default()
                .entry(label)
                .or_default()
                .push(id_of(record));
        }
    }
    let mut suspended: Vec<&Record> = users.iter().filter(|u| is_suspended(u)).collect();
    suspended.sort_by_key(|u| id_of(u));
    let mut f = Finding::default();
    for user in suspended {
        f.evaluated += 1;
        let id = id_of(user);
        if let Some(held) = bindings.get(id.as_str()) {
            let why = held
                .iter()
                .map(|(label, ids)| {
                    let mut ids = ids.clone();
                    ids.sort();
                    format!("{} {label} ({})", ids.len(), ids.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            f.fail(
                &id,
                user_name(user),
                format!("suspended but still bound to {why}"),
            );
        }
    }
    Ok(f)
}

pub(super) fn i7_privileged(ctx: &Ctx) -> Result<Finding, String> {
    let (users, mut f) = ctx.user_scope()?;
    let groups = ctx.records(USER_GROUPS)?;
    let admins = ctx.records(ADMINISTRATORS)?;
    let mut sudo = Vec::new();
    for user in users {
        if !is_active_user(user, true) {
            continue;
        }
        f.evaluated += 1;
        if bool_at(user, "passwordless_sudo") == Some(true) {
            f.fail(
                id_of(user),
                user_name(user),
                "passwordless sudo on every bound device",
            );
        } else if bool_at(user, "passwordless_sudo").is_none() {
            f.fail(
                id_of(user),
                user_name(user),
                format!(
                    "passwordless sudo not readable (passwordless_sudo={})",
                    show(user, "passwordless_sudo")
                ),
            );
        } else if bool_at(user, "sudo") == Some(true) {
            sudo.push(user_name(user));
        }
    }
    let mut groups: Vec<&Record> = groups.iter().collect();
    groups.sort_by_key(|g| id_of(g));
    for group in groups {
        f.evaluated += 1;
        let name = str_at(group, "name").unwrap_or("");
        // A group without sudo attributes grants no sudo; attributes that are there but not
        // readable booleans are not taken as "off".
        let flag = |field: &str| {
            let path = format!("attributes.sudo.{field}");
            (at(group, &path).is_none() || bool_at(group, &path).is_some())
                .then(|| bool_at(group, &path) == Some(true))
                .ok_or_else(|| format!("{path}={}", show(group, &path)))
        };
        match (flag("enabled"), flag("withoutPassword")) {
            (Ok(true), Ok(true)) => f.fail(
                id_of(group),
                name,
                "user group grants passwordless sudo to its members",
            ),
            (Err(why), _) | (_, Err(why)) => f.fail(
                id_of(group),
                name,
                format!("user group sudo attributes not readable ({why})"),
            ),
            _ => {}
        }
    }
    sudo.sort();
    if !sudo.is_empty() {
        f.notes.push(format!(
            "{} users have sudo (with password): {}.",
            sudo.len(),
            sudo.join(", ")
        ));
    }
    let mut roles: BTreeMap<String, u64> = BTreeMap::new();
    for admin in admins {
        if bool_at(admin, "suspended") != Some(true) {
            *roles.entry(show(admin, "roleName")).or_default() += 1;
        }
    }
    if !roles.is_empty() {
        f.notes.push(format!(
            "Administrators per role: {}.",
            roles
                .iter()
                .map(|(role, n)| format!("{role}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(f)
}

pub(super) fn i9_api_keys(ctx: &Ctx) -> Result<Finding, String> {
    let admins = ctx.records(ADMINISTRATORS)?;
    let max_age = i64::from(ctx.settings.api_key_max_age_days_or_default());
    let mut admins: Vec<&Record> = admins.iter().collect();
    admins.sort_by_key(|a| id_of(a));
    let mut f = Finding::default();
    for admin in admins {
        if bool_at(admin, "suspended") == Some(true) {
            continue;
        }
        match bool_at(admin, "apiKeySet") {
            Some(true) => {}
            Some(false) => continue,
            None => {
                f.skip(
                    id_of(admin),
                    str_at(admin, "email").unwrap_or(""),
                    format!(
                        "whether an API key is set is not readable (apiKeySet={})",
                        show(admin, "apiKeySet")
                    ),
                );
                continue;
            }
        }
        f.evaluated += 1;
        let mut why = Vec::new();
        let expire = time_at(admin, "apiKeyHash.expireAt");
        match expire {
            None => why.push("API key has no expiry (apiKeyHash.expireAt empty)".to_owned()),
            Some(expire) if expire <= ctx.now => {
                f.notes.push(format!(
                    "The API key of {} expired {expire}.",
                    str_at(admin, "email").unwrap_or("")
                ));
            }
            Some(_) => {}
        }
        let set =
            time_at(admin, "apiKeyUpdatedAt").or_else(|| time_at(admin, "apiKeyHash.createdAt"));
        match set {
            Some(set) => {
                let age = days_between(set, ctx.now);
                if age > max_age {
                    why.push(format!(
                        "API key set {set}, {age} days ago (at most {max_age})"
                    ));
                }
            }
            None => why.push(format!(
                "API key age unknown (apiKeyUpdatedAt={}, apiKeyHash.createdAt={})",
                show(admin, "apiKeyUpdatedAt"),
                show(admin, "apiKeyHash.createdAt")
            )),
        }
        if !why.is_empty() {
            f.fail(
                id_of(admin),
                str_at(admin, "email").unwrap_or(""),
                why.join("; "),
            );
        }
    }
    Ok(f)
}

pub(super) fn i10_audit_logging(ctx: &Ctx) -> Result<Finding, String> {
    let org = ctx.organization()?;
    match ctx.ev.state(DI_EVENTS) {
        KindState::NotLicensed => {
            return Err(
                "Directory Insights is not licensed for this organization (HTTP 402)".to_owned(),
            );
        }
        KindState::Missing => {
            return Err(format!(
                "evidence kind `{DI_EVENTS}` is missing from the snapshot"
            ));
        }
        KindState::Unavailable | KindState::Skipped => {
            return Err(format!(
                "evidence kind `{DI_EVENTS}` is {}",
                ctx.ev.state(DI_EVENTS).as_str()
            ));
        }
        KindState::Complete => {}
    }
    let mut f = Finding {
        evaluated: 1,
        ..Finding::default()
    };
    if bool_at(org, "settings.features.directoryInsights.enabled") != Some(true) {
        f.fail(
            id_of(org),
            str_at(org, "displayName").unwrap_or(""),
            format!(
                "Directory Insights is not shown enabled (settings.features.directoryInsights.enabled={})",
                show(org, "settings.features.directoryInsights.enabled")
            ),
        );
    }
    let count = ctx.sign_ins()?.events();
    match (
        ctx.ev.meta.events_window_start,
        ctx.ev.meta.events_window_end,
    ) {
        (Some(start), Some(end)) => f.notes.push(format!(
            "{count} Directory Insights events collected between {start} and {end}."
        )),
        _ => f
            .notes
            .push(format!("{count} Directory Insights events collected.")),
    }
    Ok(f)
}

pub(super) fn i11_conditional_access(ctx: &Ctx) -> Result<Finding, String> {
    let policies = ctx.records(AUTHN_POLICIES)?;
    let applications = ctx.records(APPLICATIONS)?;
    let mut required = vec![("user_portal", "User Portal")];
    if applications
        .iter()
        .any(|a| bool_at(a, "active") != Some(false))
    {
        required.push(("application", "SSO applications"));
    }
    let mut policies: Vec<&Record> = policies.iter().collect();
    policies.sort_by_key(|p| id_of(p));
    let mut f = Finding::default();
    for (kind, label) in required {
        f.evaluated += 1;
        let mfa: Vec<&&Record> = policies
            .iter()
            .filter(|p| {
                str_at(p, "type") == Some(kind)
                    && str_at(p, "effect.action") == Some("allow")
                    && bool_at(p, "effect.obligations.mfa.required") == Some(true)
            })
            .collect();
        let enforcing = mfa.iter().any(|p| {
            bool_at(p, "disabled") == Some(false) && bool_at(p, "monitorOnly") == Some(false)
        });
        if !enforcing {
            let mut why = vec![format!(
                "no enabled, enforcing policy requires MFA for {label}"
            )];
            for p in mfa {
                if bool_at(p, "disabled") == Some(true) {
                    why.push(format!("{} is disabled", show(p, "name")));
                } else if bool_at(p, "monitorOnly") == Some(true) {
                    why.push(format!("{} is monitor-only", show(p, "name")));
                } else {
                    why.push(format!(
                        "{}: disabled={}, monitorOnly={} not readable",
                        show(p, "name"),
                        show(p, "disabled"),
                        show(p, "monitorOnly")
                    ));
                }
            }
            f.fail(kind, label, why.join("; "));
        }
    }
    f.notes.push(
        "Policy targets (users, groups, excluded applications) are not evaluated; review them in the evidence.".to_owned(),
    );
    Ok(f)
}

pub(super) fn i12_certs(ctx: &Ctx) -> Result<Finding, String> {
    let applications = ctx.records(APPLICATIONS)?;
    let warn = i64::from(ctx.settings.cert_expiry_warning_days_or_default());
    let mut applications: Vec<&Record> = applications.iter().collect();
    applications.sort_by_key(|a| id_of(a));
    let mut f = Finding::default();
    for app in applications {
        if bool_at(app, "active") == Some(false) {
            continue;
        }
        let name = str_at(app, "displayLabel")
            .or_else(|| str_at(app, "displayName"))
            .or_else(|| str_at(app, "name"))
            .unwrap_or("");
        let Some(expiry) = time_at(app, "sso.idpCertExpirationAt") else {
            f.skip(
                id_of(app),
                name,
                format!(
                    "no readable IdP certificate expiry (sso.idpCertExpirationAt={})",
                    show(app, "sso.idpCertExpirationAt")
                ),
            );
            continue;
        };
        f.evaluated += 1;
        if expiry <= ctx.now {
            f.fail(
                id_of(app),
                name,
                format!("IdP certificate expired {expiry}"),
            );
        } else {
            let left = days_between(ctx.now, expiry);
            if left < warn {
                f.fail(
                    id_of(app),
                    name,
                    format!("IdP certificate expires {expiry}, in {left} days"),
                );
            }
        }
    }
    Ok(f)
}
