//! Property tests of `maxstorage_protocol::frame`: round trips in any chunking,
//! corruption detection, and robustness and bounded memory on arbitrary input.

use bytes::Bytes;
use maxstorage_protocol::frame::{
    BlobDecoderOptions, BlobEvent, BlobFrameDecoder, BlobFrameEncoder, BlobItemHeader,
    BlobPayloadDecoder, CRC32C_FRAMED_BLOCK_LEN, Checksum, ChecksumType, Crc32cDeframer,
    Crc32cFramer, FrameError, ItemEnd, PayloadMode, crc32c_frame, encode_items,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Strategies and helpers
// ---------------------------------------------------------------------------------------

fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9=/_.-]{0,12}",
        vec(any::<char>(), 0..8).prop_map(String::from_iter),
    ]
}

fn any_header() -> impl Strategy<Value = BlobItemHeader> {
    (
        vec(any_string(), 0..3),
        proptest::option::of(any::<i64>()),
        proptest::option::of(any_string()),
        proptest::option::of(any_string()),
        proptest::option::of(any_string()),
    )
        .prop_map(
            |(partition_values, column_index, distribution_key, content_type, custom_file_name)| {
                BlobItemHeader {
                    partition_values,
                    column_index,
                    distribution_key,
                    content_type,
                    custom_file_name,
                }
            },
        )
}

fn any_checksum_type() -> impl Strategy<Value = ChecksumType> {
    prop_oneof![
        Just(ChecksumType::None),
        Just(ChecksumType::Crc32),
        Just(ChecksumType::Md5),
    ]
}

fn any_data(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..=64), vec(any::<u8>(), 0..=max),]
}

type TestItem = (BlobItemHeader, Vec<u8>, ChecksumType);

fn any_items() -> impl Strategy<Value = Vec<TestItem>> {
    vec(
        (any_header(), any_data(20 * 1024), any_checksum_type()),
        0..4,
    )
}

/// Chunk sizes, used cyclically to cut an input into pieces.
fn any_chunking() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        vec(1usize..=16, 1..8),
        vec(1usize..=5000, 1..8),
        Just(vec![usize::MAX]),
    ]
}

fn split<'a>(input: &'a [u8], chunking: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = chunking.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        let (piece, tail) = rest.split_at(n);
        out.push(piece);
        rest = tail;
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
struct Decoded {
    header: BlobItemHeader,
    data_len: Option<u64>,
    data: Vec<u8>,
    end: Option<ItemEnd>,
}

/// Assembles events into items, checking their order.
#[derive(Default)]
struct Assembler {
    items: Vec<Decoded>,
    open: bool,
}

impl Assembler {
    fn push(&mut self, event: BlobEvent) {
        match event {
            BlobEvent::ItemStart {
                index,
                header,
                data_len,
            } => {
                assert!(!self.open, "ItemStart inside an item");
                assert_eq!(index, self.items.len() as u64);
                self.items.push(Decoded {
                    header,
                    data_len,
                    data: Vec::new(),
                    end: None,
                });
                self.open = true;
            }
            BlobEvent::Data(d) => {
                assert!(self.open, "Data outside an item");
                assert!(!d.is_empty(), "empty Data event");
                self.items.last_mut().unwrap().data.extend_from_slice(&d);
            }
            BlobEvent::ItemEnd(end) => {
                assert!(self.open, "ItemEnd outside an item");
                assert_eq!(end.index, self.items.len() as u64 - 1);
                let item = self.items.last_mut().unwrap();
                assert_eq!(end.data_len, item.data.len() as u64);
                if let Some(len) = item.data_len {
                    assert_eq!(len, end.data_len);
                }
                item.end = Some(end);
                self.open = false;
            }
        }
    }
}

fn decode_frames(
    stream: &[u8],
    chunking: &[usize],
    options: BlobDecoderOptions,
) -> Result<Vec<Decoded>, FrameError> {
    let mut dec = BlobFrameDecoder::with_options(options);
    let mut asm = Assembler::default();
    for piece in split(stream, chunking) {
        let mut input = Bytes::copy_from_slice(piece);
        while let Some(event) = dec.decode(&mut input)? {
            asm.push(event);
            assert!(dec.buffered_len() <= dec.max_buffered_len());
        }
        assert!(input.is_empty());
        assert!(dec.buffered_len() <= dec.max_buffered_len());
    }
    dec.finish()?;
    assert!(!asm.open);
    Ok(asm.items)
}

