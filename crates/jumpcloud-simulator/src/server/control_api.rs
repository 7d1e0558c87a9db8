//! The `/__simulator/` control routes tests use to set up orgs, keys and faults.

use super::*;

pub(super) fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            &format!("invalid control body: {e}"),
        )
    })
}

pub(super) fn no_content() -> Reply {
    Reply::json(StatusCode::NO_CONTENT, Vec::new())
}

pub(super) fn control(state: &RegionState, method: &Method, path: &str, body: &[u8]) -> Reply {
    let segments: Vec<&str> = path.split('/').collect();
    let ok = |value: Value| Reply::value(StatusCode::OK, &value);
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["admins"]) => {
            let world = state.world();
            ok(json!(
                world.admins.iter().map(Admin::view).collect::<Vec<_>>()
            ))
        }
        ("POST" | "PUT", ["admins", id, action]) => {
            let now = state.now();
            let mut world = state.world_mut();
            if world.admin_mut(id).is_none() {
                return Reply::error(
                    StatusCode::NOT_FOUND,
                    &format!("no administrator with id {id}"),
                );
            }
            match *action {
                "revoke-key" => world.revoke_key(id),
                "issue-key" => {
                    let expiry: KeyExpiry = match parse_body(body) {
                        Ok(e) => e,
                        Err(reply) => return reply,
                    };
                    // A new key revokes the previous one, as in JumpCloud.
                    world.revoke_key(id);
                    let value = world.new_key();
                    if let Some(admin) = world.admin_mut(id) {
                        admin.key = Some(ApiKey {
                            value,
                            created_at: now,
                            expire_at: expiry.expires_at,
                        });
                        admin.api_key_allowed = true;
                        admin.api_key_updated_at = Some(now);
                    }
                }
                "expire-key" | "key-expiry" => {
                    let expires_at = if *action == "expire-key" {
                        Some(now - jiff::SignedDuration::from_secs(1))
                    } else {
                        match parse_body::<KeyExpiry>(body) {
                            Ok(e) => e.expires_at,
                            Err(reply) => return reply,
                        }
                    };
                    match world.admin_mut(id).and_then(|a| a.key.as_mut()) {
                        Some(key) => key.expire_at = expires_at,
                        None => {
                            return Reply::error(
                                StatusCode::CONFLICT,
                                &format!("administrator {id} has no api key"),
                            );
                        }
                    }
                }
                _ => {
                    return Reply::error(
                        StatusCode::NOT_FOUND,
                        &format!("unknown control route {path}"),
                    );
                }
            }
            let view = world.admins.iter().find(|a| a.id == *id).map(Admin::view);
            ok(json!(view))
        }
        (_, ["service-accounts", ..]) => service_account_control(state, method, &segments, body),
        ("POST", ["tokens", "revoke"]) => {
            state.tokens().revoke_all();
            no_content()
        }
        ("PUT" | "POST", ["token-lifetime"]) => match parse_body::<TokenLifetime>(body) {
            Ok(lifetime) => {
                state.tokens().lifetime = Duration::from_secs(lifetime.seconds);
                no_content()
            }
            Err(reply) => reply,
        },
        ("GET", ["orgs"]) => ok(json!(state.org_counts())),
        ("POST", ["orgs"]) => {
            let request: AddOrgRequest = match parse_body(body) {
                Ok(r) => r,
                Err(reply) => return reply,
            };
            match state.add_org(&request.admin_ids) {
                Ok((org_id, name)) => ok(json!(AddOrgResponse { org_id, name })),
                Err(message) => Reply::error(StatusCode::NOT_FOUND, &message),
            }
        }
        ("PUT" | "POST", ["directory-insights"]) => {
            let toggle: DirectoryInsightsToggle = match serde_json::from_slice(body) {
                Ok(t) => t,
                Err(e) => {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        &format!("invalid control body: {e}"),
                    );
                }
            };
            let mut world = state.world_mut();
            for org in world
                .orgs
                .iter_mut()
                .filter(|o| toggle.org_id.as_ref().is_none_or(|id| *id == o.id))
            {
                org.directory_insights = toggle.enabled;
            }
            no_content()
        }
        ("GET", ["faults"]) => ok(json!(state.list_faults())),
        ("POST", ["faults"]) => match serde_json::from_slice::<Fault>(body) {
            Ok(fault) => {
                if let FaultKind::Status { status, .. } = &fault.kind
                    && !(400..=599).contains(status)
                {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        "status faults need a 4xx or 5xx status",
                    );
                }
                state.add_fault(fault);
                no_content()
            }
            Err(e) => Reply::error(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")),
        },
        ("DELETE", ["faults"]) => {
            state.clear_faults();
            no_content()
        }
        ("GET", ["counters"]) => ok(json!(state.counters_view())),
        ("GET", ["requests"]) => ok(json!(state.logged_requests())),
        ("PUT" | "POST", ["get-self"]) => match parse_body::<GetSelfStatus>(body) {
            Ok(GetSelfStatus { status }) => {
                if status.is_some_and(|s| !(400..=599).contains(&s)) {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        "get-self needs a 4xx or 5xx status, or null",
                    );
                }
                state.set_get_self_status(status);
                no_content()
            }
            Err(reply) => reply,
        },
        ("PUT" | "POST", ["route-status"]) => match parse_body::<RouteStatus>(body) {
            Ok(RouteStatus { path, status }) => {
                if status.is_some_and(|s| !(400..=599).contains(&s)) || !path.starts_with('/') {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        "route-status needs a path starting with / and a 4xx or 5xx status, or null",
                    );
                }
                state.set_route_status(&path, status);
                no_content()
            }
            Err(reply) => reply,
        },
        ("PUT" | "POST", ["insights-rows"]) => match serde_json::from_slice::<InsightsRows>(body) {
            Ok(InsightsRows { table, rows }) => match state.set_insights_rows(&table, rows) {
                Ok(()) => no_content(),
                Err(message) => Reply::error(StatusCode::BAD_REQUEST, &message),
            },
            Err(e) => Reply::error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
        },
        ("POST", ["advance"]) => match serde_json::from_slice::<Advance>(body) {
            Ok(Advance { days }) if days <= 3660 => ok(json!(state.advance(days))),
            Ok(_) => Reply::error(
                StatusCode::BAD_REQUEST,
                "advance takes at most 3660 days at a time",
            ),
            Err(e) => Reply::error(
                StatusCode::BAD_REQUEST,
                &format!("invalid body (expected {{\"days\": N}}): {e}"),
            ),
        },
        ("PUT" | "POST", ["rate-limit"]) => match parse_body::<RateLimit>(body) {
            Ok(RateLimit { per_second }) => {
                if per_second == Some(0) {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        "rate-limit needs perSecond of at least 1, or null to lift it",
                    );
                }
                state.set_rate_limit(per_second);
                no_content()
            }
            Err(reply) => reply,
        },
        ("DELETE", ["counters"]) => {
            state.reset_counters();
            no_content()
        }
        ("POST", ["reset"]) => {
            state.clear_faults();
            state.reset_counters();
            no_content()
        }
        _ => Reply::error(
            StatusCode::NOT_FOUND,
            &format!("unknown control route {method} /__simulator/{path}"),
        ),
    }
}

