//! Resource registry (built-ins + CRD-defined types), discovery documents and the OpenAPI v3
//! documents `kubectl` reads to decide it may use server-side field validation.

use serde_json::{Value, json};

/// Everything the server knows about one resource type.
#[derive(Clone, Debug)]
pub(crate) struct ResourceInfo {
    pub group: String,
    /// Served versions, preferred (storage) first.
    pub versions: Vec<String>,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `/status` subresource.
    pub status: bool,
    /// Stamps and bumps `metadata.generation` (CRs and CRDs).
    pub generation: bool,
    /// PUT without `metadata.resourceVersion` is refused (custom resources).
    pub require_rv_on_update: bool,
    /// The CRD object, for custom resources.
    pub crd: Option<Value>,
    /// Only `create` is served (TokenReview, SubjectAccessReview).
    pub create_only: bool,
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    fn builtin(
        group: &str,
        version: &str,
        plural: &str,
        kind: &str,
        namespaced: bool,
        short: &[&str],
    ) -> Self {
        Self {
            group: group.into(),
            versions: vec![version.into()],
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: vec![],
            status: false,
            generation: false,
            require_rv_on_update: false,
            crd: None,
            create_only: false,
        }
    }

    /// Storage key: `plural.group` or `plural`.
    pub fn gr(&self) -> String {
        crate::status::qualified(&self.group, &self.plural)
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    fn crd_version(&self, version: &str) -> Option<&Value> {
        self.crd.as_ref()?["spec"]["versions"]
            .as_array()?
            .iter()
            .find(|v| v["name"] == version)
    }

    /// The `openAPIV3Schema` of a custom resource version.
    pub fn schema(&self, version: &str) -> Option<&Value> {
        self.crd_version(version)?
            .get("schema")?
            .get("openAPIV3Schema")
    }

    pub fn printer_columns(&self, version: &str) -> Vec<Value> {
        self.crd_version(version)
            .and_then(|v| v["additionalPrinterColumns"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Builds the info for a CRD object (assumed valid).
    pub fn from_crd(crd: &Value) -> Self {
        let spec = &crd["spec"];
        let names = &spec["names"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let served: Vec<&Value> = spec["versions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|v| v["served"].as_bool().unwrap_or(false))
                    .collect()
            })
            .unwrap_or_default();
        let mut versions: Vec<String> = served.iter().map(|v| s(&v["name"])).collect();
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        let kind = s(&names["kind"]);
        let singular = names["singular"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| kind.to_lowercase());
        Self {
            group: s(&spec["group"]),
            versions,
            plural: s(&names["plural"]),
            singular,
            kind,
            namespaced: spec["scope"] != "Cluster",
            short_names: strs(&names["shortNames"]),
            categories: strs(&names["categories"]),
            status: served
                .iter()
                .any(|v| v["subresources"]["status"].is_object()),
            generation: true,
            require_rv_on_update: true,
            crd: Some(crd.clone()),
            create_only: false,
        }
    }

    fn api_resources(&self) -> Vec<Value> {
        let verbs: &[&str] = if self.create_only {
            &["create"]
        } else {
            &VERBS
        };
        let mut r = vec![json!({
            "name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
            "kind": self.kind, "verbs": verbs, "shortNames": self.short_names, "categories": self.categories,
        })];
        if self.status {
            r.push(json!({"name": format!("{}/status", self.plural), "singularName": "", "namespaced": self.namespaced,
                "kind": self.kind, "verbs": ["get", "patch", "update"]}));
        }
        r
    }
}

/// Kubernetes version ordering: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    // A constant, valid pattern.
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^v(\d+)(?:(alpha|beta)(\d+))?$").expect("static regex")
    });
    match RE.captures(v) {
        Some(c) => {
            let major = c[1].parse().unwrap_or(0);
            let minor = c.get(3).map_or(0, |m| m.as_str().parse().unwrap_or(0));
            let level = match c.get(2).map(|m| m.as_str()) {
                None => 3,
                Some("beta") => 2,
                _ => 1,
            };
            (level, major, minor)
        }
        None => (0, 0, 0),
    }
}

/// All resource types currently served.
#[derive(Clone, Debug)]
pub(crate) struct Registry {
    pub resources: Vec<ResourceInfo>,
}

impl Registry {
    pub fn builtins() -> Self {
        let b = ResourceInfo::builtin;
        let mut crd = b(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
        );
        crd.status = true;
        crd.generation = true;
        crd.categories = vec!["api-extensions".into()];
        let mut ns = b("", "v1", "namespaces", "Namespace", false, &["ns"]);
        ns.status = true;
        let review = |group: &str, plural: &str, kind: &str| {
            let mut info = b(group, "v1", plural, kind, false, &[]);
            info.create_only = true;
            info
        };
        const RBAC: &str = "rbac.authorization.k8s.io";
        Self {
            resources: vec![
                ns,
                b("", "v1", "secrets", "Secret", true, &[]),
                b("", "v1", "configmaps", "ConfigMap", true, &["cm"]),
                b("", "v1", "events", "Event", true, &["ev"]),
                b("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"]),
                b("events.k8s.io", "v1", "events", "Event", true, &["ev"]),
                b("coordination.k8s.io", "v1", "leases", "Lease", true, &[]),
                b(RBAC, "v1", "roles", "Role", true, &[]),
                b(RBAC, "v1", "rolebindings", "RoleBinding", true, &[]),
                b(RBAC, "v1", "clusterroles", "ClusterRole", false, &[]),
                b(
                    RBAC,
                    "v1",
                    "clusterrolebindings",
                    "ClusterRoleBinding",
                    false,
                    &[],
                ),
                review("authentication.k8s.io", "tokenreviews", "TokenReview"),
                review(
                    "authorization.k8s.io",
                    "subjectaccessreviews",
                    "SubjectAccessReview",
                ),
                crd,
            ],
        }
    }

