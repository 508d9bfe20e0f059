//! The flat column model both schema shapes convert to and from.

use super::*;

/// A column as both schema shapes describe it: what clients need to build or check Arrow
/// batches and what the emulator needs to emit either shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Column type.
    pub odps_type: OdpsType,
    /// Whether the column accepts NULL.
    pub nullable: bool,
    /// Column comment (empty when none).
    pub comment: String,
    /// Server-assigned column id, if known.
    pub column_id: Option<i64>,
}

impl Column {
    /// A nullable column without comment or id.
    pub fn new(name: impl Into<String>, odps_type: OdpsType) -> Column {
        Column {
            name: name.into(),
            odps_type,
            nullable: true,
            comment: String::new(),
            column_id: None,
        }
    }

    /// This column with the given id.
    #[must_use]
    pub fn with_id(mut self, column_id: i64) -> Column {
        self.column_id = Some(column_id);
        self
    }

    /// This column with the given nullability.
    #[must_use]
    pub fn with_nullable(mut self, nullable: bool) -> Column {
        self.nullable = nullable;
        self
    }

    /// This column with the given comment.
    #[must_use]
    pub fn with_comment(mut self, comment: impl Into<String>) -> Column {
        self.comment = comment.into();
        self
    }
}

/// The columns of a table in the three lists both schema shapes use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableColumns {
    /// Data columns, in table order.
    pub data_columns: Vec<Column>,
    /// Partition columns, in partition-level order.
    pub partition_columns: Vec<Column>,
    /// System columns (e.g. `__operation`).
    pub system_columns: Vec<Column>,
}

impl TableColumns {
    /// All columns with their list, data → partition → system.
    pub fn iter(&self) -> impl Iterator<Item = (ColumnKind, &Column)> {
        tagged(ColumnKind::Data, &self.data_columns)
            .chain(tagged(ColumnKind::Partition, &self.partition_columns))
            .chain(tagged(ColumnKind::System, &self.system_columns))
    }

    /// The first column named `name` (ASCII case-insensitive).
    pub fn find(&self, name: &str) -> Option<(ColumnKind, &Column)> {
        self.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }

    /// Gives every column without an id (or with a negative one) a fresh id, counting up
    /// from one past the largest id in use, in data → partition → system order.
    pub fn assign_missing_column_ids(&mut self) {
        let mut next = self
            .iter()
            .filter_map(|(_, c)| c.column_id)
            .max()
            .unwrap_or(-1)
            .saturating_add(1);
        for column in self
            .data_columns
            .iter_mut()
            .chain(self.partition_columns.iter_mut())
            .chain(self.system_columns.iter_mut())
        {
            if column.column_id.is_none_or(|id| id < 0) {
                column.column_id = Some(next);
                next = next.saturating_add(1);
            }
        }
    }

    /// The read-schema form ([`ReadSchema::from_columns`]).
    pub fn to_read_schema(&self) -> ReadSchema {
        ReadSchema::from_columns(self)
    }

    /// The write-schema form ([`WriteSchema::from_columns`]).
    pub fn to_write_schema(&self) -> WriteSchema {
        WriteSchema::from_columns(self)
    }
}
