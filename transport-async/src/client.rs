//! The client: configuration, credentials, endpoint discovery, and the table and instance
//! handles every operation starts from.

use crate::exec::{Core, Route, SendBody};
use crate::instance::InstanceClient;
use crate::table::TableClient;
use crate::transport::{HttpTransport, HyperTransport as DefaultTransport, TransportConfig};

maxstorage_surface::client!(async; .await);
