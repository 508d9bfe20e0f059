//! Tolerant access to schema JSON, with the location of what was wrong.

use serde_json::{Map, Value};

use super::*;
use crate::json::{self, Mismatch};

/// One step of a JSON location, rendered only when an error is reported.
#[derive(Clone, Copy)]
pub(super) enum Seg<'a> {
    Root(&'a str),
    Key(&'a str),
    Index(usize),
    Name(&'a str),
}

/// A JSON location as a linked list of steps borrowed from the caller's stack.
#[derive(Clone, Copy)]
pub(super) struct JsonPath<'a> {
    parent: Option<&'a JsonPath<'a>>,
    seg: Seg<'a>,
}

impl<'a> JsonPath<'a> {
    pub(super) const fn root(name: &'a str) -> JsonPath<'a> {
        JsonPath {
            parent: None,
            seg: Seg::Root(name),
        }
    }

    pub(super) fn key<'b>(&'b self, key: &'b str) -> JsonPath<'b> {
        JsonPath {
            parent: Some(self),
            seg: Seg::Key(key),
        }
    }

    pub(super) fn index(&self, index: usize) -> JsonPath<'_> {
        JsonPath {
            parent: Some(self),
            seg: Seg::Index(index),
        }
    }

    pub(super) fn name<'b>(&'b self, name: &'b str) -> JsonPath<'b> {
        JsonPath {
            parent: Some(self),
            seg: Seg::Name(name),
        }
    }

    pub(super) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            segs.push(p.seg);
            cur = p.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match *seg {
                Seg::Root(name) => out.push_str(name),
                Seg::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
                Seg::Name(name) => {
                    if !name.is_empty() {
                        out.push_str(&format!("({name:?})"));
                    }
                }
            }
        }
        out
    }
}

/// `mismatch` at `path`, as a schema error.
fn at(path: String, mismatch: Mismatch) -> SchemaError {
    match mismatch {
        Mismatch::Type { expected, found } => SchemaError::WrongJsonType {
            path,
            expected,
            found,
        },
        Mismatch::Value(reason) => SchemaError::InvalidValue { path, reason },
    }
}

pub(super) fn as_object<'v>(
    value: &'v Value,
    here: &JsonPath<'_>,
) -> Result<&'v Map<String, Value>, SchemaError> {
    value.as_object().ok_or_else(|| SchemaError::WrongJsonType {
        path: here.render(),
        expected: "an object",
        found: json::kind(value),
    })
}

/// A member converted by `convert` (see [`crate::json`]); absent or `null` is `None`.
fn member<'v, T>(
    obj: &'v Map<String, Value>,
    key: &str,
    here: &JsonPath<'_>,
    convert: impl FnOnce(&'v Value) -> Result<Option<T>, Mismatch>,
) -> Result<Option<T>, SchemaError> {
    match json::lookup(obj, key) {
        None => Ok(None),
        Some(value) => convert(value).map_err(|m| at(here.key(key).render(), m)),
    }
}

/// A string member ([`json::text`]).
pub(super) fn opt_text(
    obj: &Map<String, Value>,
    key: &str,
    here: &JsonPath<'_>,
) -> Result<Option<String>, SchemaError> {
    member(obj, key, here, json::text)
}

/// An integer member ([`json::int`]).
pub(super) fn opt_i64(
    obj: &Map<String, Value>,
    key: &str,
    here: &JsonPath<'_>,
) -> Result<Option<i64>, SchemaError> {
    member(obj, key, here, json::int)
}

/// A 32-bit integer member ([`json::int`], then range-checked).
pub(super) fn opt_i32(
    obj: &Map<String, Value>,
    key: &str,
    here: &JsonPath<'_>,
) -> Result<Option<i32>, SchemaError> {
    member(obj, key, here, |v| match json::int(v)? {
        None => Ok(None),
        Some(i) => i32::try_from(i)
            .map(Some)
            .map_err(|_| Mismatch::Value(format!("integer {i} does not fit in 32 signed bits"))),
    })
}

/// A boolean member ([`json::boolean`]).
pub(super) fn opt_bool(
    obj: &Map<String, Value>,
    key: &str,
    here: &JsonPath<'_>,
) -> Result<Option<bool>, SchemaError> {
    member(obj, key, here, json::boolean)
}

/// A list member ([`json::list`]): absent is empty.
pub(super) fn opt_list<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    here: &JsonPath<'_>,
) -> Result<&'v [Value], SchemaError> {
    Ok(member(obj, key, here, |v| json::list(v).map(Some))?.unwrap_or(&[]))
}

pub(super) fn parse_json(bytes: &[u8]) -> Result<Value, SchemaError> {
    serde_json::from_slice(bytes).map_err(|e| SchemaError::Json {
        message: e.to_string(),
    })
}
