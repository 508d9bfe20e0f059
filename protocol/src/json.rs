//! Lenient JSON helpers for response models: the service (and the emulators the official
//! SDKs were tested against) send numbers as strings, lists as `null`, and keys in
//! different cases; every parser here accepts all of those.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Deserializes an `i64` from a number, a numeric string, or `null` (→ 0).
pub fn i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    value_to_i64(&v)
        .map(|o| o.unwrap_or(0))
        .map_err(serde::de::Error::custom)
}

/// Deserializes an `Option<i64>` from a number, a numeric string, or `null`/absent.
pub fn opt_i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Value::deserialize(d)?;
    value_to_i64(&v).map_err(serde::de::Error::custom)
}

/// Deserializes a `bool` from a boolean, `"true"`/`"false"` (any case), or `null` (→ false).
pub fn bool_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(false),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
        Value::Number(n) => Ok(n.as_i64().is_some_and(|n| n != 0)),
        other => Err(serde::de::Error::custom(format!(
            "expected a boolean, got {other}"
        ))),
    }
}

/// Deserializes a `String` from a string, a number (rendered), or `null` (→ empty).
pub fn string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Deserializes an `Option<String>` from a string, a number (rendered), or `null`.
pub fn opt_string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// Deserializes a `Vec<T>` from a list, `null` or `{}` (both → empty).
pub fn vec_lenient<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) if m.is_empty() => Ok(Vec::new()),
        v @ Value::Array(_) => serde_json::from_value(v).map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!(
            "expected a list, got {other}"
        ))),
    }
}

/// Deserializes a `Vec<i64>` from a list of numbers or numeric strings (the user guide
/// SDK sends bucket ids as strings), `null` or `{}` (both → empty).
pub fn vec_i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) if m.is_empty() => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                value_to_i64(v).and_then(|o| o.ok_or_else(|| "null in an integer list".to_string()))
            })
            .collect::<Result<_, _>>()
            .map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!(
            "expected a list of integers, got {other}"
        ))),
    }
}

fn value_to_i64(v: &Value) -> Result<Option<i64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().and_then(|u| i64::try_from(u).ok()))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| format!("number {n} is not a 64-bit integer")),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("expected an integer, got {s:?}")),
        other => Err(format!("expected an integer, got {other}")),
    }
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
