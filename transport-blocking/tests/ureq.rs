//! The default ureq transport against a loopback server written here (no HTTP library):
//! a response body that stops arriving mid-way fails within the read timeout instead of
//! hanging.

use std::io::{Read, Write};
use std::net::TcpListener;
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
