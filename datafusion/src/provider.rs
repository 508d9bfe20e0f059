//! [`MaxComputeTable`]: a MaxCompute table as a DataFusion [`TableProvider`].

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, not_impl_err};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use maxstorage::asynchronous::Client;
use maxstorage::{ReadSessionOptions, SplitMode, SplitOptions, TableId, WriteSessionOptions};

use crate::connect::Connection;
use crate::error::to_datafusion;
use crate::filter::Translator;
use crate::insert::{MaxComputeCommitExec, WriteSpec};
use crate::scan::MaxComputeScanExec;

/// A MaxCompute table as a DataFusion table: scans read its splits through the Storage
/// API (projection, filters, required partitions and limit pushed into the read
/// session), `INSERT INTO` / `INSERT OVERWRITE` write it exactly once.
///
/// Its schema is the service's: data columns, then partition columns, as Arrow types
/// (timestamps in nanoseconds).
#[derive(Debug, Clone)]
pub struct MaxComputeTable {
    connection: Connection,
    table: TableId,
    schema: SchemaRef,
    partition_columns: Vec<String>,
    split_options: SplitOptions,
}

impl MaxComputeTable {
    /// The table `table`, its schema asked from the service (one read session).
    pub async fn try_new(client: &Client, table: TableId) -> Result<MaxComputeTable> {
        MaxComputeTable::open(Connection::of(client.clone()), table).await
    }

    /// The table through `connection`, its schema asked from the service.
    pub(crate) async fn open(connection: Connection, table: TableId) -> Result<MaxComputeTable> {
        let client = connection.client().await?;
        let session = client
            .table(table.clone())
            .create_read_session(ReadSessionOptions::default())
            .await
            .map_err(to_datafusion)?;
        let schema = session.arrow_schema().map_err(to_datafusion)?;
        let partition_columns = session
            .info()
            .data_schema
            .partition_columns
            .iter()
            .map(|c| c.name.clone())
            .collect();
        Ok(MaxComputeTable::from_parts(
            connection,
            table,
            schema,
            partition_columns,
        ))
    }

    /// A table whose schema is known (a plan decoded in another process).
    pub(crate) fn from_parts(
        connection: Connection,
        table: TableId,
        schema: SchemaRef,
        partition_columns: Vec<String>,
    ) -> MaxComputeTable {
        MaxComputeTable {
            connection,
            table,
            schema,
            partition_columns,
            split_options: SplitOptions::default(),
        }
    }

    /// How scans split the table (default: the service's, by size). Each split is read
    /// by one DataFusion partition; `SplitMode::Parallelism` with `n` asks for `n` splits.
    /// Row-offset splitting is not taken: scans fail with it.
    pub fn with_split_options(mut self, options: SplitOptions) -> MaxComputeTable {
        self.split_options = options;
        self
    }

    /// How scans split the table.
    pub fn split_options(&self) -> &SplitOptions {
        &self.split_options
    }

    /// The table.
    pub fn table(&self) -> &TableId {
        &self.table
    }

    /// The names of its partition columns (the last columns of its schema).
    pub fn partition_columns(&self) -> &[String] {
        &self.partition_columns
    }

    /// The connection its scans and inserts use.
    #[cfg(feature = "ballista")]
    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    fn translator(&self) -> Translator<'_> {
        Translator::new(&self.schema, &self.partition_columns)
    }

    /// The read session's columns for a projection: the projected data columns and
    /// partition columns. A projection without columns (`count(*)`) still reads one
    /// column, the first data column, to count its rows.
    fn session_columns(&self, projected: &SchemaRef) -> (Vec<String>, Vec<String>) {
        let (partition, data): (Vec<String>, Vec<String>) = projected
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .partition(|name| self.partition_columns.contains(name));
        let data = if data.is_empty() {
            // An empty list asks for every data column.
            self.schema
                .fields()
                .iter()
                .map(|f| f.name())
                .find(|name| !self.partition_columns.contains(name))
                .into_iter()
                .cloned()
                .collect()
        } else {
            data
        };
        (data, partition)
    }
}

#[async_trait]
impl TableProvider for MaxComputeTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let translator = self.translator();
        Ok(filters
            .iter()
            .map(|f| translator.translate(f).pushdown())
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projected = match projection {
            Some(indices) => Arc::new(self.schema.project(indices)?),
            None => self.schema.clone(),
        };
        if self.split_options.mode == SplitMode::RowOffset {
            return not_impl_err!(
                "scans of {} split by size, parallelism or bucket, not by row offset",
                self.table
            );
        }
        let pushed = self.translator().combine(filters);
        if pushed.partitions.as_ref().is_some_and(|p| p.is_empty()) {
            // The filters contradict each other on the partition column.
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let (data, partition) = self.session_columns(&projected);
        let options = ReadSessionOptions::default()
            .with_required_data_columns(data)
            .with_required_partition_columns(partition)
            .with_required_partitions(pushed.partitions.unwrap_or_default())
            .with_filter_predicate(pushed.predicate)
            .with_split_options(self.split_options.clone());
        let client = self.connection.client().await?;
        let session = client
            .table(self.table.clone())
            .create_read_session(options)
            .await
            .map_err(to_datafusion)?;
        let partitions = state.config().target_partitions();
        Ok(Arc::new(MaxComputeScanExec::new(
            self.connection.clone(),
            session,
            projected,
            limit,
            partitions,
        )?))
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let overwrite = match insert_op {
            InsertOp::Append => false,
            InsertOp::Overwrite => true,
            InsertOp::Replace => {
                return not_impl_err!(
                    "REPLACE INTO {}: MaxCompute tables take INSERT INTO and INSERT OVERWRITE",
                    self.table
                );
            }
        };
        // One session for every partition's stream, made now so that its id travels
        // with the plan.
        let client = self.connection.client().await?;
        let session = client
            .table(self.table.clone())
            .create_write_session(WriteSessionOptions::default().with_overwrite(overwrite))
            .await
            .map_err(to_datafusion)?;
        let spec = WriteSpec {
            connection: self.connection.clone(),
            table: self.table.clone(),
            session_id: session.id().to_string(),
            overwrite,
        };
        Ok(Arc::new(MaxComputeCommitExec::insert(spec, input)))
    }
}
