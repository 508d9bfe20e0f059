//! The payload of a `BlobRead` response, after CRC32C blocks and compression are
//! removed (protocol.md B§6.4 point 3): blob frames, or for a single reference possibly
//! the raw blob bytes.

use bytes::{Buf, Bytes, BytesMut};

use super::blob::{BlobItemHeader, LENGTH_PREFIX_LEN};
use super::checksum::Checksum;
use super::decoder::{BlobDecoderOptions, BlobEvent, BlobFrameDecoder, ItemEnd};
use super::error::FrameError;

/// How a [`BlobPayloadDecoder`] interprets its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadMode {
    /// The payload is the raw bytes of one blob.
    Raw,
    /// The payload is blob frames (a request for several references).
    Framed,
    /// Decide from the first bytes (a request for one reference, which the server may
    /// answer either way). See [`BlobPayloadDecoder`] for the heuristic.
    #[default]
    Auto,
}

#[derive(Debug)]
enum Inner {
    /// `Auto`, undecided: the first bytes of the payload.
    Sniff { buf: BytesMut },
    /// One raw item.
    Raw {
        started: bool,
        ended: bool,
        pending: Bytes,
        len: u64,
    },
    /// Frames; `pending` holds sniffed bytes not yet given to the decoder.
    Framed {
        decoder: Box<BlobFrameDecoder>,
        pending: Bytes,
    },
}

/// Push-based decoder of a `BlobRead` payload, in [`PayloadMode::Raw`],
/// [`PayloadMode::Framed`] or [`PayloadMode::Auto`] mode, producing the same
/// [`BlobEvent`]s as [`BlobFrameDecoder`] in every mode.
///
/// Use [`decode`](Self::decode) like [`BlobFrameDecoder::decode`] (call until it returns
/// `Ok(None)`, then feed the next chunk); at the end of the payload call
/// [`finish`](Self::finish) **until it returns `Ok(None)`**: in raw mode it emits the
/// item's end (and its start and buffered data if they are still due).
///
/// A raw payload is one item with an empty header, `data_len: None` in its
/// [`BlobEvent::ItemStart`] and no checksum; an empty raw payload is one empty item.
///
/// # The `Auto` heuristic
///
/// The payload is taken as framed if and only if
/// 1. its first 8 bytes are a little-endian `i64` in `2..=max_json_len` (a header JSON
///    is at least `{}`), and
/// 2. the header bytes that follow begin with `{` and, once complete, parse as a blob
///    item header (a JSON object whose known members have the right types).
///
/// Otherwise it is raw. Decisions are taken as early as possible (after 8 bytes when
/// the length is implausible, after 9 when no `{` follows); until then the decoder holds
/// at most `8 + max_json_len` bytes. A payload shorter than 8 bytes is raw. A payload
/// that ends after a plausible length and a `{` but before its header is complete is
/// reported as [`FrameError::Truncated`], since it looks like a cut-off framed payload.
///
/// The heuristic errs only for a raw blob that itself begins with a complete, valid
/// blob frame header: 5 or more zero bytes in positions 3..8 followed by exactly that
/// many bytes of a JSON object. Random or compressed data does so with probability below
/// 2^-40; practically only a blob that *contains* a blob frame stream can be
/// misread. When the server's framing is known, use `Raw` or `Framed` instead.
#[derive(Debug)]
pub struct BlobPayloadDecoder {
    options: BlobDecoderOptions,
    mode: PayloadMode,
    inner: Inner,
    finished: bool,
    failed: Option<FrameError>,
}

impl BlobPayloadDecoder {
    /// A decoder for `mode` with default options.
    pub fn new(mode: PayloadMode) -> Self {
        BlobPayloadDecoder::with_options(mode, BlobDecoderOptions::default())
    }

    /// A decoder for `mode` with the given options (which also bound sniffing in `Auto`
    /// mode).
    pub fn with_options(mode: PayloadMode, options: BlobDecoderOptions) -> Self {
        let inner = match mode {
            PayloadMode::Raw => Inner::raw(Bytes::new()),
            PayloadMode::Framed => Inner::framed(options, Bytes::new()),
            PayloadMode::Auto => Inner::Sniff {
                buf: BytesMut::new(),
            },
        };
        BlobPayloadDecoder {
            options,
            mode,
            inner,
            finished: false,
            failed: None,
        }
    }

