//! The default hyper transport against a loopback server written here (no HTTP library):
//! pooled connections are reused until the idle timeout, a server that never answers hits the read timeout, so
//! does a body that stops arriving mid-way, a closed port is a connect failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use maxstorage_async::{Client, TransportConfig, TransportErrorKind};
use maxstorage_protocol::read::ReadSessionOptions;
use maxstorage_protocol::retry::RetryPolicy;
use maxstorage_protocol::{Credentials, TableId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SESSION: &str = r#"{"SessionId":"rs1","SessionStatus":"NORMAL","SplitsCount":1,"RecordCount":0,"SplitMode":"Size","DataSchema":{"DataColumns":[],"PartitionColumns":[]}}"#;

/// Reads one request (head and `Content-Length` body); `false` at end of connection.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<bool> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Ok(false);
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse::<usize>().unwrap_or(0));
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    Ok(true)
}

/// A server answering every request with the session JSON; counts connections.
async fn serve(listener: TcpListener, connections: Arc<AtomicUsize>, answer: bool) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            while let Ok(true) = read_request(&mut stream).await {
                if !answer {
                    // Hold the connection open without answering.
                    std::future::pending::<()>().await;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
                    SESSION.len(),
                    SESSION
                );
                if stream.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn client(port: u16, config: TransportConfig) -> Client {
    Client::builder()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .credentials(Credentials::new("ak", "sk"))
        .project("p")
        .retry_policy(RetryPolicy::no_retries())
        .transport_config(config)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn connections_are_pooled_and_reused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let server = tokio::spawn(serve(listener, connections.clone(), true));
    let client = client(port, TransportConfig::default()).await;
    let table = client.table(TableId::new("p", "t"));
    for _ in 0..3 {
        let session = table
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        assert_eq!(session.id(), "rs1");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one pooled connection"
    );
    server.abort();
}

#[tokio::test]
async fn an_idle_connection_is_not_reused_after_the_idle_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let server = tokio::spawn(serve(listener, connections.clone(), true));
    let config = TransportConfig::default().with_idle_timeout(Duration::from_millis(100));
    let table = client(port, config).await.table(TableId::new("p", "t"));
    let create = || table.create_read_session(ReadSessionOptions::default());
    create().await.unwrap();
    create().await.unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 1, "reused while fresh");
    // Idle for well past the timeout: the pool has dropped the connection.
    tokio::time::sleep(Duration::from_millis(500)).await;
    create().await.unwrap();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "a connection idle for longer than the idle timeout is not reused"
    );
    server.abort();
}

#[tokio::test]
async fn a_silent_server_hits_the_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener, Arc::new(AtomicUsize::new(0)), false));
    let config = TransportConfig::default().with_read_timeout(Duration::from_millis(200));
    let err = client(port, config)
        .await
        .table(TableId::new("p", "t"))
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap_err();
    match err {
        maxstorage_async::Error::Transport(e) => assert_eq!(e.kind, TransportErrorKind::Timeout),
        other => panic!("expected a timeout, got {other}"),
    }
    server.abort();
}

#[tokio::test]
async fn a_closed_port_is_a_connect_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = client(port, TransportConfig::default())
        .await
        .table(TableId::new("p", "t"))
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap_err();
    match err {
        maxstorage_async::Error::Transport(e) => assert_eq!(e.kind, TransportErrorKind::Connect),
        other => panic!("expected a connect failure, got {other}"),
    }
}

#[tokio::test]
async fn a_server_that_stops_reading_the_body_hits_the_write_timeout() {
    use maxstorage_async::{HttpTransport, HyperTransport, RequestBody};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        // Read the head only, then hold the connection without reading the body.
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            buf.push(byte[0]);
        }
        std::future::pending::<()>().await;
    });
    let config = TransportConfig::default().with_write_timeout(Duration::from_millis(300));
    let transport = HyperTransport::new(&config).unwrap();
    // An endless body: the socket buffers fill, then the body stalls.
    let chunk = bytes::Bytes::from(vec![0u8; 64 * 1024]);
    let body: maxstorage_async::transport::ByteStream =
        Box::pin(futures_util::stream::repeat_with(move || Ok(chunk.clone())));
    let request = http::Request::post(format!("http://127.0.0.1:{port}/upload"))
        .body(RequestBody::Stream {
            stream: body,
            length: None,
        })
        .unwrap();
    let Err(err) = transport.send(request).await else {
        panic!("the stalled upload succeeded")
    };
    assert_eq!(err.kind, TransportErrorKind::Timeout, "{err}");
    assert!(err.message.contains("not accepted"), "{err}");
}

#[tokio::test]
async fn a_body_that_stalls_mid_way_fails_within_the_read_timeout() {
    use futures_util::StreamExt;
    use maxstorage_async::{HttpTransport, HyperTransport, RequestBody};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        if read_request(&mut stream).await.unwrap() {
            // 1,000 bytes announced, 10 sent, then silence with the connection open.
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789")
                .await
                .unwrap();
            std::future::pending::<()>().await;
        }
    });
    let transport = HyperTransport::new(
        &TransportConfig::default().with_read_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let request = http::Request::get(format!("http://127.0.0.1:{port}/"))
        .body(RequestBody::Empty)
        .unwrap();
    let response = transport.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let started = std::time::Instant::now();
    let mut body = response.into_body();
    let mut got = Vec::new();
    let failed = loop {
        match tokio::time::timeout(Duration::from_secs(5), body.next()).await {
            Ok(Some(Ok(chunk))) => got.extend_from_slice(&chunk),
            Ok(Some(Err(_))) => break true,
            Ok(None) => break false,
            Err(_) => panic!("the stalled body hung for 5 s"),
        }
    };
    assert!(failed, "a stalled body is an error");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(&got[..], b"0123456789");
    server.abort();
}
