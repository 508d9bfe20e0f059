//! Custom root certificates and HTTP proxies, in both clients, against the local emulator:
//!
//! - a TLS terminator (a CA and a `localhost` / `127.0.0.1` certificate made with rcgen)
//!   in front of the emulator: a client given the CA writes and reads a table over
//!   `https://localhost:PORT`; one without it fails with a TLS certificate error;
//! - a `CONNECT` proxy in front of the emulator (and of the terminator) that counts the
//!   tunnels it opened: a client with `proxy(url)` goes through it (with its
//!   `Proxy-Authorization`), `no_proxy(..)` and `disable_proxy()` bypass it;
//! - settings that cannot be used fail `build` with typed errors, passwords hidden.
//!
//! The servers run on a runtime of their own, so the blocking client's threads and the
//! async client's runtime use them alike.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;
use maxstorage::arrow_array::{ArrayRef, Int64Array, RecordBatch};
use maxstorage::blocking::TransportErrorKind;
use maxstorage::prelude::*;
use maxstorage::{Error, NetworkConfigError, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;

mod common;

const ROWS: i64 = 3000;

/// A CA named `ca_name`, and a server configuration presenting a certificate it signed
/// for `localhost` and `127.0.0.1`.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki(ca_name: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = rcgen::Issuer::new(ca_params, ca_key);

    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone(), ca_cert.der().clone()], key)
    .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}

/// What the proxy saw.
#[derive(Default)]
struct ProxyLog {
    /// The targets of the tunnels it opened.
    tunnels: Mutex<Vec<String>>,
    /// The `Proxy-Authorization` of every request (tunnels and refusals).
    authorizations: Mutex<Vec<Option<String>>>,
    /// Requests it refused (not `CONNECT`, or without the right credentials).
    refused: Mutex<usize>,
}

impl ProxyLog {
    fn tunnels(&self) -> usize {
        self.tunnels.lock().unwrap().len()
    }
}

/// The test servers: a runtime of their own, shut down when dropped.
struct Servers {
    rt: Option<tokio::runtime::Runtime>,
}

impl Servers {
    fn new() -> Servers {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Servers { rt: Some(rt) }
    }

    fn listen(&self) -> (TcpListener, u16) {
        let rt = self.rt.as_ref().unwrap();
        let _guard = rt.enter();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        (TcpListener::from_std(listener).unwrap(), port)
    }

    /// A TLS terminator relaying the decrypted bytes to `upstream`; returns its port.
    fn tls_front(&self, upstream: SocketAddr, config: Arc<rustls::ServerConfig>) -> u16 {
        let (listener, port) = self.listen();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        self.rt.as_ref().unwrap().spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that rejects the certificate ends the handshake: not an
                    // error of the terminator.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        port
    }

