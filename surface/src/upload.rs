//! The declarations both clients' uploads share: the raw `TableWrite` writer and the
//! streaming blob writer over the client's `Upload`.

/// `RawRowsWriter` and `BlobWriter`, the writers whose request body is what the caller
/// writes: their structs, `Debug` and `finish`, and how a blob upload starts and checks
/// the service's answer. The client provides `Upload<T>` (`Upload::start(handle, call)`,
/// `send(chunk)`, `finish()`: a request on its own thread or polled by the writer) and
/// implements `Write` or `AsyncWrite` on both writers. Expanded like
/// [`table_client!`](crate::table_client!).
#[macro_export]
macro_rules! uploads {
    ($($async:ident)? ; $($aw:tt)*) => {
        /// Writes the raw bytes of one `TableWrite` body (a complete Arrow IPC stream) while
        /// they are being sent. Dropping it before [`finish`](Self::finish) cancels the
        /// request: the service gets a body cut short, never a complete one.
        #[derive(Debug)]
        pub struct RawRowsWriter {
            upload: Upload<$crate::core_::reexport::WriteRowsResult>,
        }

        impl RawRowsWriter {
            pub(crate) fn start(
                session: WriteSessionHandle,
                call: $crate::core_::reexport::WriteRows,
            ) -> $crate::core_::Result<RawRowsWriter> {
                Ok(RawRowsWriter {
                    upload: Upload::start(session, call)?,
                })
            }

            /// Ends the body and returns the service's answer.
            pub $($async)? fn finish(self) -> $crate::core_::Result<$crate::core_::reexport::WriteRowsResult> {
                self.upload.finish() $($aw)*
            }
        }

        /// A streaming single-blob upload: write the bytes, then [`finish`](Self::finish).
        /// The upload runs while you write (memory holds a few chunks); the MD5 and size the
        /// service reports are checked against the bytes written. Dropping the writer before
        /// `finish` cancels the upload: the service gets a body cut short, and stores
        /// nothing.
        pub struct BlobWriter {
            upload: Upload<$crate::core_::reexport::WriteBlobResult>,
            digest: $crate::core_::blob::BlobUploadDigest,
        }

        impl ::std::fmt::Debug for BlobWriter {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("BlobWriter")
                    .field("written", &self.digest.written())
                    .finish_non_exhaustive()
            }
        }

        impl BlobWriter {
            pub(crate) fn start(
                session: WriteSessionHandle,
                call: $crate::core_::reexport::WriteBlob,
            ) -> $crate::core_::Result<BlobWriter> {
                let digest = $crate::core_::blob::BlobUploadDigest::new(call.compression)?;
                let upload = Upload::start(session, call)?;
                Ok(BlobWriter { upload, digest })
            }

            /// Ends the upload and returns the service's answer, after checking its MD5 and
            /// size.
            pub $($async)? fn finish(mut self) -> $crate::core_::Result<$crate::core_::reexport::WriteBlobResult> {
                let tail = self.digest.finish()?;
                self.upload
                    .send(tail)
                    $($aw)*
                    .map_err(|e| $crate::core_::Error::io("finishing the blob upload", e))?;
                let result = self.upload.finish() $($aw)* ?;
                self.digest.verify(&result)?;
                Ok(result)
            }
        }
    };
}
