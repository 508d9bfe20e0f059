//! Push-based blob frame decoder.

use bytes::{Buf, Bytes};

use super::blob::{BlobItemHeader, LENGTH_PREFIX_LEN};
use super::checksum::{Checksum, DualHasher};
use super::error::{FrameError, FramePart};

/// Default limit on the length of one header or footer JSON document: 1 MiB.
pub const DEFAULT_MAX_JSON_LEN: usize = 1024 * 1024;

/// Capacity kept for the JSON buffer between items; a larger one is released.
const RETAINED_JSON_CAPACITY: usize = 64 * 1024;

/// Settings of [`BlobFrameDecoder`] (and [`BlobPayloadDecoder`](super::BlobPayloadDecoder)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobDecoderOptions {
    /// Largest accepted header or footer JSON, in bytes (default
    /// [`DEFAULT_MAX_JSON_LEN`]). A longer declared length is rejected before anything
    /// is allocated for it.
    pub max_json_len: usize,
    /// Verify CRC-32 and MD5 footer checksums against the data (default `true`). Since a
    /// footer follows its data, the decoder computes both CRC-32 and MD5 of every item
    /// while verifying.
    pub verify_checksums: bool,
}

impl Default for BlobDecoderOptions {
    fn default() -> Self {
        BlobDecoderOptions {
            max_json_len: DEFAULT_MAX_JSON_LEN,
            verify_checksums: true,
        }
    }
}

impl BlobDecoderOptions {
    /// Sets [`max_json_len`](Self::max_json_len).
    pub fn with_max_json_len(mut self, max_json_len: usize) -> Self {
        self.max_json_len = max_json_len;
        self
    }

    /// Sets [`verify_checksums`](Self::verify_checksums).
    pub fn with_verify_checksums(mut self, verify: bool) -> Self {
        self.verify_checksums = verify;
        self
    }
}

/// Something a blob decoder found in its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobEvent {
    /// An item begins. Its data follows as zero or more [`BlobEvent::Data`] events.
    ItemStart {
        /// Index of the item (0-based).
        index: u64,
        /// Its header.
        header: BlobItemHeader,
        /// Its declared data length; `None` for an unframed (raw) payload, whose length
        /// is known only at its end.
        data_len: Option<u64>,
    },
    /// The next piece of the current item's data (never empty).
    Data(Bytes),
    /// The current item ended.
    ItemEnd(ItemEnd),
}

/// The end of an item, with its footer checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemEnd {
    /// Index of the item (0-based).
    pub index: u64,
    /// Number of data bytes the item had.
    pub data_len: u64,
    /// The checksum its footer declares ([`Checksum::None`] for raw payloads).
    pub checksum: Checksum,
    /// Whether that checksum was verified against the data (`false` when verification is
    /// off or the footer carries no verifiable checksum; a mismatch is an error instead).
    pub verified: bool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Reading an 8-byte length prefix.
    Length {
        part: FramePart,
        buf: [u8; LENGTH_PREFIX_LEN],
        have: usize,
    },
    /// Reading a header or footer JSON of `len` bytes into `json`.
    Json { part: FramePart, len: usize },
    /// Passing through `remaining` data bytes.
    Data { remaining: u64 },
    /// `finish` succeeded.
    Finished,
}

impl State {
    fn length(part: FramePart) -> State {
        State::Length {
            part,
            buf: [0; LENGTH_PREFIX_LEN],
            have: 0,
        }
    }
}

