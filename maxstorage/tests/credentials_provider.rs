//! A credentials provider is asked before every request, in both clients: rotating STS
//! tokens reach every write of a long stream, and a provider that starts handing out a
//! wrong secret fails the next request (so it really signs them).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use maxstorage::prelude::*;
use maxstorage::{CredentialsProvider, Result};

mod common;

#[derive(Debug)]
struct Rotating {
    secret: Mutex<String>,
    calls: AtomicU32,
    /// Fail this many of the next calls (a token service briefly down).
    failures: AtomicU32,
}

impl CredentialsProvider for Rotating {
    fn credentials(&self, _now: std::time::SystemTime) -> Result<Credentials> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(maxstorage::ConfigError::Other("token service unavailable".into()).into());
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let secret = self.secret.lock().unwrap().clone();
        Ok(Credentials::new("id", secret).with_security_token(format!("sts-{n}")))
    }
}

#[test]
fn every_request_is_signed_with_what_the_provider_gives_now() {
    let local = common::Local::start("provider");
    local.table("t", &[("id", "bigint")]);
    let provider = Arc::new(Rotating {
        secret: Mutex::new("secret".into()),
        calls: AtomicU32::new(0),
        failures: AtomicU32::new(0),
    });
    let client = Client::builder()
        .endpoint(local.endpoint())
        .project("p")
        .credentials_provider(provider.clone())
        .build()
        .unwrap();
    let table = client.table(TableId::new("p", "t"));

    // A stream of many small bodies: each write asks the provider again.
    let session = table
        .create_write_session(WriteSessionOptions::default())
        .unwrap();
    let before = provider.calls.load(Ordering::SeqCst);
    let options = StreamOptions::default()
        .with_exactly_once(true)
        .with_max_body_bytes(4096);
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), options)
        .unwrap();
    let batch = arrow_array::RecordBatch::try_from_iter(vec![(
        "id",
        Arc::new(arrow_array::Int64Array::from_iter_values(0..20_000)) as arrow_array::ArrayRef,
    )])
    .unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    session.commit().unwrap();
    let asked = provider.calls.load(Ordering::SeqCst) - before;
    assert!(
        asked > 20,
        "the provider was asked {asked} times for a 40-body stream"
    );

    // A wrong secret from now on fails the next request; the right one works again.
    *provider.secret.lock().unwrap() = "wrong".into();
    let err = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap_err();
    assert_eq!(err.service_code(), Some("SignatureNotMatch"), "{err}");
    *provider.secret.lock().unwrap() = "secret".into();
    let read = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    assert_eq!(read.record_count(), 20_000);

    // The async client takes the same provider.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = maxstorage::asynchronous::Client::builder()
            .endpoint(local.endpoint())
            .project("p")
            .credentials_provider(provider.clone())
            .build()
            .await
            .unwrap();
        let before = provider.calls.load(Ordering::SeqCst);
        client
            .table(TableId::new("p", "t"))
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        assert!(provider.calls.load(Ordering::SeqCst) > before);
    });
}
