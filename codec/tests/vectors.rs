//! Decodes every Arrow body recorded in `conformance/vectors/pyodps/`: `TableRead` and
//! `TablePreview` responses in all three forms (plain IPC, IPC buffer compression,
//! whole-body compression with `Content-Encoding`) and `TableWrite` request bodies written
//! by pyarrow (plain, zstd, lz4).

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_schema::DataType;
use base64::Engine;
use maxstorage_codec::read::DecoderOptions;
use serde_json::Value;

use common::{concat, decode_chunked, vectors_dir};

struct Recorded {
    file: String,
    call: String,
    action: String,
    query: Vec<(String, String)>,
    content_encoding: Option<String>,
    body: Vec<u8>,
}

fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers.as_array()?.iter().find_map(|h| {
        let h = h.as_array()?;
        if h.first()?.as_str()?.eq_ignore_ascii_case(name) {
            h.get(1)?.as_str()
        } else {
            None
        }
    })
}

fn body_bytes(body: &Value) -> Option<Vec<u8>> {
    match body.get("encoding")?.as_str()? {
        "base64" => Some(
            base64::engine::general_purpose::STANDARD
                .decode(body.get("base64")?.as_str()?)
                .expect("valid base64"),
        ),
        _ => None,
    }
}

/// Arrow bodies: responses of read actions, requests of `TableWrite`.
fn recorded_bodies() -> Vec<Recorded> {
    let dir = vectors_dir().join("pyodps");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vectors in {}", dir.display());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let query: Vec<(String, String)> = v["request"]["query"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| {
                    (
                        q[0].as_str().unwrap().to_string(),
                        q[1].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let action = query
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let (body, content_encoding) = match action.as_str() {
                "TableRead" | "TablePreview" | "InstanceRead" => {
                    if v["response"]["status"].as_u64() != Some(200) {
                        continue;
                    }
                    (
                        body_bytes(&v["response"]["body"]),
                        header(&v["response"]["headers"], "Content-Encoding").map(str::to_string),
                    )
                }
                "TableWrite" => (
                    body_bytes(&v["request"]["body"]),
                    header(&v["request"]["headers"], "Content-Encoding").map(str::to_string),
                ),
                _ => continue,
            };
            let Some(body) = body else { continue };
            out.push(Recorded {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                call: v["call"].as_str().unwrap_or_default().to_string(),
                action,
                query,
                content_encoding,
                body,
            });
        }
    }
    out
}

#[test]
fn every_recorded_body_decodes() {
    let bodies = recorded_bodies();
    let reads = bodies.iter().filter(|b| b.action != "TableWrite").count();
    let writes = bodies.len() - reads;
    assert!(
        reads >= 20 && writes >= 10,
        "{reads} reads, {writes} writes"
    );
    let mut forms = std::collections::BTreeSet::new();
    for r in &bodies {
        let what = format!("{} {} ({})", r.file, r.call, r.action);
        let by_header = DecoderOptions::for_content_encoding(r.content_encoding.as_deref())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut results = Vec::new();
        for options in [by_header.clone(), DecoderOptions::default()] {
            for chunks in [&[usize::MAX][..], &[1], &[3, 17, 64], &[4096]] {
                let (schema, batches) = decode_chunked(&r.body, chunks, options.clone())
                    .unwrap_or_else(|e| panic!("{what}, chunks {chunks:?}: {e}"));
                results.push(concat(&schema, &batches));
            }
        }
        for other in &results[1..] {
            assert_eq!(other, &results[0], "{what}: decodings differ");
        }
        let table = &results[0];
        assert_eq!(table.schema().field(0).name(), "a", "{what}");
        assert_eq!(
            table.schema().field(0).data_type(),
            &DataType::Int64,
            "{what}"
        );
        if let Some(b) = table.schema().fields().iter().find(|f| f.name() == "b") {
            assert_eq!(b.data_type(), &DataType::Utf8, "{what}");
        }
        // Count is absent from BatchCompatible block writes.
        if let Some((_, count)) = r.query.iter().find(|(k, _)| k == "Count") {
            assert_eq!(table.num_rows().to_string(), *count, "{what}: Count");
        }
        let form = match &r.content_encoding {
            Some(ce) => format!("{} content-encoding {ce}", r.action),
            None if r.call.contains("ipc-buffer") => format!("{} ipc-buffer", r.action),
            None => format!("{} plain", r.action),
        };
        forms.insert(form);
    }
    // All three TableRead forms are present.
    assert!(
        forms.contains("TableRead content-encoding zstd"),
        "{forms:?}"
    );
    assert!(
        forms.contains("TableRead content-encoding x-lz4-frame"),
        "{forms:?}"
    );
    assert!(forms.contains("TableRead ipc-buffer"), "{forms:?}");
    assert!(forms.contains("TableRead plain"), "{forms:?}");
}

/// The compressed variants of `read_rows_arrow` / `open_arrow_reader` carry the same
/// ten rows as the plain one: a = 0..9, b = "b-<a>".
#[test]
fn compressed_read_forms_hold_the_same_rows() {
    let mut checked = 0;
    for r in recorded_bodies() {
        let lower = r.call.to_ascii_lowercase();
        let compressed_read =
            r.action == "TableRead" && (lower.contains("zstd") || lower.contains("lz4"));
        if !compressed_read {
            continue;
        }
        let options = DecoderOptions::for_content_encoding(r.content_encoding.as_deref()).unwrap();
        let (schema, batches) = decode_chunked(&r.body, &[5], options).unwrap();
        let t = concat(&schema, &batches);
        let a: Vec<i64> = t.column(0).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(a, (0..10).collect::<Vec<_>>(), "{}", r.call);
        let b = t.column(1).as_string::<i32>();
        for (i, v) in b.iter().enumerate() {
            assert_eq!(v, Some(format!("b-{i}").as_str()), "{}", r.call);
        }
        checked += 1;
    }
    assert!(checked >= 7, "{checked}");
}

/// IPC-buffer-compressed read bodies and compressed write bodies really use `BodyCompression` (so the vectors exercise it).
#[test]
fn ipc_buffer_forms_are_buffer_compressed() {
    let mut checked = 0;
    for r in recorded_bodies() {
        let read = r.action == "TableRead" && r.call.contains("ipc-buffer");
        let write =
            r.action == "TableWrite" && (r.call.ends_with("/zstd") || r.call.ends_with("/lz4"));
        if !read && !write {
            continue;
        }
        checked += 1;
        // Decoding with a decompression budget of zero fails only if buffers are compressed.
        let options = DecoderOptions::default().with_max_decompressed_batch_bytes(0);
        let e = decode_chunked(&r.body, &[usize::MAX], options).unwrap_err();
        assert!(
            matches!(e, maxstorage_codec::CodecError::DecompressedTooLarge { .. }),
            "{}: {e}",
            r.call
        );
    }
    assert!(checked >= 7, "{checked}");
}
