//! XXH32, the checksum of the LZ4 frame format (header, block and content checksums).

const PRIME1: u32 = 0x9E37_79B1;
const PRIME2: u32 = 0x85EB_CA77;
const PRIME3: u32 = 0xC2B2_AE3D;
const PRIME4: u32 = 0x27D4_EB2F;
const PRIME5: u32 = 0x1656_67B1;

/// Streaming XXH32 with seed 0.
#[derive(Debug, Clone)]
pub(crate) struct Xxh32 {
    acc: [u32; 4],
    buf: [u8; 16],
    buf_len: usize,
    total: u64,
}

fn round(acc: u32, lane: u32) -> u32 {
    acc.wrapping_add(lane.wrapping_mul(PRIME2))
        .rotate_left(13)
        .wrapping_mul(PRIME1)
}

fn lane(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

impl Xxh32 {
    pub(crate) fn new() -> Self {
        Xxh32 {
            acc: [
                PRIME1.wrapping_add(PRIME2),
                PRIME2,
                0,
                0u32.wrapping_sub(PRIME1),
            ],
            buf: [0; 16],
            buf_len: 0,
            total: 0,
        }
    }

    fn stripe(&mut self, s: &[u8]) {
        self.acc[0] = round(self.acc[0], lane(&s[0..4]));
        self.acc[1] = round(self.acc[1], lane(&s[4..8]));
        self.acc[2] = round(self.acc[2], lane(&s[8..12]));
        self.acc[3] = round(self.acc[3], lane(&s[12..16]));
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.buf_len > 0 {
            let take = (16 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 16 {
                return;
            }
            let b = self.buf;
            self.stripe(&b);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(16);
        for c in &mut chunks {
            self.stripe(c);
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    pub(crate) fn digest(&self) -> u32 {
        let mut h = if self.total >= 16 {
            self.acc[0]
                .rotate_left(1)
                .wrapping_add(self.acc[1].rotate_left(7))
                .wrapping_add(self.acc[2].rotate_left(12))
                .wrapping_add(self.acc[3].rotate_left(18))
        } else {
            PRIME5
        };
        // The specification adds the input length modulo 2^32.
        h = h.wrapping_add(self.total as u32);
        let mut rest = &self.buf[..self.buf_len];
        while rest.len() >= 4 {
            h = h
                .wrapping_add(lane(rest).wrapping_mul(PRIME3))
                .rotate_left(17)
                .wrapping_mul(PRIME4);
            rest = &rest[4..];
        }
        for &b in rest {
            h = h
                .wrapping_add(u32::from(b).wrapping_mul(PRIME5))
                .rotate_left(11)
                .wrapping_mul(PRIME1);
        }
        h ^= h >> 15;
        h = h.wrapping_mul(PRIME2);
        h ^= h >> 13;
        h = h.wrapping_mul(PRIME3);
        h ^= h >> 16;
        h
    }
}

/// XXH32 of `data` with seed 0.
pub(crate) fn xxh32(data: &[u8]) -> u32 {
    let mut h = Xxh32::new();
    h.update(data);
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(xxh32(b""), 0x02CC_5D05);
        assert_eq!(xxh32(b"a"), 0x550D_7456);
        assert_eq!(xxh32(b"abc"), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition"),
            0xE229_3B2F
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        for split in [0, 1, 5, 15, 16, 17, 33, 999, 1000] {
            let mut h = Xxh32::new();
            h.update(&data[..split]);
            for c in data[split..].chunks(7) {
                h.update(c);
            }
            assert_eq!(h.digest(), xxh32(&data), "split {split}");
        }
    }
}