/// Push-based decoder of a blob frame stream:
/// `([i64 LE len][header JSON][i64 LE len][data][i64 LE len][footer JSON])*`.
///
/// Feed the stream in any chunking with [`decode`](Self::decode), which consumes bytes
/// from the front of the given buffer and returns one [`BlobEvent`] at a time; call it
/// until it returns `Ok(None)` (the buffer is then empty), then feed the next chunk. At
/// the end of the stream call [`finish`](Self::finish).
///
/// Item data is handed out as zero-copy slices of the input and never buffered; the
/// decoder itself holds at most one length prefix or one header/footer JSON document
/// ([`max_buffered_len`](Self::max_buffered_len) bytes). Every length is checked before
/// anything is allocated for it. After an error the decoder is poisoned and returns the
/// same error again.
///
/// ```
/// use bytes::Bytes;
/// use maxstorage_protocol::frame::{encode_items, BlobEvent, BlobFrameDecoder, BlobItemHeader, ChecksumType};
///
/// let stream = encode_items(&[(BlobItemHeader::for_column(3), &b"hello"[..], ChecksumType::Crc32)]);
/// let mut dec = BlobFrameDecoder::new();
/// let mut data = Vec::new();
/// for chunk in stream.chunks(3) {
///     let mut chunk = Bytes::copy_from_slice(chunk);
///     while let Some(event) = dec.decode(&mut chunk)? {
///         match event {
///             BlobEvent::Data(piece) => data.extend_from_slice(&piece),
///             BlobEvent::ItemEnd(end) => assert!(end.verified),
///             BlobEvent::ItemStart { .. } => {}
///         }
///     }
/// }
/// dec.finish()?;
/// assert_eq!(data, b"hello");
/// # Ok::<(), maxstorage_protocol::frame::FrameError>(())
/// ```
#[derive(Debug)]
pub struct BlobFrameDecoder {
    options: BlobDecoderOptions,
    state: State,
    json: Vec<u8>,
    /// Bytes consumed so far.
    offset: u64,
    /// Index of the current (or next) item.
    item: u64,
    /// Byte offset where the current part began (its length prefix or JSON text).
    part_offset: u64,
    /// Header of the current item, between its JSON and its data length.
    header: Option<BlobItemHeader>,
    data_len: u64,
    footer_offset: u64,
    digests: Option<DualHasher>,
    failed: Option<FrameError>,
}

impl Default for BlobFrameDecoder {
    fn default() -> Self {
        BlobFrameDecoder::new()
    }
}

impl BlobFrameDecoder {
    /// A decoder with default options.
    pub fn new() -> Self {
        BlobFrameDecoder::with_options(BlobDecoderOptions::default())
    }

    /// A decoder with the given options.
    pub fn with_options(options: BlobDecoderOptions) -> Self {
        BlobFrameDecoder {
            options,
            state: State::length(FramePart::HeaderLength),
            json: Vec::new(),
            offset: 0,
            item: 0,
            part_offset: 0,
            header: None,
            data_len: 0,
            footer_offset: 0,
            digests: options.verify_checksums.then(DualHasher::new),
            failed: None,
        }
    }

    /// The options in use.
    pub fn options(&self) -> &BlobDecoderOptions {
        &self.options
    }

