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

type Cell = fn(&Value) -> Value;

fn count(v: &Value) -> Value {
    json!(v.as_object().map_or(0, |m| m.len()))
}

fn event_last_seen(o: &Value) -> Value {
    let ts = [
        &o["series"]["lastObservedTime"],
        &o["lastTimestamp"],
        &o["eventTime"],
        &o["firstTimestamp"],
        &o["metadata"]["creationTimestamp"],
    ]
    .into_iter()
    .find(|t| t.is_string())
    .cloned()
    .unwrap_or(Value::Null);
    age(&ts)
}

/// Server-side columns of the built-ins kubectl users look at (after Name, before Age).
fn builtin_columns(info: &ResourceInfo) -> (Vec<(&'static str, &'static str, u8, Cell)>, bool) {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces") => (
            vec![("Status", "string", 0, |o| o["status"]["phase"].clone())],
            true,
        ),
        ("", "secrets") => (
            vec![
                ("Type", "string", 0, |o| o["type"].clone()),
                ("Data", "string", 0, |o| {
                    json!(
                        count(&o["data"]).as_u64().unwrap_or(0)
                            + count(&o["stringData"]).as_u64().unwrap_or(0)
                    )
                }),
            ],
            true,
        ),
        ("", "configmaps") => (
            vec![("Data", "string", 0, |o| {
                json!(
                    count(&o["data"]).as_u64().unwrap_or(0)
                        + count(&o["binaryData"]).as_u64().unwrap_or(0)
                )
            })],
            true,
        ),
        ("coordination.k8s.io", "leases") => (
            vec![("Holder", "string", 0, |o| {
                o["spec"]["holderIdentity"].clone()
            })],
            true,
        ),
        ("" | "events.k8s.io", "events") => (
            vec![
                ("Last Seen", "string", 0, event_last_seen),
                ("Type", "string", 0, |o| o["type"].clone()),
                ("Reason", "string", 0, |o| o["reason"].clone()),
                ("Object", "string", 0, |o| {
                    let r = if o["involvedObject"].is_object() {
                        &o["involvedObject"]
                    } else {
                        &o["regarding"]
                    };
                    json!(format!(
                        "{}/{}",
                        r["kind"].as_str().unwrap_or_default().to_lowercase(),
                        r["name"].as_str().unwrap_or_default()
                    ))
                }),
                ("Message", "string", 0, |o| {
                    if o["message"].is_string() {
                        o["message"].clone()
                    } else {
                        o["note"].clone()
                    }
                }),
            ],
            false,
        ),
        _ => (vec![], true),
    }
}

/// Renders objects as a `meta.k8s.io/v1 Table`.
pub(crate) fn table(
    info: &ResourceInfo,
    version: &str,
    items: &[Value],
    list_meta: Value,
    include_object: &str,
) -> Value {
    let printer = info.printer_columns(version);
    let custom = info.crd.is_some() && !printer.is_empty();
    let (builtin, with_age) = builtin_columns(info);
    let name_priority = if info.plural == "events" { 1 } else { 0 };
    let mut cols = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": name_priority}),
    ];
    if custom {
        for c in &printer {
            cols.push(json!({"name": c["name"], "type": c["type"], "format": c.get("format").cloned().unwrap_or(json!("")),
                "description": c.get("description").cloned().unwrap_or(json!("")), "priority": c.get("priority").cloned().unwrap_or(json!(0))}));
        }
    } else {
        for (name, ty, prio, _) in &builtin {
            cols.push(json!({"name": name, "type": ty, "format": "", "description": "", "priority": prio}));
        }
        if with_age {
            cols.push(json!({"name": "Age", "type": "date", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}));
        }
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
                cells.extend(builtin.iter().map(|(_, _, _, f)| f(o)));
                if with_age {
                    cells.push(age(&o["metadata"]["creationTimestamp"]));
                }
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
