//! The read schema (`DataSchema`, protocol.md B§3.4): columns with a type string.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::*;

/// A column of a read schema: `{Name, Type, Comment, Nullable, ColumnId}`.
///
/// Serializes every key (`ColumnId` only when known, since no value can stand for
/// "unassigned"); the type as its canonical string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadColumn {
    /// `Name`.
    #[serde(rename = "Name")]
    pub name: String,
    /// `Type`, parsed from the type string.
    #[serde(rename = "Type")]
    pub odps_type: OdpsType,
    /// `Comment`; empty when absent.
    #[serde(rename = "Comment")]
    pub comment: String,
    /// `Nullable`; `true` when absent.
    #[serde(rename = "Nullable")]
    pub nullable: bool,
    /// `ColumnId`; `None` when absent or negative.
    #[serde(rename = "ColumnId", skip_serializing_if = "Option::is_none")]
    pub column_id: Option<i64>,
}

impl ReadColumn {
    /// Parses a read column from JSON.
    ///
    /// # Errors
    ///
    /// A missing `Name` or `Type`, a malformed type string
    /// ([`SchemaError::TypeSyntax`] with its location and offset), values of the wrong
    /// JSON kind.
    pub fn from_value(value: &Value) -> Result<ReadColumn, SchemaError> {
        parse_read_column(value, &JsonPath::root("column"))
    }
}

impl<'de> Deserialize<'de> for ReadColumn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ReadColumn::from_value(&value).map_err(de::Error::custom)
    }
}

impl From<&Column> for ReadColumn {
    fn from(column: &Column) -> ReadColumn {
        ReadColumn {
            name: column.name.clone(),
            odps_type: column.odps_type.clone(),
            comment: column.comment.clone(),
            nullable: column.nullable,
            column_id: column.column_id,
        }
    }
}

impl From<&ReadColumn> for Column {
    fn from(column: &ReadColumn) -> Column {
        Column {
            name: column.name.clone(),
            odps_type: column.odps_type.clone(),
            nullable: column.nullable,
            comment: column.comment.clone(),
            column_id: column.column_id,
        }
    }
}

pub(super) fn parse_read_column(
    value: &Value,
    at: &JsonPath<'_>,
) -> Result<ReadColumn, SchemaError> {
    let obj = as_object(value, at)?;
    let name = opt_text(obj, "Name", at)?.ok_or_else(|| SchemaError::MissingField {
        path: at.render(),
        field: "Name",
    })?;
    let here = at.name(&name);
    let type_text = match crate::json::lookup(obj, "Type") {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(SchemaError::WrongJsonType {
                path: here.key("Type").render(),
                expected: "a type string",
                found: crate::json::kind(other),
            });
        }
        None => {
            return Err(SchemaError::MissingField {
                path: here.render(),
                field: "Type",
            });
        }
    };
    let odps_type = OdpsType::parse(type_text).map_err(|e| e.at_path(&here.key("Type")))?;
    Ok(ReadColumn {
        odps_type,
        comment: opt_text(obj, "Comment", &here)?.unwrap_or_default(),
        nullable: opt_bool(obj, "Nullable", &here)?.unwrap_or(true),
        column_id: opt_i64(obj, "ColumnId", &here)?.filter(|id| *id >= 0),
        name,
    })
}

pub(super) fn parse_read_columns(
    obj: &Map<String, Value>,
    key: &'static str,
    at: &JsonPath<'_>,
) -> Result<Vec<ReadColumn>, SchemaError> {
    let list_at = at.key(key);
    opt_list(obj, key, at)?
        .iter()
        .enumerate()
        .map(|(i, column)| parse_read_column(column, &list_at.index(i)))
        .collect()
}