    /// Consumes bytes from the front of `input` up to the next event and returns it, or
    /// returns `Ok(None)` once `input` is used up without completing one.
    ///
    /// # Errors
    /// Malformed input ([`FrameError::NegativeLength`], [`FrameError::LengthTooLarge`],
    /// [`FrameError::InvalidJson`], [`FrameError::ChecksumMismatch`]); a call after
    /// [`finish`](Self::finish) ([`FrameError::InvalidState`]); the earlier error again
    /// after an error.
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<BlobEvent>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.step(input);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Declares the end of the stream.
    ///
    /// # Errors
    /// [`FrameError::Truncated`] if the stream ended inside an item; the earlier error
    /// after an error.
    pub fn finish(&mut self) -> Result<(), FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let missing = match self.state {
            State::Finished => return Ok(()),
            State::Length {
                part: FramePart::HeaderLength,
                have: 0,
                ..
            } => None,
            State::Length { part, have, .. } => Some((part, (LENGTH_PREFIX_LEN - have) as u64)),
            State::Json { part, len } => Some((part, (len - self.json.len()) as u64)),
            State::Data { remaining } => Some((FramePart::Data, remaining)),
        };
        if let Some((part, missing)) = missing {
            let err = FrameError::Truncated {
                item: self.item,
                part,
                offset: self.offset,
                missing,
            };
            self.failed = Some(err.clone());
            return Err(err);
        }
        self.state = State::Finished;
        Ok(())
    }

    /// Number of bytes held inside the decoder (a partial length prefix or JSON
    /// document); never more than [`max_buffered_len`](Self::max_buffered_len).
    pub fn buffered_len(&self) -> usize {
        match self.state {
            State::Length { have, .. } => have,
            State::Json { .. } => self.json.len(),
            State::Data { .. } | State::Finished => 0,
        }
    }

    /// The most bytes the decoder ever holds: the larger of a length prefix and
    /// `max_json_len`.
    pub fn max_buffered_len(&self) -> usize {
        self.options.max_json_len.max(LENGTH_PREFIX_LEN)
    }

    /// Number of bytes consumed so far.
    pub fn bytes_consumed(&self) -> u64 {
        self.offset
    }

    /// Number of items completed so far.
    pub fn items_completed(&self) -> u64 {
        self.item
    }

    /// Whether the decoder is between items (a [`finish`](Self::finish) now succeeds).
    pub fn is_at_item_boundary(&self) -> bool {
        self.failed.is_none()
            && matches!(
                self.state,
                State::Length {
                    part: FramePart::HeaderLength,
                    have: 0,
                    ..
                } | State::Finished
            )
    }

    fn step(&mut self, input: &mut Bytes) -> Result<Option<BlobEvent>, FrameError> {
        loop {
            match self.state {
                State::Finished => {
                    return Err(FrameError::InvalidState {
                        operation: "BlobFrameDecoder::decode",
                        reason: "the stream was already finished",
                    });
                }
                State::Length {
                    part,
                    mut buf,
                    have,
                } => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    if have == 0 {
                        self.part_offset = self.offset;
                    }
                    let n = (LENGTH_PREFIX_LEN - have).min(input.len());
                    buf[have..have + n].copy_from_slice(&input[..n]);
                    input.advance(n);
                    self.offset += n as u64;
                    let have = have + n;
                    if have < LENGTH_PREFIX_LEN {
                        self.state = State::Length { part, buf, have };
                        return Ok(None);
                    }
                    if let Some(event) = self.length_complete(part, i64::from_le_bytes(buf))? {
                        return Ok(Some(event));
                    }
                }
                State::Json { part, len } => {
                    let need = len - self.json.len();
                    if need > 0 {
                        if input.is_empty() {
                            return Ok(None);
                        }
                        let n = need.min(input.len());
                        append_bounded(&mut self.json, &input[..n], len);
                        input.advance(n);
                        self.offset += n as u64;
                        if n < need {
                            return Ok(None);
                        }
                    }
                    if let Some(event) = self.json_complete(part)? {
                        return Ok(Some(event));
                    }
                }
                State::Data { remaining } => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let piece = input.split_to(n);
                    self.offset += n as u64;
                    if let Some(digests) = &mut self.digests {
                        digests.update(&piece);
                    }
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::length(FramePart::FooterLength)
                    } else {
                        State::Data { remaining }
                    };
                    return Ok(Some(BlobEvent::Data(piece)));
                }
            }
        }
    }

    /// A length prefix was read; moves on and returns an event if one is due.
    fn length_complete(
        &mut self,
        part: FramePart,
        value: i64,
    ) -> Result<Option<BlobEvent>, FrameError> {
        let target = match part {
            FramePart::HeaderLength => FramePart::Header,
            FramePart::DataLength => FramePart::Data,
            _ => FramePart::Footer,
        };
        let Ok(len) = u64::try_from(value) else {
            return Err(FrameError::NegativeLength {
                item: self.item,
                part: target,
                offset: self.part_offset,
                length: value,
            });
        };
        if target == FramePart::Data {
            self.data_len = len;
            self.state = if len == 0 {
                State::length(FramePart::FooterLength)
            } else {
                State::Data { remaining: len }
            };
            return Ok(Some(BlobEvent::ItemStart {
                index: self.item,
                header: self.header.take().unwrap_or_default(),
                data_len: Some(len),
            }));
        }
        let limit = self.options.max_json_len;
        let len = match usize::try_from(len) {
            Ok(len) if len <= limit => len,
            _ => {
                return Err(FrameError::LengthTooLarge {
                    item: self.item,
                    part: target,
                    offset: self.part_offset,
                    length: len,
                    limit: limit as u64,
                });
            }
        };
        if target == FramePart::Footer {
            self.footer_offset = self.part_offset;
        }
        self.part_offset = self.offset;
        if self.json.capacity() > RETAINED_JSON_CAPACITY {
            self.json = Vec::new();
        }
        self.json.clear();
        self.state = State::Json { part: target, len };
        Ok(None)
    }

    /// A header or footer JSON was read completely; moves on and returns an event if one
    /// is due.
    fn json_complete(&mut self, part: FramePart) -> Result<Option<BlobEvent>, FrameError> {
        let invalid = |reason| FrameError::InvalidJson {
            item: self.item,
            part,
            offset: self.part_offset,
            reason,
        };
        if part == FramePart::Header {
            let header = BlobItemHeader::from_json(&self.json).map_err(invalid)?;
            self.header = Some(header);
            self.json.clear();
            self.state = State::length(FramePart::DataLength);
            return Ok(None);
        }
        let checksum = Checksum::from_footer_json(&self.json).map_err(invalid)?;
        self.json.clear();
        let verified = match &mut self.digests {
            Some(digests) => match digests.take_matching(&checksum) {
                Some(actual) if actual != checksum => {
                    return Err(FrameError::ChecksumMismatch {
                        item: self.item,
                        offset: self.footer_offset,
                        data_len: self.data_len,
                        expected: checksum,
                        actual,
                    });
                }
                Some(_) => true,
                None => false,
            },
            None => false,
        };
        let end = ItemEnd {
            index: self.item,
            data_len: self.data_len,
            checksum,
            verified,
        };
        self.item += 1;
        self.state = State::length(FramePart::HeaderLength);
        Ok(Some(BlobEvent::ItemEnd(end)))
    }
}

