//! Every call runs in a `maxstorage.call` span carrying its action, target, session,
//! attempt, request size, status, request id and latency — in both clients; the calls of
//! a split read run inside its `maxstorage.split_read` span, those of a stream writer
//! inside its `maxstorage.stream_write` span, both with their rows when done.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use maxstorage::prelude::*;

mod common;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

type Spans = Arc<Mutex<BTreeMap<u64, BTreeMap<String, String>>>>;

/// Collects the fields of every `maxstorage.*` span, with its name (`_name`) and its
/// parent's name (`_parent`).
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

impl<S> Layer<S> for Collect
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if name.starts_with("maxstorage.") {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            fields.insert("_name".into(), name.to_string());
            if let Some(parent) = ctx.span(id).and_then(|s| s.parent()) {
                fields.insert("_parent".into(), parent.name().to_string());
            }
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
    let calls: Vec<&BTreeMap<String, String>> = spans
        .values()
        .filter(|f| f["_name"] == "maxstorage.call")
        .collect();
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

#[test]
fn split_reads_and_stream_writes_are_spans_around_their_calls() {
    let spans: Spans = Arc::default();
    let subscriber = tracing_subscriber::registry()
        .with(Collect(spans.clone()).with_filter(tracing_subscriber::filter::LevelFilter::DEBUG));
    let _guard = tracing::subscriber::set_default(subscriber);

    let local = common::Local::start("split-spans");
    local.table("t", &[("id", "bigint")]);
    let table = local.client().table(TableId::new("p", "t"));
    let session = table
        .create_write_session(WriteSessionOptions::default())
        .unwrap();
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), StreamOptions::default())
        .unwrap();
    let ids = arrow_array::Int64Array::from_iter_values(0..777);
    let batch =
        arrow_array::RecordBatch::try_from_iter([("id", Arc::new(ids) as arrow_array::ArrayRef)])
            .unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    session.commit().unwrap();
    let read = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    let rows: usize = table
        .read_split(&read, 0, &ReadOptions::default())
        .map(|b| b.map(|b| b.num_rows()))
        .sum::<maxstorage::Result<usize>>()
        .unwrap();
    assert_eq!(rows, 777);

    let spans = spans.lock().unwrap();
    let named = |name: &str| -> Vec<&BTreeMap<String, String>> {
        spans.values().filter(|f| f["_name"] == name).collect()
    };
    let writes = named("maxstorage.stream_write");
    assert_eq!(writes.len(), 1, "{spans:?}");
    assert_eq!(writes[0].get("rows").map(String::as_str), Some("777"));
    assert_eq!(writes[0].get("stream").map(String::as_str), Some("0"));
    let reads = named("maxstorage.split_read");
    assert_eq!(reads.len(), 1, "{spans:?}");
    assert_eq!(reads[0].get("rows").map(String::as_str), Some("777"));
    assert_eq!(reads[0].get("session"), Some(&read.id().to_string()));
    let parent_of = |action: &str| {
        named("maxstorage.call")
            .into_iter()
            .find(|f| f.get("action").map(String::as_str) == Some(action))
            .and_then(|f| f.get("_parent").cloned())
    };
    assert_eq!(
        parent_of("TableWrite").as_deref(),
        Some("maxstorage.stream_write")
    );
    assert_eq!(
        parent_of("TableRead").as_deref(),
        Some("maxstorage.split_read")
    );
}

/// The async client's write and parallel read tasks run on other runtime threads: their
/// calls still reach the caller's subscriber, under the stream's and the split's spans.
#[test]
fn async_tasks_keep_the_callers_subscriber_and_spans() {
    let spans: Spans = Arc::default();
    let subscriber = tracing_subscriber::registry()
        .with(Collect(spans.clone()).with_filter(tracing_subscriber::filter::LevelFilter::DEBUG));
    let _guard = tracing::subscriber::set_default(subscriber);

    let local = common::Local::start("async-spans");
    local.table("t", &[("id", "bigint")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let table = local.async_client().await.table(TableId::new("p", "t"));
        let session = table
            .create_write_session(WriteSessionOptions::default())
            .await
            .unwrap();
        let mut writer = session
            .stream_writer(StreamRef::new("0", 1), StreamOptions::default())
            .await
            .unwrap();
        let ids = arrow_array::Int64Array::from_iter_values(0..555);
        let batch = arrow_array::RecordBatch::try_from_iter([(
            "id",
            Arc::new(ids) as arrow_array::ArrayRef,
        )])
        .unwrap();
        writer.write(&batch).await.unwrap();
        writer.finish().await.unwrap();
        session.commit().await.unwrap();
        let read = table
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        let mut rows = 0;
        let mut all = table.read_all(&read, &ReadOptions::default(), 2);
        while let Some(item) = futures_util::StreamExt::next(&mut all).await {
            rows += item.unwrap().1.num_rows();
        }
        assert_eq!(rows, 555);
    });

    let spans = spans.lock().unwrap();
    let parent_of = |action: &str| {
        spans
            .values()
            .find(|f| {
                f["_name"] == "maxstorage.call"
                    && f.get("action").map(String::as_str) == Some(action)
            })
            .and_then(|f| f.get("_parent").cloned())
    };
    assert_eq!(
        parent_of("TableWrite").as_deref(),
        Some("maxstorage.stream_write"),
        "{spans:?}"
    );
    assert_eq!(
        parent_of("TableRead").as_deref(),
        Some("maxstorage.split_read"),
        "{spans:?}"
    );
}
