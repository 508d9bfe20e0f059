//! Write bodies.

use maxstorage_codec::types::{ArrowOptions, odps_schema};
use maxstorage_protocol::schema::ColumnKind;
use maxstorage_protocol::write::WriteStreamInfo;

use crate::error::{Error, Result};

/// The Arrow schema of `TableWrite` bodies: the data columns, plus the partition
/// columns when the session writes dynamic partitions, plus the system columns the
/// service asks for (e.g. `__operation` of delta tables).
pub fn body_schema(info: &WriteStreamInfo, partition_spec: &str) -> Result<arrow_schema::Schema> {
    let dynamic = partition_spec.trim().is_empty();
    let columns = info
        .table_schema
        .iter()
        .filter(|(kind, _)| match kind {
            ColumnKind::Data | ColumnKind::System => true,
            ColumnKind::Partition => dynamic,
        })
        .map(|(_, c)| Ok((c.name().to_string(), c.odps_type()?, c.column_type.nullable)))
        .collect::<std::result::Result<Vec<_>, maxstorage_protocol::schema::SchemaError>>()
        .map_err(|e| {
            Error::Protocol(maxstorage_protocol::Error::InvalidResponse(
                maxstorage_protocol::InvalidResponse {
                    action: maxstorage_protocol::Action::TableCreateWriteStream,
                    field: Some("TableSchema".into()),
                    detail: e.to_string(),
                    request_id: None,
                },
            ))
        })?;
    Ok(odps_schema(
        columns.iter().map(|(n, t, null)| (n.as_str(), t, *null)),
        &ArrowOptions::default(),
    )?)
}
