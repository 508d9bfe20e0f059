//! The default ureq transport against a loopback server written here (no HTTP library):
//! a response body that stops arriving mid-way fails within the read timeout instead of
//! hanging; pooled connections are reused until the idle timeout.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use maxstorage_blocking::{HttpTransport, RequestBody, TransportConfig, UreqTransport};

#[test]
fn a_body_that_stalls_mid_way_fails_within_the_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).unwrap() == 0 {
                return;
            }
            head.push(byte[0]);
        }
        // 1,000 bytes announced, 10 sent, then silence with the connection open.
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789")
            .unwrap();
        std::thread::sleep(Duration::from_secs(5));
    });
    let transport = UreqTransport::new(
        &TransportConfig::default().with_read_timeout(Duration::from_millis(300)),
    );
    let request = http::Request::get(format!("http://127.0.0.1:{port}/"))
        .body(RequestBody::Empty)
        .unwrap();
    let response = transport.send(request).unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    let mut body = response.into_body();
    let mut got = Vec::new();
    let result = body.read_to_end(&mut got);
    assert!(
        result.is_err(),
        "a stalled body is an error, got {} bytes",
        got.len()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed after {:?}, not within the read timeout",
        started.elapsed()
    );
    assert_eq!(&got[..], b"0123456789");
    drop(body);
    server.join().unwrap();
}

/// Reads one request head (the requests here have no body); `false` at end of connection.
fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// A server answering every request with an empty 200; counts connections.
fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                while read_head(&mut stream) {
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(ok).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, connections)
}

#[test]
fn an_idle_connection_is_not_reused_after_the_idle_timeout() {
    let (port, connections) = counting_server();
    let transport = UreqTransport::new(
        &TransportConfig::default().with_idle_timeout(Duration::from_millis(100)),
    );
    let get = || {
        let request = http::Request::get(format!("http://127.0.0.1:{port}/"))
            .body(RequestBody::Empty)
            .unwrap();
        let mut body = transport.send(request).unwrap().into_body();
        body.read_to_end(&mut Vec::new()).unwrap();
    };
    get();
    get();
    assert_eq!(connections.load(Ordering::SeqCst), 1, "reused while fresh");
    // Idle for well past the timeout: the pool no longer hands the connection out.
    std::thread::sleep(Duration::from_millis(500));
    get();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "a connection idle for longer than the idle timeout is not reused"
    );
}
