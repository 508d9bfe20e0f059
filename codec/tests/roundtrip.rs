//! Round-trip property test: random schemas (every mapped Arrow type, nulls, nested
//! lists/structs/maps) × random batches × each IPC buffer compression and whole-body
//! compression × random chunk boundaries: encode → decode gives identical batches.

mod common;

use maxstorage_codec::compress;
use maxstorage_codec::read::{ArrowStreamDecoder, BodyEncoding, DecoderOptions};
use maxstorage_codec::write::{ArrowStreamEncoder, EncoderOptions, encode_stream};
use maxstorage_protocol::Compression;
use proptest::prelude::*;

use common::arb::{self, Rng};
use common::{concat, decode_chunked};

const CODECS: [Compression; 3] = [
    Compression::Uncompressed,
    Compression::Zstd,
    Compression::Lz4Frame,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity(
        schema in arb::schema(),
        seed in any::<u64>(),
        rows in prop::collection::vec(0usize..120, 1..4),
        ipc_codec in 0usize..3,
        body_codec in 0usize..3,
        chunks in prop::collection::vec(1usize..700, 1..6),
    ) {
        let mut rng = Rng::new(seed);
        let batches: Vec<_> = rows.iter().map(|&n| arb::batch(&schema, n, &mut rng)).collect();
        let ipc = encode_stream(schema.clone(), &batches, CODECS[ipc_codec]).unwrap();
        let body = compress::compress(CODECS[body_codec], &ipc).unwrap();
        // Detect by the first bytes, and by an explicit Content-Encoding.
        for encoding in [BodyEncoding::Detect, BodyEncoding::Known(CODECS[body_codec])] {
            let options = DecoderOptions::default().with_body_encoding(encoding);
            let (decoded_schema, decoded) = decode_chunked(&body, &chunks, options).unwrap();
            prop_assert_eq!(&decoded_schema, &schema);
            prop_assert_eq!(decoded.len(), batches.len());
            for (d, b) in decoded.iter().zip(&batches) {
                prop_assert_eq!(d, b);
            }
        }
    }

    #[test]
    fn request_bodies_round_trip(
        schema in arb::schema(),
        seed in any::<u64>(),
        rows in prop::collection::vec(0usize..300, 1..4),
        ipc_codec in 0usize..3,
        target_kib in 4usize..64,
        chunks in prop::collection::vec(1usize..5000, 1..4),
    ) {
        let mut rng = Rng::new(seed);
        let batches: Vec<_> = rows.iter().map(|&n| arb::batch(&schema, n, &mut rng)).collect();
        let target = target_kib * 1024;
        let mut enc = ArrowStreamEncoder::new(schema.clone(), EncoderOptions::with_compression(CODECS[ipc_codec]).with_zstd_level(None).with_target_body_bytes(target)).unwrap();
        let mut bodies = Vec::new();
        for b in &batches {
            enc.write(b).unwrap();
            while let Some(body) = enc.next_body() { bodies.push(body); }
        }
        while let Some(body) = enc.flush() { bodies.push(body); }
        let mut decoded = Vec::new();
        for body in &bodies {
            prop_assert!(body.len() <= target as u64 || body.rows() == 1 || body.batches() == 1);
            // Feed the chunks the encoder produced, re-split at random boundaries.
            let bytes = body.to_bytes();
            let (s, d) = decode_chunked(&bytes, &chunks, DecoderOptions::default()).unwrap();
            prop_assert_eq!(&s, &schema);
            prop_assert_eq!(d.iter().map(|b| b.num_rows() as u64).sum::<u64>(), body.rows());
            decoded.extend(d);
        }
        let total: usize = rows.iter().sum();
        prop_assert_eq!(enc.rows(), total as u64);
        prop_assert_eq!(concat(&schema, &decoded), concat(&schema, &batches));
    }
}

/// Feeding the body chunks exactly as the encoder emits them (`Bytes`, no copy).
#[test]
fn feed_bytes_of_encoder_chunks() {
    let mut rng = Rng::new(7);
    let schema = proptest::strategy::ValueTree::current(
        &Strategy::new_tree(
            &arb::schema(),
            &mut proptest::test_runner::TestRunner::deterministic(),
        )
        .unwrap(),
    );
    let batch = arb::batch(&schema, 500, &mut rng);
    let mut enc = ArrowStreamEncoder::new(schema.clone(), EncoderOptions::default()).unwrap();
    enc.write(&batch).unwrap();
    let body = enc.flush().unwrap();
    let mut d = ArrowStreamDecoder::default();
    let mut out = Vec::new();
    for c in body.chunks() {
        d.feed_bytes(c.clone()).unwrap();
        while let Some(b) = d.next_batch().unwrap() {
            out.push(b);
        }
    }
    d.finish().unwrap();
    assert_eq!(concat(&schema, &out), batch);
}
