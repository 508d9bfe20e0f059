//! How scans and inserts reach the service: a client given by the caller, or — in a
//! plan shipped to another process — one built there from the endpoint that travelled
//! and that process's own credentials.

use std::fmt;
use std::sync::Arc;

use maxstorage::Credentials;
use maxstorage::asynchronous::{Client, ClientBuilder};
use tokio::sync::OnceCell;

use crate::error::to_datafusion;

/// Builds the client of a process that runs shipped plans (a Ballista scheduler or
/// executor) for the endpoint a plan names. Credentials never travel with a plan: each
/// process takes its own.
#[derive(Clone)]
pub struct Connector {
    credentials: Option<Credentials>,
}

impl Connector {
    /// Credentials and settings from this process's environment
    /// (`ALIBABA_CLOUD_ACCESS_KEY_ID`, `MAXSTORAGE_*`, … as
    /// [`ClientBuilder::from_env`]); the endpoint is the plan's.
    pub fn from_env() -> Connector {
        Connector { credentials: None }
    }

    /// These credentials; the endpoint is the plan's.
    pub fn with_credentials(credentials: Credentials) -> Connector {
        Connector {
            credentials: Some(credentials),
        }
    }

    /// A builder for a client of `endpoint` (the tunnel endpoint the plan was made with).
    fn builder(&self, endpoint: &str, quota: Option<&str>) -> ClientBuilder {
        let mut builder = Client::builder();
        builder = match &self.credentials {
            Some(credentials) => builder.credentials(credentials.clone()),
            None => builder.from_env(),
        };
        builder = builder.endpoint(endpoint);
        if let Some(quota) = quota {
            builder = builder.quota(quota);
        }
        builder
    }
}

impl Default for Connector {
    fn default() -> Connector {
        Connector::from_env()
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field(
                "credentials",
                &if self.credentials.is_some() {
                    "given"
                } else {
                    "from the environment"
                },
            )
            .finish()
    }
}

/// A connection to one endpoint: the client, ready or built on first use.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The tunnel endpoint.
    endpoint: String,
    /// The quota the client uses, if any.
    quota: Option<String>,
    /// How to build the client when it is not given.
    connector: Connector,
    /// The client.
    client: OnceCell<Client>,
}

impl Connection {
    /// A connection through a ready client.
    pub(crate) fn of(client: Client) -> Connection {
        let config = client.config();
        Connection {
            inner: Arc::new(Inner {
                endpoint: config.endpoint.to_string(),
                quota: config.quota_name.clone(),
                connector: Connector::from_env(),
                client: OnceCell::new_with(Some(client)),
            }),
        }
    }

    /// A connection to `endpoint` whose client `connector` builds on first use.
    #[cfg(feature = "ballista")]
    pub(crate) fn lazy(
        endpoint: String,
        quota: Option<String>,
        connector: Connector,
    ) -> Connection {
        Connection {
            inner: Arc::new(Inner {
                endpoint,
                quota,
                connector,
                client: OnceCell::new(),
            }),
        }
    }

    /// The tunnel endpoint.
    #[cfg(feature = "ballista")]
    pub(crate) fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The quota, if any.
    #[cfg(feature = "ballista")]
    pub(crate) fn quota(&self) -> Option<&str> {
        self.inner.quota.as_deref()
    }

    /// The client, built now if it was not yet.
    pub(crate) async fn client(&self) -> datafusion::common::Result<Client> {
        let inner = &self.inner;
        inner
            .client
            .get_or_try_init(|| async {
                inner
                    .connector
                    .builder(&inner.endpoint, inner.quota.as_deref())
                    .build()
                    .await
            })
            .await
            .cloned()
            .map_err(to_datafusion)
    }
}
