//! The write schema (`TableSchema`, protocol.md B§3.6): type code trees.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::*;

/// One node of a write-schema type tree (the `columnType` object and its `SubTypes`,
/// protocol.md B§3.6), field for field as on the wire.
///
/// Serialization emits `Type`, `MemberName`, `ColumnId`, `Nullable`, `SubTypes`,
/// `HasDefaultValue` and `IsDistributionKey` always and `Precision`, `Scale`,
/// `SpecifiedLength`, `DefaultValue` when set. Deserialization is tolerant (see the module
/// docs); only `Type` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeNode {
    /// `Type`: the type code ([`OdpsType::type_code`]).
    #[serde(rename = "Type")]
    pub type_code: i32,
    /// `MemberName`: the column name for a top-level node; `element` for an array element,
    /// `key`/`value` for map entries, the field name for struct members.
    #[serde(rename = "MemberName")]
    pub member_name: String,
    /// `ColumnId`: server-assigned id of this node (top-level and nested; the
    /// `ColumnIndex` of blob uploads). -1 (the default when absent) means unassigned.
    #[serde(rename = "ColumnId")]
    pub column_id: i64,
    /// `Nullable`; `true` when absent.
    #[serde(rename = "Nullable")]
    pub nullable: bool,
    /// `Precision` of a DECIMAL.
    #[serde(rename = "Precision", skip_serializing_if = "Option::is_none")]
    pub precision: Option<i64>,
    /// `Scale` of a DECIMAL.
    #[serde(rename = "Scale", skip_serializing_if = "Option::is_none")]
    pub scale: Option<i64>,
    /// `SpecifiedLength` of a CHAR or VARCHAR.
    #[serde(rename = "SpecifiedLength", skip_serializing_if = "Option::is_none")]
    pub specified_length: Option<i64>,
    /// `SubTypes`: one for ARRAY, two (key, value) for MAP, one per member for STRUCT.
    #[serde(rename = "SubTypes")]
    pub sub_types: Vec<TypeNode>,
    /// `HasDefaultValue`; `false` when absent.
    #[serde(rename = "HasDefaultValue")]
    pub has_default_value: bool,
    /// `DefaultValue`, the default's SQL text.
    #[serde(rename = "DefaultValue", skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    /// `IsDistributionKey`: the column is part of the primary / distribution key (delta
    /// tables); `false` when absent.
    #[serde(rename = "IsDistributionKey")]
    pub is_distribution_key: bool,
}

impl TypeNode {
    /// The node tree describing `ty`, named `member_name`, nullable, with every `ColumnId`
    /// unassigned (-1) and no default value. Nested members are named `element`, `key`,
    /// `value` or after the struct field. Precision, scale and length are set only where
    /// `ty` has them.
    pub fn new(member_name: impl Into<String>, ty: &OdpsType) -> TypeNode {
        let mut node = TypeNode {
            type_code: ty.type_code(),
            member_name: member_name.into(),
            column_id: -1,
            nullable: true,
            precision: None,
            scale: None,
            specified_length: None,
            sub_types: Vec::new(),
            has_default_value: false,
            default_value: None,
            is_distribution_key: false,
        };
        match ty {
            OdpsType::Decimal { precision, scale } => {
                node.precision = precision.map(i64::from);
                node.scale = scale.map(i64::from);
            }
            OdpsType::Char(length) | OdpsType::Varchar(length) => {
                node.specified_length = Some(i64::from(*length));
            }
            OdpsType::Array(element) => node.sub_types = vec![TypeNode::new("element", element)],
            OdpsType::Map(key, value) => {
                node.sub_types = vec![TypeNode::new("key", key), TypeNode::new("value", value)];
            }
            OdpsType::Struct(fields) => {
                node.sub_types = fields
                    .iter()
                    .map(|(name, ty)| TypeNode::new(name.clone(), ty))
                    .collect();
            }
            _ => {}
        }
        node
    }

    /// Parses a type node from JSON (tolerant, see the module docs). The type tree is not
    /// checked for consistency here; [`TypeNode::odps_type`] does that.
    ///
    /// # Errors
    ///
    /// A missing `Type`, values of the wrong JSON kind, nesting deeper than
    /// [`MAX_TYPE_DEPTH`].
    pub fn from_value(value: &Value) -> Result<TypeNode, SchemaError> {
        parse_type_node(value, &JsonPath::root("columnType"), 1)
    }

