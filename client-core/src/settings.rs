//! The settings of a client builder that do not depend on its transport: endpoint (or
//! tunnel discovery), credentials (explicit, environment, config file), project, quota,
//! tags, API version, region, compression, retry policy, user agent, session wait.
//!
//! Both clients' builders hold a [`ClientSettings`] and expose the same setters through
//! [`client_settings_methods!`](crate::client_settings_methods); they add only the
//! transport and the I/O of building (tunnel discovery).

use std::path::Path;
use std::time::Duration;

use maxstorage_protocol::discovery::DiscoverTunnel;
use maxstorage_protocol::profile::{OdpsConfigFile, credentials_from_env};
use maxstorage_protocol::retry::RetryPolicy;
use maxstorage_protocol::{
    ApiVersion, ClientConfig, Compression, Credentials, Endpoint, SignatureVersion,
};

use crate::error::{ConfigError, Error, Result};

/// The tunnel endpoint ([`ClientSettings::from_env`]).
pub const ENV_ENDPOINT: &str = "MAXSTORAGE_ENDPOINT";
/// A service endpoint to discover the tunnel endpoint from.
pub const ENV_SERVICE_ENDPOINT: &str = "MAXSTORAGE_SERVICE_ENDPOINT";
/// The project.
pub const ENV_PROJECT: &str = "MAXSTORAGE_PROJECT";
/// The schema of table names given without one.
pub const ENV_SCHEMA: &str = "MAXSTORAGE_SCHEMA";
/// The quota name.
pub const ENV_QUOTA: &str = "MAXSTORAGE_QUOTA";
/// The path of an odpscmd `odps_config.ini`.
pub const ENV_CONFIG: &str = "MAXSTORAGE_CONFIG";

/// The transport-independent settings of a client builder.
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    endpoint: Option<String>,
    service_endpoint: Option<String>,
    credentials: Option<Credentials>,
    project: Option<String>,
    schema: Option<String>,
    quota: Option<String>,
    tags: Vec<String>,
    api_version: ApiVersion,
    region: Option<String>,
    compression: Compression,
    retry: Option<RetryPolicy>,
    user_agent: Option<String>,
    session_ready_timeout: Option<Duration>,
    write_buffer_bytes: Option<usize>,
    provider: Option<std::sync::Arc<dyn crate::credentials::CredentialsProvider>>,
    progress: crate::progress::ProgressHook,
    network: crate::network::NetworkSettings,
    error: Option<ConfigError>,
}

impl ClientSettings {
    /// The tunnel (storage) endpoint.
    pub fn endpoint(&mut self, url: String) {
        self.endpoint = Some(url);
    }

    /// A service endpoint from which the tunnel endpoint is discovered.
    pub fn service_endpoint(&mut self, url: String) {
        self.service_endpoint = Some(url);
    }

    /// Explicit credentials.
    pub fn credentials(&mut self, credentials: Credentials) {
        self.credentials = Some(credentials);
    }

    /// A provider asked for the credentials of every request (it wins over fixed ones).
    pub fn credentials_provider(
        &mut self,
        provider: std::sync::Arc<dyn crate::credentials::CredentialsProvider>,
    ) {
        self.provider = Some(provider);
    }

