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
use crate::read::StreamBatches;

maxstorage_surface::instance_client!(;);
