//! Pruning, defaulting and validation of custom resources against the CRD's structural
//! `openAPIV3Schema`, plus `x-kubernetes-validations` CEL rules through kube's `cel` support.
//! Messages follow the apiserver's `field.Error` formatting.

use std::sync::LazyLock;

use kube::core::cel::{RootContext, Validator};
use regex::Regex;
use serde_json::{Map, Value};

use crate::status::Cause;

/// Result of walking an object: causes for a 422, and pruned unknown fields (for Strict/Warn).
#[derive(Default, Debug)]
pub(crate) struct Outcome {
    pub causes: Vec<Cause>,
    pub unknown: Vec<String>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn cause(reason: &'static str, field: &str, message: String) -> Cause {
    Cause {
        reason,
        field: field.to_string(),
        message,
    }
}

fn invalid(field: &str, v: &Value, detail: String) -> Cause {
    let shown = match v {
        Value::Object(_) | Value::Array(_) => format!("\"{}\"", type_name(v)),
        _ => v.to_string(),
    };
    cause(
        "FieldValueInvalid",
        field,
        format!("Invalid value: {shown}: {detail}"),
    )
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Prunes unknown fields, applies defaults and checks the OpenAPI constraints, in place.
pub(crate) fn prune_default_validate(schema: &Value, obj: &mut Value) -> Outcome {
    let mut out = Outcome::default();
    walk(schema, obj, "", true, &mut out);
    out
}

fn walk(s: &Value, v: &mut Value, path: &str, root: bool, out: &mut Outcome) {
    let ty = s["type"].as_str();
    let int_or_string = s["x-kubernetes-int-or-string"].as_bool() == Some(true);
    let type_ok = match (ty, &*v) {
        _ if int_or_string => matches!(type_name(v), "integer" | "string"),
        (None, _) => true,
        (Some("number"), Value::Number(_)) => true,
        (Some(t), _) => t == type_name(v),
    };
    if !type_ok {
        let t = if int_or_string {
            "integer,string"
        } else {
            ty.unwrap_or_default()
        };
        out.causes.push(cause(
            "FieldValueTypeInvalid",
            path,
            format!(
                "Invalid value: \"{}\": {path} in body must be of type {t}: \"{}\"",
                type_name(v),
                type_name(v)
            ),
        ));
        return;
    }
    if let Some(e) = s["enum"].as_array()
        && !e.contains(v)
    {
        let allowed: Vec<String> = e.iter().map(Value::to_string).collect();
        out.causes.push(cause(
            "FieldValueNotSupported",
            path,
            format!(
                "Unsupported value: {v}: supported values: {}",
                allowed.join(", ")
            ),
        ));
    }
    match v {
        Value::Object(m) => walk_object(s, m, path, root, out),
        Value::Array(items) => {
            check_len(s, items.len(), "minItems", "maxItems", path, "items", out);
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(is, item, &format!("{path}[{i}]"), false, out);
                }
            }
            check_unique(s, items, path, out);
        }
        Value::String(st) => {
            let st = st.clone();
            let v = &Value::String(st.clone());
            let n = st.chars().count();
            if let Some(max) = s["maxLength"].as_u64()
                && n as u64 > max
            {
                out.causes.push(cause(
                    "FieldValueTooLong",
                    path,
                    format!("Too long: may not be more than {max} bytes"),
                ));
            }
            if let Some(min) = s["minLength"].as_u64()
                && (n as u64) < min
            {
                out.causes.push(invalid(
                    path,
                    v,
                    format!("{path} in body should be at least {min} chars long"),
                ));
            }
            if let Some(p) = s["pattern"].as_str()
                && let Ok(re) = Regex::new(p)
                && !re.is_match(&st)
            {
                out.causes.push(invalid(
                    path,
                    v,
                    format!("{path} in body should match '{p}'"),
                ));
            }
            if let Some(f) = s["format"].as_str()
                && let Some(msg) = check_format(f, &st)
            {
                out.causes.push(invalid(
                    path,
                    v,
                    format!("{path} in body must be of type {f}: {msg}"),
                ));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            let excl_min = s["exclusiveMinimum"].as_bool() == Some(true);
            let excl_max = s["exclusiveMaximum"].as_bool() == Some(true);
            if let Some(min) = s["minimum"].as_f64()
                && (x < min || (excl_min && x == min))
            {
                let op = if excl_min {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                out.causes.push(invalid(
                    path,
                    v,
                    format!("{path} in body should be {op} {}", s["minimum"]),
                ));
            }
            if let Some(max) = s["maximum"].as_f64()
                && (x > max || (excl_max && x == max))
            {
                let op = if excl_max {
                    "less than"
                } else {
                    "less than or equal to"
                };
                out.causes.push(invalid(
                    path,
                    v,
                    format!("{path} in body should be {op} {}", s["maximum"]),
                ));
            }
            if let Some(m) = s["multipleOf"].as_f64()
                && m != 0.0
                && (x / m).fract() != 0.0
            {
                out.causes.push(invalid(
                    path,
                    v,
                    format!("{path} in body should be a multiple of {}", s["multipleOf"]),
                ));
            }
        }
        _ => {}
    }
}

/// `x-kubernetes-list-type: set|map` entries must be unique (by value, or by the map keys).
fn check_unique(s: &Value, items: &[Value], path: &str, out: &mut Outcome) {
    let keys: Vec<&str> = match s["x-kubernetes-list-type"].as_str() {
        Some("map") => s["x-kubernetes-list-map-keys"]
            .as_array()
            .map(|k| k.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
        Some("set") => vec![],
        _ => return,
    };
    let mut seen: Vec<Value> = vec![];
    for (i, item) in items.iter().enumerate() {
        let id = if keys.is_empty() {
            item.clone()
        } else {
            Value::Object(
                keys.iter()
                    .map(|k| (k.to_string(), item.get(*k).cloned().unwrap_or(Value::Null)))
                    .collect(),
            )
        };
        if seen.contains(&id) {
            let shown = match &id {
                Value::Object(m) => {
                    let parts: Vec<String> =
                        m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("map[string]interface {{}}{{{}}}", parts.join(", "))
                }
                other => other.to_string(),
            };
            out.causes.push(cause(
                "FieldValueDuplicate",
                &format!("{path}[{i}]"),
                format!("Duplicate value: {shown}"),
            ));
        }
        seen.push(id);
    }
}

fn check_len(
    s: &Value,
    n: usize,
    min_key: &str,
    max_key: &str,
    path: &str,
    what: &str,
    out: &mut Outcome,
) {
    if let Some(max) = s[max_key].as_u64()
        && n as u64 > max
    {
        out.causes.push(cause(
            "FieldValueTooMany",
            path,
            format!("Too many: {n}: must have at most {max} {what}"),
        ));
    }
    if let Some(min) = s[min_key].as_u64()
        && (n as u64) < min
    {
        out.causes.push(cause(
            "FieldValueInvalid",
            path,
            format!("Invalid value: {n}: {path} in body should have at least {min} {what}"),
        ));
    }
}

fn walk_object(s: &Value, m: &mut Map<String, Value>, path: &str, root: bool, out: &mut Outcome) {
    let props = s["properties"].as_object();
    let additional = s.get("additionalProperties").filter(|a| a.is_object());
    let preserve = s["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true)
        || s["x-kubernetes-embedded-resource"].as_bool() == Some(true);
    // Null values of non-nullable fields are pruned (then defaulted), as the apiserver does.
    if let Some(props) = props {
        m.retain(|k, v| {
            !(v.is_null()
                && props
                    .get(k)
                    .is_some_and(|p| p["nullable"].as_bool() != Some(true)))
        });
        for (k, p) in props {
            if !m.contains_key(k)
                && let Some(d) = p.get("default")
            {
                m.insert(k.clone(), d.clone());
            }
        }
    }
    let keys: Vec<String> = m.keys().cloned().collect();
    for k in keys {
        let fp = join(path, &k);
        if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let sub = props.and_then(|p| p.get(&k)).or(additional);
        match sub {
            Some(sub) => {
                // `keys` was collected from `m`, and only the current key is ever removed.
                let v = m.get_mut(&k).expect("key listed above");
                if v.is_null() && sub["nullable"].as_bool() == Some(true) {
                    continue;
                }
                walk(sub, v, &fp, false, out);
            }
            None if preserve || s.get("additionalProperties") == Some(&Value::Bool(true)) => {}
            None => {
                m.remove(&k);
                out.unknown.push(fp);
            }
        }
    }
    if let Some(req) = s["required"].as_array() {
        for r in req.iter().filter_map(Value::as_str) {
            if !m.contains_key(r) {
                out.causes.push(cause(
                    "FieldValueRequired",
                    &join(path, r),
                    "Required value".into(),
                ));
            }
        }
    }
    check_len(
        s,
        m.len(),
        "minProperties",
        "maxProperties",
        path,
        "properties",
        out,
    );
}

// The `expect`s on `Regex::new` below compile constant, valid patterns.
fn check_format(format: &str, s: &str) -> Option<String> {
    static UUID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
            .expect("static")
    });
    static DURATION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$").expect("static"));
    let ok = match format {
        "date-time" => s.parse::<jiff::Timestamp>().is_ok(),
        "date" => s.parse::<jiff::civil::Date>().is_ok(),
        "uuid" => UUID.is_match(s),
        "duration" => DURATION.is_match(s),
        "byte" => true,
        _ => true,
    };
    (!ok).then(|| format!("\"{s}\""))
}

/// Evaluates `x-kubernetes-validations` rules (with `oldSelf` on updates).
pub(crate) fn cel(
    schema: &Value,
    obj: &Value,
    old: Option<&Value>,
    api_version: &str,
    group: &str,
    kind: &str,
) -> Vec<Cause> {
    if !schema.to_string().contains("x-kubernetes-validations") {
        return vec![];
    }
    let ctx = RootContext {
        api_version: api_version.into(),
        api_group: group.into(),
        kind: kind.into(),
    };
    let Err(errors) = Validator::new().validate_with_context(schema, obj, old, Some(&ctx)) else {
        return vec![];
    };
    errors
        .iter()
        .map(|e| {
            let field = e.field_path.trim_start_matches('.').to_string();
            let at = lookup(obj, &field);
            let shown = at.map(|v| match v {
                Value::Object(_) | Value::Array(_) => format!("\"{}\"", type_name(v)),
                _ => v.to_string(),
            });
            let reason = match e.reason.as_deref() {
                Some("FieldValueRequired") => "FieldValueRequired",
                Some("FieldValueForbidden") => "FieldValueForbidden",
                Some("FieldValueDuplicate") => "FieldValueDuplicate",
                _ => "FieldValueInvalid",
            };
            let message = match shown {
                Some(s) if reason == "FieldValueInvalid" => {
                    format!("Invalid value: {s}: {}", e.message)
                }
                _ => e.message.clone(),
            };
            Cause {
                reason,
                field,
                message,
            }
        })
        .collect()
}

fn lookup<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    if dotted.is_empty() {
        return Some(v);
    }
    dotted.split('.').try_fold(v, |cur, seg| cur.get(seg))
}

/// RFC 1123 subdomain (most names) or label (namespaces). Constant, valid patterns.
pub(crate) fn check_name(name: &str, label_only: bool) -> Option<String> {
    static SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("static")
    });
    static LABEL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("static"));
    if label_only {
        (!LABEL.is_match(name) || name.len() > 63).then(|| {
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()
        })
    } else {
        (!SUBDOMAIN.is_match(name) || name.len() > 253).then(|| {
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_defaults_and_reports() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
            "region": {"type": "string", "enum": ["us", "eu"], "default": "us"},
            "size": {"type": "integer", "minimum": 1}}}}});
        let mut o = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {}, "spec": {"size": 0, "junk": 1}});
        let out = prune_default_validate(&s, &mut o);
        assert_eq!(o["spec"]["region"], "us");
        assert_eq!(out.unknown, vec!["spec.junk"]);
        assert_eq!(
            out.causes[0].message,
            "Invalid value: 0: spec.size in body should be greater than or equal to 1"
        );
        let mut o = json!({"spec": {"region": "mars"}});
        let out = prune_default_validate(&s, &mut o);
        assert_eq!(
            out.causes[0].message,
            "Unsupported value: \"mars\": supported values: \"us\", \"eu\""
        );
        assert_eq!(out.causes[1].field, "spec.size");
    }
}
