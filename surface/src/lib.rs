//! The public surface both MaxCompute Storage API clients share, written once: the
//! client and its builder, the table, instance and write-session handles, the stream
//! writer and the call driver. Each macro here expands, in the blocking crate
//! (`maxstorage-blocking`), to plain methods (`table_client!(;)`) and, in the async crate
//! (`maxstorage-async`), to `async` ones whose calls are awaited
//! (`table_client!(async; .await)`): the two clients cannot drift apart, and a new
//! operation is added here once.
//!
//! This is client code — it names the clock, threads and the clients' own types — kept in
//! a crate of its own so that `maxstorage-client-core` stays free of I/O. The expansions
//! name the client's types (`Client`, `Route`, `SplitBatches`, …) and a few functions each
//! client defines (listed on each macro), which each crate imports where it expands them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod read;
mod upload;

/// The client-core crate the expansions name.
#[doc(hidden)]
pub use maxstorage_client_core as core_;

/// The compute pool the expansions encode on.
#[doc(hidden)]
pub use rayon as rayon_;

/// The client, `Client`, and its builder, `ClientBuilder`: configuration, credentials,
/// endpoint discovery, and the handles every operation starts from. Expanded like
/// [`table_client!`](crate::table_client!); the client provides `DefaultTransport` (its HTTP stack, with
/// `with_network(&TransportConfig, &Network)`), `TransportConfig` and `HttpTransport`.
#[macro_export]
macro_rules! client {
    ($($async:ident)? ; $($aw:tt)*) => {
        /// A MaxCompute Storage API client. Cheap to clone; share it across threads and
        /// tasks.
        #[derive(Debug, Clone)]
        pub struct Client {
            pub(crate) core: ::std::sync::Arc<Core>,
            pub(crate) defaults: $crate::core_::settings::Defaults,
        }

        impl Client {
            /// A builder.
            pub fn builder() -> ClientBuilder {
                ClientBuilder::default()
            }

            /// Operations on a table.
            pub fn table(&self, table: $crate::core_::reexport::TableId) -> TableClient {
                TableClient::new(self.clone(), table)
            }

            /// Operations on the table `name` names: `table`, `schema.table` or
            /// `project.schema.table`, completed with the client's project and default schema
            /// (`schema`, `MAXSTORAGE_SCHEMA`, or `schema_name` of a config file).
            pub fn table_named(&self, name: &str) -> $crate::core_::Result<TableClient> {
                let table = $crate::core_::table::resolve_table(
                    name,
                    self.project(),
                    self.defaults.schema.as_deref(),
                )?;
                Ok(self.table(table))
            }

            /// Operations on a query result (read-only).
            pub fn instance(&self, instance: $crate::core_::reexport::InstanceId) -> InstanceClient {
                InstanceClient::new(self.clone(), instance)
            }

            /// The configuration requests are made with.
            pub fn config(&self) -> &$crate::core_::reexport::ClientConfig {
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
            pub fn with_compression(&self, compression: $crate::core_::reexport::Compression) -> Self {
                let mut client = self.clone();
                client.defaults.compression = compression;
                client
            }

            /// The same client telling `listener` about the progress of its reads and writes
            /// (instead of the builder's listener, if any), e.g. a fresh
            /// [`ProgressCounters`]($crate::core_::ProgressCounters) per job.
            pub fn with_progress(
                &self,
                listener: ::std::sync::Arc<dyn $crate::core_::ProgressListener>,
            ) -> Self {
                let mut client = self.clone();
                client.defaults.progress = $crate::core_::progress::ProgressHook::new(listener);
                client
            }
        }

        /// Builds a [`Client`].
        #[derive(Debug, Default)]
        pub struct ClientBuilder {
            settings: $crate::core_::settings::ClientSettings,
            transport_config: TransportConfig,
            transport: Option<::std::sync::Arc<dyn HttpTransport>>,
        }

        impl ClientBuilder {
            $crate::core_::client_settings_methods!(::std::fs::read);

            /// Timeouts and pooling of the default transport.
            pub fn transport_config(mut self, config: TransportConfig) -> Self {
                self.transport_config = config;
                self
            }

            /// Another HTTP stack instead of the default one (ureq in the blocking client,
            /// hyper in the async one). Root certificates and proxies set on the builder
            /// apply to the default transport only: with them, `build` fails.
            pub fn transport(mut self, transport: ::std::sync::Arc<dyn HttpTransport>) -> Self {
                self.transport = Some(transport);
                self
            }

            /// Builds the client, discovering the tunnel endpoint if only a service endpoint
            /// is set.
            pub $($async)? fn build(self) -> $crate::core_::Result<Client> {
                use $crate::core_::settings::EndpointPlan;
                let prepared = self.settings.prepare($crate::core_::settings::Host {
                    now: ::std::time::SystemTime::now(),
                    cores: ::std::thread::available_parallelism().map_or(1, |n| n.get()),
                })?;
                let transport: ::std::sync::Arc<dyn HttpTransport> = match self.transport {
                    Some(_) if prepared.network_explicit => {
                        return Err($crate::core_::ConfigError::NetworkWithOwnTransport.into());
                    }
                    Some(t) => t,
                    None => ::std::sync::Arc::new(DefaultTransport::with_network(
                        &self.transport_config,
                        &prepared.network,
                    )?),
                };
                let tunnel = match &prepared.endpoint {
                    EndpointPlan::Tunnel(endpoint) => endpoint.clone(),
                    EndpointPlan::Discover { service, call } => {
                        let config = prepared.call_core(prepared.config(service.clone()));
                        let core = Core::new(config, transport.clone());
                        let route = Route::default();
                        let (parts, body) = core.fetch(call, route, SendBody::Call) $($aw)* ?;
                        call.parse_with_scheme(&parts, &body, service.scheme())?
                    }
                };
                let shared = prepared.call_core(prepared.tunnel_config(tunnel));
                Ok(Client {
                    core: ::std::sync::Arc::new(Core::new(shared, transport)),
                    defaults: prepared.defaults,
                })
            }
        }
    };
}

/// The table handle, `TableClient`: read sessions and reads, preview, write sessions,
/// blobs. Expanded by each client with `(;)` or `(async; .await)` (see the module docs).
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

            /// Reads every split of the session, `workers` at once (threads in the blocking
            /// client, tasks in the async one); batches arrive in completion order, tagged
            /// with their split's position in [`TableReadSession::splits`].
            pub fn read_all(
                &self,
                session: &TableReadSession,
                options: &ReadOptions,
                workers: usize,
            ) -> ParallelBatches {
                ParallelBatches::start($crate::core_::split::ParallelRead {
                    core: self.client.core.clone(),
                    session: ::std::sync::Arc::new(session.clone()),
                    options: options.clone(),
                    defaults: self.client.defaults.clone(),
                    workers: workers.max(1),
                })
            }

            /// The first rows of the table, without a session (the service may return fewer than
            /// `limit`), compressed as the client's default asks
            /// ([`Client::with_compression`](crate::Client::with_compression)).
            pub $($async)? fn preview(&self, options: PreviewOptions) -> Result<StreamBatches> {
                let call = self
                    .calls
                    .preview(options, self.client.defaults.compression);
                self.client.core.open_batches(&call, Route::default())$($aw)*
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
/// reads. Expanded like [`table_client!`](crate::table_client!).
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
                self.client.core.open_batches(&call, Route::default())$($aw)*
            }
        }
    };
}

