//! User guide, async: the same write and read on Tokio — a stream writer whose bodies are
//! sent while the next is encoded, and a split read as a `Stream` of batches.
//!
//! `cargo run -p maxstorage --example async_client`.

mod common;

use futures_util::TryStreamExt;
use maxstorage::asynchronous::Client;
use maxstorage::{ReadOptions, ReadSessionOptions, StreamOptions, StreamRef, WriteSessionOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = common::service("async_client");
    let client = Client::builder()
        .endpoint(&service.endpoint)
        .credentials(service.credentials.clone())
        .project(&service.project)
        .build()
        .await?;
    let table = client.table(service.table.clone());

    let session = table
        .create_write_session(
            WriteSessionOptions::default()
                .with_partition_spec("region=ap".into())
                .with_overwrite(true),
        )
        .await?;
    let options = StreamOptions::default().with_exactly_once(true);
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), options)
        .await?;
    for part in 0..5 {
        writer
            .write(&common::people(part * 1_000, (part + 1) * 1_000))
            .await?;
    }
    let summary = writer.finish().await?;
    session.commit().await?;
    println!("wrote {} rows", summary.rows);

    let read = table
        .create_read_session(
            ReadSessionOptions::default().with_required_partitions(vec!["region=ap".into()]),
        )
        .await?;
    let mut rows = 0;
    for split in read.splits() {
        let batches: Vec<_> = table
            .read_rows(&read, split, &ReadOptions::default())
            .try_collect()
            .await?;
        rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    println!("read {rows} rows");
    assert_eq!(rows, 5_000);
    Ok(())
}