/// A read schema (`DataSchema` in read-session responses, protocol.md B§3.4).
///
/// Serializes as `{DataColumns, PartitionColumns, SystemColumns, BlobColumns}` with every
/// list present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ReadSchema {
    /// `DataColumns`.
    #[serde(rename = "DataColumns")]
    pub data_columns: Vec<ReadColumn>,
    /// `PartitionColumns`.
    #[serde(rename = "PartitionColumns")]
    pub partition_columns: Vec<ReadColumn>,
    /// `SystemColumns`.
    #[serde(rename = "SystemColumns")]
    pub system_columns: Vec<ReadColumn>,
    /// `BlobColumns`: the BLOB columns among the data columns.
    #[serde(rename = "BlobColumns")]
    pub blob_columns: Vec<ReadColumn>,
}

impl ReadSchema {
    /// Parses a `DataSchema` JSON document.
    ///
    /// # Errors
    ///
    /// [`SchemaError::Json`] for text that is not JSON, otherwise as
    /// [`ReadSchema::from_value`].
    pub fn from_json(bytes: &[u8]) -> Result<ReadSchema, SchemaError> {
        ReadSchema::from_value(&parse_json(bytes)?)
    }

    /// Reads a `DataSchema` JSON value. `null` is the empty schema; missing, `null` or `{}`
    /// lists are empty; a missing `Nullable` is `true`, a missing `ColumnId` `None`.
    ///
    /// # Errors
    ///
    /// A value that is not an object, a column without `Name` or `Type`, a malformed type
    /// string, values of the wrong JSON kind; each error names its location, e.g.
    /// `DataSchema.DataColumns[1]("b").Type`.
    pub fn from_value(value: &Value) -> Result<ReadSchema, SchemaError> {
        let at = JsonPath::root("DataSchema");
        if value.is_null() {
            return Ok(ReadSchema::default());
        }
        let obj = as_object(value, &at)?;
        Ok(ReadSchema {
            data_columns: parse_read_columns(obj, "DataColumns", &at)?,
            partition_columns: parse_read_columns(obj, "PartitionColumns", &at)?,
            system_columns: parse_read_columns(obj, "SystemColumns", &at)?,
            blob_columns: parse_read_columns(obj, "BlobColumns", &at)?,
        })
    }

    /// The read schema of `columns`; `BlobColumns` lists the top-level data columns of type
    /// BLOB.
    pub fn from_columns(columns: &TableColumns) -> ReadSchema {
        let convert = |list: &[Column]| list.iter().map(ReadColumn::from).collect::<Vec<_>>();
        ReadSchema {
            data_columns: convert(&columns.data_columns),
            partition_columns: convert(&columns.partition_columns),
            system_columns: convert(&columns.system_columns),
            blob_columns: columns
                .data_columns
                .iter()
                .filter(|c| c.odps_type == OdpsType::Blob)
                .map(ReadColumn::from)
                .collect(),
        }
    }

    /// The flat view of the data, partition and system columns (`BlobColumns` repeats data
    /// columns and is not included).
    pub fn columns(&self) -> TableColumns {
        let convert = |list: &[ReadColumn]| list.iter().map(Column::from).collect::<Vec<_>>();
        TableColumns {
            data_columns: convert(&self.data_columns),
            partition_columns: convert(&self.partition_columns),
            system_columns: convert(&self.system_columns),
        }
    }

    /// All data, partition and system columns with their list.
    pub fn iter(&self) -> impl Iterator<Item = (ColumnKind, &ReadColumn)> {
        tagged(ColumnKind::Data, &self.data_columns)
            .chain(tagged(ColumnKind::Partition, &self.partition_columns))
            .chain(tagged(ColumnKind::System, &self.system_columns))
    }

    /// The first data, partition or system column named `name` (ASCII case-insensitive).
    pub fn find(&self, name: &str) -> Option<(ColumnKind, &ReadColumn)> {
        self.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }
}

impl<'de> Deserialize<'de> for ReadSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ReadSchema::from_value(&value).map_err(de::Error::custom)
    }
}
