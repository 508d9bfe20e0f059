//! Blobs as the clients hand them out and take them in.

use bytes::Bytes;
use maxstorage_codec::blob::BlobReadDecoder;
use maxstorage_codec::compress::Compressor;
use maxstorage_protocol::blob::WriteBlobResult;
use maxstorage_protocol::frame::{
    BlobEvent, BlobFrameEncoder, BlobItemHeader, Checksum, ChecksumHasher, ChecksumType,
};
use maxstorage_protocol::{Compression, StreamingResponse};

use crate::error::{IntegrityError, Result};

/// One downloaded blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The bytes.
    pub data: Vec<u8>,
    /// Its MIME type, if the service sent one.
    pub content_type: Option<String>,
    /// Its file name, if the service sent one (API v3).
    pub file_name: Option<String>,
}

/// Metadata of the blob a reader is positioned on (see [`BlobCursor`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Position in the request's reference list.
    pub index: u64,
    /// Its MIME type, if the service sent one.
    pub content_type: Option<String>,
    /// Its file name, if the service sent one.
    pub file_name: Option<String>,
    /// Its length, when the payload is framed.
    pub len: Option<u64>,
}

impl BlobInfo {
    /// The metadata of a blob frame.
    pub fn from_header(index: u64, header: &BlobItemHeader, len: Option<u64>) -> BlobInfo {
        BlobInfo {
            index,
            content_type: header.content_type.clone(),
            file_name: header.custom_file_name.clone(),
            len,
        }
    }
}

/// One item of a batch blob upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobItem {
    /// The bytes.
    pub data: Bytes,
    /// Partition values (`k=v`), empty for none.
    pub partition_values: Vec<String>,
    /// The ColumnId of the BLOB column.
    pub column_index: i64,
    /// The MIME type.
    pub content_type: Option<String>,
    /// A distribution key (PK tables).
    pub distribution_key: Option<String>,
    /// A file name (sent on API v3 only).
    pub file_name: Option<String>,
    /// The checksum the service verifies.
    pub checksum: ChecksumType,
}

impl BlobItem {
    /// An item for column `column_index` with an MD5 checksum.
    pub fn new(data: impl Into<Bytes>, column_index: i64) -> BlobItem {
        BlobItem {
            data: data.into(),
            partition_values: Vec::new(),
            column_index,
            content_type: None,
            distribution_key: None,
            file_name: None,
            checksum: ChecksumType::Md5,
        }
    }

    /// The frame header of this item (`CustomFileName` only on API v3).
    pub fn header(&self, v3: bool) -> BlobItemHeader {
        let mut h = BlobItemHeader::for_column(self.column_index);
        h.partition_values = self.partition_values.clone();
        h.content_type = self.content_type.clone();
        h.distribution_key = self.distribution_key.clone();
        h.custom_file_name = if v3 { self.file_name.clone() } else { None };
        h
    }
}

/// Where a reader of blobs is, and what it needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "feed more of the body, or take what is ready"]
pub enum Need<T> {
    /// The answer.
    Ready(T),
    /// More of the body is needed: feed a chunk, or declare its end.
    Input,
}

/// A `BlobRead` body moving from blob to blob, without the I/O: feed it the body's
/// chunks as it asks for them. Every CRC32C block is verified before its bytes are
/// handed out.
#[derive(Debug)]
pub struct BlobCursor {
    decoder: BlobReadDecoder,
    pending: Bytes,
    current: Option<BlobInfo>,
    in_blob: bool,
    ended: bool,
    expected: usize,
    seen: usize,
}

impl BlobCursor {
    /// A cursor over the answer (with head `head`) to a request for `references` blobs.
    pub fn new(head: &StreamingResponse, references: usize) -> Result<BlobCursor> {
        Ok(BlobCursor {
            decoder: BlobReadDecoder::new(head.compression, references)?,
            pending: Bytes::new(),
            current: None,
            in_blob: false,
            ended: false,
            expected: references,
            seen: 0,
        })
    }

    /// The blob the cursor is on.
    pub fn current(&self) -> Option<&BlobInfo> {
        self.current.as_ref()
    }

    /// Whether the cursor has not moved to any blob yet.
    pub fn at_start(&self) -> bool {
        self.current.is_none() && !self.in_blob && self.seen == 0
    }

