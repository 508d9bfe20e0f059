//! Lenient JSON, the one place that decides what the service may send for a value: it
//! (and the emulators the official SDKs were tested against) sends numbers as strings,
//! lists as `null` or `{}`, booleans as strings, and keys in different cases.
//!
//! * value conversions — `int`, `boolean`, `text`, `list`, `lookup` — used by the
//!   schema parser (which reports the JSON location of a mismatch) and by
//! * `deserialize_with` helpers for the response models (`i64_lenient`, …).
//!
//! Blob headers and footers are strict instead (`frame::json`): the SDK writes them.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Why a JSON value is not what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// A value of another JSON type.
    Type {
        /// What was expected, e.g. `"an integer"`.
        expected: &'static str,
        /// What was found ([`kind`]).
        found: &'static str,
    },
    /// The right JSON type, an unusable value (the reason).
    Value(String),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Type { expected, found } => write!(f, "expected {expected}, found {found}"),
            Mismatch::Value(reason) => f.write_str(reason),
        }
    }
}

/// A short name of a JSON value's type, for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The non-null value of `key`: exact match first, then ASCII case-insensitive.
pub(crate) fn lookup<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    let value = match obj.get(key) {
        Some(v) => v,
        None => obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?.1,
    };
    (!value.is_null()).then_some(value)
}

/// An integer: a JSON integer, an integral number that converts exactly (`3.0`), or a
/// decimal string; `null` and a blank string are `None`.
pub(crate) fn int(value: &Value) -> Result<Option<i64>, Mismatch> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if n.is_u64() {
                Err(Mismatch::Value(format!(
                    "integer {n} does not fit in 64 signed bits"
                )))
            } else {
                match n.as_f64() {
                    // The range keeps the conversion exact.
                    Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                        Ok(Some(f as i64))
                    }
                    _ => Err(Mismatch::Value(format!("expected an integer, found {n}"))),
                }
            }
        }
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => {
            s.trim().parse::<i64>().map(Some).map_err(|_| {
                Mismatch::Value(format!("expected an integer, found the string {s:?}"))
            })
        }
        other => Err(Mismatch::Type {
            expected: "an integer",
            found: kind(other),
        }),
    }
}

/// A boolean: JSON `true`/`false`, the strings `"true"`/`"false"` (any case), or a number
/// (non-zero is true); `null` and a blank string are `None`.
pub(crate) fn boolean(value: &Value) -> Result<Option<bool>, Mismatch> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Value::String(s) => Err(Mismatch::Value(format!(
            "expected a boolean, found the string {s:?}"
        ))),
        Value::Number(n) => Ok(Some(n.as_f64().is_some_and(|n| n != 0.0))),
        other => Err(Mismatch::Type {
            expected: "a boolean",
            found: kind(other),
        }),
    }
}

/// A string; numbers and booleans are taken as their JSON text (as Gson's `getAsString`
/// does); `null` is `None`.
pub(crate) fn text(value: &Value) -> Result<Option<String>, Mismatch> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(Mismatch::Type {
            expected: "a string",
            found: kind(other),
        }),
    }
}

/// A list: `null` and `{}` (what some servers send for an empty list) are empty.
pub(crate) fn list(value: &Value) -> Result<&[Value], Mismatch> {
    match value {
        Value::Null => Ok(&[]),
        Value::Object(m) if m.is_empty() => Ok(&[]),
        Value::Array(items) => Ok(items),
        other => Err(Mismatch::Type {
            expected: "an array",
            found: kind(other),
        }),
    }
}

/// Deserializes an `i64` with `int` (`null` → 0).
pub fn i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    int(&v)
        .map(|o| o.unwrap_or(0))
        .map_err(serde::de::Error::custom)
}

/// Deserializes an `Option<i64>` with `int`.
pub fn opt_i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Value::deserialize(d)?;
    int(&v).map_err(serde::de::Error::custom)
}

/// Deserializes a `bool` with `boolean` (`null` → false).
pub fn bool_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    boolean(&v)
        .map(|o| o.unwrap_or(false))
        .map_err(serde::de::Error::custom)
}

/// Deserializes a `String` with `text` (`null` → empty); an array or object is kept as
/// its JSON text.
pub fn string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(text(&v)
        .unwrap_or_else(|_| Some(v.to_string()))
        .unwrap_or_default())
}

/// Deserializes an `Option<String>` with `text`; an array or object is kept as its JSON
/// text.
pub fn opt_string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(text(&v).unwrap_or_else(|_| Some(v.to_string())))
}

/// Deserializes a `Vec<T>` from a `list`.
pub fn vec_lenient<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    list(&v)
        .map_err(serde::de::Error::custom)?
        .iter()
        .map(|item| T::deserialize(item).map_err(serde::de::Error::custom))
        .collect()
}

/// Deserializes a `Vec<i64>` from a `list` of `int`s (the user-guide SDK sends bucket
/// ids as strings).
pub fn vec_i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    let v = Value::deserialize(d)?;
    list(&v)
        .map_err(serde::de::Error::custom)?
        .iter()
        .map(|item| match int(item) {
            Ok(Some(i)) => Ok(i),
            Ok(None) => Err(serde::de::Error::custom("null in an integer list")),
            Err(e) => Err(serde::de::Error::custom(e)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "i64_lenient")]
        a: i64,
        #[serde(default, deserialize_with = "opt_i64_lenient")]
        b: Option<i64>,
        #[serde(default, deserialize_with = "bool_lenient")]
        c: bool,
        #[serde(default, deserialize_with = "vec_lenient")]
        d: Vec<String>,
    }

    #[test]
    fn lenient_values() {
        let t: T =
            serde_json::from_str(r#"{"a": "12", "b": 3.0, "c": "TRUE", "d": null}"#).unwrap();
        assert_eq!((t.a, t.b, t.c, t.d.len()), (12, Some(3), true, 0));
        let t: T = serde_json::from_str(r#"{"d": {}}"#).unwrap();
        assert_eq!((t.a, t.b, t.c), (0, None, false));
        assert!(serde_json::from_str::<T>(r#"{"a": "x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a": 1.5}"#).is_err());
        #[derive(Deserialize)]
        struct B {
            #[serde(deserialize_with = "vec_i64_lenient")]
            ids: Vec<i64>,
        }
        let b: B = serde_json::from_str(r#"{"ids": ["0", 1, "2"]}"#).unwrap();
        assert_eq!(b.ids, vec![0, 1, 2]);
        assert!(serde_json::from_str::<B>(r#"{"ids": ["x"]}"#).is_err());
    }
}
