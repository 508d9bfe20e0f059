//! Checksums of the blob protocol: CRC-32 (IEEE, as zlib and `java.util.zip.CRC32`) and
//! MD5 in blob item footers, CRC-32C (Castagnoli) in the 4096-byte blocks of `BlobRead`
//! responses (protocol.md B§6.2, B§6.4).
//!
//! The per-item footer is `{"Checksum": {"Type": <code>[, "Crc32": <u32> | , "MD5": "<hex>"]}}`
//! with type codes 0 (none), 1 (CRC-32), 2 (MD5).

use std::fmt;

use md5::{Digest, Md5};
use serde_json::Value;

use super::error::JsonError;
use super::json;

/// CRC-32 (IEEE 802.3 polynomial, reflected, as zlib `crc32`) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// CRC-32C (Castagnoli polynomial 0x82F63B78 reflected, init and final XOR `0xFFFFFFFF`)
/// of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Continues a CRC-32C: `crc32c_append(crc32c(a), b) == crc32c(a ++ b)`; start with 0.
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

/// MD5 digest of `data`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// MD5 digest of `data` as 32 lower-case hex digits (the form of the `MD5` footer field
/// and of the `MD5Value` of single-blob upload responses).
pub fn md5_hex(data: &[u8]) -> String {
    to_lower_hex(&md5(data))
}

fn to_lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn parse_md5_hex(s: &str) -> Option<[u8; 16]> {
    let bytes = s.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        // Both digits are < 16, so the value fits a byte.
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// The checksum an item footer carries (`Checksum.Type` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumType {
    /// No checksum (code 0).
    #[default]
    None,
    /// CRC-32, IEEE polynomial (code 1).
    Crc32,
    /// MD5 (code 2).
    Md5,
}

impl ChecksumType {
    /// The wire code: 0, 1 or 2.
    pub const fn code(self) -> i64 {
        match self {
            ChecksumType::None => 0,
            ChecksumType::Crc32 => 1,
            ChecksumType::Md5 => 2,
        }
    }

    /// The type of a wire code, `None` for codes this project does not know.
    pub const fn from_code(code: i64) -> Option<ChecksumType> {
        match code {
            0 => Some(ChecksumType::None),
            1 => Some(ChecksumType::Crc32),
            2 => Some(ChecksumType::Md5),
            _ => None,
        }
    }
}

/// A checksum value as carried by an item footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Checksum {
    /// No checksum (type 0, or no `Checksum` object at all).
    #[default]
    None,
    /// A CRC-32 (type 1).
    Crc32(u32),
    /// An MD5 digest (type 2).
    Md5([u8; 16]),
    /// A type code this project does not know; its value cannot be verified and is not
    /// kept. Parsing accepts it so that a newer server does not break downloads.
    Unsupported {
        /// The `Type` code.
        type_code: i64,
    },
}

impl Checksum {
    /// Computes the checksum of the given type over `data`.
    pub fn compute(kind: ChecksumType, data: &[u8]) -> Checksum {
        let mut h = ChecksumHasher::new(kind);
        h.update(data);
        h.finalize()
    }

    /// The type, `None` for [`Checksum::Unsupported`].
    pub fn checksum_type(&self) -> Option<ChecksumType> {
        match self {
            Checksum::None => Some(ChecksumType::None),
            Checksum::Crc32(_) => Some(ChecksumType::Crc32),
            Checksum::Md5(_) => Some(ChecksumType::Md5),
            Checksum::Unsupported { .. } => None,
        }
    }

    /// The wire `Type` code.
    pub fn type_code(&self) -> i64 {
        match self {
            Checksum::Unsupported { type_code } => *type_code,
            other => other.checksum_type().unwrap_or_default().code(),
        }
    }

    /// The footer JSON carrying this checksum, byte for byte as the official Python SDK
    /// writes it, e.g. `{"Checksum": {"Type": 1, "Crc32": 1548719572}}`.
    pub fn to_footer_json(&self) -> String {
        let mut out = String::with_capacity(64);
        let mut outer = json::ObjectWriter::new(&mut out);
        let mut inner = json::ObjectWriter::new(outer.key("Checksum"));
        json::write_int(inner.key("Type"), self.type_code());
        match self {
            Checksum::Crc32(v) => json::write_int(inner.key("Crc32"), v),
            Checksum::Md5(d) => json::write_str(inner.key("MD5"), &to_lower_hex(d)),
            Checksum::None | Checksum::Unsupported { .. } => {}
        }
        inner.end();
        outer.end();
        out
    }