fn decode_payload(
    mode: PayloadMode,
    payload: &[u8],
    chunking: &[usize],
    options: BlobDecoderOptions,
) -> Result<(Vec<Decoded>, Option<bool>), FrameError> {
    let mut dec = BlobPayloadDecoder::with_options(mode, options);
    let mut asm = Assembler::default();
    for piece in split(payload, chunking) {
        let mut input = Bytes::copy_from_slice(piece);
        while let Some(event) = dec.decode(&mut input)? {
            asm.push(event);
            assert!(dec.buffered_len() <= dec.max_buffered_len());
        }
        assert!(input.is_empty());
        assert!(dec.buffered_len() <= dec.max_buffered_len());
    }
    while let Some(event) = dec.finish()? {
        asm.push(event);
    }
    assert!(!asm.open);
    Ok((asm.items, dec.is_framed()))
}

fn deframe(framed: &[u8], chunking: &[usize]) -> Result<Vec<u8>, FrameError> {
    let mut d = Crc32cDeframer::new();
    let mut out = Vec::new();
    for piece in split(framed, chunking) {
        let mut input = Bytes::copy_from_slice(piece);
        while let Some(block) = d.decode(&mut input)? {
            out.extend_from_slice(&block);
            assert!(d.buffered_len() <= CRC32C_FRAMED_BLOCK_LEN);
        }
        assert!(input.is_empty());
        assert!(d.buffered_len() <= CRC32C_FRAMED_BLOCK_LEN);
    }
    if let Some(block) = d.finish()? {
        out.extend_from_slice(&block);
    }
    Ok(out)
}

/// Encodes with the streaming encoder, reporting data in pieces cut by `chunking`.
fn encode_streaming(items: &[TestItem], chunking: &[usize]) -> Vec<u8> {
    let mut enc = BlobFrameEncoder::new();
    let mut out = Vec::new();
    for (header, data, kind) in items {
        out.extend_from_slice(&enc.begin_item(header, data.len() as u64, *kind).unwrap());
        for piece in split(data, chunking) {
            enc.item_data(piece).unwrap();
            out.extend_from_slice(piece);
        }
        out.extend_from_slice(&enc.end_item().unwrap());
    }
    assert_eq!(enc.bytes_encoded(), out.len() as u64);
    out
}

fn check_items(items: &[TestItem], decoded: &[Decoded]) {
    assert_eq!(decoded.len(), items.len());
    for ((header, data, kind), got) in items.iter().zip(decoded) {
        assert_eq!(&got.header, header);
        assert_eq!(&got.data, data);
        assert_eq!(got.data_len, Some(data.len() as u64));
        let end = got.end.expect("ended");
        assert_eq!(end.checksum, Checksum::compute(*kind, data));
        assert_eq!(end.verified, *kind != ChecksumType::None);
    }
}

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn blob_frames_round_trip_in_any_chunking(
        items in any_items(),
        enc_chunking in any_chunking(),
        dec_chunking in any_chunking(),
    ) {
        let refs: Vec<(BlobItemHeader, &[u8], ChecksumType)> =
            items.iter().map(|(h, d, k)| (h.clone(), &d[..], *k)).collect();
        let stream = encode_items(&refs);
        prop_assert_eq!(&encode_streaming(&items, &enc_chunking)[..], &stream[..]);

        let decoded = decode_frames(&stream, &dec_chunking, BlobDecoderOptions::default()).unwrap();
        check_items(&items, &decoded);

        // The payload decoder yields the same in Framed mode, and Auto recognises frames.
        let (framed, is_framed) = decode_payload(
            PayloadMode::Framed, &stream, &dec_chunking, BlobDecoderOptions::default()).unwrap();
        prop_assert_eq!(&framed, &decoded);
        prop_assert_eq!(is_framed, Some(true));
        if !items.is_empty() {
            let (auto, is_framed) = decode_payload(
                PayloadMode::Auto, &stream, &dec_chunking, BlobDecoderOptions::default()).unwrap();
            prop_assert_eq!(&auto, &decoded);
            prop_assert_eq!(is_framed, Some(true));
        }

        // Without verification: same items, nothing marked verified.
        let unverified = decode_frames(
            &stream, &dec_chunking, BlobDecoderOptions::default().with_verify_checksums(false)).unwrap();
        prop_assert_eq!(unverified.len(), decoded.len());
        for (u, d) in unverified.iter().zip(&decoded) {
            prop_assert_eq!(&u.data, &d.data);
            prop_assert!(!u.end.unwrap().verified);
        }
    }

    #[test]
    fn raw_payloads_round_trip_in_any_chunking(
        data in any_data(20 * 1024),
        chunking in any_chunking(),
    ) {
        let (items, framed) =
            decode_payload(PayloadMode::Raw, &data, &chunking, BlobDecoderOptions::default()).unwrap();
        prop_assert_eq!(framed, Some(false));
        prop_assert_eq!(items.len(), 1);
        prop_assert_eq!(&items[0].data, &data);
        prop_assert_eq!(items[0].data_len, None);
        prop_assert_eq!(&items[0].header, &BlobItemHeader::default());
        // Random data is never mistaken for frames (the heuristic's false-positive rate is
        // far below what a test can reach), in any chunking.
        let (auto, framed) =
            decode_payload(PayloadMode::Auto, &data, &chunking, BlobDecoderOptions::default()).unwrap();
        prop_assert_eq!(framed, Some(false));
        prop_assert_eq!(auto, items);
    }

    #[test]
    fn crc32c_blocks_round_trip_in_any_chunking(
        data in any_data(20 * 1024),
        push_chunking in any_chunking(),
        chunking in any_chunking(),
    ) {
        let framed = crc32c_frame(&data);
        let mut framer = Crc32cFramer::new();
        let mut pushed = Vec::new();
        for piece in split(&data, &push_chunking) {
            framer.push(piece, &mut pushed);
        }
        prop_assert_eq!(framer.payload_len(), data.len() as u64);
        framer.finish(&mut pushed);
        prop_assert_eq!(&pushed[..], &framed[..]);
        prop_assert_eq!(deframe(&framed, &chunking).unwrap(), data);
    }
}

