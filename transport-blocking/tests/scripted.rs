//! Blocking-client behaviour against a scripted transport that differs in kind from the
//! async client's: uploads run on threads of their own. The scenarios both clients share
//! (resume, retries, exactly-once recovery, route tokens) run in
//! `conformance/tests/scripted.rs`. No network.

use std::sync::Arc;
use std::time::Duration;

use maxstorage_blocking::{BlobWriteOptions, Client};
use maxstorage_conformance::scripted::{Script, json};
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};
use maxstorage_protocol::{Credentials, TableId};

fn client(script: Arc<Script>) -> Client {
    Client::builder()
        .endpoint("http://127.0.0.1:9")
        .credentials(Credentials::new("ak", "sk"))
        .project("p")
        .transport(script)
        .build()
        .unwrap()
}

#[test]
fn a_dropped_blob_writer_never_completes_its_upload() {
    let script = Arc::new(Script::default());
    script.push(|_| json(200, r#"{"SessionId":"ws4"}"#));
    let client = client(script.clone());
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .unwrap();
    let mut writer = session
        .blob_writer(&StreamRef::new("0", 1), BlobWriteOptions::column(3))
        .unwrap();
    std::io::Write::write_all(&mut writer, b"half of a blob").unwrap();
    drop(writer);
    // The upload thread sees the body end with an error, not a clean end.
    let broken = || script.drops.broken_bodies.lock().unwrap().clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while broken().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the dropped upload's body never failed"
        );
        std::thread::yield_now();
    }
    assert!(
        broken()[0].contains("dropped before finish"),
        "{:?}",
        broken()
    );
    assert!(
        script.actions().iter().all(|a| a != "TableWriteBlob"),
        "no upload completed"
    );
}