    /// A `CONNECT` proxy; with `credentials` (`user:password`) it answers 407 to requests
    /// without them. Returns its port and its log.
    fn proxy(&self, credentials: Option<&str>) -> (u16, Arc<ProxyLog>) {
        use base64::Engine as _;
        let (listener, port) = self.listen();
        let log = Arc::new(ProxyLog::default());
        let expected = credentials.map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        });
        let server_log = log.clone();
        self.rt.as_ref().unwrap().spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(relay(tcp, server_log.clone(), expected.clone()));
            }
        });
        (port, log)
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// One proxy connection: a `CONNECT` head, then the bytes both ways.
async fn relay(mut client: TcpStream, log: Arc<ProxyLog>, expected: Option<String>) {
    // Byte by byte, so nothing after the head is consumed.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) if head.len() < 16 * 1024 => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, value)| value.trim().to_string());
    log.authorizations
        .lock()
        .unwrap()
        .push(authorization.clone());
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next(), parts.next().unwrap_or_default().to_string());
    let refusal: Option<&[u8]> = if method != Some("CONNECT") {
        Some(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
    } else if expected.is_some() && authorization != expected {
        Some(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\
              Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
        )
    } else {
        None
    };
    if let Some(answer) = refusal {
        *log.refused.lock().unwrap() += 1;
        let _ = client.write_all(answer).await;
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    log.tunnels.lock().unwrap().push(target);
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

fn batch(from: i64, rows: i64) -> RecordBatch {
    RecordBatch::try_from_iter(vec![(
        "id",
        Arc::new(Int64Array::from_iter_values(from..from + rows)) as ArrayRef,
    )])
    .unwrap()
}

fn exactly_once() -> StreamOptions {
    StreamOptions::default().with_exactly_once(true)
}

/// Writes `ROWS` rows to `table` (an exactly-once stream, one commit) and reads them back
/// with two workers; the number of rows read.
fn blocking_round_trip(client: &Client, table: &str) -> maxstorage::Result<usize> {
    let table = client.table(TableId::new(common::PROJECT, table));
    let session = table.create_write_session(WriteSessionOptions::default())?;
    let mut writer = session.stream_writer(StreamRef::new("0", 1), exactly_once())?;
    for from in (0..ROWS).step_by(1000) {
        writer.write(&batch(from, 1000))?;
    }
    writer.finish()?;
    session.commit()?;
    let read = table.create_read_session(ReadSessionOptions::default())?;
    table
        .read_all(&read, &ReadOptions::default(), 2)
        .map(|item| item.map(|(_, b)| b.num_rows()))
        .sum()
}

/// [`blocking_round_trip`] with the async client.
async fn async_round_trip(
    client: &maxstorage::asynchronous::Client,
    table: &str,
) -> maxstorage::Result<usize> {
    let table = client.table(TableId::new(common::PROJECT, table));
    let session = table
        .create_write_session(WriteSessionOptions::default())
        .await?;
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), exactly_once())
        .await?;
    for from in (0..ROWS).step_by(1000) {
        writer.write(&batch(from, 1000)).await?;
    }
    writer.finish().await?;
    session.commit().await?;
    let read = table
        .create_read_session(ReadSessionOptions::default())
        .await?;
    let batches: Vec<(usize, RecordBatch)> = table
        .read_all(&read, &ReadOptions::default(), 2)
        .try_collect()
        .await?;
    Ok(batches.iter().map(|(_, b)| b.num_rows()).sum())
}

/// A blocking client builder of the emulator, at `endpoint`, that does not retry.
fn blocking_builder(
    local: &common::Local,
    endpoint: String,
) -> maxstorage::blocking::ClientBuilder {
    Client::builder()
        .endpoint(endpoint)
        .credentials(local.credentials())
        .project(common::PROJECT)
        .retry_policy(RetryPolicy::no_retries())
}

