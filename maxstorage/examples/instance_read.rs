//! User guide: reading a query result (an instance) — a read session over the result,
//! then a row range of it.
//!
//! `cargo run -p maxstorage --example instance_read` (against a configured service, set
//! `MAXSTORAGE_INSTANCE` to the id of a finished query).

mod common;

use maxstorage::{InstanceId, InstanceReadOptions, RowRange};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = common::service("instance_read");
    let instance = match (service.admin(), std::env::var("MAXSTORAGE_INSTANCE")) {
        (_, Ok(id)) => id,
        (Some(admin), Err(_)) => {
            // The emulator makes a query result out of a table.
            service.fill(2_000);
            admin.create_instance(&maxstorage_emulator::admin::InstanceDef {
                project: service.project.clone(),
                schema: "default".into(),
                table: "people".into(),
                columns: vec!["id".into(), "name".into()],
                partition: Some("region=eu".into()),
                limit: None,
            })?
        }
        (None, Err(_)) => return Err("set MAXSTORAGE_INSTANCE to a query's instance id".into()),
    };
    let client = service.client();
    let result = client.instance(InstanceId::new(&service.project, &instance));
    let session = result.create_read_session()?;
    println!("instance {instance}: {} rows", session.record_count);
    let rows: usize = result
        .read_range(
            &session,
            RowRange {
                offset: 100,
                count: 50,
            },
            &InstanceReadOptions::default(),
        )?
        .map(|b| b.map(|b| b.num_rows()))
        .sum::<maxstorage::Result<usize>>()?;
    println!("rows 100..150: {rows}");
    assert_eq!(rows, 50);
    Ok(())
}
