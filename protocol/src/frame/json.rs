//! JSON text in the exact style of Python's `json.dumps` with default arguments, which is
//! what the official Python SDK puts on the wire for blob headers and footers:
//! `", "` between members, `": "` between key and value, and `ensure_ascii=True`
//! (every character outside `' '..='~'` is escaped, non-BMP characters as UTF-16
//! surrogate pairs, hex digits in lower case).

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::error::JsonError;

/// Builds one JSON object member by member.
pub(crate) struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Starts an object (`{`) at the end of `out`.
    pub(crate) fn new(out: &'a mut String) -> Self {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    /// Writes the key of the next member and returns the buffer to write its value to.
    pub(crate) fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push_str(", ");
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push_str(": ");
        self.out
    }

    /// Closes the object (`}`).
    pub(crate) fn end(self) {
        self.out.push('}');
    }
}

/// Writes a JSON string literal, escaped like Python's `json.dumps(ensure_ascii=True)`.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Writes a JSON array of strings (`[]` when empty).
pub(crate) fn write_str_array(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(out, item);
    }
    out.push(']');
}

/// Writes an integer.
pub(crate) fn write_int(out: &mut String, value: impl std::fmt::Display) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
}

/// Parses `bytes` as a JSON object. Empty input (a zero-length header or footer, which
/// the official readers tolerate) is an empty object.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(JsonError::new(format!(
            "expected a JSON object, found {}",
            crate::json::kind(&other)
        ))),
        Err(e) => Err(JsonError::new(format!("not valid JSON: {e}"))),
    }
}

/// An optional string member: absent or `null` is `None`.
pub(crate) fn opt_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, JsonError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(JsonError::new(format!(
            "\"{key}\" must be a string, found {}",
            crate::json::kind(other)
        ))),
    }
}

/// An optional integer member: absent or `null` is `None`.
pub(crate) fn opt_i64(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, JsonError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            JsonError::new(format!(
                "\"{key}\" must be an integer in the signed 64-bit range, found {n}"
            ))
        }),
        Some(other) => Err(JsonError::new(format!(
            "\"{key}\" must be an integer, found {}",
            crate::json::kind(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_python() {
        let mut out = String::new();
        write_str(&mut out, "a\"b\\c\n\r\t\u{08}\u{0c}\u{01}\u{7f}é😀/");
        assert_eq!(out, r#""a\"b\\c\n\r\t\b\f\u0001\u007f\u00e9\ud83d\ude00/""#);
    }

    #[test]
    fn objects_use_python_separators() {
        let mut out = String::new();
        let mut obj = ObjectWriter::new(&mut out);
        write_str_array(obj.key("A"), &["x".into(), "y".into()]);
        write_int(obj.key("B"), -3);
        obj.end();
        assert_eq!(out, r#"{"A": ["x", "y"], "B": -3}"#);
        let mut empty = String::new();
        ObjectWriter::new(&mut empty).end();
        assert_eq!(empty, "{}");
    }

    #[test]
    fn parse_object_rejects_non_objects() {
        assert!(parse_object(b"").unwrap().is_empty());
        assert!(parse_object(b"[]").is_err());
        assert!(parse_object(b"{").is_err());
        assert!(parse_object(b"\xff").is_err());
    }
}
