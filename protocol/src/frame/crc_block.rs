//! CRC32C block framing of `BlobRead` response bodies (protocol.md B§6.4 point 1):
//! `([1..=4096 data bytes][u32 LE CRC-32C of those bytes])*`, every block but the last
//! carrying exactly 4096 data bytes; an empty payload is an empty stream.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::checksum::{crc32c, crc32c_append};
use super::error::FrameError;

/// Data bytes in every block but the last.
pub const CRC32C_BLOCK_LEN: usize = 4096;
/// Length of the CRC-32C trailer of a block.
pub const CRC32C_TRAILER_LEN: usize = 4;
/// Length of a full block with its trailer; the most a [`Crc32cDeframer`] ever holds.
pub const CRC32C_FRAMED_BLOCK_LEN: usize = CRC32C_BLOCK_LEN + CRC32C_TRAILER_LEN;

/// Length of the CRC32C-blocked form of a payload of `payload_len` bytes.
pub const fn crc32c_framed_len(payload_len: u64) -> u64 {
    let blocks = payload_len.div_ceil(CRC32C_BLOCK_LEN as u64);
    payload_len + blocks * CRC32C_TRAILER_LEN as u64
}

/// Frames a complete payload into CRC32C blocks.
pub fn crc32c_frame(payload: &[u8]) -> Bytes {
    let len = usize::try_from(crc32c_framed_len(payload.len() as u64)).unwrap_or(0);
    let mut out = BytesMut::with_capacity(len);
    let mut framer = Crc32cFramer::new();
    framer.push(payload, &mut out);
    framer.finish(&mut out);
    out.freeze()
}

/// Verifies and strips the CRC32C blocks of a complete body.
///
/// # Errors
/// As [`Crc32cDeframer::decode`] and [`Crc32cDeframer::finish`].
pub fn crc32c_deframe(framed: &[u8]) -> Result<Bytes, FrameError> {
    let mut out = BytesMut::with_capacity(framed.len());
    let mut deframer = Crc32cDeframer::new();
    let mut input = Bytes::copy_from_slice(framed);
    while let Some(block) = deframer.decode(&mut input)? {
        out.put_slice(&block);
    }
    if let Some(block) = deframer.finish()? {
        out.put_slice(&block);
    }
    Ok(out.freeze())
}

/// Push-based CRC32C block framer (the server side of `BlobRead`).
///
/// Data is copied straight to the output as it is pushed; the framer only keeps the
/// running CRC of the current block and inserts each trailer when a block is full.
/// [`finish`](Self::finish) writes the trailer of the last, partial block.
///
/// ```
/// use maxstorage_protocol::frame::{crc32c_deframe, Crc32cFramer};
///
/// let mut framer = Crc32cFramer::new();
/// let mut body = Vec::new();
/// framer.push(b"hello ", &mut body);
/// framer.push(b"blob", &mut body);
/// framer.finish(&mut body);
/// assert_eq!(body.len(), 10 + 4);
/// assert_eq!(crc32c_deframe(&body)?, &b"hello blob"[..]);
/// # Ok::<(), maxstorage_protocol::frame::FrameError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Crc32cFramer {
    crc: u32,
    in_block: usize,
    payload_len: u64,
}

impl Crc32cFramer {
    /// A framer at the start of a payload.
    pub fn new() -> Self {
        Crc32cFramer::default()
    }

    /// Frames the next piece of payload into `out`.
    ///
    /// `out` must be able to grow (such as `Vec<u8>` or `BytesMut`); a fixed-size
    /// `BufMut` that runs out of space panics, as `BufMut` does.
    pub fn push(&mut self, mut data: &[u8], out: &mut impl BufMut) {
        self.payload_len += data.len() as u64;
        while !data.is_empty() {
            let n = (CRC32C_BLOCK_LEN - self.in_block).min(data.len());
            let (piece, rest) = data.split_at(n);
            out.put_slice(piece);
            self.crc = crc32c_append(self.crc, piece);
            self.in_block += n;
            data = rest;
            if self.in_block == CRC32C_BLOCK_LEN {
                out.put_u32_le(self.crc);
                self.crc = 0;
                self.in_block = 0;
            }
        }
    }