    /// The mode the decoder was created with.
    pub fn mode(&self) -> PayloadMode {
        self.mode
    }

    /// Whether the payload turned out to be framed: `Some(true)`/`Some(false)` once
    /// known, `None` while an `Auto` decoder is still looking at the first bytes.
    pub fn is_framed(&self) -> Option<bool> {
        match self.inner {
            Inner::Sniff { .. } => None,
            Inner::Raw { .. } => Some(false),
            Inner::Framed { .. } => Some(true),
        }
    }

    /// Consumes bytes from the front of `input` up to the next event and returns it, or
    /// returns `Ok(None)` once `input` is used up (and nothing is pending).
    ///
    /// # Errors
    /// As [`BlobFrameDecoder::decode`].
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<BlobEvent>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.finished {
            return Err(FrameError::InvalidState {
                operation: "BlobPayloadDecoder::decode",
                reason: "the payload was already finished",
            });
        }
        let result = self.step(input, false);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Declares the end of the payload and returns the remaining events one per call;
    /// call until it returns `Ok(None)`.
    ///
    /// # Errors
    /// [`FrameError::Truncated`] if the payload ended inside an item; the earlier error
    /// again after an error.
    pub fn finish(&mut self) -> Result<Option<BlobEvent>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.finished = true;
        let result = self.step(&mut Bytes::new(), true);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Number of bytes held inside the decoder (sniffed bytes not yet passed on, or
    /// what the frame decoder holds); never more than
    /// [`max_buffered_len`](Self::max_buffered_len).
    pub fn buffered_len(&self) -> usize {
        match &self.inner {
            Inner::Sniff { buf } => buf.len(),
            Inner::Raw { pending, .. } => pending.len(),
            Inner::Framed { decoder, pending } => pending.len() + decoder.buffered_len(),
        }
    }

    /// The most bytes the decoder ever holds: `8 + max_json_len`.
    pub fn max_buffered_len(&self) -> usize {
        LENGTH_PREFIX_LEN + self.options.max_json_len.max(LENGTH_PREFIX_LEN)
    }

    fn step(&mut self, input: &mut Bytes, at_end: bool) -> Result<Option<BlobEvent>, FrameError> {
        loop {
            match &mut self.inner {
                Inner::Sniff { buf } => {
                    match sniff(buf, input, at_end, self.options.max_json_len)? {
                        None => return Ok(None),
                        Some(framed) => {
                            let pending = std::mem::take(buf).freeze();
                            self.inner = if framed {
                                Inner::framed(self.options, pending)
                            } else {
                                Inner::raw(pending)
                            };
                        }
                    }
                }
                Inner::Raw {
                    started,
                    ended,
                    pending,
                    len,
                } => {
                    if !*started {
                        *started = true;
                        return Ok(Some(BlobEvent::ItemStart {
                            index: 0,
                            header: BlobItemHeader::default(),
                            data_len: None,
                        }));
                    }
                    let piece = if pending.is_empty() {
                        input.split_to(input.len())
                    } else {
                        std::mem::take(pending)
                    };
                    if !piece.is_empty() {
                        *len += piece.len() as u64;
                        return Ok(Some(BlobEvent::Data(piece)));
                    }
                    if at_end && !*ended {
                        *ended = true;
                        return Ok(Some(BlobEvent::ItemEnd(ItemEnd {
                            index: 0,
                            data_len: *len,
                            checksum: Checksum::None,
                            verified: false,
                        })));
                    }
                    return Ok(None);
                }
                Inner::Framed { decoder, pending } => {
                    if !pending.is_empty() {
                        if let Some(event) = decoder.decode(pending)? {
                            return Ok(Some(event));
                        }
                        continue;
                    }
                    if !input.is_empty()
                        && let Some(event) = decoder.decode(input)?
                    {
                        return Ok(Some(event));
                    }
                    if at_end {
                        // Idempotent: a finished frame decoder finishes again with `Ok`.
                        decoder.finish()?;
                    }
                    return Ok(None);
                }
            }
        }
    }
}

impl Inner {
    fn raw(pending: Bytes) -> Inner {
        Inner::Raw {
            started: false,
            ended: false,
            pending,
            len: 0,
        }
    }