/// `/__simulator/service-accounts...`: list, create, add or remove a client secret, expire one,
/// disable, enable or delete an account.
fn service_account_control(
    state: &RegionState,
    method: &Method,
    segments: &[&str],
    body: &[u8],
) -> Reply {
    let now = state.now();
    let mut world = state.world_mut();
    let view = |world: &World, id: &str| match world.service_accounts.iter().find(|a| a.id == id) {
        Some(account) => Reply::value(StatusCode::OK, &json!(account.view())),
        None => Reply::error(
            StatusCode::NOT_FOUND,
            &format!("no service account with id {id}"),
        ),
    };
    match (method.as_str(), segments) {
        ("GET", ["service-accounts"]) => Reply::value(
            StatusCode::OK,
            &json!(
                world
                    .service_accounts
                    .iter()
                    .map(|a| a.view())
                    .collect::<Vec<_>>()
            ),
        ),
        ("POST", ["service-accounts"]) => {
            let request: NewServiceAccount = match parse_body(body) {
                Ok(r) => r,
                Err(reply) => return reply,
            };
            let role = request.role_name.unwrap_or_else(|| "Read Only".to_owned());
            if !ROLES.iter().any(|(name, ..)| *name == role) {
                return Reply::error(StatusCode::BAD_REQUEST, &format!("unknown role {role:?}"));
            }
            let name = request.name.unwrap_or_else(|| "evidence".to_owned());
            let id = world.add_service_account(&name, &role, now, request.secret_expires_at);
            view(&world, &id)
        }
        (_, ["service-accounts", id, ..]) if world.service_account_mut(id).is_none() => {
            Reply::error(
                StatusCode::NOT_FOUND,
                &format!("no service account with id {id}"),
            )
        }
        ("POST", ["service-accounts", id, "secrets"]) => {
            let expiry: KeyExpiry = match parse_body(body) {
                Ok(e) => e,
                Err(reply) => return reply,
            };
            let secret = world.new_client_secret(now, expiry.expires_at);
            let Some(account) = world.service_account_mut(id) else {
                return not_found();
            };
            if account.secrets.len() >= MAX_SECRETS {
                return Reply::error(
                    StatusCode::CONFLICT,
                    "the service account has two client secrets already; delete one first",
                );
            }
            account.secrets.push(secret);
            view(&world, id)
        }
        ("DELETE", ["service-accounts", id, "secrets", secret_id]) => {
            let Some(account) = world.service_account_mut(id) else {
                return not_found();
            };
            let before = account.secrets.len();
            account.secrets.retain(|s| s.id != *secret_id);
            if account.secrets.len() == before {
                return Reply::error(
                    StatusCode::NOT_FOUND,
                    &format!("no client secret {secret_id}"),
                );
            }
            state.tokens().revoke_secret(secret_id);
            no_content()
        }
        ("POST", ["service-accounts", id, "secrets", secret_id, "expire"]) => {
            let Some(secret) = world
                .service_account_mut(id)
                .and_then(|a| a.secrets.iter_mut().find(|s| s.id == *secret_id))
            else {
                return Reply::error(
                    StatusCode::NOT_FOUND,
                    &format!("no client secret {secret_id}"),
                );
            };
            secret.expire_at = Some(now - jiff::SignedDuration::from_secs(1));
            no_content()
        }
        ("POST", ["service-accounts", id, action @ ("disable" | "enable")]) => {
            if let Some(account) = world.service_account_mut(id) {
                account.disabled = *action == "disable";
            }
            no_content()
        }
        ("DELETE", ["service-accounts", id]) => {
            world.service_accounts.retain(|a| a.id != *id);
            state.tokens().revoke_account(id);
            no_content()
        }
        _ => Reply::error(
            StatusCode::NOT_FOUND,
            &format!("unknown control route {}", segments.join("/")),
        ),
    }
}