    /// Credentials from the environment, read through `var`.
    pub fn credentials_from_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        match credentials_from_env(var) {
            Some(c) => self.credentials = Some(c),
            None => self.error = Some(ConfigError::NoCredentialsInEnvironment),
        }
    }

    /// Settings from the environment (read through `var`), filling only what is not set
    /// yet, then from a config file: `MAXSTORAGE_CONFIG` if set, else
    /// `$HOME/.odpscmd/odps_config.ini` if it exists (`home` is the home directory).
    ///
    /// | variable | setting |
    /// |---|---|
    /// | `MAXSTORAGE_ENDPOINT` | the tunnel (storage) endpoint |
    /// | `MAXSTORAGE_SERVICE_ENDPOINT` | a service endpoint to discover the tunnel endpoint from |
    /// | `MAXSTORAGE_PROJECT` | the project |
    /// | `MAXSTORAGE_SCHEMA` | the schema of table names given without one |
    /// | `MAXSTORAGE_QUOTA` | the quota name |
    /// | `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`, `ALIBABA_CLOUD_SECURITY_TOKEN` | credentials |
    /// | `MAXSTORAGE_CONFIG` | an odpscmd `odps_config.ini` |
    /// | `MAXSTORAGE_CA_BUNDLE` | a PEM file of extra trusted root certificates (read now) |
    /// | `HTTPS_PROXY` / `https_proxy` | the `http://` proxy of `https` endpoints |
    /// | `HTTP_PROXY` / `http_proxy` | the `http://` proxy of `http` endpoints |
    /// | `ALL_PROXY` / `all_proxy` | the proxy of either, when its own variable is unset |
    /// | `NO_PROXY` / `no_proxy` | hosts reached directly (comma list of host suffixes, IPs, `*`) |
    ///
    /// Precedence, highest first: values set on the builder, the environment, the config
    /// file. Missing variables are not an error; `build` says what is still missing. Root
    /// certificates given on the builder replace `MAXSTORAGE_CA_BUNDLE`; `proxy(..)` and
    /// `disable_proxy()` replace the proxy variables, `no_proxy(..)` replaces `NO_PROXY`.
    /// A proxy variable that cannot be used fails `build` only if the endpoint's scheme
    /// would use it.
    ///
    /// Files (the config file, the CA bundle) are read through `read`: the clients pass
    /// `fs::read`, tests an in-memory map; this crate opens nothing itself. A default
    /// config file that does not exist is skipped.
    pub fn from_env(
        &mut self,
        var: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
        read: ReadFile<'_>,
    ) {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let fill = |slot: &mut Option<String>, value: Option<String>| {
            if slot.is_none() {
                *slot = value;
            }
        };
        fill(&mut self.endpoint, var(ENV_ENDPOINT));
        fill(&mut self.service_endpoint, var(ENV_SERVICE_ENDPOINT));
        fill(&mut self.project, var(ENV_PROJECT));
        fill(&mut self.schema, var(ENV_SCHEMA));
        fill(&mut self.quota, var(ENV_QUOTA));
        self.network.from_env(var, read);
        if self.credentials.is_none() {
            self.credentials = credentials_from_env(var);
        }
        match (var(ENV_CONFIG), home) {
            (Some(path), _) => self.config_file(Path::new(&path), read),
            (None, Some(home)) => {
                let path = home.join(".odpscmd").join("odps_config.ini");
                match read(&path) {
                    Ok(bytes) => self.config_text(&String::from_utf8_lossy(&bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => self.error = Some(unreadable(&path, &e)),
                }
            }
            (None, None) => {}
        }
    }

    /// Settings from the text of an odpscmd `odps_config.ini` (values set explicitly win).
    pub fn config_text(&mut self, text: &str) {
        let file = OdpsConfigFile::parse(text);
        self.credentials = self.credentials.take().or_else(|| file.credentials());
        let keep = |slot: &mut Option<String>, value: Option<&str>| {
            if slot.is_none() {
                *slot = value.map(str::to_string);
            }
        };
        keep(&mut self.project, file.project());
        keep(&mut self.schema, file.schema());
        keep(&mut self.endpoint, file.tunnel_endpoint());
        keep(&mut self.service_endpoint, file.service_endpoint());
        keep(&mut self.quota, file.quota_name());
        keep(&mut self.region, file.region());
    }

    /// Settings from an odpscmd `odps_config.ini` file, read through `read` (values set
    /// explicitly win).
    pub fn config_file(&mut self, path: &Path, read: ReadFile<'_>) {
        match read(path) {
            Ok(bytes) => self.config_text(&String::from_utf8_lossy(&bytes)),
            Err(e) => self.error = Some(unreadable(path, &e)),
        }
    }

    /// The working project.
    pub fn project(&mut self, project: String) {
        self.project = Some(project);
    }

    /// The schema that table names without one are in (three-tier projects).
    pub fn schema(&mut self, schema: String) {
        self.schema = Some(schema);
    }

    /// A quota name.
    pub fn quota(&mut self, quota: String) {
        self.quota = Some(quota);
    }

    /// Request tags.
    pub fn tags(&mut self, tags: Vec<String>) {
        self.tags = tags;
    }

    /// The API version.
    pub fn api_version(&mut self, version: ApiVersion) {
        self.api_version = version;
    }

    /// A region (v4 signatures).
    pub fn region(&mut self, region: String) {
        self.region = Some(region);
    }

    /// The default compression.
    pub fn compression(&mut self, compression: Compression) {
        self.compression = compression;
    }

    /// The listener told about the progress of reads and writes.
    pub fn progress(&mut self, listener: std::sync::Arc<dyn crate::progress::ProgressListener>) {
        self.progress = crate::progress::ProgressHook::new(listener);
    }

    /// The retry policy.
    pub fn retry_policy(&mut self, policy: RetryPolicy) {
        self.retry = Some(policy);
    }

    /// The user agent.
    pub fn user_agent(&mut self, user_agent: String) {
        self.user_agent = Some(user_agent);
    }

    /// How long to wait for a read session to become ready.
    pub fn session_ready_timeout(&mut self, timeout: Duration) {
        self.session_ready_timeout = Some(timeout);
    }

    /// The request-body memory all stream writers of the client share.
    pub fn write_buffer_bytes(&mut self, bytes: usize) {
        self.write_buffer_bytes = Some(bytes);
    }

    /// Trusts the root certificates of a PEM text too (checked at `build`).
    pub fn root_certificates_pem(&mut self, pem: &[u8]) {
        self.network
            .root_certificates_pem(pem, "root_certificates_pem(..)");
    }

    /// Trusts the root certificates of a PEM file too (read now through `read`, checked
    /// at `build`).
    pub fn root_certificates_file(&mut self, path: &Path, read: ReadFile<'_>) {
        self.network.root_certificates_file(path, read);
    }

    /// Trusts only the given root certificates, not the bundled webpki roots.
    pub fn trust_only_given_roots(&mut self) {
        self.network.trust_only_given_roots();
    }

    /// Sends every request through this `http://` proxy (checked at `build`).
    pub fn proxy(&mut self, url: &str) {
        self.network.proxy(url);
    }

    /// Connects directly to these hosts (a `NO_PROXY` list).
    pub fn no_proxy(&mut self, hosts: &str) {
        self.network.no_proxy(hosts);
    }

    /// Connects directly, ignoring `proxy(..)` and the proxy variables.
    pub fn disable_proxy(&mut self) {
        self.network.disable_proxy();
    }

    /// Checks the settings and says how to reach the tunnel endpoint.
    pub fn prepare(self, host: Host) -> Result<Prepared> {
        if let Some(e) = self.error {
            return Err(Error::Config(e));
        }
        let parse = |url: &str| {
            Endpoint::parse(url).map_err(|e| ConfigError::BadEndpoint {
                url: url.to_string(),
                reason: e.to_string(),
            })
        };
        let endpoint = match (self.endpoint, self.service_endpoint) {
            (Some(url), _) => EndpointPlan::Tunnel(parse(&url)?),
            (None, Some(service)) => {
                let project = self
                    .project
                    .clone()
                    .ok_or(ConfigError::DiscoveryNeedsProject)?;
                EndpointPlan::Discover {
                    service: parse(&service)?,
                    call: DiscoverTunnel {
                        project,
                        quota_name: None,
                    },
                }
            }
            (None, None) => {
                return Err(ConfigError::NoEndpoint.into());
            }
        };
        let scheme = match &endpoint {
            EndpointPlan::Tunnel(e) => e.scheme(),
            EndpointPlan::Discover { service, .. } => service.scheme(),
        };
        let network = self.network.resolve(
            !scheme.eq_ignore_ascii_case("https"),
            scheme.eq_ignore_ascii_case("https"),
        )?;
        let network_explicit = self.network.is_explicit();
        let credentials = match &self.provider {
            // The provider's first answer checks it works and fills the configuration.
            Some(p) => Some(p.credentials(host.now)?),
            None => self.credentials,
        };
        let credentials = credentials.ok_or_else(|| Error::from(ConfigError::NoCredentials))?;
        Ok(Prepared {
            endpoint,
            credentials,
            signature: match self.region {
                Some(region) => SignatureVersion::V4 { region },
                None => SignatureVersion::Legacy,
            },
            project: self.project,
            quota: self.quota,
            tags: self.tags,
            user_agent: self.user_agent,
            api_version: self.api_version,
            retry: self.retry.unwrap_or_default(),
            defaults: Defaults {
                compression: self.compression,
                session_ready_timeout: self
                    .session_ready_timeout
                    .unwrap_or(Duration::from_secs(3600)),
                session_poll_interval: Duration::from_secs(1),
                schema: self.schema.clone(),
                progress: self.progress.clone(),
                cores: host.cores.max(1),
                write_buffer: crate::write::BodyBudget::new(
                    self.write_buffer_bytes
                        .unwrap_or(crate::write::DEFAULT_WRITE_BUFFER_BYTES),
                ),
            },
            seed: seed(),
            provider: self.provider,
            network,
            network_explicit,
        })
    }
}

/// How the client reaches its tunnel endpoint.
#[derive(Debug, Clone)]
pub enum EndpointPlan {
    /// It was given.
    Tunnel(Endpoint),
    /// Ask the service endpoint with this call (answer with
    /// [`DiscoverTunnel::parse_with_scheme`] and the service endpoint's scheme).
    Discover {
        /// The service endpoint.
        service: Endpoint,
        /// The discovery call.
        call: DiscoverTunnel,
    },
}

/// Per-client defaults of operations.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Default compression of reads, writes and blob transfers.
    pub compression: Compression,
    /// How long to wait for a read session to leave `INIT`.
    pub session_ready_timeout: Duration,
    /// How often to poll a session that is not ready.
    pub session_poll_interval: Duration,
    /// The request-body memory the client's stream writers share.
    pub write_buffer: crate::write::BodyBudget,
    /// The schema of table names given without one (`schema_name` of a config file).
    pub schema: Option<String>,
    /// Told about every batch read and every body written.
    pub progress: crate::progress::ProgressHook,
    /// The cores of the machine (what `encoding_threads: 0` means).
    pub cores: usize,
}