    /// Ends the payload: writes the trailer of the last block if it is partial. The
    /// framer is then ready for a new payload.
    pub fn finish(&mut self, out: &mut impl BufMut) {
        if self.in_block > 0 {
            out.put_u32_le(self.crc);
        }
        *self = Crc32cFramer::new();
    }

    /// Number of payload bytes pushed since the start (or the last `finish`).
    pub fn payload_len(&self) -> u64 {
        self.payload_len
    }
}

/// Push-based CRC32C block deframer (the client side of `BlobRead`).
///
/// Feed the body in any chunking with [`decode`](Self::decode); it returns the data of
/// each block only after verifying the block's CRC-32C. Blocks lying whole in the input
/// are returned as zero-copy slices; a block split across inputs is collected first, so
/// the deframer holds at most [`CRC32C_FRAMED_BLOCK_LEN`] bytes. The last, partial block
/// is only recognisable at the end of the body: [`finish`](Self::finish) verifies and
/// returns it. After an error the deframer is poisoned and returns the same error again.
///
/// ```
/// use bytes::Bytes;
/// use maxstorage_protocol::frame::{crc32c_frame, Crc32cDeframer};
///
/// let body = crc32c_frame(&[7u8; 5000]);
/// let mut deframer = Crc32cDeframer::new();
/// let mut payload = Vec::new();
/// for chunk in body.chunks(1000) {
///     let mut chunk = Bytes::copy_from_slice(chunk);
///     while let Some(data) = deframer.decode(&mut chunk)? {
///         payload.extend_from_slice(&data);
///     }
/// }
/// if let Some(data) = deframer.finish()? {
///     payload.extend_from_slice(&data);
/// }
/// assert_eq!(payload, vec![7u8; 5000]);
/// # Ok::<(), maxstorage_protocol::frame::FrameError>(())
/// ```
#[derive(Debug, Default)]
pub struct Crc32cDeframer {
    buf: BytesMut,
    block: u64,
    payload_len: u64,
    finished: bool,
    failed: Option<FrameError>,
}

impl Crc32cDeframer {
    /// A deframer at the start of a body.
    pub fn new() -> Self {
        Crc32cDeframer::default()
    }

