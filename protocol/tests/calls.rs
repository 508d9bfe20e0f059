//! Request building and response parsing of calls the recorded vectors do not cover:
//! instance reads, tunnel discovery, STS, quota and tags, API v3 write modes.

use std::time::{Duration, UNIX_EPOCH};

use maxstorage_protocol::discovery::DiscoverTunnel;
use maxstorage_protocol::instance::{
    CreateInstanceReadSession, GetInstanceReadSession, InstanceRead, InstanceReadOptions,
};
use maxstorage_protocol::read::{ReadRows, ReadRowsOptions, RowRange, RowSelection};
use maxstorage_protocol::sign::{
    SignedParts, Verification, canonical_string, verify_authorization,
};
use maxstorage_protocol::url::parse_query;
use maxstorage_protocol::write::{
    GetWriteSchema, GetWriteStream, StreamRef, WriteMode, WriteRows, WriteStreamInfo,
};
use maxstorage_protocol::{
    ApiVersion, Body, Call, ClientConfig, Compression, Credentials, Endpoint, Error, InstanceId,
    RequestContext, TableId,
};

fn config(version: ApiVersion) -> ClientConfig {
    ClientConfig::new(
        Endpoint::parse("http://127.0.0.1:1234")
            .unwrap()
            .with_api_version(version),
        Credentials::new("ak", "sk"),
    )
}

fn now() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_093_684)
}

fn query(req: &http::Request<Body>) -> Vec<(String, String)> {
    parse_query(req.uri().query().unwrap_or(""))
}

fn q<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Verifies a built request's signature the way the emulator will.
fn verify(req: &http::Request<Body>, creds: &Credentials, resource: &str) -> Verification {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let pairs = query(req);
    let canonical = canonical_string(&SignedParts {
        method: req.method().as_str(),
        resource,
        query: &pairs,
        headers: &headers,
    });
    verify_authorization(
        req.headers()["authorization"].to_str().unwrap(),
        creds,
        &canonical,
    )
}

fn parts(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[test]
fn instance_calls() {
    let cfg = config(ApiVersion::V2);
    let ctx = RequestContext::new(&cfg, now()).with_route_token(Some("rt;x;1"));
    let inst = InstanceId::new("p", "20261201abc");
    let req = CreateInstanceReadSession {
        instance: inst.clone(),
        enable_limit: false,
    }
    .build(&ctx)
    .unwrap();
    assert_eq!(
        q(&query(&req), "Target"),
        Some("projects.p.instances.20261201abc")
    );
    assert_eq!(
        req.body().bytes().unwrap().as_ref(),
        br#"{"EnableLimit":false}"#
    );
    assert!(
        req.headers()
            .get("x-odps-max-storage-route-token")
            .is_none(),
        "instance calls carry no route token"
    );

    let req = GetInstanceReadSession {
        instance: inst.clone(),
        session_id: "d1".into(),
    }
    .build(&ctx)
    .unwrap();
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.body(), &Body::Empty);

    let call = InstanceRead {
        instance: inst,
        session_id: "d1".into(),
        range: Some(RowRange {
            offset: 10,
            count: 5,
        }),
        options: InstanceReadOptions::default(),
        compression: Compression::Lz4Frame,
    };
    let req = call.build(&ctx).unwrap();
    let pairs = query(&req);
    assert_eq!(
        (q(&pairs, "Offset"), q(&pairs, "Count")),
        (Some("10"), Some("5"))
    );
    assert_eq!(req.headers()["accept-encoding"], "x-lz4-frame");
    let body: serde_json::Value = serde_json::from_slice(req.body().bytes().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"TaskName": "AnonymousSQLTask", "QueryId": 0, "EnableLimit": false, "Columns": []})
    );
    assert_eq!(
        verify(&req, &cfg.credentials, "/api/storage/v2"),
        Verification::Valid
    );

    let session = CreateInstanceReadSession { instance: InstanceId::new("p", "i"), enable_limit: true }
        .parse(
            &parts(200, &[]),
            br#"{"DownloadID":"d1","RecordCount":"42","Status":"initiating","TableSchema":{"DataColumns":[]},"QuotaName":"q"}"#,
        )
        .unwrap();
    assert_eq!(
        (
            session.session_id.as_str(),
            session.record_count,
            session.is_initiating()
        ),
        ("d1", 42, true)
    );
}

