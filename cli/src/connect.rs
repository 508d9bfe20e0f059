//! Where the commands that talk to a service connect: flags, environment variables and an
//! odpscmd `odps_config.ini`.
//!
//! Precedence, highest first: a flag, its environment variable (`MAXSTORAGE_ENDPOINT`,
//! `MAXSTORAGE_PROJECT`, `MAXSTORAGE_CONFIG`), the config file. Credentials come from
//! `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET` (and
//! `ALIBABA_CLOUD_SECURITY_TOKEN`) when set, else from the config file.

use std::path::PathBuf;

use maxstorage_protocol::TableId;
use maxstorage_protocol::profile::ENV_ACCESS_KEY_ID;

use crate::CliError;

/// How to reach the service.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// The tunnel (storage) endpoint, e.g. `http://127.0.0.1:8080` or
    /// `https://dt.cn-shanghai.maxcompute.aliyun.com`.
    #[arg(long, env = "MAXSTORAGE_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The project.
    #[arg(long, env = "MAXSTORAGE_PROJECT")]
    pub project: Option<String>,
    /// An odpscmd config file (`odps_config.ini`): endpoint, project, credentials.
    #[arg(long, env = "MAXSTORAGE_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ConnectArgs {
    /// The blocking client these settings describe, or a message naming the ways to
    /// configure it.
    pub fn client(&self) -> Result<maxstorage_blocking::Client, CliError> {
        if self.endpoint.is_none() && self.config.is_none() {
            return Err(CliError::Usage(
                "no service configured: pass --endpoint and --project, set MAXSTORAGE_ENDPOINT \
                 and MAXSTORAGE_PROJECT, or point --config (MAXSTORAGE_CONFIG) at an \
                 odps_config.ini; for a local service run `maxstorage emulator`"
                    .into(),
            ));
        }
        let mut builder = maxstorage_blocking::Client::builder();
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let Some(project) = &self.project {
            builder = builder.project(project);
        }
        if std::env::var_os(ENV_ACCESS_KEY_ID).is_some() || self.config.is_none() {
            builder = builder.credentials_from_env();
        }
        if let Some(config) = &self.config {
            builder = builder.config_file(config);
        }
        Ok(builder.build()?)
    }

    /// The table `name` (or `schema.name`) of the configured project.
    pub fn table(
        &self,
        client: &maxstorage_blocking::Client,
        name: &str,
    ) -> Result<TableId, CliError> {
        let project = client.project().ok_or_else(|| {
            CliError::Usage(
                "no project: pass --project, set MAXSTORAGE_PROJECT, or set project_name in \
                 the config file"
                    .into(),
            )
        })?;
        parse_table(project, name)
    }
}

/// `name` or `schema.name` in `project`.
pub fn parse_table(project: &str, name: &str) -> Result<TableId, CliError> {
    match name.split('.').collect::<Vec<_>>().as_slice() {
        [t] if !t.is_empty() => Ok(TableId::new(project, *t)),
        [s, t] if !s.is_empty() && !t.is_empty() => Ok(TableId::with_schema(project, *s, *t)),
        _ => Err(CliError::Usage(format!(
            "table {name:?}: expected `name` or `schema.name`"
        ))),
    }
}
