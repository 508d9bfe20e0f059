//! Blob item headers and the blob frame encoder (protocol.md B§6.2).

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;

use super::checksum::{Checksum, ChecksumHasher, ChecksumType};
use super::error::{FrameError, FramePart, JsonError};
use super::json;

/// Size of each of the three little-endian `i64` length prefixes of an item.
pub const LENGTH_PREFIX_LEN: usize = 8;

/// The header JSON of one blob item.
///
/// In a `TableWriteBlob` `Mode=Batch` request the header names where the blob goes:
/// `{"PartitionValues": ["pt=1"], "ColumnIndex": 3, "ContentType": "text/plain"}`. In a
/// `BlobRead` response it describes the blob: `{}` or
/// `{"ContentType": "image/png", "CustomFileName": "x.png"}`.
///
/// [`to_json`](Self::to_json) writes the members in the order of the official Python
/// SDK (`PartitionValues`, `ColumnIndex`, `DistributionKey`, `ContentType`,
/// `CustomFileName`), byte for byte as it does. `PartitionValues` and `ColumnIndex` are
/// written together whenever `column_index` is set (the upload form, with `[]` for an
/// unpartitioned table); without `column_index`, `PartitionValues` is written only when
/// non-empty (the download form). Absent optional members are omitted.
///
/// `CustomFileName` exists only in API v3; callers targeting v2 leave it `None` (the
/// Python SDK drops it for v2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BlobItemHeader {
    /// `PartitionValues`: the partition as `key=value` items, empty when none.
    pub partition_values: Vec<String>,
    /// `ColumnIndex`: the server-assigned column id of the BLOB column (uploads).
    pub column_index: Option<i64>,
    /// `DistributionKey`: for primary-key tables, Base64 of an Arrow IPC stream holding
    /// the row's key columns.
    pub distribution_key: Option<String>,
    /// `ContentType`: the MIME type.
    pub content_type: Option<String>,
    /// `CustomFileName` (API v3): the file name to keep with the blob.
    pub custom_file_name: Option<String>,
}

impl BlobItemHeader {
    /// An upload header for the BLOB column with server column id `column_index`,
    /// unpartitioned and without optional members.
    pub fn for_column(column_index: i64) -> Self {
        BlobItemHeader {
            column_index: Some(column_index),
            ..BlobItemHeader::default()
        }
    }

    /// The header JSON, byte for byte as the official Python SDK writes it (see the type
    /// documentation for which members appear).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64);
        let mut obj = json::ObjectWriter::new(&mut out);
        if self.column_index.is_some() || !self.partition_values.is_empty() {
            json::write_str_array(obj.key("PartitionValues"), &self.partition_values);
        }
        if let Some(column) = self.column_index {
            json::write_int(obj.key("ColumnIndex"), column);
        }
        for (key, value) in [
            ("DistributionKey", &self.distribution_key),
            ("ContentType", &self.content_type),
            ("CustomFileName", &self.custom_file_name),
        ] {
            if let Some(value) = value {
                json::write_str(obj.key(key), value);
            }
        }
        obj.end();
        out
    }

    /// Parses a header JSON document, tolerantly: every member is optional, `null` counts
    /// as absent, unknown members are ignored, and an empty document is an empty header.
    ///
    /// # Errors
    /// Not a JSON object, or a known member of the wrong type (`PartitionValues` not an
    /// array of strings, `ColumnIndex` not a 64-bit integer, the others not strings).
    pub fn from_json(bytes: &[u8]) -> Result<Self, JsonError> {
        let map = json::parse_object(bytes)?;
        let partition_values = match map.get("PartitionValues") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(JsonError::new(format!(
                        "\"PartitionValues\" must hold strings, found {}",
                        crate::json::kind(other)
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(JsonError::new(format!(
                    "\"PartitionValues\" must be an array, found {}",
                    crate::json::kind(other)
                )));
            }
        };
        Ok(BlobItemHeader {
            partition_values,
            column_index: json::opt_i64(&map, "ColumnIndex")?,
            distribution_key: json::opt_string(&map, "DistributionKey")?,
            content_type: json::opt_string(&map, "ContentType")?,
            custom_file_name: json::opt_string(&map, "CustomFileName")?,
        })
    }
}

