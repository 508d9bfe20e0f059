//! Query-string encoding and decoding.
//!
//! Clients percent-encode query values on the wire but sign the decoded values
//! (protocol.md B§1.4); servers decode with form semantics (`+` is a space), as the official
//! Python client does before signing.

use std::fmt::Write as _;

/// Percent-encodes `s` for a query component: everything but `A-Z a-z 0-9 - . _ ~`.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Encodes query pairs as `name=value&…` (an empty value is rendered `name=`).
pub fn encode_query(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_component(k));
        out.push('=');
        out.push_str(&encode_component(v));
    }
    out
}

/// Decodes one query component: `%XX` escapes and `+` as space. Invalid escapes are kept
/// verbatim; invalid UTF-8 is replaced.
pub fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a raw query string into decoded pairs in wire order. A bare `name` (no `=`) has
/// an empty value. Empty segments are skipped.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|s| !s.is_empty())
        .map(|seg| match seg.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(seg), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let pairs = vec![
            ("Partition".to_string(), "pt=2023/01,x y+z".to_string()),
            ("service".to_string(), String::new()),
            ("ü".to_string(), "%".to_string()),
        ];
        let raw = encode_query(&pairs);
        assert_eq!(
            raw,
            "Partition=pt%3D2023%2F01%2Cx%20y%2Bz&service=&%C3%BC=%25"
        );
        assert_eq!(parse_query(&raw), pairs);
        assert_eq!(
            parse_query("a=1+2&b&&c=%zz%4"),
            vec![
                ("a".to_string(), "1 2".to_string()),
                ("b".to_string(), String::new()),
                ("c".to_string(), "%zz%4".to_string()),
            ]
        );
    }
}
