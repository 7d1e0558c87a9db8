//! Small readers over raw JumpCloud records, tolerant of absent fields and of numbers sent as
//! strings.

use super::record::Record;

/// The value at a dotted path.
pub fn at<'a>(value: &'a Record, path: &str) -> Option<&'a Record> {
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

pub fn str_at<'a>(value: &'a Record, path: &str) -> Option<&'a str> {
    at(value, path).and_then(Record::as_str)
}

pub fn bool_at(value: &Record, path: &str) -> Option<bool> {
    match at(value, path)? {
        Record::Bool(b) => Some(*b),
        Record::Number(n) => n.as_i64().map(|n| n != 0),
        Record::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub fn f64_at(value: &Record, path: &str) -> Option<f64> {
    as_f64(at(value, path)?)
}

pub fn as_f64(value: &Record) -> Option<f64> {
    match value {
        Record::Number(n) => n.as_f64(),
        Record::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn time_at(value: &Record, path: &str) -> Option<jiff::Timestamp> {
    str_at(value, path).and_then(|s| s.parse().ok())
}

/// `_id` (v1) or `id` (v2).
pub fn id_of(value: &Record) -> String {
    str_at(value, "_id")
        .or_else(|| str_at(value, "id"))
        .unwrap_or("")
        .to_owned()
}

/// A short human-readable rendering of a field for `why` texts.
pub fn show(value: &Record, path: &str) -> String {
    match at(value, path) {
        None => "absent".to_owned(),
        Some(Record::String(s)) => s.to_string(),
        Some(other) => other.to_string(),
    }
}

/// Compares dotted versions numerically (`10.0.22631` > `10.0.19045`, `14.10` > `14.9`);
/// missing segments count as 0 and non-numeric suffixes are ignored.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |s: &str| -> Vec<u64> {
        s.split(['.', '-', ' '])
            .map(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().unwrap_or(0)
            })
            .collect()
    };
    let (a, b) = (parse(a), parse(b));
    let len = a.len().max(b.len());
    for i in 0..len {
        let ordering = a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0));
        if ordering.is_ne() {
            return ordering;
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_compare_numerically() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("14.10", "14.9"), Greater);
        assert_eq!(version_cmp("10.0.22631", "10.0.22631"), Equal);
        assert_eq!(version_cmp("22.04", "22.04.3"), Less);
        assert_eq!(version_cmp("12", "12.0"), Equal);
    }

    #[test]
    fn readers_tolerate_strings_and_absence() {
        let v: Record = json!({"a": {"b": "1", "c": null}, "n": "3.5"}).into();
        assert_eq!(bool_at(&v, "a.b"), Some(true));
        assert_eq!(at(&v, "a.c"), None);
        assert_eq!(f64_at(&v, "n"), Some(3.5));
        assert_eq!(show(&v, "zz"), "absent");
    }
}
