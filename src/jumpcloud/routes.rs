//! Which console routes take the `x-org-id` header. Pure.

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

/// Whether a console path (starting with `/api`) is org-scoped and so may carry `x-org-id`.
pub fn takes_org_header(path: &str) -> bool {
    !NO_ORG_HEADER_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
