//! Decodes Arrow IPC streams written by pyarrow (committed fixtures, see
//! `tests/fixtures/generate.py`): buffer compression zstd and lz4, whole-body zstd and
//! LZ4 frames, `struct<sec, nano>` timestamps, a mixed-type table with nulls and nesting.

mod common;

use std::io::Read;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use maxstorage_codec::CodecError;
use maxstorage_codec::read::{ArrowStreamReader, BodyEncoding, DecoderOptions, decode_body};
use maxstorage_codec::types::{OdpsType, TimestampUnit};
use maxstorage_protocol::Compression;

use common::{concat, decode_chunked, fixture};

const MIXED: [(&str, Option<&str>); 5] = [
    ("mixed_plain.arrows", None),
    ("mixed_zstd_buffers.arrows", None),
    ("mixed_lz4_buffers.arrows", None),
    ("mixed_zstd_body.arrows.zst", Some("zstd")),
    ("mixed_lz4_body.arrows.lz4", Some("x-lz4-frame")),
];

fn mixed_reference() -> RecordBatch {
    let (schema, batches) = decode_chunked(
        &fixture("mixed_plain.arrows"),
        &[usize::MAX],
        DecoderOptions::default(),
    )
    .unwrap();
    assert_eq!(batches.len(), 3);
    concat(&schema, &batches)
}

#[test]
fn mixed_table_has_expected_shape() {
    let t = mixed_reference();
    assert_eq!(t.num_rows(), 120);
    let types: Vec<String> = t
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{}:{}", f.name(), f.data_type()))
        .collect();
    let expect_prefix = [
        "i8:Int8",
        "i16:Int16",
        "i32:Int32",
        "i64:Int64",
        "f32:Float32",
        "f64:Float64",
        "flag:Boolean",
        "s:Utf8",
        "ls:LargeUtf8",
        "bin:Binary",
        "d:Date32",
        "dt_ms:Timestamp(ms)",
        "ts_ns:Timestamp(ns)",
        "dec:Decimal128(10, 2)",
        "dec38:Decimal128(38, 18)",
        "dur:Duration(ns)",
    ];
    assert_eq!(&types[..expect_prefix.len()], &expect_prefix, "{types:?}");
    assert!(matches!(
        t.schema().field_with_name("l").unwrap().data_type(),
        DataType::List(_)
    ));
    assert!(matches!(
        t.schema().field_with_name("m").unwrap().data_type(),
        DataType::Map(_, _)
    ));
    assert!(matches!(
        t.schema().field_with_name("st").unwrap().data_type(),
        DataType::Struct(_)
    ));
    let i64c = t.column_by_name("i64").unwrap().as_primitive::<Int64Type>();
    for i in 0..120 {
        if i % 7 == 0 {
            assert!(i64c.is_null(i));
        } else {
            assert_eq!(i64c.value(i), i as i64);
        }
    }
    let s = t.column_by_name("s").unwrap().as_string::<i32>();
    let first = (0..120).find(|&i| s.is_valid(i) && i % 5 == 2).unwrap();
    assert_eq!(s.value(first), format!("row-{first}-é✓é✓"));
    for name in ["l", "m", "st", "ls_struct", "dec"] {
        assert!(
            t.column_by_name(name).unwrap().null_count() > 0,
            "{name} has nulls"
        );
    }
}

#[test]
fn every_mixed_form_decodes_to_the_same_table() {
    let reference = mixed_reference();
    for (name, content_encoding) in MIXED {
        let body = fixture(name);
        let mut options = vec![DecoderOptions::default()];
        if let Some(ce) = content_encoding {
            options.push(DecoderOptions::for_content_encoding(Some(ce)).unwrap());
        }
        for o in options {
            for chunks in [
                &[usize::MAX][..],
                &[1, 2, 3, 5, 8, 13],
                &[4096],
                &[65536, 7],
            ] {
                let (schema, batches) = decode_chunked(&body, chunks, o.clone())
                    .unwrap_or_else(|e| panic!("{name} {chunks:?}: {e}"));
                assert_eq!(concat(&schema, &batches), reference, "{name} {chunks:?}");
            }
        }
    }
}

