//! The local emulator the facade's tests run against, and clients of it.

#![allow(dead_code)]

use std::path::PathBuf;

use maxstorage::Credentials;
use maxstorage_emulator::Emulator;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::store::{ColumnDef, TableDef};

/// The project of every test table.
pub(crate) const PROJECT: &str = "p";

/// An emulator on a temporary directory (credentials `id` / `secret`), shut down and
/// removed when dropped.
pub(crate) struct Local {
    emulator: Option<Emulator>,
    /// Its admin client.
    pub admin: AdminClient,
    dir: PathBuf,
}

impl Local {
    /// A fresh emulator; `name` tells the tests' directories apart.
    pub(crate) fn start(name: &str) -> Local {
        let dir = std::env::temp_dir().join(format!("maxstorage-{name}-{}", std::process::id()));
        let emulator = Emulator::builder()
            .data_dir(&dir)
            .credentials("id", "secret")
            .start()
            .unwrap();
        let admin = AdminClient::new(emulator.addr()).with_credentials("id", "secret");
        Local {
            emulator: Some(emulator),
            admin,
            dir,
        }
    }

    /// Creates table `name` of the project with `columns` (name, type).
    pub(crate) fn table(&self, name: &str, columns: &[(&str, &str)]) {
        let columns = columns
            .iter()
            .map(|(n, t)| ColumnDef::new(*n, *t))
            .collect();
        self.admin
            .create_table(&TableDef::new(PROJECT, name, columns))
            .unwrap();
    }

    /// The tunnel endpoint.
    pub(crate) fn endpoint(&self) -> String {
        self.emulator.as_ref().map(Emulator::endpoint).unwrap()
    }

    /// Its address (plain HTTP).
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.emulator.as_ref().map(Emulator::addr).unwrap()
    }

    /// The credentials it accepts.
    pub(crate) fn credentials(&self) -> Credentials {
        Credentials::new("id", "secret")
    }

    /// A blocking client of it.
    pub(crate) fn client(&self) -> maxstorage::blocking::Client {
        maxstorage::blocking::Client::builder()
            .endpoint(self.endpoint())
            .credentials(self.credentials())
            .project(PROJECT)
            .build()
            .unwrap()
    }

    /// An async client of it.
    pub(crate) async fn async_client(&self) -> maxstorage::asynchronous::Client {
        maxstorage::asynchronous::Client::builder()
            .endpoint(self.endpoint())
            .credentials(self.credentials())
            .project(PROJECT)
            .build()
            .await
            .unwrap()
    }
}

impl Local {
    /// Stops serving (the data directory stays until the drop): every request after this
    /// fails to connect.
    pub(crate) fn stop(&mut self) {
        if let Some(e) = self.emulator.take() {
            e.shutdown();
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(e) = self.emulator.take() {
            e.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