#[test]
fn discovery_request_and_answer() {
    let mut cfg = config(ApiVersion::V2);
    cfg.endpoint = Endpoint::parse("https://service.example.com/api").unwrap();
    let ctx = RequestContext::new(&cfg, now());
    let call = DiscoverTunnel {
        project: "p".into(),
        quota_name: Some("q1".into()),
    };
    let req = call.build(&ctx).unwrap();
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.uri().path(), "/api/projects/p/tunnel");
    let pairs = query(&req);
    assert_eq!(
        (
            q(&pairs, "service"),
            q(&pairs, "quotaName"),
            q(&pairs, "curr_project")
        ),
        (Some(""), Some("q1"), Some("p"))
    );
    assert_eq!(
        verify(&req, &cfg.credentials, "/projects/p/tunnel"),
        Verification::Valid,
        "the /api prefix is not signed"
    );

    let ep = call
        .parse_with_scheme(&parts(200, &[]), b"dt.example.com:8080\n", "https")
        .unwrap();
    assert_eq!(ep.to_string(), "https://dt.example.com:8080");
    let ep = call
        .parse_with_scheme(&parts(200, &[]), b"http://dt.example.com", "https")
        .unwrap();
    assert_eq!(ep.scheme(), "http");
    assert!(matches!(
        call.parse(&parts(200, &[]), b""),
        Err(Error::InvalidResponse(_))
    ));
    assert!(matches!(
        call.parse(
            &parts(404, &[]),
            br#"{"Code":"NoSuchProject","Message":"no"}"#
        ),
        Err(Error::Service(_))
    ));
}

#[test]
fn sts_quota_tags_and_redaction() {
    let mut cfg = config(ApiVersion::V2);
    cfg.credentials =
        Credentials::new("ak", "super-secret-key").with_security_token("sts-secret-token");
    cfg.quota_name = Some("my_quota".into());
    cfg.tags = vec!["t1".into(), "t2".into()];
    cfg.project = Some("home".into());
    let ctx = RequestContext::new(&cfg, now());
    let call = ReadRows {
        table: TableId::new("p", "t"),
        session_id: "s".into(),
        selection: RowSelection::split(0),
        options: ReadRowsOptions::default(),
        compression: Compression::Uncompressed,
    };
    let req = call.build(&ctx).unwrap();
    let pairs = query(&req);
    assert_eq!(
        (q(&pairs, "quotaName"), q(&pairs, "curr_project")),
        (Some("my_quota"), Some("home"))
    );
    assert_eq!(req.headers()["odps-tunnel-tags"], "t1,t2");
    assert_eq!(req.headers()["authorization-sts-token"], "sts-secret-token");
    assert!(req.headers().get("accept-encoding").is_none());
    // Neither tags nor the STS token are signed; the signature still verifies.
    assert_eq!(
        verify(&req, &cfg.credentials, "/api/storage/v2"),
        Verification::Valid
    );
    let debug = format!("{cfg:?}");
    assert!(
        !debug.contains("super-secret-key") && !debug.contains("sts-secret-token"),
        "{debug}"
    );
}

