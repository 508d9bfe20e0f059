//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub(crate) mod arb;

use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use maxstorage_codec::CodecError;
use maxstorage_codec::read::{ArrowStreamDecoder, DecoderOptions};

/// The recorded vectors of the official SDK, kept in the repository (`conformance/vectors/`).
pub(crate) fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/vectors"
    ))
}

/// A committed fixture of `tests/fixtures/`.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Feeds `body` in chunks of the given sizes (cycled), taking batches as they come.
pub(crate) fn decode_chunked(
    body: &[u8],
    chunk_sizes: &[usize],
    options: DecoderOptions,
) -> Result<(SchemaRef, Vec<RecordBatch>), CodecError> {
    let mut d = ArrowStreamDecoder::new(options);
    let mut batches = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < body.len() {
        let n = chunk_sizes[i % chunk_sizes.len()]
            .max(1)
            .min(body.len() - pos);
        i += 1;
        d.feed(&body[pos..pos + n])?;
        pos += n;
        while let Some(b) = d.next_batch()? {
            batches.push(b);
        }
    }
    d.finish()?;
    while let Some(b) = d.next_batch()? {
        batches.push(b);
    }
    assert_eq!(d.bytes_fed(), body.len() as u64);
    assert_eq!(
        d.rows(),
        batches.iter().map(|b| b.num_rows() as u64).sum::<u64>()
    );
    Ok((d.schema().expect("schema after a complete stream"), batches))
}

/// All rows of `batches` as one batch.
pub(crate) fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(schema, batches).unwrap()
}
