//! Patch types and server-side apply with field ownership (`metadata.managedFields`).
//!
//! Field sets are sets of paths. A path element is a field name, a list-map element key
//! (`k:{"type":"Ready"}`) or a set element value (`v:"x"`). Lists are atomic unless the CRD schema
//! says `x-kubernetes-list-type: map|set` (and `metadata.ownerReferences`/`finalizers`).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::status::{ApiError, Cause};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pe {
    F(String),
    K(String),
    V(String),
}
pub(crate) type Path = Vec<Pe>;
pub(crate) type FieldSet = BTreeSet<Path>;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// Answers "what kind of list lives at this path" from a CRD schema (or none for built-ins).
pub(crate) struct Schema<'a>(pub Option<&'a Value>);

impl Schema<'_> {
    fn node(&self, path: &[Pe]) -> Option<&Value> {
        let mut s = self.0?;
        for pe in path {
            s = match pe {
                Pe::F(name) => s["properties"]
                    .get(name)
                    .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))?,
                Pe::K(_) | Pe::V(_) => s.get("items")?,
            };
        }
        Some(s)
    }
    pub fn list_type(&self, path: &[Pe]) -> ListType {
        match path {
            [Pe::F(m), Pe::F(f)] if m == "metadata" && f == "ownerReferences" => {
                return ListType::Map(vec!["uid".into()]);
            }
            [Pe::F(m), Pe::F(f)] if m == "metadata" && f == "finalizers" => return ListType::Set,
            _ => {}
        }
        let Some(n) = self.node(path) else {
            return ListType::Atomic;
        };
        match n["x-kubernetes-list-type"].as_str() {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                n["x-kubernetes-list-map-keys"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|k| k.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        }
    }
}

fn key_of(item: &Value, keys: &[String]) -> String {
    let m: Map<String, Value> = keys
        .iter()
        .map(|k| (k.clone(), item.get(k).cloned().unwrap_or(Value::Null)))
        .collect();
    Value::Object(m).to_string()
}

/// All owned paths of `v` (leaves, atomic lists, and a marker path per list-map element).
pub(crate) fn field_set(v: &Value, schema: &Schema) -> FieldSet {
    let mut out = FieldSet::new();
    let mut prefix = Vec::new();
    collect(v, &mut prefix, schema, &mut out);
    out
}

fn collect(v: &Value, prefix: &mut Path, schema: &Schema, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                prefix.push(Pe::F(k.clone()));
                collect(c, prefix, schema, out);
                prefix.pop();
            }
        }
        Value::Array(items) => match schema.list_type(prefix) {
            ListType::Map(keys) => {
                for item in items {
                    prefix.push(Pe::K(key_of(item, &keys)));
                    out.insert(prefix.clone());
                    collect(item, prefix, schema, out);
                    prefix.pop();
                }
            }
            ListType::Set => {
                for item in items {
                    prefix.push(Pe::V(item.to_string()));
                    out.insert(prefix.clone());
                    prefix.pop();
                }
            }
            ListType::Atomic => {
                out.insert(prefix.clone());
            }
        },
        _ if !prefix.is_empty() => {
            out.insert(prefix.clone());
        }
        _ => {}
    }
}

fn matches_pe(item: &Value, pe: &Pe) -> bool {
    match pe {
        Pe::K(k) => {
            let keys: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            keys.iter()
                .all(|(name, val)| item.get(name).unwrap_or(&Value::Null) == val)
        }
        Pe::V(v) => serde_json::from_str::<Value>(v).is_ok_and(|x| x == *item),
        Pe::F(_) => false,
    }
}

pub(crate) fn get<'a>(v: &'a Value, path: &[Pe]) -> Option<&'a Value> {
    let mut cur = v;
    for pe in path {
        cur = match pe {
            Pe::F(name) => cur.get(name)?,
            _ => cur.as_array()?.iter().find(|i| matches_pe(i, pe))?,
        };
    }
    Some(cur)
}