#[test]
fn v3_write_modes_and_streaming_errors() {
    let cfg = config(ApiVersion::V3);
    let ctx = RequestContext::new(&cfg, now()).with_route_token(Some("rt;s;1"));
    let get = GetWriteStream {
        table: TableId::new("p", "t"),
        session_id: "default".into(),
        mode: WriteMode::StreamingRealtime,
        stream: StreamRef::new("s0", 1),
        table_id: Some("tid".into()),
        exactly_once: false,
    };
    let req = get.build(&ctx).unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri().path(), "/api/storage/v3");
    let pairs = query(&req);
    assert_eq!(q(&pairs, "WriteMode"), Some("StreamingRealtime"));
    assert_eq!(q(&pairs, "ExactlyOnceMode"), None);
    assert_eq!(req.headers()["x-odps-max-storage-route-token"], "rt;s;1");
    let body: serde_json::Value = serde_json::from_slice(req.body().bytes().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"StreamId": "s0", "StreamVersion": 1, "TableId": "tid"})
    );

    let info: WriteStreamInfo = get
        .parse(
            &parts(
                200,
                &[
                    ("Accept-Encoding", "deflate, x-lz4-frame,zstd"),
                    ("x-odps-max-storage-route-token", "rt;s;2"),
                ],
            ),
            br#"{"TableSchema":{},"RowOffset":"7","status":0,"recordCount":7,"WarningMessage":""}"#,
        )
        .unwrap();
    assert_eq!(info.row_offset, Some(7));
    assert_eq!(
        info.accepted_compressions,
        vec![Compression::Lz4Frame, Compression::Zstd]
    );
    assert_eq!(info.route_token.as_deref(), Some("rt;s;2"));

    let schema = GetWriteSchema {
        table: TableId::new("p", "t"),
        session_id: "s".into(),
        mode: WriteMode::Batch,
    }
    .build(&ctx)
    .unwrap();
    assert_eq!(q(&query(&schema), "WriteMode"), Some("Batch"));

    let write = WriteRows {
        table: TableId::new("p", "t"),
        session_id: "s".into(),
        mode: WriteMode::Batch,
        stream: StreamRef::new("0", 1),
        record_count: 3,
        row_offset: Some(0),
        access_token: None,
        table_id: None,
        schema_version: None,
        content_length: Some(10),
    };
    assert!(
        matches!(write.build(&ctx), Err(Error::Usage(_))),
        "exactly-once write without a token"
    );
    assert!(write.is_idempotent());
}

#[test]
fn streaming_responses_report_encoding_and_errors() {
    let call = ReadRows {
        table: TableId::new("p", "t"),
        session_id: "s".into(),
        selection: RowSelection::split(0),
        options: ReadRowsOptions::default(),
        compression: Compression::Zstd,
    };
    let head = call
        .parse(
            &parts(
                200,
                &[("Content-Encoding", "ZSTD"), ("x-odps-request-id", "r1")],
            ),
            b"",
        )
        .unwrap();
    assert_eq!(
        (head.compression, head.request_id.as_deref()),
        (Some(Compression::Zstd), Some("r1"))
    );
    let head = call.parse(&parts(200, &[]), b"").unwrap();
    assert_eq!(head.compression, None);
    assert!(matches!(
        call.parse(&parts(200, &[("Content-Encoding", "br")]), b""),
        Err(Error::InvalidResponse(_))
    ));
    let err = call
        .parse(
            &parts(404, &[("x-odps-request-id", "r2")]),
            br#"{"Code":"NoSuchSession","Message":"gone"}"#,
        )
        .unwrap_err();
    assert_eq!(
        (err.status(), err.request_id(), err.is_retryable()),
        (Some(404), Some("r2"), false)
    );
}

#[test]
fn malformed_success_bodies_are_typed_errors() {
    let call = GetWriteStream {
        table: TableId::new("p", "t"),
        session_id: "s".into(),
        mode: WriteMode::Batch,
        stream: StreamRef::new("0", 1),
        table_id: None,
        exactly_once: true,
    };
    for body in [&b"not json"[..], br#"{"RowOffset": "x"}"#, br#"[1,2]"#] {
        let err = call
            .parse(&parts(200, &[("x-odps-request-id", "r9")]), body)
            .unwrap_err();
        let Error::InvalidResponse(e) = &err else {
            panic!("{err}")
        };
        assert_eq!(e.request_id.as_deref(), Some("r9"));
        assert!(err.to_string().contains("TableGetWriteStream"), "{err}");
    }
}
