//! User guide: write sessions, streams and exactly-once writes. A session for one
//! partition, three streams written at once (exactly-once: a retried write can never
//! duplicate rows), one commit; then a second session that replaces the partition.
//!
//! `cargo run -p maxstorage --example write_sessions` (embedded emulator unless
//! `MAXSTORAGE_ENDPOINT` is set).

mod common;

use maxstorage::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = common::service("write_sessions");
    let client = service.client();
    let table = client.table(service.table.clone());

    let session = table.create_write_session(
        WriteSessionOptions::default().with_partition_spec("region=eu".into()),
    )?;
    println!("write session {}", session.id());
    let options = StreamOptions::default()
        .with_exactly_once(true)
        .with_compression(Some(Compression::Zstd));
    // One stream per thread; each is closed by `finish`.
    let written: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (session, options) = (&session, options.clone());
                scope.spawn(move || -> maxstorage::Result<i64> {
                    let mut writer =
                        session.stream_writer(StreamRef::new(i.to_string(), 1), options)?;
                    for part in 0..4 {
                        let from = i * 10_000 + part * 2_500;
                        writer.write(&common::people(from, from + 2_500))?;
                    }
                    Ok(writer.finish()?.rows)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect::<maxstorage::Result<_>>()
    })?;
    println!("streams acknowledged {written:?} rows");
    let info = session.commit()?;
    println!("committed: {:?}", info.status);
    assert_eq!(written.iter().sum::<i64>(), 30_000);

    // Replace the partition: an overwrite session commits its rows instead of adding them.
    let replace = table.create_write_session(
        WriteSessionOptions::default()
            .with_partition_spec("region=eu".into())
            .with_overwrite(true),
    )?;
    let mut writer = replace.stream_writer(StreamRef::new("0", 1), options)?;
    writer.write(&common::people(0, 100))?;
    writer.finish()?;
    replace.commit()?;

    let read = table.create_read_session(
        ReadSessionOptions::default().with_required_partitions(vec!["region=eu".into()]),
    )?;
    println!("region=eu now holds {} rows", read.record_count());
    assert_eq!(read.record_count(), 100);
    Ok(())
}
