//! What every example starts from: a configured service (`MAXSTORAGE_ENDPOINT`,
//! `MAXSTORAGE_PROJECT`, `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET`, and the table in
//! `MAXSTORAGE_TABLE`), or, with nothing configured, an embedded emulator with a fresh
//! `people(id bigint, name string, score double)` table partitioned by `region string`.

#![allow(dead_code)]

use std::path::PathBuf;

use maxstorage::{Credentials, TableId};

/// A service to run an example against.
pub(crate) struct Service {
    /// The tunnel endpoint.
    pub endpoint: String,
    /// The project.
    pub project: String,
    /// The credentials.
    pub credentials: Credentials,
    /// The table the example uses.
    pub table: TableId,
    emulator: Option<(maxstorage_emulator::Emulator, PathBuf)>,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some((emulator, dir)) = self.emulator.take() {
            emulator.shutdown();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The configured service, or an embedded emulator.
pub(crate) fn service(example: &str) -> Service {
    if let Ok(endpoint) = std::env::var("MAXSTORAGE_ENDPOINT") {
        let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("set {k}"));
        let project = var("MAXSTORAGE_PROJECT");
        let table = std::env::var("MAXSTORAGE_TABLE").unwrap_or_else(|_| "people".into());
        return Service {
            endpoint,
            credentials: Credentials::new(
                var("ALIBABA_CLOUD_ACCESS_KEY_ID"),
                var("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            ),
            table: TableId::new(&project, &table),
            project,
            emulator: None,
        };
    }
    use maxstorage_emulator::store::{ColumnDef, TableDef};
    let dir = std::env::temp_dir().join(format!(
        "maxstorage-example-{example}-{}",
        std::process::id()
    ));
    let emulator = maxstorage_emulator::Emulator::builder()
        .data_dir(&dir)
        .credentials("example-id", "example-secret")
        .start()
        .expect("the embedded emulator starts");
    let mut def = TableDef::new(
        "examples",
        "people",
        vec![
            ColumnDef::new("id", "bigint"),
            ColumnDef::new("name", "string"),
            ColumnDef::new("score", "double"),
        ],
    );
    def.partition_columns = vec![ColumnDef::new("region", "string")];
    maxstorage_emulator::admin::AdminClient::new(emulator.addr())
        .with_credentials("example-id", "example-secret")
        .create_table(&def)
        .expect("the example table is created");
    Service {
        endpoint: emulator.endpoint(),
        project: "examples".into(),
        credentials: Credentials::new("example-id", "example-secret"),
        table: TableId::new("examples", "people"),
        emulator: Some((emulator, dir)),
    }
}

/// Rows `from..to` of the example table: `id`, `name-<id>`, `id / 2`.
pub(crate) fn people(from: i64, to: i64) -> arrow_array::RecordBatch {
    use maxstorage::arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let ids: Vec<i64> = (from..to).collect();
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("name-{i}")),
            )) as ArrayRef,
        ),
        (
            "score",
            Arc::new(Float64Array::from_iter_values(
                ids.iter().map(|i| *i as f64 / 2.0),
            )) as ArrayRef,
        ),
    ])
    .expect("a valid batch")
}

impl Service {
    /// The admin client of the embedded emulator (`None` against a configured service).
    pub(crate) fn admin(&self) -> Option<maxstorage_emulator::admin::AdminClient> {
        self.emulator.as_ref().map(|(e, _)| {
            maxstorage_emulator::admin::AdminClient::new(e.addr())
                .with_credentials("example-id", "example-secret")
        })
    }

    /// A blocking client for this service.
    pub(crate) fn client(&self) -> maxstorage::blocking::Client {
        maxstorage::blocking::Client::builder()
            .endpoint(&self.endpoint)
            .credentials(self.credentials.clone())
            .project(&self.project)
            .build()
            .expect("a client")
    }

    /// Writes `rows` rows into each of the partitions `region=eu` and `region=us`
    /// (replacing what they held), as the write examples show.
    pub(crate) fn fill(&self, rows: i64) {
        let table = self.client().table(self.table.clone());
        for (i, region) in ["eu", "us"].iter().enumerate() {
            let session = table
                .create_write_session(
                    maxstorage::WriteSessionOptions::default()
                        .with_partition_spec(format!("region={region}"))
                        .with_overwrite(true),
                )
                .expect("a write session");
            let mut writer = session
                .stream_writer(
                    maxstorage::StreamRef::new("0", 1),
                    maxstorage::StreamOptions::default().with_exactly_once(true),
                )
                .expect("a stream");
            let first = i as i64 * rows;
            writer.write(&people(first, first + rows)).expect("written");
            writer.finish().expect("finished");
            session.commit().expect("committed");
        }
    }
}