/// The write session handle, `WriteSessionHandle`: streams and their writers, raw and
/// blob uploads, commit and abort. Expanded like [`table_client!`](crate::table_client!); each client has its
/// own `StreamWriter::start(handle, opened)` and uploads (see
/// [`uploads!`](crate::uploads!)), which run its pipelines.
#[macro_export]
macro_rules! write_session_handle {
    ($($async:ident)? ; $($aw:tt)*) => {
        /// A write session. Cheap to clone; share it with the threads or tasks that write its
        /// streams.
        #[derive(Debug, Clone)]
        pub struct WriteSessionHandle {
            client: Client,
            core: SessionCore,
        }

        impl WriteSessionHandle {
            pub(crate) fn new(
                client: Client,
                table: TableId,
                session_id: String,
                mode: WriteMode,
                partition_spec: String,
            ) -> WriteSessionHandle {
                WriteSessionHandle {
                    client,
                    core: SessionCore::new(table, session_id, mode, partition_spec),
                }
            }

            /// The session id.
            pub fn id(&self) -> &str {
                self.core.id()
            }

            /// The write mode.
            pub fn mode(&self) -> WriteMode {
                self.core.mode()
            }

            /// The same handle sending `token` as the route token on every call instead of the one
            /// learned from the service.
            pub fn with_route_token(mut self, token: impl Into<String>) -> WriteSessionHandle {
                self.core.route_override = Some(token.into());
                self
            }

            fn route(&self) -> Route<'_> {
                self.core.route()
            }

            fn state(&self) -> Result<std::sync::MutexGuard<'_, WriteSession>> {
                self.core.state()
            }

            /// Creates a stream (or replaces it with a higher version) and returns its state as the
            /// service reports it.
            pub $($async)? fn create_stream(
                &self,
                stream: &StreamRef,
                kind: StreamKind,
            ) -> Result<WriteStreamInfo> {
                let registration = self.state()?.register_stream(stream)?;
                let call = self.core.calls.create_stream(stream, kind);
                let created = self.client.core.call(&call, self.route())$($aw)*;
                self.core.settle_stream(registration, &created)?;
                created
            }

            /// Creates a stream and returns a writer of Arrow record batches for it.
            pub $($async)? fn stream_writer(
                &self,
                stream: StreamRef,
                options: StreamOptions,
            ) -> Result<StreamWriter> {
                let info = self.create_stream(&stream, options.kind())$($aw)*?;
                let machine = self.core.calls.stream_machine(stream, options.kind());
                let opened = open_stream(
                    machine,
                    &info,
                    &self.core.partition_spec,
                    &options,
                    &self.client.defaults,
                )?;
                Ok(StreamWriter::start(self.clone(), opened))
            }

            /// Closes a stream created with [`create_stream`](Self::create_stream) (streams of
            /// [`StreamWriter`]s are closed by [`StreamWriter::finish`]).
            pub $($async)? fn close_stream(&self, stream: &StreamRef) -> Result<()> {
                let call = self.core.calls.close_stream(stream);
                self.client.core.call(&call, self.route())$($aw)*?;
                self.state()?.stream_closed(stream)?;
                Ok(())
            }

            /// A writer of raw Arrow IPC bytes (a complete stream with `record_count` rows) for one
            /// `TableWrite` request on a plain stream; [`RawRowsWriter::finish`] returns the
            /// service's answer.
            pub fn raw_writer(&self, stream: &StreamRef, record_count: i64) -> Result<RawRowsWriter> {
                self.start_raw_writer(stream, record_count, None)
            }

            /// A writer of raw Arrow IPC bytes for one exactly-once `TableWrite` at `position` (the
            /// row offset of its first row and the stream's access token).
            pub fn raw_writer_at(
                &self,
                stream: &StreamRef,
                record_count: i64,
                position: WritePosition,
            ) -> Result<RawRowsWriter> {
                self.start_raw_writer(stream, record_count, Some(position))
            }

            /// One `TableWrite` whose body is streamed from what the caller writes.
            fn start_raw_writer(
                &self,
                stream: &StreamRef,
                record_count: i64,
                position: Option<WritePosition>,
            ) -> Result<RawRowsWriter> {
                self.state()?.check_writable("write")?;
                let call = self.core.calls.raw_write(stream, record_count, position);
                RawRowsWriter::start(self.clone(), call)
            }

            /// Sends `call` on the session's route with a streamed request body (an
            /// upload's request).
            pub(crate) $($async)? fn call_streamed<C: $crate::core_::reexport::Call>(
                &self,
                call: &C,
                body: SendBody,
            ) -> Result<C::Output> {
                self.client.core.call_with_body(call, self.route(), body) $($aw)*
            }

            /// Commits every closed stream. Refused while a stream is open.
            pub $($async)? fn commit(&self) -> Result<WriteSessionInfo> {
                let call = self.state()?.commit_call()?;
                self.send_commit(call)$($aw)*
            }

            /// Commits exactly the streams of this handle, named by id and version (as
            /// transactional tables need). Refused while a stream is open.
            pub $($async)? fn commit_listing_streams(&self) -> Result<WriteSessionInfo> {
                let call = self.state()?.commit_listing_streams_call()?;
                self.send_commit(call)$($aw)*
            }

            /// Commits exactly these streams (ids and versions), e.g. streams written by other
            /// processes.
            pub $($async)? fn commit_streams(&self, streams: Vec<StreamRef>) -> Result<WriteSessionInfo> {
                let call = self.state()?.commit_streams_call(streams)?;
                self.send_commit(call)$($aw)*
            }

            /// Sends a commit; if it fails, asks the service whether an attempt whose answer was
            /// lost committed anyway (the session's state machine decides what the answers mean).
            $($async)? fn send_commit(&self, call: CommitWriteSession) -> Result<WriteSessionInfo> {
                let commit = CommitSettle::new(&self.core, call);
                self.client.core.drive(commit, self.route())$($aw)*
            }

            /// Aborts the session: nothing written in it becomes visible.
            pub $($async)? fn abort(&self) -> Result<()> {
                let call = self.state()?.abort_call()?;
                self.client.core.call(&call, self.route())$($aw)*?;
                self.state()?.on_aborted();
                Ok(())
            }

            /// The session's streams and status as the service reports them.
            pub $($async)? fn status(&self) -> Result<WriteSessionInfo> {
                let call = self.core.calls.get_session();
                self.client.core.call(&call, self.route())$($aw)*
            }

            /// A stream's state as the service reports it (in exactly-once mode: its row offset
            /// and access token).
            pub $($async)? fn stream_status(
                &self,
                stream: &StreamRef,
                kind: StreamKind,
            ) -> Result<WriteStreamInfo> {
                let call = self.core.calls.get_stream(stream, kind);
                self.client.core.call(&call, self.route())$($aw)*
            }

            /// Starts a streaming upload of one blob for `stream`; write its bytes and call
            /// [`BlobWriter::finish`].
            pub fn blob_writer(&self, stream: &StreamRef, options: BlobWriteOptions) -> Result<BlobWriter> {
                self.state()?.check_writable("blob upload")?;
                let call = self.core.calls.write_blob(
                    stream,
                    options.partition_values,
                    options.column_index,
                    options
                        .compression
                        .unwrap_or(self.client.defaults.compression),
                );
                BlobWriter::start(self.clone(), call)
            }

            /// Uploads several blobs in one request (each with its own checksum), the body
            /// compressed with `compression` (`Compression::Uncompressed` sends it as is); the
            /// references come back in item order.
            pub $($async)? fn write_blob_batch(
                &self,
                stream: &StreamRef,
                items: &[BlobItem],
                compression: Compression,
            ) -> Result<WriteBlobBatchResult> {
                self.state()?.check_writable("blob upload")?;
                let v3 = self.client.core.config.endpoint.api_version() == ApiVersion::V3;
                let (call, body) = self
                    .core
                    .calls
                    .write_blob_batch(stream, items, v3, compression)?;
                self.client
                    .core
                    .call_with_body(&call, Route::default(), SendBody::Bytes(body))
                    $($aw)*
            }
        }
    };
}

