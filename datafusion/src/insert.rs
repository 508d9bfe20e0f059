//! `INSERT INTO` / `INSERT OVERWRITE` of a MaxCompute table in two plans: a
//! [`MaxComputeWriteExec`] that writes each input partition through an exactly-once
//! stream of one write session (made when the insert is planned) and reports the stream,
//! and a [`MaxComputeCommitExec`] above it that commits exactly the streams reported —
//! once, and only if every partition finished.
//!
//! The write keeps its input's partitioning, so a distributed engine runs it where the
//! input's partitions run (Ballista: one task per slice of partitions); the commit needs
//! one partition, so the planner gathers the reports to it (Ballista: a stage of its own,
//! after every write task). A retried partition writes a stream of a new id, and only the
//! streams whose reports reach the commit are committed: a failed attempt's rows never
//! land, and a partition's rows land once.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    InputDistributionRequirements, Partitioning, PlanProperties,
};
use futures_util::{StreamExt, TryStreamExt};
use maxstorage::asynchronous::WriteSessionHandle;
use maxstorage::{StreamOptions, StreamRef, TableId, WriteMode};

use crate::connect::Connection;
use crate::error::to_datafusion;
use crate::plan::one_input_plan;

/// The write session an insert writes into.
#[derive(Debug)]
pub(crate) struct WriteSpec {
    /// Where the table lives.
    pub(crate) connection: Connection,
    /// The table.
    pub(crate) table: TableId,
    /// The write session (created when the insert was planned).
    pub(crate) session_id: String,
    /// Whether the commit replaces the table's (or the written partitions') data.
    pub(crate) overwrite: bool,
}

impl WriteSpec {
    /// The write session, attached from this process.
    async fn session(&self) -> Result<WriteSessionHandle> {
        let client = self.connection.client().await?;
        client
            .table(self.table.clone())
            .write_session(&self.session_id, WriteMode::default(), "")
            .await
            .map_err(to_datafusion)
    }

    fn fmt_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{name}: table={}, session={}, overwrite={}",
            self.table, self.session_id, self.overwrite
        )
    }
}

/// The schema of the write's reports: one row per input partition.
fn report_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("stream_id", DataType::Utf8, false),
        Field::new("stream_version", DataType::Int64, false),
        Field::new("rows", DataType::UInt64, false),
    ]))
}

/// The properties of a plan of `schema` with `partitions` partitions.
fn properties(schema: SchemaRef, partitions: usize, emission: EmissionType) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions),
        emission,
        Boundedness::Bounded,
    ))
}

/// Writes each input partition through an exactly-once stream of the insert's write
/// session and returns, per partition, one row: the stream's id and version and the rows
/// the service acknowledged (checked against the rows given). Partitioned tables take
/// their partition columns from the rows (dynamic partitions).
#[derive(Debug)]
pub struct MaxComputeWriteExec {
    spec: Arc<WriteSpec>,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl MaxComputeWriteExec {
    /// A write of `input`.
    pub(crate) fn new(spec: Arc<WriteSpec>, input: Arc<dyn ExecutionPlan>) -> MaxComputeWriteExec {
        let partitions = input.output_partitioning().partition_count();
        MaxComputeWriteExec {
            spec,
            input,
            properties: properties(report_schema(), partitions, EmissionType::Final),
        }
    }

    /// The write session.
    #[cfg(feature = "ballista")]
    pub(crate) fn spec(&self) -> &Arc<WriteSpec> {
        &self.spec
    }
}

impl DisplayAs for MaxComputeWriteExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spec.fmt_as("MaxComputeWriteExec", f)
    }
}

impl ExecutionPlan for MaxComputeWriteExec {
    one_input_plan!("MaxComputeWriteExec", MaxComputeWriteExec::new);

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        // One stream per partition the input has: no need for more.
        vec![false]
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let spec = self.spec.clone();
        let schema = report_schema();
        let reports = schema.clone();
        let stream = futures_util::stream::once(async move {
            let (stream, rows) = write_partition(&spec, partition, input).await?;
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from(vec![stream.stream_id])),
                Arc::new(Int64Array::from(vec![stream.version])),
                Arc::new(UInt64Array::from(vec![rows])),
            ];
            Ok(RecordBatch::try_new(reports, columns)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// Writes one input partition through a new exactly-once stream; the stream and the rows
/// the service acknowledged, which must be the rows given.
async fn write_partition(
    spec: &WriteSpec,
    partition: usize,
    mut input: SendableRecordBatchStream,
) -> Result<(StreamRef, u64)> {
    let session = spec.session().await?;
    // A new id for every attempt: a retried partition never appends to the stream of an
    // attempt that failed (that stream is simply not committed).
    let nonce = std::collections::hash_map::RandomState::new().hash_one(partition);
    let stream = StreamRef::new(format!("df-{partition}-{nonce:016x}"), 1);
    let options = StreamOptions::default().with_exactly_once(true);
    let mut writer = session
        .stream_writer(stream.clone(), options)
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
            "stream {} of write session {}: {given} rows written, the service acknowledged {}",
            stream.stream_id, spec.session_id, summary.rows
        )));
    }
    Ok((stream, given))
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

