//! User guide: reading a table in parallel. A session split into four parts, read by four
//! workers; batches arrive as they are decoded, tagged with their split.
//!
//! `cargo run -p maxstorage --example parallel_read`.

mod common;

use maxstorage::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = common::service("parallel_read");
    service.fill(20_000);
    let client = service.client();
    let table = client.table(service.table.clone());
    let session = table.create_read_session(
        ReadSessionOptions::default().with_split_options(SplitOptions::by_parallelism(4)),
    )?;
    let mut per_split = vec![0usize; session.splits().len()];
    for item in table.read_all(&session, &ReadOptions::default(), 4) {
        let (split, batch) = item?;
        per_split[split] += batch.num_rows();
    }
    println!("rows per split: {per_split:?}");
    assert_eq!(per_split.iter().sum::<usize>(), 40_000);
    Ok(())
}
