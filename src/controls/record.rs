//! The in-memory form of an evidence record the controls read: a read-only JSON value about a
//! third of the size of `serde_json::Value`. Objects keep their keys sorted (as
//! `serde_json::Map` does); objects with the same keys share one key list and equal short
//! strings share one copy, so a kind's ten thousand devices hold their field names and their
//! `darwin`s once. A record renders exactly as the `serde_json::Value` it was parsed from (the
//! controls quote raw values in their findings).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One JSON value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Arc<str>),
    Array(Box<[Record]>),
    Object(Box<Object>),
}

/// An object: sorted unique keys (shared between objects of the same shape) and their values.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    keys: Arc<[Box<str>]>,
    values: Box<[Record]>,
}

static NULL: Record = Record::Null;

impl Record {
    /// The value of `key` when this is an object holding it.
    pub fn get(&self, key: &str) -> Option<&Record> {
        match self {
            Record::Object(object) => object
                .keys
                .binary_search_by(|probe| probe.as_ref().cmp(key))
                .ok()
                .map(|index| &object.values[index]),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Record::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Record::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Record]> {
        match self {
            Record::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Record::Null)
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Record::String(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Record::Object(_))
    }

    /// The fields of an object in key order; none for other values.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Record)> {
        let (keys, values): (&[Box<str>], &[Record]) = match self {
            Record::Object(object) => (&object.keys, &object.values),
            _ => (&[], &[]),
        };
        keys.iter().map(AsRef::as_ref).zip(values)
    }

    /// The value as `serde_json::Value` (tests and diagnostics; the controls read records).
    pub fn to_value(&self) -> Value {
        match self {
            Record::Null => Value::Null,
            Record::Bool(b) => Value::Bool(*b),
            Record::Number(n) => Value::Number(n.clone()),
            Record::String(s) => Value::String(s.to_string()),
            Record::Array(items) => Value::Array(items.iter().map(Record::to_value).collect()),
            Record::Object(_) => Value::Object(
                self.entries()
                    .map(|(key, value)| (key.to_owned(), value.to_value()))
                    .collect(),
            ),
        }
    }

    /// The record of a `serde_json::Value`, sharing keys and strings through `shared`.
    pub fn from_value(value: &Value, shared: &mut Interner) -> Record {
        match value {
            Value::Null => Record::Null,
            Value::Bool(b) => Record::Bool(*b),
            Value::Number(n) => Record::Number(n.clone()),
            Value::String(s) => Record::String(shared.string(s)),
            Value::Array(items) => Record::Array(
                items
                    .iter()
                    .map(|item| Record::from_value(item, shared))
                    .collect(),
            ),
            // A `serde_json::Map` is already sorted and unique.
            Value::Object(map) => {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                let values = map
                    .values()
                    .map(|value| Record::from_value(value, shared))
                    .collect();
                Record::Object(Box::new(Object {
                    keys: shared.keys(&keys),
                    values,
                }))
            }
        }
    }
}

impl From<Value> for Record {
    fn from(value: Value) -> Self {
        Record::from_value(&value, &mut Interner::default())
    }
}

/// `record["field"]`: the field's value, or null (as `serde_json::Value` indexes).
impl std::ops::Index<&str> for Record {
    type Output = Record;

    fn index(&self, key: &str) -> &Record {
        self.get(key).unwrap_or(&NULL)
    }
}

