//! The object store: one global, monotonic resourceVersion; a bounded event history for
//! watches; create/get/list/update/patch/delete with the apiserver's semantics (status
//! subresource, generation, no-op writes, finalizers, garbage collection, CRD registration).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::discovery::{Registry, ResourceInfo};
use crate::patch::{self, PatchType, Schema};
use crate::select::Selector;
use crate::status::{ApiError, Cause, qualified};
use crate::validation;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// A change, as retained in the history and broadcast to watches.
#[derive(Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub gr: String,
    pub ty: EventType,
    pub object: Value,
    /// Previous state for MODIFIED (selector transitions turn into ADDED/DELETED).
    pub old: Option<Value>,
}

/// What a request addresses.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub info: ResourceInfo,
    pub version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Target {
    fn key(&self) -> (String, String) {
        (
            self.namespace.clone().unwrap_or_default(),
            self.name.clone().unwrap_or_default(),
        )
    }
    fn status_write(&self) -> bool {
        self.subresource.as_deref() == Some("status")
    }
    fn not_found(&self) -> ApiError {
        ApiError::not_found(
            &self.info.group,
            &self.info.plural,
            self.name.as_deref().unwrap_or_default(),
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

#[derive(Clone, Debug)]
pub(crate) struct WriteOpts {
    pub manager: String,
    pub explicit_manager: bool,
    pub force: bool,
    pub dry_run: bool,
    pub validation: FieldValidation,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct DeleteOpts {
    pub propagation: Option<String>,
    /// The deprecated `orphanDependents` option as sent (only `Some(false)` changes the reply).
    pub orphan_dependents: Option<bool>,
    pub precondition_rv: Option<String>,
    pub precondition_uid: Option<String>,
    pub dry_run: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ListOpts {
    pub selector: Selector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

enum Managed {
    Update,
    Applied,
}

type Objects = BTreeMap<(String, String), Value>;

pub(crate) struct State {
    pub rv: u64,
    pub registry: Registry,
    pub registry_generation: u64,
    objects: BTreeMap<String, Objects>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted_rv: u64,
    pub tx: broadcast::Sender<Arc<Event>>,
}

fn remove_key(v: &mut Value, key: &str) {
    if let Some(m) = v.as_object_mut() {
        m.remove(key);
    }
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn meta_str<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o["metadata"][k].as_str()
}

fn finalizers_empty(o: &Value) -> bool {
    o["metadata"]["finalizers"]
        .as_array()
        .is_none_or(Vec::is_empty)
}

/// The object without metadata (and without status when it is a subresource).
fn spec_part(o: &Value, status_sub: bool) -> Value {
    let mut v = o.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if status_sub {
            m.remove("status");
        }
    }
    v
}

impl State {
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(4096);
        let mut s = Self {
            rv: 0,
            registry: Registry::builtins(),
            registry_generation: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit,
            compacted_rv: 0,
            tx,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let info = s
                .registry
                .find("", "v1", "namespaces")
                .cloned()
                // Registry::builtins() always has namespaces.
                .expect("built-in");
            let t = Target {
                info,
                version: "v1".into(),
                namespace: None,
                name: None,
                subresource: None,
            };
            let opts = WriteOpts {
                manager: "kube-apiserver".into(),
                explicit_manager: true,
                force: false,
                dry_run: false,
                validation: FieldValidation::Ignore,
            };
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            // A fixed, valid Namespace into an empty store cannot be refused.
            s.create(&t, body, &opts).expect("seeding namespaces");
        }
        s
    }

    fn info_for_gr(&self, gr: &str) -> Option<ResourceInfo> {
        self.registry
            .resources
            .iter()
            .find(|r| r.gr() == gr)
            .cloned()
    }

    fn emit(&mut self, gr: &str, ty: EventType, object: Value, old: Option<Value>) {
        let ev = Arc::new(Event {
            rv: self.rv,
            gr: gr.into(),
            ty,
            object,
            old,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > self.history_limit {
            if let Some(e) = self.history.pop_front() {
                self.compacted_rv = e.rv;
            }
        }
        let _ = self.tx.send(ev); // no receivers is fine
    }

    /// Forgets the event history: any watch from an older resourceVersion gets 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_rv = self.rv;
    }

    /// Sets apiVersion to the version the client asked for.
    pub fn present(info: &ResourceInfo, version: &str, obj: &Value) -> Value {
        let mut o = obj.clone();
        o["apiVersion"] = json!(info.api_version(version));
        o["kind"] = json!(info.kind);
        o
    }

    pub fn get(&self, t: &Target) -> Result<Value, ApiError> {
        self.objects
            .get(&t.info.gr())
            .and_then(|m| m.get(&t.key()))
            .map(|o| Self::present(&t.info, &t.version, o))
            .ok_or_else(|| t.not_found())
    }

    /// Every stored object of a resource (`plural.group`), e.g. for the RBAC evaluator.
    pub fn all_of(&self, gr: &str) -> Vec<Value> {
        self.objects
            .get(gr)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Items of one page plus the list metadata.
    pub fn list(&self, t: &Target, o: &ListOpts) -> Result<(Vec<Value>, Value), ApiError> {
        let (list_rv, after) = match &o.continue_token {
            Some(tok) => {
                let (rv, key) = tok
                    .split_once(':')
                    .ok_or_else(|| ApiError::bad_request("continue key is not valid"))?;
                let (ns, name) = key.split_once('/').unwrap_or(("", key));
                (
                    rv.parse().unwrap_or(self.rv),
                    Some((ns.to_string(), name.to_string())),
                )
            }
            None => (self.rv, None),
        };
        let empty = Objects::new();
        let all = self.objects.get(&t.info.gr()).unwrap_or(&empty);
        let mut matching = all
            .iter()
            .filter(|((ns, _), _)| t.namespace.as_ref().is_none_or(|want| want == ns))
            .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
            .filter(|(_, v)| o.selector.matches(v));
        let limit = o.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut last = None;
        for (k, v) in matching.by_ref().take(limit) {
            items.push(Self::present(&t.info, &t.version, v));
            last = Some(k.clone());
        }
        let remaining = matching.count();
        let mut meta = json!({"resourceVersion": list_rv.to_string()});
        if remaining > 0
            && let Some((ns, name)) = last
        {
            meta["continue"] = json!(format!("{list_rv}:{ns}/{name}"));
            meta["remainingItemCount"] = json!(remaining);
        }
        Ok((items, meta))
    }

    /// Events for a new watch (history after `from`, or synthetic ADDED for all objects when
    /// `from` is None) and a receiver for what follows, taken atomically.
    #[allow(clippy::type_complexity)]
    pub fn watch_begin(
        &self,
        t: &Target,
        from: Option<u64>,
    ) -> Result<(Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>), ApiError> {
        let gr = t.info.gr();
        let initial = match from {
            Some(r) if r < self.compacted_rv => {
                return Err(ApiError::gone(format!(
                    "too old resource version: {r} ({})",
                    self.compacted_rv + 1
                )));
            }
            Some(r) => self
                .history
                .iter()
                .filter(|e| e.rv > r && e.gr == gr)
                .cloned()
                .collect(),
            None => self
                .objects
                .get(&gr)
                .into_iter()
                .flat_map(|m| m.values())
                .map(|o| {
                    let rv = meta_str(o, "resourceVersion")
                        .and_then(|r| r.parse().ok())
                        .unwrap_or(0);
                    Arc::new(Event {
                        rv,
                        gr: gr.clone(),
                        ty: EventType::Added,
                        object: o.clone(),
                        old: None,
                    })
                })
                .collect(),
        };
        Ok((initial, self.tx.subscribe()))
    }

    // -----------------------------------------------------------------------------------------
    // writes

    pub fn create(
        &mut self,
        t: &Target,
        body: Value,
        o: &WriteOpts,
    ) -> Result<(Value, Vec<String>), ApiError> {
        self.create_inner(t, body, o, Managed::Update)
    }

    fn create_inner(
        &mut self,
        t: &Target,
        mut obj: Value,
        o: &WriteOpts,
        managed: Managed,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let info = &t.info;
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be an object",
            ));
        }
        check_type(info, &t.version, &obj)?;
        let ns = if info.namespaced {
            let ns = t.namespace.clone().ok_or_else(|| {
                ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                )
            })?;
            if let Some(body_ns) = meta_str(&obj, "namespace").filter(|n| !n.is_empty())
                && body_ns != ns
            {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            match self
                .objects
                .get("namespaces")
                .and_then(|m| m.get(&(String::new(), ns.clone())))
            {
                None => return Err(ApiError::not_found("", "namespaces", &ns)),
                Some(n) if n["metadata"]["deletionTimestamp"].is_string() => {
                    return Err(ApiError::new(
                        403,
                        "Forbidden",
                        format!(
                            "unable to create new content in namespace {ns} because it is being terminated"
                        ),
                    ));
                }
                _ => {}
            }
            Some(ns)
        } else {
            None
        };
        if obj["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            match meta_str(&obj, "generateName") {
                Some(prefix) => {
                    let suffix: String = uuid::Uuid::new_v4()
                        .simple()
                        .to_string()
                        .chars()
                        .take(5)
                        .collect();
                    obj["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
                }
                None => {
                    let cause = Cause {
                        reason: "FieldValueRequired",
                        field: "metadata.name".into(),
                        message: "Required value: name or generateName is required".into(),
                    };
                    return Err(ApiError::invalid(&info.group, &info.kind, "", vec![cause]));
                }
            }
        }
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        if let Some(msg) = validation::check_name(&name, info.plural == "namespaces") {
            let cause = Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: format!("Invalid value: \"{name}\": {msg}"),
            };
            return Err(ApiError::invalid(
                &info.group,
                &info.kind,
                &name,
                vec![cause],
            ));
        }
        let key = (ns.clone().unwrap_or_default(), name.clone());
        if self
            .objects
            .get(&info.gr())
            .is_some_and(|m| m.contains_key(&key))
        {
            return Err(ApiError::already_exists(&info.group, &info.plural, &name));
        }
        let meta = obj["metadata"]
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        for k in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(k);
        }
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now()));
        match &ns {
            Some(ns) => meta.insert("namespace".into(), json!(ns)),
            None => meta.remove("namespace"),
        };
        if info.generation {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        if info.status {
            remove_key(&mut obj, "status");
        }
        if info.plural == "namespaces" {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        obj["apiVersion"] = json!(info.api_version(&t.version));
        obj["kind"] = json!(info.kind);
        let warnings = self.admit(t, None, &mut obj, o)?;
        if let Managed::Update = managed {
            let schema = info.schema(&t.version);
            let entries = patch::record_update(
                vec![],
                None,
                &obj,
                &writer(o, None, info, &t.version, schema),
            );
            obj["metadata"]["managedFields"] = patch::render_managed(&entries);
        }
        if o.dry_run {
            return Ok((obj, warnings));
        }
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects
            .entry(info.gr())
            .or_default()
            .insert(key, obj.clone());
        self.emit(&info.gr(), EventType::Added, obj.clone(), None);
        self.after_write(info, &obj);
        self.mirror_event(info, &obj, EventType::Added);
        Ok((Self::present(info, &t.version, &obj), warnings))
    }

    /// PUT.
    pub fn update(
        &mut self,
        t: &Target,
        body: Value,
        o: &WriteOpts,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let info = &t.info;
        let name = t.name.clone().unwrap_or_default();
        if let Some(n) = meta_str(&body, "name")
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        check_type(info, &t.version, &body)?;
        let old = self
            .objects
            .get(&info.gr())
            .and_then(|m| m.get(&t.key()))
            .cloned()
            .ok_or_else(|| t.not_found())?;
        if info.require_rv_on_update && meta_str(&body, "resourceVersion").is_none() {
            let cause = Cause {
                reason: "FieldValueInvalid",
                field: "metadata.resourceVersion".into(),
                message: "Invalid value: 0x0: must be specified for an update".into(),
            };
            return Err(ApiError::invalid(
                &info.group,
                &info.kind,
                &name,
                vec![cause],
            ));
        }
        self.commit(t, old, body, o, Managed::Update)
    }

    /// PATCH of any type; server-side apply creates the object when absent.
    pub fn patch(
        &mut self,
        t: &Target,
        pt: PatchType,
        body: &[u8],
        o: &WriteOpts,
    ) -> Result<(Value, bool, Vec<String>), ApiError> {
        let info = &t.info;
        let name = t.name.clone().unwrap_or_default();
        let old = self
            .objects
            .get(&info.gr())
            .and_then(|m| m.get(&t.key()))
            .cloned();
        if let PatchType::Apply = pt {
            if !o.explicit_manager {
                return Err(ApiError::bad_request(
                    "PATCH with apply content type requires a fieldManager",
                ));
            }
            let mut applied = parse_apply(body)?;
            check_type(info, &t.version, &applied)?;
            if applied["apiVersion"].is_null() || applied["kind"].is_null() {
                return Err(ApiError::bad_request(
                    "invalid object type: apiVersion and kind are required for apply",
                ));
            }
            match meta_str(&applied, "name") {
                Some(n) if n != name => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({n}) does not match the name on the URL ({name})"
                    )));
                }
                _ => {}
            }
            if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
                m.remove("creationTimestamp");
                m.remove("uid");
            }
            let obj = applied
                .as_object_mut()
                .ok_or_else(|| ApiError::bad_request("apply body must be an object"))?;
            if t.status_write() {
                obj.retain(|k, _| {
                    matches!(k.as_str(), "apiVersion" | "kind" | "status" | "metadata")
                });
                if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.retain(|k, _| k == "name" || k == "namespace" || k == "resourceVersion");
                }
            } else if info.status {
                obj.remove("status");
            }
            let schema = info.schema(&t.version);
            let av = info.api_version(&t.version);
            let sub = t.subresource.as_deref();
            return match old {
                None if t.status_write() => Err(t.not_found()),
                None => {
                    let mut base =
                        json!({"apiVersion": av, "kind": info.kind, "metadata": {"name": name}});
                    if let Some(ns) = &t.namespace {
                        base["metadata"]["namespace"] = json!(ns);
                    }
                    let merged = patch::apply(
                        &base,
                        &applied,
                        o.force,
                        &writer(o, sub, info, &t.version, schema),
                    )?;
                    let (obj, w) = self.create_inner(t, merged, o, Managed::Applied)?;
                    Ok((obj, true, w))
                }
                Some(old) => {
                    let merged = patch::apply(
                        &old,
                        &applied,
                        o.force,
                        &writer(o, sub, info, &t.version, schema),
                    )?;
                    let (obj, w) = self.commit(t, old, merged, o, Managed::Applied)?;
                    Ok((obj, false, w))
                }
            };
        }
        let old = old.ok_or_else(|| t.not_found())?;
        if matches!(pt, PatchType::Strategic) && info.crd.is_some() {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let new = patch::apply_patch(&pt, &Self::present(info, &t.version, &old), body)?;
        let (obj, w) = self.commit(t, old, new, o, Managed::Update)?;
        Ok((obj, false, w))
    }

    /// Shared tail of update/patch/apply: subresource rules, preconditions, admission,
    /// managedFields, generation, no-op detection, finalizer completion.
    fn commit(
        &mut self,
        t: &Target,
        old: Value,
        mut new: Value,
        o: &WriteOpts,
        managed: Managed,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let info = &t.info;
        let name = t.name.clone().unwrap_or_default();
        if !new.is_object() || !new["metadata"].is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be an object with metadata",
            ));
        }
        if let Some(rv) = meta_str(&new, "resourceVersion")
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(&info.group, &info.plural, &name));
        }
        if t.status_write() {
            let mut merged = old.clone();
            match new.get("status") {
                Some(s) => merged["status"] = s.clone(),
                None => {
                    remove_key(&mut merged, "status");
                }
            }
            merged["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
            new = merged;
        } else if info.status {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    remove_key(&mut new, "status");
                }
            }
        }
        for k in [
            "uid",
            "creationTimestamp",
            "namespace",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
            "name",
        ] {
            match old["metadata"].get(k) {
                Some(v) => new["metadata"][k] = v.clone(),
                None => {
                    remove_key(&mut new["metadata"], k);
                }
            }
        }
        if old["metadata"]["deletionTimestamp"].is_string() {
            let old_f = old["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let added = new["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| !old_f.contains(x)));
            if added {
                let cause = Cause {
                    reason: "FieldValueForbidden",
                    field: "metadata.finalizers".into(),
                    message:
                        "Forbidden: no new finalizers can be added if the object is being deleted"
                            .into(),
                };
                return Err(ApiError::invalid(
                    &info.group,
                    &info.kind,
                    &name,
                    vec![cause],
                ));
            }
        }
        new["apiVersion"] = json!(info.api_version(&t.version));
        new["kind"] = json!(info.kind);
        let warnings = self.admit(t, Some(&old), &mut new, o)?;
        if let Managed::Update = managed {
            let schema = info.schema(&t.version);
            let client_set = new["metadata"]
                .get("managedFields")
                .filter(|m| *m != &old["metadata"]["managedFields"])
                .cloned();
            let base = match client_set {
                Some(m) => patch::parse_managed(&json!({"metadata": {"managedFields": m}})),
                None => patch::parse_managed(&old),
            };
            let entries = patch::record_update(
                base,
                Some(&old),
                &new,
                &writer(o, t.subresource.as_deref(), info, &t.version, schema),
            );
            new["metadata"]["managedFields"] = patch::render_managed(&entries);
        }
        if info.generation && spec_part(&old, info.status) != spec_part(&new, info.status) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
            new["metadata"]["generation"] = json!(g + 1);
        }
        if new == old || o.dry_run {
            return Ok((Self::present(info, &t.version, &new), warnings));
        }
        if new["metadata"]["deletionTimestamp"].is_string() && finalizers_empty(&new) {
            let removed = self.remove(info, &t.key(), false);
            return Ok((Self::present(info, &t.version, &removed), warnings));
        }
        self.rv += 1;
        new["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects
            .entry(info.gr())
            .or_default()
            .insert(t.key(), new.clone());
        self.emit(&info.gr(), EventType::Modified, new.clone(), Some(old));
        self.after_write(info, &new);
        self.mirror_event(info, &new, EventType::Modified);
        Ok((Self::present(info, &t.version, &new), warnings))
    }

    /// Validation and defaulting (custom resources), CRD checks and status.
    fn admit(
        &mut self,
        t: &Target,
        old: Option<&Value>,
        obj: &mut Value,
        o: &WriteOpts,
    ) -> Result<Vec<String>, ApiError> {
        let info = &t.info;
        let name = meta_str(obj, "name").unwrap_or_default().to_string();
        let mut warnings = vec![];
        if info.plural == "customresourcedefinitions" && info.group == "apiextensions.k8s.io" {
            admit_crd(obj, old, &name)?;
            return Ok(warnings);
        }
        if info.plural == "secrets" && info.group.is_empty() {
            normalize_secret(obj);
        }
        let Some(schema) = info.schema(&t.version) else {
            return Ok(warnings);
        };
        let outcome = validation::prune_default_validate(schema, obj);
        if !outcome.unknown.is_empty() {
            let list: Vec<String> = outcome
                .unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            match o.validation {
                FieldValidation::Strict => {
                    return Err(ApiError::bad_request(format!(
                        "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
                        list.join(", "),
                        kind = info.kind,
                        v = t.version
                    )));
                }
                FieldValidation::Warn => warnings = list,
                FieldValidation::Ignore => {}
            }
        }
        let mut causes = outcome.causes;
        // CEL rules run alongside schema errors, as in the apiserver, unless a type is wrong
        // (the rules would then fail to evaluate rather than say something useful).
        if !causes.iter().any(|c| c.reason == "FieldValueTypeInvalid") {
            let old_view = old.map(|o| Self::present(info, &t.version, o));
            causes.extend(validation::cel(
                schema,
                obj,
                old_view.as_ref(),
                &info.api_version(&t.version),
                &info.group,
                &info.kind,
            ));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&info.group, &info.kind, &name, causes));
        }
        Ok(warnings)
    }

    /// Side effects of a stored write: CRDs (re)register their resource.
    fn after_write(&mut self, info: &ResourceInfo, obj: &Value) {
        if info.plural == "customresourcedefinitions"
            && info.group == "apiextensions.k8s.io"
            && obj["metadata"]["deletionTimestamp"].is_null()
        {
            self.registry.set_crd(obj);
            self.registry_generation += 1;
        }
    }

    pub fn delete(&mut self, t: &Target, d: &DeleteOpts) -> Result<Value, ApiError> {
        let info = &t.info;
        let key = t.key();
        let obj = self
            .objects
            .get(&info.gr())
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| t.not_found())?;
        let name = key.1.clone();
        if d.precondition_rv
            .as_deref()
            .is_some_and(|rv| Some(rv) != meta_str(&obj, "resourceVersion"))
            || d.precondition_uid
                .as_deref()
                .is_some_and(|u| Some(u) != meta_str(&obj, "uid"))
        {
            return Err(ApiError::conflict(&info.group, &info.plural, &name));
        }
        if d.dry_run {
            return Ok(Self::present(info, &t.version, &obj));
        }
        let orphan = d.propagation.as_deref() == Some("Orphan");
        if !finalizers_empty(&obj) {
            if obj["metadata"]["deletionTimestamp"].is_string() {
                return Ok(Self::present(info, &t.version, &obj));
            }
            let mut new = obj.clone();
            new["metadata"]["deletionTimestamp"] = json!(now());
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if info.generation {
                new["metadata"]["generation"] =
                    json!(obj["metadata"]["generation"].as_i64().unwrap_or(0) + 1);
            }
            self.rv += 1;
            new["metadata"]["resourceVersion"] = json!(self.rv.to_string());
            self.objects
                .entry(info.gr())
                .or_default()
                .insert(key, new.clone());
            self.emit(&info.gr(), EventType::Modified, new.clone(), Some(obj));
            self.mirror_event(info, &new, EventType::Modified);
            return Ok(Self::present(info, &t.version, &new));
        }
        Ok(Self::present(
            info,
            &t.version,
            &self.remove(info, &key, orphan),
        ))
    }

    pub fn delete_collection(
        &mut self,
        t: &Target,
        o: &ListOpts,
        d: &DeleteOpts,
    ) -> Result<Vec<Value>, ApiError> {
        let (items, _) = self.list(
            t,
            &ListOpts {
                limit: None,
                continue_token: None,
                ..o.clone()
            },
        )?;
        let mut out = vec![];
        for item in items {
            let mut one = t.clone();
            one.namespace = meta_str(&item, "namespace").map(String::from);
            one.name = meta_str(&item, "name").map(String::from);
            out.push(self.delete(&one, d)?);
        }
        Ok(out)
    }

    /// Removes an object for good, then cascades: CRD instances, namespace contents, dependents.
    fn remove(&mut self, info: &ResourceInfo, key: &(String, String), orphan: bool) -> Value {
        let gr = info.gr();
        let Some(mut obj) = self.objects.get_mut(&gr).and_then(|m| m.remove(key)) else {
            return Value::Null;
        };
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.emit(&gr, EventType::Deleted, obj.clone(), None);
        self.mirror_event(info, &obj, EventType::Deleted);
        if info.plural == "customresourcedefinitions" && info.group == "apiextensions.k8s.io" {
            let (g, p) = (
                obj["spec"]["group"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                obj["spec"]["names"]["plural"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            if let Some(cr_info) = self.info_for_gr(&qualified(&g, &p)) {
                let keys: Vec<_> = self
                    .objects
                    .get(&cr_info.gr())
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                for k in keys {
                    self.remove(&cr_info, &k, false);
                }
            }
            self.registry.remove_crd(&g, &p);
            self.registry_generation += 1;
        }
        if info.plural == "namespaces" && info.group.is_empty() {
            let ns = key.1.clone();
            let grs: Vec<String> = self.objects.keys().cloned().collect();
            for gr in grs {
                let Some(i) = self.info_for_gr(&gr) else {
                    continue;
                };
                let keys: Vec<_> = self.objects[&gr]
                    .keys()
                    .filter(|(n, _)| *n == ns)
                    .cloned()
                    .collect();
                for k in keys {
                    self.remove(&i, &k, false);
                }
            }
        }
        self.collect_dependents(
            meta_str(&obj, "uid").unwrap_or_default().to_string(),
            orphan,
        );
        obj
    }

    /// Garbage collection (background): dependents whose owners are all gone are deleted;
    /// with Orphan propagation the owner reference is removed instead.
    fn collect_dependents(&mut self, uid: String, orphan: bool) {
        let mut dependents = vec![];
        for (gr, objs) in &self.objects {
            for (k, o) in objs {
                if o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid.as_str()))
                {
                    dependents.push((gr.clone(), k.clone()));
                }
            }
        }
        for (gr, key) in dependents {
            let Some(info) = self.info_for_gr(&gr) else {
                continue;
            };
            let Some(old) = self.objects.get(&gr).and_then(|m| m.get(&key)).cloned() else {
                continue;
            };
            let refs = old["metadata"]["ownerReferences"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let live_owner = refs.iter().any(|r| {
                r["uid"] != uid.as_str() && self.uid_exists(r["uid"].as_str().unwrap_or_default())
            });
            let t = Target {
                info: info.clone(),
                version: info.versions[0].clone(),
                namespace: Some(key.0.clone()).filter(|n| !n.is_empty()),
                name: Some(key.1.clone()),
                subresource: None,
            };
            if orphan || live_owner {
                let mut new = old.clone();
                let kept: Vec<Value> = refs
                    .into_iter()
                    .filter(|r| r["uid"] != uid.as_str())
                    .collect();
                // The garbage collector patches the reference away; an empty list is
                // omitted, as the apiserver never serves `ownerReferences: []`.
                if kept.is_empty() {
                    remove_key(&mut new["metadata"], "ownerReferences");
                } else {
                    new["metadata"]["ownerReferences"] = json!(kept);
                }
                let opts = WriteOpts {
                    manager: "kube-controller-manager".into(),
                    explicit_manager: true,
                    force: false,
                    dry_run: false,
                    validation: FieldValidation::Ignore,
                };
                let _ = self.commit(&t, old, new, &opts, Managed::Update);
            } else {
                let _ = self.delete(&t, &DeleteOpts::default());
            }
        }
    }

    /// core/v1 and events.k8s.io/v1 Events are two views of one store in the real apiserver:
    /// every write to one is mirrored (same name, uid and resourceVersion) into the other.
    fn mirror_event(&mut self, info: &ResourceInfo, obj: &Value, ty: EventType) {
        let (other_gr, converted) = match (info.group.as_str(), info.plural.as_str()) {
            ("", "events") => ("events.events.k8s.io", events::core_to_new(obj)),
            ("events.k8s.io", "events") => ("events", events::new_to_core(obj)),
            _ => return,
        };
        let key = (
            meta_str(obj, "namespace").unwrap_or_default().to_string(),
            meta_str(obj, "name").unwrap_or_default().to_string(),
        );
        let objs = self.objects.entry(other_gr.to_string()).or_default();
        let old = if ty == EventType::Deleted {
            objs.remove(&key)
        } else {
            objs.insert(key, converted.clone())
        };
        let ty = if ty == EventType::Deleted || old.is_some() {
            ty
        } else {
            EventType::Added
        };
        self.emit(
            other_gr,
            ty,
            converted,
            old.filter(|_| ty == EventType::Modified),
        );
    }

    fn uid_exists(&self, uid: &str) -> bool {
        self.objects
            .values()
            .flat_map(|m| m.values())
            .any(|o| o["metadata"]["uid"] == uid)
    }
}

/// The apiserver's conversion between core/v1 and events.k8s.io/v1 Events (k8s.io/kubernetes
/// pkg/apis/events/v1/conversion.go): a field-for-field rename, nothing derived. In particular
/// `series` stays `series` (it is not folded into `count`/`lastTimestamp`), and an
/// events.k8s.io Event has no `source`/`firstTimestamp`/`count` in its core/v1 form; kubectl
/// describe reads `series`, `eventTime` and `reportingComponent` for those.
mod events {
    use serde_json::{Map, Value};

    /// (events.k8s.io/v1 field, core/v1 field) pairs that map one to one.
    const PAIRS: [(&str, &str); 11] = [
        ("regarding", "involvedObject"),
        ("related", "related"),
        ("note", "message"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("eventTime", "eventTime"),
        ("series", "series"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
        ("deprecatedSource", "source"),
    ];
    const DEPRECATED: [(&str, &str); 3] = [
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
    ];

    fn convert(obj: &Value, api_version: &str, to_core: bool) -> Value {
        let mut out = Map::new();
        out.insert("apiVersion".into(), api_version.into());
        out.insert("kind".into(), "Event".into());
        out.insert("metadata".into(), obj["metadata"].clone());
        for (new, core) in PAIRS.iter().chain(DEPRECATED.iter()) {
            let (from, to) = if to_core { (new, core) } else { (core, new) };
            if let Some(v) = obj.get(*from).filter(|v| !v.is_null()) {
                out.insert((*to).into(), v.clone());
            }
        }
        Value::Object(out)
    }
    pub fn new_to_core(obj: &Value) -> Value {
        convert(obj, "v1", true)
    }
    pub fn core_to_new(obj: &Value) -> Value {
        convert(obj, "events.k8s.io/v1", false)
    }
}

fn writer<'a>(
    o: &'a WriteOpts,
    sub: Option<&'a str>,
    info: &ResourceInfo,
    version: &str,
    schema: Option<&'a Value>,
) -> patch::Writer<'a> {
    patch::Writer {
        manager: &o.manager,
        subresource: sub,
        api_version: info.api_version(version),
        now: now(),
        schema: Schema(schema),
    }
}

fn check_type(info: &ResourceInfo, version: &str, obj: &Value) -> Result<(), ApiError> {
    let want = info.api_version(version);
    let av_ok = obj["apiVersion"].as_str().is_none_or(|a| {
        a == want || (info.crd.is_some() && info.versions.iter().any(|v| info.api_version(v) == a))
    });
    let kind_ok = obj["kind"].as_str().is_none_or(|k| k == info.kind);
    if av_ok && kind_ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({want})",
            obj["apiVersion"].as_str().unwrap_or_default()
        )))
    }
}

