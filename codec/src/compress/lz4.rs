//! A push-based decoder of the LZ4 frame format (lz4_frame_format.md of the LZ4 project).
//!
//! `lz4_flex` only offers a pull-based (`Read`) frame decoder, which cannot be resumed
//! when its input runs dry mid-frame; this decoder keeps its position in the frame as
//! explicit state so it can be fed arbitrary slices. Block decoding itself is done by
//! `lz4_flex::block` (safe, bounds-checked).
//!
//! Supported: independent and linked blocks, block checksums, content checksum and
//! content size, concatenated frames, skippable frames. Not supported (rejected with an
//! error): dictionary ids and the legacy frame format.

use std::hash::Hasher as _;

use super::{Out, Progress};
use twox_hash::XxHash32;

const MAGIC: u32 = 0x184D_2204;
const LEGACY_MAGIC: u32 = 0x184C_2102;
const SKIPPABLE_MIN: u32 = 0x184D_2A50;
const SKIPPABLE_MAX: u32 = 0x184D_2A5F;
/// How far back a linked block may reference earlier output.
const WINDOW: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
enum State {
    /// Expecting the 4-byte magic number of the next frame (or the end of input).
    Magic,
    /// Expecting the FLG and BD bytes of a frame descriptor.
    DescriptorStart,
    /// Expecting the rest of the frame descriptor (`len` bytes in total, FLG and BD
    /// included).
    Descriptor { len: usize },
    /// Expecting a 4-byte block header.
    BlockHeader,
    /// Expecting a block of `size` bytes (plus its checksum when enabled).
    Block { size: usize, compressed: bool },
    /// Expecting the 4-byte content checksum.
    ContentChecksum,
    /// Expecting the 4-byte size of a skippable frame.
    SkippableSize,
    /// Skipping the rest of a skippable frame.
    Skipping { remaining: u64 },
}

/// Frame parameters from the frame descriptor.
#[derive(Debug, Clone, Copy, Default)]
struct FrameInfo {
    block_max: usize,
    independent: bool,
    block_checksum: bool,
    content_checksum: bool,
    content_size: Option<u64>,
}

/// The push-based LZ4 frame decoder.
#[derive(Debug)]
pub(crate) struct Lz4FrameDecoder {
    state: State,
    /// Bytes gathered for the current state when they arrived in several slices.
    scratch: Vec<u8>,
    frame: FrameInfo,
    content_hash: XxHash32,
    frame_output: u64,
    /// The last decoded block, waiting to be copied out.
    block: Vec<u8>,
    block_len: usize,
    block_pos: usize,
    /// The last `WINDOW` bytes of output of the current frame (linked blocks only).
    window: Vec<u8>,
}

/// Why a frame is invalid.
pub(crate) type Lz4Error = String;

impl Lz4FrameDecoder {
    pub(crate) fn new() -> Self {
        Lz4FrameDecoder {
            state: State::Magic,
            scratch: Vec::new(),
            frame: FrameInfo::default(),
            content_hash: XxHash32::with_seed(0),
            frame_output: 0,
            block: Vec::new(),
            block_len: 0,
            block_pos: 0,
            window: Vec::new(),
        }
    }

    /// Whether the input so far ends exactly at a frame boundary.
    pub(crate) fn at_frame_boundary(&self) -> bool {
        matches!(self.state, State::Magic) && self.scratch.is_empty()
    }