// ---------------------------------------------------------------------------------------
// Corruption
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_bit_flip_of_crc32c_blocks_is_detected(
        data in vec(any::<u8>(), 1..=9000),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        chunking in any_chunking(),
    ) {
        let mut framed = crc32c_frame(&data).to_vec();
        let i = at.index(framed.len());
        framed[i] ^= 1 << bit;
        let result = deframe(&framed, &chunking);
        prop_assert!(
            matches!(result, Err(FrameError::CrcMismatch { .. })),
            "flip of bit {} of byte {} undetected: {:?}", bit, i, result.map(|d| d.len())
        );
    }

    #[test]
    fn data_corruption_of_checksummed_items_is_detected(
        header in any_header(),
        data in vec(any::<u8>(), 1..=4096),
        kind in prop_oneof![Just(ChecksumType::Crc32), Just(ChecksumType::Md5)],
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        chunking in any_chunking(),
    ) {
        let stream = encode_items(&[(header.clone(), &data[..], kind)]).to_vec();
        let data_start = 8 + header.to_json().len() + 8;
        let mut corrupt = stream.clone();
        corrupt[data_start + at.index(data.len())] ^= 1 << bit;
        let result = decode_frames(&corrupt, &chunking, BlobDecoderOptions::default());
        prop_assert!(
            matches!(result, Err(FrameError::ChecksumMismatch { item: 0, .. })),
            "{:?}", result.map(|items| items.len())
        );
    }
}

