//! A small RBAC evaluator over the stored Roles, ClusterRoles, RoleBindings and
//! ClusterRoleBindings, answering SubjectAccessReviews the way the apiserver's RBAC authorizer
//! does: apiGroups, resources (incl. `resource/subresource`, `*` and `*/subresource`), verbs,
//! resourceNames, User/Group/ServiceAccount subjects. Not modelled: aggregated ClusterRoles,
//! non-resource URLs, other authorizers (there is no superuser: everything must be bound).

use serde_json::{Value, json};

/// What a SubjectAccessReview asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Request {
    pub user: String,
    pub groups: Vec<String>,
    pub namespace: String,
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
}

impl Request {
    /// Reads `spec` of a SubjectAccessReview (authorization.k8s.io/v1).
    pub fn from_review(review: &Value) -> Result<Self, String> {
        let spec = &review["spec"];
        let attrs = spec
            .get("resourceAttributes")
            .filter(|a| a.is_object())
            .ok_or("spec.resourceAttributes: Required value (nonResourceAttributes are not supported by the test server)")?;
        let user = spec["user"].as_str().unwrap_or_default().to_owned();
        let groups: Vec<String> = spec["groups"]
            .as_array()
            .map(|g| {
                g.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if user.is_empty() && groups.is_empty() {
            return Err("at least one of user or group must be specified".into());
        }
        let s = |k: &str| attrs[k].as_str().unwrap_or_default().to_owned();
        Ok(Request {
            user,
            groups,
            namespace: s("namespace"),
            verb: s("verb"),
            group: s("group"),
            resource: s("resource"),
            subresource: s("subresource"),
            name: s("name"),
        })
    }
}

/// The RBAC objects the decision is made over.
#[derive(Debug, Default)]
pub(crate) struct Policy {
    pub roles: Vec<Value>,
    pub cluster_roles: Vec<Value>,
    pub role_bindings: Vec<Value>,
    pub cluster_role_bindings: Vec<Value>,
}

/// The decision, with the binding that allowed it (as the apiserver's reason says).
pub(crate) fn decide(policy: &Policy, request: &Request) -> (bool, String) {
    for binding in &policy.cluster_role_bindings {
        if binds(binding, request)
            && let Some(role) = role_of(policy, binding, None)
            && rules_allow(role, request)
        {
            return (
                true,
                format!(
                    "RBAC: allowed by ClusterRoleBinding {:?} of ClusterRole {:?}",
                    name(binding),
                    name(role)
                ),
            );
        }
    }
    if !request.namespace.is_empty() {
        for binding in policy
            .role_bindings
            .iter()
            .filter(|b| b["metadata"]["namespace"] == request.namespace.as_str())
        {
            if binds(binding, request)
                && let Some(role) = role_of(policy, binding, Some(&request.namespace))
                && rules_allow(role, request)
            {
                return (
                    true,
                    format!(
                        "RBAC: allowed by RoleBinding {:?} of {:?} in namespace {:?}",
                        name(binding),
                        name(role),
                        request.namespace
                    ),
                );
            }
        }
    }
    (false, String::new())
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The role a binding refers to: a ClusterRole, or (for a RoleBinding) a Role in its namespace.
fn role_of<'a>(policy: &'a Policy, binding: &Value, namespace: Option<&str>) -> Option<&'a Value> {
    let reference = &binding["roleRef"];
    let wanted = reference["name"].as_str()?;
    match (reference["kind"].as_str()?, namespace) {
        ("ClusterRole", _) => policy.cluster_roles.iter().find(|r| name(r) == wanted),
        ("Role", Some(ns)) => policy
            .roles
            .iter()
            .find(|r| name(r) == wanted && r["metadata"]["namespace"] == ns),
        _ => None,
    }
}

/// Whether one of the binding's subjects is the requester.
fn binds(binding: &Value, request: &Request) -> bool {
    let Some(subjects) = binding["subjects"].as_array() else {
        return false;
    };
    subjects.iter().any(|subject| {
        let subject_name = subject["name"].as_str().unwrap_or_default();
        match subject["kind"].as_str() {
            Some("User") => !subject_name.is_empty() && subject_name == request.user,
            Some("Group") => request.groups.iter().any(|g| g == subject_name),
            Some("ServiceAccount") => {
                let namespace = subject["namespace"]
                    .as_str()
                    .or_else(|| binding["metadata"]["namespace"].as_str())
                    .unwrap_or_default();
                request.user == format!("system:serviceaccount:{namespace}:{subject_name}")
            }
            _ => false,
        }
    })
}

fn rules_allow(role: &Value, request: &Request) -> bool {
    role["rules"]
        .as_array()
        .is_some_and(|rules| rules.iter().any(|rule| rule_allows(rule, request)))
}

fn rule_allows(rule: &Value, request: &Request) -> bool {
    let has = |field: &str, value: &str| {
        strings(&rule[field])
            .iter()
            .any(|x| *x == "*" || *x == value)
    };
    let resource_matches = strings(&rule["resources"]).iter().any(|r| {
        if request.subresource.is_empty() {
            *r == "*" || *r == request.resource
        } else {
            *r == "*"
                || *r == format!("{}/{}", request.resource, request.subresource)
                || *r == format!("*/{}", request.subresource)
                || *r == format!("{}/*", request.resource)
        }
    });
    let names = strings(&rule["resourceNames"]);
    let name_matches = names.is_empty() || names.iter().any(|n| *n == request.name);
    has("apiGroups", &request.group)
        && resource_matches
        && has("verbs", &request.verb)
        && name_matches
}

/// The review with its `status`, as the apiserver answers it.
pub(crate) fn answer(mut review: Value, allowed: bool, reason: &str) -> Value {
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SubjectAccessReview");
    review["status"] = if allowed {
        json!({"allowed": true, "reason": reason})
    } else {
        json!({"allowed": false})
    };
    review
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(user: &str, groups: &[&str], ns: &str, name: &str) -> Request {
        Request {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            namespace: ns.into(),
            verb: "get".into(),
            group: "example.test".into(),
            resource: "widgets".into(),
            subresource: String::new(),
            name: name.into(),
        }
    }

    fn policy() -> Policy {
        Policy {
            roles: vec![json!({"metadata": {"name": "one", "namespace": "a"},
                "rules": [{"apiGroups": ["example.test"], "resources": ["widgets"], "verbs": ["get"], "resourceNames": ["w1"]}]})],
            cluster_roles: vec![json!({"metadata": {"name": "all"},
                "rules": [{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]}]})],
            role_bindings: vec![json!({"metadata": {"name": "b", "namespace": "a"},
                "roleRef": {"kind": "Role", "name": "one"}, "subjects": [{"kind": "User", "name": "alice"}]})],
            cluster_role_bindings: vec![json!({"metadata": {"name": "c"},
                "roleRef": {"kind": "ClusterRole", "name": "all"},
                "subjects": [{"kind": "Group", "name": "ops"}, {"kind": "ServiceAccount", "namespace": "x", "name": "bot"}]})],
        }
    }

    #[test]
    fn resource_names_limit_a_role_to_its_objects() {
        let p = policy();
        assert!(decide(&p, &request("alice", &[], "a", "w1")).0);
        assert!(!decide(&p, &request("alice", &[], "a", "w2")).0);
        assert!(
            !decide(&p, &request("alice", &[], "a", "")).0,
            "a namespace-wide get needs a rule without resourceNames"
        );
        assert!(
            !decide(&p, &request("alice", &[], "b", "w1")).0,
            "a Role binds only in its namespace"
        );
        assert!(!decide(&p, &request("bob", &[], "a", "w1")).0);
    }

    #[test]
    fn groups_service_accounts_and_subresource_wildcards() {
        let p = policy();
        let mut status = request("carol", &["ops"], "a", "w1");
        status.subresource = "status".into();
        assert!(decide(&p, &status).0);
        assert!(
            !decide(&p, &request("carol", &["ops"], "a", "w1")).0,
            "*/status is not the main resource"
        );
        status.groups.clear();
        status.user = "system:serviceaccount:x:bot".into();
        assert!(decide(&p, &status).0);
        status.user = "system:serviceaccount:y:bot".into();
        assert!(!decide(&p, &status).0);
    }
}
