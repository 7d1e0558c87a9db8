//! Server-side printing (`as=Table`) and metadata-only (`as=PartialObjectMetadata`) views.

use jsonpath_rust::JsonPath;
use serde_json::{Value, json};

use crate::discovery::ResourceInfo;

/// What representation the client asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum View {
    Full,
    Table,
    Metadata,
}

impl View {
    pub fn from_accept(accept: &str) -> Self {
        for part in accept.split(',') {
            let p = part.replace(' ', "");
            if p.contains("as=Table") && p.contains("g=meta.k8s.io") {
                return Self::Table;
            }
            if p.contains("as=PartialObjectMetadata") && p.contains("g=meta.k8s.io") {
                return Self::Metadata;
            }
            if p.starts_with("application/json") || p.starts_with("*/*") {
                return Self::Full;
            }
        }
        Self::Full
    }
}

pub(crate) fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// kubectl's `duration.HumanDuration`.
pub(crate) fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn age(ts: &Value) -> Value {
    match ts.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()) {
        Some(t) => json!(human_duration(
            jiff::Timestamp::now().as_second() - t.as_second()
        )),
        None => json!("<unknown>"),
    }
}

/// Evaluates a printer-column JSONPath (`.status.conditions[?(@.type=="Ready")].status`).
fn eval(obj: &Value, path: &str) -> Option<Value> {
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let p = if p.starts_with('$') {
        p.to_string()
    } else {
        format!("${p}")
    };
    let found = obj.query(&p).ok()?;
    let first = found.first()?;
    Some((*first).clone())
}

/// Renders objects as a `meta.k8s.io/v1 Table`.
pub(crate) fn table(
    info: &ResourceInfo,
    version: &str,
    items: &[Value],
    list_meta: Value,
    include_object: &str,
) -> Value {
    let mut cols = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    let printer = info.printer_columns(version);
    let custom = info.crd.is_some() && !printer.is_empty();
    if custom {
        for c in &printer {
            cols.push(json!({"name": c["name"], "type": c["type"], "format": c.get("format").cloned().unwrap_or(json!("")),
                "description": c.get("description").cloned().unwrap_or(json!("")), "priority": c.get("priority").cloned().unwrap_or(json!(0))}));
        }
    } else {
        cols.push(json!({"name": "Age", "type": "date", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}));
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            if custom {
                for c in &printer {
                    let v = eval(o, c["jsonPath"].as_str().unwrap_or_default());
                    cells.push(match (c["type"].as_str(), v) {
                        (_, None) | (_, Some(Value::Null)) => Value::Null,
                        (Some("date"), Some(v)) => age(&v),
                        (_, Some(v)) => v,
                    });
                }
            } else {
                cells.push(age(&o["metadata"]["creationTimestamp"]));
            }
            let object = match include_object {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => partial_metadata(o),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": cols, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_filters_and_durations() {
        let o = json!({"status": {"conditions": [{"type": "X", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(
            eval(&o, r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(json!("True"))
        );
        assert_eq!(eval(&o, ".spec.size"), None);
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(185), "3m5s");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
    }
}