/// Writes a length prefix. Callers guarantee `len <= i64::MAX`.
fn put_len(out: &mut BytesMut, len: u64) {
    out.put_i64_le(i64::try_from(len).unwrap_or(i64::MAX));
}

/// Streaming encoder of blob frames (the body of `TableWriteBlob` `Mode=Batch`, and the
/// payload of multi-reference `BlobRead` responses).
///
/// For each item: [`begin_item`](Self::begin_item) returns the header frame and the data
/// length prefix; the caller sends the item data itself and reports every piece to
/// [`item_data`](Self::item_data) (which hashes and counts it without copying);
/// [`end_item`](Self::end_item) returns the footer frame. The encoder never holds data.
///
/// ```
/// use maxstorage_protocol::frame::{BlobFrameEncoder, BlobItemHeader, ChecksumType};
///
/// let mut enc = BlobFrameEncoder::new();
/// let mut body = Vec::new();
/// body.extend_from_slice(&enc.begin_item(&BlobItemHeader::for_column(3), 8, ChecksumType::Crc32)?);
/// for piece in [&b"item-"[..], b"one"] {
///     enc.item_data(piece)?;
///     body.extend_from_slice(piece);
/// }
/// body.extend_from_slice(&enc.end_item()?);
/// assert!(body.ends_with(br#"{"Checksum": {"Type": 1, "Crc32": 1548719572}}"#));
/// # Ok::<(), maxstorage_protocol::frame::FrameError>(())
/// ```
#[derive(Debug, Default)]
pub struct BlobFrameEncoder {
    open: Option<OpenItem>,
    items: u64,
    offset: u64,
}

#[derive(Debug)]
struct OpenItem {
    declared: u64,
    supplied: u64,
    hasher: ChecksumHasher,
}

impl BlobFrameEncoder {
    /// A new encoder at the start of a stream.
    pub fn new() -> Self {
        BlobFrameEncoder::default()
    }

    /// Starts an item whose data will be `data_len` bytes, with a footer checksum of type
    /// `checksum`. Returns `[i64 LE header_len][header JSON][i64 LE data_len]`.
    ///
    /// # Errors
    /// [`FrameError::InvalidState`] if an item is open; [`FrameError::LengthTooLarge`]
    /// if `data_len` exceeds `i64::MAX`.
    pub fn begin_item(
        &mut self,
        header: &BlobItemHeader,
        data_len: u64,
        checksum: ChecksumType,
    ) -> Result<Bytes, FrameError> {
        if self.open.is_some() {
            return Err(FrameError::InvalidState {
                operation: "BlobFrameEncoder::begin_item",
                reason: "the previous item is still open (call end_item first)",
            });
        }
        let json = header.to_json();
        let header_len = json.len() as u64;
        if data_len > i64::MAX as u64 {
            return Err(FrameError::LengthTooLarge {
                item: self.items,
                part: FramePart::Data,
                offset: self.offset + LENGTH_PREFIX_LEN as u64 + header_len,
                length: data_len,
                limit: i64::MAX as u64,
            });
        }
        let mut out = BytesMut::with_capacity(2 * LENGTH_PREFIX_LEN + json.len());
        put_len(&mut out, header_len);
        out.put_slice(json.as_bytes());
        put_len(&mut out, data_len);
        self.offset += out.len() as u64;
        self.open = Some(OpenItem {
            declared: data_len,
            supplied: 0,
            hasher: ChecksumHasher::new(checksum),
        });
        Ok(out.freeze())
    }