/// `stringData` is write-only: merged into `data` (base64); `type` defaults to Opaque.
fn normalize_secret(obj: &mut Value) {
    use base64::Engine;
    if let Some(Value::Object(sd)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
        for (k, v) in sd {
            let enc =
                base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default());
            obj["data"][k] = json!(enc);
        }
    }
    if obj["type"].as_str().is_none_or(str::is_empty) {
        obj["type"] = json!("Opaque");
    }
}

fn parse_apply(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .or_else(|_| serde_saphyr::from_slice::<Value>(body).map_err(|e| e.to_string()))
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// Minimal CRD admission: names consistent, a storage version; status set as the apiextensions
/// controllers would (NamesAccepted, Established, acceptedNames, storedVersions).
fn admit_crd(obj: &mut Value, old: Option<&Value>, name: &str) -> Result<(), ApiError> {
    let spec = &obj["spec"];
    let (group, plural, kind) = (
        spec["group"].as_str().unwrap_or_default(),
        spec["names"]["plural"].as_str().unwrap_or_default(),
        spec["names"]["kind"].as_str().unwrap_or_default(),
    );
    let mut causes = vec![];
    let mut req = |field: &str, ok: bool| {
        if !ok {
            causes.push(Cause {
                reason: "FieldValueRequired",
                field: field.into(),
                message: "Required value".into(),
            });
        }
    };
    req("spec.group", !group.is_empty());
    req("spec.names.plural", !plural.is_empty());
    req("spec.names.kind", !kind.is_empty());
    req("spec.scope", spec["scope"].is_string());
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    req("spec.versions", !versions.is_empty());
    if causes.is_empty() && name != format!("{plural}.{group}") {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            field: "metadata.name".into(),
            message: format!(
                "Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
            ),
        });
    }
    let storage: Vec<&Value> = versions.iter().filter(|v| v["storage"] == true).collect();
    if !versions.is_empty() && storage.len() != 1 {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            field: "spec.versions".into(),
            message: format!(
                "Invalid value: {:?}: must have exactly one version marked as storage version",
                storage.len()
            ),
        });
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            name,
            causes,
        ));
    }
    let mut names = spec["names"].clone();
    if names["singular"].is_null() {
        names["singular"] = json!(kind.to_lowercase());
    }
    if names["listKind"].is_null() {
        names["listKind"] = json!(format!("{kind}List"));
    }
    let ts = old
        .and_then(|o| {
            o["status"]["conditions"][0]["lastTransitionTime"]
                .as_str()
                .map(String::from)
        })
        .unwrap_or_else(now);
    let mut stored: Vec<Value> = old
        .and_then(|o| o["status"]["storedVersions"].as_array().cloned())
        .unwrap_or_default();
    let sv = storage[0]["name"].clone();
    if !stored.contains(&sv) {
        stored.push(sv);
    }
    obj["spec"]["names"] = names.clone();
    obj["status"] = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": ts},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": ts},
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    });
    Ok(())
}