/// The error of a file configuration names that cannot be read.
fn unreadable(path: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError::UnreadableFile {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Reads a file that configuration names (a config file, a CA bundle). The clients pass
/// `fs::read`; this crate never opens a file itself.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>;

/// What a client's `build` tells [`ClientSettings::prepare`] about the machine: this
/// crate reads no clock and asks the system nothing.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    /// The current time (for a credentials provider's first answer).
    pub now: std::time::SystemTime,
    /// The cores available to the process.
    pub cores: usize,
}

/// Checked settings, ready to build a client.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// How to reach the tunnel endpoint.
    pub endpoint: EndpointPlan,
    credentials: Credentials,
    signature: SignatureVersion,
    project: Option<String>,
    quota: Option<String>,
    tags: Vec<String>,
    user_agent: Option<String>,
    api_version: ApiVersion,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// Defaults of operations.
    pub defaults: Defaults,
    /// A jitter seed that differs between processes and clients.
    pub seed: u64,
    provider: Option<std::sync::Arc<dyn crate::credentials::CredentialsProvider>>,
    /// Trusted roots and proxies of the default transport.
    pub network: crate::network::NetworkConfig,
    /// Whether root certificates or proxies were set on the builder (not only read from
    /// the environment): a builder given its own transport then refuses to build, as
    /// the settings would be ignored.
    pub network_explicit: bool,
}

