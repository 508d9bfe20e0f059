//! Where the commands that talk to a service connect: flags, the environment and an
//! odpscmd `odps_config.ini`, as the clients' `from_env` reads them.
//!
//! Precedence, highest first: `--endpoint` / `--project`, a `--config` file, the
//! environment (`MAXSTORAGE_ENDPOINT`, `MAXSTORAGE_SERVICE_ENDPOINT`, `MAXSTORAGE_PROJECT`,
//! `MAXSTORAGE_QUOTA`, `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `ALIBABA_CLOUD_SECURITY_TOKEN`),
//! then the file `MAXSTORAGE_CONFIG` names, or `~/.odpscmd/odps_config.ini`. Extra trusted
//! root certificates come from the PEM file `MAXSTORAGE_CA_BUNDLE` names, and proxies from
//! `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY`.
//!
//! `--emulator[=DIR]` instead runs an emulator inside the command, on `DIR` (durable: the
//! next command with the same `DIR` sees what this one committed) or on a temporary
//! directory, in the project `--project` names (default [`EMBEDDED_PROJECT`]).

use std::ops::Deref;
use std::path::{Path, PathBuf};

use maxstorage_emulator::Emulator;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_protocol::Credentials;

use crate::CliError;

/// The project of an embedded emulator unless `--project` (or `MAXSTORAGE_PROJECT`) names
/// another.
pub(crate) const EMBEDDED_PROJECT: &str = "local";

/// The access key the command and its embedded emulator share (the emulator keeps none
/// on disk: any key works for the next command on the same directory).
const EMBEDDED_KEY: (&str, &str) = ("maxstorage-local-id", "maxstorage-local-key");

/// An emulator serving for the length of one command.
#[derive(Debug)]
pub(crate) struct Embedded {
    emulator: Emulator,
    /// The temporary data directory, removed when the command ends (none with `DIR`).
    _temp: Option<tempfile::TempDir>,
}

impl Embedded {
    /// Starts an emulator on `dir`, or on a new temporary directory.
    pub(crate) fn start(dir: Option<&Path>) -> Result<Embedded, CliError> {
        let (dir, temp) = match dir {
            Some(dir) => (dir.to_path_buf(), None),
            None => {
                let temp = tempfile::tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let emulator = Emulator::builder()
            .data_dir(&dir)
            .credentials(EMBEDDED_KEY.0, EMBEDDED_KEY.1)
            .start()?;
        Ok(Embedded {
            emulator,
            _temp: temp,
        })
    }

    /// The embedded emulator's admin client.
    pub(crate) fn admin(&self) -> AdminClient {
        AdminClient::new(self.emulator.addr()).with_credentials(EMBEDDED_KEY.0, EMBEDDED_KEY.1)
    }

    /// The embedded emulator's endpoint.
    fn endpoint(&self) -> String {
        self.emulator.endpoint()
    }
}

/// The credentials a client of the embedded emulator uses.
fn embedded_credentials() -> Credentials {
    Credentials::new(EMBEDDED_KEY.0, EMBEDDED_KEY.1)
}

/// A builder of either client (their builders share the settings methods) configured by
/// `args`: the embedded emulator's endpoint and key, or the flags and then the
/// environment.
macro_rules! configured {
    ($builder:expr, $args:expr, $embedded:expr) => {{
        let builder = $builder;
        match $embedded {
            Some(embedded) => builder
                .endpoint(embedded.endpoint())
                .credentials(embedded_credentials())
                .project(embedded_project($args.project.as_deref())),
            None => {
                let mut builder = builder;
                if let Some(endpoint) = &$args.endpoint {
                    builder = builder.endpoint(endpoint);
                }
                if let Some(project) = &$args.project {
                    builder = builder.project(project);
                }
                if let Some(config) = &$args.config {
                    builder = builder.config_file(config);
                }
                builder.from_env()
            }
        }
    }};
}

/// A build failure of either client, with the ways to configure one when nothing was.
fn build_error(e: maxstorage_client_core::Error) -> CliError {
    match e {
        maxstorage_client_core::Error::Config(maxstorage_client_core::ConfigError::NoEndpoint) => {
            CliError::Usage(
                "no service configured: pass --endpoint and --project, set \
                 MAXSTORAGE_ENDPOINT and MAXSTORAGE_PROJECT, or point --config \
                 (MAXSTORAGE_CONFIG) at an odps_config.ini; or try it locally with \
                 --emulator=DIR (an emulator inside the command, its tables kept in DIR)"
                    .into(),
            )
        }
        other => other.into(),
    }
}

/// The project `--project` or `MAXSTORAGE_PROJECT` names, or [`EMBEDDED_PROJECT`].
pub(crate) fn embedded_project(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("MAXSTORAGE_PROJECT").ok())
        .unwrap_or_else(|| EMBEDDED_PROJECT.to_string())
}

/// A client, and the embedded emulator it talks to if there is one (kept running as long
/// as the connection lives).
#[derive(Debug)]
pub(crate) struct Connection {
    client: maxstorage_blocking::Client,
    _embedded: Option<Embedded>,
}

impl Deref for Connection {
    type Target = maxstorage_blocking::Client;

    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

/// How to reach the service.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConnectArgs {
    /// The tunnel (storage) endpoint, e.g. `http://127.0.0.1:8080` or
    /// `https://dt.cn-shanghai.maxcompute.aliyun.com` [default: $MAXSTORAGE_ENDPOINT].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The project [default: $MAXSTORAGE_PROJECT].
    #[arg(long)]
    pub project: Option<String>,
    /// An odpscmd config file (`odps_config.ini`): endpoint, project, credentials
    /// [default: $MAXSTORAGE_CONFIG, else ~/.odpscmd/odps_config.ini].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run an emulator inside this command instead of connecting anywhere: on DIR (kept:
    /// the next command with the same DIR sees this one's tables), or on a temporary
    /// directory without `=DIR`.
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true)]
    pub emulator: Option<Option<PathBuf>>,
}

impl ConnectArgs {
    /// The blocking client these settings describe, or a message naming the ways to
    /// configure it.
    pub(crate) fn client(&self) -> Result<Connection, CliError> {
        let embedded = self.embedded()?;
        let client = configured!(maxstorage_blocking::Client::builder(), self, &embedded)
            .build()
            .map_err(build_error)?;
        Ok(Connection {
            client,
            _embedded: embedded,
        })
    }

    /// The async client these settings describe, and the embedded emulator it talks to if
    /// there is one (to keep while the client is used).
    pub(crate) async fn async_client(
        &self,
    ) -> Result<(maxstorage_async::Client, Option<Embedded>), CliError> {
        let embedded = self.embedded()?;
        let client = configured!(maxstorage_async::Client::builder(), self, &embedded)
            .build()
            .await
            .map_err(build_error)?;
        Ok((client, embedded))
    }

    /// The emulator `--emulator` asks for, started.
    fn embedded(&self) -> Result<Option<Embedded>, CliError> {
        self.emulator
            .as_ref()
            .map(|dir| Embedded::start(dir.as_deref()))
            .transpose()
    }
}
