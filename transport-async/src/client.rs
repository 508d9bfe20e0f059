//! The client: configuration, credentials, endpoint discovery, and the table and instance
//! handles every operation starts from.

use std::sync::Arc;

use maxstorage_client_core::settings::{ClientSettings, Defaults, EndpointPlan, Host};
use maxstorage_protocol::{ClientConfig, Compression, InstanceId, TableId};

use crate::exec::{Core, Route, SendBody};
use crate::instance::InstanceClient;
use crate::table::TableClient;
use crate::transport::{HttpTransport, HyperTransport, TransportConfig};
use maxstorage_client_core::{ConfigError, Result};

/// An async MaxCompute Storage API client. Cheap to clone; share it across tasks.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) core: Arc<Core>,
    pub(crate) defaults: Defaults,
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Operations on a table.
    pub fn table(&self, table: TableId) -> TableClient {
        TableClient::new(self.clone(), table)
    }

    /// Operations on the table `name` names: `table`, `schema.table` or
    /// `project.schema.table`, completed with the client's project and default schema
    /// (`schema`, `MAXSTORAGE_SCHEMA`, or `schema_name` of a config file).
    pub fn table_named(&self, name: &str) -> Result<TableClient> {
        let table = maxstorage_client_core::table::resolve_table(
            name,
            self.project(),
            self.defaults.schema.as_deref(),
        )?;
        Ok(self.table(table))
    }

    /// Operations on a query result (read-only).
    pub fn instance(&self, instance: InstanceId) -> InstanceClient {
        InstanceClient::new(self.clone(), instance)
    }

    /// The configuration requests are made with.
    pub fn config(&self) -> &ClientConfig {
        &self.core.config
    }

    /// The project of the client (`curr_project`), if configured.
    pub fn project(&self) -> Option<&str> {
        self.core.config.project.as_deref()
    }

    /// The same client (sharing connections, credentials and the write budget) with
    /// another default compression: what reads, previews, instance reads and blob
    /// transfers ask for, and what stream writers and blob uploads send, unless their
    /// options say otherwise.
    pub fn with_compression(&self, compression: Compression) -> Client {
        let mut client = self.clone();
        client.defaults.compression = compression;
        client
    }

    /// The same client telling `listener` about the progress of its reads and writes
    /// (instead of the builder's listener, if any), e.g. a fresh
    /// [`ProgressCounters`](crate::ProgressCounters) per job.
    pub fn with_progress(
        &self,
        listener: Arc<dyn maxstorage_client_core::ProgressListener>,
    ) -> Client {
        let mut client = self.clone();
        client.defaults.progress = maxstorage_client_core::progress::ProgressHook::new(listener);
        client
    }
}

/// Builds a [`Client`]. The setters are those of the blocking client's builder.
#[derive(Debug, Default)]
pub struct ClientBuilder {
    settings: ClientSettings,
    transport_config: TransportConfig,
    transport: Option<Arc<dyn HttpTransport>>,
}

impl ClientBuilder {
    maxstorage_client_core::client_settings_methods!(std::fs::read);

    /// Timeouts and pooling of the default transport.
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport_config = config;
        self
    }

    /// Another HTTP stack instead of hyper. Root certificates and proxies set on the
    /// builder apply to the default transport only: with them, `build` fails.
    pub fn transport(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Builds the client, discovering the tunnel endpoint if only a service endpoint is set.
    pub async fn build(self) -> Result<Client> {
        let prepared = self.settings.prepare(Host {
            now: std::time::SystemTime::now(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })?;
        let transport: Arc<dyn HttpTransport> = match self.transport {
            Some(_) if prepared.network_explicit => {
                return Err(ConfigError::NetworkWithOwnTransport.into());
            }
            Some(t) => t,
            None => Arc::new(HyperTransport::with_network(
                &self.transport_config,
                &prepared.network,
            )?),
        };
        let tunnel = match &prepared.endpoint {
            EndpointPlan::Tunnel(endpoint) => endpoint.clone(),
            EndpointPlan::Discover { service, call } => {
                let core = Core::new(
                    prepared.call_core(prepared.config(service.clone())),
                    transport.clone(),
                );
                let (parts, body) = core.fetch(call, Route::default(), SendBody::Call).await?;
                call.parse_with_scheme(&parts, &body, service.scheme())?
            }
        };
        let shared = prepared.call_core(prepared.tunnel_config(tunnel));
        Ok(Client {
            core: Arc::new(Core::new(shared, transport)),
            defaults: prepared.defaults,
        })
    }
}
