//! User guide: previewing a table — its first rows without a read session.
//!
//! `cargo run -p maxstorage --example preview`.

mod common;

use maxstorage::PreviewOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = common::service("preview");
    service.fill(1_000);
    let client = service.client();
    let table = client.table(service.table.clone());
    let options = PreviewOptions::default()
        .with_limit(Some(5))
        .with_partition(Some("region=eu".into()))
        .with_columns(Some(vec!["id".into(), "name".into()]));
    let batches = table
        .preview(options)?
        .collect::<maxstorage::Result<Vec<_>>>()?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    for b in &batches {
        println!("{b:?}");
    }
    assert!(rows <= 5 && rows > 0);
    Ok(())
}
