//! TokenReview (authentication.k8s.io/v1) over the tokens a test registers, and
//! SubjectAccessReview (authorization.k8s.io/v1) decided by [`crate::rbac`] over the stored
//! RBAC objects. The server itself authenticates nobody: these only answer reviews.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::rbac::{self, Policy, Request};
use crate::status::ApiError;
use crate::store::State;

/// A user a test registered a bearer token for.
#[derive(Debug, Clone)]
pub(crate) struct TokenUser {
    pub username: String,
    pub groups: Vec<String>,
}

/// Answers a TokenReview: authenticated with the user and its groups (plus
/// `system:authenticated`, as the apiserver adds) for a registered token, else
/// `authenticated: false` with an error, as the apiserver does for an unknown token.
pub(crate) fn token_review(
    tokens: &HashMap<String, TokenUser>,
    mut review: Value,
) -> Result<Value, ApiError> {
    let token = review["spec"]["token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                422,
                "Invalid",
                "TokenReview.authentication.k8s.io \"\" is invalid: spec.token: Required value",
            )
        })?;
    let status = match tokens.get(token) {
        Some(user) => {
            let mut groups = user.groups.clone();
            groups.push("system:authenticated".into());
            json!({"authenticated": true, "user": {"username": user.username, "uid": format!("uid-{}", user.username), "groups": groups}})
        }
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    review["apiVersion"] = json!("authentication.k8s.io/v1");
    review["kind"] = json!("TokenReview");
    review["status"] = status;
    Ok(review)
}

/// Answers a SubjectAccessReview from the RBAC objects in `state`.
pub(crate) fn subject_access_review(state: &State, review: Value) -> Result<Value, ApiError> {
    let request = Request::from_review(&review).map_err(|message| {
        ApiError::new(
            422,
            "Invalid",
            format!("SubjectAccessReview.authorization.k8s.io \"\" is invalid: {message}"),
        )
    })?;
    const RBAC: &str = "rbac.authorization.k8s.io";
    let policy = Policy {
        roles: state.all_of(&format!("roles.{RBAC}")),
        cluster_roles: state.all_of(&format!("clusterroles.{RBAC}")),
        role_bindings: state.all_of(&format!("rolebindings.{RBAC}")),
        cluster_role_bindings: state.all_of(&format!("clusterrolebindings.{RBAC}")),
    };
    let (allowed, reason) = rbac::decide(&policy, &request);
    Ok(rbac::answer(review, allowed, &reason))
}