/// A client's `Core` (the [`CallCore`](maxstorage_client_core::exchange::CallCore) and the transport) and
/// its one driver of operations (`drive`) with the call helpers on top of `exchange` (one
/// call with its attempts), and its `StreamBatches` / `DecodingBody`. Expanded like
/// [`table_client!`](crate::table_client!); the client provides `Instant` (its clock),
/// `sleep(Duration)`, `read_bounded(body, limit)`, `SendStream` (what a streamed request
/// body is) and `in_span(span, f)`, which runs what `f` makes (a call, or a future it
/// awaits) inside `span`.
#[macro_export]
macro_rules! call_driver {
    ($($async:ident)? ; $($aw:tt)*) => {
        /// What every request needs: configuration, retry policy and route tokens (shared
        /// by both clients), and the transport.
        #[derive(Debug)]
        pub(crate) struct Core {
            shared: $crate::core_::exchange::CallCore,
            pub transport: ::std::sync::Arc<dyn HttpTransport>,
        }

        impl ::std::ops::Deref for Core {
            type Target = $crate::core_::exchange::CallCore;

            fn deref(&self) -> &$crate::core_::exchange::CallCore {
                &self.shared
            }
        }

        impl Core {
            pub(crate) fn new(
                shared: $crate::core_::exchange::CallCore,
                transport: ::std::sync::Arc<dyn HttpTransport>,
            ) -> Core {
                Core { shared, transport }
            }

            /// Runs an operation of several calls and waits to its end: this client's one
            /// driver of [`Operation`]($crate::core_::operation::Operation)s (calls on `route`,
            /// waits with this client's `sleep`).
            pub(crate) $($async)? fn drive<O: $crate::core_::operation::Operation>(
                &self,
                mut op: O,
                route: Route<'_>,
            ) -> $crate::core_::Result<O::Output> {
                use $crate::core_::operation::Step;
                let started = Instant::now();
                let mut answer = None;
                loop {
                    match op.next(started.elapsed(), answer.take())? {
                        Step::Call(call) => answer = Some(self.call(&call, route) $($aw)*),
                        Step::CallWithBody(call, body) => {
                            let body = SendBody::Chunks(body);
                            answer = Some(self.call_with_body(&call, route, body) $($aw)*);
                        }
                        Step::Sleep(delay) => sleep(delay) $($aw)*,
                        Step::Done(output) => return Ok(output),
                    }
                }
            }

            /// One exchange with retries: makes the call's attempts and runs them in their
            /// span (the client's `in_span`); a success head and its unread body, or the
            /// error.
            $($async)? fn exchange<C: $crate::core_::reexport::Call>(
                &self,
                call: &C,
                route: Route<'_>,
                body: SendBody,
            ) -> $crate::core_::Result<($crate::core_::reexport::http::response::Parts, ResponseBody)> {
                let mut attempts = $crate::core_::exchange::Attempts::new(call, body);
                let span = attempts.span().clone();
                let (attempts, route) = (&mut attempts, &route);
                in_span(span, move || self.attempt(attempts, call, route)) $($aw)*
            }

            /// The attempts of one call, to its end: send each request the attempts give,
            /// wait as they say, and return a success head with its unread body, or the
            /// error.
            $($async)? fn attempt<C: $crate::core_::reexport::Call>(
                &self,
                attempts: &mut $crate::core_::exchange::Attempts<SendStream>,
                call: &C,
                route: &Route<'_>,
            ) -> $crate::core_::Result<($crate::core_::reexport::http::response::Parts, ResponseBody)> {
                use $crate::core_::exchange::Attempt;
                loop {
                    let now = ::std::time::SystemTime::now();
                    let request = match attempts.next(&self.shared, call, route, now)? {
                        Attempt::Send(request) => *request,
                        Attempt::Wait(delay) => {
                            sleep(delay) $($aw)*;
                            continue;
                        }
                    };
                    let started = ::std::time::Instant::now();
                    match self.transport.send(request) $($aw)* {
                        Ok(response) => {
                            let (parts, body) = response.into_parts();
                            if attempts.on_answer(&self.shared, route, &parts, started.elapsed()) {
                                return Ok((parts, body));
                            }
                            // The error body is best effort: a broken one still yields the status.
                            let limit = $crate::core_::exchange::MAX_ERROR_BODY;
                            let buf = read_bounded(body, limit) $($aw)* .unwrap_or_default();
                            let now = ::std::time::SystemTime::now();
                            attempts.on_error_answer(&self.shared, call, &parts, &buf, now)?;
                        }
                        Err(e) => attempts.on_transport_error(&self.shared, call, e)?,
                    }
                }
            }

            /// Sends a call with a complete (JSON) answer and parses it.
            pub(crate) $($async)? fn call<C: $crate::core_::reexport::Call>(
                &self,
                call: &C,
                route: Route<'_>,
            ) -> $crate::core_::Result<C::Output> {
                self.call_with_body(call, route, SendBody::Call) $($aw)*
            }

            /// Sends a call with an explicit request body and parses its complete answer.
            pub(crate) $($async)? fn call_with_body<C: $crate::core_::reexport::Call>(
                &self,
                call: &C,
                route: Route<'_>,
                body: SendBody,
            ) -> $crate::core_::Result<C::Output> {
                let (parts, buf) = self.fetch(call, route, body) $($aw)* ?;
                Ok(call.parse(&parts, &buf)?)
            }

            /// Sends a call and reads its complete (bounded) answer without parsing it.
            pub(crate) $($async)? fn fetch<C: $crate::core_::reexport::Call>(
                &self,
                call: &C,
                route: Route<'_>,
                body: SendBody,
            ) -> $crate::core_::Result<($crate::core_::reexport::http::response::Parts, Vec<u8>)> {
                let (parts, response) = self.exchange(call, route, body) $($aw)* ?;
                let action = call.action();
                let buf = read_bounded(response, $crate::core_::exchange::MAX_JSON_BODY + 1) $($aw)*
                    .map_err(|e| $crate::core_::Error::io(format!("reading the {action} answer"), e))?;
                $crate::core_::exchange::check_answer_size(action, buf.len())?;
                Ok((parts, buf))
            }

            /// Sends a call whose answer body is an Arrow IPC stream and returns its batches.
            pub(crate) $($async)? fn open_batches<
                C: $crate::core_::reexport::Call<Output = $crate::core_::reexport::StreamingResponse>,
            >(
                &self,
                call: &C,
                route: Route<'_>,
            ) -> $crate::core_::Result<StreamBatches> {
                let (head, body) = self.open(call, route) $($aw)* ?;
                Ok(StreamBatches::new(DecodingBody::new(&head, body, Default::default())?))
            }

            /// Sends a call whose answer body is a stream and returns the head and the body.
            pub(crate) $($async)? fn open<
                C: $crate::core_::reexport::Call<Output = $crate::core_::reexport::StreamingResponse>,
            >(
                &self,
                call: &C,
                route: Route<'_>,
            ) -> $crate::core_::Result<($crate::core_::reexport::StreamingResponse, ResponseBody)> {
                let (parts, body) = self.exchange(call, route, SendBody::Call) $($aw)* ?;
                let head = call.parse(&parts, &[])?;
                Ok((head, body))
            }
        }
    };
}

