//! A blocking typed client of the admin API.

use std::net::SocketAddr;
use std::time::SystemTime;

use arrow_array::RecordBatch;
use maxstorage_codec::read::{DecoderOptions, decode_body};
use maxstorage_codec::write::encode_stream;
use maxstorage_protocol::sign::{SignedParts, authorization, canonical_string, date_header};
use maxstorage_protocol::url::encode_component;
use maxstorage_protocol::{Compression, Credentials, SignatureVersion, header};
use serde::Serialize;

use super::{InstanceDef, SessionStats, TableInfo};
use crate::error::{ApiError, Error};
use crate::fault::FaultSpec;
use crate::http_client::{HttpResponse, send};
use crate::store::TableDef;

/// A blocking client of the admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    addr: SocketAddr,
    credentials: Option<Credentials>,
}

impl AdminClient {
    /// A client of the emulator at `addr`, sending unsigned requests.
    pub fn new(addr: SocketAddr) -> AdminClient {
        AdminClient {
            addr,
            credentials: None,
        }
    }

    /// Signs requests with this access key.
    #[must_use]
    pub fn with_credentials(mut self, access_id: &str, access_key: &str) -> AdminClient {
        self.credentials = Some(Credentials::new(access_id, access_key));
        self
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        content_type: &str,
        body: &[u8],
    ) -> Result<HttpResponse, Error> {
        let now = SystemTime::now();
        let mut headers = vec![
            (header::CONTENT_TYPE.to_string(), content_type.to_string()),
            (header::DATE.to_string(), date_header(now)),
        ];
        if let Some(c) = &self.credentials {
            let canonical = canonical_string(&SignedParts {
                method,
                resource: path,
                query,
                headers: &headers,
            });
            headers.push((
                header::AUTHORIZATION.to_string(),
                authorization(c, &SignatureVersion::Legacy, &canonical, now),
            ));
        }
        let mut target = path.to_string();
        if !query.is_empty() {
            target.push('?');
            target.push_str(&maxstorage_protocol::url::encode_query(query));
        }
        let r = send(self.addr, method, &target, &headers, body)
            .map_err(|e| Error::io(format!("admin {method} {path}"), e))?;
        if r.status != 200 {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            return Err(Error::Api(ApiError::new(
                r.status,
                v["Code"].as_str().unwrap_or("Unknown"),
                v["Message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(&r.body).into_owned()),
            )));
        }
        Ok(r)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&impl Serialize>,
    ) -> Result<T, Error> {
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| Error::InvalidResponse(e.to_string()))?,
            None => Vec::new(),
        };
        let r = self.call(method, path, query, "application/json", &bytes)?;
        serde_json::from_slice(&r.body).map_err(|e| Error::InvalidResponse(e.to_string()))
    }

    fn table_path(project: &str, schema: &str, name: &str) -> String {
        format!(
            "/admin/v1/tables/{}/{}/{}",
            encode_component(project),
            encode_component(schema),
            encode_component(name)
        )
    }

    /// Creates a table.
    pub fn create_table(&self, def: &TableDef) -> Result<TableInfo, Error> {
        self.json("POST", "/admin/v1/tables", &[], Some(def))
    }

    /// Describes a table.
    pub fn describe(&self, project: &str, schema: &str, name: &str) -> Result<TableInfo, Error> {
        self.json::<TableInfo>(
            "GET",
            &Self::table_path(project, schema, name),
            &[],
            None::<&()>,
        )
    }

    /// Lists the live read and write sessions with their route-token mismatch counts.
    pub fn sessions(&self) -> Result<Vec<SessionStats>, Error> {
        self.json("GET", "/admin/v1/sessions", &[], None::<&()>)
    }

    /// Lists the tables.
    pub fn list_tables(&self) -> Result<Vec<TableInfo>, Error> {
        self.json("GET", "/admin/v1/tables", &[], None::<&()>)
    }

    /// Drops a table.
    pub fn drop_table(&self, project: &str, schema: &str, name: &str) -> Result<(), Error> {
        self.call(
            "DELETE",
            &Self::table_path(project, schema, name),
            &[],
            "application/json",
            &[],
        )
        .map(|_| ())
    }

    fn rows_query(partition: Option<&str>, overwrite: bool) -> Vec<(String, String)> {
        let mut q = Vec::new();
        if let Some(p) = partition {
            q.push(("partition".to_string(), p.to_string()));
        }
        if overwrite {
            q.push(("overwrite".to_string(), "true".to_string()));
        }
        q
    }

    /// Inserts rows (an Arrow IPC stream of the data columns, then the partition columns
    /// not fixed by `partition`) as one commit; the new version.
    pub fn insert_ipc(
        &self,
        project: &str,
        schema: &str,
        name: &str,
        partition: Option<&str>,
        overwrite: bool,
        ipc: &[u8],
    ) -> Result<u64, Error> {
        let path = format!("{}/rows", Self::table_path(project, schema, name));
        let r = self.call(
            "POST",
            &path,
            &Self::rows_query(partition, overwrite),
            header::ARROW_STREAM,
            ipc,
        )?;
        let v: serde_json::Value =
            serde_json::from_slice(&r.body).map_err(|e| Error::InvalidResponse(e.to_string()))?;
        v["Version"]
            .as_u64()
            .ok_or_else(|| Error::InvalidResponse("no Version in the insert answer".into()))
    }

    /// Inserts record batches (see [`insert_ipc`](Self::insert_ipc)).
    pub fn insert(
        &self,
        project: &str,
        name: &str,
        partition: Option<&str>,
        batches: &[RecordBatch],
    ) -> Result<u64, Error> {
        let Some(first) = batches.first() else {
            return Err(Error::Config("no batches to insert".into()));
        };
        let ipc = encode_stream(first.schema(), batches, Compression::Uncompressed)
            .map_err(|e| Error::InvalidResponse(e.to_string()))?;
        self.insert_ipc(project, "default", name, partition, false, &ipc)
    }

    /// The rows of a table (or a partition) as an Arrow IPC stream.
    pub fn dump_ipc(
        &self,
        project: &str,
        schema: &str,
        name: &str,
        partition: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        let path = format!("{}/rows", Self::table_path(project, schema, name));
        Ok(self
            .call(
                "GET",
                &path,
                &Self::rows_query(partition, false),
                "application/json",
                &[],
            )?
            .body)
    }

    /// The rows of a table in the `default` schema (or a partition) as record batches.
    pub fn dump(
        &self,
        project: &str,
        name: &str,
        partition: Option<&str>,
    ) -> Result<Vec<RecordBatch>, Error> {
        let ipc = self.dump_ipc(project, "default", name, partition)?;
        decode_body(&ipc, DecoderOptions::default())
            .map(|d| d.batches)
            .map_err(|e| Error::InvalidResponse(e.to_string()))
    }

    /// Creates a query result from a table; its instance id.
    pub fn create_instance(&self, def: &InstanceDef) -> Result<String, Error> {
        let v: serde_json::Value = self.json("POST", "/admin/v1/instances", &[], Some(def))?;
        v["InstanceId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::InvalidResponse("no InstanceId in the answer".into()))
    }

    /// Arms a fault.
    pub fn inject_fault(&self, spec: &FaultSpec) -> Result<(), Error> {
        self.json::<serde_json::Value>("POST", "/admin/v1/faults", &[], Some(spec))
            .map(|_| ())
    }

    /// The armed faults.
    pub fn faults(&self) -> Result<Vec<FaultSpec>, Error> {
        self.json("GET", "/admin/v1/faults", &[], None::<&()>)
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) -> Result<(), Error> {
        self.call("DELETE", "/admin/v1/faults", &[], "application/json", &[])
            .map(|_| ())
    }
}
