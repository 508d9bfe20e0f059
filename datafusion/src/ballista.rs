//! Codecs that ship plans with MaxCompute tables, scans and inserts to Ballista.
//!
//! Set both on the `SessionConfig` that the client, the scheduler and every executor use
//! (Ballista's `SessionConfigExt::with_ballista_logical_extension_codec` and
//! `with_ballista_physical_extension_codec`); they wrap Ballista's own codecs and pass on
//! every node that is not ours.
//!
//! What travels in a plan: the tunnel endpoint and quota, the table, its partition
//! columns and split options, for a scan the read session's description (id, splits,
//! schema), the projected column names and the limit, for an insert the write session's
//! id; the split positions each partition reads travel
//! as the scan's in-memory child. Credentials never travel: each process that decodes a
//! plan builds its own client with its [`Connector`] (by default from its environment).
//! A plan names the endpoint its process connects to with those credentials, so decode
//! plans only from a scheduler you trust.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference, internal_err};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use maxstorage::protocol::read::{ReadSession, TimestampUnit};
use maxstorage::{SplitOptions, TableId, TableReadSession};
use serde::{Deserialize, Serialize};

use crate::connect::{Connection, Connector};
use datafusion::prelude::SessionConfig;

use crate::insert::{MaxComputeCommitExec, MaxComputeWriteExec, WriteSpec};
use crate::provider::MaxComputeTable;
use crate::scan::{MaxComputeScanExec, ScanSpec};
/// Ballista's settings on a `SessionConfig` (`new_with_ballista`, the codec setters, …),
/// re-exported so that callers need no Ballista crate of their own.
pub use ballista_core::extension::SessionConfigExt;

/// The first byte of our payloads: protobuf wire type 7 cannot start a message, so they
/// are never taken for one of Ballista's (which are protobuf).
const MARK: u8 = 0xFF;
/// The second byte: which node follows.
const TABLE: u8 = b'T';
const SCAN: u8 = b'S';
const WRITE: u8 = b'W';
const COMMIT: u8 = b'C';

/// Where a node's process connects.
#[derive(Debug, Serialize, Deserialize)]
struct Endpoint {
    endpoint: String,
    quota: Option<String>,
}

impl Endpoint {
    fn of(connection: &Connection) -> Endpoint {
        Endpoint {
            endpoint: connection.endpoint().to_string(),
            quota: connection.quota().map(str::to_string),
        }
    }