    /// Parses a footer JSON document, tolerantly: unknown keys are ignored; an empty
    /// document, a missing or `null` `Checksum` or `Type` mean no checksum; an unknown
    /// `Type` gives [`Checksum::Unsupported`]. `MD5` hex digits may be in either case.
    ///
    /// # Errors
    /// Not a JSON object; a `Checksum` that is not an object; a `Type` that is not an
    /// integer; type 1 without a `Crc32` in `0..=4294967295`; type 2 without an `MD5` of
    /// 32 hex digits.
    pub fn from_footer_json(bytes: &[u8]) -> Result<Checksum, JsonError> {
        let map = json::parse_object(bytes)?;
        let inner = match map.get("Checksum") {
            None | Some(Value::Null) => return Ok(Checksum::None),
            Some(Value::Object(inner)) => inner,
            Some(other) => {
                return Err(JsonError::new(format!(
                    "\"Checksum\" must be an object, found {}",
                    crate::json::kind(other)
                )));
            }
        };
        let Some(code) = json::opt_i64(inner, "Type")? else {
            return Ok(Checksum::None);
        };
        match ChecksumType::from_code(code) {
            Some(ChecksumType::None) => Ok(Checksum::None),
            Some(ChecksumType::Crc32) => {
                let value = json::opt_i64(inner, "Crc32")?.ok_or_else(|| {
                    JsonError::new("checksum type 1 (CRC-32) without a \"Crc32\" value")
                })?;
                u32::try_from(value).map(Checksum::Crc32).map_err(|_| {
                    JsonError::new(format!(
                        "\"Crc32\" must be an unsigned 32-bit integer, found {value}"
                    ))
                })
            }
            Some(ChecksumType::Md5) => {
                let hex = json::opt_string(inner, "MD5")?.ok_or_else(|| {
                    JsonError::new("checksum type 2 (MD5) without an \"MD5\" value")
                })?;
                parse_md5_hex(&hex).map(Checksum::Md5).ok_or_else(|| {
                    JsonError::new(format!("\"MD5\" must be 32 hex digits, found {hex:?}"))
                })
            }
            None => Ok(Checksum::Unsupported { type_code: code }),
        }
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checksum::None => f.write_str("no checksum"),
            Checksum::Crc32(v) => write!(f, "CRC-32 {v} ({v:#010x})"),
            Checksum::Md5(d) => write!(f, "MD5 {}", to_lower_hex(d)),
            Checksum::Unsupported { type_code } => {
                write!(f, "a checksum of unsupported type {type_code}")
            }
        }
    }
}

/// Incremental computation of one [`ChecksumType`] over data supplied in pieces.
#[derive(Clone)]
pub struct ChecksumHasher {
    inner: HasherInner,
}

#[derive(Clone)]
enum HasherInner {
    None,
    Crc32(crc32fast::Hasher),
    Md5(Md5),
}

impl ChecksumHasher {
    /// A hasher for `kind`.
    pub fn new(kind: ChecksumType) -> Self {
        let inner = match kind {
            ChecksumType::None => HasherInner::None,
            ChecksumType::Crc32 => HasherInner::Crc32(crc32fast::Hasher::new()),
            ChecksumType::Md5 => HasherInner::Md5(Md5::new()),
        };
        ChecksumHasher { inner }
    }

    /// The type being computed.
    pub fn checksum_type(&self) -> ChecksumType {
        match self.inner {
            HasherInner::None => ChecksumType::None,
            HasherInner::Crc32(_) => ChecksumType::Crc32,
            HasherInner::Md5(_) => ChecksumType::Md5,
        }
    }

    /// Adds the next piece of data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.inner {
            HasherInner::None => {}
            HasherInner::Crc32(h) => h.update(data),
            HasherInner::Md5(h) => h.update(data),
        }
    }

    /// The checksum of all data supplied.
    pub fn finalize(self) -> Checksum {
        match self.inner {
            HasherInner::None => Checksum::None,
            HasherInner::Crc32(h) => Checksum::Crc32(h.finalize()),
            HasherInner::Md5(h) => Checksum::Md5(h.finalize().into()),
        }
    }
}

impl fmt::Debug for ChecksumHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChecksumHasher")
            .field("checksum_type", &self.checksum_type())
            .finish_non_exhaustive()
    }
}

/// CRC-32 and MD5 of the same data, computed together because a frame decoder learns
/// which one a footer carries only after the data.
#[derive(Clone)]
pub(crate) struct DualHasher {
    crc32: crc32fast::Hasher,
    md5: Md5,
}

