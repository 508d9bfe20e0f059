//! Reads of query results (instances). Instances are read-only: write operations do not
//! exist on [`InstanceClient`].

use maxstorage_client_core::Result;
use maxstorage_client_core::operation::{InstanceSession, SessionReady};
use maxstorage_protocol::InstanceId;
use maxstorage_protocol::instance::{
    CreateInstanceReadSession, GetInstanceReadSession, InstanceRead, InstanceReadOptions,
    InstanceReadSession,
};
use maxstorage_protocol::read::RowRange;

use crate::client::Client;
use crate::exec::Route;
use crate::read::{DecodingBody, StreamBatches};

/// Operations on a query result.
#[derive(Debug, Clone)]
pub struct InstanceClient {
    client: Client,
    instance: InstanceId,
}

impl InstanceClient {
    pub(crate) fn new(client: Client, instance: InstanceId) -> InstanceClient {
        InstanceClient { client, instance }
    }

    /// The instance.
    pub fn instance(&self) -> &InstanceId {
        &self.instance
    }

    /// Creates a read session over the whole result and waits until it is ready.
    pub fn create_read_session(&self) -> Result<InstanceReadSession> {
        self.create_session(false)
    }

    /// Creates a read session over the result as the instance's row limit cuts it (the
    /// project's download limit, e.g. 10,000 rows, as `SELECT` results show) and waits
    /// until it is ready.
    pub fn create_limited_read_session(&self) -> Result<InstanceReadSession> {
        self.create_session(true)
    }

    fn create_session(&self, enable_limit: bool) -> Result<InstanceReadSession> {
        let call = CreateInstanceReadSession {
            instance: self.instance.clone(),
            enable_limit,
        };
        let session = self.client.core.call(&call, Route::default())?;
        let session = InstanceSession {
            instance: self.instance.clone(),
            session,
        };
        let wait = SessionReady::new(session, &self.client.defaults);
        Ok(self.client.core.drive(wait, Route::default())?.session)
    }

    /// Re-reads a session.
    pub fn get_read_session(&self, session_id: &str) -> Result<InstanceReadSession> {
        let call = GetInstanceReadSession {
            instance: self.instance.clone(),
            session_id: session_id.to_string(),
        };
        self.client.core.call(&call, Route::default())
    }

    /// Streams every row of the result (`options`: the columns, the task and query), as
    /// the client's default compression asks.
    pub fn read(
        &self,
        session: &InstanceReadSession,
        options: &InstanceReadOptions,
    ) -> Result<StreamBatches> {
        self.read_rows(session, None, options)
    }

    /// Streams the rows `range` of the result.
    pub fn read_range(
        &self,
        session: &InstanceReadSession,
        range: RowRange,
        options: &InstanceReadOptions,
    ) -> Result<StreamBatches> {
        self.read_rows(session, Some(range), options)
    }

    fn read_rows(
        &self,
        session: &InstanceReadSession,
        range: Option<RowRange>,
        options: &InstanceReadOptions,
    ) -> Result<StreamBatches> {
        let call = InstanceRead {
            instance: self.instance.clone(),
            session_id: session.session_id.clone(),
            range,
            options: options.clone(),
            compression: self.client.defaults.compression,
        };
        let (head, body) = self.client.core.open(&call, Route::default())?;
        Ok(StreamBatches::new(DecodingBody::new(
            &head,
            body,
            Default::default(),
        )?))
    }
}
