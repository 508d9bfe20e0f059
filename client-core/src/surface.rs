//! The public surface both clients share, written once. Each macro here expands, in the
//! blocking crate, to plain methods (`table_client!(;)`) and, in the async crate, to
//! `async` ones whose calls are awaited (`table_client!(async; .await)`): the two
//! clients cannot drift apart, and a new operation is added here once. The expansions
//! name the client's own types (`Client`, `Route`, `SplitBatches`, …), which each crate
//! imports where it expands them.

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
            pub(crate) defaults: $crate::settings::Defaults,
        }

        impl Client {
            /// A builder.
            pub fn builder() -> ClientBuilder {
                ClientBuilder::default()
            }

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
        }

        /// Builds a [`Client`].
        #[derive(Debug, Default)]
        pub struct ClientBuilder {
            settings: $crate::settings::ClientSettings,
            transport_config: TransportConfig,
            transport: Option<::std::sync::Arc<dyn HttpTransport>>,
        }

        impl ClientBuilder {
            $crate::client_settings_methods!(::std::fs::read);

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
            pub $($async)? fn build(self) -> $crate::Result<Client> {
                use $crate::settings::EndpointPlan;
                let prepared = self.settings.prepare($crate::settings::Host {
                    now: ::std::time::SystemTime::now(),
                    cores: ::std::thread::available_parallelism().map_or(1, |n| n.get()),
                })?;
                let transport: ::std::sync::Arc<dyn HttpTransport> = match self.transport {
                    Some(_) if prepared.network_explicit => {
                        return Err($crate::ConfigError::NetworkWithOwnTransport.into());
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
                ParallelBatches::start(
                    self.client.core.clone(),
                    ::std::sync::Arc::new(session.clone()),
                    options.clone(),
                    self.client.defaults.clone(),
                    workers,
                )
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

/// The write session handle, `WriteSessionHandle`: streams and their writers, raw and
/// blob uploads, commit and abort. Expanded like [`table_client!`](crate::table_client!); each client has its
/// own `StreamWriter::start(handle, opened)` and `start_raw_writer`, which run its
/// pipelines.
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
                BlobWriter::start(
                    self.client.clone(),
                    call,
                    self.core.target.clone(),
                    self.core.route_override.clone(),
                )
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

/// A client's `Core` (the [`CallCore`](crate::exchange::CallCore) and the transport) and
/// its one driver of operations (`drive`) with the call helpers on top of its own
/// `exchange` (one call with its attempts). Expanded like [`table_client!`](crate::table_client!); the client
/// provides `Instant` (its clock), `sleep(Duration)`, `read_bounded(body, limit)` and
/// `exchange(call, route, body)`.
#[macro_export]
macro_rules! call_driver {
    ($($async:ident)? ; $($aw:tt)*) => {
        /// What every request needs: configuration, retry policy and route tokens (shared
        /// by both clients), and the transport.
        #[derive(Debug)]
        pub(crate) struct Core {
            shared: $crate::exchange::CallCore,
            pub transport: ::std::sync::Arc<dyn HttpTransport>,
        }

        impl ::std::ops::Deref for Core {
            type Target = $crate::exchange::CallCore;

            fn deref(&self) -> &$crate::exchange::CallCore {
                &self.shared
            }
        }

        impl Core {
            pub(crate) fn new(
                shared: $crate::exchange::CallCore,
                transport: ::std::sync::Arc<dyn HttpTransport>,
            ) -> Core {
                Core { shared, transport }
            }

            /// Runs an operation of several calls and waits to its end: this client's one
            /// driver of [`Operation`]($crate::operation::Operation)s (calls on `route`,
            /// waits with this client's `sleep`).
            pub(crate) $($async)? fn drive<O: $crate::operation::Operation>(
                &self,
                mut op: O,
                route: Route<'_>,
            ) -> $crate::Result<O::Output> {
                use $crate::operation::Step;
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

            /// Sends a call with a complete (JSON) answer and parses it.
            pub(crate) $($async)? fn call<C: $crate::reexport::Call>(
                &self,
                call: &C,
                route: Route<'_>,
            ) -> $crate::Result<C::Output> {
                self.call_with_body(call, route, SendBody::Call) $($aw)*
            }

            /// Sends a call with an explicit request body and parses its complete answer.
            pub(crate) $($async)? fn call_with_body<C: $crate::reexport::Call>(
                &self,
                call: &C,
                route: Route<'_>,
                body: SendBody,
            ) -> $crate::Result<C::Output> {
                let (parts, buf) = self.fetch(call, route, body) $($aw)* ?;
                Ok(call.parse(&parts, &buf)?)
            }

            /// Sends a call and reads its complete (bounded) answer without parsing it.
            pub(crate) $($async)? fn fetch<C: $crate::reexport::Call>(
                &self,
                call: &C,
                route: Route<'_>,
                body: SendBody,
            ) -> $crate::Result<($crate::reexport::http::response::Parts, Vec<u8>)> {
                let (parts, response) = self.exchange(call, route, body) $($aw)* ?;
                let action = call.action();
                let buf = read_bounded(response, $crate::exchange::MAX_JSON_BODY + 1) $($aw)*
                    .map_err(|e| $crate::Error::io(format!("reading the {action} answer"), e))?;
                $crate::exchange::check_answer_size(action, buf.len())?;
                Ok((parts, buf))
            }

            /// Sends a call whose answer body is a stream and returns the head and the body.
            pub(crate) $($async)? fn open<
                C: $crate::reexport::Call<Output = $crate::reexport::StreamingResponse>,
            >(
                &self,
                call: &C,
                route: Route<'_>,
            ) -> $crate::Result<($crate::reexport::StreamingResponse, ResponseBody)> {
                let (parts, body) = self.exchange(call, route, SendBody::Call) $($aw)* ?;
                let head = call.parse(&parts, &[])?;
                Ok((head, body))
            }
        }
    };
}