    fn framed(options: BlobDecoderOptions, pending: Bytes) -> Inner {
        Inner::Framed {
            decoder: Box::new(BlobFrameDecoder::with_options(options)),
            pending,
        }
    }
}

/// Moves bytes from `input` to `buf` until the framing can be decided; returns
/// `Some(framed)` once decided, `None` when more input is needed.
fn sniff(
    buf: &mut BytesMut,
    input: &mut Bytes,
    at_end: bool,
    max_json_len: usize,
) -> Result<Option<bool>, FrameError> {
    // The length prefix.
    if buf.len() < LENGTH_PREFIX_LEN {
        let n = (LENGTH_PREFIX_LEN - buf.len()).min(input.len());
        buf.extend_from_slice(&input[..n]);
        input.advance(n);
        if buf.len() < LENGTH_PREFIX_LEN {
            return Ok(if at_end { Some(false) } else { None });
        }
    }
    let mut prefix = [0u8; LENGTH_PREFIX_LEN];
    prefix.copy_from_slice(&buf[..LENGTH_PREFIX_LEN]);
    let header_len = match usize::try_from(i64::from_le_bytes(prefix)) {
        Ok(len) if (2..=max_json_len).contains(&len) => len,
        _ => return Ok(Some(false)),
    };
    // The header JSON.
    let total = LENGTH_PREFIX_LEN + header_len;
    let n = (total - buf.len()).min(input.len());
    if buf.len() == LENGTH_PREFIX_LEN && n > 0 {
        buf.reserve(n.min(header_len));
    }
    buf.extend_from_slice(&input[..n]);
    input.advance(n);
    if buf.len() > LENGTH_PREFIX_LEN && buf[LENGTH_PREFIX_LEN] != b'{' {
        return Ok(Some(false));
    }
    if buf.len() < total {
        if !at_end {
            return Ok(None);
        }
        if buf.len() == LENGTH_PREFIX_LEN {
            // Exactly 8 bytes: a tiny raw blob.
            return Ok(Some(false));
        }
        return Err(FrameError::Truncated {
            item: 0,
            part: super::error::FramePart::Header,
            offset: buf.len() as u64,
            missing: (total - buf.len()) as u64,
        });
    }
    Ok(Some(
        BlobItemHeader::from_json(&buf[LENGTH_PREFIX_LEN..total]).is_ok(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChecksumType, encode_items};

    fn run(
        mode: PayloadMode,
        chunks: &[&[u8]],
    ) -> Result<(Vec<BlobEvent>, Option<bool>), FrameError> {
        let mut dec = BlobPayloadDecoder::new(mode);
        let mut events = Vec::new();
        for chunk in chunks {
            let mut input = Bytes::copy_from_slice(chunk);
            while let Some(ev) = dec.decode(&mut input)? {
                events.push(ev);
            }
            assert!(input.is_empty());
            assert!(dec.buffered_len() <= dec.max_buffered_len());
        }
        while let Some(ev) = dec.finish()? {
            events.push(ev);
        }
        Ok((merge_data(events), dec.is_framed()))
    }

    /// Joins consecutive data events, whose split depends on the input chunking.
    fn merge_data(events: Vec<BlobEvent>) -> Vec<BlobEvent> {
        let mut out: Vec<BlobEvent> = Vec::new();
        for ev in events {
            if let (Some(BlobEvent::Data(prev)), BlobEvent::Data(d)) = (out.last_mut(), &ev) {
                let mut joined = prev.to_vec();
                joined.extend_from_slice(d);
                *prev = Bytes::from(joined);
                continue;
            }
            out.push(ev);
        }
        out
    }

    fn data_of(events: &[BlobEvent]) -> Vec<u8> {
        events
            .iter()
            .filter_map(|e| match e {
                BlobEvent::Data(d) => Some(d.to_vec()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn raw_payloads_are_one_item() {
        for mode in [PayloadMode::Raw, PayloadMode::Auto] {
            for payload in [
                &b""[..],
                b"a",
                b"1234567",
                b"12345678",
                b"\x02\0\0\0\0\0\0\0[]",
                b"\x00\x01\x02\x03\x04\x05\x06\x07\x08",
            ] {
                let (events, framed) = run(mode, &[payload]).unwrap();
                assert_eq!(framed, Some(false), "{payload:?}");
                assert_eq!(
                    events.first(),
                    Some(&BlobEvent::ItemStart {
                        index: 0,
                        header: BlobItemHeader::default(),
                        data_len: None
                    })
                );
                assert_eq!(data_of(&events), payload);
                assert_eq!(
                    events.last(),
                    Some(&BlobEvent::ItemEnd(ItemEnd {
                        index: 0,
                        data_len: payload.len() as u64,
                        checksum: Checksum::None,
                        verified: false
                    }))
                );
                assert!(
                    events[1..events.len() - 1]
                        .iter()
                        .all(|e| matches!(e, BlobEvent::Data(d) if !d.is_empty()))
                );
            }
        }
    }

    #[test]
    fn framed_payloads_are_detected_in_any_chunking() {
        let stream = encode_items(&[
            (
                BlobItemHeader::default(),
                &b"first"[..],
                ChecksumType::Crc32,
            ),
            (
                BlobItemHeader::default(),
                &b"second"[..],
                ChecksumType::Crc32,
            ),
        ]);
        let reference = run(PayloadMode::Framed, &[&stream]).unwrap();
        assert_eq!(reference.1, Some(true));
        assert_eq!(reference.0.len(), 6);
        for split in 0..stream.len() {
            let (a, b) = stream.split_at(split);
            let got = run(PayloadMode::Auto, &[a, b]).unwrap();
            assert_eq!(got, reference, "split at {split}");
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(run(PayloadMode::Auto, &bytewise).unwrap(), reference);
    }

    #[test]
    fn empty_framed_payload_has_no_items() {
        assert_eq!(run(PayloadMode::Framed, &[]).unwrap(), (vec![], Some(true)));
    }

    #[test]
    fn cut_off_header_is_truncation() {
        let stream = encode_items(&[(BlobItemHeader::default(), &b"x"[..], ChecksumType::None)]);
        assert!(matches!(
            run(PayloadMode::Auto, &[&stream[..9]]),
            Err(FrameError::Truncated {
                item: 0,
                offset: 9,
                missing: 1,
                ..
            })
        ));
        // Cut after the header: the frame decoder reports it.
        assert!(matches!(
            run(PayloadMode::Auto, &[&stream[..12]]),
            Err(FrameError::Truncated { item: 0, .. })
        ));
    }

    #[test]
    fn json_that_is_not_a_header_means_raw() {
        let mut payload = 7i64.to_le_bytes().to_vec();
        payload.extend_from_slice(b"{\"a\"1}xyz");
        let (events, framed) = run(PayloadMode::Auto, &[&payload]).unwrap();
        assert_eq!(framed, Some(false));
        assert_eq!(data_of(&events), payload);
    }

    #[test]
    fn auto_decides_as_early_as_possible() {
        // Plausible length but no `{`: raw after 9 bytes, without waiting for the header.
        let mut dec = BlobPayloadDecoder::new(PayloadMode::Auto);
        let mut input = Bytes::copy_from_slice(&1000i64.to_le_bytes());
        assert_eq!(dec.decode(&mut input), Ok(None));
        assert_eq!(dec.is_framed(), None);
        assert_eq!(dec.buffered_len(), 8);
        let mut input = Bytes::from_static(b"[");
        assert!(matches!(
            dec.decode(&mut input),
            Ok(Some(BlobEvent::ItemStart { .. }))
        ));
        assert_eq!(dec.is_framed(), Some(false));
        // With `{`: keeps looking until the header is complete.
        let mut dec = BlobPayloadDecoder::new(PayloadMode::Auto);
        let mut input = Bytes::copy_from_slice(&1000i64.to_le_bytes());
        assert_eq!(dec.decode(&mut input), Ok(None));
        assert_eq!(dec.decode(&mut Bytes::from_static(b"{ ")), Ok(None));
        assert_eq!(dec.is_framed(), None);
        assert_eq!(dec.buffered_len(), 10);
    }

    #[test]
    fn decode_after_finish_is_an_error() {
        for mode in [PayloadMode::Raw, PayloadMode::Framed, PayloadMode::Auto] {
            let mut dec = BlobPayloadDecoder::new(mode);
            while dec.finish().unwrap().is_some() {}
            assert!(matches!(
                dec.decode(&mut Bytes::new()),
                Err(FrameError::InvalidState { .. })
            ));
            assert_eq!(dec.finish(), Ok(None), "{mode:?}");
        }
    }
}
