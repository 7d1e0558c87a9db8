//! Label and field selectors.

use serde_json::Value;

use crate::discovery::ResourceInfo;
use crate::status::ApiError;

#[derive(Clone, Debug)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector` plus `fieldSelector`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selector {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn set_values(s: &str) -> Vec<String> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(|v| v.trim().to_string())
        .collect()
}

fn parse_req(term: &str, allow_sets: bool) -> Result<Req, ApiError> {
    let bad = || ApiError::bad_request(format!("unable to parse requirement: found '{term}'"));
    if let Some((k, v)) = term.split_once("!=") {
        return Ok(Req::Ne(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Req::Eq(k.trim().into(), v.trim().into()));
    }
    if allow_sets {
        let words: Vec<&str> = term.splitn(2, char::is_whitespace).collect();
        if words.len() == 2 {
            let rest = words[1].trim_start();
            if let Some(vals) = rest.strip_prefix("notin") {
                return Ok(Req::NotIn(words[0].into(), set_values(vals)));
            }
            if let Some(vals) = rest.strip_prefix("in") {
                return Ok(Req::In(words[0].into(), set_values(vals)));
            }
            return Err(bad());
        }
        if let Some(k) = term.strip_prefix('!') {
            return Ok(Req::NotExists(k.trim().into()));
        }
        return Ok(Req::Exists(term.into()));
    }
    Err(bad())
}

impl Selector {
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, ApiError> {
        let parse = |s: Option<&str>, sets: bool| -> Result<Vec<Req>, ApiError> {
            split_top(s.unwrap_or_default())
                .iter()
                .map(|t| parse_req(t, sets))
                .collect()
        };
        Ok(Self {
            labels: parse(labels, true)?,
            fields: parse(fields, false)?,
        })
    }

    /// Refuses field selectors the real apiserver does not support for this resource:
    /// metadata.name/namespace everywhere, a few per built-in, `selectableFields` for CRDs.
    pub fn check_fields(&self, info: &ResourceInfo, version: &str) -> Result<(), ApiError> {
        let crd_fields: Vec<String> = info
            .crd
            .as_ref()
            .and_then(|c| {
                c["spec"]["versions"]
                    .as_array()?
                    .iter()
                    .find(|v| v["name"] == version)
                    .cloned()
            })
            .and_then(|v| v["selectableFields"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| {
                f["jsonPath"]
                    .as_str()
                    .map(|p| p.trim_start_matches('.').to_string())
            })
            .collect();
        let builtin: &[&str] = match (info.group.as_str(), info.plural.as_str()) {
            ("", "secrets") => &["type"],
            ("", "namespaces") => &["status.phase"],
            // pkg/registry/core/event/strategy.go ToSelectableFields
            ("", "events") => &[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ],
            // pkg/apis/events/v1 field label conversions (onto the core set above)
            ("events.k8s.io", "events") => &[
                "regarding.kind",
                "regarding.namespace",
                "regarding.name",
                "regarding.uid",
                "regarding.apiVersion",
                "regarding.resourceVersion",
                "regarding.fieldPath",
                "reason",
                "reportingController",
                "type",
            ],
            _ => &[],
        };
        for r in &self.fields {
            let (Req::Eq(k, _)
            | Req::Ne(k, _)
            | Req::In(k, _)
            | Req::NotIn(k, _)
            | Req::Exists(k)
            | Req::NotExists(k)) = r;
            let ok = matches!(k.as_str(), "metadata.name" | "metadata.namespace")
                || builtin.contains(&k.as_str())
                || crd_fields.contains(k);
            if !ok {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
        }
        Ok(())
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let label = |k: &str| labels.get(k).and_then(Value::as_str).map(String::from);
        let field = |k: &str| Some(field_value(obj, k));
        self.labels.iter().all(|r| eval(r, &label)) && self.fields.iter().all(|r| eval(r, &field))
    }
}

fn eval(r: &Req, get: &dyn Fn(&str) -> Option<String>) -> bool {
    match r {
        Req::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
        Req::Ne(k, v) => get(k).as_deref() != Some(v.as_str()),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    }
}

/// A field selector key is a dotted path (`metadata.name`, `involvedObject.uid`); missing is "".
/// The one exception is a core/v1 Event's `source`: `source.component`, or when that is empty
/// `reportingComponent` (as the apiserver's Event field set defines it).
fn field_value(obj: &Value, dotted: &str) -> String {
    if dotted == "source" && obj["kind"] == "Event" && obj["apiVersion"] == "v1" {
        let component = field_value(obj, "source.component");
        return if component.is_empty() {
            field_value(obj, "reportingComponent")
        } else {
            component
        };
    }
    let v = dotted.split('.').try_fold(obj, |cur, seg| cur.get(seg));
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_and_field_selectors() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "x", "tier": "web"}}});
        let yes = |l: &str, f: &str| {
            Selector::parse(Some(l), Some(f))
                .expect("parses")
                .matches(&o)
        };
        assert!(yes("app=x,tier in (web, db)", "metadata.name=a"));
        assert!(yes(
            "app,!missing,tier notin (db)",
            "metadata.namespace!=other"
        ));
        assert!(!yes("app!=x", ""));
        assert!(!yes("", "metadata.name==b"));
        assert!(!yes("missing", ""));
    }
}
