//! Per-route rules: which console routes take the `x-org-id` header, which stable sort a
//! listing sends, and which routes are never asked because they answer with secrets. Pure.

/// Route prefixes that must never carry `x-org-id`: organization, administrator, provider and
/// integration routes. A multi-tenant key sending it there gets 403 "organization selection not
/// allowed via header". The list is the official SDK's (jcapi-powershell `Custom/Module.cs`).
const NO_ORG_HEADER_PREFIXES: [&str; 7] = [
    "/api/search/organizations",
    "/api/organizations",
    "/api/users",
    "/api/v2/organizations",
    "/api/v2/administrators",
    "/api/v2/providers",
    "/api/v2/integrations",
];

/// Whether a console path answers with secrets, which evidence must never hold:
/// - `/api/v2/systems/{id}/fdekey`: a device's full-disk-encryption recovery key;
/// - `/api/radiusservers`, `/api/v2/radiusservers...`: RADIUS servers with their shared secrets;
/// - any path segment naming a secret (`.../secrets`, `clientsecret`, ...), such as a service
///   account's client secrets;
/// - `/api/commands/{id}` and below: a command with its script body (`command`), which can
///   hold credentials; the list `/api/commands` leaves the body out and is what evidence reads.
///
/// The client refuses these before sending anything, so no caller (a new evidence kind, a
/// mistyped path) can fetch one.
pub fn returns_secrets(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path).to_ascii_lowercase();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments
        .iter()
        .any(|s| *s == "fdekey" || s.contains("secret"))
        || matches!(
            segments.as_slice(),
            ["api", "radiusservers", ..]
                | ["api", "v2", "radiusservers", ..]
                | ["api", "commands", _, ..]
        )
}

/// Whether a console path (starting with `/api`) is org-scoped and so may carry `x-org-id`.
pub fn takes_org_header(path: &str) -> bool {
    !NO_ORG_HEADER_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
    })
}

