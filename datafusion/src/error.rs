//! Errors of the client as DataFusion errors.

use datafusion::common::DataFusionError;

/// A client error as a DataFusion error (its message and source chain kept).
pub(crate) fn to_datafusion(error: maxstorage::Error) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

/// Whether `error` says the table does not exist.
pub(crate) fn is_missing_table(error: &maxstorage::Error) -> bool {
    match error {
        maxstorage::Error::Protocol(maxstorage::protocol::Error::Service(e)) => {
            e.status == 404 && e.code.starts_with("NoSuch")
        }
        _ => false,
    }
}
