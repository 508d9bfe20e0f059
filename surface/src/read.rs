//! The declarations both clients' readers share: what a split reader holds and tells, and
//! the wrapper that holds back a first batch read early to learn the schema.

/// A split reader, `$name`: the struct (the client's `Core`, the
/// [`SplitProgress`](maxstorage_client_core::split::SplitProgress) that decides, and the
/// client's own fields with their initial values), its `Debug`, its constructor and what
/// it tells (schema, rows, resumes). The client writes how it is driven (`Iterator` or
/// `Stream`).
#[macro_export]
macro_rules! split_batches {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $init:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            core: ::std::sync::Arc<Core>,
            progress: $crate::core_::split::SplitProgress,
            $( $(#[$fmeta])* $field: $ty, )*
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("progress", &self.progress)
                    .finish_non_exhaustive()
            }
        }

        impl $name {
            pub(crate) fn new(
                core: ::std::sync::Arc<Core>,
                session: &$crate::core_::TableReadSession,
                selection: $crate::core_::reexport::RowSelection,
                options: &$crate::core_::ReadOptions,
                defaults: &$crate::core_::settings::Defaults,
            ) -> $name {
                $name {
                    core,
                    progress: $crate::core_::split::SplitProgress::new(
                        session, selection, options, defaults,
                    ),
                    $( $field: $init, )*
                }
            }

            /// The schema of the batches: the session's, known before anything is read
            /// (or, when [`ReadOptions::data_columns`]($crate::core_::ReadOptions::data_columns)
            /// asks for other columns, the first response's once it started).
            pub fn schema(&self) -> Option<$crate::core_::reexport::SchemaRef> {
                self.progress.schema()
            }

            /// Rows delivered so far.
            pub fn rows(&self) -> u64 {
                self.progress.rows()
            }

            /// How many times the read resumed after a break.
            pub fn resumes(&self) -> u32 {
                self.progress.resumes()
            }
        }
    };
}

/// `SplitBatches::$method`, which turns a split read into `$name`, a read whose schema is
/// known before its first batch: the session's, or — when the read asks for other columns
/// — the first response's, its first batch held back until asked for. Generates the
/// method, the struct, its `Debug` and what it tells (rows, resumes); the client writes
/// how it is driven. Needs `SplitBatches::next_batch`, which marks the read done when it
/// ends. Expanded with `(;)` or `(async; .await)` after the names.
#[macro_export]
macro_rules! split_with_schema {
    (
        $(#[$meta:meta])*
        $name:ident,
        $(#[$method_meta:meta])*
        fn $method:ident,
        $($async:ident)? ; $($aw:tt)*
    ) => {
        impl SplitBatches {
            $(#[$method_meta])*
            pub $($async)? fn $method(mut self) -> $crate::core_::Result<$name> {
                let first = match self.schema() {
                    Some(_) => None,
                    None => self.next_batch() $($aw)* ?,
                };
                let schema = self.schema().ok_or($crate::core_::IntegrityError::NoSchema)?;
                Ok($name {
                    batches: self,
                    schema,
                    first,
                })
            }
        }

        $(#[$meta])*
        pub struct $name {
            batches: SplitBatches,
            schema: $crate::core_::reexport::SchemaRef,
            first: Option<$crate::core_::reexport::RecordBatch>,
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("batches", &self.batches)
                    .finish_non_exhaustive()
            }
        }

        impl $name {
            /// Rows delivered so far.
            pub fn rows(&self) -> u64 {
                self.batches.rows()
            }

            /// How many times the read resumed after a break.
            pub fn resumes(&self) -> u32 {
                self.batches.resumes()
            }
        }
    };
}

/// `StreamBatches`: the record batches of a response that cannot resume (previews,
/// instance reads) over the client's `DecodingBody` — the struct, its `Debug`, its
/// constructor and its schema. The client drives it (`Iterator` or `Stream`), turning
/// each piece into an item with
/// [`Piece::into_final_item`](maxstorage_client_core::split::Piece::into_final_item).
#[macro_export]
macro_rules! stream_batches {
    () => {
        /// Record batches of a response that cannot resume (preview, instance reads).
        pub struct StreamBatches {
            body: DecodingBody,
            done: bool,
        }

        impl ::std::fmt::Debug for StreamBatches {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("StreamBatches")
                    .field("done", &self.done)
                    .finish_non_exhaustive()
            }
        }

        impl StreamBatches {
            pub(crate) fn new(body: DecodingBody) -> StreamBatches {
                StreamBatches { body, done: false }
            }

            /// The schema, once known.
            pub fn schema(&self) -> Option<$crate::core_::reexport::SchemaRef> {
                self.body.schema()
            }
        }
    };
}

/// `BlobStreamReader`: a streaming download of blobs over the client's `ResponseBody` and
/// a [`BlobCursor`](maxstorage_client_core::blob::BlobCursor) that decides — the struct
/// (with the client's own fields and their initial values), its `Debug`, its constructor
/// and the blob it is on. The client writes how the body is read (`Read` or `AsyncRead`).
#[macro_export]
macro_rules! blob_stream_reader {
    (
        $(#[$meta:meta])*
        BlobStreamReader {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $init:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct BlobStreamReader {
            body: ResponseBody,
            cursor: $crate::core_::blob::BlobCursor,
            $( $(#[$fmeta])* $field: $ty, )*
        }

        impl ::std::fmt::Debug for BlobStreamReader {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("BlobStreamReader")
                    .field("cursor", &self.cursor)
                    .finish_non_exhaustive()
            }
        }

        impl BlobStreamReader {
            pub(crate) fn new(
                head: &$crate::core_::reexport::StreamingResponse,
                body: ResponseBody,
                references: usize,
            ) -> $crate::core_::Result<BlobStreamReader> {
                Ok(BlobStreamReader {
                    body,
                    cursor: $crate::core_::blob::BlobCursor::new(head, references)?,
                    $( $field: $init, )*
                })
            }

            /// The blob the reader is on.
            pub fn current(&self) -> Option<&$crate::core_::BlobInfo> {
                self.cursor.current()
            }
        }
    };
}