/// The stable sort a list route is asked for (the `sort` query value), or `None` where the API
/// has no `sort` parameter. Paging with `skip` over an unsorted listing can repeat one record
/// and drop another when the data changes between pages; sorting by a unique field prevents it
/// (JumpCloud "Best Practices: JumpCloud API").
///
/// - v1 lists (`/api/systemusers`, `/api/systems`, `/api/applications`, `/api/users`,
///   `/api/organizations`, `/api/commands`): `_id`, the unique v1 key.
/// - v2 lists, group `/membership` and `/policystatuses`: `id`, the unique v2 key (v2 `sort`
///   takes a comma-separated field list; v2 objects carry `id`, not `_id`).
/// - System Insights tables: `system_id`. Rows carry no unique id, so this orders the devices;
///   the few rows of one device keep the server's order.
/// - `/api/v2/roles` (the v1 envelope): `id`. It documents `filter`, `limit` (at most 100),
///   `skip` and `sort`, like the other v2 lists.
/// - `/api/v2/users/{id}/memberof`: `id`. It documents `sort` beside `filter`, `limit` and
///   `skip`; its items are graph objects whose `id` is the group's.
/// - `/api/v2/policyresults` (the org's policy results history): `id`. Its window is a pair of
///   `endedAt` filters, a fixed set, so the unique `id` is all paging needs; `endedAt` is not
///   unique and the API does not say which fields `sort` accepts.
/// - The other v2 graph traversal routes (`/api/v2/users/{id}/systems`,
///   `/applications/{id}/users`, `/systems/{id}/users`, `/commands/{id}/systems`,
///   `/commands/{id}/systemgroups`, ...) take only `filter`, `limit` and `skip`: no sort exists,
///   so none is sent. Their pages are still checked against `x-total-count` and for repeated
///   ids.
pub fn stable_sort(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    if let Some(rest) = path.strip_prefix("/api/v2/") {
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        return match segments.as_slice() {
            ["systeminsights", _table] => Some("system_id"),
            [_] | [_, _] => Some("id"),
            [_, _, "membership" | "policystatuses"] => Some("id"),
            ["users", _, "memberof"] => Some("id"),
            _ => None,
        };
    }
    path.starts_with("/api/").then_some("_id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listing_with_a_sort_parameter_sorts_by_a_unique_field() {
        for (path, sort) in [
            ("/api/systemusers", Some("_id")),
            ("/api/systems", Some("_id")),
            ("/api/applications", Some("_id")),
            ("/api/users", Some("_id")),
            ("/api/organizations", Some("_id")),
            ("/api/v2/usergroups", Some("id")),
            ("/api/v2/policies", Some("id")),
            ("/api/v2/authn/policies", Some("id")),
            ("/api/v2/roles", Some("id")),
            ("/api/v2/usergroups/g1/membership", Some("id")),
            ("/api/v2/systemgroups/g1/membership", Some("id")),
            ("/api/v2/policies/p1/policystatuses", Some("id")),
            ("/api/v2/policyresults", Some("id")),
            ("/api/v2/systeminsights/os_version", Some("system_id")),
            ("/api/v2/users/u1/systems", None),
            ("/api/v2/users/u1/memberof", Some("id")),
            ("/api/v2/systems/s1/memberof", None),
            ("/api/v2/applications/a1/users", None),
            ("/api/v2/applications/a1/usergroups", None),
            ("/api/commands", Some("_id")),
            ("/api/v2/systems/s1/users", None),
            ("/api/v2/commands/c1/systems", None),
            ("/api/v2/commands/c1/systemgroups", None),
        ] {
            assert_eq!(stable_sort(path), sort, "{path}");
        }
    }

    #[test]
    fn routes_that_answer_with_secrets_are_recognised_and_evidence_routes_are_not() {
        for path in [
            "/api/v2/systems/5f0c1b2a3d4e5f6a7b8c9d0e/fdekey",
            "/api/v2/systems/s1/FDEKey?x=1",
            "/api/radiusservers",
            "/api/v2/radiusservers/r1/associations",
            "/api/v2/serviceaccounts/a1/secrets",
            "/api/v2/integrations/x/clientsecret",
            "/api/commands/5f0c1b2a3d4e5f6a7b8c9d0e",
            "/api/commands/c1/results",
        ] {
            assert!(returns_secrets(path), "{path}");
        }
        for path in [
            "/api/systemusers",
            "/api/systems",
            "/api/v2/systems/s1/memberof",
            "/api/v2/systeminsights/disk_encryption",
            "/api/v2/systeminsights/bitlocker_info",
            "/api/v2/policies/p1/policystatuses",
            "/api/users/getSelf",
            "/api/commands",
            "/api/commands?limit=100&skip=0&sort=_id",
            "/api/v2/commands/c1/systems",
            "/api/v2/commands/c1/systemgroups",
            "/api/v2/systems/s1/users",
        ] {
            assert!(!returns_secrets(path), "{path}");
        }
    }

    #[test]
    fn org_and_admin_routes_never_take_the_header() {
        for path in [
            "/api/organizations",
            "/api/organizations/5f1",
            "/api/organizations?limit=1",
            "/api/users",
            "/api/users/getSelf",
            "/api/v2/organizations/5f1/administratorlinks",
            "/api/v2/administrators/a/organizationlinks",
            "/api/v2/providers/p/administrators",
            "/api/v2/integrations/x",
            "/api/search/organizations",
        ] {
            assert!(!takes_org_header(path), "{path}");
        }
    }

    #[test]
    fn org_scoped_routes_take_the_header() {
        for path in [
            "/api/systemusers",
            "/api/systems",
            "/api/applications",
            "/api/v2/usergroups",
            "/api/v2/roles",
            "/api/v2/systeminsights/alf",
            // Prefix match is per path segment: these only look similar.
            "/api/usersettings",
            "/api/organizationsx",
        ] {
            assert!(takes_org_header(path), "{path}");
        }
    }
}
