//! A minimal JSON object writer for the records generated in bulk (users, devices, System
//! Insights rows, events). Building them as `serde_json::Value` allocates a map per object and
//! made org L take many seconds in debug builds; writing the text directly is several times faster.
//! Keys are written in call order, so output stays deterministic.

use std::fmt::Write as _;

pub(crate) struct Obj {
    buf: String,
    first: bool,
}

pub(crate) fn push_str_literal(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

impl Obj {
    pub(crate) fn new() -> Self {
        let mut buf = String::with_capacity(128);
        buf.push('{');
        Obj { buf, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        push_str_literal(&mut self.buf, key);
        self.buf.push(':');
    }

    pub(crate) fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_str_literal(&mut self.buf, value);
        self
    }

    pub(crate) fn opt_str(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }

    /// A field left out when `None`: where JumpCloud documents a string or an object, an absent
    /// value is an absent field, not `null`.
    pub(crate) fn some_str(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.str(key, v),
            None => self,
        }
    }

    /// Like [`Obj::some_str`] for a value that is already JSON.
    pub(crate) fn some_raw(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.raw(key, v),
            None => self,
        }
    }

    pub(crate) fn num(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.key(key);
        let _ = write!(self.buf, "{value}");
        self
    }

    pub(crate) fn bool(self, key: &str, value: bool) -> Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    pub(crate) fn null(self, key: &str) -> Self {
        self.raw(key, "null")
    }

    /// `value` must already be JSON.
    pub(crate) fn raw(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        self.buf.push_str(value);
        self
    }

    pub(crate) fn obj(self, key: &str, value: Obj) -> Self {
        let value = value.finish();
        self.raw(key, &value)
    }

    pub(crate) fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_escaped_json() {
        let text = Obj::new()
            .str("name", "Chloé \"CJ\" O'Brien\\\n\u{1}")
            .num("n", -3)
            .bool("b", true)
            .null("z")
            .opt_str("o", None)
            .some_str("absent", None)
            .some_raw("absent_too", None)
            .some_str("present", Some("p"))
            .obj("inner", Obj::new().str("k", "v"))
            .raw("list", "[1,2]")
            .finish();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["name"], "Chloé \"CJ\" O'Brien\\\n\u{1}");
        assert_eq!(value["inner"]["k"], "v");
        assert_eq!(value["list"][1], 2);
        assert!(value["z"].is_null() && value["o"].is_null());
        assert_eq!(value["present"], "p");
        assert!(value.get("absent").is_none() && value.get("absent_too").is_none());
        assert_eq!(Obj::new().finish(), "{}");
    }
}