    /// The type this node describes ([`OdpsType::from_type_node`]).
    ///
    /// # Errors
    ///
    /// See [`OdpsType::from_type_node`].
    pub fn odps_type(&self) -> Result<OdpsType, SchemaError> {
        OdpsType::from_type_node(self)
    }

    /// `ColumnId` when assigned (non-negative).
    pub fn assigned_column_id(&self) -> Option<i64> {
        (self.column_id >= 0).then_some(self.column_id)
    }

    /// Whether this node or any node below it has type code 22 (BLOB).
    pub fn contains_blob(&self) -> bool {
        self.type_code == 22 || self.sub_types.iter().any(TypeNode::contains_blob)
    }
}

impl<'de> Deserialize<'de> for TypeNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        TypeNode::from_value(&value).map_err(de::Error::custom)
    }
}

pub(super) fn parse_type_node(
    value: &Value,
    at: &JsonPath<'_>,
    depth: usize,
) -> Result<TypeNode, SchemaError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(SchemaError::TooDeep {
            path: at.render(),
            limit: MAX_TYPE_DEPTH,
        });
    }
    let obj = as_object(value, at)?;
    let member_name = opt_text(obj, "MemberName", at)?.unwrap_or_default();
    let here = at.name(&member_name);
    let type_code = opt_i32(obj, "Type", &here)?.ok_or_else(|| SchemaError::MissingField {
        path: here.render(),
        field: "Type",
    })?;
    let subs_at = here.key("SubTypes");
    let sub_types = opt_list(obj, "SubTypes", &here)?
        .iter()
        .enumerate()
        .map(|(i, sub)| parse_type_node(sub, &subs_at.index(i), depth + 1))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TypeNode {
        type_code,
        column_id: opt_i64(obj, "ColumnId", &here)?.unwrap_or(-1),
        nullable: opt_bool(obj, "Nullable", &here)?.unwrap_or(true),
        precision: opt_i64(obj, "Precision", &here)?,
        scale: opt_i64(obj, "Scale", &here)?,
        specified_length: opt_i64(obj, "SpecifiedLength", &here)?,
        sub_types,
        has_default_value: opt_bool(obj, "HasDefaultValue", &here)?.unwrap_or(false),
        default_value: opt_text(obj, "DefaultValue", &here)?,
        is_distribution_key: opt_bool(obj, "IsDistributionKey", &here)?.unwrap_or(false),
        member_name,
    })
}

pub(super) fn u32_param(
    value: Option<i64>,
    field: &str,
    at: &JsonPath<'_>,
) -> Result<Option<u32>, SchemaError> {
    value
        .map(|v| {
            u32::try_from(v).map_err(|_| SchemaError::InvalidValue {
                path: at.key(field).render(),
                reason: format!("{field} must be between 0 and {}, found {v}", u32::MAX),
            })
        })
        .transpose()
}

/// The type of `node`; `here` is the node's location (including its name).
pub(super) fn type_from_node(
    node: &TypeNode,
    here: &JsonPath<'_>,
    depth: usize,
) -> Result<OdpsType, SchemaError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(SchemaError::TooDeep {
            path: here.render(),
            limit: MAX_TYPE_DEPTH,
        });
    }
    if let Some(ty) = primitive_for_code(node.type_code) {
        return Ok(ty);
    }
    let subs_at = here.key("SubTypes");
    let sub = |i: usize| -> Result<OdpsType, SchemaError> {
        match node.sub_types.get(i) {
            Some(sub) => {
                let index_at = subs_at.index(i);
                type_from_node(sub, &index_at.name(&sub.member_name), depth + 1)
            }
            None => Err(SchemaError::MissingField {
                path: subs_at.render(),
                field: "SubTypes",
            }),
        }
    };
    let expect_subs = |type_name: &'static str, expected: usize| -> Result<(), SchemaError> {
        if node.sub_types.len() == expected {
            Ok(())
        } else {
            Err(SchemaError::SubTypeCount {
                path: here.render(),
                type_name,
                expected,
                found: node.sub_types.len(),
            })
        }
    };
    Ok(match node.type_code {
        5 => OdpsType::Decimal {
            precision: u32_param(node.precision, "Precision", here)?,
            scale: u32_param(node.scale, "Scale", here)?,
        },
        9 | 10 => {
            let length = u32_param(node.specified_length, "SpecifiedLength", here)?.unwrap_or(0);
            if node.type_code == 9 {
                OdpsType::Char(length)
            } else {
                OdpsType::Varchar(length)
            }
        }
        17 => {
            expect_subs(code_name(17), 1)?;
            OdpsType::Array(Box::new(sub(0)?))
        }
        18 => {
            expect_subs(code_name(18), 2)?;
            OdpsType::Map(Box::new(sub(0)?), Box::new(sub(1)?))
        }
        19 => {
            let mut fields = Vec::with_capacity(node.sub_types.len());
            for (i, member) in node.sub_types.iter().enumerate() {
                if member.member_name.is_empty() {
                    return Err(SchemaError::InvalidValue {
                        path: subs_at.index(i).key("MemberName").render(),
                        reason: "a STRUCT member needs a non-empty `MemberName`".to_owned(),
                    });
                }
                fields.push((member.member_name.clone(), sub(i)?));
            }
            OdpsType::Struct(fields)
        }
        -1 => OdpsType::Unknown("unknown".to_owned()),
        code => OdpsType::Unknown(format!("unknown({code})")),
    })
}