/// The same with the async client.
fn async_builder(
    local: &common::Local,
    endpoint: String,
) -> maxstorage::asynchronous::ClientBuilder {
    maxstorage::asynchronous::Client::builder()
        .endpoint(endpoint)
        .credentials(local.credentials())
        .project(common::PROJECT)
        .retry_policy(RetryPolicy::no_retries())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A failed TLS handshake: a connect failure (nothing was sent) that says why.
fn assert_untrusted_certificate(result: maxstorage::Result<usize>) {
    match result {
        Err(Error::Transport(e)) => {
            assert_eq!(e.kind, TransportErrorKind::Connect, "{e}");
            let message = e.message.to_lowercase();
            assert!(
                message.contains("certificate") && message.contains("unknownissuer"),
                "{e}"
            );
        }
        other => panic!("expected a TLS certificate error, got {other:?}"),
    }
}

#[test]
fn the_blocking_client_trusts_a_given_ca_and_rejects_the_server_without_it() {
    let local = common::Local::start("tls-blocking");
    local.table("t", &[("id", "bigint")]);
    let pki = pki("maxstorage test CA");
    let servers = Servers::new();
    let port = servers.tls_front(local.addr(), pki.server.clone());
    let endpoint = format!("https://localhost:{port}");

    let client = blocking_builder(&local, endpoint.clone())
        .root_certificates_pem(&pki.ca_pem)
        .build()
        .unwrap();
    assert_eq!(blocking_round_trip(&client, "t").unwrap(), ROWS as usize);

    // Only the given roots: the same.
    let only = blocking_builder(&local, format!("https://127.0.0.1:{port}"))
        .root_certificates_pem(pki.ca_pem.as_bytes())
        .trust_only_given_roots()
        .build()
        .unwrap();
    let table = only.table(TableId::new(common::PROJECT, "t"));
    let read = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    assert_eq!(read.record_count(), ROWS);

    // Without the CA (the webpki roots only), or trusting another CA only.
    let untrusting = blocking_builder(&local, endpoint.clone()).build().unwrap();
    assert_untrusted_certificate(blocking_round_trip(&untrusting, "t"));
    let other_ca = blocking_builder(&local, endpoint)
        .root_certificates_pem(self::pki("another CA").ca_pem)
        .trust_only_given_roots()
        .build()
        .unwrap();
    assert_untrusted_certificate(blocking_round_trip(&other_ca, "t"));
}

#[test]
fn the_async_client_trusts_a_given_ca_and_rejects_the_server_without_it() {
    let local = common::Local::start("tls-async");
    local.table("t", &[("id", "bigint")]);
    let pki = pki("maxstorage test CA");
    let servers = Servers::new();
    let port = servers.tls_front(local.addr(), pki.server.clone());
    let endpoint = format!("https://localhost:{port}");
    runtime().block_on(async {
        let client = async_builder(&local, endpoint.clone())
            .root_certificates_pem(&pki.ca_pem)
            .build()
            .await
            .unwrap();
        assert_eq!(async_round_trip(&client, "t").await.unwrap(), ROWS as usize);

        let only = async_builder(&local, format!("https://127.0.0.1:{port}"))
            .root_certificates_pem(pki.ca_pem.as_bytes())
            .trust_only_given_roots()
            .build()
            .await
            .unwrap();
        let read = only
            .table(TableId::new(common::PROJECT, "t"))
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        assert_eq!(read.record_count(), ROWS);

        let untrusting = async_builder(&local, endpoint.clone())
            .build()
            .await
            .unwrap();
        assert_untrusted_certificate(async_round_trip(&untrusting, "t").await);
        let other_ca = async_builder(&local, endpoint)
            .root_certificates_pem(self::pki("another CA").ca_pem)
            .trust_only_given_roots()
            .build()
            .await
            .unwrap();
        assert_untrusted_certificate(async_round_trip(&other_ca, "t").await);
    });
}

#[test]
fn the_blocking_client_goes_through_a_proxy_unless_no_proxy_or_disabled() {
    let local = common::Local::start("proxy-blocking");
    local.table("t", &[("id", "bigint")]);
    let servers = Servers::new();
    let (port, log) = servers.proxy(None);
    let proxy = format!("http://127.0.0.1:{port}");

    let client = blocking_builder(&local, local.endpoint())
        .proxy(&proxy)
        .build()
        .unwrap();
    assert_eq!(blocking_round_trip(&client, "t").unwrap(), ROWS as usize);
    let tunnels = log.tunnels();
    assert!(tunnels > 0, "the proxy relayed nothing");
    let target = local.addr().to_string();
    assert!(log.tunnels.lock().unwrap().iter().all(|t| *t == target));
    assert!(
        log.authorizations
            .lock()
            .unwrap()
            .iter()
            .all(Option::is_none)
    );

    // NO_PROXY naming the endpoint's host, or no proxy at all: the proxy sees nothing.
    for builder in [
        blocking_builder(&local, local.endpoint())
            .proxy(&proxy)
            .no_proxy("example.com, 127.0.0.1"),
        blocking_builder(&local, local.endpoint())
            .proxy(&proxy)
            .no_proxy("*"),
        blocking_builder(&local, local.endpoint())
            .proxy(&proxy)
            .disable_proxy(),
    ] {
        let client = builder.build().unwrap();
        let read = client
            .table(TableId::new(common::PROJECT, "t"))
            .create_read_session(ReadSessionOptions::default())
            .unwrap();
        assert_eq!(read.record_count(), ROWS);
    }
    assert_eq!(log.tunnels(), tunnels, "a bypassed proxy relayed requests");
    assert_eq!(*log.refused.lock().unwrap(), 0);
}

#[test]
fn the_async_client_goes_through_a_proxy_unless_no_proxy_or_disabled() {
    let local = common::Local::start("proxy-async");
    local.table("t", &[("id", "bigint")]);
    let servers = Servers::new();
    let (port, log) = servers.proxy(None);
    let proxy = format!("http://127.0.0.1:{port}");
    runtime().block_on(async {
        let client = async_builder(&local, local.endpoint())
            .proxy(&proxy)
            .build()
            .await
            .unwrap();
        assert_eq!(async_round_trip(&client, "t").await.unwrap(), ROWS as usize);
        let tunnels = log.tunnels();
        assert!(tunnels > 0, "the proxy relayed nothing");
        let target = local.addr().to_string();
        assert!(log.tunnels.lock().unwrap().iter().all(|t| *t == target));
        assert!(
            log.authorizations
                .lock()
                .unwrap()
                .iter()
                .all(Option::is_none)
        );

        for builder in [
            async_builder(&local, local.endpoint())
                .proxy(&proxy)
                .no_proxy("example.com, 127.0.0.1"),
            async_builder(&local, local.endpoint())
                .proxy(&proxy)
                .no_proxy("*"),
            async_builder(&local, local.endpoint())
                .proxy(&proxy)
                .disable_proxy(),
        ] {
            let client = builder.build().await.unwrap();
            let read = client
                .table(TableId::new(common::PROJECT, "t"))
                .create_read_session(ReadSessionOptions::default())
                .await
                .unwrap();
            assert_eq!(read.record_count(), ROWS);
        }
        assert_eq!(log.tunnels(), tunnels, "a bypassed proxy relayed requests");
        assert_eq!(*log.refused.lock().unwrap(), 0);
    });
}

/// Through a proxy that wants credentials, to an `https` endpoint only the given CA
/// vouches for: the TLS session runs inside the tunnel.
#[test]
fn both_clients_reach_a_tls_endpoint_through_an_authenticating_proxy() {
    let local = common::Local::start("tls-proxy");
    local.table("t", &[("id", "bigint")]);
    let pki = pki("maxstorage test CA");
    let servers = Servers::new();
    let tls_port = servers.tls_front(local.addr(), pki.server.clone());
    let (proxy_port, log) = servers.proxy(Some("al ice:s3cr:et"));
    let endpoint = format!("https://localhost:{tls_port}");
    // The user and password percent-encoded in the URL.
    let proxy = format!("http://al%20ice:s3cr%3Aet@127.0.0.1:{proxy_port}");

    let blocking = blocking_builder(&local, endpoint.clone())
        .root_certificates_pem(&pki.ca_pem)
        .trust_only_given_roots()
        .proxy(&proxy)
        .build()
        .unwrap();
    assert_eq!(blocking_round_trip(&blocking, "t").unwrap(), ROWS as usize);
    let after_blocking = log.tunnels();
    assert!(after_blocking > 0);
    let shown = format!("{blocking:?}");
    assert!(!shown.contains("s3cr"), "{shown}");

    let rows = runtime().block_on(async {
        let client = async_builder(&local, endpoint.clone())
            .root_certificates_pem(&pki.ca_pem)
            .trust_only_given_roots()
            .proxy(&proxy)
            .build()
            .await
            .unwrap();
        assert!(!format!("{client:?}").contains("s3cr"));
        let table = client.table(TableId::new(common::PROJECT, "t"));
        let read = table
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        let batches: Vec<(usize, RecordBatch)> = table
            .read_all(&read, &ReadOptions::default(), 2)
            .try_collect()
            .await
            .unwrap();
        batches.iter().map(|(_, b)| b.num_rows()).sum::<usize>()
    });
    assert_eq!(rows, ROWS as usize);
    assert!(log.tunnels() > after_blocking);
    let target = format!("localhost:{tls_port}");
    assert!(log.tunnels.lock().unwrap().iter().all(|t| *t == target));
    assert_eq!(*log.refused.lock().unwrap(), 0);

    // Without the credentials the proxy refuses: a connect failure, in both clients.
    let anonymous = format!("http://127.0.0.1:{proxy_port}");
    let blocking = blocking_builder(&local, endpoint.clone())
        .root_certificates_pem(&pki.ca_pem)
        .proxy(&anonymous)
        .build()
        .unwrap();
    match blocking_round_trip(&blocking, "t") {
        Err(Error::Transport(e)) => {
            assert_eq!(e.kind, TransportErrorKind::Connect, "{e}");
            assert!(e.message.contains("proxy"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let refused = runtime().block_on(async {
        let client = async_builder(&local, endpoint)
            .root_certificates_pem(&pki.ca_pem)
            .proxy(&anonymous)
            .build()
            .await
            .unwrap();
        async_round_trip(&client, "t").await
    });
    match refused {
        Err(Error::Transport(e)) => {
            assert_eq!(e.kind, TransportErrorKind::Connect, "{e}");
            assert!(e.message.contains("proxy"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(*log.refused.lock().unwrap(), 2);
}

/// What `build` says about settings it cannot use, the same in both clients.
fn assert_build_errors<C: std::fmt::Debug>(
    build: impl Fn(&dyn Fn(Builder) -> Builder) -> maxstorage::Result<C>,
) {
    let network_error = |f: &dyn Fn(Builder) -> Builder| match build(f) {
        Err(Error::NetworkConfig(e)) => e,
        other => panic!("expected a network configuration error, got {other:?}"),
    };
    assert!(matches!(
        network_error(&|b| b.root_certificates_pem("no certificate here")),
        NetworkConfigError::NoCertificate { .. }
    ));
    assert!(matches!(
        network_error(&|b| b.root_certificates_pem(
            "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"
        )),
        NetworkConfigError::BadCertificate { index: 1, .. }
    ));
    assert!(matches!(
        network_error(&|b| b.root_certificates_file("/nonexistent/ca.pem")),
        NetworkConfigError::UnreadableCaBundle { .. }
    ));
    assert_eq!(
        network_error(&|b| b.trust_only_given_roots()),
        NetworkConfigError::NoRootCertificates
    );
    let e = network_error(&|b| b.proxy("socks5://user:hunter2@proxy:1080"));
    assert!(matches!(e, NetworkConfigError::BadProxyUrl { .. }), "{e:?}");
    let shown = format!("{e} {e:?} {}", Error::NetworkConfig(e.clone()));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("socks5"), "{shown}");
    // `disable_proxy` wins over a proxy, even one that cannot be used.
    assert!(build(&|b| b.proxy("socks5://h").disable_proxy()).is_ok());
}

/// The settings under test, applied to either client's builder.
enum Builder {
    Blocking(maxstorage::blocking::ClientBuilder),
    Async(maxstorage::asynchronous::ClientBuilder),
}

macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        impl Builder {
            $(fn $name(self, $($arg: $ty),*) -> Builder {
                match self {
                    Builder::Blocking(b) => Builder::Blocking(b.$name($($arg),*)),
                    Builder::Async(b) => Builder::Async(b.$name($($arg),*)),
                }
            })*
        }
    };
}

forward!(
    root_certificates_pem(pem: &str),
    root_certificates_file(path: &str),
    trust_only_given_roots(),
    proxy(url: &str),
    disable_proxy(),
);

#[test]
fn settings_that_cannot_be_used_fail_the_build_with_typed_errors() {
    let endpoint = "http://127.0.0.1:9".to_string();
    let credentials = Credentials::new("id", "secret");
    assert_build_errors(|settings| {
        let b = Client::builder()
            .endpoint(endpoint.clone())
            .credentials(credentials.clone());
        match settings(Builder::Blocking(b)) {
            Builder::Blocking(b) => b.build(),
            Builder::Async(_) => unreachable!(),
        }
    });
    let rt = runtime();
    assert_build_errors(|settings| {
        let b = maxstorage::asynchronous::Client::builder()
            .endpoint(endpoint.clone())
            .credentials(credentials.clone());
        match settings(Builder::Async(b)) {
            Builder::Async(b) => rt.block_on(b.build()),
            Builder::Blocking(_) => unreachable!(),
        }
    });

    // Root certificates or a proxy with a transport of one's own would be ignored.
    let blocking = Client::builder()
        .endpoint(endpoint.clone())
        .credentials(credentials.clone())
        .proxy("http://127.0.0.1:1")
        .transport(Arc::new(maxstorage::blocking::UreqTransport::default()))
        .build();
    assert!(matches!(
        blocking,
        Err(Error::Config(
            maxstorage::ConfigError::NetworkWithOwnTransport
        ))
    ));
    let transport = rt.block_on(async {
        maxstorage::asynchronous::HyperTransport::new(&Default::default()).unwrap()
    });
    let asynchronous = rt.block_on(
        maxstorage::asynchronous::Client::builder()
            .endpoint(endpoint)
            .credentials(credentials)
            .proxy("http://127.0.0.1:1")
            .transport(Arc::new(transport))
            .build(),
    );
    assert!(matches!(
        asynchronous,
        Err(Error::Config(
            maxstorage::ConfigError::NetworkWithOwnTransport
        ))
    ));
}