/// The stream writer, `StreamWriter`, and the pieces of its pipeline: batches are encoded
/// (compressed slices on the client's pool, placed into bodies in order) while the
/// previous body is on the wire with its `Sender`. Expanded like
/// [`table_client!`](crate::table_client!); slices are encoded on rayon's pool, and the
/// client provides the one-message channel their messages arrive on (`arrival()`, its
/// receiving end `Arrival`, `try_arrived`, `arrived`), and how a body is sent in the background and waited for (`Sending`,
/// `send_in_background`, `sent`, and `Sender::send`, which runs `Sender::send_body` in the
/// sender's span).
#[macro_export]
macro_rules! stream_writer {
    ($($async:ident)? ; $($aw:tt)*) => {
        /// Writes Arrow record batches to one stream. Batches are checked against the
        /// stream's schema, encoded (with IPC buffer compression) and sent in bodies of up
        /// to `max_body_bytes`; in exactly-once mode every body is sent with its row offset
        /// and is re-sent identically after a failure, so each row is written exactly once.
        ///
        /// Bodies are pipelined: while one body is on the wire (on a thread or task of its
        /// own), the next is encoded and compressed by the caller. At most one body is in
        /// flight and one being built, in order; a failed body fails the next call
        /// ([`write`](Self::write), [`flush`](Self::flush) or [`finish`](Self::finish)),
        /// and nothing after it is sent.
        pub struct StreamWriter {
            session: WriteSessionHandle,
            stream: $crate::core_::reexport::StreamRef,
            sender: SenderSlot,
            /// Rows acknowledged as of the last body that came back.
            rows_acked: i64,
            encoder: $crate::core_::reexport::ArrowStreamEncoder,
            /// Slices being compressed on the client's pool, oldest first, when the stream
            /// encodes on several threads.
            parallel: Option<(
                $crate::core_::write::ParallelEncoding,
                ::std::collections::VecDeque<(usize, Arrival)>,
            )>,
            /// This writer's share of the client's body memory.
            budget: $crate::core_::write::BudgetShare,
            /// Slices of written batches not yet handed to the pool (kept here, not on a
            /// call's future, so a cancelled write loses none).
            backlog: ::std::collections::VecDeque<$crate::core_::reexport::RecordBatch>,
            /// Why the writer can no longer be used: an earlier call failed.
            broken: Option<String>,
            schema: $crate::core_::reexport::SchemaRef,
        }

        /// What sends a stream's bodies: its exactly-once state machine and the last
        /// answer. It moves to the sending thread or task while a body is in flight.
        struct Sender {
            machine: $crate::core_::reexport::WriteStream,
            last: Option<$crate::core_::reexport::WriteRowsResult>,
            progress: $crate::core_::progress::ProgressHook,
            /// `maxstorage.stream_write`.
            span: ::tracing::Span,
        }

        impl Sender {
            /// Sends one body, retrying and resynchronising as the exactly-once machine
            /// says. The client's `Sender::send` runs this in the sender's span.
            $($async)? fn send_body(
                &mut self,
                session: &WriteSessionHandle,
                body: $crate::core_::reexport::EncodedBody,
            ) -> $crate::core_::Result<()> {
                let rows = body.rows() as i64;
                let write = $crate::core_::write::BodySend::new(
                    &mut self.machine,
                    body.into_chunks(),
                    rows,
                    &self.progress,
                )?;
                if let Some(result) = session.client.core.drive(write, session.route()) $($aw)* ? {
                    self.last = Some(result);
                }
                Ok(())
            }
        }

        /// Encodes `slice` on the client's compute pool (not a runtime's workers or its
        /// blocking pool); its message arrives on the client's one-message channel.
        fn encode_on_pool(
            encoders: ::std::sync::Arc<$crate::core_::write::MessageEncoders>,
            slice: $crate::core_::reexport::RecordBatch,
        ) -> Arrival {
            let (done, arrives) = arrival();
            $crate::rayon_::spawn_fifo(move || {
                // The writer may be gone (dropped mid-stream): nobody to tell.
                let _ = done.send(encoders.encode(&slice));
            });
            arrives
        }

        /// Where the [`Sender`] is.
        enum SenderSlot {
            /// Here, no body in flight.
            Idle(Box<Sender>),
            /// Sending a body; it comes back with the outcome.
            Busy(Sending),
            /// Lost: the sending thread or task panicked or was cancelled.
            Lost,
        }

        impl ::std::fmt::Debug for StreamWriter {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("StreamWriter")
                    .field("stream", &self.stream)
                    .field("rows_written", &self.rows_acked)
                    .finish_non_exhaustive()
            }
        }

        impl StreamWriter {
            /// A writer for the stream `opened` describes, in the session `session`.
            fn start(
                session: WriteSessionHandle,
                opened: $crate::core_::write::OpenedStream,
            ) -> StreamWriter {
                StreamWriter {
                    session,
                    stream: opened.machine.stream().clone(),
                    rows_acked: opened.machine.rows_written(),
                    sender: SenderSlot::Idle(Box::new(Sender {
                        machine: opened.machine,
                        last: None,
                        progress: opened.progress,
                        span: opened.span,
                    })),
                    encoder: opened.encoder,
                    // A writer made on a pool thread encodes on it: waiting there for the
                    // pool could wait forever.
                    parallel: opened
                        .parallel
                        .filter(|_| $crate::rayon_::current_thread_index().is_none())
                        .map(|p| (p, ::std::collections::VecDeque::new())),
                    budget: opened.budget,
                    backlog: ::std::collections::VecDeque::new(),
                    broken: None,
                    schema: opened.schema,
                }
            }

            /// The Arrow schema batches must have.
            pub fn schema(&self) -> &$crate::core_::reexport::SchemaRef {
                &self.schema
            }

            /// The stream.
            pub fn stream(&self) -> &$crate::core_::reexport::StreamRef {
                &self.stream
            }

            /// Rows acknowledged by the service so far (as of the last body that came
            /// back; a body still in flight is not counted).
            pub fn rows_written(&self) -> i64 {
                self.rows_acked
            }

            /// Writes a batch; a body is handed to the sender whenever it is full.
            /// Compressed batches are encoded on the client's pool while this returns (see
            /// [`StreamOptions::encoding_threads`]($crate::core_::StreamOptions::encoding_threads)).
            ///
            /// In the async client, cancel-safe: the batch is taken as soon as the future is
            /// first polled. If it is dropped after that, the batch is still written — by
            /// the next `write`, `flush` or `finish` — exactly once; do not write it again.
            pub $($async)? fn write(&mut self, batch: &$crate::core_::reexport::RecordBatch) -> $crate::core_::Result<()> {
                self.usable()?;
                let result = self.write_batch(batch) $($aw)*;
                self.settled(result)
            }

            /// Fails if an earlier call broke the writer.
            fn usable(&self) -> $crate::core_::Result<()> {
                match &self.broken {
                    Some(reason) => Err($crate::core_::write::broken_writer(reason)),
                    None => Ok(()),
                }
            }

            /// Records how a call ended: usable again, or broken by its error.
            fn settled(&mut self, result: $crate::core_::Result<()>) -> $crate::core_::Result<()> {
                if let Err(e) = &result {
                    self.broken = Some(format!("an earlier call failed: {e}"));
                }
                result
            }

            $($async)? fn write_batch(&mut self, batch: &$crate::core_::reexport::RecordBatch) -> $crate::core_::Result<()> {
                self.encoder.set_target_body_bytes(self.budget.body_bytes());
                if self.parallel.is_none() {
                    self.encoder.write(batch)?;
                    return self.dispatch_full() $($aw)*;
                }
                // Taken whole before the first wait: a cancelled write loses none of it.
                let slices = self.encoder.slices(batch)?;
                self.backlog.extend(slices);
                self.encode_backlog() $($aw)* ?;
                self.place_encoded(false) $($aw)*
            }

            /// Hands the slices waiting in the backlog to the pool, in order, as room
            /// frees up.
            $($async)? fn encode_backlog(&mut self) -> $crate::core_::Result<()> {
                while !self.backlog.is_empty() {
                    while self
                        .parallel
                        .as_ref()
                        .is_some_and(|(p, q)| q.len() >= p.max_in_flight)
                    {
                        self.place_encoded(true) $($aw)* ?;
                    }
                    let Some((p, queue)) = &mut self.parallel else {
                        return Err($crate::core_::Error::Internal(
                            "slices wait for a pool this writer does not use",
                        ));
                    };
                    let Some(slice) = self.backlog.pop_front() else {
                        break;
                    };
                    let rows = slice.num_rows();
                    queue.push_back((rows, encode_on_pool(p.encoders.clone(), slice)));
                }
                Ok(())
            }

            /// Places the messages the pool has finished, in order, into bodies (waiting
            /// for the oldest one first if `wait`), and hands full bodies on.
            $($async)? fn place_encoded(&mut self, wait: bool) -> $crate::core_::Result<()> {
                if let Some((_, queue)) = &mut self.parallel {
                    let mut wait = wait;
                    while let Some((rows, arrives)) = queue.front_mut() {
                        let message = if wait {
                            arrived(arrives) $($aw)*
                        } else {
                            match try_arrived(arrives) {
                                Some(message) => message,
                                None => break,
                            }
                        };
                        let message = message.ok_or($crate::core_::Error::Internal(
                            "a batch handed to the encoding pool never came back",
                        ))??;
                        self.encoder.push_message(message, *rows);
                        queue.pop_front();
                        wait = false;
                    }
                }
                self.dispatch_full() $($aw)*
            }

            /// Hands every full body to the sender. Cancel-safe: a body leaves the encoder
            /// only once the previous one is acknowledged, and is handed over at once.
            $($async)? fn dispatch_full(&mut self) -> $crate::core_::Result<()> {
                while self.encoder.has_full_body() {
                    self.settle() $($aw)* ?;
                    if let Some(body) = self.encoder.next_body() {
                        self.hand_over(body)?;
                    }
                }
                Ok(())
            }

            /// Sends what is buffered and waits until every body is acknowledged. In the
            /// async client, cancel-safe: a dropped flush loses nothing; the next call
            /// carries on.
            pub $($async)? fn flush(&mut self) -> $crate::core_::Result<()> {
                self.usable()?;
                let result = self.flush_all() $($aw)*;
                self.settled(result)
            }

            $($async)? fn flush_all(&mut self) -> $crate::core_::Result<()> {
                self.encode_backlog() $($aw)* ?;
                while self.parallel.as_ref().is_some_and(|(_, q)| !q.is_empty()) {
                    self.place_encoded(true) $($aw)* ?;
                }
                loop {
                    self.settle() $($aw)* ?;
                    match self.encoder.flush() {
                        Some(body) => self.hand_over(body)?,
                        None => return Ok(()),
                    }
                }
            }

            /// Flushes and closes the stream (streams of the implicit `default` session are
            /// not closed). The session still has to be committed (Batch modes).
            pub $($async)? fn finish(mut self) -> $crate::core_::Result<$crate::core_::StreamSummary> {
                self.flush() $($aw)* ?;
                let session = self.session.clone();
                let sender = self.settle() $($aw)* ?;
                if let Some(close) = sender.machine.close_call()? {
                    session.client.core.call(&close, session.route()) $($aw)* ?;
                    sender.machine.on_closed();
                    session.state()?.stream_closed(sender.machine.stream())?;
                }
                sender.span.record("rows", sender.machine.rows_written());
                Ok($crate::core_::StreamSummary {
                    stream: sender.machine.stream().clone(),
                    rows: sender.machine.rows_written(),
                    last_result: sender.last.take(),
                })
            }

            /// Waits for the body in flight, if any; the sender, or the error that body
            /// ended with.
            $($async)? fn settle(&mut self) -> $crate::core_::Result<&mut Sender> {
                let mut outcome = Ok(());
                // Waited for in place: if an async caller drops this future, the task stays
                // in the slot and is cancelled with the writer.
                if let SenderSlot::Busy(sending) = &mut self.sender {
                    self.sender = match sent(sending) $($aw)* {
                        Some((sender, result)) => {
                            self.rows_acked = sender.machine.rows_written();
                            outcome = result;
                            SenderSlot::Idle(sender)
                        }
                        None => SenderSlot::Lost,
                    };
                }
                outcome?;
                match &mut self.sender {
                    SenderSlot::Idle(sender) => Ok(sender),
                    _ => Err($crate::core_::IntegrityError::SenderLost.into()),
                }
            }

            /// Hands `body` to the sender in the background; the previous body must be
            /// acknowledged (`settle`).
            fn hand_over(&mut self, body: $crate::core_::reexport::EncodedBody) -> $crate::core_::Result<()> {
                self.session.state()?.check_writable("write")?;
                let SenderSlot::Idle(sender) =
                    ::std::mem::replace(&mut self.sender, SenderSlot::Lost)
                else {
                    return Err($crate::core_::Error::Internal(
                        "the stream's sender is still busy or gone",
                    ));
                };
                // If it cannot be started, the sender is lost: the writer then fails every
                // call (its stream is never closed, so it cannot be committed).
                self.sender = SenderSlot::Busy(send_in_background(
                    sender,
                    self.session.clone(),
                    body,
                )?);
                Ok(())
            }
        }
    };
}
