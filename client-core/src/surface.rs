//! The public surface both clients share, written once. Each macro here expands, in the
//! blocking crate, to plain methods (`table_client!(;)`) and, in the async crate, to
//! `async` ones whose calls are awaited (`table_client!(async; .await)`): the two
//! clients cannot drift apart, and a new operation is added here once. The expansions
//! name the client's own types (`Client`, `Route`, `SplitBatches`, …), which each crate
//! imports where it expands them.

/// The methods of a client that make no call: handles on tables and instances, the
/// configuration, and copies with other defaults — one definition for both clients,
/// whose `Client` has `core` (dereferencing to a [`CallCore`](crate::exchange::CallCore))
/// and `defaults` (a [`Defaults`](crate::settings::Defaults)) fields and whose `TableClient::new` and
/// `InstanceClient::new` take the client and the table or instance.
#[macro_export]
macro_rules! client_handle_methods {
    () => {
        /// Operations on a table.
        pub fn table(&self, table: $crate::reexport::TableId) -> TableClient {
            TableClient::new(self.clone(), table)
        }

        /// Operations on the table `name` names: `table`, `schema.table` or
        /// `project.schema.table`, completed with the client's project and default schema
        /// (`schema`, `MAXSTORAGE_SCHEMA`, or `schema_name` of a config file).
        pub fn table_named(&self, name: &str) -> $crate::Result<TableClient> {
            let table = $crate::table::resolve_table(
                name,
                self.project(),
                self.defaults.schema.as_deref(),
            )?;
            Ok(self.table(table))
        }

        /// Operations on a query result (read-only).
        pub fn instance(&self, instance: $crate::reexport::InstanceId) -> InstanceClient {
            InstanceClient::new(self.clone(), instance)
        }

        /// The configuration requests are made with.
        pub fn config(&self) -> &$crate::reexport::ClientConfig {
            &self.core.config
        }

        /// The project of the client (`curr_project`), if configured.
        pub fn project(&self) -> Option<&str> {
            self.core.config.project.as_deref()
        }

        /// The same client (sharing connections, credentials and the write budget) with
        /// another default compression: what reads, previews, instance reads and blob
        /// transfers ask for, and what stream writers and blob uploads send, unless their
        /// options say otherwise.
        pub fn with_compression(&self, compression: $crate::reexport::Compression) -> Self {
            let mut client = self.clone();
            client.defaults.compression = compression;
            client
        }

        /// The same client telling `listener` about the progress of its reads and writes
        /// (instead of the builder's listener, if any), e.g. a fresh
        /// [`ProgressCounters`]($crate::ProgressCounters) per job.
        pub fn with_progress(
            &self,
            listener: ::std::sync::Arc<dyn $crate::ProgressListener>,
        ) -> Self {
            let mut client = self.clone();
            client.defaults.progress = $crate::progress::ProgressHook::new(listener);
            client
        }
    };
}

