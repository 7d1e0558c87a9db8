//! Just enough Kubernetes protobuf to accept the request bodies kubectl's typed clients send
//! (`kubectl create namespace|secret|configmap`): the `k8s\0` + `runtime.Unknown` envelope and
//! the Namespace, Secret and ConfigMap messages (ObjectMeta: name, generateName, namespace,
//! labels, annotations, ownerReferences, finalizers). Responses are always JSON, which client-go
//! accepts.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::status::ApiError;

struct Reader<'a>(&'a [u8]);

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (b, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn next(&mut self) -> Option<(u64, Field<'a>)> {
        if self.0.is_empty() {
            return None;
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                if len > self.0.len() {
                    return None;
                }
                let (b, rest) = self.0.split_at(len);
                self.0 = rest;
                Field::Bytes(b)
            }
            1 => {
                self.0 = self.0.get(8..)?;
                Field::Varint(0)
            }
            5 => {
                self.0 = self.0.get(4..)?;
                Field::Varint(0)
            }
            _ => return None,
        };
        Some((key >> 3, field))
    }
}

fn fields(b: &[u8]) -> Vec<(u64, Field<'_>)> {
    let mut r = Reader(b);
    std::iter::from_fn(|| r.next()).collect()
}

fn string(b: &[u8]) -> Value {
    json!(String::from_utf8_lossy(b))
}

fn map_entry(b: &[u8], bytes_value: bool) -> (String, Value) {
    let (mut k, mut v) = (String::new(), json!(""));
    for (n, f) in fields(b) {
        if let Field::Bytes(x) = f {
            match n {
                1 => k = String::from_utf8_lossy(x).into_owned(),
                2 if bytes_value => v = json!(base64::engine::general_purpose::STANDARD.encode(x)),
                2 => v = string(x),
                _ => {}
            }
        }
    }
    (k, v)
}

fn object_meta(b: &[u8]) -> Value {
    let mut m = Map::new();
    let (mut labels, mut annotations, mut owners, mut finalizers) =
        (Map::new(), Map::new(), vec![], vec![]);
    for (n, f) in fields(b) {
        match (n, f) {
            // proto2 optional strings arrive even when empty: empty means unset.
            (_, Field::Bytes([])) => {}
            (1, Field::Bytes(x)) => drop(m.insert("name".into(), string(x))),
            (2, Field::Bytes(x)) => drop(m.insert("generateName".into(), string(x))),
            (3, Field::Bytes(x)) => drop(m.insert("namespace".into(), string(x))),
            (6, Field::Bytes(x)) => drop(m.insert("resourceVersion".into(), string(x))),
            (11, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, false);
                labels.insert(k, v);
            }
            (12, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, false);
                annotations.insert(k, v);
            }
            (13, Field::Bytes(x)) => {
                let mut o = Map::new();
                for (n, f) in fields(x) {
                    match (n, f) {
                        (1, Field::Bytes(v)) => drop(o.insert("kind".into(), string(v))),
                        (3, Field::Bytes(v)) => drop(o.insert("name".into(), string(v))),
                        (4, Field::Bytes(v)) => drop(o.insert("uid".into(), string(v))),
                        (5, Field::Bytes(v)) => drop(o.insert("apiVersion".into(), string(v))),
                        (6, Field::Varint(v)) => drop(o.insert("controller".into(), json!(v != 0))),
                        (7, Field::Varint(v)) => {
                            drop(o.insert("blockOwnerDeletion".into(), json!(v != 0)))
                        }
                        _ => {}
                    }
                }
                owners.push(Value::Object(o));
            }
            (14, Field::Bytes(x)) => finalizers.push(string(x)),
            _ => {}
        }
    }
    for (k, v) in [
        ("labels", Value::Object(labels)),
        ("annotations", Value::Object(annotations)),
    ] {
        if v.as_object().is_some_and(|o| !o.is_empty()) {
            m.insert(k.into(), v);
        }
    }
    if !owners.is_empty() {
        m.insert("ownerReferences".into(), json!(owners));
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), json!(finalizers));
    }
    Value::Object(m)
}

/// Decodes a protobuf request body into the JSON object it stands for.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let unsupported = |what: &str| {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "kube-test-server decodes protobuf only for Namespace, Secret and ConfigMap ({what})"
            ),
        )
    };
    let payload = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| unsupported("missing k8s envelope"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(payload) {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (n, f) in fields(tm) {
                    if let Field::Bytes(x) = f {
                        match n {
                            1 => api_version = String::from_utf8_lossy(x).into_owned(),
                            2 => kind = String::from_utf8_lossy(x).into_owned(),
                            _ => {}
                        }
                    }
                }
            }
            (2, Field::Bytes(r)) => raw = r,
            _ => {}
        }
    }
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    let (mut data, mut binary, mut string_data) = (Map::new(), Map::new(), Map::new());
    for (n, f) in fields(raw) {
        match (kind.as_str(), n, f) {
            (_, 1, Field::Bytes(x)) => obj["metadata"] = object_meta(x),
            ("Secret", 2, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, true);
                data.insert(k, v);
            }
            ("Secret", 3, Field::Bytes(x)) => obj["type"] = string(x),
            ("Secret", 4, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, false);
                string_data.insert(k, v);
            }
            ("Secret", 5, Field::Varint(v)) | ("ConfigMap", 4, Field::Varint(v)) => {
                obj["immutable"] = json!(v != 0)
            }
            ("ConfigMap", 2, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, false);
                data.insert(k, v);
            }
            ("ConfigMap", 3, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, true);
                binary.insert(k, v);
            }
            ("Namespace", _, _) => {}
            (other, _, _) if !matches!(other, "Secret" | "ConfigMap") => {
                return Err(unsupported(other));
            }
            _ => {}
        }
    }
    for (k, m) in [
        ("data", data),
        ("binaryData", binary),
        ("stringData", string_data),
    ] {
        if !m.is_empty() {
            obj[k] = Value::Object(m);
        }
    }
    Ok(obj)
}
