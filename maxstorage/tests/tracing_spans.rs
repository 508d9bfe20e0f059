//! Every call runs in a `maxstorage.call` span carrying its action, target, session,
//! attempt, request size, status, request id and latency — in both clients.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use maxstorage::prelude::*;

mod common;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

type Spans = Arc<Mutex<BTreeMap<u64, BTreeMap<String, String>>>>;

/// Collects the fields of every `maxstorage.call` span.
struct Collect(Spans);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Collect {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "maxstorage.call" {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().insert(id.into_u64(), fields);
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(fields) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
}

#[test]
fn calls_are_spans_with_their_outcome() {
    let spans: Spans = Arc::default();
    let subscriber = tracing_subscriber::registry()
        .with(Collect(spans.clone()).with_filter(tracing_subscriber::filter::LevelFilter::DEBUG));
    let _guard = tracing::subscriber::set_default(subscriber);

    let local = common::Local::start("spans");
    local.table("t", &[("id", "bigint")]);
    let client = local.client();
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    table.get_read_session(&mut session.clone()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = local.async_client().await;
        client
            .table(TableId::new("p", "t"))
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
    });

    let spans = spans.lock().unwrap();
    let calls: Vec<&BTreeMap<String, String>> = spans.values().collect();
    let creates: Vec<_> = calls
        .iter()
        .filter(|f| f.get("action").map(String::as_str) == Some("TableCreateReadSession"))
        .collect();
    assert_eq!(creates.len(), 2, "one per client: {calls:?}");
    for f in &creates {
        assert_eq!(f.get("status").map(String::as_str), Some("200"), "{f:?}");
        assert_eq!(f.get("attempt").map(String::as_str), Some("1"), "{f:?}");
        assert!(f.get("request_id").is_some_and(|r| !r.is_empty()), "{f:?}");
        assert!(f.get("latency_ms").is_some(), "{f:?}");
        assert!(f.get("request_bytes").is_some(), "{f:?}");
    }
    let get = calls
        .iter()
        .find(|f| f.get("action").map(String::as_str) == Some("TableGetReadSession"))
        .expect("a span for the get");
    assert_eq!(
        get.get("session"),
        Some(&session.id().to_string()),
        "{get:?}"
    );
}