/// The table handle, `TableClient`: read sessions and reads, preview, write sessions,
/// blobs. Expanded by each client with `(;)` or `(async; .await)` (see the module docs);
/// `read_all`, which runs workers, is each client's own.
#[macro_export]
macro_rules! table_client {
    ($($async:ident)? ; $($aw:tt)*) => {
        /// Operations on a table. Cheap to clone.
        #[derive(Debug, Clone)]
        pub struct TableClient {
            client: Client,
            calls: TableCalls,
            target: String,
        }

        impl TableClient {
            pub(crate) fn new(client: Client, table: TableId) -> TableClient {
                TableClient {
                    client,
                    target: table.target(),
                    calls: TableCalls { table },
                }
            }

            /// The table.
            pub fn table(&self) -> &TableId {
                &self.calls.table
            }

            /// The same table through a client whose default compression is `compression` (see
            /// [`Client::with_compression`]).
            pub fn with_compression(&self, compression: Compression) -> TableClient {
                TableClient {
                    client: self.client.with_compression(compression),
                    ..self.clone()
                }
            }

            /// Creates a read session and waits (polling `TableGetReadSession` every second, up
            /// to the client's session-ready timeout) until it is ready.
            pub $($async)? fn create_read_session(
                &self,
                options: ReadSessionOptions,
            ) -> Result<TableReadSession> {
                let (call, shape) = self.calls.create_read_session(options);
                let info = self.client.core.call(&call, Route::default())$($aw)*?;
                self.client.core.observe_token(
                    &Route::session(&self.target, &info.session_id),
                    info.route_token.as_deref(),
                );
                let session_id = info.session_id.clone();
                let session = self.calls.read_session(info, shape);
                let wait = SessionReady::new(session, &self.client.defaults);
                let route = Route::session(&self.target, &session_id);
                self.client.core.drive(wait, route)$($aw)*
            }

            /// Re-reads a session (e.g. its status and splits).
            pub $($async)? fn get_read_session(&self, session: &mut TableReadSession) -> Result<()> {
                self.reload_read_session(session, false)$($aw)*
            }

            /// Re-reads a session and extends its lifetime (sessions expire a day after they were
            /// created or last refreshed).
            pub $($async)? fn refresh_read_session(&self, session: &mut TableReadSession) -> Result<()> {
                self.reload_read_session(session, true)$($aw)*
            }

            $($async)? fn reload_read_session(
                &self,
                session: &mut TableReadSession,
                refresh: bool,
            ) -> Result<()> {
                let call = self.calls.get_read_session(session.id(), refresh);
                let route = Route::session(&self.target, session.id());
                let info = self.client.core.call(&call, route)$($aw)*?;
                session.replace_info(info);
                Ok(())
            }

            /// Streams the record batches of a split (index `i` for Size, Parallelism and Bucket
            /// sessions), resuming after a broken connection.
            pub fn read_split(
                &self,
                session: &TableReadSession,
                split_index: i64,
                options: &ReadOptions,
            ) -> SplitBatches {
                self.read_rows(session, RowSelection::split(split_index), options)
            }

            /// Streams the record batches of any selection: a split, a row range of a RowOffset
            /// session, or a row range within a split.
            pub fn read_rows(
                &self,
                session: &TableReadSession,
                selection: RowSelection,
                options: &ReadOptions,
            ) -> SplitBatches {
                SplitBatches::new(
                    self.client.core.clone(),
                    session,
                    selection,
                    options,
                    &self.client.defaults,
                )
            }

            /// The raw Arrow IPC bytes of a selection (see [`RawRowsReader`]); read them with
            /// `maxstorage_codec::read::ArrowStreamReader` or any Arrow IPC stream reader.
            pub $($async)? fn read_rows_stream(
                &self,
                session: &TableReadSession,
                selection: RowSelection,
                options: &ReadOptions,
            ) -> Result<RawRowsReader> {
                let call = self.calls.read_rows(
                    session,
                    selection,
                    options,
                    self.client.defaults.compression,
                );
                let route = Route::session(&self.target, session.id());
                let (head, body) = self.client.core.open(&call, route)$($aw)*?;
                RawRowsReader::new(&head, body)
            }

            /// The first rows of the table, without a session (the service may return fewer than
            /// `limit`), compressed as the client's default asks
            /// ([`Client::with_compression`](crate::Client::with_compression)).
            pub $($async)? fn preview(&self, options: PreviewOptions) -> Result<StreamBatches> {
                let call = self
                    .calls
                    .preview(options, self.client.defaults.compression);
                let (head, body) = self.client.core.open(&call, Route::default())$($aw)*?;
                Ok(StreamBatches::new(DecodingBody::new(
                    &head,
                    body,
                    Default::default(),
                )?))
            }

            /// Creates a write session.
            pub $($async)? fn create_write_session(
                &self,
                options: WriteSessionOptions,
            ) -> Result<WriteSessionHandle> {
                let (mode, partition) = (options.mode, options.partition_spec.clone());
                let call = self.calls.create_write_session(options);
                let info = self.client.core.call(&call, Route::default())$($aw)*?;
                self.client.core.observe_token(
                    &Route::session(&self.target, &info.session_id),
                    info.route_token.as_deref(),
                );
                Ok(self.write_session_handle(info.session_id, mode, partition))
            }

            /// Attaches to an existing write session (e.g. one created by another process), or to
            /// the implicit `default` session of a streaming mode.
            pub $($async)? fn write_session(
                &self,
                session_id: &str,
                mode: WriteMode,
                partition_spec: &str,
            ) -> Result<WriteSessionHandle> {
                if let Some(call) = self.calls.attach_write_session(session_id, mode) {
                    let route = Route::session(&self.target, session_id);
                    self.client.core.call(&call, route)$($aw)*?;
                }
                Ok(self.write_session_handle(session_id.to_string(), mode, partition_spec.to_string()))
            }

            fn write_session_handle(
                &self,
                session_id: String,
                mode: WriteMode,
                partition_spec: String,
            ) -> WriteSessionHandle {
                WriteSessionHandle::new(
                    self.client.clone(),
                    self.calls.table.clone(),
                    session_id,
                    mode,
                    partition_spec,
                )
            }

            /// Downloads blobs by reference, one whole [`crate::Blob`] after another.
            pub $($async)? fn read_blobs(&self, references: Vec<String>) -> Result<BlobReader> {
                Ok(BlobReader::new(self.read_blobs_stream(references)$($aw)*?))
            }

            /// Downloads blobs by reference as a streaming reader that moves from blob to blob.
            pub $($async)? fn read_blobs_stream(&self, references: Vec<String>) -> Result<BlobStreamReader> {
                let count = references.len();
                let compression = self.client.defaults.compression;
                let call = self
                    .calls
                    .read_blobs(self.client.project(), references, compression);
                let (head, body) = self.client.core.open(&call, Route::default())$($aw)*?;
                BlobStreamReader::new(&head, body, count)
            }
        }
    };
}

