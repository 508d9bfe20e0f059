//! A test environment: an emulator on a temporary directory, its admin client, and the
//! connection settings clients need.

use std::net::SocketAddr;

use arrow_array::RecordBatch;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::fault::FaultSpec;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_emulator::{Emulator, EmulatorBuilder, ReadCompression};
use maxstorage_protocol::{Credentials, TableId};

/// Project every scenario uses.
pub const PROJECT: &str = "conformance";
const ACCESS_ID: &str = "conformance-id";
const ACCESS_KEY: &str = "conformance-key";

/// A running emulator with an admin client.
pub struct TestEnv {
    emulator: Option<Emulator>,
    admin: AdminClient,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv")
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

impl TestEnv {
    /// Starts an emulator on a fresh temporary directory.
    pub fn start() -> TestEnv {
        TestEnv::start_with(ReadCompression::Ipc)
    }

    /// Starts an emulator that answers compressed reads as `mode` says (Arrow IPC buffer
    /// compression, or a whole-body compressed stream with `Content-Encoding`).
    pub fn start_with(mode: ReadCompression) -> TestEnv {
        TestEnv::start_configured(|b| b.read_compression(mode))
    }

    /// Starts an emulator configured by `configure` on a fresh temporary directory, with
    /// the suite's credentials and strict route tokens (a client that sends another
    /// session's token fails).
    pub fn start_configured(configure: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder) -> TestEnv {
        let dir = tempfile::tempdir().expect("temporary directory");
        let emulator = configure(
            Emulator::builder()
                .data_dir(dir.path())
                .credentials(ACCESS_ID, ACCESS_KEY)
                .strict_route_tokens(true),
        )
        .start()
        .expect("emulator starts");
        let admin = AdminClient::new(emulator.addr()).with_credentials(ACCESS_ID, ACCESS_KEY);
        TestEnv {
            emulator: Some(emulator),
            admin,
            _dir: dir,
        }
    }

    /// The emulator's address.
    pub fn addr(&self) -> SocketAddr {
        self.emulator.as_ref().map(Emulator::addr).expect("running")
    }

    /// The tunnel endpoint URL.
    pub fn endpoint(&self) -> String {
        self.emulator
            .as_ref()
            .map(Emulator::endpoint)
            .expect("running")
    }

    /// The credentials the emulator accepts.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(ACCESS_ID, ACCESS_KEY)
    }

    /// The admin client.
    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }

    /// Creates a table and returns its id.
    pub fn create_table(
        &self,
        name: &str,
        columns: &[(&str, &str)],
        partitions: &[(&str, &str)],
    ) -> TableId {
        let mut def = TableDef::new(
            PROJECT,
            name,
            columns
                .iter()
                .map(|(n, t)| ColumnDef::new(*n, *t))
                .collect(),
        );
        def.partition_columns = partitions
            .iter()
            .map(|(n, t)| ColumnDef::new(*n, *t))
            .collect();
        self.admin
            .create_table(&def)
            .unwrap_or_else(|e| panic!("create table {name}: {e}"));
        TableId::new(PROJECT, name)
    }

    /// Creates a table from a full definition.
    pub fn create_table_def(&self, def: &TableDef) -> TableId {
        self.admin
            .create_table(def)
            .unwrap_or_else(|e| panic!("create table {}: {e}", def.name));
        TableId::with_schema(&def.project, &def.schema, &def.name)
    }

    /// Inserts rows through the admin API (bypassing the storage API).
    pub fn insert(&self, table: &TableId, partition: Option<&str>, batches: &[RecordBatch]) {
        self.admin
            .insert(table.project(), table.table(), partition, batches)
            .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }

    /// The committed rows of a table (or partition) through the admin API.
    pub fn dump(&self, table: &TableId, partition: Option<&str>) -> Vec<RecordBatch> {
        self.admin
            .dump(table.project(), table.table(), partition)
            .unwrap_or_else(|e| panic!("dump {table}: {e}"))
    }

    /// Injects a fault.
    pub fn inject(&self, fault: &FaultSpec) {
        self.admin
            .inject_fault(fault)
            .unwrap_or_else(|e| panic!("inject fault: {e}"));
    }

    /// Asserts that every injected fault has fired (none is still armed), so a fault
    /// scenario cannot pass without its fault having happened.
    pub fn assert_faults_fired(&self) {
        let armed = self
            .admin
            .faults()
            .unwrap_or_else(|e| panic!("list faults: {e}"));
        assert!(armed.is_empty(), "faults that never fired: {armed:?}");
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.admin
            .clear_faults()
            .unwrap_or_else(|e| panic!("clear faults: {e}"));
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(e) = self.emulator.take() {
            e.shutdown();
        }
    }
}