impl Prepared {
    /// The configuration of requests to `endpoint` (used as given: the tunnel endpoint
    /// with [`api_version`](Self::tunnel_config) applied, or the service endpoint).
    pub fn config(&self, endpoint: Endpoint) -> ClientConfig {
        let mut config = ClientConfig::new(endpoint, self.credentials.clone());
        config.signature = self.signature.clone();
        config.project = self.project.clone();
        config.quota_name = self.quota.clone();
        config.tags = self.tags.clone();
        if let Some(ua) = &self.user_agent {
            config.user_agent = ua.clone();
        }
        config
    }

    /// The configuration of requests to the tunnel endpoint, speaking the configured API
    /// version.
    pub fn tunnel_config(&self, tunnel: Endpoint) -> ClientConfig {
        self.config(tunnel.with_api_version(self.api_version))
    }

    /// The call core of a client sending requests with `config`: retry policy, jitter
    /// seed and credentials provider applied.
    pub fn call_core(&self, config: ClientConfig) -> crate::exchange::CallCore {
        crate::exchange::CallCore::new(config, self.retry.clone(), self.seed)
            .with_credentials_provider(self.provider.clone())
    }
}

/// A jitter seed that differs between processes and clients: `RandomState` is seeded
/// randomly per process and differs per instance.
fn seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64)
}