/// Exhaustive: each of the 8 bit flips of each byte of a two-block stream (one full
/// block and one short block) is detected.
#[test]
fn every_bit_flip_of_a_two_block_stream_is_detected() {
    let data: Vec<u8> = (0..4100u32).map(|i| (i * 7 % 256) as u8).collect();
    let framed = crc32c_frame(&data).to_vec();
    assert_eq!(framed.len(), 4108);
    assert_eq!(deframe(&framed, &[usize::MAX]).unwrap(), data);
    let mut corrupt = framed.clone();
    for i in 0..framed.len() {
        for bit in 0..8 {
            corrupt[i] ^= 1 << bit;
            let result = deframe(&corrupt, &[usize::MAX]);
            assert!(
                matches!(result, Err(FrameError::CrcMismatch { .. })),
                "byte {i} bit {bit}"
            );
            corrupt[i] ^= 1 << bit;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Robustness: arbitrary input never panics, memory stays bounded
// ---------------------------------------------------------------------------------------

/// Arbitrary bytes, or a valid stream (frames or CRC32C blocks) with a few bytes
/// overwritten and possibly truncated, to reach deep decoder states.
fn hostile_input() -> impl Strategy<Value = Vec<u8>> {
    let mutated_frames = (
        vec((any_header(), any_data(300), any_checksum_type()), 0..3),
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        proptest::option::of(any::<prop::sample::Index>()),
        any::<bool>(),
    )
        .prop_map(|(items, writes, cut, crc_wrap)| {
            let refs: Vec<(BlobItemHeader, &[u8], ChecksumType)> = items
                .iter()
                .map(|(h, d, k)| (h.clone(), &d[..], *k))
                .collect();
            let mut stream = encode_items(&refs).to_vec();
            if crc_wrap {
                stream = crc32c_frame(&stream).to_vec();
            }
            if !stream.is_empty() {
                for (at, byte) in writes {
                    let i = at.index(stream.len());
                    stream[i] = byte;
                }
                if let Some(cut) = cut {
                    stream.truncate(cut.index(stream.len() + 1));
                }
            }
            stream
        });
    let lengths = vec(
        prop_oneof![
            any::<i64>().prop_map(|v| v.to_le_bytes().to_vec()),
            (0i64..64).prop_map(|v| v.to_le_bytes().to_vec()),
            Just(b"{}".to_vec()),
            vec(any::<u8>(), 0..16),
        ],
        0..10,
    )
    .prop_map(|parts| parts.concat());
    prop_oneof![vec(any::<u8>(), 0..2048), mutated_frames, lengths]
}

/// Drives a decoder-like object over the input; checks the buffer bound after each call.
fn drive_frames(input: &[u8], chunking: &[usize], options: BlobDecoderOptions) {
    let mut dec = BlobFrameDecoder::with_options(options);
    let mut data_total = 0usize;
    for piece in split(input, chunking) {
        let mut bytes = Bytes::copy_from_slice(piece);
        loop {
            match dec.decode(&mut bytes) {
                Ok(Some(BlobEvent::Data(d))) => {
                    assert!(!d.is_empty());
                    data_total += d.len();
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    assert!(dec.decode(&mut Bytes::new()).is_err(), "poisoned");
                    return;
                }
            }
            assert!(dec.buffered_len() <= dec.max_buffered_len());
        }
        assert!(dec.buffered_len() <= dec.max_buffered_len());
    }
    assert!(data_total <= input.len());
    let _ = dec.finish();
}

fn drive_payload(mode: PayloadMode, input: &[u8], chunking: &[usize], options: BlobDecoderOptions) {
    let mut dec = BlobPayloadDecoder::with_options(mode, options);
    for piece in split(input, chunking) {
        let mut bytes = Bytes::copy_from_slice(piece);
        loop {
            match dec.decode(&mut bytes) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
            assert!(dec.buffered_len() <= dec.max_buffered_len());
        }
        assert!(dec.buffered_len() <= dec.max_buffered_len());
    }
    for _ in 0..8 {
        match dec.finish() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("finish kept producing events");
}

fn drive_deframer(input: &[u8], chunking: &[usize]) {
    let mut d = Crc32cDeframer::new();
    let mut out = 0usize;
    for piece in split(input, chunking) {
        let mut bytes = Bytes::copy_from_slice(piece);
        loop {
            match d.decode(&mut bytes) {
                Ok(Some(block)) => out += block.len(),
                Ok(None) => break,
                Err(_) => return,
            }
            assert!(d.buffered_len() <= CRC32C_FRAMED_BLOCK_LEN);
        }
        assert!(d.buffered_len() <= CRC32C_FRAMED_BLOCK_LEN);
    }
    if let Ok(Some(block)) = d.finish() {
        out += block.len();
    }
    assert!(out <= input.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn decoders_survive_arbitrary_input(
        input in hostile_input(),
        chunking in any_chunking(),
        small_limit in any::<bool>(),
        verify in any::<bool>(),
    ) {
        let options = BlobDecoderOptions::default()
            .with_verify_checksums(verify)
            .with_max_json_len(if small_limit { 40 } else { 1 << 20 });
        drive_frames(&input, &chunking, options);
        for mode in [PayloadMode::Raw, PayloadMode::Framed, PayloadMode::Auto] {
            drive_payload(mode, &input, &chunking, options);
        }
        drive_deframer(&input, &chunking);
    }
}

/// A declared length far beyond the limit is rejected right after its 8 bytes, before
/// the decoder buffers or allocates anything for it.
#[test]
fn huge_lengths_fail_fast() {
    for len in [i64::MAX, (1 << 20) + 1, 1 << 40] {
        let mut dec = BlobFrameDecoder::new();
        let mut input = Bytes::copy_from_slice(&len.to_le_bytes());
        assert!(matches!(
            dec.decode(&mut input),
            Err(FrameError::LengthTooLarge { .. })
        ));
        assert_eq!(dec.buffered_len(), 0);
    }
    // Auto mode with an implausible length decides "raw" at once and holds nothing.
    let mut dec = BlobPayloadDecoder::new(PayloadMode::Auto);
    let mut input = Bytes::copy_from_slice(&(1i64 << 40).to_le_bytes());
    assert!(matches!(
        dec.decode(&mut input),
        Ok(Some(BlobEvent::ItemStart { .. }))
    ));
    assert_eq!(dec.is_framed(), Some(false));
}