    /// Accounts for the next piece of the open item's data, which the caller sends
    /// itself right after the bytes of [`begin_item`](Self::begin_item) (and any
    /// earlier pieces).
    ///
    /// # Errors
    /// [`FrameError::InvalidState`] if no item is open; [`FrameError::LengthMismatch`]
    /// if the piece would exceed the declared length (the piece is then not counted).
    pub fn item_data(&mut self, data: &[u8]) -> Result<(), FrameError> {
        let item = self.items;
        let open = self.open.as_mut().ok_or(FrameError::InvalidState {
            operation: "BlobFrameEncoder::item_data",
            reason: "no item is open (call begin_item first)",
        })?;
        let supplied = open.supplied.saturating_add(data.len() as u64);
        if supplied > open.declared {
            return Err(FrameError::LengthMismatch {
                item,
                declared: open.declared,
                actual: supplied,
            });
        }
        open.supplied = supplied;
        open.hasher.update(data);
        self.offset += data.len() as u64;
        Ok(())
    }

    /// Ends the open item. Returns `[i64 LE footer_len][footer JSON]`.
    ///
    /// # Errors
    /// [`FrameError::InvalidState`] if no item is open; [`FrameError::LengthMismatch`]
    /// if fewer bytes than declared were supplied (the item stays open, so the rest may
    /// still be supplied).
    pub fn end_item(&mut self) -> Result<Bytes, FrameError> {
        let Some(open) = self.open.take() else {
            return Err(FrameError::InvalidState {
                operation: "BlobFrameEncoder::end_item",
                reason: "no item is open (call begin_item first)",
            });
        };
        if open.supplied != open.declared {
            let err = FrameError::LengthMismatch {
                item: self.items,
                declared: open.declared,
                actual: open.supplied,
            };
            self.open = Some(open);
            return Err(err);
        }
        let json = open.hasher.finalize().to_footer_json();
        let mut out = BytesMut::with_capacity(LENGTH_PREFIX_LEN + json.len());
        put_len(&mut out, json.len() as u64);
        out.put_slice(json.as_bytes());
        self.offset += out.len() as u64;
        self.items += 1;
        Ok(out.freeze())
    }

    /// Whether an item is open (begun and not yet ended).
    pub fn is_item_open(&self) -> bool {
        self.open.is_some()
    }

    /// Number of items ended so far.
    pub fn items_encoded(&self) -> u64 {
        self.items
    }

    /// Number of bytes of the stream so far: the returned frames plus the data accounted
    /// for with [`item_data`](Self::item_data).
    pub fn bytes_encoded(&self) -> u64 {
        self.offset
    }
}

