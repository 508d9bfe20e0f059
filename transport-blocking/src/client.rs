//! The client: configuration, credentials, endpoint discovery, and the table and instance
//! handles every operation starts from.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use maxstorage_protocol::discovery::DiscoverTunnel;
use maxstorage_protocol::profile::{OdpsConfigFile, credentials_from_env};
use maxstorage_protocol::retry::RetryPolicy;
use maxstorage_protocol::{
    ApiVersion, ClientConfig, Compression, Credentials, Endpoint, InstanceId, SignatureVersion,
    TableId,
};

use crate::exec::{Core, Route, SendBody};
use crate::instance::InstanceClient;
use crate::table::TableClient;
use crate::transport::{HttpTransport, TransportConfig, UreqTransport};
use maxstorage_client_core::{Error, Result};

/// A MaxCompute Storage API client. Cheap to clone; share it across threads.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) core: Arc<Core>,
    pub(crate) defaults: Defaults,
}

/// Per-client defaults of operations.
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    pub compression: Compression,
    pub session_ready_timeout: Duration,
    pub session_poll_interval: Duration,
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
}

/// Builds a [`Client`].
#[derive(Debug, Default)]
pub struct ClientBuilder {
    endpoint: Option<String>,
    service_endpoint: Option<String>,
    credentials: Option<Credentials>,
    project: Option<String>,
    quota: Option<String>,
    tags: Vec<String>,
    api_version: ApiVersion,
    region: Option<String>,
    compression: Compression,
    retry: Option<RetryPolicy>,
    transport_config: TransportConfig,
    user_agent: Option<String>,
    transport: Option<Arc<dyn HttpTransport>>,
    session_ready_timeout: Option<Duration>,
    error: Option<String>,
}

impl ClientBuilder {
    /// The tunnel (storage) endpoint, e.g. `http://dt.cn-shanghai.maxcompute.aliyun.com`.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// A service endpoint (e.g. `http://service.cn-shanghai.maxcompute.aliyun.com/api`)
    /// from which the tunnel endpoint is discovered at build time (needs a project).
    pub fn service_endpoint(mut self, url: impl Into<String>) -> Self {
        self.service_endpoint = Some(url.into());
        self
    }

    /// Explicit credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Credentials from `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET` and
    /// (optionally) `ALIBABA_CLOUD_SECURITY_TOKEN`.
    pub fn credentials_from_env(mut self) -> Self {
        match credentials_from_env(|k| std::env::var(k).ok()) {
            Some(c) => self.credentials = Some(c),
            None => {
                self.error = Some(
                    "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set"
                        .into(),
                )
            }
        }
        self
    }

    /// Settings from an odpscmd `odps_config.ini`: credentials, project, endpoints, quota,
    /// region (values set explicitly on the builder win).
    pub fn config_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let file = OdpsConfigFile::parse(&text);
                self.credentials = self.credentials.or_else(|| file.credentials());
                self.project = self.project.or_else(|| file.project().map(str::to_string));
                self.endpoint = self
                    .endpoint
                    .or_else(|| file.tunnel_endpoint().map(str::to_string));
                self.service_endpoint = self
                    .service_endpoint
                    .or_else(|| file.service_endpoint().map(str::to_string));
                self.quota = self.quota.or_else(|| file.quota_name().map(str::to_string));
                self.region = self.region.or_else(|| file.region().map(str::to_string));
            }
            Err(e) => self.error = Some(format!("cannot read {}: {e}", path.display())),
        }
        self
    }

    /// The working project (`curr_project`; also the project of tunnel discovery).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// A quota name (sent on every call, and used for tunnel discovery).
    pub fn quota(mut self, quota: impl Into<String>) -> Self {
        self.quota = Some(quota.into());
        self
    }

    /// Request tags (`odps-tunnel-tags`).
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The API version (default v2).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// A region: requests are then signed with the v4 (region) signature.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The default compression of reads, writes and blob transfers (default none).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The retry policy (default: 5 attempts, exponential backoff with jitter).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Timeouts and pooling of the default transport.
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport_config = config;
        self
    }

    /// The user agent (default `maxstorage-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Another HTTP stack instead of ureq.
    pub fn transport(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// How long to wait for a read session to leave `INIT` (default 1 hour, as the
    /// official clients).
    pub fn session_ready_timeout(mut self, timeout: Duration) -> Self {
        self.session_ready_timeout = Some(timeout);
        self
    }

    /// Builds the client, discovering the tunnel endpoint if only a service endpoint is set.
    pub fn build(self) -> Result<Client> {
        if let Some(e) = self.error {
            return Err(Error::Config(e));
        }
        let credentials = self.credentials.ok_or_else(|| {
            Error::Config(
                "no credentials: set them explicitly, from the environment or from a config file"
                    .into(),
            )
        })?;
        let transport: Arc<dyn HttpTransport> = match self.transport {
            Some(t) => t,
            None => Arc::new(UreqTransport::new(&self.transport_config)),
        };
        let retry = self.retry.unwrap_or_default();
        let signature = match self.region {
            Some(region) => SignatureVersion::V4 { region },
            None => SignatureVersion::Legacy,
        };
        let make_config = |endpoint: Endpoint| {
            let mut config = ClientConfig::new(endpoint, credentials.clone());
            config.signature = signature.clone();
            config.project = self.project.clone();
            config.quota_name = self.quota.clone();
            config.tags = self.tags.clone();
            if let Some(ua) = &self.user_agent {
                config.user_agent = ua.clone();
            }
            config
        };
        let seed = seed();
        let endpoint = match (self.endpoint, self.service_endpoint) {
            (Some(url), _) => Endpoint::parse(&url).map_err(|e| Error::Config(e.to_string()))?,
            (None, Some(service)) => {
                let service =
                    Endpoint::parse(&service).map_err(|e| Error::Config(e.to_string()))?;
                let project = self
                    .project
                    .clone()
                    .ok_or_else(|| Error::Config("tunnel discovery needs a project".into()))?;
                let core = Core::new(
                    make_config(service.clone()),
                    transport.clone(),
                    retry.clone(),
                    seed,
                );
                let call = DiscoverTunnel {
                    project,
                    quota_name: None,
                };
                let (parts, body) = core.fetch(&call, Route::default(), SendBody::Call)?;
                call.parse_with_scheme(&parts, &body, service.scheme())?
            }
            (None, None) => {
                return Err(Error::Config(
                    "no endpoint: set a tunnel endpoint or a service endpoint".into(),
                ));
            }
        };
        let config = make_config(endpoint.with_api_version(self.api_version));
        Ok(Client {
            core: Arc::new(Core::new(config, transport, retry, seed)),
            defaults: Defaults {
                compression: self.compression,
                session_ready_timeout: self
                    .session_ready_timeout
                    .unwrap_or(Duration::from_secs(3600)),
                session_poll_interval: Duration::from_secs(1),
            },
        })
    }
}

/// A jitter seed that differs between processes and clients.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