impl DualHasher {
    pub(crate) fn new() -> Self {
        DualHasher {
            crc32: crc32fast::Hasher::new(),
            md5: Md5::new(),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.crc32.update(data);
        self.md5.update(data);
    }

    /// The checksum of the data of the same type as `claimed`, `None` when that type
    /// carries no verifiable value. Resets the hasher.
    pub(crate) fn take_matching(&mut self, claimed: &Checksum) -> Option<Checksum> {
        let taken = std::mem::replace(self, DualHasher::new());
        match claimed {
            Checksum::Crc32(_) => Some(Checksum::Crc32(taken.crc32.finalize())),
            Checksum::Md5(_) => Some(Checksum::Md5(taken.md5.finalize().into())),
            Checksum::None | Checksum::Unsupported { .. } => None,
        }
    }
}

impl fmt::Debug for DualHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DualHasher").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // From vectors/pyodps: the footer of item `item-one` / `item-two-from-stream`.
        assert_eq!(crc32(b"item-one"), 1_548_719_572);
        assert_eq!(crc32(b"item-two-from-stream"), 4_108_552_234);
        assert_eq!(md5_hex(b"item-one"), "bd371f1bafde1a681dbb3b19ad7191e2");
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(crc32c_append(crc32c(b"1234"), b"56789"), 0xE306_9283);
    }

    #[test]
    fn hasher_matches_one_shot() {
        for kind in [ChecksumType::None, ChecksumType::Crc32, ChecksumType::Md5] {
            let mut h = ChecksumHasher::new(kind);
            h.update(b"item-");
            h.update(b"one");
            assert_eq!(h.checksum_type(), kind);
            assert_eq!(h.finalize(), Checksum::compute(kind, b"item-one"));
        }
    }

    #[test]
    fn footer_json_is_byte_exact() {
        assert_eq!(
            Checksum::Crc32(1_548_719_572).to_footer_json(),
            r#"{"Checksum": {"Type": 1, "Crc32": 1548719572}}"#
        );
        assert_eq!(
            Checksum::compute(ChecksumType::Md5, b"item-one").to_footer_json(),
            r#"{"Checksum": {"Type": 2, "MD5": "bd371f1bafde1a681dbb3b19ad7191e2"}}"#
        );
        assert_eq!(
            Checksum::None.to_footer_json(),
            r#"{"Checksum": {"Type": 0}}"#
        );
        assert_eq!(
            Checksum::Unsupported { type_code: 7 }.to_footer_json(),
            r#"{"Checksum": {"Type": 7}}"#
        );
    }

    #[test]
    fn footer_json_parses_tolerantly() {
        let parse = |s: &str| Checksum::from_footer_json(s.as_bytes());
        assert_eq!(parse(""), Ok(Checksum::None));
        assert_eq!(parse("{}"), Ok(Checksum::None));
        assert_eq!(parse(r#"{"Other": 1}"#), Ok(Checksum::None));
        assert_eq!(parse(r#"{"Checksum": null}"#), Ok(Checksum::None));
        assert_eq!(parse(r#"{"Checksum": {}}"#), Ok(Checksum::None));
        assert_eq!(
            parse(r#"{"Checksum":{"Crc32":5,"Type":1,"X":[]},"Y":2}"#),
            Ok(Checksum::Crc32(5))
        );
        assert_eq!(
            parse(r#"{"Checksum": {"Type": 2, "MD5": "BD371F1BAFDE1A681DBB3B19AD7191E2"}}"#),
            Ok(Checksum::compute(ChecksumType::Md5, b"item-one"))
        );
        assert_eq!(
            parse(r#"{"Checksum": {"Type": 9, "Crc64": 1}}"#),
            Ok(Checksum::Unsupported { type_code: 9 })
        );
        for bad in [
            "[]",
            "{",
            r#"{"Checksum": 1}"#,
            r#"{"Checksum": {"Type": "1"}}"#,
            r#"{"Checksum": {"Type": 1}}"#,
            r#"{"Checksum": {"Type": 1, "Crc32": -1}}"#,
            r#"{"Checksum": {"Type": 1, "Crc32": 4294967296}}"#,
            r#"{"Checksum": {"Type": 1, "Crc32": 1.5}}"#,
            r#"{"Checksum": {"Type": 2}}"#,
            r#"{"Checksum": {"Type": 2, "MD5": "xyz"}}"#,
            r#"{"Checksum": {"Type": 2, "MD5": "gd371f1bafde1a681dbb3b19ad7191e2"}}"#,
            r#"{"Checksum": {"Type": 2, "MD5": "+d371f1bafde1a681dbb3b19ad7191e2"}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn checksum_type_codes() {
        for kind in [ChecksumType::None, ChecksumType::Crc32, ChecksumType::Md5] {
            assert_eq!(ChecksumType::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ChecksumType::from_code(3), None);
        assert_eq!(Checksum::Unsupported { type_code: 3 }.checksum_type(), None);
    }
}