    /// Consumes bytes from the front of `input` up to the end of the next full block and
    /// returns its verified data, or returns `Ok(None)` once `input` is used up.
    ///
    /// # Errors
    /// [`FrameError::CrcMismatch`] naming the block, its byte offset and both CRCs;
    /// [`FrameError::InvalidState`] after [`finish`](Self::finish); the earlier error
    /// again after an error.
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.finished {
            return Err(FrameError::InvalidState {
                operation: "Crc32cDeframer::decode",
                reason: "the body was already finished",
            });
        }
        if self.buf.is_empty() && input.len() >= CRC32C_FRAMED_BLOCK_LEN {
            let mut block = input.split_to(CRC32C_FRAMED_BLOCK_LEN);
            let data = block.split_to(CRC32C_BLOCK_LEN);
            return self.verify(data, &block).map(Some);
        }
        let n = (CRC32C_FRAMED_BLOCK_LEN - self.buf.len()).min(input.len());
        self.buf.extend_from_slice(&input[..n]);
        input.advance(n);
        if self.buf.len() < CRC32C_FRAMED_BLOCK_LEN {
            return Ok(None);
        }
        let mut block = std::mem::take(&mut self.buf).freeze();
        let data = block.split_to(CRC32C_BLOCK_LEN);
        self.verify(data, &block).map(Some)
    }

    /// Declares the end of the body and returns the verified data of its last, partial
    /// block, if any.
    ///
    /// # Errors
    /// [`FrameError::CrcTrailingFragment`] if the body ends with 1..=4 bytes after the
    /// last full block; [`FrameError::CrcMismatch`] if the last block is corrupt; the
    /// earlier error again after an error.
    pub fn finish(&mut self) -> Result<Option<Bytes>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.finished || self.buf.is_empty() {
            self.finished = true;
            return Ok(None);
        }
        self.finished = true;
        if self.buf.len() <= CRC32C_TRAILER_LEN {
            let err = FrameError::CrcTrailingFragment {
                block: self.block,
                offset: self.block_offset(),
                length: self.buf.len() as u64,
            };
            self.failed = Some(err.clone());
            return Err(err);
        }
        let mut block = std::mem::take(&mut self.buf).freeze();
        let data = block.split_to(block.len() - CRC32C_TRAILER_LEN);
        self.verify(data, &block).map(Some)
    }

    /// Number of bytes held (a block not yet complete); at most
    /// [`CRC32C_FRAMED_BLOCK_LEN`].
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Number of blocks verified so far.
    pub fn blocks_verified(&self) -> u64 {
        self.block
    }

    /// Number of payload bytes released so far.
    pub fn payload_len(&self) -> u64 {
        self.payload_len
    }

    /// Byte offset of the current block in the body (all earlier blocks are full).
    fn block_offset(&self) -> u64 {
        self.block * CRC32C_FRAMED_BLOCK_LEN as u64
    }

    fn verify(&mut self, data: Bytes, trailer: &[u8]) -> Result<Bytes, FrameError> {
        let mut t = [0u8; CRC32C_TRAILER_LEN];
        t.copy_from_slice(trailer);
        let expected = u32::from_le_bytes(t);
        let actual = crc32c(&data);
        if expected != actual {
            let err = FrameError::CrcMismatch {
                block: self.block,
                offset: self.block_offset(),
                data_len: data.len() as u64,
                expected,
                actual,
            };
            self.failed = Some(err.clone());
            return Err(err);
        }
        self.block += 1;
        self.payload_len += data.len() as u64;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_len_and_layout() {
        assert_eq!(crc32c_framed_len(0), 0);
        assert_eq!(crc32c_framed_len(1), 5);
        assert_eq!(crc32c_framed_len(4096), 4100);
        assert_eq!(crc32c_framed_len(4097), 4105);
        assert!(crc32c_frame(b"").is_empty());
        let framed = crc32c_frame(b"123456789");
        assert_eq!(&framed[..9], b"123456789");
        assert_eq!(&framed[9..], &0xE306_9283u32.to_le_bytes());
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let framed = crc32c_frame(&data);
        assert_eq!(framed.len() as u64, crc32c_framed_len(10_000));
        assert_eq!(&framed[4096..4100], &crc32c(&data[..4096]).to_le_bytes());
        assert_eq!(crc32c_deframe(&framed).unwrap(), data);
    }

    #[test]
    fn errors_name_block_and_offset() {
        let data = vec![1u8; 5000];
        let mut framed = crc32c_frame(&data).to_vec();
        framed[4100] ^= 0x10;
        match crc32c_deframe(&framed) {
            Err(FrameError::CrcMismatch {
                block: 1,
                offset: 4100,
                data_len: 904,
                expected,
                actual,
            }) => {
                assert_eq!(expected, crc32c(&data[4096..]));
                assert_ne!(actual, expected);
            }
            other => panic!("{other:?}"),
        }
        let mut framed = crc32c_frame(&vec![2u8; 4096]).to_vec();
        framed.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            crc32c_deframe(&framed),
            Err(FrameError::CrcTrailingFragment {
                block: 1,
                offset: 4100,
                length: 3
            })
        );
        assert!(matches!(
            crc32c_deframe(&[0, 0, 0, 0]),
            Err(FrameError::CrcTrailingFragment {
                block: 0,
                offset: 0,
                length: 4
            })
        ));
        // A single zero byte with CRC32C(0x00) is a valid one-byte payload.
        let mut one = vec![0u8];
        one.extend_from_slice(&crc32c(&[0]).to_le_bytes());
        assert_eq!(crc32c_deframe(&one).unwrap(), &[0u8][..]);
    }

    #[test]
    fn deframer_poisoned_and_finished_states() {
        let mut d = Crc32cDeframer::new();
        let mut bad = Bytes::from_static(&[0u8; 4100]);
        bad = {
            let mut v = bad.to_vec();
            v[0] = 1;
            Bytes::from(v)
        };
        let err = d.decode(&mut bad).unwrap_err();
        assert_eq!(d.decode(&mut Bytes::new()), Err(err.clone()));
        assert_eq!(d.finish(), Err(err));
        let mut d = Crc32cDeframer::new();
        assert_eq!(d.finish(), Ok(None));
        assert!(matches!(
            d.decode(&mut Bytes::new()),
            Err(FrameError::InvalidState { .. })
        ));
    }
}
