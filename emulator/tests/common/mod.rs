//! Test helpers: an emulator with credentials in a temporary directory, and a client that
//! sends requests built by the protocol core over loopback HTTP.
#![allow(dead_code, missing_docs)]

use std::sync::Arc;
use std::time::SystemTime;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use maxstorage_codec::read::{DecoderOptions, decode_body};
use maxstorage_codec::write::encode_stream;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::http_client::{HttpResponse, send, send_request};
use maxstorage_emulator::{Emulator, ReadCompression};
use maxstorage_protocol::{
    ApiVersion, Body, Call, ClientConfig, Compression, Credentials, Endpoint, Error, RequestContext,
};

pub(crate) const ID: &str = "test_access_id";
pub(crate) const KEY: &str = "test_secret_key";

pub(crate) struct Env {
    pub emulator: Emulator,
    pub admin: AdminClient,
    pub config: ClientConfig,
    _dir: tempfile::TempDir,
}

pub(crate) fn start() -> Env {
    start_with(|b| b)
}

pub(crate) fn start_with(
    f: impl FnOnce(maxstorage_emulator::EmulatorBuilder) -> maxstorage_emulator::EmulatorBuilder,
) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let emulator = f(Emulator::builder()
        .data_dir(dir.path())
        .credentials(ID, KEY)
        .read_compression(ReadCompression::Ipc))
    .start()
    .unwrap();
    let admin = AdminClient::new(emulator.addr()).with_credentials(ID, KEY);
    let endpoint = Endpoint::parse(&emulator.endpoint()).unwrap();
    let config = ClientConfig::new(endpoint, Credentials::new(ID, KEY));
    Env {
        emulator,
        admin,
        config,
        _dir: dir,
    }
}

impl Env {
    pub(crate) fn v3(&self) -> ClientConfig {
        let mut c = self.config.clone();
        c.endpoint = c.endpoint.clone().with_api_version(ApiVersion::V3);
        c
    }

    /// Sends a call (with `body` for streaming bodies) and returns the raw response.
    pub(crate) fn raw<C: Call>(&self, call: &C, token: Option<&str>, body: &[u8]) -> HttpResponse {
        self.raw_with(&self.config, call, token, body)
    }

    pub(crate) fn raw_with<C: Call>(
        &self,
        config: &ClientConfig,
        call: &C,
        token: Option<&str>,
        body: &[u8],
    ) -> HttpResponse {
        let ctx = RequestContext::new(config, SystemTime::now()).with_route_token(token);
        let req = call.build(&ctx).unwrap();
        let bytes: Vec<u8> = match req.body() {
            Body::Json(b) => b.to_vec(),
            _ => body.to_vec(),
        };
        send_request(self.emulator.addr(), &req, &bytes).unwrap()
    }

    /// Sends a call and parses the response.
    pub(crate) fn call<C: Call>(&self, call: &C, body: &[u8]) -> Result<C::Output, Error> {
        self.call_with(&self.config, call, body)
    }

    pub(crate) fn call_with<C: Call>(
        &self,
        config: &ClientConfig,
        call: &C,
        body: &[u8],
    ) -> Result<C::Output, Error> {
        let r = self.raw_with(config, call, Some("x;y;1"), body);
        let (parts, body) = r.into_parts();
        call.parse(&parts, &body)
    }
}

pub(crate) fn batch(a: &[i64], b: &[&str]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("a", Arc::new(Int64Array::from(a.to_vec())) as ArrayRef),
        ("b", Arc::new(StringArray::from(b.to_vec())) as ArrayRef),
    ])
    .unwrap()
}

pub(crate) fn ipc(batches: &[RecordBatch], compression: Compression) -> Vec<u8> {
    encode_stream(batches[0].schema(), batches, compression).unwrap()
}

pub(crate) fn decode(body: &[u8]) -> Vec<RecordBatch> {
    decode_body(body, DecoderOptions::default())
        .unwrap()
        .batches
}

pub(crate) fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// Column `a` of all batches.
pub(crate) fn col_a(batches: &[RecordBatch]) -> Vec<i64> {
    let mut out = Vec::new();
    for b in batches {
        let i = b.schema().index_of("a").unwrap();
        let a = b.column(i).as_any().downcast_ref::<Int64Array>().unwrap();
        out.extend(a.values().iter().copied());
    }
    out
}

/// Sends `body` to the v2 API with `query` as JSON (and the route token, when given).
pub(crate) fn send_v2(
    env: &Env,
    method: &str,
    query: &str,
    token: Option<&str>,
    body: &[u8],
) -> HttpResponse {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if let Some(t) = token {
        headers.push((
            maxstorage_protocol::header::ROUTE_TOKEN.to_string(),
            t.to_string(),
        ));
    }
    send(
        env.emulator.addr(),
        method,
        &format!("/api/storage/v2?{query}"),
        &headers,
        body,
    )
    .unwrap()
}

/// The status of a response and its JSON body (`Null` when it is not JSON).
pub(crate) fn status_json(r: &HttpResponse) -> (u16, serde_json::Value) {
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null),
    )
}

/// A JSON request to the v2 API, without a route token: the status and JSON answer.
pub(crate) fn raw_json(
    env: &Env,
    method: &str,
    query: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    status_json(&send_v2(env, method, query, None, body.as_bytes()))
}
