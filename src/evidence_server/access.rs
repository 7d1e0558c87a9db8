//! Pure access decisions of the evidence endpoint: which status a request gets and which
//! connections the index shows, from what the TokenReview and SubjectAccessReviews answered.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;

use super::auth::{GROUP, RESOURCE};

/// The outcome of checking one request against one connection (or the index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// 401: no token, or a token the API server does not authenticate.
    Unauthenticated(&'static str),
    /// 403: the caller lacks this permission.
    Denied(String),
}

impl Access {
    pub fn status(&self) -> StatusCode {
        match self {
            Access::Allowed => StatusCode::OK,
            Access::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Access::Denied(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The message a refused caller reads: what is missing and how to get it. Never the token.
    pub fn message(&self) -> String {
        match self {
            Access::Allowed => String::new(),
            Access::Unauthenticated(why) => format!(
                "{why}: send a Kubernetes bearer token as `Authorization: Bearer <token>` (or, through the API server's service proxy, which removes Authorization, as `X-Jumpcloud-Operator-Token: <token>`); e.g. `kubectl create token NAME`\n"
            ),
            Access::Denied(permission) => format!(
                "forbidden: the caller may not {permission}; grant it with a Role and RoleBinding (README, \"Getting the evidence out\")\n"
            ),
        }
    }
}

/// The permission a connection's evidence needs, in RBAC words.
pub fn permission(namespace: &str, name: &str) -> String {
    format!("get {RESOURCE}.{GROUP} \"{name}\" in namespace \"{namespace}\"")
}

/// A request for one connection: no token or an unauthenticated one is a 401; a denied
/// SubjectAccessReview is a 403 naming the permission.
pub fn connection_access(
    token_given: bool,
    authenticated: bool,
    allowed: bool,
    namespace: &str,
    name: &str,
) -> Access {
    match (token_given, authenticated, allowed) {
        (false, _, _) => Access::Unauthenticated("no bearer token"),
        (true, false, _) => Access::Unauthenticated("the bearer token is not valid"),
        (true, true, false) => Access::Denied(permission(namespace, name)),
        (true, true, true) => Access::Allowed,
    }
}

/// The index may be read by any authenticated caller; it then shows only what they may get.
pub fn index_access(token_given: bool, authenticated: bool) -> Access {
    connection_access(token_given, authenticated, true, "", "")
}

/// Which SubjectAccessReviews the index needs: one per namespace without a name first; per
/// connection only in the namespaces where that one is denied (so `resourceNames` rules work).
pub fn names_to_check<'a>(
    connections: &'a [(String, String)],
    namespace_allowed: &BTreeMap<String, bool>,
) -> Vec<&'a (String, String)> {
    connections
        .iter()
        .filter(|(namespace, _)| namespace_allowed.get(namespace) != Some(&true))
        .collect()
}

/// The connections the index shows: those in a namespace the caller may get everything of,
/// and those the caller may get by name. Unknown answers are a no.
pub fn visible(
    connections: &[(String, String)],
    namespace_allowed: &BTreeMap<String, bool>,
    name_allowed: &BTreeSet<(String, String)>,
) -> Vec<(String, String)> {
    connections
        .iter()
        .filter(|c| namespace_allowed.get(&c.0) == Some(&true) || name_allowed.contains(*c))
        .cloned()
        .collect()
}

/// `^[0-9a-f]{64}$`: a blob name; anything else is refused before it reaches the store.
pub fn valid_digest(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ns: &str, name: &str) -> (String, String) {
        (ns.to_owned(), name.to_owned())
    }

    #[test]
    fn status_codes_follow_token_and_permission() {
        assert_eq!(
            connection_access(false, false, false, "a", "b").status(),
            401
        );
        assert_eq!(connection_access(true, false, true, "a", "b").status(), 401);
        let denied = connection_access(true, true, false, "team-a", "acme");
        assert_eq!(denied.status(), 403);
        assert!(denied.message().contains(
            "get jumpcloudconnections.jumpcloud-operator.io \"acme\" in namespace \"team-a\""
        ));
        assert_eq!(
            connection_access(true, true, true, "a", "b"),
            Access::Allowed
        );
        assert_eq!(index_access(true, true), Access::Allowed);
        assert_eq!(index_access(false, false).status(), 401);
    }

    #[test]
    fn the_index_shows_namespace_grants_and_named_grants_only() {
        let all = vec![c("a", "x"), c("a", "y"), c("b", "z"), c("c", "w")];
        let namespaces: BTreeMap<String, bool> =
            [("a".to_owned(), true), ("b".to_owned(), false)].into();
        // Namespace c had no answer: checked by name like a denied one.
        assert_eq!(names_to_check(&all, &namespaces), vec![&all[2], &all[3]]);
        let names: BTreeSet<_> = [c("b", "z")].into();
        assert_eq!(
            visible(&all, &namespaces, &names),
            vec![c("a", "x"), c("a", "y"), c("b", "z")]
        );
        assert_eq!(visible(&all, &BTreeMap::new(), &BTreeSet::new()), vec![]);
    }

    #[test]
    fn digests_are_64_lowercase_hex() {
        assert!(valid_digest(&"ab".repeat(32)));
        assert!(!valid_digest(&"AB".repeat(32)));
        assert!(!valid_digest(&"ab".repeat(31)));
        assert!(!valid_digest(&format!("{}/..", "a".repeat(61))));
        assert!(!valid_digest(""));
    }
}
