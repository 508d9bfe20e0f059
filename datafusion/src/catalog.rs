//! A project as a DataFusion catalog: [`MaxComputeCatalog`] (the project, its schemas)
//! and [`MaxComputeSchema`] (one schema's tables).
//!
//! The Storage API has no call that lists a project's tables, so tables are found by
//! name: the first query that names `catalog.schema.table` asks the service for that
//! table's schema (one read session) and keeps it; names that were asked for are the
//! ones listed. A name the service does not know is an unknown table to DataFusion.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result};
use maxstorage::TableId;
use maxstorage::asynchronous::Client;

use crate::connect::Connection;
use crate::error::is_missing_table;
use crate::provider::MaxComputeTable;

/// A MaxCompute project as a DataFusion catalog: each of its schemas (`default` and any
/// other name asked for) is a [`MaxComputeSchema`].
///
/// ```no_run
/// # async fn demo(client: maxstorage::asynchronous::Client) -> datafusion::common::Result<()> {
/// use std::sync::Arc;
/// use datafusion::prelude::SessionContext;
/// use maxstorage_datafusion::MaxComputeCatalog;
///
/// let ctx = SessionContext::new();
/// ctx.register_catalog("mc", Arc::new(MaxComputeCatalog::new(&client, "my_project")));
/// let df = ctx.sql("SELECT count(*) FROM mc.default.people").await?;
/// df.show().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MaxComputeCatalog {
    connection: Connection,
    project: String,
    schemas: RwLock<BTreeMap<String, Arc<MaxComputeSchema>>>,
}

impl MaxComputeCatalog {
    /// The project `project` through `client`.
    pub fn new(client: &Client, project: impl Into<String>) -> MaxComputeCatalog {
        MaxComputeCatalog {
            connection: Connection::of(client.clone()),
            project: project.into(),
            schemas: RwLock::new(BTreeMap::new()),
        }
    }
}

impl CatalogProvider for MaxComputeCatalog {
    fn schema_names(&self) -> Vec<String> {
        let schemas = self.schemas.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = schemas.keys().cloned().collect();
        if !schemas.contains_key(maxstorage::protocol::config::DEFAULT_SCHEMA) {
            names.insert(0, maxstorage::protocol::config::DEFAULT_SCHEMA.to_string());
        }
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let mut schemas = self.schemas.write().unwrap_or_else(|e| e.into_inner());
        let schema = schemas.entry(name.to_string()).or_insert_with(|| {
            Arc::new(MaxComputeSchema {
                connection: self.connection.clone(),
                project: self.project.clone(),
                schema: name.to_string(),
                tables: RwLock::new(BTreeMap::new()),
            })
        });
        Some(schema.clone())
    }
}

/// One schema of a MaxCompute project as a DataFusion schema: its tables, found by name.
#[derive(Debug)]
pub struct MaxComputeSchema {
    connection: Connection,
    project: String,
    schema: String,
    tables: RwLock<BTreeMap<String, Arc<MaxComputeTable>>>,
}

impl MaxComputeSchema {
    /// The schema `schema` (`default` for projects without schemas) of `project`.
    pub fn new(
        client: &Client,
        project: impl Into<String>,
        schema: impl Into<String>,
    ) -> MaxComputeSchema {
        MaxComputeSchema {
            connection: Connection::of(client.clone()),
            project: project.into(),
            schema: schema.into(),
            tables: RwLock::new(BTreeMap::new()),
        }
    }

    fn cached(&self, name: &str) -> Option<Arc<MaxComputeTable>> {
        let tables = self.tables.read().unwrap_or_else(|e| e.into_inner());
        tables.get(name).cloned()
    }
}

#[async_trait]
impl SchemaProvider for MaxComputeSchema {
    fn table_names(&self) -> Vec<String> {
        let tables = self.tables.read().unwrap_or_else(|e| e.into_inner());
        tables.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        if let Some(table) = self.cached(name) {
            return Ok(Some(table));
        }
        let id = TableId::with_schema(&self.project, &self.schema, name);
        let table = match MaxComputeTable::open(self.connection.clone(), id).await {
            Ok(table) => Arc::new(table),
            Err(DataFusionError::External(e))
                if e.downcast_ref::<maxstorage::Error>()
                    .is_some_and(is_missing_table) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        let kept = tables.entry(name.to_string()).or_insert(table);
        Ok(Some(kept.clone()))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.cached(name).is_some()
    }
}