    fn connect(self, connector: &Connector) -> Connection {
        Connection::lazy(self.endpoint, self.quota, connector.clone())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct TableNode {
    at: Endpoint,
    table: TableId,
    partition_columns: Vec<String>,
    split_options: SplitOptions,
}

#[derive(Debug, Serialize, Deserialize)]
struct ScanNode {
    at: Endpoint,
    table: TableId,
    session: ReadSession,
    columns: Vec<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WriteNode {
    at: Endpoint,
    table: TableId,
    session_id: String,
    overwrite: bool,
}

impl WriteNode {
    fn of(spec: &WriteSpec) -> WriteNode {
        WriteNode {
            at: Endpoint::of(&spec.connection),
            table: spec.table.clone(),
            session_id: spec.session_id.clone(),
            overwrite: spec.overwrite,
        }
    }

    fn spec(self, connector: &Connector) -> Arc<WriteSpec> {
        Arc::new(WriteSpec {
            connection: self.at.connect(connector),
            table: self.table,
            session_id: self.session_id,
            overwrite: self.overwrite,
        })
    }
}

/// `kind` and `node` as a payload.
fn encode(kind: u8, node: &impl Serialize, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(&[MARK, kind]);
    serde_json::to_writer(buf, node).map_err(|e| DataFusionError::External(Box::new(e)))
}

/// The node of a payload of `kind`, `None` if the payload is not one.
fn decode<T: for<'de> Deserialize<'de>>(kind: u8, buf: &[u8]) -> Result<Option<T>> {
    match buf {
        [MARK, k, rest @ ..] if *k == kind => serde_json::from_slice(rest).map(Some).map_err(|e| {
            DataFusionError::Internal(format!("a malformed MaxCompute plan node: {e}"))
        }),
        _ => Ok(None),
    }
}

/// The logical codec: MaxCompute tables in logical plans (scans and `INSERT` targets).
#[derive(Debug)]
pub struct MaxStorageLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
    connector: Connector,
}

impl MaxStorageLogicalCodec {
    /// A codec whose decoded tables connect with `connector`.
    pub fn new(connector: Connector) -> MaxStorageLogicalCodec {
        MaxStorageLogicalCodec {
            inner: BallistaLogicalExtensionCodec::default(),
            connector,
        }
    }
}

impl Default for MaxStorageLogicalCodec {
    fn default() -> MaxStorageLogicalCodec {
        MaxStorageLogicalCodec::new(Connector::from_env())
    }
}

impl LogicalExtensionCodec for MaxStorageLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match decode::<TableNode>(TABLE, buf)? {
            Some(node) => Ok(Arc::new(
                MaxComputeTable::from_parts(
                    node.at.connect(&self.connector),
                    node.table,
                    schema,
                    node.partition_columns,
                )
                .with_split_options(node.split_options),
            )),
            None => self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match node.downcast_ref::<MaxComputeTable>() {
            Some(table) => encode(
                TABLE,
                &TableNode {
                    at: Endpoint::of(table.connection()),
                    table: table.table().clone(),
                    partition_columns: table.partition_columns().to_vec(),
                    split_options: table.split_options().clone(),
                },
                buf,
            ),
            None => self.inner.try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// The physical codec: [`MaxComputeScanExec`], [`MaxComputeWriteExec`] and
/// [`MaxComputeCommitExec`] in the plans of stages and tasks.
#[derive(Debug)]
pub struct MaxStoragePhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
    connector: Connector,
}

impl MaxStoragePhysicalCodec {
    /// A codec whose decoded scans and inserts connect with `connector`.
    pub fn new(connector: Connector) -> MaxStoragePhysicalCodec {
        MaxStoragePhysicalCodec {
            inner: BallistaPhysicalExtensionCodec::default(),
            connector,
        }
    }
}

impl Default for MaxStoragePhysicalCodec {
    fn default() -> MaxStoragePhysicalCodec {
        MaxStoragePhysicalCodec::new(Connector::from_env())
    }
}

impl PhysicalExtensionCodec for MaxStoragePhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(node) = decode::<ScanNode>(SCAN, buf)? {
            let [input] = inputs else {
                return internal_err!("a MaxComputeScanExec with {} inputs", inputs.len());
            };
            let session =
                TableReadSession::new(node.table, node.session, None, TimestampUnit::default());
            let full = session
                .arrow_schema()
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            let fields = node
                .columns
                .iter()
                .map(|name| full.field_with_name(name).cloned())
                .collect::<Result<Vec<_>, _>>()?;
            let spec = ScanSpec::new(
                node.at.connect(&self.connector),
                session,
                Arc::new(Schema::new(fields)),
                node.limit,
            );
            return Ok(Arc::new(MaxComputeScanExec::with_input(
                Arc::new(spec),
                input.clone(),
            )));
        }
        for kind in [WRITE, COMMIT] {
            if let Some(node) = decode::<WriteNode>(kind, buf)? {
                let [input] = inputs else {
                    return internal_err!(
                        "a MaxCompute write or commit with {} inputs",
                        inputs.len()
                    );
                };
                let spec = node.spec(&self.connector);
                return Ok(if kind == WRITE {
                    Arc::new(MaxComputeWriteExec::new(spec, input.clone()))
                } else {
                    Arc::new(MaxComputeCommitExec::new(spec, input.clone()))
                });
            }
        }
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(scan) = node.downcast_ref::<MaxComputeScanExec>() {
            let spec = scan.spec();
            let node = ScanNode {
                at: Endpoint::of(&spec.connection),
                table: spec.session.table().clone(),
                session: spec.session.info().clone(),
                columns: spec
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect(),
                limit: spec.limit,
            };
            return encode(SCAN, &node, buf);
        }
        if let Some(write) = node.downcast_ref::<MaxComputeWriteExec>() {
            return encode(WRITE, &WriteNode::of(write.spec()), buf);
        }
        if let Some(commit) = node.downcast_ref::<MaxComputeCommitExec>() {
            return encode(COMMIT, &WriteNode::of(commit.spec()), buf);
        }
        self.inner.try_encode(node, buf, proto_converter)
    }
}

/// `config` with both codecs set (over Ballista's config defaults when `config` is
/// `SessionConfig::new_with_ballista()`); decoded plans connect with `connector`.
pub fn with_codecs(config: SessionConfig, connector: Connector) -> SessionConfig {
    config
        .with_ballista_logical_extension_codec(Arc::new(MaxStorageLogicalCodec::new(
            connector.clone(),
        )))
        .with_ballista_physical_extension_codec(Arc::new(MaxStoragePhysicalCodec::new(connector)))
}

/// A context that submits its queries to the Ballista scheduler at `url` (e.g.
/// `df://host:50050`), with `config` (over `SessionConfig::new_with_ballista()`) and both
/// codecs set. The scheduler and executors must carry the codecs too.
pub async fn remote_context(
    url: &str,
    config: SessionConfig,
    connector: Connector,
) -> Result<datafusion::prelude::SessionContext> {
    use ballista::prelude::SessionContextExt as _;
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(with_codecs(config, connector))
        .with_default_features()
        .build();
    datafusion::prelude::SessionContext::remote_with_state(url, state).await
}

/// A Ballista cluster inside this process — a scheduler and executors on the current
/// Tokio runtime, each on a free port of `localhost` — with our codecs: for tests and
/// local runs of distributed plans. It runs until the runtime ends.
#[cfg(feature = "standalone")]
#[derive(Debug)]
pub struct Standalone {
    port: u16,
    state: datafusion::execution::SessionState,
}

#[cfg(feature = "standalone")]
impl Standalone {
    /// Starts a scheduler and `executors` executors of `slots` task slots each; plans
    /// decoded in them connect with `connector`. `config` is the sessions' configuration
    /// (e.g. `SessionConfig::new_with_ballista().with_target_partitions(n)`); the codecs
    /// are set on it.
    pub async fn start(
        executors: usize,
        slots: usize,
        config: SessionConfig,
        connector: Connector,
    ) -> Result<Standalone> {
        use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;

        let state = datafusion::execution::SessionStateBuilder::new()
            .with_config(with_codecs(config, connector))
            .with_default_features()
            .build();
        let addr = ballista_scheduler::standalone::new_standalone_scheduler_from_state(&state)
            .await
            .map_err(|e| e.into_datafusion())?;
        let url = format!("http://localhost:{}", addr.port());
        // The scheduler serves from a task of its own: wait until it answers.
        let mut waited = 0;
        let scheduler = loop {
            match SchedulerGrpcClient::connect(url.clone()).await {
                Ok(client) => break client,
                Err(e) if waited < 200 => {
                    waited += 1;
                    tracing::debug!(%e, "the scheduler does not answer yet");
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
                Err(e) => {
                    return Err(DataFusionError::External(
                        format!("the scheduler at {url} does not answer: {e}").into(),
                    ));
                }
            }
        };
        for _ in 0..executors {
            ballista_executor::new_standalone_executor_from_state(scheduler.clone(), slots, &state)
                .await
                .map_err(|e| e.into_datafusion())?;
        }
        Ok(Standalone {
            port: addr.port(),
            state,
        })
    }

    /// The scheduler's URL, as `--ballista` and `SessionContext::remote` take it.
    pub fn url(&self) -> String {
        format!("df://localhost:{}", self.port)
    }

    /// A context submitting to the cluster.
    pub async fn context(&self) -> Result<datafusion::prelude::SessionContext> {
        use ballista::prelude::SessionContextExt as _;
        datafusion::prelude::SessionContext::remote_with_state(&self.url(), self.state.clone())
            .await
    }
}