fn remove(v: &mut Value, path: &[Pe]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for pe in parent {
        let next = match pe {
            Pe::F(name) => cur.get_mut(name),
            _ => cur
                .as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| matches_pe(i, pe))),
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match last {
        Pe::F(name) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(name);
            }
        }
        pe => {
            if let Some(a) = cur.as_array_mut() {
                a.retain(|i| !matches_pe(i, pe));
            }
        }
    }
}

/// Structural merge of an applied configuration into a live object.
fn merge(live: &mut Value, applied: &Value, prefix: &mut Path, schema: &Schema) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, av) in a {
                prefix.push(Pe::F(k.clone()));
                match l.get_mut(k) {
                    Some(lv) => merge(lv, av, prefix, schema),
                    None => {
                        l.insert(k.clone(), av.clone());
                    }
                }
                prefix.pop();
            }
        }
        (Value::Array(l), Value::Array(a)) => match schema.list_type(prefix) {
            ListType::Map(keys) => {
                for ai in a {
                    let k = Pe::K(key_of(ai, &keys));
                    prefix.push(k.clone());
                    match l.iter_mut().find(|li| matches_pe(li, &k)) {
                        Some(li) => merge(li, ai, prefix, schema),
                        None => l.push(ai.clone()),
                    }
                    prefix.pop();
                }
            }
            ListType::Set => {
                for ai in a {
                    if !l.contains(ai) {
                        l.push(ai.clone());
                    }
                }
            }
            ListType::Atomic => *l = a.clone(),
        },
        (l, a) => *l = a.clone(),
    }
}

/// Renders `.spec.x` / `.status.conditions[type="Ready"]`.
pub(crate) fn path_string(path: &[Pe]) -> String {
    let mut s = String::new();
    for pe in path {
        match pe {
            Pe::F(n) => {
                s.push('.');
                s.push_str(n);
            }
            Pe::K(k) => {
                let keys: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let inner: Vec<String> = keys.iter().map(|(n, v)| format!("{n}={v}")).collect();
                s.push_str(&format!("[{}]", inner.join(",")));
            }
            Pe::V(v) => s.push_str(&format!("[{v}]")),
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// managedFields

/// Who writes, through which endpoint, at which version and time, with which schema.
pub(crate) struct Writer<'a> {
    pub manager: &'a str,
    pub subresource: Option<&'a str>,
    pub api_version: String,
    pub now: String,
    pub schema: Schema<'a>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub manager: String,
    pub operation: String,
    pub subresource: Option<String>,
    pub api_version: String,
    pub time: String,
    pub fields: FieldSet,
}

fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for pe in path {
            let key = match pe {
                Pe::F(n) => format!("f:{n}"),
                Pe::K(k) => format!("k:{k}"),
                Pe::V(v) => format!("v:{v}"),
            };
            // Only objects are ever inserted into this tree.
            node = node
                .entry(key)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("always an object");
        }
        if matches!(path.last(), Some(Pe::K(_))) {
            node.insert(".".into(), json!({}));
        }
    }
    Value::Object(root)
}

fn from_fields_v1(v: &Value, prefix: &mut Path, out: &mut FieldSet) {
    let Some(m) = v.as_object() else { return };
    if m.is_empty() && !prefix.is_empty() {
        out.insert(prefix.clone());
        return;
    }
    for (k, c) in m {
        if k == "." {
            out.insert(prefix.clone());
            continue;
        }
        let pe = match k.split_at_checked(2) {
            Some(("f:", n)) => Pe::F(n.into()),
            Some(("k:", n)) => Pe::K(canonical_key(n)),
            Some(("v:", n)) => Pe::V(n.into()),
            _ => continue,
        };
        prefix.push(pe);
        from_fields_v1(c, prefix, out);
        prefix.pop();
    }
}

fn canonical_key(k: &str) -> String {
    serde_json::from_str::<Value>(k)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| k.to_string())
}

