//! Entry points for the fuzz targets (`fuzz/`, `fuzz-targets/`): the emulator's own
//! parsers of untrusted input, which are not public API otherwise.

use arrow_array::RecordBatch;

/// Parses a filter predicate and, when it parses, evaluates it on `batch` (with
/// `partitions` as constant partition columns). Never panics; errors are returned as
/// their message.
pub fn filter(
    predicate: &str,
    batch: &RecordBatch,
    partitions: &[(String, String)],
) -> Result<Option<Vec<bool>>, String> {
    match crate::filter::parse(predicate).map_err(|e| e.message)? {
        None => Ok(None),
        Some(expr) => crate::filter::mask(&expr, batch, partitions)
            .map(Some)
            .map_err(|e| e.message),
    }
}
