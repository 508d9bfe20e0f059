//! Why a type string or a schema could not be understood.

use super::*;

/// Why a type string or a schema could not be understood.
///
/// `path` fields name the JSON location, e.g.
/// `TableSchema.DataColumns[2]("c").columnType.SubTypes[0].Type`; a column's name appears
/// in parentheses once it is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A type string is malformed.
    #[error("{}invalid type string {input:?} at byte offset {offset}: {reason}", path_prefix(.path))]
    TypeSyntax {
        /// JSON location of the string (empty when the string was parsed on its own).
        path: String,
        /// The whole type string.
        input: String,
        /// Byte offset into `input` where the problem was found.
        offset: usize,
        /// What was wrong there.
        reason: String,
    },
    /// The schema text is not JSON at all.
    #[error("schema is not valid JSON: {message}")]
    Json {
        /// The JSON parser's message (with line and column).
        message: String,
    },
    /// A JSON value has the wrong kind.
    #[error("{path}: expected {expected}, found {found}")]
    WrongJsonType {
        /// Location of the value.
        path: String,
        /// What was expected (e.g. `an object`, `an integer`).
        expected: &'static str,
        /// The JSON kind found (e.g. `a string`).
        found: &'static str,
    },
    /// A required key is absent or `null`.
    #[error("{path}: required field `{field}` is missing or null")]
    MissingField {
        /// Location of the object lacking the key.
        path: String,
        /// The key.
        field: &'static str,
    },
    /// A value has the right JSON kind but is not acceptable.
    #[error("{path}: {reason}")]
    InvalidValue {
        /// Location of the value.
        path: String,
        /// Why it is not acceptable.
        reason: String,
    },
    /// An ARRAY or MAP type node has the wrong number of `SubTypes`.
    #[error(
        "{path}: a {type_name} type node needs exactly {expected} entries in `SubTypes`, found {found}"
    )]
    SubTypeCount {
        /// Location of the type node.
        path: String,
        /// `ARRAY` or `MAP`.
        type_name: &'static str,
        /// Required number of sub-types.
        expected: usize,
        /// Number present.
        found: usize,
    },
    /// A type tree nests deeper than [`MAX_TYPE_DEPTH`].
    #[error("{path}: type tree nests deeper than {limit} levels")]
    TooDeep {
        /// Location of the first node beyond the limit.
        path: String,
        /// The limit ([`MAX_TYPE_DEPTH`]).
        limit: usize,
    },
    /// [`WriteSchema::resolve_blob_column`] was asked for a name that is not a BLOB column.
    #[error("no BLOB column {name:?}; BLOB columns of this table: {}", list_or_none(.available))]
    NoSuchBlobColumn {
        /// The name or dotted path asked for.
        name: String,
        /// Dotted paths of the table's BLOB columns.
        available: Vec<String>,
    },
    /// [`WriteSchema::resolve_blob_column`] without a name, and the table does not have
    /// exactly one top-level BLOB column and no nested ones.
    #[error("cannot pick a BLOB column automatically ({reason}); name one of: {}", list_or_none(.available))]
    AmbiguousBlobColumn {
        /// Why no single column could be chosen.
        reason: String,
        /// Dotted paths of the table's BLOB columns.
        available: Vec<String>,
    },
}

pub(super) fn path_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

pub(super) fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

impl SchemaError {
    /// Sets the JSON location of a [`SchemaError::TypeSyntax`] error (other kinds already
    /// carry theirs).
    pub(super) fn at_path(self, location: &JsonPath<'_>) -> SchemaError {
        match self {
            SchemaError::TypeSyntax {
                input,
                offset,
                reason,
                ..
            } => SchemaError::TypeSyntax {
                path: location.render(),
                input,
                offset,
                reason,
            },
            other => other,
        }
    }
}