impl PartialEq<&str> for Record {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for Record {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<Value> for Record {
    fn eq(&self, other: &Value) -> bool {
        &self.to_value() == other
    }
}

impl serde::Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Record::Null => serializer.serialize_unit(),
            Record::Bool(b) => serializer.serialize_bool(*b),
            Record::Number(n) => n.serialize(serializer),
            Record::String(s) => serializer.serialize_str(s),
            Record::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Record::Object(object) => {
                let mut map = serializer.serialize_map(Some(object.values.len()))?;
                for (key, value) in self.entries() {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// Compact JSON, as `serde_json::Value` displays.
impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

/// What the records read so far share: key lists and short strings. An interner lives as long
/// as one load, so odd keys or values cannot pile up in a long-running process.
#[derive(Debug, Default)]
pub struct Interner {
    /// Key lists by the hash of their keys.
    shapes: HashMap<u64, Vec<Arc<[Box<str>]>>>,
    strings: HashSet<Arc<str>>,
}

/// Strings up to this length are shared: enumerations, names, ids repeated across records.
/// Longer ones are rarely equal and would only grow the table.
const SHARED_STRING: usize = 48;

impl Interner {
    fn keys(&mut self, keys: &[&str]) -> Arc<[Box<str>]> {
        let mut hasher = DefaultHasher::new();
        keys.hash(&mut hasher);
        let candidates = self.shapes.entry(hasher.finish()).or_default();
        if let Some(known) = candidates
            .iter()
            .find(|known| known.iter().map(AsRef::as_ref).eq(keys.iter().copied()))
        {
            return known.clone();
        }
        let shape: Arc<[Box<str>]> = keys.iter().map(|&key| Box::from(key)).collect();
        candidates.push(shape.clone());
        shape
    }

    fn string(&mut self, text: &str) -> Arc<str> {
        if text.len() > SHARED_STRING {
            return text.into();
        }
        if let Some(known) = self.strings.get(text) {
            return known.clone();
        }
        let shared: Arc<str> = text.into();
        self.strings.insert(shared.clone());
        shared
    }
}

/// Which fields of a line to keep: all, or the listed top-level fields of the record (of the
/// inner `record` of a per-parent line `{"<parent>": id, "record": {...}}`, with the parent).
#[derive(Debug, Clone, Copy)]
pub struct Keep<'a> {
    /// Sorted (binary search); `None`: every field.
    pub fields: Option<&'static [&'static str]>,
    pub parent_field: Option<&'a str>,
}

/// Parses one NDJSON line into a record, keeping only what `keep` says. Fields not kept are
/// skipped by the parser, never allocated.
pub fn parse_line(
    line: &[u8],
    keep: Keep<'_>,
    shared: &mut Interner,
) -> serde_json::Result<Record> {
    let mut deserializer = serde_json::Deserializer::from_slice(line);
    let record = Seed {
        keep: keep.fields.map(|fields| Projection {
            fields,
            parent_field: keep.parent_field,
            line: true,
        }),
        shared,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(record)
}

#[derive(Clone, Copy)]
struct Projection<'a> {
    fields: &'static [&'static str],
    parent_field: Option<&'a str>,
    /// Whether this is the line itself (where `record` and the parent field live).
    line: bool,
}

impl Projection<'_> {
    fn keeps(&self, key: &str) -> bool {
        self.fields.binary_search(&key).is_ok() || (self.line && self.parent_field == Some(key))
    }
}