/// The instance handle, `InstanceClient`: read sessions over a query result and their
/// reads. Expanded like [`table_client!`].
#[macro_export]
macro_rules! instance_client {
    ($($async:ident)? ; $($aw:tt)*) => {
        /// Operations on a query result.
        #[derive(Debug, Clone)]
        pub struct InstanceClient {
            client: Client,
            instance: InstanceId,
        }

        impl InstanceClient {
            pub(crate) fn new(client: Client, instance: InstanceId) -> InstanceClient {
                InstanceClient { client, instance }
            }

            /// The instance.
            pub fn instance(&self) -> &InstanceId {
                &self.instance
            }

            /// Creates a read session over the whole result and waits until it is ready.
            pub $($async)? fn create_read_session(&self) -> Result<InstanceReadSession> {
                self.create_session(false)$($aw)*
            }

            /// Creates a read session over the result as the instance's row limit cuts it (the
            /// project's download limit, e.g. 10,000 rows, as `SELECT` results show) and waits
            /// until it is ready.
            pub $($async)? fn create_limited_read_session(&self) -> Result<InstanceReadSession> {
                self.create_session(true)$($aw)*
            }

            $($async)? fn create_session(&self, enable_limit: bool) -> Result<InstanceReadSession> {
                let call = CreateInstanceReadSession {
                    instance: self.instance.clone(),
                    enable_limit,
                };
                let session = self.client.core.call(&call, Route::default())$($aw)*?;
                let session = InstanceSession {
                    instance: self.instance.clone(),
                    session,
                };
                let wait = SessionReady::new(session, &self.client.defaults);
                Ok(self
                    .client
                    .core
                    .drive(wait, Route::default())
                    $($aw)*?
                    .session)
            }

            /// Re-reads a session.
            pub $($async)? fn get_read_session(&self, session_id: &str) -> Result<InstanceReadSession> {
                let call = GetInstanceReadSession {
                    instance: self.instance.clone(),
                    session_id: session_id.to_string(),
                };
                self.client.core.call(&call, Route::default())$($aw)*
            }

            /// Streams every row of the result (`options`: the columns, the task and query), as
            /// the client's default compression asks.
            pub $($async)? fn read(
                &self,
                session: &InstanceReadSession,
                options: &InstanceReadOptions,
            ) -> Result<StreamBatches> {
                self.read_rows(session, None, options)$($aw)*
            }

            /// Streams the rows `range` of the result.
            pub $($async)? fn read_range(
                &self,
                session: &InstanceReadSession,
                range: RowRange,
                options: &InstanceReadOptions,
            ) -> Result<StreamBatches> {
                self.read_rows(session, Some(range), options)$($aw)*
            }

            $($async)? fn read_rows(
                &self,
                session: &InstanceReadSession,
                range: Option<RowRange>,
                options: &InstanceReadOptions,
            ) -> Result<StreamBatches> {
                let call = InstanceRead {
                    instance: self.instance.clone(),
                    session_id: session.session_id.clone(),
                    range,
                    options: options.clone(),
                    compression: self.client.defaults.compression,
                };
                let (head, body) = self.client.core.open(&call, Route::default())$($aw)*?;
                Ok(StreamBatches::new(DecodingBody::new(
                    &head,
                    body,
                    Default::default(),
                )?))
            }
        }
    };
}
