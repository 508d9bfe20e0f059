//! User guide: blobs — upload files as blobs, store their references in a BLOB column,
//! read the table and download the blobs by reference.
//!
//! `cargo run -p maxstorage --example blobs` (against a configured service, set
//! `MAXSTORAGE_BLOB_TABLE` to a table `(id bigint, content blob)`).

mod common;

use std::sync::Arc;

use base64::Engine as _;
use maxstorage::BlobWriteOptions;
use maxstorage::arrow_array::{Array, ArrayRef, BinaryArray, Int64Array, RecordBatch};
use maxstorage::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = common::service("blobs");
    let name = match (service.admin(), std::env::var("MAXSTORAGE_BLOB_TABLE")) {
        (_, Ok(name)) => name,
        (Some(admin), Err(_)) => {
            use maxstorage_emulator::store::{ColumnDef, TableDef};
            admin.create_table(&TableDef::new(
                &service.project,
                "assets",
                vec![
                    ColumnDef::new("id", "bigint"),
                    ColumnDef::new("content", "blob"),
                ],
            ))?;
            "assets".into()
        }
        (None, Err(_)) => return Err("set MAXSTORAGE_BLOB_TABLE".into()),
    };
    let client = service.client();
    let table = client.table(TableId::new(&service.project, &name));
    let files: Vec<Vec<u8>> = (1..=3u8).map(|i| vec![i; 10_000 * i as usize]).collect();

    // Upload: blobs go to a stream of a write session; each upload answers a reference.
    let session = table.create_write_session(WriteSessionOptions::default())?;
    let blob_stream = StreamRef::new("blobs", 1);
    let info = session.create_stream(&blob_stream, StreamKind::Plain)?;
    let column = info
        .table_schema
        .blob_columns()
        .first()
        .and_then(|c| c.column_id)
        .ok_or("the table has no BLOB column")?;
    let mut references = Vec::new();
    for data in &files {
        let mut upload = session.blob_writer(
            &blob_stream,
            BlobWriteOptions::column(column).compression(Compression::Zstd),
        )?;
        std::io::Write::write_all(&mut upload, data)?;
        references.push(upload.finish()?.blob_reference);
    }
    session.close_stream(&blob_stream)?;

    // The references are the BLOB column's values (binary), written like any rows.
    let cells: Vec<Vec<u8>> = references
        .iter()
        .map(|r| base64::engine::general_purpose::STANDARD.decode(r))
        .collect::<Result<_, _>>()?;
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..3)) as ArrayRef,
        ),
        (
            "content",
            Arc::new(BinaryArray::from_iter_values(cells.iter())) as ArrayRef,
        ),
    ])?;
    let mut rows = session.stream_writer(StreamRef::new("rows", 1), StreamOptions::default())?;
    rows.write(&batch)?;
    rows.finish()?;
    session.commit()?;

    // Read the references back and download the blobs.
    let read = table.create_read_session(ReadSessionOptions::default())?;
    let mut stored = Vec::new();
    for item in table.read_all(&read, &ReadOptions::default(), 1) {
        let (_, batch) = item?;
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or("id")?;
        let refs = batch
            .column(1)
            .as_any()
            .downcast_ref::<BinaryArray>()
            .ok_or("content")?;
        for i in 0..batch.num_rows() {
            stored.push((
                ids.value(i),
                base64::engine::general_purpose::STANDARD.encode(refs.value(i)),
            ));
        }
    }
    stored.sort();
    let references: Vec<String> = stored.into_iter().map(|(_, r)| r).collect();
    for (i, blob) in table
        .with_compression(Compression::Zstd)
        .read_blobs(references)?
        .enumerate()
    {
        let blob = blob?;
        println!("blob {i}: {} bytes", blob.data.len());
        assert_eq!(blob.data, files[i]);
    }
    Ok(())
}
