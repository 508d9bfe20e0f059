//! Splits an Arrow IPC byte stream into messages, enforcing the message size limit
//! before buffering anything a length field declares.
//!
//! Encapsulated message format: `[0xFFFFFFFF][int32 metadata length][metadata flatbuffer,
//! padded][body]`, or the pre-1.0 form without the continuation marker. A metadata
//! length of 0 is the end-of-stream marker.

use arrow_buffer::Buffer;
use bytes::{Buf, Bytes};

use crate::error::CodecError;

const CONTINUATION: [u8; 4] = [0xFF; 4];

/// A complete frame of the stream.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A message: its offset in the stream, its metadata flatbuffer and its body.
    Message {
        offset: u64,
        metadata: Bytes,
        body: Buffer,
    },
    /// The end-of-stream marker.
    EndOfStream,
}

#[derive(Debug)]
enum State {
    /// Reading the length prefix; `have` bytes of `buf` are filled.
    Prefix { buf: [u8; 8], have: usize },
    /// Reading `len` bytes of metadata.
    Metadata { len: usize, buf: Vec<u8> },
    /// Reading `len` bytes of body.
    Body {
        metadata: Bytes,
        len: usize,
        buf: Vec<u8>,
    },
    /// The end-of-stream marker was read.
    Ended,
}

/// The framing state machine.
#[derive(Debug)]
pub(crate) struct Framer {
    state: State,
    /// Stream bytes consumed.
    offset: u64,
    /// Offset of the message being read.
    message_start: u64,
    max_message_bytes: usize,
}

/// Most bytes of a message body reserved before they arrive. A body whose bytes arrive in
/// several pieces gets its declared length (already checked against the message limit)
/// up to this at once, so it is copied exactly once instead of through a chain of growing
/// buffers; reserved pages cost no memory until bytes are written to them. Larger bodies
/// then grow with the bytes that arrive, never beyond the declared length.
const UPFRONT_BODY_BYTES: usize = 64 * 1024 * 1024;

fn reserve_for(buf: &mut Vec<u8>, declared: usize, incoming: usize) {
    let needed = buf.len() + incoming;
    if needed > buf.capacity() {
        let target = needed.max(buf.capacity().saturating_mul(2)).min(declared);
        buf.reserve_exact(target - buf.len());
    }
}

impl Framer {
    pub(crate) fn new(max_message_bytes: usize) -> Self {
        Framer {
            state: State::Prefix {
                buf: [0; 8],
                have: 0,
            },
            offset: 0,
            message_start: 0,
            max_message_bytes,
        }
    }

    /// Stream bytes consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the end-of-stream marker was read.
    pub(crate) fn ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// Whether the input so far stops between two messages.
    pub(crate) fn at_boundary(&self) -> bool {
        matches!(self.state, State::Prefix { have: 0, .. } | State::Ended)
    }

    /// Describes where an input that ends now stops, for truncation errors.
    pub(crate) fn position(&self) -> String {
        match &self.state {
            State::Prefix { have: 0, .. } => "between messages".to_string(),
            State::Prefix { .. } => {
                format!(
                    "inside the length prefix of the message at offset {}",
                    self.message_start
                )
            }
            State::Metadata { len, buf } => format!(
                "inside the metadata of the message at offset {} ({} of {len} bytes)",
                self.message_start,
                buf.len()
            ),
            State::Body { len, buf, .. } => format!(
                "inside the body of the message at offset {} ({} of {len} bytes)",
                self.message_start,
                buf.len()
            ),
            State::Ended => "after the end-of-stream marker".to_string(),
        }
    }

    fn too_large(&self, declared: u64) -> CodecError {
        CodecError::MessageTooLarge {
            offset: self.message_start,
            declared,
            limit: self.max_message_bytes as u64,
        }
    }

    fn invalid(&self, detail: impl Into<String>) -> CodecError {
        CodecError::InvalidIpc {
            offset: self.message_start,
            detail: detail.into(),
        }
    }

