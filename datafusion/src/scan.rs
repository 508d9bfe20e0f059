//! [`MaxComputeScanExec`]: the physical scan of a read session, one DataFusion partition
//! per group of splits.
//!
//! Which splits a partition reads is data, not code: the scan's only child is an
//! in-memory source whose partition `i` holds the positions (in
//! [`TableReadSession::splits`]) of the splits partition `i` reads. A distributed engine
//! that hands each task a slice of a stage's partitions (Ballista restricts in-memory
//! sources to the slice a task runs) thereby gives the scan exactly those splits: no
//! split is read twice, whichever way the partitions are spread over tasks.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch, RecordBatchOptions, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::stats::Precision;
use datafusion::common::{DataFusionError, Result, Statistics, internal_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures_util::StreamExt;
use maxstorage::asynchronous::SplitBatches;
use maxstorage::{ReadOptions, RowSelection, TableReadSession};

use crate::connect::Connection;
use crate::error::to_datafusion;
use crate::plan::one_input_plan;

/// The name of the one column of the split-position source.
const POSITION: &str = "split_position";

/// Reads the splits of a read session (made by [`MaxComputeTable`](crate::MaxComputeTable)'s
/// `scan`), resuming a split whose connection breaks; batches carry the projected schema.
#[derive(Debug)]
pub struct MaxComputeScanExec {
    spec: Arc<ScanSpec>,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

/// What every partition of a scan shares.
#[derive(Debug)]
pub(crate) struct ScanSpec {
    /// Where the session lives.
    pub(crate) connection: Connection,
    /// The session.
    pub(crate) session: TableReadSession,
    /// The batches' schema (the projection).
    pub(crate) schema: SchemaRef,
    /// Rows a partition may stop after (the query's limit).
    pub(crate) limit: Option<usize>,
    /// The session's splits.
    splits: Vec<RowSelection>,
}

impl ScanSpec {
    /// The spec of a scan of `session`.
    pub(crate) fn new(
        connection: Connection,
        session: TableReadSession,
        schema: SchemaRef,
        limit: Option<usize>,
    ) -> ScanSpec {
        let splits = session.splits();
        ScanSpec {
            connection,
            session,
            schema,
            limit,
            splits,
        }
    }

    /// The number of splits.
    pub(crate) fn split_count(&self) -> usize {
        self.splits.len()
    }

    /// Opens the read of the split at `position`.
    async fn open(&self, position: u64) -> Result<Pin<Box<SplitBatches>>> {
        let selection = usize::try_from(position)
            .ok()
            .and_then(|p| self.splits.get(p))
            .ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "split position {position} of a session with {} splits",
                    self.splits.len()
                ))
            })?;
        let client = self.connection.client().await?;
        let table = client.table(self.session.table().clone());
        Ok(Box::pin(table.read_rows(
            &self.session,
            *selection,
            &ReadOptions::default(),
        )))
    }

    /// A batch as the scan's schema orders its columns (a projection without columns
    /// keeps the row count only).
    fn shape(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if self.schema.fields().is_empty() {
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            return Ok(RecordBatch::try_new_with_options(
                self.schema.clone(),
                vec![],
                &options,
            )?);
        }
        let columns = self
            .schema
            .fields()
            .iter()
            .map(|field| {
                batch.column_by_name(field.name()).cloned().ok_or_else(|| {
                    DataFusionError::Execution(format!(
                        "session {}: a batch without column {:?}",
                        self.session.id(),
                        field.name()
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

impl MaxComputeScanExec {
    /// A scan of `session` producing `schema`, its splits spread over at most
    /// `partitions` partitions (round robin).
    pub(crate) fn new(
        connection: Connection,
        session: TableReadSession,
        schema: SchemaRef,
        limit: Option<usize>,
        partitions: usize,
    ) -> Result<MaxComputeScanExec> {
        let spec = ScanSpec::new(connection, session, schema, limit);
        let input = split_positions(spec.split_count(), partitions)?;
        Ok(MaxComputeScanExec::with_input(Arc::new(spec), input))
    }

    /// A scan whose split positions come from `input`.
    pub(crate) fn with_input(
        spec: Arc<ScanSpec>,
        input: Arc<dyn ExecutionPlan>,
    ) -> MaxComputeScanExec {
        let partitions = input.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(spec.schema.clone()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        MaxComputeScanExec {
            spec,
            input,
            properties: Arc::new(properties),
        }
    }

    /// The session the scan reads.
    pub fn session(&self) -> &TableReadSession {
        &self.spec.session
    }

    /// What the scan's partitions share.
    #[cfg(feature = "ballista")]
    pub(crate) fn spec(&self) -> &Arc<ScanSpec> {
        &self.spec
    }
}

/// The split-position source: `splits` positions dealt round robin over at most
/// `partitions` partitions (at least one).
fn split_positions(splits: usize, partitions: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        POSITION,
        DataType::UInt64,
        false,
    )]));
    let groups = partitions.clamp(1, splits.max(1));
    let mut batches = Vec::with_capacity(groups);
    for group in 0..groups {
        let positions: UInt64Array = (group..splits).step_by(groups).map(|p| p as u64).collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(positions)])?;
        batches.push(vec![batch]);
    }
    let source: Arc<dyn ExecutionPlan> = MemorySourceConfig::try_new_exec(&batches, schema, None)?;
    Ok(source)
}

impl DisplayAs for MaxComputeScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.spec.session.info();
        write!(
            f,
            "MaxComputeScanExec: table={}, session={}, splits={}",
            self.spec.session.table(),
            info.session_id,
            self.spec.split_count()
        )?;
        let columns: Vec<&str> = self
            .spec
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(f, ", columns=[{}]", columns.join(", "))?;
        if !info.data_schema.data_columns.is_empty() && self.spec.schema.fields().is_empty() {
            write!(
                f,
                " (rows counted on {})",
                info.data_schema.data_columns[0].name
            )?;
        }
        if let Some(limit) = self.spec.limit {
            write!(f, ", limit={limit}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for MaxComputeScanExec {
    one_input_plan!("MaxComputeScanExec", MaxComputeScanExec::with_input);

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        // The positions are few; repartitioning them would only add a shuffle.
        vec![false]
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let positions = self.input.execute(partition, context)?;
        let read = PartitionRead {
            spec: self.spec.clone(),
            positions: Some(positions),
            pending: VecDeque::new(),
            current: None,
            remaining: self.spec.limit,
        };
        let stream = futures_util::stream::unfold(read, PartitionRead::next);
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.spec.schema.clone(),
            stream,
        )))
    }

    #[allow(deprecated)] // The one statistics hook a leaf-like plan overrides in DataFusion 55.
    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let unknown = Statistics::new_unknown(&self.spec.schema);
        Ok(Arc::new(match partition {
            // The service's record count: what the session selected, before any limit.
            None => unknown.with_num_rows(
                usize::try_from(self.spec.session.record_count())
                    .map(Precision::Inexact)
                    .unwrap_or_default(),
            ),
            Some(_) => unknown,
        }))
    }
}