    /// Bytes that `need` more bytes are wanted for: returns the complete slice either
    /// straight from `input` (nothing gathered yet) or from the scratch buffer.
    fn gather<'a>(
        scratch: &'a mut Vec<u8>,
        input: &'a [u8],
        pos: &mut usize,
        need: usize,
    ) -> Option<&'a [u8]> {
        let avail = &input[*pos..];
        if scratch.is_empty() && avail.len() >= need {
            *pos += need;
            return Some(&avail[..need]);
        }
        let take = (need - scratch.len()).min(avail.len());
        scratch.extend_from_slice(&avail[..take]);
        *pos += take;
        if scratch.len() == need {
            Some(&scratch[..])
        } else {
            None
        }
    }

    /// Decodes from `input` into `out`; returns the progress made.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut Out<'_>) -> Result<Progress, Lz4Error> {
        let mut pos = 0usize;
        let written_before = out.written();
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.decode_inner(input, &mut pos, out, &mut scratch);
        self.scratch = scratch;
        result?;
        Ok(Progress {
            consumed: pos,
            produced: out.written() - written_before,
        })
    }

    fn decode_inner(
        &mut self,
        input: &[u8],
        pos: &mut usize,
        out: &mut Out<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), Lz4Error> {
        loop {
            if self.block_pos < self.block_len {
                let n = (self.block_len - self.block_pos).min(out.remaining());
                out.put(&self.block[self.block_pos..self.block_pos + n]);
                self.block_pos += n;
                if self.block_pos < self.block_len {
                    return Ok(());
                }
            }
            if *pos == input.len() {
                return Ok(());
            }
            match self.state {
                State::Magic => {
                    let Some(b) = Self::gather(scratch, input, pos, 4) else {
                        return Ok(());
                    };
                    let magic = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    scratch.clear();
                    self.state = match magic {
                        MAGIC => State::DescriptorStart,
                        SKIPPABLE_MIN..=SKIPPABLE_MAX => State::SkippableSize,
                        LEGACY_MAGIC => {
                            return Err("the legacy LZ4 frame format is not supported".into());
                        }
                        other => {
                            return Err(format!(
                                "not an LZ4 frame: magic number {other:#010X}, expected 0x184D2204"
                            ));
                        }
                    };
                }
                State::DescriptorStart => {
                    let Some(b) = Self::gather(scratch, input, pos, 2) else {
                        return Ok(());
                    };
                    let (flg, bd) = (b[0], b[1]);
                    if flg >> 6 != 0b01 {
                        return Err(format!("unsupported LZ4 frame version {}", flg >> 6));
                    }
                    if flg & 0b10 != 0 || bd & 0b1000_1111 != 0 {
                        return Err("reserved bits set in the LZ4 frame descriptor".into());
                    }
                    if flg & 0b1 != 0 {
                        return Err("LZ4 frames with a dictionary id are not supported".into());
                    }
                    let len = 2 + if flg & 0b1000 != 0 { 8 } else { 0 } + 1;
                    // Keep FLG and BD in scratch: the header checksum covers them.
                    if scratch.is_empty() {
                        scratch.extend_from_slice(&[flg, bd]);
                    }
                    self.state = State::Descriptor { len };
                }
                State::Descriptor { len } => {
                    let Some(d) = Self::gather(scratch, input, pos, len) else {
                        return Ok(());
                    };
                    let (flg, bd) = (d[0], d[1]);
                    let hc = (XxHash32::oneshot(0, &d[..len - 1]) >> 8) as u8;
                    if hc != d[len - 1] {
                        return Err("LZ4 frame descriptor checksum mismatch".into());
                    }
                    let block_max = match (bd >> 4) & 0b111 {
                        4 => 64 * 1024,
                        5 => 256 * 1024,
                        6 => 1024 * 1024,
                        7 => 4 * 1024 * 1024,
                        other => {
                            return Err(format!("invalid LZ4 block maximum size code {other}"));
                        }
                    };
                    let content_size = if flg & 0b1000 != 0 {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&d[2..10]);
                        Some(u64::from_le_bytes(b))
                    } else {
                        None
                    };
                    self.frame = FrameInfo {
                        block_max,
                        independent: flg & 0b10_0000 != 0,
                        block_checksum: flg & 0b1_0000 != 0,
                        content_checksum: flg & 0b100 != 0,
                        content_size,
                    };
                    scratch.clear();
                    self.content_hash = XxHash32::with_seed(0);
                    self.frame_output = 0;
                    self.window.clear();
                    if self.block.len() < block_max {
                        self.block.resize(block_max, 0);
                    }
                    self.state = State::BlockHeader;
                }
                State::BlockHeader => {
                    let Some(b) = Self::gather(scratch, input, pos, 4) else {
                        return Ok(());
                    };
                    let word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    scratch.clear();
                    if word == 0 {
                        if self.frame.content_checksum {
                            self.state = State::ContentChecksum;
                        } else {
                            self.end_frame()?;
                        }
                        continue;
                    }
                    let size = (word & 0x7FFF_FFFF) as usize;
                    if size > self.frame.block_max {
                        return Err(format!(
                            "LZ4 block of {size} bytes exceeds the frame's maximum block size {}",
                            self.frame.block_max
                        ));
                    }
                    self.state = State::Block {
                        size,
                        compressed: word & 0x8000_0000 == 0,
                    };
                }
                State::Block { size, compressed } => {
                    let need = size + if self.frame.block_checksum { 4 } else { 0 };
                    let Some(b) = Self::gather(scratch, input, pos, need) else {
                        return Ok(());
                    };
                    let data = &b[..size];
                    if self.frame.block_checksum {
                        let c = &b[size..];
                        let expected = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                        if XxHash32::oneshot(0, data) != expected {
                            return Err("LZ4 block checksum mismatch".into());
                        }
                    }
                    let n = if compressed {
                        let dst = &mut self.block[..self.frame.block_max];
                        let r = if self.frame.independent || self.window.is_empty() {
                            lz4_flex::block::decompress_into(data, dst)
                        } else {
                            lz4_flex::block::decompress_into_with_dict(data, dst, &self.window)
                        };
                        r.map_err(|e| format!("corrupt LZ4 block: {e}"))?
                    } else {
                        self.block[..size].copy_from_slice(data);
                        size
                    };
                    scratch.clear();
                    self.block_len = n;
                    self.block_pos = 0;
                    self.frame_output += n as u64;
                    if let Some(cs) = self.frame.content_size
                        && self.frame_output > cs
                    {
                        return Err(format!(
                            "LZ4 frame holds more than its declared content size of {cs} bytes"
                        ));
                    }
                    if self.frame.content_checksum {
                        self.content_hash.write(&self.block[..n]);
                    }
                    if !self.frame.independent {
                        let produced = &self.block[..n];
                        if n >= WINDOW {
                            self.window.clear();
                            self.window.extend_from_slice(&produced[n - WINDOW..]);
                        } else {
                            self.window.extend_from_slice(produced);
                            if self.window.len() > WINDOW {
                                let excess = self.window.len() - WINDOW;
                                self.window.drain(..excess);
                            }
                        }
                    }
                    self.state = State::BlockHeader;
                }
                State::ContentChecksum => {
                    let Some(b) = Self::gather(scratch, input, pos, 4) else {
                        return Ok(());
                    };
                    let expected = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    scratch.clear();
                    if self.content_hash.finish_32() != expected {
                        return Err("LZ4 content checksum mismatch".into());
                    }
                    self.end_frame()?;
                }
                State::SkippableSize => {
                    let Some(b) = Self::gather(scratch, input, pos, 4) else {
                        return Ok(());
                    };
                    let remaining = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    scratch.clear();
                    self.state = if remaining == 0 {
                        State::Magic
                    } else {
                        State::Skipping { remaining }
                    };
                }
                State::Skipping { remaining } => {
                    let avail = (input.len() - *pos) as u64;
                    let take = remaining.min(avail);
                    // `take` <= the input length, so it fits usize.
                    *pos += take as usize;
                    self.state = if take == remaining {
                        State::Magic
                    } else {
                        State::Skipping {
                            remaining: remaining - take,
                        }
                    };
                }
            }
        }
    }

    fn end_frame(&mut self) -> Result<(), Lz4Error> {
        if let Some(cs) = self.frame.content_size
            && cs != self.frame_output
        {
            return Err(format!(
                "LZ4 frame holds {} bytes but declares a content size of {cs}",
                self.frame_output
            ));
        }
        self.window.clear();
        self.state = State::Magic;
        Ok(())
    }

    /// Describes where the input stopped, for truncation errors.
    pub(crate) fn position(&self) -> &'static str {
        match self.state {
            State::Magic => "inside an LZ4 frame magic number",
            State::DescriptorStart | State::Descriptor { .. } => "inside an LZ4 frame descriptor",
            State::BlockHeader => "inside an LZ4 frame, before its end mark",
            State::Block { .. } => "inside an LZ4 block",
            State::ContentChecksum => "before the LZ4 content checksum",
            State::SkippableSize | State::Skipping { .. } => "inside a skippable LZ4 frame",
        }
    }
}