/// Builds a record, projecting the first object it meets when `keep` says so; everything
/// nested below a kept field is kept whole.
struct Seed<'s, 'a> {
    keep: Option<Projection<'a>>,
    shared: &'s mut Interner,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Record;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Record, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Record;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut fields: Vec<(Cow<'de, str>, Record)> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let seed = match self.keep {
                None => Seed {
                    keep: None,
                    shared: &mut *self.shared,
                },
                Some(projection) if projection.line && key == "record" => Seed {
                    keep: Some(Projection {
                        line: false,
                        ..projection
                    }),
                    shared: &mut *self.shared,
                },
                Some(projection) if projection.keeps(&key) => Seed {
                    keep: None,
                    shared: &mut *self.shared,
                },
                Some(_) => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value_seed(seed)?;
            fields.push((key, value));
        }
        // As `serde_json::Map`: sorted keys, the last of duplicates wins.
        fields.reverse();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        fields.dedup_by(|later, kept| later.0 == kept.0);
        let keys: Vec<&str> = fields.iter().map(|(key, _)| key.as_ref()).collect();
        let keys = self.shared.keys(&keys);
        let values: Box<[Record]> = fields.into_iter().map(|(_, value)| value).collect();
        Ok(Record::Object(Box::new(Object { keys, values })))
    }

    // Records are objects; anything else is kept whole, as the API returned it.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Record, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed {
            keep: None,
            shared: &mut *self.shared,
        })? {
            items.push(item);
        }
        Ok(Record::Array(items.into_boxed_slice()))
    }

    fn visit_bool<E>(self, value: bool) -> Result<Record, E> {
        Ok(Record::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Record, E> {
        Ok(Record::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Record, E> {
        Ok(Record::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Record, E> {
        // As serde_json: a float that is not finite becomes null.
        Ok(serde_json::Number::from_f64(value).map_or(Record::Null, Record::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Record, E> {
        Ok(Record::String(self.shared.string(value)))
    }

    fn visit_unit<E>(self) -> Result<Record, E> {
        Ok(Record::Null)
    }
}

/// An object key, borrowed from the line unless it had escapes: no allocation per key.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHOLE: Keep<'static> = Keep {
        fields: None,
        parent_field: None,
    };

    #[test]
    fn a_record_renders_and_reads_as_the_value_it_was_parsed_from() {
        let lines: &[&[u8]] = &[
            br#"{"z":1,"a":{"y":[1,-2,1.5,"s",null,true,{"k":"v"}],"b":false},"m":"t\"x\u00e9"}"#,
            br#"[1,{"b":2,"a":1}]"#,
            br#""just a string""#,
            br#"{"dup":1,"dup":2}"#,
            br#"{"big":18446744073709551615,"neg":-9223372036854775808,"e":1e300}"#,
        ];
        let mut shapes = Interner::default();
        for line in lines {
            let value: Value = serde_json::from_slice(line).unwrap();
            let record = parse_line(line, WHOLE, &mut shapes).unwrap();
            assert_eq!(record.to_string(), value.to_string());
            assert_eq!(record, value);
            assert_eq!(Record::from_value(&value, &mut shapes), record);
        }
        let record = parse_line(lines[0], WHOLE, &mut shapes).unwrap();
        assert_eq!(record["a"]["b"].as_bool(), Some(false));
        assert_eq!(record["m"], "t\"xé");
        assert!(record["missing"].is_null() && record["z"]["deeper"].is_null());
        assert_eq!(record["a"]["y"].as_array().map(<[Record]>::len), Some(7));
        let keys: Vec<&str> = record.entries().map(|(key, _)| key).collect();
        assert_eq!(keys, ["a", "m", "z"]);
    }

    #[test]
    fn objects_of_one_shape_share_their_keys() {
        let mut shapes = Interner::default();
        let one = parse_line(br#"{"id":"a","os":"x"}"#, WHOLE, &mut shapes).unwrap();
        let two = parse_line(br#"{"os":"y","id":"b"}"#, WHOLE, &mut shapes).unwrap();
        let (Record::Object(one), Record::Object(two)) = (one, two) else {
            panic!("objects expected")
        };
        assert!(Arc::ptr_eq(&one.keys, &two.keys));
        assert_eq!(std::mem::size_of::<Record>(), 24);
        let three = parse_line(br#"{"os":"x","id":"c"}"#, WHOLE, &mut shapes).unwrap();
        let (Record::String(x1), Record::String(x3)) = (&one.values[1], &three["os"]) else {
            panic!("strings expected")
        };
        assert!(Arc::ptr_eq(x1, x3), "equal short strings are stored once");
        let escaped = parse_line(br#"{"key":1,"key":2}"#, WHOLE, &mut shapes).unwrap();
        assert_eq!(escaped.to_string(), r#"{"key":2}"#);
    }

    #[test]
    fn projection_keeps_the_listed_fields_and_the_parent_of_a_child_line() {
        let keep = Keep {
            fields: Some(&["id", "type"]),
            parent_field: Some("group_id"),
        };
        let mut shapes = Interner::default();
        let line =
            br#"{"group_id":"g1","other":1,"record":{"id":"u1","type":"user","paths":[[1]]}}"#;
        let record = parse_line(line, keep, &mut shapes).unwrap();
        assert_eq!(
            record,
            serde_json::json!({"group_id": "g1", "record": {"id": "u1", "type": "user"}})
        );
        let whole = parse_line(br#"[true,{"a":null}]"#, keep, &mut shapes).unwrap();
        assert_eq!(whole, serde_json::json!([true, {"a": null}]));
        assert!(parse_line(b"{\"id\":1} trailing", keep, &mut shapes).is_err());
        assert!(parse_line(b"not json", keep, &mut shapes).is_err());
    }
}
