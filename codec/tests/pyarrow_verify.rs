//! The encode direction of the cross-implementation tests: streams written by our
//! encoder (each IPC buffer compression, single streams and size-limited request bodies)
//! are read back by pyarrow (`tests/fixtures/verify.py`) and compared with the pyarrow
//! fixtures they were re-encoded from. Skipped, with a message, when `python3 -c "import
//! pyarrow"` fails.

mod common;

use std::path::Path;
use std::process::Command;

use maxstorage_codec::read::DecoderOptions;
use maxstorage_codec::write::{ArrowStreamEncoder, EncoderOptions, encode_stream};
use maxstorage_protocol::Compression;

use common::{decode_chunked, fixture};

fn pyarrow_available() -> bool {
    Command::new("python3")
        .args(["-c", "import pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn token(c: Compression) -> &'static str {
    match c {
        Compression::Uncompressed => "uncompressed",
        Compression::Zstd => "zstd",
        Compression::Lz4Frame => "lz4",
    }
}

#[test]
fn pyarrow_reads_our_streams() {
    if !pyarrow_available() {
        // Skipping is allowed on a developer's machine, never in CI: without it nothing
        // checks that another Arrow implementation reads our write bodies.
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with pyarrow is not available (pip install pyarrow), and CI must run this cross-implementation check"
        );
        println!(
            "SKIPPED pyarrow_reads_our_streams: python3 with pyarrow is not available (pip install pyarrow); under CI=true this fails"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for fixture_name in ["mixed_plain.arrows", "timestamps.arrows"] {
        // Decode without timestamp normalisation so the tables equal pyarrow's.
        let options = DecoderOptions::default().with_normalize_timestamp_structs(false);
        let (schema, batches) =
            decode_chunked(&fixture(fixture_name), &[usize::MAX], options).unwrap();
        let stem = fixture_name.trim_end_matches(".arrows");
        for compression in [
            Compression::Uncompressed,
            Compression::Zstd,
            Compression::Lz4Frame,
        ] {
            // One stream with every batch.
            let single = dir
                .path()
                .join(format!("{stem}-{}-single.arrows", token(compression)));
            std::fs::write(
                &single,
                encode_stream(schema.clone(), &batches, compression).unwrap(),
            )
            .unwrap();
            cases.push(serde_json::json!({
                "name": format!("{stem}/{}/single", token(compression)),
                "files": [single],
                "expected": fixture_name,
                "compression": token(compression),
            }));

            // Request bodies of at most 8 KiB, each a complete stream.
            let mut enc = ArrowStreamEncoder::new(
                schema.clone(),
                EncoderOptions::with_compression(compression)
                    .with_zstd_level(None)
                    .with_target_body_bytes(8 * 1024),
            )
            .unwrap();
            let mut files = Vec::new();
            let write_body = |body: maxstorage_codec::write::EncodedBody, files: &mut Vec<_>| {
                assert!(body.len() <= 8 * 1024 || body.rows() == 1);
                let p = dir.path().join(format!(
                    "{stem}-{}-body-{:03}.arrows",
                    token(compression),
                    files.len()
                ));
                std::fs::write(&p, body.to_bytes()).unwrap();
                files.push(p);
            };
            for b in &batches {
                enc.write(b).unwrap();
                while let Some(body) = enc.next_body() {
                    write_body(body, &mut files);
                }
            }
            while let Some(body) = enc.flush() {
                write_body(body, &mut files);
            }
            assert!(
                files.len() > 1 || stem == "timestamps",
                "{stem}: {}",
                files.len()
            );
            cases.push(serde_json::json!({
                "name": format!("{stem}/{}/bodies", token(compression)),
                "files": files,
                "expected": fixture_name,
                "compression": token(compression),
            }));
        }
    }
    let manifest = dir.path().join("manifest.json");
    std::fs::write(&manifest, serde_json::json!({ "cases": cases }).to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/verify.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&manifest)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "verify.py failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout.matches("\nok ").count() + usize::from(stdout.starts_with("ok ")),
        cases.len()
    );
}

/// Our compressed streams really carry IPC `BodyCompression` (a zero decompression budget
/// rejects them), and pyarrow-independent: they decode back to the same batches.
#[test]
fn compressed_streams_use_body_compression() {
    let (schema, batches) = decode_chunked(
        &fixture("mixed_plain.arrows"),
        &[usize::MAX],
        DecoderOptions::default(),
    )
    .unwrap();
    for compression in [Compression::Zstd, Compression::Lz4Frame] {
        let body = encode_stream(schema.clone(), &batches, compression).unwrap();
        let strict = DecoderOptions::default().with_max_decompressed_batch_bytes(0);
        assert!(matches!(
            decode_chunked(&body, &[usize::MAX], strict),
            Err(maxstorage_codec::CodecError::DecompressedTooLarge { .. })
        ));
        let (s2, b2) = decode_chunked(&body, &[999], DecoderOptions::default()).unwrap();
        assert_eq!(s2, schema);
        assert_eq!(b2, batches);
    }
}