/// Encodes complete items into one blob frame stream.
///
/// ```
/// use maxstorage_protocol::frame::{encode_items, BlobItemHeader, ChecksumType};
///
/// let body = encode_items(&[(BlobItemHeader::for_column(3), &b"v3-item"[..], ChecksumType::None)]);
/// assert_eq!(body.len(), 8 + 41 + 8 + 7 + 8 + 25);
/// ```
pub fn encode_items(items: &[(BlobItemHeader, &[u8], ChecksumType)]) -> Bytes {
    let mut out = BytesMut::new();
    for (header, data, kind) in items {
        let json = header.to_json();
        put_len(&mut out, json.len() as u64);
        out.put_slice(json.as_bytes());
        put_len(&mut out, data.len() as u64);
        out.put_slice(data);
        let footer = Checksum::compute(*kind, data).to_footer_json();
        put_len(&mut out, footer.len() as u64);
        out.put_slice(footer.as_bytes());
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_json_matches_python_order() {
        let h = BlobItemHeader {
            partition_values: vec!["pt=20230101".into()],
            column_index: Some(3),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        assert_eq!(
            h.to_json(),
            r#"{"PartitionValues": ["pt=20230101"], "ColumnIndex": 3, "ContentType": "text/plain"}"#
        );
        let full = BlobItemHeader {
            partition_values: vec!["a=1".into(), "b=x".into()],
            column_index: Some(-1),
            distribution_key: Some("QUJD".into()),
            content_type: Some("image/png".into()),
            custom_file_name: Some("x.png".into()),
        };
        assert_eq!(
            full.to_json(),
            r#"{"PartitionValues": ["a=1", "b=x"], "ColumnIndex": -1, "DistributionKey": "QUJD", "ContentType": "image/png", "CustomFileName": "x.png"}"#
        );
        assert_eq!(
            BlobItemHeader::from_json(full.to_json().as_bytes()),
            Ok(full)
        );
        assert_eq!(
            BlobItemHeader::for_column(3).to_json(),
            r#"{"PartitionValues": [], "ColumnIndex": 3}"#
        );
        assert_eq!(BlobItemHeader::default().to_json(), "{}");
        let download = BlobItemHeader {
            content_type: Some("image/png".into()),
            custom_file_name: Some("x.png".into()),
            ..Default::default()
        };
        assert_eq!(
            download.to_json(),
            r#"{"ContentType": "image/png", "CustomFileName": "x.png"}"#
        );
    }

    #[test]
    fn header_json_parses_tolerantly() {
        assert_eq!(
            BlobItemHeader::from_json(b""),
            Ok(BlobItemHeader::default())
        );
        assert_eq!(
            BlobItemHeader::from_json(b"{}"),
            Ok(BlobItemHeader::default())
        );
        assert_eq!(
            BlobItemHeader::from_json(br#"{"X": [1], "ContentType": null, "ColumnIndex": 7}"#),
            Ok(BlobItemHeader::for_column(7))
        );
        for bad in [
            &br#"[]"#[..],
            br#"{"PartitionValues": "pt=1"}"#,
            br#"{"PartitionValues": [1]}"#,
            br#"{"ColumnIndex": "3"}"#,
            br#"{"ColumnIndex": 1e3}"#,
            br#"{"ContentType": 5}"#,
            br#"{"CustomFileName": {}}"#,
            br#"{"DistributionKey": true}"#,
        ] {
            assert!(BlobItemHeader::from_json(bad).is_err());
        }
    }

    #[test]
    fn encoder_streams_and_checks_lengths() {
        let mut enc = BlobFrameEncoder::new();
        assert!(matches!(
            enc.item_data(b"x"),
            Err(FrameError::InvalidState { .. })
        ));
        assert!(matches!(
            enc.end_item(),
            Err(FrameError::InvalidState { .. })
        ));
        let header = BlobItemHeader::for_column(3);
        let mut body = enc
            .begin_item(&header, 8, ChecksumType::Md5)
            .unwrap()
            .to_vec();
        assert!(enc.is_item_open());
        assert!(matches!(
            enc.begin_item(&header, 1, ChecksumType::None),
            Err(FrameError::InvalidState { .. })
        ));
        enc.item_data(b"item").unwrap();
        body.extend_from_slice(b"item");
        assert_eq!(
            enc.end_item(),
            Err(FrameError::LengthMismatch {
                item: 0,
                declared: 8,
                actual: 4
            })
        );
        assert_eq!(
            enc.item_data(b"-one!"),
            Err(FrameError::LengthMismatch {
                item: 0,
                declared: 8,
                actual: 9
            })
        );
        enc.item_data(b"-one").unwrap();
        body.extend_from_slice(b"-one");
        body.extend_from_slice(&enc.end_item().unwrap());
        assert_eq!(enc.items_encoded(), 1);
        assert_eq!(enc.bytes_encoded(), body.len() as u64);
        let expected = encode_items(&[(header, &b"item-one"[..], ChecksumType::Md5)]);
        assert_eq!(body, expected.to_vec());
        assert!(matches!(
            enc.begin_item(&BlobItemHeader::default(), u64::MAX, ChecksumType::None),
            Err(FrameError::LengthTooLarge {
                item: 1,
                part: FramePart::Data,
                ..
            })
        ));
        assert!(!enc.is_item_open());
    }
}