/// The items of `list`, each paired with `kind`.
pub(super) fn tagged<T>(kind: ColumnKind, list: &[T]) -> impl Iterator<Item = (ColumnKind, &T)> {
    list.iter().map(move |item| (kind, item))
}

/// Which list of a schema a column belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// `DataColumns`.
    Data,
    /// `PartitionColumns`.
    Partition,
    /// `SystemColumns`.
    System,
}

impl ColumnKind {
    /// The JSON key of the list (`DataColumns`, `PartitionColumns`, `SystemColumns`).
    pub fn json_key(self) -> &'static str {
        match self {
            ColumnKind::Data => "DataColumns",
            ColumnKind::Partition => "PartitionColumns",
            ColumnKind::System => "SystemColumns",
        }
    }
}

/// A column of a write schema: `{columnType, comment, label, extendedLabels}` (lower-case
/// keys on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteColumn {
    /// `columnType`: the type tree; its `MemberName` is the column name, its `ColumnId`
    /// the column id, its `Nullable` the column's nullability.
    #[serde(rename = "columnType")]
    pub column_type: TypeNode,
    /// `comment`; empty when absent.
    #[serde(rename = "comment")]
    pub comment: String,
    /// `label` (security label); empty when absent.
    #[serde(rename = "label")]
    pub label: String,
    /// `extendedLabels`; empty when absent.
    #[serde(rename = "extendedLabels")]
    pub extended_labels: Vec<String>,
}

impl WriteColumn {
    /// The column name (`columnType.MemberName`).
    pub fn name(&self) -> &str {
        &self.column_type.member_name
    }

    /// The column type.
    ///
    /// # Errors
    ///
    /// See [`OdpsType::from_type_node`] (never fails for a column obtained by parsing,
    /// which validates its type tree, unless it was modified since).
    pub fn odps_type(&self) -> Result<OdpsType, SchemaError> {
        self.column_type.odps_type()
    }

    /// The flat view of this column.
    ///
    /// # Errors
    ///
    /// See [`OdpsType::from_type_node`].
    pub fn to_column(&self) -> Result<Column, SchemaError> {
        Ok(Column {
            name: self.column_type.member_name.clone(),
            odps_type: self.odps_type()?,
            nullable: self.column_type.nullable,
            comment: self.comment.clone(),
            column_id: self.column_type.assigned_column_id(),
        })
    }

    /// A write column for `column` ([`TypeNode::new`] with the column's name, id —
    /// -1 when `None` — and nullability), without label.
    pub fn from_column(column: &Column) -> WriteColumn {
        let mut column_type = TypeNode::new(column.name.clone(), &column.odps_type);
        column_type.column_id = column.column_id.unwrap_or(-1);
        column_type.nullable = column.nullable;
        WriteColumn {
            column_type,
            comment: column.comment.clone(),
            label: String::new(),
            extended_labels: Vec::new(),
        }
    }

    /// Parses a write column from JSON and checks that its type tree describes a valid
    /// type.
    ///
    /// # Errors
    ///
    /// A missing `columnType`, any [`TypeNode::from_value`] or
    /// [`OdpsType::from_type_node`] error.
    pub fn from_value(value: &Value) -> Result<WriteColumn, SchemaError> {
        parse_write_column(value, &JsonPath::root("column"))
    }
}

impl<'de> Deserialize<'de> for WriteColumn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        WriteColumn::from_value(&value).map_err(de::Error::custom)
    }
}

