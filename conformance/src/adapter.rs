//! The one definition of the scenario traits for both shipped clients: [`adapter!`]
//! implements [`StorageClient`](crate::StorageClient) and
//! [`WriteSession`](crate::WriteSession) from the clients' common surface, expanded by
//! [`client`](crate::client) for the blocking client and by
//! [`async_client`](crate::async_client) for the async one (whose calls are awaited).
//!
//! The module that expands it provides, for its client: `run!(self, { body })` (runs the
//! body: in place, or on the adapter's runtime), `gather(items)` (collects a batch
//! iterator or stream, `.await`ed when async), `put(writer, bytes)` (writes bytes to an
//! upload), and the `Read`/`AsyncRead` traits in scope for `read`/`read_to_end`.

/// Implements `StorageClient` for `$client` (whose `client()` is the client under test and
/// whose `session(handle)` wraps a write session) and `WriteSession` for `$session` (whose
/// `handle()` is the write session handle and `with_handle(handle)` rewraps one); `$aw`
/// follows every call of the client (`.await`, or nothing).
macro_rules! adapter {
    ($client:ty, $session:ty, $name:literal; $($aw:tt)*) => {
        impl $crate::client::StorageClient for $client {
            type Session = $session;

            fn name(&self) -> &'static str {
                $name
            }

            fn create_read_session(
                &self,
                table: &TableId,
                options: ReadSessionOptions,
            ) -> Result<TableReadSession> {
                run!(self, {
                    self.client().table(table.clone()).create_read_session(options) $($aw)*
                })
            }

            fn get_read_session(
                &self,
                session: &mut TableReadSession,
                refresh: bool,
            ) -> Result<()> {
                let table = self.client().table(session.table().clone());
                run!(self, {
                    if refresh {
                        table.refresh_read_session(session) $($aw)*
                    } else {
                        table.get_read_session(session) $($aw)*
                    }
                })
            }

            fn read(
                &self,
                session: &TableReadSession,
                selection: RowSelection,
                options: &ReadOptions,
            ) -> Result<Vec<RecordBatch>> {
                let table = self.client().table(session.table().clone());
                run!(self, { gather(table.read_rows(session, selection, options)) $($aw)* })
            }

            fn read_raw(
                &self,
                session: &TableReadSession,
                selection: RowSelection,
                options: &ReadOptions,
            ) -> Result<Vec<u8>> {
                let table = self.client().table(session.table().clone());
                run!(self, {
                    let mut raw = table.read_rows_stream(session, selection, options) $($aw)* ?;
                    let mut out = Vec::new();
                    raw.read_to_end(&mut out) $($aw)*
                        .map_err(|e| Error::io("reading the raw stream", e))?;
                    Ok(out)
                })
            }

            fn read_all(
                &self,
                session: &TableReadSession,
                options: &ReadOptions,
                workers: usize,
            ) -> Result<Vec<(usize, RecordBatch)>> {
                let table = self.client().table(session.table().clone());
                run!(self, { gather(table.read_all(session, options, workers)) $($aw)* })
            }

            fn preview(
                &self,
                table: &TableId,
                options: PreviewOptions,
            ) -> Result<Vec<RecordBatch>> {
                let table = self.client().table(table.clone());
                run!(self, { gather(table.preview(options) $($aw)* ?) $($aw)* })
            }

            fn create_write_session(
                &self,
                table: &TableId,
                options: WriteSessionOptions,
            ) -> Result<$session> {
                let table = self.client().table(table.clone());
                let handle = run!(self, { table.create_write_session(options) $($aw)* })?;
                Ok(self.session(handle))
            }

            fn write_session(
                &self,
                table: &TableId,
                session_id: &str,
                mode: WriteMode,
                partition: &str,
            ) -> Result<$session> {
                let table = self.client().table(table.clone());
                let handle = run!(self, {
                    table.write_session(session_id, mode, partition) $($aw)*
                })?;
                Ok(self.session(handle))
            }

            fn read_instance(
                &self,
                instance: &InstanceId,
                range: Option<RowRange>,
                columns: Vec<String>,
            ) -> Result<(InstanceReadSession, Vec<RecordBatch>)> {
                let client = self.client().instance(instance.clone());
                let options = InstanceReadOptions::default().with_columns(columns);
                run!(self, {
                    let session = client.create_read_session() $($aw)* ?;
                    let rows = match range {
                        Some(range) => client.read_range(&session, range, &options) $($aw)* ?,
                        None => client.read(&session, &options) $($aw)* ?,
                    };
                    Ok((session, gather(rows) $($aw)* ?))
                })
            }

            fn read_blobs(
                &self,
                table: &TableId,
                references: Vec<String>,
                compression: Option<Compression>,
            ) -> Result<Vec<Blob>> {
                let client = match compression {
                    Some(c) => self.client().with_compression(c),
                    None => self.client().clone(),
                };
                let table = client.table(table.clone());
                run!(self, { gather(table.read_blobs(references) $($aw)* ?) $($aw)* })
            }

            fn read_blobs_streaming(
                &self,
                table: &TableId,
                references: Vec<String>,
                chunk: usize,
            ) -> Result<Vec<Blob>> {
                let table = self.client().table(table.clone());
                run!(self, {
                    let mut reader = table.read_blobs_stream(references) $($aw)* ?;
                    let mut out = Vec::new();
                    while let Some(info) = reader.next_blob() $($aw)* ? {
                        let mut data = Vec::new();
                        let mut buf = vec![0u8; chunk.max(1)];
                        loop {
                            let n = reader
                                .read(&mut buf) $($aw)*
                                .map_err(|e| Error::io("reading a blob", e))?;
                            if n == 0 {
                                break;
                            }
                            data.extend_from_slice(&buf[..n]);
                        }
                        out.push(Blob {
                            data,
                            content_type: info.content_type,
                            file_name: info.file_name,
                        });
                    }
                    Ok(out)
                })
            }
        }

        impl $session {
            /// Creates a stream, writes the batches (each in a body of its own when
            /// `flush_each`), closes it.
            fn write_batches(
                &self,
                stream: StreamRef,
                options: StreamOptions,
                batches: &[RecordBatch],
                flush_each: bool,
            ) -> Result<StreamSummary> {
                run!(self, {
                    let mut writer = self.handle().stream_writer(stream, options) $($aw)* ?;
                    for b in batches {
                        writer.write(b) $($aw)* ?;
                        if flush_each {
                            writer.flush() $($aw)* ?;
                        }
                    }
                    writer.finish() $($aw)*
                })
            }
        }

        impl $crate::client::WriteSession for $session {
            fn id(&self) -> String {
                self.handle().id().to_string()
            }

            fn with_route_token(&self, token: &str) -> Self {
                self.with_handle(self.handle().clone().with_route_token(token))
            }

            fn write_stream(
                &self,
                stream: StreamRef,
                options: StreamOptions,
                batches: &[RecordBatch],
            ) -> Result<StreamSummary> {
                self.write_batches(stream, options, batches, false)
            }

            fn write_bodies(
                &self,
                stream: StreamRef,
                options: StreamOptions,
                batches: &[RecordBatch],
            ) -> Result<StreamSummary> {
                self.write_batches(stream, options, batches, true)
            }

            fn create_stream(
                &self,
                stream: &StreamRef,
                exactly_once: bool,
            ) -> Result<WriteStreamInfo> {
                let kind = StreamKind::from_exactly_once(exactly_once);
                run!(self, { self.handle().create_stream(stream, kind) $($aw)* })
            }

            fn write_raw(
                &self,
                stream: &StreamRef,
                rows: i64,
                body: &[u8],
            ) -> Result<WriteRowsResult> {
                run!(self, {
                    let mut w = self.handle().raw_writer(stream, rows)?;
                    put(&mut w, body) $($aw)* ?;
                    w.finish() $($aw)*
                })
            }

            fn close_stream(&self, stream: &StreamRef) -> Result<()> {
                run!(self, { self.handle().close_stream(stream) $($aw)* })
            }

            fn commit(&self) -> Result<WriteSessionInfo> {
                run!(self, { self.handle().commit() $($aw)* })
            }

            fn commit_listing_streams(&self) -> Result<WriteSessionInfo> {
                run!(self, { self.handle().commit_listing_streams() $($aw)* })
            }

            fn commit_streams(&self, streams: Vec<StreamRef>) -> Result<WriteSessionInfo> {
                run!(self, { self.handle().commit_streams(streams) $($aw)* })
            }

            fn abort(&self) -> Result<()> {
                run!(self, { self.handle().abort() $($aw)* })
            }

            fn status(&self) -> Result<WriteSessionInfo> {
                run!(self, { self.handle().status() $($aw)* })
            }

            fn stream_status(
                &self,
                stream: &StreamRef,
                exactly_once: bool,
            ) -> Result<WriteStreamInfo> {
                let kind = StreamKind::from_exactly_once(exactly_once);
                run!(self, { self.handle().stream_status(stream, kind) $($aw)* })
            }

            fn upload_blob(
                &self,
                stream: &StreamRef,
                partition_values: Vec<String>,
                column: i64,
                compression: Option<Compression>,
                data: &[u8],
            ) -> Result<WriteBlobResult> {
                let options = $crate::client::blob_options(partition_values, column, compression);
                run!(self, {
                    let mut w = self.handle().blob_writer(stream, options)?;
                    for chunk in data.chunks(1000) {
                        put(&mut w, chunk) $($aw)* ?;
                    }
                    w.finish() $($aw)*
                })
            }

            fn upload_blob_batch(
                &self,
                stream: &StreamRef,
                items: &[BlobItem],
                compression: Option<Compression>,
            ) -> Result<WriteBlobBatchResult> {
                let compression = compression.unwrap_or(Compression::Uncompressed);
                run!(self, {
                    self.handle().write_blob_batch(stream, items, compression) $($aw)*
                })
            }
        }
    };
}

pub(crate) use adapter;
