//! The client: configuration, credentials, endpoint discovery, and the table and instance
//! handles every operation starts from.

use std::sync::Arc;

use maxstorage_client_core::settings::{ClientSettings, Defaults, EndpointPlan, Host};

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

    maxstorage_client_core::client_handle_methods!();
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
