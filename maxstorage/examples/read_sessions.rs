//! User guide: read sessions and splits, filters and options. A session over the whole
//! table split by size, one over a partition split into row ranges, a filter pushed to
//! the service, a column subset and a batch size.
//!
//! `cargo run -p maxstorage --example read_sessions`.

mod common;

use maxstorage::SplitMode;
use maxstorage::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = common::service("read_sessions");
    service.fill(5_000);
    let client = service.client();
    let table = client.table(service.table.clone());

    // Every split of a session over the whole table.
    let session = table.create_read_session(ReadSessionOptions::default())?;
    let mut rows = 0;
    for split in session.splits() {
        for batch in table.read_rows(&session, split, &ReadOptions::default()) {
            rows += batch?.num_rows();
        }
    }
    println!("{} splits, {rows} rows", session.splits().len());
    assert_eq!(rows, 10_000);

    // One partition, split into ranges of 1,000 rows (RowOffset mode).
    let ranges = table.create_read_session(
        ReadSessionOptions::default()
            .with_required_partitions(vec!["region=us".into()])
            .with_split_options(SplitOptions::by_row_offset(1_000)),
    )?;
    assert_eq!(ranges.info().split_mode, SplitMode::RowOffset);
    println!("region=us: {} ranges", ranges.splits().len());
    // Any range can be read on its own, e.g. rows 2,500..2,600.
    let some: usize = table
        .read_rows(
            &ranges,
            RowSelection::range(2_500, 100),
            &ReadOptions::default(),
        )
        .map(|b| b.map(|b| b.num_rows()))
        .sum::<maxstorage::Result<usize>>()?;
    assert_eq!(some, 100);

    // A filter the service applies, two columns, batches of at most 256 rows.
    let filtered = table.create_read_session(
        ReadSessionOptions::default()
            .with_required_data_columns(vec!["id".into(), "name".into()])
            .with_filter_predicate("id < 1000 AND score >= 100".into()),
    )?;
    let options = ReadOptions::default().with_max_batch_rows(Some(256));
    let mut matched = 0;
    for split in filtered.splits() {
        for batch in table.read_rows(&filtered, split, &options) {
            let batch = batch?;
            assert!(batch.num_rows() <= 256);
            assert!(batch.schema().field_with_name("score").is_err());
            matched += batch.num_rows();
        }
    }
    println!("{matched} rows with id < 1000 and score >= 100");
    assert_eq!(matched, 800);
    Ok(())
}
