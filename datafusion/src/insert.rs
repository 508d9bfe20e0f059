//! [`MaxComputeInsertExec`]: `INSERT INTO` / `INSERT OVERWRITE` of a MaxCompute table —
//! one write session, one exactly-once stream per input partition, one commit at the end,
//! nothing committed if any partition fails.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PhysicalExpr, PlanProperties,
};
use futures_util::StreamExt;
use maxstorage::asynchronous::WriteSessionHandle;
use maxstorage::{StreamOptions, StreamRef, TableId, WriteSessionOptions};

use crate::connect::Connection;
use crate::error::to_datafusion;

/// Writes its input into a MaxCompute table and returns one row: the `count` of rows
/// committed.
///
/// Every input partition is written through an exactly-once stream of one write session
/// (the partitions run concurrently); the session is committed once all of them are
/// finished with every row acknowledged, and aborted if any fails — the table then holds
/// none of the rows. Partitioned tables take their partition columns from the rows
/// (dynamic partitions).
#[derive(Debug)]
pub struct MaxComputeInsertExec {
    spec: Arc<InsertSpec>,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

/// Where an insert writes.
#[derive(Debug)]
pub(crate) struct InsertSpec {
    /// Where the table lives.
    pub(crate) connection: Connection,
    /// The table.
    pub(crate) table: TableId,
    /// Whether the commit replaces the table's (or the written partitions') data.
    pub(crate) overwrite: bool,
}

impl MaxComputeInsertExec {
    /// An insert of `input` into `table`.
    pub(crate) fn new(
        connection: Connection,
        table: TableId,
        overwrite: bool,
        input: Arc<dyn ExecutionPlan>,
    ) -> MaxComputeInsertExec {
        let spec = InsertSpec {
            connection,
            table,
            overwrite,
        };
        MaxComputeInsertExec::with_input(Arc::new(spec), input)
    }

    /// The same insert of another input.
    pub(crate) fn with_input(
        spec: Arc<InsertSpec>,
        input: Arc<dyn ExecutionPlan>,
    ) -> MaxComputeInsertExec {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "count",
            DataType::UInt64,
            false,
        )]));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        MaxComputeInsertExec {
            spec,
            input,
            properties: Arc::new(properties),
        }
    }

    /// The table written.
    pub fn table(&self) -> &TableId {
        &self.spec.table
    }

    /// Whether the insert overwrites.
    pub fn overwrite(&self) -> bool {
        self.spec.overwrite
    }

    /// Where the insert writes.
    pub(crate) fn spec(&self) -> &Arc<InsertSpec> {
        &self.spec
    }
}

impl DisplayAs for MaxComputeInsertExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MaxComputeInsertExec: table={}, overwrite={}",
            self.spec.table, self.spec.overwrite
        )
    }
}

impl ExecutionPlan for MaxComputeInsertExec {
    fn name(&self) -> &str {
        "MaxComputeInsertExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        // Each input partition becomes a stream of its own: no need for more.
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([input]) => Ok(Arc::new(MaxComputeInsertExec::with_input(
                self.spec.clone(),
                input,
            ))),
            Err(children) => internal_err!(
                "MaxComputeInsertExec has one child, given {}",
                children.len()
            ),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("MaxComputeInsertExec has one partition, asked for {partition}");
        }
        let inputs = (0..self.input.output_partitioning().partition_count())
            .map(|i| self.input.execute(i, context.clone()))
            .collect::<Result<Vec<_>>>()?;
        let spec = self.spec.clone();
        let schema = self.properties.eq_properties.schema().clone();
        let count_schema = schema.clone();
        let stream = futures_util::stream::once(async move {
            let rows = spec.write(inputs).await?;
            let count: ArrayRef = Arc::new(UInt64Array::from(vec![rows]));
            Ok(RecordBatch::try_new(count_schema, vec![count])?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

impl InsertSpec {
    /// Writes every input through its own stream and commits; the rows committed.
    async fn write(&self, inputs: Vec<SendableRecordBatchStream>) -> Result<u64> {
        let client = self.connection.client().await?;
        let table = client.table(self.table.clone());
        let options = WriteSessionOptions::default().with_overwrite(self.overwrite);
        let session = table
            .create_write_session(options)
            .await
            .map_err(to_datafusion)?;
        let writes = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| write_stream(&session, i, input));
        match futures_util::future::try_join_all(writes).await {
            Ok(rows) => {
                session.commit().await.map_err(to_datafusion)?;
                Ok(rows.iter().sum())
            }
            Err(e) => {
                // Nothing is committed; the abort only frees the session early.
                if let Err(abort) = session.abort().await {
                    tracing::warn!(session = session.id(), error = %abort, "abort after a failed insert");
                }
                Err(e)
            }
        }
    }
}

/// Writes one input partition through an exactly-once stream; the rows the service
/// acknowledged, which must be the rows given.
async fn write_stream(
    session: &WriteSessionHandle,
    index: usize,
    mut input: SendableRecordBatchStream,
) -> Result<u64> {
    let options = StreamOptions::default().with_exactly_once(true);
    let mut writer = session
        .stream_writer(StreamRef::new(index.to_string(), 1), options)
        .await
        .map_err(to_datafusion)?;
    let schema = writer.schema().clone();
    let mut given = 0u64;
    while let Some(batch) = input.next().await {
        let batch = fit(&batch?, &schema)?;
        if batch.num_rows() == 0 {
            continue;
        }
        given += batch.num_rows() as u64;
        writer.write(&batch).await.map_err(to_datafusion)?;
    }
    let summary = writer.finish().await.map_err(to_datafusion)?;
    if u64::try_from(summary.rows).ok() != Some(given) {
        return Err(DataFusionError::Execution(format!(
            "stream {index} of write session {}: {given} rows written, the service acknowledged {}",
            session.id(),
            summary.rows
        )));
    }
    Ok(given)
}

/// A batch of the table's schema as the write stream takes it: its columns by name, in
/// the stream's order, cast where the Arrow types differ (e.g. a string view).
fn fit(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = batch.column_by_name(field.name()).ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "INSERT: the rows have no column {:?} the table needs",
                    field.name()
                ))
            })?;
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                Ok(cast(column, field.data_type())?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