/// Commits the streams its input (a [`MaxComputeWriteExec`]'s reports, gathered into one
/// partition) lists, and returns one row: the `count` of rows committed. If the input
/// fails, nothing is committed and the session is aborted.
#[derive(Debug)]
pub struct MaxComputeCommitExec {
    spec: Arc<WriteSpec>,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl MaxComputeCommitExec {
    /// A commit of the streams `input` reports.
    pub(crate) fn new(spec: Arc<WriteSpec>, input: Arc<dyn ExecutionPlan>) -> MaxComputeCommitExec {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "count",
            DataType::UInt64,
            false,
        )]));
        MaxComputeCommitExec {
            spec,
            input,
            properties: properties(schema, 1, EmissionType::Final),
        }
    }

    /// The insert of `input` into the session of `spec`: writes, then one commit.
    pub(crate) fn insert(spec: WriteSpec, input: Arc<dyn ExecutionPlan>) -> MaxComputeCommitExec {
        let spec = Arc::new(spec);
        let write = Arc::new(MaxComputeWriteExec::new(spec.clone(), input));
        MaxComputeCommitExec::new(spec, write)
    }

    /// The table written.
    pub fn table(&self) -> &TableId {
        &self.spec.table
    }

    /// The write session.
    pub fn session_id(&self) -> &str {
        &self.spec.session_id
    }

    /// Whether the commit replaces data.
    pub fn overwrite(&self) -> bool {
        self.spec.overwrite
    }

    /// The write session.
    #[cfg(feature = "ballista")]
    pub(crate) fn spec(&self) -> &Arc<WriteSpec> {
        &self.spec
    }

    /// Collects the reports and commits their streams; the rows committed.
    async fn commit(spec: &WriteSpec, reports: SendableRecordBatchStream) -> Result<u64> {
        let reports: Vec<RecordBatch> = match reports.try_collect().await {
            Ok(reports) => reports,
            Err(e) => {
                // Nothing is committed; the abort only frees the session early.
                match spec.session().await {
                    Ok(session) => {
                        if let Err(abort) = session.abort().await {
                            tracing::warn!(session = spec.session_id, error = %abort, "abort after a failed insert");
                        }
                    }
                    Err(attach) => {
                        tracing::warn!(session = spec.session_id, error = %attach, "abort after a failed insert")
                    }
                }
                return Err(e);
            }
        };
        let mut streams = Vec::new();
        let mut rows = 0u64;
        for batch in &reports {
            let ids = column::<StringArray>(batch, 0)?;
            let versions = column::<Int64Array>(batch, 1)?;
            let counts = column::<UInt64Array>(batch, 2)?;
            for i in 0..batch.num_rows() {
                streams.push(StreamRef::new(ids.value(i), versions.value(i)));
                rows += counts.value(i);
            }
        }
        spec.session()
            .await?
            .commit_streams(streams)
            .await
            .map_err(to_datafusion)?;
        Ok(rows)
    }
}

/// Column `i` of a report batch as `A`.
fn column<A: Array + 'static>(batch: &RecordBatch, i: usize) -> Result<&A> {
    match batch
        .columns()
        .get(i)
        .and_then(|c| c.as_any().downcast_ref::<A>())
    {
        Some(column) if column.null_count() == 0 => Ok(column),
        _ => internal_err!(
            "a MaxComputeCommitExec input that is not a MaxComputeWriteExec's reports"
        ),
    }
}

impl DisplayAs for MaxComputeCommitExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spec.fmt_as("MaxComputeCommitExec", f)
    }
}

impl ExecutionPlan for MaxComputeCommitExec {
    one_input_plan!("MaxComputeCommitExec", MaxComputeCommitExec::new);

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        // Every report in one place: the commit runs once.
        InputDistributionRequirements::new(vec![Distribution::SinglePartition])
    }

    #[allow(deprecated)] // DataFusion 55 still reads it in places.
    fn required_input_distribution(&self) -> Vec<Distribution> {
        self.input_distribution_requirements().into_per_child()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("MaxComputeCommitExec has one partition, asked for {partition}");
        }
        let partitions = self.input.output_partitioning().partition_count();
        if partitions != 1 {
            return internal_err!(
                "MaxComputeCommitExec needs its input in one partition, it has {partitions}"
            );
        }
        let reports = self.input.execute(0, context)?;
        let spec = self.spec.clone();
        let schema = self.properties.eq_properties.schema().clone();
        let count_schema = schema.clone();
        let stream = futures_util::stream::once(async move {
            let rows = MaxComputeCommitExec::commit(&spec, reports).await?;
            let count: ArrayRef = Arc::new(UInt64Array::from(vec![rows]));
            Ok(RecordBatch::try_new(count_schema, vec![count])?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