pub(crate) fn parse_managed(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj["metadata"]["managedFields"].as_array() else {
        return vec![];
    };
    list.iter()
        .map(|e| {
            let mut fields = FieldSet::new();
            from_fields_v1(&e["fieldsV1"], &mut Vec::new(), &mut fields);
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            Entry {
                manager: s("manager"),
                operation: s("operation"),
                subresource: e["subresource"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(String::from),
                api_version: s("apiVersion"),
                time: s("time"),
                fields,
            }
        })
        .collect()
}

pub(crate) fn render_managed(entries: &[Entry]) -> Value {
    Value::Array(
        entries
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(|e| {
                let mut m = json!({"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                    "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(&e.fields)});
                if let Some(s) = &e.subresource {
                    m["subresource"] = json!(s);
                }
                m
            })
            .collect(),
    )
}

/// The part of an object whose fields are owned: no apiVersion/kind, no system metadata.
pub(crate) fn tracked(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
            "generateName",
        ] {
            meta.remove(k);
        }
        if meta.is_empty()
            && let Some(m) = v.as_object_mut()
        {
            m.remove("metadata");
        }
    }
    v
}

fn entry_mut<'a>(
    entries: &'a mut Vec<Entry>,
    manager: &str,
    op: &str,
    sub: Option<&str>,
    api_version: &str,
    now: &str,
) -> &'a mut Entry {
    let idx = entries
        .iter()
        .position(|e| e.manager == manager && e.operation == op && e.subresource.as_deref() == sub);
    let idx = idx.unwrap_or_else(|| {
        entries.push(Entry {
            manager: manager.into(),
            operation: op.into(),
            subresource: sub.map(String::from),
            api_version: api_version.into(),
            time: now.into(),
            fields: FieldSet::new(),
        });
        entries.len() - 1
    });
    &mut entries[idx]
}

/// Ownership after a non-apply write (create, update, merge/JSON patch) by `manager`.
pub(crate) fn record_update(
    mut entries: Vec<Entry>,
    old: Option<&Value>,
    new: &Value,
    w: &Writer,
) -> Vec<Entry> {
    let (manager, sub, api_version, now, schema) = (
        w.manager,
        w.subresource,
        w.api_version.as_str(),
        w.now.as_str(),
        &w.schema,
    );
    let new_t = tracked(new);
    let new_set = field_set(&new_t, schema);
    let old_t = old.map(tracked);
    let changed: FieldSet = new_set
        .iter()
        .filter(|p| old_t.as_ref().and_then(|o| get(o, p)) != get(&new_t, p))
        .cloned()
        .collect();
    for e in entries.iter_mut() {
        e.fields
            .retain(|p| new_set.contains(p) && !changed.contains(p));
    }
    if !changed.is_empty() {
        let e = entry_mut(&mut entries, manager, "Update", sub, api_version, now);
        e.fields.extend(changed);
        e.time = now.into();
        e.api_version = api_version.into();
    }
    entries.retain(|e| !e.fields.is_empty());
    entries
}

/// Fields set in the `kubectl.kubernetes.io/last-applied-configuration` annotation whose value
/// is still the live value: what client-side `kubectl apply` owned, for the upgrade of manager
/// `kubectl` from client-side to server-side apply.
fn last_applied_fields(live: &Value, schema: &Schema) -> FieldSet {
    let Some(Ok(last)) =
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .map(serde_json::from_str::<Value>)
    else {
        return FieldSet::new();
    };
    let (last, live) = (tracked(&last), tracked(live));
    field_set(&last, schema)
        .into_iter()
        .filter(|p| get(&last, p) == get(&live, p))
        .collect()
}