    /// Consumes bytes from `input` until one frame is complete (returned) or `input` is
    /// empty (`None`). Bytes after the end-of-stream marker are an error.
    pub(crate) fn push(&mut self, input: &mut Bytes) -> Result<Option<Frame>, CodecError> {
        while !input.is_empty() {
            match &mut self.state {
                State::Prefix { buf, have } => {
                    if *have == 0 {
                        self.message_start = self.offset;
                    }
                    // 4 bytes first; 4 more when they are the continuation marker.
                    let want = if *have >= 4 && buf[..4] == CONTINUATION {
                        8
                    } else {
                        4
                    };
                    let n = (want - *have).min(input.len());
                    buf[*have..*have + n].copy_from_slice(&input[..n]);
                    *have += n;
                    input.advance(n);
                    self.offset += n as u64;
                    if *have < want {
                        continue;
                    }
                    if want == 4 && buf[..4] == CONTINUATION {
                        continue;
                    }
                    let word = [buf[want - 4], buf[want - 3], buf[want - 2], buf[want - 1]];
                    let len = i32::from_le_bytes(word);
                    if len == 0 {
                        self.state = State::Ended;
                        return Ok(Some(Frame::EndOfStream));
                    }
                    if len < 0 {
                        return Err(self.invalid(format!("negative metadata length {len}")));
                    }
                    // `len` is positive, so it fits usize.
                    let len = len as usize;
                    if len > self.max_message_bytes {
                        return Err(self.too_large(len as u64));
                    }
                    self.state = State::Metadata {
                        len,
                        buf: Vec::new(),
                    };
                }
                State::Metadata { len, buf } => {
                    let len = *len;
                    let metadata = if buf.is_empty() && input.len() >= len {
                        self.offset += len as u64;
                        input.split_to(len)
                    } else {
                        let n = (len - buf.len()).min(input.len());
                        reserve_for(buf, len, n);
                        buf.extend_from_slice(&input[..n]);
                        input.advance(n);
                        self.offset += n as u64;
                        if buf.len() < len {
                            continue;
                        }
                        Bytes::from(std::mem::take(buf))
                    };
                    let body_len = match arrow_ipc::root_as_message(&metadata) {
                        Ok(m) => m.bodyLength(),
                        Err(e) => {
                            return Err(self.invalid(format!("invalid message flatbuffer: {e}")));
                        }
                    };
                    if body_len < 0 {
                        return Err(self.invalid(format!("negative body length {body_len}")));
                    }
                    // Non-negative i64 fits u64.
                    let total = (len as u64).saturating_add(body_len as u64);
                    if total > self.max_message_bytes as u64 {
                        return Err(self.too_large(total));
                    }
                    // Bounded by `max_message_bytes`, so it fits usize.
                    let body_len = body_len as usize;
                    if body_len == 0 {
                        self.state = State::Prefix {
                            buf: [0; 8],
                            have: 0,
                        };
                        return Ok(Some(Frame::Message {
                            offset: self.message_start,
                            metadata,
                            body: Buffer::from(Vec::<u8>::new()),
                        }));
                    }
                    self.state = State::Body {
                        metadata,
                        len: body_len,
                        buf: Vec::new(),
                    };
                }
                State::Body { metadata, len, buf } => {
                    let len = *len;
                    let body = if buf.is_empty() && input.len() >= len {
                        self.offset += len as u64;
                        Buffer::from(input.split_to(len))
                    } else {
                        if buf.is_empty() {
                            buf.reserve_exact(len.min(UPFRONT_BODY_BYTES.max(input.len())));
                        }
                        let n = (len - buf.len()).min(input.len());
                        reserve_for(buf, len, n);
                        buf.extend_from_slice(&input[..n]);
                        input.advance(n);
                        self.offset += n as u64;
                        if buf.len() < len {
                            continue;
                        }
                        Buffer::from_vec(std::mem::take(buf))
                    };
                    let metadata = std::mem::take(metadata);
                    self.state = State::Prefix {
                        buf: [0; 8],
                        have: 0,
                    };
                    return Ok(Some(Frame::Message {
                        offset: self.message_start,
                        metadata,
                        body,
                    }));
                }
                State::Ended => {
                    return Err(CodecError::TrailingData {
                        offset: self.offset,
                    });
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_metadata_rejected_before_buffering() {
        let mut f = Framer::new(1024);
        let mut input = Bytes::from_static(&[0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x10, 0x00, 0x00]);
        let e = f.push(&mut input).unwrap_err();
        assert_eq!(
            e,
            CodecError::MessageTooLarge {
                offset: 0,
                declared: 4096,
                limit: 1024
            }
        );
    }

    #[test]
    fn negative_length() {
        let mut f = Framer::new(1024);
        let mut input = Bytes::from_static(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(
            f.push(&mut input),
            Err(CodecError::InvalidIpc { .. })
        ));
    }

    #[test]
    fn eos_then_trailing() {
        let mut f = Framer::new(1024);
        let mut input = Bytes::from_static(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
        assert!(matches!(f.push(&mut input), Ok(Some(Frame::EndOfStream))));
        assert!(f.ended());
        let mut more = Bytes::from_static(&[1]);
        assert_eq!(
            f.push(&mut more).unwrap_err(),
            CodecError::TrailingData { offset: 8 }
        );
    }

    #[test]
    fn legacy_eos() {
        let mut f = Framer::new(1024);
        let mut input = Bytes::from_static(&[0, 0]);
        assert!(f.push(&mut input).unwrap().is_none());
        assert!(!f.at_boundary());
        let mut input = Bytes::from_static(&[0, 0]);
        assert!(matches!(f.push(&mut input), Ok(Some(Frame::EndOfStream))));
    }

    #[test]
    fn growth_never_exceeds_declared() {
        let mut v = Vec::new();
        let declared = 1000;
        for _ in 0..10 {
            reserve_for(&mut v, declared, 100);
            v.extend_from_slice(&[0; 100]);
            assert!(v.capacity() <= declared);
        }
    }
}