    /// Finds a resource by group, version and plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources.iter().find(|r| {
            r.group == group && r.plural == plural && r.versions.iter().any(|v| v == version)
        })
    }

    pub fn set_crd(&mut self, crd: &Value) {
        let info = ResourceInfo::from_crd(crd);
        self.remove_crd(&info.group, &info.plural);
        self.resources.push(info);
    }

    pub fn remove_crd(&mut self, group: &str, plural: &str) {
        self.resources
            .retain(|r| !(r.crd.is_some() && r.group == group && r.plural == plural));
    }

    /// Group names with their versions, preferred first; the core group is "".
    fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            let entry = match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some(e) => e,
                None => {
                    out.push((r.group.clone(), vec![]));
                    // Pushed on the line above.
                    out.last_mut().expect("just pushed")
                }
            };
            for v in &r.versions {
                if !entry.1.contains(v) {
                    entry.1.push(v.clone());
                }
            }
        }
        for (_, vs) in &mut out {
            vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }

    pub fn api_versions(&self, addr: &str) -> Value {
        json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
    }

    pub fn api_group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .into_iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                    .collect();
                json!({"name": g, "versions": versions, "preferredVersion": versions[0].clone()})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    pub fn api_group(&self, group: &str) -> Option<Value> {
        let list = self.api_group_list();
        let g = list["groups"]
            .as_array()?
            .iter()
            .find(|g| g["name"] == group)?
            .clone();
        let mut g = g;
        g["kind"] = json!("APIGroup");
        g["apiVersion"] = json!("v1");
        Some(g)
    }

    /// `APIResourceList` for one group/version, or None if nothing is served there.
    pub fn api_resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let resources: Vec<Value> = self
            .resources
            .iter()
            .filter(|r| r.group == group && r.versions.iter().any(|v| v == version))
            .flat_map(|r| r.api_resources())
            .collect();
        if resources.is_empty() {
            return None;
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        )
    }

    /// `/openapi/v3`: one entry per group/version.
    pub fn openapi_v3_root(&self, generation: u64) -> Value {
        let mut paths = serde_json::Map::new();
        for (g, vs) in self.groups() {
            for v in vs {
                let p = if g.is_empty() {
                    format!("api/{v}")
                } else {
                    format!("apis/{g}/{v}")
                };
                paths.insert(
                    p.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={generation:016X}")}),
                );
            }
        }
        json!({"paths": paths})
    }

    /// `/openapi/v3/apis/{g}/{v}`: a PATCH operation per kind carrying the `fieldValidation`
    /// parameter (kubectl then validates on the server), and the CRD schemas as components.
    /// Strategic merge patch is deliberately not advertised (kubectl then builds merge patches
    /// for custom resources and its compiled-in strategic patches for built-ins).
    pub fn openapi_v3_group_version(&self, group: &str, version: &str) -> Option<Value> {
        let mut paths = serde_json::Map::new();
        let mut schemas = serde_json::Map::new();
        for r in self
            .resources
            .iter()
            .filter(|r| r.group == group && r.versions.iter().any(|v| v == version))
        {
            let prefix = if group.is_empty() {
                format!("/api/{version}")
            } else {
                format!("/apis/{group}/{version}")
            };
            let ns = if r.namespaced {
                "/namespaces/{namespace}"
            } else {
                ""
            };
            let gvk = json!({"group": group, "version": version, "kind": r.kind});
            let params = json!([
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}},
            ]);
            let body = json!({"content": {
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
                "application/apply-patch+yaml": {"schema": {"type": "object"}},
            }});
            let op = json!({"operationId": format!("patch{}", r.kind), "parameters": params, "requestBody": body,
                "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}}});
            paths.insert(
                format!("{prefix}{ns}/{}/{{name}}", r.plural),
                json!({"patch": op}),
            );
            let name = format!(
                "{}.{version}.{}",
                if group.is_empty() {
                    "io.k8s.api.core"
                } else {
                    group
                },
                r.kind
            );
            let mut schema = r
                .schema(version)
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"}));
            schema["x-kubernetes-group-version-kind"] = json!([gvk]);
            schemas.insert(name, schema);
        }
        if paths.is_empty() {
            return None;
        }
        Some(
            json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}),
        )
    }
}

pub(crate) fn version_info() -> Value {
    json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-kube-test-server", "gitCommit": "0000000",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
        "compiler": "gc", "platform": "linux/amd64"})
}
