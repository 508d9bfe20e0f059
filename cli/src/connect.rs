//! Where the commands that talk to a service connect: flags, the environment and an
//! odpscmd `odps_config.ini`, as the clients' `from_env` reads them.
//!
//! Precedence, highest first: `--endpoint` / `--project`, a `--config` file, the
//! environment (`MAXSTORAGE_ENDPOINT`, `MAXSTORAGE_SERVICE_ENDPOINT`, `MAXSTORAGE_PROJECT`,
//! `MAXSTORAGE_QUOTA`, `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `ALIBABA_CLOUD_SECURITY_TOKEN`),
//! then the file `MAXSTORAGE_CONFIG` names, or `~/.odpscmd/odps_config.ini`.

use std::path::PathBuf;

use crate::CliError;

/// How to reach the service.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
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
}

impl ConnectArgs {
    /// The blocking client these settings describe, or a message naming the ways to
    /// configure it.
    pub fn client(&self) -> Result<maxstorage_blocking::Client, CliError> {
        let mut builder = maxstorage_blocking::Client::builder();
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let Some(project) = &self.project {
            builder = builder.project(project);
        }
        if let Some(config) = &self.config {
            builder = builder.config_file(config);
        }
        match builder.from_env().build() {
            Err(maxstorage_blocking::Error::Config(m)) if m.starts_with("no endpoint") => {
                Err(CliError::Usage(
                    "no service configured: pass --endpoint and --project, set \
                     MAXSTORAGE_ENDPOINT and MAXSTORAGE_PROJECT, or point --config \
                     (MAXSTORAGE_CONFIG) at an odps_config.ini; for a local service run \
                     `maxstorage emulator`"
                        .into(),
                ))
            }
            other => Ok(other?),
        }
    }
}
