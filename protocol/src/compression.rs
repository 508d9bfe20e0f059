//! Compression codecs named on the wire.
//!
//! The same three choices appear in three places of the protocol: the `ACCEPT-ENCODING`
//! request header of reads (protocol.md B§4.2), Arrow IPC buffer compression of
//! `TableWrite` bodies (B§4.3) and the `Content-Encoding` of blob bodies (B§6).

use std::fmt;
use std::str::FromStr;

/// A compression codec of the Storage API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (the default).
    #[default]
    Uncompressed,
    /// Zstandard frames (`zstd`).
    Zstd,
    /// The LZ4 frame format (`x-lz4-frame`).
    Lz4Frame,
}

impl Compression {
    /// The token used in `ACCEPT-ENCODING` / `Content-Encoding` headers, or `None` for
    /// [`Compression::Uncompressed`] (no header is sent then).
    pub fn http_token(self) -> Option<&'static str> {
        match self {
            Compression::Uncompressed => None,
            Compression::Zstd => Some("zstd"),
            Compression::Lz4Frame => Some("x-lz4-frame"),
        }
    }

    /// Parses an HTTP encoding token as the official SDKs map them (PY-stream
    /// `from_encoding`, C-tutil `SelectCompressOption`): `zstd`; `x-lz4-frame`,
    /// `lz4_frame`, `x-odps-lz4-frame`; `identity` or empty for none. Case-insensitive.
    /// Returns `None` for tokens this project does not support (e.g. `deflate`).
    pub fn from_http_token(token: &str) -> Option<Compression> {
        let t = token.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("identity") {
            Some(Compression::Uncompressed)
        } else if t.eq_ignore_ascii_case("zstd") {
            Some(Compression::Zstd)
        } else if t.eq_ignore_ascii_case("x-lz4-frame")
            || t.eq_ignore_ascii_case("lz4_frame")
            || t.eq_ignore_ascii_case("x-odps-lz4-frame")
            || t.eq_ignore_ascii_case("lz4")
        {
            Some(Compression::Lz4Frame)
        } else {
            None
        }
    }

    /// Picks the first codec of a comma-separated header value (such as the
    /// `Accept-Encoding` a server returns on `TableCreateWriteStream`) that this project
    /// supports, skipping `identity` and unknown tokens.
    pub fn first_supported(list: &str) -> Option<Compression> {
        list.split(',')
            .filter_map(Compression::from_http_token)
            .find(|c| *c != Compression::Uncompressed)
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Uncompressed => "uncompressed",
            Compression::Zstd => "zstd",
            Compression::Lz4Frame => "lz4",
        })
    }
}

/// The error of parsing a [`Compression`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression {0:?}: expected one of uncompressed, zstd, lz4")]
pub struct UnknownCompression(pub String);

impl FromStr for Compression {
    type Err = UnknownCompression;

    /// Parses a user-facing name: `uncompressed`/`none`, `zstd`, `lz4`/`lz4_frame`
    /// (case-insensitive), and the HTTP tokens of [`Compression::from_http_token`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("uncompressed") || t.eq_ignore_ascii_case("none") {
            return Ok(Compression::Uncompressed);
        }
        Compression::from_http_token(t).ok_or_else(|| UnknownCompression(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for c in [Compression::Zstd, Compression::Lz4Frame] {
            assert_eq!(
                Compression::from_http_token(c.http_token().unwrap()),
                Some(c)
            );
        }
        assert_eq!(Compression::Uncompressed.http_token(), None);
        assert_eq!(
            Compression::from_http_token("ZSTD"),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::from_http_token("deflate"), None);
    }

    #[test]
    fn first_supported_skips_unknown() {
        assert_eq!(
            Compression::first_supported("deflate, x-lz4-frame,zstd"),
            Some(Compression::Lz4Frame)
        );
        assert_eq!(Compression::first_supported("identity"), None);
    }

    #[test]
    fn parses_user_names() {
        assert_eq!("lz4".parse::<Compression>(), Ok(Compression::Lz4Frame));
        assert_eq!("None".parse::<Compression>(), Ok(Compression::Uncompressed));
        assert!("snappy".parse::<Compression>().is_err());
    }
}