/// The read of one partition: its split positions, then each split's batches in turn.
struct PartitionRead {
    spec: Arc<ScanSpec>,
    /// The positions still to arrive (`None` once they all did, or after a failure).
    positions: Option<SendableRecordBatchStream>,
    /// Positions arrived and not read yet.
    pending: VecDeque<u64>,
    /// The split being read.
    current: Option<Pin<Box<SplitBatches>>>,
    /// Rows the partition may still return (the limit).
    remaining: Option<usize>,
}

impl PartitionRead {
    /// The next batch, or the end; after an error, the end.
    async fn next(mut self) -> Option<(Result<RecordBatch>, PartitionRead)> {
        loop {
            if self.remaining == Some(0) {
                return None;
            }
            if let Some(current) = self.current.as_mut() {
                match current.next().await {
                    Some(Ok(batch)) => {
                        let batch = self.limited(batch);
                        return Some((self.spec.shape(&batch), self));
                    }
                    Some(Err(e)) => return Some((Err(to_datafusion(e)), self.failed())),
                    None => {
                        self.current = None;
                        continue;
                    }
                }
            }
            if let Some(position) = self.pending.pop_front() {
                match self.spec.open(position).await {
                    Ok(read) => self.current = Some(read),
                    Err(e) => return Some((Err(e), self.failed())),
                }
                continue;
            }
            let positions = self.positions.as_mut()?;
            match positions.next().await {
                Some(Ok(batch)) => match positions_of(&batch) {
                    Ok(list) => self.pending.extend(list),
                    Err(e) => return Some((Err(e), self.failed())),
                },
                Some(Err(e)) => return Some((Err(e), self.failed())),
                None => self.positions = None,
            }
        }
    }

    /// `batch` cut to the rows the limit still allows.
    fn limited(&mut self, batch: RecordBatch) -> RecordBatch {
        match self.remaining.as_mut() {
            None => batch,
            Some(remaining) => {
                let take = batch.num_rows().min(*remaining);
                *remaining -= take;
                batch.slice(0, take)
            }
        }
    }

    /// The state after a failure: nothing more is read.
    fn failed(mut self) -> PartitionRead {
        self.positions = None;
        self.pending.clear();
        self.current = None;
        self.remaining = Some(0);
        self
    }
}

/// The split positions a batch of the position source holds.
fn positions_of(batch: &RecordBatch) -> Result<Vec<u64>> {
    let column = batch
        .column_by_name(POSITION)
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>());
    match column {
        Some(values) if values.null_count() == 0 => Ok(values.values().to_vec()),
        _ => internal_err!("the split-position source of a MaxComputeScanExec lost its column"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use futures_util::TryStreamExt;

    /// The positions each partition of the source holds.
    async fn dealt(splits: usize, partitions: usize) -> Vec<Vec<u64>> {
        let source = split_positions(splits, partitions).unwrap();
        let context = SessionContext::new().task_ctx();
        let mut out = Vec::new();
        for p in 0..source.output_partitioning().partition_count() {
            let batches: Vec<RecordBatch> = source
                .execute(p, context.clone())
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            out.push(
                batches
                    .iter()
                    .flat_map(|b| positions_of(b).unwrap())
                    .collect(),
            );
        }
        out
    }

    #[tokio::test]
    async fn splits_are_dealt_round_robin_each_once() {
        assert_eq!(dealt(5, 2).await, vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(dealt(2, 8).await, vec![vec![0], vec![1]]);
        // No split at all: one partition that reads nothing.
        assert_eq!(dealt(0, 4).await, vec![Vec::<u64>::new()]);
    }
}
