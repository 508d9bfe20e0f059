//! A minimal blocking HTTP/1.1 client over `std::net::TcpStream`, used by the
//! [admin client](crate::admin::AdminClient) and by tests to send requests built by the
//! protocol core to the emulator. One request per connection (`Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status, headers and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in wire order.
    pub headers: Vec<(String, String)>,
    /// Body (chunked transfer decoded).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The response as `http` parts (for the protocol core's `Call::parse`) and body.
    pub fn into_parts(self) -> (http::response::Parts, Vec<u8>) {
        let mut b = http::Response::builder().status(self.status);
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let (parts, ()) = b
            .body(())
            .unwrap_or_else(|_| http::Response::new(()))
            .into_parts();
        (parts, self.body)
    }
}

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

fn invalid(m: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, m.into())
}

/// Sends a request to `addr` and reads the whole response. `path_and_query` is the
/// request target (e.g. `/api/storage/v2?Action=…`). `Host`, `Content-Length` and
/// `Connection: close` are added.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("host")
            || k.eq_ignore_ascii_case("content-length")
            || k.eq_ignore_ascii_case("connection")
            || k.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    read_response(BufReader::new(stream))
}

/// Sends an `http::Request` whose body is given separately (the protocol core's requests
/// carry a `Body` descriptor; pass the bytes here).
pub fn send_request<B>(
    addr: SocketAddr,
    request: &http::Request<B>,
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    send(addr, request.method().as_str(), &target, &headers, body)
}

fn read_response(mut r: BufReader<TcpStream>) -> std::io::Result<HttpResponse> {
    let mut line = String::new();
    let read_line = |r: &mut BufReader<TcpStream>, line: &mut String| -> std::io::Result<()> {
        line.clear();
        let n = r.by_ref().take(MAX_HEAD as u64).read_line(line)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the connection closed before a complete response head",
            ));
        }
        if n >= MAX_HEAD {
            return Err(invalid("response head line too long"));
        }
        Ok(())
    };
    let mut header_count = 0usize;
    read_line(&mut r, &mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        read_line(&mut r, &mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        header_count += 1;
        if header_count > 256 {
            return Err(invalid("too many response headers"));
        }
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {l:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            read_line(&mut r, &mut line)?;
            let size_text = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            read_line(&mut r, &mut line)?;
        }
    } else if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}