/// Server-side apply of `applied` (already restricted to the writable part) onto `live`.
/// Returns the merged object (managedFields rendered in) or a 409 listing the conflicts.
pub(crate) fn apply(
    live: &Value,
    applied: &Value,
    force: bool,
    w: &Writer,
) -> Result<Value, ApiError> {
    let (manager, sub, api_version, now, schema) = (
        w.manager,
        w.subresource,
        w.api_version.as_str(),
        w.now.as_str(),
        &w.schema,
    );
    let mut entries = parse_managed(live);
    let applied_t = tracked(applied);
    let applied_set = field_set(&applied_t, schema);
    let live_t = tracked(live);

    let mut conflicts: Vec<(Path, String)> = Vec::new();
    for e in entries.iter().filter(|e| e.manager != manager) {
        for p in e.fields.intersection(&applied_set) {
            if !matches!(p.last(), Some(Pe::K(_))) && get(&live_t, p) != get(&applied_t, p) {
                conflicts.push((p.clone(), e.manager.clone()));
            }
        }
    }
    // Upgrading from client-side apply: `kubectl` may take over what its last-applied
    // annotation still describes (the apiserver's lastAppliedManager does the same).
    let upgradable = if manager == "kubectl" {
        last_applied_fields(live, schema)
    } else {
        FieldSet::new()
    };
    let blocking: Vec<&(Path, String)> = conflicts
        .iter()
        .filter(|(p, _)| !upgradable.contains(p))
        .collect();
    if !blocking.is_empty() && !force {
        let conflicts = blocking;
        let causes: Vec<Cause> = conflicts
            .iter()
            .map(|(p, m)| Cause {
                reason: "FieldManagerConflict",
                message: format!("conflict with \"{m}\" using {api_version}"),
                field: path_string(p),
            })
            .collect();
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(p, m)| format!("conflict with \"{m}\": {}", path_string(p)))
            .collect();
        let n = conflicts.len();
        let mut err = ApiError::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {n} conflict{}: {}",
                if n == 1 { "" } else { "s" },
                lines.join("\n")
            ),
        );
        err.details = Some(
            json!({"causes": causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect::<Vec<_>>()}),
        );
        return Err(err);
    }
    let conflicted: BTreeSet<Path> = conflicts.into_iter().map(|(p, _)| p).collect();
    for e in entries.iter_mut().filter(|e| e.manager != manager) {
        e.fields.retain(|p| !conflicted.contains(p));
    }

    // Fields this manager applied before and dropped now are removed unless someone else owns them.
    let previous = entries
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply" && e.subresource.as_deref() == sub)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut result = live.clone();
    let removable: Vec<&Path> = previous
        .difference(&applied_set)
        .filter(|p| {
            let owned_elsewhere = entries
                .iter()
                .filter(|e| {
                    !(e.manager == manager
                        && e.operation == "Apply"
                        && e.subresource.as_deref() == sub)
                })
                .any(|e| e.fields.iter().any(|q| q.starts_with(p)));
            !owned_elsewhere && !applied_set.iter().any(|q| q.starts_with(p))
        })
        .collect();
    // Remove outermost paths only (an element goes as a whole, not field by field).
    for p in &removable {
        if !removable
            .iter()
            .any(|q| q.len() < p.len() && p.starts_with(q))
        {
            remove(&mut result, p);
        }
    }
    merge(&mut result, applied, &mut Vec::new(), schema);

    let e = entry_mut(&mut entries, manager, "Apply", sub, api_version, now);
    if e.fields != applied_set {
        e.time = now.into();
    }
    e.fields = applied_set;
    e.api_version = api_version.into();
    let result_set = field_set(&tracked(&result), schema);
    for e in entries.iter_mut() {
        e.fields.retain(|p| result_set.contains(p));
    }
    entries.retain(|e| !e.fields.is_empty());
    result["metadata"]["managedFields"] = render_managed(&entries);
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// Patch bodies