    /// Feeds the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.decoder.feed(chunk);
    }

    /// Declares the end of the body.
    pub fn end_of_body(&mut self) {
        self.decoder.finish();
        self.ended = true;
    }

    /// The next decoder event; `Ready(None)` at the end.
    fn event(&mut self) -> Result<Need<Option<BlobEvent>>> {
        if let Some(ev) = self.decoder.next_event()? {
            return Ok(Need::Ready(Some(ev)));
        }
        Ok(if self.ended {
            Need::Ready(None)
        } else {
            Need::Input
        })
    }

    /// Moves to the next blob (skipping what is left of the current one) and returns its
    /// metadata, or `None` after the last one. Fails if the service sent fewer blobs than
    /// were asked for.
    pub fn next_blob(&mut self) -> Result<Need<Option<BlobInfo>>> {
        while self.in_blob {
            self.pending = Bytes::new();
            match self.event()? {
                Need::Input => return Ok(Need::Input),
                Need::Ready(Some(BlobEvent::Data(_))) => {}
                Need::Ready(Some(BlobEvent::ItemEnd(_))) => self.in_blob = false,
                Need::Ready(Some(BlobEvent::ItemStart { .. }) | None) => {
                    return Err(IntegrityError::BlobWithoutFooter.into());
                }
            }
        }
        match self.event()? {
            Need::Input => Ok(Need::Input),
            Need::Ready(Some(BlobEvent::ItemStart {
                index,
                header,
                data_len,
            })) => {
                let info = BlobInfo::from_header(index, &header, data_len);
                self.current = Some(info.clone());
                self.in_blob = true;
                self.seen += 1;
                Ok(Need::Ready(Some(info)))
            }
            Need::Ready(Some(BlobEvent::Data(_) | BlobEvent::ItemEnd(_))) => {
                Err(IntegrityError::BlobDataOutsideFrame.into())
            }
            Need::Ready(None) => {
                self.current = None;
                if self.seen != self.expected {
                    return Err(IntegrityError::BlobCount {
                        asked: self.expected,
                        got: self.seen,
                    }
                    .into());
                }
                Ok(Need::Ready(None))
            }
        }
    }

    /// Copies bytes of the current blob into `out`: `Ready(0)` at its end (or when not
    /// on a blob).
    pub fn read_data(&mut self, out: &mut [u8]) -> Result<Need<usize>> {
        loop {
            if !self.pending.is_empty() {
                let n = out.len().min(self.pending.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending = self.pending.slice(n..);
                return Ok(Need::Ready(n));
            }
            if !self.in_blob || out.is_empty() {
                return Ok(Need::Ready(0));
            }
            match self.event()? {
                Need::Input => return Ok(Need::Input),
                Need::Ready(Some(BlobEvent::Data(d))) => self.pending = d,
                Need::Ready(Some(BlobEvent::ItemEnd(_))) => {
                    self.in_blob = false;
                    return Ok(Need::Ready(0));
                }
                Need::Ready(Some(BlobEvent::ItemStart { .. }) | None) => {
                    return Err(IntegrityError::BlobWithoutFooter.into());
                }
            }
        }
    }
}

/// A blob upload's bookkeeping: the optional whole-body compression of the bytes sent,
/// and the MD5 and size of the bytes written, checked against the service's answer.
#[derive(Debug)]
pub struct BlobUploadDigest {
    compressor: Option<Compressor>,
    md5: ChecksumHasher,
    written: u64,
}

impl BlobUploadDigest {
    /// Bookkeeping of an upload sent with `compression`.
    pub fn new(compression: Compression) -> Result<BlobUploadDigest> {
        Ok(BlobUploadDigest {
            compressor: match compression {
                Compression::Uncompressed => None,
                c => Some(Compressor::new(c)?),
            },
            md5: ChecksumHasher::new(ChecksumType::Md5),
            written: 0,
        })
    }

    /// Bytes written so far (before compression).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Takes written bytes; returns what to send (possibly empty while compressing).
    pub fn chunk(&mut self, data: &[u8]) -> Result<Bytes> {
        self.md5.update(data);
        self.written += data.len() as u64;
        Ok(match self.compressor.as_mut() {
            Some(c) => c.compress(data)?,
            None => Bytes::copy_from_slice(data),
        })
    }

    /// The end of the compressed stream, to send before ending the body (empty when not
    /// compressing).
    pub fn finish(&mut self) -> Result<Bytes> {
        Ok(match self.compressor.as_mut() {
            Some(c) => c.finish()?,
            None => Bytes::new(),
        })
    }

    /// Checks the service's answer: the MD5 and size it stored must be those written.
    pub fn verify(self, result: &WriteBlobResult) -> Result<()> {
        let md5 = match self.md5.finalize() {
            Checksum::Md5(d) => d.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            _ => String::new(),
        };
        if !result.md5_value.eq_ignore_ascii_case(&md5) {
            return Err(IntegrityError::BlobMd5 {
                sent: md5,
                stored: result.md5_value.clone(),
            }
            .into());
        }
        if result.size != self.written as i64 {
            return Err(IntegrityError::BlobSize {
                sent: self.written,
                stored: result.size,
            }
            .into());
        }
        Ok(())
    }
}

/// The body of a batch blob upload: each item framed with its header and checksum, then
/// optionally compressed as a whole.
pub fn blob_batch_body(items: &[BlobItem], v3: bool, compression: Compression) -> Result<Bytes> {
    let mut encoder = BlobFrameEncoder::new();
    let mut body = Vec::new();
    for item in items {
        body.extend_from_slice(&encoder.begin_item(
            &item.header(v3),
            item.data.len() as u64,
            item.checksum,
        )?);
        encoder.item_data(&item.data)?;
        body.extend_from_slice(&item.data);
        body.extend_from_slice(&encoder.end_item()?);
    }
    Ok(match compression {
        Compression::Uncompressed => Bytes::from(body),
        c => Bytes::from(maxstorage_codec::compress::compress(c, &body)?),
    })
}