pub(super) fn parse_write_column(
    value: &Value,
    at: &JsonPath<'_>,
) -> Result<WriteColumn, SchemaError> {
    let obj = as_object(value, at)?;
    let type_value =
        crate::json::lookup(obj, "columnType").ok_or_else(|| SchemaError::MissingField {
            path: at.render(),
            field: "columnType",
        })?;
    let column_type = parse_type_node(type_value, &at.key("columnType"), 1)?;
    let here = at.name(&column_type.member_name);
    type_from_node(&column_type, &here.key("columnType"), 1)?;
    let labels_at = here.key("extendedLabels");
    let extended_labels = opt_list(obj, "extendedLabels", &here)?
        .iter()
        .enumerate()
        .map(|(i, label)| match label {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(SchemaError::WrongJsonType {
                path: labels_at.index(i).render(),
                expected: "a string",
                found: crate::json::kind(other),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WriteColumn {
        comment: opt_text(obj, "comment", &here)?.unwrap_or_default(),
        label: opt_text(obj, "label", &here)?.unwrap_or_default(),
        extended_labels,
        column_type,
    })
}

pub(super) fn parse_write_columns(
    obj: &Map<String, Value>,
    kind: ColumnKind,
    at: &JsonPath<'_>,
) -> Result<Vec<WriteColumn>, SchemaError> {
    let key = kind.json_key();
    let list_at = at.key(key);
    opt_list(obj, key, at)?
        .iter()
        .enumerate()
        .map(|(i, column)| parse_write_column(column, &list_at.index(i)))
        .collect()
}

/// Where a BLOB node sits in a write schema (see [`WriteSchema::blob_columns`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobColumnRef {
    /// The list holding the top-level column.
    pub kind: ColumnKind,
    /// Path from the top-level column name down to the BLOB node: `["c"]` for a BLOB
    /// column, `["tags", "element"]` for `tags array<blob>`, `["s", "f"]` for a struct
    /// member, `["m", "value"]` for a map value. Nested names are the nodes' `MemberName`
    /// (or `element`/`key`/`value`/the index when that is empty).
    pub path: Vec<String>,
    /// The BLOB node's `ColumnId` — the `ColumnIndex` of blob uploads — or `None` when the
    /// server did not assign one.
    pub column_id: Option<i64>,
}

impl BlobColumnRef {
    /// The top-level column name.
    pub fn column_name(&self) -> &str {
        self.path.first().map(String::as_str).unwrap_or_default()
    }

    /// Whether the BLOB is nested inside an ARRAY, MAP or STRUCT.
    pub fn is_nested(&self) -> bool {
        self.path.len() > 1
    }

    /// The path joined with `.` (`tags.element`), as the Python SDK names nested columns.
    pub fn dotted_path(&self) -> String {
        self.path.join(".")
    }
}

pub(super) fn collect_blobs(
    node: &TypeNode,
    kind: ColumnKind,
    path: &mut Vec<String>,
    depth: usize,
    out: &mut Vec<BlobColumnRef>,
) {
    if node.type_code == 22 {
        out.push(BlobColumnRef {
            kind,
            path: path.clone(),
            column_id: node.assigned_column_id(),
        });
    }
    if depth >= MAX_TYPE_DEPTH {
        return;
    }
    for (i, sub) in node.sub_types.iter().enumerate() {
        let segment = if !sub.member_name.is_empty() {
            sub.member_name.clone()
        } else {
            match (node.type_code, i) {
                (17, _) => "element".to_owned(),
                (18, 0) => "key".to_owned(),
                (18, _) => "value".to_owned(),
                _ => i.to_string(),
            }
        };
        path.push(segment);
        collect_blobs(sub, kind, path, depth + 1, out);
        path.pop();
    }
}

pub(super) fn assign_nested_ids(node: &mut TypeNode, next: &mut i64, depth: usize) {
    if depth >= MAX_TYPE_DEPTH {
        return;
    }
    for sub in &mut node.sub_types {
        if sub.column_id < 0 {
            sub.column_id = *next;
            *next = next.saturating_add(1);
        }
        assign_nested_ids(sub, next, depth + 1);
    }
}

/// A write schema (`TableSchema` in `TableCreateWriteStream`, `TableGetWriteStream`,
/// `TableGetWriteSchema`, instance and C++ read-session responses; protocol.md B§3.6).
///
/// Serializes as `{DataColumns, PartitionColumns, SystemColumns[, MaxFieldSize]}` with all
/// three lists always present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct WriteSchema {
    /// `DataColumns`.
    #[serde(rename = "DataColumns")]
    pub data_columns: Vec<WriteColumn>,
    /// `PartitionColumns` (the Java and Python SDKs ignore it, C++ requires the key).
    #[serde(rename = "PartitionColumns")]
    pub partition_columns: Vec<WriteColumn>,
    /// `SystemColumns`, e.g. `__operation` of delta tables.
    #[serde(rename = "SystemColumns")]
    pub system_columns: Vec<WriteColumn>,
    /// `MaxFieldSize` in bytes (the C++ SDK assumes 8 MiB when absent).
    #[serde(rename = "MaxFieldSize", skip_serializing_if = "Option::is_none")]
    pub max_field_size: Option<i64>,
}

impl WriteSchema {
    /// Parses a `TableSchema` JSON document.
    ///
    /// # Errors
    ///
    /// [`SchemaError::Json`] for text that is not JSON, otherwise as
    /// [`WriteSchema::from_value`].
    pub fn from_json(bytes: &[u8]) -> Result<WriteSchema, SchemaError> {
        WriteSchema::from_value(&parse_json(bytes)?)
    }

    /// Reads a `TableSchema` JSON value. `null` is the empty schema; missing, `null` or
    /// `{}` column lists are empty; every column's type tree is validated.
    ///
    /// # Errors
    ///
    /// A value that is not an object, a column without `columnType` or whose type tree is
    /// invalid ([`OdpsType::from_type_node`]), values of the wrong JSON kind; each error
    /// names its location, e.g. `TableSchema.DataColumns[2]("c").columnType.Type`.
    pub fn from_value(value: &Value) -> Result<WriteSchema, SchemaError> {
        let at = JsonPath::root("TableSchema");
        if value.is_null() {
            return Ok(WriteSchema::default());
        }
        let obj = as_object(value, &at)?;
        Ok(WriteSchema {
            data_columns: parse_write_columns(obj, ColumnKind::Data, &at)?,
            partition_columns: parse_write_columns(obj, ColumnKind::Partition, &at)?,
            system_columns: parse_write_columns(obj, ColumnKind::System, &at)?,
            max_field_size: opt_i64(obj, "MaxFieldSize", &at)?,
        })
    }

    /// The write schema of `columns`: top-level columns keep their ids; columns without an
    /// id and then all nested nodes (pre-order, data → partition → system) get fresh ids
    /// counting up from one past the largest id in use. `MaxFieldSize` is left unset.
    pub fn from_columns(columns: &TableColumns) -> WriteSchema {
        let convert = |list: &[Column]| list.iter().map(WriteColumn::from_column).collect();
        let mut schema = WriteSchema {
            data_columns: convert(&columns.data_columns),
            partition_columns: convert(&columns.partition_columns),
            system_columns: convert(&columns.system_columns),
            max_field_size: None,
        };
        schema.assign_missing_column_ids();
        schema
    }

    /// Gives every node whose `ColumnId` is unassigned (negative) a fresh id: first the
    /// top-level columns, then the nested nodes in pre-order (data → partition → system),
    /// counting up from one past the largest id in use.
    pub fn assign_missing_column_ids(&mut self) {
        fn max_id(node: &TypeNode, depth: usize) -> i64 {
            let below = if depth >= MAX_TYPE_DEPTH {
                -1
            } else {
                node.sub_types
                    .iter()
                    .map(|s| max_id(s, depth + 1))
                    .max()
                    .unwrap_or(-1)
            };
            node.column_id.max(below)
        }
        let mut next = self
            .iter()
            .map(|(_, c)| max_id(&c.column_type, 1))
            .max()
            .unwrap_or(-1)
            .saturating_add(1);
        for column in self.columns_mut() {
            if column.column_type.column_id < 0 {
                column.column_type.column_id = next;
                next = next.saturating_add(1);
            }
        }
        for column in self.columns_mut() {
            assign_nested_ids(&mut column.column_type, &mut next, 1);
        }
    }

    fn columns_mut(&mut self) -> impl Iterator<Item = &mut WriteColumn> {
        self.data_columns
            .iter_mut()
            .chain(self.partition_columns.iter_mut())
            .chain(self.system_columns.iter_mut())
    }

    /// All columns with their list, data → partition → system.
    pub fn iter(&self) -> impl Iterator<Item = (ColumnKind, &WriteColumn)> {
        tagged(ColumnKind::Data, &self.data_columns)
            .chain(tagged(ColumnKind::Partition, &self.partition_columns))
            .chain(tagged(ColumnKind::System, &self.system_columns))
    }

    /// The first column named `name` (ASCII case-insensitive, as MaxCompute names are).
    pub fn find(&self, name: &str) -> Option<(ColumnKind, &WriteColumn)> {
        self.iter()
            .find(|(_, c)| c.name().eq_ignore_ascii_case(name))
    }

    /// The flat view of all three lists.
    ///
    /// # Errors
    ///
    /// See [`OdpsType::from_type_node`] (only possible if the schema was modified after
    /// parsing).
    pub fn columns(&self) -> Result<TableColumns, SchemaError> {
        let convert = |list: &[WriteColumn]| {
            list.iter()
                .map(WriteColumn::to_column)
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(TableColumns {
            data_columns: convert(&self.data_columns)?,
            partition_columns: convert(&self.partition_columns)?,
            system_columns: convert(&self.system_columns)?,
        })
    }

    /// Every BLOB node of the schema — top-level BLOB columns and BLOBs nested in ARRAY,
    /// MAP or STRUCT columns — with its path and `ColumnId` (the `ColumnIndex` to use when
    /// uploading blobs for it), in column order.
    pub fn blob_columns(&self) -> Vec<BlobColumnRef> {
        let mut out = Vec::new();
        for (kind, column) in self.iter() {
            let mut path = vec![column.name().to_owned()];
            collect_blobs(&column.column_type, kind, &mut path, 1, &mut out);
        }
        out
    }

    /// Whether any column is or contains a BLOB.
    pub fn has_blob_columns(&self) -> bool {
        self.iter().any(|(_, c)| c.column_type.contains_blob())
    }

    /// Chooses the BLOB column blobs are uploaded for. With a name, the BLOB column whose
    /// dotted path ([`BlobColumnRef::dotted_path`]) equals it (ASCII case-insensitive);
    /// without, the only BLOB column — allowed only when there is exactly one top-level
    /// BLOB column and no nested one.
    ///
    /// # Errors
    ///
    /// [`SchemaError::NoSuchBlobColumn`] or [`SchemaError::AmbiguousBlobColumn`], both
    /// listing the available paths.
    pub fn resolve_blob_column(&self, name: Option<&str>) -> Result<BlobColumnRef, SchemaError> {
        let blobs = self.blob_columns();
        let available = || {
            blobs
                .iter()
                .map(BlobColumnRef::dotted_path)
                .collect::<Vec<_>>()
        };
        match name {
            Some(name) => blobs
                .iter()
                .find(|b| b.dotted_path().eq_ignore_ascii_case(name))
                .cloned()
                .ok_or_else(|| SchemaError::NoSuchBlobColumn {
                    name: name.to_owned(),
                    available: available(),
                }),
            None => {
                let top: Vec<&BlobColumnRef> = blobs.iter().filter(|b| !b.is_nested()).collect();
                let nested = blobs.len() - top.len();
                match (top.as_slice(), nested) {
                    ([only], 0) => Ok((*only).clone()),
                    _ => Err(SchemaError::AmbiguousBlobColumn {
                        reason: format!(
                            "{} top-level and {nested} nested BLOB column(s)",
                            top.len()
                        ),
                        available: available(),
                    }),
                }
            }
        }
    }

    /// The `__operation` column of a delta table: from `SystemColumns`, else from
    /// `DataColumns` (where some servers also list it). Names compare ASCII
    /// case-insensitively.
    pub fn operation_column(&self) -> Option<(ColumnKind, &WriteColumn)> {
        let named = |c: &&WriteColumn| c.name().eq_ignore_ascii_case(OPERATION_COLUMN);
        self.system_columns
            .iter()
            .find(named)
            .map(|c| (ColumnKind::System, c))
            .or_else(|| {
                self.data_columns
                    .iter()
                    .find(named)
                    .map(|c| (ColumnKind::Data, c))
            })
    }

    /// Data columns flagged `IsDistributionKey` (the primary key of a delta table).
    pub fn distribution_key_columns(&self) -> Vec<&WriteColumn> {
        self.data_columns
            .iter()
            .filter(|c| c.column_type.is_distribution_key)
            .collect()
    }

    /// Whether this is a delta (primary-key) table: it has an `__operation` column or a
    /// column flagged `IsDistributionKey`.
    pub fn is_delta(&self) -> bool {
        self.operation_column().is_some()
            || self.iter().any(|(_, c)| c.column_type.is_distribution_key)
    }
}

impl<'de> Deserialize<'de> for WriteSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        WriteSchema::from_value(&value).map_err(de::Error::custom)
    }
}
