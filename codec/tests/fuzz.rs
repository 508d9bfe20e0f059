//! The decoder entry points take arbitrary bytes and never panic: random bytes and
//! byte-wise mutations of valid streams (each IPC buffer compression and whole-body
//! compression), fed with random chunking. Any result is acceptable except a panic; the
//! declared sizes of mutated messages are checked against the limits before anything
//! is buffered.

mod common;

use maxstorage_codec::CodecError;
use maxstorage_codec::compress::{self, Decompressor};
use maxstorage_codec::read::{ArrowStreamDecoder, BodyEncoding, DecoderOptions};
use maxstorage_codec::write::encode_stream;
use maxstorage_protocol::Compression;
use proptest::prelude::*;

use common::arb::{self, Rng};

const CODECS: [Compression; 3] = [
    Compression::Uncompressed,
    Compression::Zstd,
    Compression::Lz4Frame,
];

/// Cases per property: 2048, or `$MAXSTORAGE_FUZZ_CASES` for longer runs.
fn fuzz_cases() -> u32 {
    std::env::var("MAXSTORAGE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048)
}

/// Small limits, so that a mutated length cannot make the test allocate much.
fn options(encoding: BodyEncoding) -> DecoderOptions {
    DecoderOptions::default()
        .with_body_encoding(encoding)
        .with_max_message_bytes(4 << 20)
        .with_max_decompressed_batch_bytes(16 << 20)
}

/// Feeds `data` in chunks, taking batches; returns the first error (or Ok).
fn run(data: &[u8], chunks: &[usize], options: DecoderOptions) -> Result<usize, CodecError> {
    let mut d = ArrowStreamDecoder::new(options);
    let mut rows = 0;
    let mut pos = 0;
    let mut i = 0;
    while pos < data.len() {
        let n = chunks[i % chunks.len()].max(1).min(data.len() - pos);
        i += 1;
        d.feed(&data[pos..pos + n])?;
        pos += n;
        while let Some(b) = d.next_batch()? {
            rows += b.num_rows();
        }
        // Input is decoded as it comes: at most the last chunk waits.
        assert!(
            d.bytes_pending() <= n as u64 + 4,
            "{} pending",
            d.bytes_pending()
        );
    }
    d.finish()?;
    while let Some(b) = d.next_batch()? {
        rows += b.num_rows();
    }
    Ok(rows)
}

fn valid_stream(seed: u64, ipc: Compression, body: Compression) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let schema = proptest::strategy::ValueTree::current(
        &Strategy::new_tree(
            &arb::schema(),
            &mut proptest::test_runner::TestRunner::new_with_rng(
                proptest::test_runner::Config::default(),
                proptest::test_runner::TestRng::from_seed(
                    proptest::test_runner::RngAlgorithm::ChaCha,
                    &{
                        let mut s = [0u8; 32];
                        s[..8].copy_from_slice(&seed.to_le_bytes());
                        s
                    },
                ),
            ),
        )
        .unwrap(),
    );
    let batches: Vec<_> = (0..3)
        .map(|i| arb::batch(&schema, 10 + i * 7, &mut rng))
        .collect();
    let stream = encode_stream(schema, &batches, ipc).unwrap();
    compress::compress(body, &stream).unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        mask: u8,
    },
    Set {
        at: usize,
        value: u8,
    },
    Insert {
        at: usize,
        value: u8,
    },
    Delete {
        at: usize,
    },
    Truncate {
        at: usize,
    },
    /// Overwrite 4 bytes with a little-endian integer (length fields).
    Word {
        at: usize,
        value: u32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (
            any::<usize>(),
            prop_oneof![Just(0u8), Just(0xFF), any::<u8>()]
        )
            .prop_map(|(at, value)| Mutation::Set { at, value }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Insert { at, value }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (
            any::<usize>(),
            prop_oneof![
                Just(u32::MAX),
                Just(0x7FFF_FFFF),
                Just(0x8000_0000),
                any::<u32>()
            ]
        )
            .prop_map(|(at, value)| Mutation::Word { at, value }),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    if data.is_empty() {
        return;
    }
    let len = data.len();
    match *m {
        Mutation::Flip { at, mask } => data[at % len] ^= mask,
        Mutation::Set { at, value } => data[at % len] = value,
        Mutation::Insert { at, value } => data.insert(at % (len + 1), value),
        Mutation::Delete { at } => {
            data.remove(at % len);
        }
        Mutation::Truncate { at } => data.truncate(at % len),
        Mutation::Word { at, value } => {
            let at = at % len;
            for (i, b) in value.to_le_bytes().into_iter().enumerate() {
                if at + i < len {
                    data[at + i] = b;
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..2048),
        magic in 0usize..4,
        chunks in prop::collection::vec(1usize..300, 1..5),
        encoding in 0usize..4,
    ) {
        let mut data = data;
        // Often start with a real magic number so the inner decoders are reached.
        let prefixes: [&[u8]; 4] = [&[], &[0xFF; 4], &[0x28, 0xB5, 0x2F, 0xFD], &[0x04, 0x22, 0x4D, 0x18]];
        let mut body = prefixes[magic].to_vec();
        body.append(&mut data);
        let encoding = match encoding {
            0 => BodyEncoding::Detect,
            i => BodyEncoding::Known(CODECS[i - 1]),
        };
        let _ = run(&body, &chunks, options(encoding));
        // The bare decompressors too.
        for codec in CODECS {
            let mut d = Decompressor::new(codec).unwrap().with_piece_size(1024);
            for p in d.feed(&body) {
                if let Ok(p) = p { prop_assert!(p.len() <= 1024); } else { break; }
            }
            let _ = d.finish();
        }
    }

    #[test]
    fn mutated_streams_never_panic(
        seed in any::<u64>(),
        ipc in 0usize..3,
        body in 0usize..3,
        mutations in prop::collection::vec(mutation(), 1..4),
        chunks in prop::collection::vec(1usize..2000, 1..4),
    ) {
        let mut data = valid_stream(seed, CODECS[ipc], CODECS[body]);
        let pristine = data.clone();
        for m in &mutations {
            apply(&mut data, m);
        }
        let result = run(&data, &chunks, options(BodyEncoding::Detect));
        if data == pristine {
            prop_assert!(result.is_ok(), "{:?}", result);
        }
    }
}

/// A metadata length beyond the limit is rejected before buffering.
#[test]
fn huge_declared_metadata_is_rejected_up_front() {
    let mut data = valid_stream(1, Compression::Uncompressed, Compression::Uncompressed);
    data[4..8].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    let mut d = ArrowStreamDecoder::new(options(BodyEncoding::Detect));
    let e = d.feed(&data[..16]).unwrap_err();
    assert!(
        matches!(
            e,
            CodecError::MessageTooLarge {
                offset: 0,
                declared: 0x7FFF_FFF0,
                ..
            }
        ),
        "{e}"
    );
}

/// A compressed buffer declaring a huge decompressed size is rejected before Arrow
/// allocates it.
#[test]
fn huge_declared_decompressed_size_is_rejected() {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    use std::sync::Arc;
    let batch = RecordBatch::try_from_iter(vec![(
        "a",
        Arc::new(Int64Array::from_iter_values(0..1000)) as ArrayRef,
    )])
    .unwrap();
    let mut data = encode_stream(batch.schema(), &[batch], Compression::Zstd).unwrap();
    // The uncompressed length prefix of the values buffer: 8000 as little-endian i64.
    let needle = 8000i64.to_le_bytes();
    let at = data
        .windows(8)
        .position(|w| w == needle)
        .expect("length prefix");
    data[at..at + 8].copy_from_slice(&(1i64 << 50).to_le_bytes());
    let e = run(&data, &[usize::MAX], options(BodyEncoding::Detect)).unwrap_err();
    assert!(matches!(e, CodecError::DecompressedTooLarge { .. }), "{e}");
    data[at..at + 8].copy_from_slice(&(-5i64).to_le_bytes());
    let e = run(&data, &[usize::MAX], options(BodyEncoding::Detect)).unwrap_err();
    assert!(matches!(e, CodecError::InvalidIpc { .. }), "{e}");
}

/// Union columns (never sent by MaxCompute; Arrow slices their buffers unchecked) are
/// rejected when the schema arrives.
#[test]
fn union_schemas_are_rejected() {
    use arrow_array::{ArrayRef, Int32Array, RecordBatch, UnionArray};
    use arrow_buffer::ScalarBuffer;
    use arrow_schema::{DataType, Field, UnionFields};
    use std::sync::Arc;
    let fields =
        UnionFields::try_new(vec![0], vec![Field::new("i", DataType::Int32, true)]).unwrap();
    let union = UnionArray::try_new(
        fields,
        ScalarBuffer::from(vec![0i8, 0]),
        None,
        vec![Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef],
    )
    .unwrap();
    let batch = RecordBatch::try_from_iter(vec![("u", Arc::new(union) as ArrayRef)]).unwrap();
    let mut data = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut data, &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    let e = run(&data, &[usize::MAX], options(BodyEncoding::Detect)).unwrap_err();
    assert!(
        matches!(&e, CodecError::InvalidIpc { detail, .. } if detail.contains("\"u\"")),
        "{e}"
    );
}