#[test]
fn detection_reports_the_outer_encoding() {
    for (name, expected) in [
        ("mixed_plain.arrows", Compression::Uncompressed),
        ("mixed_zstd_buffers.arrows", Compression::Uncompressed),
        ("mixed_zstd_body.arrows.zst", Compression::Zstd),
        ("mixed_lz4_body.arrows.lz4", Compression::Lz4Frame),
    ] {
        let mut d = maxstorage_codec::read::ArrowStreamDecoder::default();
        d.feed(&fixture(name)[..3]).unwrap();
        assert_eq!(d.body_encoding(), None);
        d.feed(&fixture(name)[3..10]).unwrap();
        assert_eq!(d.body_encoding(), Some(expected), "{name}");
    }
}

#[test]
fn wrong_content_encoding_is_an_error_not_a_panic() {
    let body = fixture("mixed_zstd_body.arrows.zst");
    let o = DecoderOptions::for_content_encoding(Some("x-lz4-frame")).unwrap();
    let e = decode_body(&body, o).unwrap_err();
    assert!(
        matches!(
            e,
            CodecError::Decompress {
                codec: Compression::Lz4Frame,
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(
        DecoderOptions::for_content_encoding(Some("deflate")),
        Err(CodecError::UnsupportedContentEncoding(_))
    ));
}

fn timestamps(
    options: DecoderOptions,
) -> Result<(arrow_schema::SchemaRef, Vec<RecordBatch>), CodecError> {
    decode_chunked(&fixture("timestamps.arrows"), &[7], options)
}

#[test]
fn timestamp_structs_become_nanosecond_timestamps() {
    // Rows 0..5 fit nanoseconds; row 6 (9999-12-31) does not, in the second batch.
    let mut d = maxstorage_codec::read::ArrowStreamDecoder::default();
    d.feed(&fixture("timestamps.arrows")).unwrap();
    let first = d.next_batch().unwrap().unwrap();
    assert_eq!(
        first.schema().field_with_name("ts").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, None)
    );
    let ts = first
        .column_by_name("ts")
        .unwrap()
        .as_primitive::<TimestampNanosecondType>();
    let expected = first
        .column_by_name("expected_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(ts.len(), 5);
    for i in 0..5 {
        assert_eq!(ts.is_null(i), expected.is_null(i));
        if ts.is_valid(i) {
            assert_eq!(ts.value(i), expected.value(i), "row {i}");
        }
    }
    let e = d.next_batch().unwrap_err();
    assert!(
        matches!(&e, CodecError::TimestampOverflow { column, seconds: 253_402_300_799, .. } if column == "ts"),
        "{e}"
    );
    assert!(e.to_string().contains("coarser"), "{e}");
    // The decoder is poisoned.
    assert_eq!(d.next_batch().unwrap_err(), e);
}

#[test]
fn timestamp_structs_in_microseconds() {
    let o = DecoderOptions::default().with_timestamp_unit(TimestampUnit::Micro);
    let (schema, batches) = timestamps(o.clone()).unwrap();
    let t = concat(&schema, &batches);
    let ts = t
        .column_by_name("ts")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    let expected = t
        .column_by_name("expected_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    for i in 0..t.num_rows() {
        if i == 6 {
            assert_eq!(ts.value(i), 253_402_300_799_999_999);
        } else if expected.is_null(i) {
            assert!(ts.is_null(i), "row {i}");
        } else {
            assert_eq!(ts.value(i), expected.value(i).div_euclid(1000), "row {i}");
        }
    }
    // In lists too: ts_list[i] = [ts[i], ts[i + 1 mod n]].
    let lists = t.column_by_name("ts_list").unwrap().as_list::<i32>();
    assert_eq!(
        lists.value_type(),
        DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    let n = t.num_rows();
    for i in 0..n {
        let l = lists.value(i);
        let l = l.as_primitive::<TimestampMicrosecondType>();
        for (k, row) in [i, (i + 1) % n].into_iter().enumerate() {
            assert_eq!(l.is_null(k), ts.is_null(row), "list {i} item {k}");
            if l.is_valid(k) {
                assert_eq!(l.value(k), ts.value(row));
            }
        }
    }
    // The same from the whole-body zstd form.
    let (schema2, batches2) =
        decode_chunked(&fixture("timestamps_zstd_body.arrows.zst"), &[3], o).unwrap();
    assert_eq!(concat(&schema2, &batches2), t);
}

#[test]
fn timestamp_struct_hints_and_switch() {
    let o = DecoderOptions::default()
        .with_column_types(vec![("ts".into(), OdpsType::IntervalDayTime)])
        .with_timestamp_unit(TimestampUnit::Second);
    let mut d = maxstorage_codec::read::ArrowStreamDecoder::new(o);
    d.feed(&fixture("timestamps.arrows")[..600]).unwrap();
    let s = d.schema().unwrap();
    assert_eq!(
        s.field(1).data_type(),
        &DataType::Duration(TimeUnit::Nanosecond)
    );
    assert_eq!(s.field(2).data_type().to_string(), "List(Timestamp(s))");

    let o = DecoderOptions::default().with_normalize_timestamp_structs(false);
    let (schema, _) = timestamps(o).unwrap();
    assert!(matches!(schema.field(1).data_type(), DataType::Struct(_)));
}

/// A reader returning at most `step` bytes per call.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn blocking_reader_adapter() {
    let reference = mixed_reference();
    for (name, _) in MIXED {
        let mut r = ArrowStreamReader::new(
            Trickle {
                data: fixture(name),
                pos: 0,
                step: 1000,
            },
            DecoderOptions::default(),
        );
        let schema = r.schema().unwrap();
        let batches: Vec<RecordBatch> = r.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(concat(&schema, &batches), reference, "{name}");
        assert_eq!(r.decoder().rows(), 120);
        assert!(r.decoder().is_complete());
    }
    // A truncated body ends with a Truncated error.
    let mut body = fixture("mixed_plain.arrows");
    body.truncate(body.len() - 8);
    let r = ArrowStreamReader::new(&body[..], DecoderOptions::default());
    let items: Vec<_> = r.collect();
    assert_eq!(items.iter().filter(|i| i.is_ok()).count(), 3);
    let last = items.last().unwrap().as_ref().unwrap_err();
    assert!(last.is_truncated(), "{last}");
}

#[test]
fn truncation_anywhere_is_detected() {
    for (name, _) in MIXED {
        let body = fixture(name);
        let step = (body.len() / 97).max(1);
        for cut in (0..body.len()).step_by(step).chain([body.len() - 1]) {
            let e = decode_chunked(&body[..cut], &[1000], DecoderOptions::default())
                .err()
                .unwrap_or_else(|| panic!("{name} cut at {cut} decoded"));
            assert!(e.is_truncated(), "{name} cut at {cut}: {e}");
        }
    }
}

#[test]
fn missing_end_of_stream_at_a_message_boundary_is_truncated() {
    let body = fixture("mixed_plain.arrows");
    let cut = &body[..body.len() - 8];
    let e = decode_chunked(cut, &[usize::MAX], DecoderOptions::default()).unwrap_err();
    assert!(
        matches!(&e, CodecError::Truncated { detail, .. } if detail.contains("end-of-stream")),
        "{e}"
    );
}

#[test]
fn trailing_data_and_unknown_bodies() {
    let mut body = fixture("mixed_plain.arrows");
    body.extend_from_slice(b"junk");
    let e = decode_chunked(&body, &[usize::MAX], DecoderOptions::default()).unwrap_err();
    assert!(matches!(e, CodecError::TrailingData { .. }), "{e}");

    let e = decode_body(br#"{"Code":"NoSuchSession"}"#, DecoderOptions::default()).unwrap_err();
    assert_eq!(
        e,
        CodecError::UnrecognizedBody {
            prefix: b"{\"Co".to_vec()
        }
    );
    let e = decode_body(b"", DecoderOptions::default()).unwrap_err();
    assert!(e.is_truncated());

    // Explicit identity encoding accepts the plain stream.
    let o = DecoderOptions::default()
        .with_body_encoding(BodyEncoding::Known(Compression::Uncompressed));
    assert_eq!(
        decode_body(&fixture("mixed_plain.arrows"), o)
            .unwrap()
            .num_rows(),
        120
    );
}

#[test]
fn message_limit_is_enforced() {
    let o = DecoderOptions::default().with_max_message_bytes(1024);
    let e = decode_body(&fixture("mixed_plain.arrows"), o).unwrap_err();
    assert!(
        matches!(e, CodecError::MessageTooLarge { limit: 1024, .. }),
        "{e}"
    );
}

#[test]
fn schema_is_known_before_the_first_batch() {
    let body = fixture("mixed_plain.arrows");
    let mut d = maxstorage_codec::read::ArrowStreamDecoder::default();
    // The schema message of this stream is well under 4 KiB.
    d.feed(&body[..4096]).unwrap();
    assert!(d.schema().is_some());
    assert_eq!(d.batches(), 0);
}