pub(crate) enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or_default().trim() {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Applies a JSON patch, merge patch or (built-ins only) strategic merge patch.
pub(crate) fn apply_patch(
    kind: &PatchType,
    target: &Value,
    body: &[u8],
) -> Result<Value, ApiError> {
    let mut doc = target.clone();
    match kind {
        PatchType::Json => {
            let p: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut doc, &p).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
        }
        PatchType::Merge => {
            let p: Value = parse_json(body)?;
            json_patch::merge(&mut doc, &p);
        }
        PatchType::Strategic => {
            let p: Value = parse_json(body)?;
            strategic_merge(&mut doc, &p, &mut Vec::new());
        }
        // The only caller, `State::patch`, handles `PatchType::Apply` first (field managers,
        // creation when absent) and returns before calling this function.
        PatchType::Apply => unreachable!("apply is handled by patch::apply"),
    }
    Ok(doc)
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

/// Strategic merge patch as kubectl sends it for our built-ins: a merge patch whose `$`
/// directives are honoured for `$patch: delete|replace` and dropped otherwise, with
/// `metadata.finalizers` merged as a set and `metadata.ownerReferences` by uid.
fn strategic_merge(doc: &mut Value, patch: &Value, prefix: &mut Vec<String>) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut v = patch.clone();
        strip_directives(&mut v);
        *doc = v;
        return;
    }
    if !doc.is_object() {
        *doc = json!({});
    }
    // Made an object just above.
    let d = doc.as_object_mut().expect("object");
    for (k, pv) in p {
        if k.starts_with('$') {
            continue;
        }
        if pv.is_null() {
            d.remove(k);
            continue;
        }
        prefix.push(k.clone());
        let is_meta_list = prefix.len() == 2 && prefix[0] == "metadata";
        match (d.get_mut(k), pv) {
            (Some(Value::Array(dl)), Value::Array(pl)) if is_meta_list && k == "finalizers" => {
                for x in pl {
                    if !dl.contains(x) {
                        dl.push(x.clone());
                    }
                }
            }
            (Some(Value::Array(dl)), Value::Array(pl))
                if is_meta_list && k == "ownerReferences" =>
            {
                for x in pl {
                    let del = x.get("$patch").and_then(Value::as_str) == Some("delete");
                    dl.retain(|e| e["uid"] != x["uid"]);
                    if !del {
                        dl.push(x.clone());
                    }
                }
            }
            (Some(dv), pv) if pv.is_object() && dv.is_object() => strategic_merge(dv, pv, prefix),
            _ => {
                let mut v = pv.clone();
                strip_directives(&mut v);
                d.insert(k.clone(), v);
            }
        }
        prefix.pop();
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"status": {"type": "object", "properties": {
            "conditions": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                "items": {"type": "object"}}}}}})
    }

    fn ap(live: &Value, applied: Value, manager: &str, force: bool) -> Result<Value, ApiError> {
        let s = schema();
        let w = Writer {
            manager,
            subresource: None,
            api_version: "v1".into(),
            now: "t".into(),
            schema: Schema(Some(&s)),
        };
        apply(live, &applied, force, &w)
    }

    #[test]
    fn apply_conflicts_and_force() {
        let live = json!({"metadata": {"name": "a"}, "spec": {"x": 1}});
        let a = ap(&live, json!({"spec": {"x": 1}}), "m1", false).expect("first");
        assert!(ap(&a, json!({"spec": {"x": 2}}), "m2", false).is_err());
        let b = ap(&a, json!({"spec": {"x": 2}}), "m2", true).expect("forced");
        assert_eq!(b["spec"]["x"], 2);
        // m1 lost ownership; it can now drop the field without removing m2's value.
        let c = ap(&b, json!({"spec": {}}), "m1", false).expect("drop");
        assert_eq!(c["spec"]["x"], 2);
    }

    #[test]
    fn apply_list_map_merges_by_key_and_removes_dropped() {
        let live = json!({"metadata": {}});
        let a = ap(
            &live,
            json!({"status": {"conditions": [{"type": "A", "status": "True"}]}}),
            "m1",
            false,
        )
        .expect("a");
        let b = ap(
            &a,
            json!({"status": {"conditions": [{"type": "B", "status": "False"}]}}),
            "m2",
            false,
        )
        .expect("b");
        assert_eq!(b["status"]["conditions"].as_array().map(Vec::len), Some(2));
        let c = ap(&b, json!({"status": {"conditions": []}}), "m1", false).expect("c");
        assert_eq!(
            c["status"]["conditions"],
            json!([{"type": "B", "status": "False"}])
        );
        let fields = parse_managed(&c);
        assert_eq!(fields.len(), 1, "{fields:?}");
    }
}