/// The transport-independent setters of a client builder whose `settings` field is a
/// [`ClientSettings`]: one definition for both clients' builders. `$read_file` reads the
/// files configuration names (`fs::read` in both clients).
#[macro_export]
macro_rules! client_settings_methods {
    ($read_file:path) => {
        /// The tunnel (storage) endpoint, e.g. `http://dt.cn-shanghai.maxcompute.aliyun.com`.
        pub fn endpoint(mut self, url: impl Into<String>) -> Self {
            self.settings.endpoint(url.into());
            self
        }

        /// A service endpoint (e.g. `http://service.cn-shanghai.maxcompute.aliyun.com/api`)
        /// from which the tunnel endpoint is discovered at build time (needs a project).
        pub fn service_endpoint(mut self, url: impl Into<String>) -> Self {
            self.settings.service_endpoint(url.into());
            self
        }

        /// Explicit credentials.
        pub fn credentials(mut self, credentials: $crate::reexport::Credentials) -> Self {
            self.settings.credentials(credentials);
            self
        }

        /// Endpoint, project, quota and credentials from the environment and the default
        /// config file, filling what is not set yet, plus extra root certificates
        /// (`MAXSTORAGE_CA_BUNDLE`) and proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
        /// `NO_PROXY`) — see
        /// [`ClientSettings::from_env`]($crate::settings::ClientSettings::from_env) for
        /// the variables and the precedence.
        pub fn from_env(mut self) -> Self {
            let home = ::std::env::var_os("HOME").map(::std::path::PathBuf::from);
            self.settings.from_env(
                |k| ::std::env::var(k).ok(),
                home.as_deref(),
                &|p: &::std::path::Path| $read_file(p),
            );
            self
        }

        /// A provider asked for the credentials of every request — e.g. a
        /// [`RefreshingCredentials`]($crate::credentials::RefreshingCredentials) around an
        /// STS call, so a long read or write picks up refreshed tokens. It wins over fixed
        /// credentials.
        pub fn credentials_provider(
            mut self,
            provider: ::std::sync::Arc<dyn $crate::credentials::CredentialsProvider>,
        ) -> Self {
            self.settings.credentials_provider(provider);
            self
        }

        /// Credentials from `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`
        /// and (optionally) `ALIBABA_CLOUD_SECURITY_TOKEN`.
        pub fn credentials_from_env(mut self) -> Self {
            self.settings
                .credentials_from_env(|k| ::std::env::var(k).ok());
            self
        }

        /// Settings from an odpscmd `odps_config.ini`: credentials, project, endpoints,
        /// quota, region (values set explicitly on the builder win).
        pub fn config_file(mut self, path: impl AsRef<::std::path::Path>) -> Self {
            self.settings
                .config_file(path.as_ref(), &|p: &::std::path::Path| $read_file(p));
            self
        }

        /// The working project (`curr_project`; also the project of tunnel discovery).
        pub fn project(mut self, project: impl Into<String>) -> Self {
            self.settings.project(project.into());
            self
        }

        /// The schema that table names without one are in (three-tier projects;
        /// `schema_name` of a config file).
        pub fn schema(mut self, schema: impl Into<String>) -> Self {
            self.settings.schema(schema.into());
            self
        }

        /// A quota name (sent on every call, and used for tunnel discovery).
        pub fn quota(mut self, quota: impl Into<String>) -> Self {
            self.settings.quota(quota.into());
            self
        }

        /// Request tags (`odps-tunnel-tags`).
        pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
            self.settings
                .tags(tags.into_iter().map(Into::into).collect());
            self
        }

        /// The API version (default v2).
        pub fn api_version(mut self, version: $crate::reexport::ApiVersion) -> Self {
            self.settings.api_version(version);
            self
        }

        /// A region: requests are then signed with the v4 (region) signature.
        pub fn region(mut self, region: impl Into<String>) -> Self {
            self.settings.region(region.into());
            self
        }

        /// The default compression of reads, writes and blob transfers (default none).
        pub fn compression(mut self, compression: $crate::reexport::Compression) -> Self {
            self.settings.compression(compression);
            self
        }

        /// A listener told about every record batch a split read hands over and every
        /// request body the service acknowledges (e.g. a
        /// [`ProgressCounters`]($crate::progress::ProgressCounters) to show a progress bar).
        pub fn progress(
            mut self,
            listener: ::std::sync::Arc<dyn $crate::progress::ProgressListener>,
        ) -> Self {
            self.settings.progress(listener);
            self
        }

        /// The retry policy (default: 5 attempts, exponential backoff with jitter).
        pub fn retry_policy(mut self, policy: $crate::reexport::RetryPolicy) -> Self {
            self.settings.retry_policy(policy);
            self
        }

        /// The user agent (default `maxstorage-rust/<version>`).
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.settings.user_agent(user_agent.into());
            self
        }

        /// How long to wait for a read session to leave `INIT` (default 1 hour, as the
        /// official clients).
        pub fn session_ready_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.settings.session_ready_timeout(timeout);
            self
        }

        /// Trusts the root certificates of this PEM text too (e.g. a corporate CA or the
        /// CA of a TLS-terminating gateway), besides the bundled webpki roots — or instead
        /// of them with [`trust_only_given_roots`](Self::trust_only_given_roots). May be
        /// called several times. Text without a `CERTIFICATE` section, malformed PEM or a
        /// section that is not an X.509 certificate fails `build` with
        /// [`Error::NetworkConfig`]($crate::Error::NetworkConfig). Replaces
        /// `MAXSTORAGE_CA_BUNDLE`.
        pub fn root_certificates_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
            self.settings.root_certificates_pem(pem.as_ref());
            self
        }

        /// Trusts the root certificates of this PEM file too (read now; errors as
        /// [`root_certificates_pem`](Self::root_certificates_pem), and an unreadable file,
        /// fail `build`).
        pub fn root_certificates_file(mut self, path: impl AsRef<::std::path::Path>) -> Self {
            self.settings
                .root_certificates_file(path.as_ref(), &|p: &::std::path::Path| $read_file(p));
            self
        }

        /// Trusts only the root certificates given by
        /// [`root_certificates_pem`](Self::root_certificates_pem),
        /// [`root_certificates_file`](Self::root_certificates_file) or
        /// `MAXSTORAGE_CA_BUNDLE`, not the bundled webpki roots (`build` fails if none is
        /// given).
        pub fn trust_only_given_roots(mut self) -> Self {
            self.settings.trust_only_given_roots();
            self
        }

        /// Sends every request through this HTTP proxy:
        /// `http://[user[:password]@]host[:port]` (port 80 by default; user and password
        /// percent-encoded, sent as `Proxy-Authorization: Basic`). Requests go through a
        /// `CONNECT` tunnel, for `http` and `https` endpoints alike. Wins over the proxy
        /// variables `from_env` reads; [`no_proxy`](Self::no_proxy) exempts hosts. A URL
        /// that cannot be used fails `build` (the password never appears in errors or
        /// `Debug` output).
        pub fn proxy(mut self, url: impl AsRef<str>) -> Self {
            self.settings.proxy(url.as_ref());
            self
        }

        /// Hosts reached without the proxy, as a `NO_PROXY` list: comma-separated host
        /// names (each also covers its subdomains; a leading `.` or `*.` is allowed), IP
        /// addresses, or `*` for all. Replaces `NO_PROXY`.
        pub fn no_proxy(mut self, hosts: impl AsRef<str>) -> Self {
            self.settings.no_proxy(hosts.as_ref());
            self
        }

        /// Connects directly, whatever [`proxy`](Self::proxy) or the proxy variables say.
        pub fn disable_proxy(mut self) -> Self {
            self.settings.disable_proxy();
            self
        }

        /// The request-body memory all stream writers of the client share (default
        /// [`DEFAULT_WRITE_BUFFER_BYTES`]($crate::write::DEFAULT_WRITE_BUFFER_BYTES),
        /// 40 MiB). Each writer holds up to two bodies (one on the wire, one being built),
        /// so with `n` writers open a body is at most `bytes / 2n` — never above the
        /// stream's `max_body_bytes`, never below 1 MiB.
        pub fn write_buffer_bytes(mut self, bytes: usize) -> Self {
            self.settings.write_buffer_bytes(bytes);
            self
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_host() -> Host {
        Host {
            now: std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            cores: 2,
        }
    }

    #[test]
    fn explicit_values_win_over_the_config_file() {
        let mut s = ClientSettings::default();
        s.project("mine".into());
        s.config_text(
            "project_name=theirs\naccess_id=ak\naccess_key=sk\ntunnel_endpoint=http://127.0.0.1:1\n",
        );
        let p = s.prepare(test_host()).unwrap();
        let EndpointPlan::Tunnel(endpoint) = &p.endpoint else {
            panic!("a tunnel endpoint was configured");
        };
        let config = p.tunnel_config(endpoint.clone());
        assert_eq!(config.project.as_deref(), Some("mine"));
    }

    #[test]
    fn discovery_needs_a_project_and_credentials_are_required() {
        let mut s = ClientSettings::default();
        s.credentials(Credentials::new("ak", "sk"));
        s.service_endpoint("http://127.0.0.1:1/api".into());
        assert!(matches!(
            s.clone().prepare(test_host()),
            Err(Error::Config(_))
        ));
        s.project("p".into());
        assert!(matches!(
            s.prepare(test_host()).unwrap().endpoint,
            EndpointPlan::Discover { .. }
        ));
        assert!(ClientSettings::default().prepare(test_host()).is_err());
    }

    #[test]
    fn from_env_fills_what_is_unset_then_reads_the_config_file() {
        let dir = std::path::PathBuf::from("/home/u");
        let home_config = dir.join(".odpscmd").join("odps_config.ini");
        let explicit = dir.join("explicit.ini");
        let disk = files(&[
            (
                &home_config,
                "project_name=from_home\naccess_id=home_ak\naccess_key=home_sk\nquota_name=q_home\nschema_name=s_home\n",
            ),
            (&explicit, "project_name=from_file\nquota_name=q_file\n"),
        ]);
        let env = |vars: Vec<(&'static str, String)>| {
            move |k: &str| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.clone())
            }
        };

        // The environment fills; a value set on the builder wins; the home config fills
        // the rest (credentials, quota).
        let mut s = ClientSettings::default();
        s.project("explicit".into());
        s.from_env(
            env(vec![
                (ENV_ENDPOINT, "http://127.0.0.1:1".into()),
                (ENV_PROJECT, "from_env".into()),
            ]),
            Some(&dir),
            &disk,
        );
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(s.project.as_deref(), Some("explicit"));
        assert_eq!(s.quota.as_deref(), Some("q_home"));
        assert_eq!(s.schema.as_deref(), Some("s_home"), "schema_name applies");
        assert_eq!(
            s.credentials.as_ref().map(|c| c.access_id()),
            Some("home_ak")
        );

        // Environment credentials win over the file's; MAXSTORAGE_CONFIG replaces the
        // default file; empty variables count as unset.
        let mut s = ClientSettings::default();
        let vars = vec![
            (ENV_CONFIG, explicit.display().to_string()),
            (ENV_QUOTA, " ".into()),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "env_ak".into()),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env_sk".into()),
        ];
        s.from_env(env(vars), Some(&dir), &disk);
        assert_eq!(s.project.as_deref(), Some("from_file"));
        assert_eq!(s.quota.as_deref(), Some("q_file"));
        assert_eq!(
            s.credentials.as_ref().map(|c| c.access_id()),
            Some("env_ak")
        );

        // Nothing anywhere: build says what is missing.
        let mut s = ClientSettings::default();
        s.from_env(env(Vec::new()), None, &disk);
        assert!(matches!(
            s.prepare(test_host()),
            Err(Error::Config(ConfigError::NoEndpoint))
        ));

        // A home without a config file is fine; an unreadable named file is an error.
        let mut s = ClientSettings::default();
        s.from_env(env(Vec::new()), Some(Path::new("/elsewhere")), &disk);
        assert!(s.error.is_none());
        s.from_env(env(vec![(ENV_CONFIG, "/missing.ini".into())]), None, &disk);
        assert!(
            matches!(&s.error, Some(ConfigError::UnreadableFile { path, .. }) if path == "/missing.ini"),
            "{:?}",
            s.error
        );
    }

    /// An in-memory file system: `(path, content)` pairs; any other path is not found.
    fn files(entries: &[(&Path, &str)]) -> impl Fn(&Path) -> std::io::Result<Vec<u8>> + use<> {
        let entries: Vec<(std::path::PathBuf, Vec<u8>)> = entries
            .iter()
            .map(|(p, c)| (p.to_path_buf(), c.as_bytes().to_vec()))
            .collect();
        move |path: &Path| {
            entries
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, c)| c.clone())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    }

    fn vars(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn with_endpoint(endpoint: &str) -> ClientSettings {
        let mut s = ClientSettings::default();
        s.endpoint(endpoint.into());
        s.credentials(Credentials::new("ak", "sk"));
        s
    }

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn proxies_and_a_ca_bundle_come_from_the_environment_and_explicit_values_win() {
        use crate::network::NetworkConfigError;
        let dir = std::path::PathBuf::from("/etc/ssl");
        let bundle = dir.join("ca.pem");
        let pem = rcgen::generate_simple_self_signed(vec!["ca.test".to_string()])
            .unwrap()
            .cert
            .pem();
        let disk = files(&[(&bundle, &pem)]);
        let env = vars(&[
            (crate::network::ENV_CA_BUNDLE, bundle.to_str().unwrap()),
            ("https_proxy", "http://user:pw@secure.proxy:3128"),
            ("HTTP_PROXY", "plain.proxy:8080"),
            ("NO_PROXY", ".internal"),
        ]);

        let mut s = with_endpoint("https://dt.example.com");
        s.from_env(&env, None, &disk);
        let shown = format!("{s:?}");
        assert!(!shown.contains("pw@"), "{shown}");
        let network = s.prepare(test_host()).unwrap().network;
        assert_eq!(network.roots.added().len(), 1);
        assert!(network.roots.includes_webpki());
        let proxy = network
            .proxy
            .proxy_for(&uri("https://dt.example.com/"))
            .unwrap();
        assert_eq!(proxy.authority(), "secure.proxy:3128");
        assert_eq!(proxy.password(), Some("pw"));
        let proxy = network
            .proxy
            .proxy_for(&uri("http://dt.example.com/"))
            .unwrap();
        assert_eq!(proxy.authority(), "plain.proxy:8080");
        assert!(
            network
                .proxy
                .proxy_for(&uri("https://a.internal/"))
                .is_none()
        );

        // Explicit values win: roots replace the bundle, the proxy replaces the
        // variables, no_proxy replaces NO_PROXY; they count as explicit.
        let mut s = with_endpoint("https://dt.example.com");
        s.from_env(&env, None, &disk);
        s.root_certificates_pem(pem.as_bytes());
        s.root_certificates_pem(pem.as_bytes());
        s.trust_only_given_roots();
        s.proxy("http://mine:1");
        s.no_proxy("other");
        let p = s.prepare(test_host()).unwrap();
        assert!(p.network_explicit);
        assert_eq!(p.network.roots.added().len(), 2);
        assert!(!p.network.roots.includes_webpki());
        let proxy = p
            .network
            .proxy
            .proxy_for(&uri("https://a.internal/"))
            .unwrap();
        assert_eq!(proxy.authority(), "mine:1");
        assert!(p.network.proxy.proxy_for(&uri("http://x.other/")).is_none());

        let mut s = with_endpoint("https://dt.example.com");
        s.from_env(&env, None, &disk);
        s.disable_proxy();
        assert!(s.prepare(test_host()).unwrap().network.proxy.is_none());

        // Nothing from the environment: no proxy, the webpki roots; not explicit.
        let mut s = with_endpoint("https://dt.example.com");
        s.from_env(vars(&[]), None, &disk);
        let p = s.prepare(test_host()).unwrap();
        assert!(!p.network_explicit);
        assert_eq!(p.network, crate::network::NetworkConfig::default());

        // A bad proxy variable fails only for the scheme that would use it.
        let bad_http = vars(&[
            ("HTTPS_PROXY", "http://ok:1"),
            ("ALL_PROXY", "socks5://user:pw@socks:1080"),
        ]);
        let mut s = with_endpoint("https://dt.example.com");
        s.from_env(&bad_http, None, &disk);
        let p = s.prepare(test_host()).unwrap();
        assert!(p.network.proxy.http().is_none());
        let mut s = with_endpoint("http://dt.example.com");
        s.from_env(&bad_http, None, &disk);
        match s.prepare(test_host()) {
            Err(Error::NetworkConfig(e @ NetworkConfigError::BadProxyUrl { .. })) => {
                let shown = e.to_string();
                assert!(shown.starts_with("ALL_PROXY: "), "{shown}");
                assert!(!shown.contains("pw"), "{shown}");
            }
            other => panic!("{other:?}"),
        }

        // A CA bundle that cannot be read or holds no certificate: an error naming the
        // variable (unless explicit roots replace it).
        let missing = dir.join("missing.pem");
        let mut s = with_endpoint("https://dt.example.com");
        s.from_env(
            vars(&[(crate::network::ENV_CA_BUNDLE, missing.to_str().unwrap())]),
            None,
            &disk,
        );
        match s.clone().prepare(test_host()) {
            Err(Error::NetworkConfig(e @ NetworkConfigError::UnreadableCaBundle { .. })) => {
                assert!(e.to_string().contains("MAXSTORAGE_CA_BUNDLE"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        s.root_certificates_pem(pem.as_bytes());
        assert!(s.prepare(test_host()).is_ok());
        let disk = files(&[(&bundle, "no certificate")]);
        let mut s = with_endpoint("https://dt.example.com");
        s.from_env(&env, None, &disk);
        assert!(matches!(
            s.prepare(test_host()),
            Err(Error::NetworkConfig(
                NetworkConfigError::NoCertificate { .. }
            ))
        ));
    }

    #[test]
    fn explicit_network_mistakes_fail_prepare_with_typed_errors() {
        use crate::network::NetworkConfigError;
        let mut s = with_endpoint("https://dt.example.com");
        s.root_certificates_pem(b"garbage");
        assert!(matches!(
            s.prepare(test_host()),
            Err(Error::NetworkConfig(NetworkConfigError::NoCertificate { origin }))
                if origin == "root_certificates_pem(..)"
        ));
        let mut s = with_endpoint("https://dt.example.com");
        s.trust_only_given_roots();
        assert!(matches!(
            s.prepare(test_host()),
            Err(Error::NetworkConfig(NetworkConfigError::NoRootCertificates))
        ));
        let mut s = with_endpoint("https://dt.example.com");
        s.proxy("http://user:topsecret@proxy:99999");
        let shown = format!("{s:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        match s.prepare(test_host()) {
            Err(e @ Error::NetworkConfig(NetworkConfigError::BadProxyUrl { .. })) => {
                let shown = format!("{e} {e:?}");
                assert!(!shown.contains("topsecret"), "{shown}");
                assert!(shown.contains("port"), "{shown}");
            }
            other => panic!("{other:?}"),
        }
        let mut s = with_endpoint("https://dt.example.com");
        s.proxy("http://user:topsecret@proxy:8080");
        let shown = format!("{s:?} {:?}", s.clone().prepare(test_host()).unwrap());
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("user:***@proxy:8080"), "{shown}");
    }
}