/// Appends `data` to `buf`, growing its capacity geometrically but never beyond `total`
/// (the complete length of the document being collected).
fn append_bounded(buf: &mut Vec<u8>, data: &[u8], total: usize) {
    let needed = buf.len() + data.len();
    if needed > buf.capacity() {
        let target = needed.max(buf.capacity().saturating_mul(2)).min(total);
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChecksumType, encode_items};

    fn decode_all(dec: &mut BlobFrameDecoder, bytes: &[u8]) -> Result<Vec<BlobEvent>, FrameError> {
        let mut input = Bytes::copy_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(ev) = dec.decode(&mut input)? {
            events.push(ev);
        }
        Ok(events)
    }

    fn frame(header: &[u8], data: &[u8], footer: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for part in [header, data, footer] {
            v.extend_from_slice(&(part.len() as i64).to_le_bytes());
            v.extend_from_slice(part);
        }
        v
    }

    #[test]
    fn decodes_items_and_verifies() {
        let stream = encode_items(&[
            (
                BlobItemHeader::for_column(3),
                &b"item-one"[..],
                ChecksumType::Crc32,
            ),
            (BlobItemHeader::default(), &b""[..], ChecksumType::Md5),
            (BlobItemHeader::default(), &b"x"[..], ChecksumType::None),
        ]);
        let mut dec = BlobFrameDecoder::new();
        let events = decode_all(&mut dec, &stream).unwrap();
        dec.finish().unwrap();
        assert_eq!(
            events,
            vec![
                BlobEvent::ItemStart {
                    index: 0,
                    header: BlobItemHeader::for_column(3),
                    data_len: Some(8)
                },
                BlobEvent::Data(Bytes::from_static(b"item-one")),
                BlobEvent::ItemEnd(ItemEnd {
                    index: 0,
                    data_len: 8,
                    checksum: Checksum::Crc32(1_548_719_572),
                    verified: true
                }),
                BlobEvent::ItemStart {
                    index: 1,
                    header: BlobItemHeader::default(),
                    data_len: Some(0)
                },
                BlobEvent::ItemEnd(ItemEnd {
                    index: 1,
                    data_len: 0,
                    checksum: Checksum::compute(ChecksumType::Md5, b""),
                    verified: true
                }),
                BlobEvent::ItemStart {
                    index: 2,
                    header: BlobItemHeader::default(),
                    data_len: Some(1)
                },
                BlobEvent::Data(Bytes::from_static(b"x")),
                BlobEvent::ItemEnd(ItemEnd {
                    index: 2,
                    data_len: 1,
                    checksum: Checksum::None,
                    verified: false
                }),
            ]
        );
        assert_eq!(dec.items_completed(), 3);
        assert_eq!(dec.bytes_consumed(), stream.len() as u64);
        assert!(matches!(
            dec.decode(&mut Bytes::new()),
            Err(FrameError::InvalidState { .. })
        ));
    }

    #[test]
    fn checksum_mismatch_names_item_and_offset() {
        let good = frame(b"{}", b"abc", br#"{"Checksum": {"Type": 0}}"#);
        let bad = frame(
            b"{}",
            b"abd",
            br#"{"Checksum": {"Type": 1, "Crc32": 891568578}}"#,
        );
        assert_eq!(crc32_of(b"abc"), 891_568_578);
        let mut stream = good.clone();
        stream.extend_from_slice(&bad);
        let mut dec = BlobFrameDecoder::new();
        let err = decode_all(&mut dec, &stream).unwrap_err();
        assert_eq!(
            err,
            FrameError::ChecksumMismatch {
                item: 1,
                offset: (good.len() + 8 + 2 + 8 + 3) as u64,
                data_len: 3,
                expected: Checksum::Crc32(891_568_578),
                actual: Checksum::Crc32(crc32_of(b"abd")),
            }
        );
        // Poisoned: the same error again.
        assert_eq!(dec.decode(&mut Bytes::new()), Err(err.clone()));
        assert_eq!(dec.finish(), Err(err));
        // Verification off: accepted, not verified.
        let mut dec = BlobFrameDecoder::with_options(
            BlobDecoderOptions::default().with_verify_checksums(false),
        );
        let events = decode_all(&mut dec, &stream).unwrap();
        assert!(matches!(
            events.last(),
            Some(BlobEvent::ItemEnd(ItemEnd {
                verified: false,
                ..
            }))
        ));
        dec.finish().unwrap();
    }

    fn crc32_of(data: &[u8]) -> u32 {
        crate::frame::crc32(data)
    }

    #[test]
    fn rejects_bad_lengths_before_allocating() {
        let mut dec = BlobFrameDecoder::new();
        let err = decode_all(&mut dec, &(-1i64).to_le_bytes()).unwrap_err();
        assert_eq!(
            err,
            FrameError::NegativeLength {
                item: 0,
                part: FramePart::Header,
                offset: 0,
                length: -1
            }
        );
        let mut dec = BlobFrameDecoder::new();
        let err = decode_all(&mut dec, &i64::MAX.to_le_bytes()).unwrap_err();
        assert!(matches!(
            err,
            FrameError::LengthTooLarge {
                part: FramePart::Header,
                ..
            }
        ));
        assert_eq!(dec.json.capacity(), 0);

        let mut dec =
            BlobFrameDecoder::with_options(BlobDecoderOptions::default().with_max_json_len(2));
        let mut s = frame(b"{}", b"", b"");
        s.truncate(8 + 2 + 8);
        s.extend_from_slice(&3i64.to_le_bytes());
        let err = decode_all(&mut dec, &s).unwrap_err();
        assert_eq!(
            err,
            FrameError::LengthTooLarge {
                item: 0,
                part: FramePart::Footer,
                offset: 18,
                length: 3,
                limit: 2
            }
        );

        let mut s = frame(b"{}", b"", b"");
        s[10..18].copy_from_slice(&i64::MIN.to_le_bytes());
        let err = decode_all(&mut BlobFrameDecoder::new(), &s).unwrap_err();
        assert!(matches!(
            err,
            FrameError::NegativeLength {
                part: FramePart::Data,
                offset: 10,
                ..
            }
        ));
    }

    #[test]
    fn invalid_json_is_reported() {
        let s = frame(b"{\"ColumnIndex\": \"x\"}", b"", b"");
        let err = decode_all(&mut BlobFrameDecoder::new(), &s).unwrap_err();
        assert!(matches!(
            err,
            FrameError::InvalidJson {
                item: 0,
                part: FramePart::Header,
                offset: 8,
                ..
            }
        ));
        let s = frame(b"{}", b"", b"nope");
        let err = decode_all(&mut BlobFrameDecoder::new(), &s).unwrap_err();
        assert!(matches!(
            err,
            FrameError::InvalidJson {
                item: 0,
                part: FramePart::Footer,
                offset: 26,
                ..
            }
        ));
        assert!(
            err.to_string().contains("footer JSON at byte offset 26"),
            "{err}"
        );
    }

    #[test]
    fn empty_header_and_footer_are_tolerated() {
        let s = frame(b"", b"zz", b"");
        let mut dec = BlobFrameDecoder::new();
        let events = decode_all(&mut dec, &s).unwrap();
        assert_eq!(events.len(), 3);
        dec.finish().unwrap();
    }

    #[test]
    fn truncation_is_reported_at_every_cut() {
        let s = frame(b"{}", b"abc", br#"{"Checksum": {"Type": 0}}"#);
        for cut in 1..s.len() {
            let mut dec = BlobFrameDecoder::new();
            decode_all(&mut dec, &s[..cut]).unwrap();
            assert!(dec.buffered_len() <= dec.max_buffered_len());
            match dec.finish() {
                Err(FrameError::Truncated {
                    item: 0,
                    offset,
                    missing,
                    ..
                }) => {
                    assert_eq!(offset, cut as u64);
                    assert!(missing > 0);
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        let mut dec = BlobFrameDecoder::new();
        decode_all(&mut dec, &s[..3]).unwrap();
        assert_eq!(
            dec.finish(),
            Err(FrameError::Truncated {
                item: 0,
                part: FramePart::HeaderLength,
                offset: 3,
                missing: 5
            })
        );
    }

    #[test]
    fn append_bounded_never_exceeds_total() {
        let mut buf = Vec::new();
        for _ in 0..1000 {
            append_bounded(&mut buf, b"x", 1000);
            assert!(buf.capacity() <= 1000);
        }
        assert_eq!(buf.len(), 1000);
    }
}
