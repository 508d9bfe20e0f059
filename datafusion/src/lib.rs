//! SQL over MaxCompute tables with [DataFusion](https://datafusion.apache.org), distributed
//! with [Ballista](https://datafusion.apache.org/ballista/): the Storage API as a table
//! provider, a catalog and an `INSERT` target.
//!
//! | item | for |
//! |---|---|
//! | [`MaxComputeTable`] | one table: its schema from the service; projection, filters, required partitions and limit pushed into the read session; one DataFusion partition per group of splits; `INSERT INTO` / `INSERT OVERWRITE` |
//! | [`MaxComputeCatalog`], [`MaxComputeSchema`] | a project's tables by name: `SELECT … FROM mc.default.people` |
//! | [`MaxComputeScanExec`] | the physical scan: the session's splits spread over partitions, each read resumed after a broken connection |
//! | [`MaxComputeWriteExec`], [`MaxComputeCommitExec`] | the physical insert: an exactly-once stream per input partition, then one commit of exactly the streams that finished — or nothing |
//! | [`ballista`] (feature `ballista`) | the codecs that ship plans with these nodes to Ballista executors (endpoint, table, session and split positions travel; credentials never do) |
//!
//! Reading and writing through SQL (here against the local emulator of
//! `maxstorage-emulator`; a real service only changes the endpoint and credentials):
//!
//! ```
//! use std::sync::Arc;
//! use datafusion::prelude::SessionContext;
//! use maxstorage::Credentials;
//! use maxstorage::asynchronous::Client;
//! use maxstorage_datafusion::MaxComputeCatalog;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("maxstorage-df-doc-{}", std::process::id()));
//! # let emulator = maxstorage_emulator::Emulator::builder()
//! #     .data_dir(&dir).credentials("id", "secret").start()?;
//! # let admin = maxstorage_emulator::admin::AdminClient::new(emulator.addr())
//! #     .with_credentials("id", "secret");
//! # admin.create_table(&maxstorage_emulator::store::TableDef::new("demo", "people", vec![
//! #     maxstorage_emulator::store::ColumnDef::new("id", "bigint"),
//! #     maxstorage_emulator::store::ColumnDef::new("name", "string"),
//! # ]))?;
//! # let endpoint = emulator.endpoint();
//! let client = Client::builder()
//!     .endpoint(endpoint)
//!     .credentials(Credentials::new("id", "secret"))
//!     .build()
//!     .await?;
//! let ctx = SessionContext::new();
//! ctx.register_catalog("mc", Arc::new(MaxComputeCatalog::new(&client, "demo")));
//!
//! ctx.sql("INSERT INTO mc.default.people VALUES (1, 'a'), (2, 'b'), (3, 'c')")
//!     .await?
//!     .collect()
//!     .await?;
//! let batches = ctx
//!     .sql("SELECT count(*) AS n FROM mc.default.people WHERE id > 1")
//!     .await?
//!     .collect()
//!     .await?;
//! let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
//! assert!(text.contains("| 2 |"), "{text}");
//! # emulator.shutdown();
//! # let _ = std::fs::remove_dir_all(&dir);
//! # Ok(())
//! # }
//! ```
//!
//! # Filters
//!
//! Which filters the read session takes, and whether DataFusion still re-checks them:
//!
//! | DataFusion filter | pushed as | DataFusion re-checks? |
//! |---|---|---|
//! | `col <op> literal` (or `literal <op> col`), `op` one of `= != < <= > >=`, on an integer, string, boolean or date column with a literal of the same kind | `` `col` op literal `` in `FilterPredicate` | no (`Exact`) |
//! | the same on a floating-point or decimal column | the same | yes (`Inexact`: NaN and decimal rounding may differ in the service) |
//! | `a AND b`, `a OR b` of the above | `(a) AND (b)`, `(a) OR (b)` | only if a side is re-checked |
//! | `a AND b` where one side does not translate | the side that does | yes (`Inexact`) |
//! | `pt = 'v'`, `pt IN ('v', …)` on the only partition column | required partitions `pt=v` | no (`Exact`) |
//! | anything else (`IS NULL`, `NOT`, `LIKE`, functions, casts, timestamps, …) | nothing | yes (`Unsupported`) |
//!
//! # Distributed
//!
//! With the `ballista` feature, [`ballista::MaxStorageLogicalCodec`] and
//! [`ballista::MaxStoragePhysicalCodec`] carry scans and inserts to Ballista's scheduler
//! and executors; each process builds its own client from its own credentials
//! ([`Connector`]). The scan's partitions are the positions of the session's splits, so
//! Ballista spreads them over its tasks and no split is read twice.

mod catalog;
mod connect;
mod error;
mod filter;
mod insert;
mod plan;
mod provider;
mod scan;

#[cfg(feature = "ballista")]
pub mod ballista;

pub use catalog::{MaxComputeCatalog, MaxComputeSchema};
pub use connect::Connector;
pub use insert::{MaxComputeCommitExec, MaxComputeWriteExec};
pub use provider::MaxComputeTable;
pub use scan::MaxComputeScanExec;
