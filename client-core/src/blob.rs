//! Blobs as the clients hand them out and take them in.

use bytes::Bytes;
use maxstorage_protocol::frame::{BlobItemHeader, ChecksumType};

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

/// Metadata of the blob a [`BlobStreamReader`] is positioned on.
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
