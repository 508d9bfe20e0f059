//! The MaxCompute type model: [`OdpsType`], its type strings (`decimal(10,2)`,
//! `struct<a:int,b:array<string>>`) and the integer type codes of write schemas.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::*;

/// A MaxCompute (ODPS) column type.
///
/// Type codes (`Type` in write schemas) are those of protocol.md B§3.6; type strings (read
/// schemas, DDL) are the lower-case MaxCompute spelling such as `decimal(10,2)` or
/// `array<struct<a:int,b:string>>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OdpsType {
    /// `bigint` (code 0): signed 64-bit integer.
    Bigint,
    /// `double` (code 1).
    Double,
    /// `boolean` (code 2).
    Boolean,
    /// `datetime` (code 3): milliseconds precision date and time.
    Datetime,
    /// `string` (code 4): UTF-8 text (or bytes).
    String,
    /// `decimal(p,s)` (code 5). `None` precision/scale means the legacy unparameterised
    /// `decimal` (printed as `decimal`).
    Decimal {
        /// Total number of digits.
        precision: Option<u32>,
        /// Digits after the decimal point.
        scale: Option<u32>,
    },
    /// `tinyint` (code 6): signed 8-bit integer.
    Tinyint,
    /// `smallint` (code 7): signed 16-bit integer.
    Smallint,
    /// `int` (code 8): signed 32-bit integer.
    Int,
    /// `char(n)` (code 9).
    Char(u32),
    /// `varchar(n)` (code 10).
    Varchar(u32),
    /// `binary` (code 11).
    Binary,
    /// `date` (code 12).
    Date,
    /// `timestamp` (code 13): nanosecond precision, time-zone aware.
    Timestamp,
    /// `float` (code 14).
    Float,
    /// `interval_year_month` (code 15).
    IntervalYearMonth,
    /// `interval_day_time` (code 16).
    IntervalDayTime,
    /// `array<T>` (code 17).
    Array(Box<OdpsType>),
    /// `map<K,V>` (code 18).
    Map(Box<OdpsType>, Box<OdpsType>),
    /// `struct<name:T,...>` (code 19), fields in order.
    Struct(Vec<(String, OdpsType)>),
    /// `json` (code 20).
    Json,
    /// `timestamp_ntz` (code 21): timestamp without time zone.
    TimestampNtz,
    /// `blob` (code 22): a reference to data uploaded with `TableWriteBlob`.
    Blob,
    /// `variant` (code 23).
    Variant,
    /// `geography` (code -2).
    Geography,
    /// `void` (code -3).
    Void,
    /// `vector` (code -4).
    Vector,
    /// A type this crate does not model, kept verbatim (type string) so callers can report
    /// it; code -1 or any unknown code.
    Unknown(String),
}

// ---------------------------------------------------------------------------------------
// Type strings and type codes
// ---------------------------------------------------------------------------------------

/// Type code (`Type` in write schemas) of the types this crate models without parameters.
pub(super) fn primitive_for_code(code: i32) -> Option<OdpsType> {
    Some(match code {
        0 => OdpsType::Bigint,
        1 => OdpsType::Double,
        2 => OdpsType::Boolean,
        3 => OdpsType::Datetime,
        4 => OdpsType::String,
        6 => OdpsType::Tinyint,
        7 => OdpsType::Smallint,
        8 => OdpsType::Int,
        11 => OdpsType::Binary,
        12 => OdpsType::Date,
        13 => OdpsType::Timestamp,
        14 => OdpsType::Float,
        15 => OdpsType::IntervalYearMonth,
        16 => OdpsType::IntervalDayTime,
        20 => OdpsType::Json,
        21 => OdpsType::TimestampNtz,
        22 => OdpsType::Blob,
        23 => OdpsType::Variant,
        -2 => OdpsType::Geography,
        -3 => OdpsType::Void,
        -4 => OdpsType::Vector,
        _ => return None,
    })
}

/// Parameterless types by their lower-case keyword (`vector` is handled by the parser
/// because it may carry parameters this crate does not model).
pub(super) fn primitive_for_keyword(keyword: &str) -> Option<OdpsType> {
    Some(match keyword {
        "bigint" => OdpsType::Bigint,
        "double" => OdpsType::Double,
        "boolean" => OdpsType::Boolean,
        "datetime" => OdpsType::Datetime,
        "string" => OdpsType::String,
        "tinyint" => OdpsType::Tinyint,
        "smallint" => OdpsType::Smallint,
        "int" => OdpsType::Int,
        "binary" => OdpsType::Binary,
        "date" => OdpsType::Date,
        "timestamp" => OdpsType::Timestamp,
        "float" => OdpsType::Float,
        "interval_year_month" => OdpsType::IntervalYearMonth,
        "interval_day_time" => OdpsType::IntervalDayTime,
        "json" => OdpsType::Json,
        "timestamp_ntz" => OdpsType::TimestampNtz,
        "blob" => OdpsType::Blob,
        "variant" => OdpsType::Variant,
        "geography" => OdpsType::Geography,
        "void" => OdpsType::Void,
        _ => return None,
    })
}

/// Type code of a lower-case type keyword, including the parameterised and complex ones
/// and `unknown` (-1).
pub(super) fn code_for_keyword(keyword: &str) -> Option<i32> {
    Some(match keyword {
        "decimal" => 5,
        "char" => 9,
        "varchar" => 10,
        "array" => 17,
        "map" => 18,
        "struct" => 19,
        "vector" => -4,
        "unknown" => -1,
        other => return primitive_for_keyword(other).map(|t| t.type_code()),
    })
}

/// Human-readable name of a type code, for error messages.
pub(super) fn code_name(code: i32) -> &'static str {
    match code {
        5 => "DECIMAL",
        9 => "CHAR",
        10 => "VARCHAR",
        17 => "ARRAY",
        18 => "MAP",
        19 => "STRUCT",
        _ => "type",
    }
}

impl OdpsType {
    /// Parses a MaxCompute type string as found in read schemas (`DataSchema` `Type`) and
    /// DDL: `bigint`, `DECIMAL(10, 2)`, `decimal`, `varchar(20)`, `array<int>`,
    /// `map<string,bigint>`, ``struct<`a`:int, b:array<string>>`` …
    ///
    /// Keywords are case-insensitive and whitespace between tokens is ignored. Struct field
    /// names are bare identifiers or backquoted (a doubled backquote stands for one) and
    /// keep their case. `decimal(p)` is accepted as precision `p` without scale.
    ///
    /// Unknown type names — optionally followed by a balanced `(…)` or `<…>` parameter
    /// group — become [`OdpsType::Unknown`] holding the original text, so newer server types
    /// do not break older clients; `vector` with parameters (e.g. `vector<float,1536>`) is
    /// kept the same way because this crate models only the bare `vector`.
    ///
    /// # Errors
    ///
    /// [`SchemaError::TypeSyntax`] with the byte offset of the problem for malformed input
    /// (`array<int`, `map<string>`, `char`, `bigint(3)`, an integer parameter that does not
    /// fit in `u32`, trailing text, nesting deeper than [`MAX_TYPE_DEPTH`]).
    pub fn parse(input: &str) -> Result<OdpsType, SchemaError> {
        let mut parser = TypeParser { input, pos: 0 };
        let ty = parser.parse_type(1)?;
        parser.skip_ws();
        if parser.pos < input.len() {
            return Err(parser.error(
                parser.pos,
                format!("unexpected {} after the end of the type", parser.found()),
            ));
        }
        Ok(ty)
    }

    /// The write-schema type code (`Type`, protocol.md B§3.6) of this type.
    ///
    /// For [`OdpsType::Unknown`] the code is recovered from the text where possible:
    /// `unknown(42)` (how [`OdpsType::from_type_node`] names an unknown code) gives 42, a
    /// text starting with a known keyword (e.g. `vector<float,8>`) gives that keyword's
    /// code, anything else -1.
    pub fn type_code(&self) -> i32 {
        match self {
            OdpsType::Bigint => 0,
            OdpsType::Double => 1,
            OdpsType::Boolean => 2,
            OdpsType::Datetime => 3,
            OdpsType::String => 4,
            OdpsType::Decimal { .. } => 5,
            OdpsType::Tinyint => 6,
            OdpsType::Smallint => 7,
            OdpsType::Int => 8,
            OdpsType::Char(_) => 9,
            OdpsType::Varchar(_) => 10,
            OdpsType::Binary => 11,
            OdpsType::Date => 12,
            OdpsType::Timestamp => 13,
            OdpsType::Float => 14,
            OdpsType::IntervalYearMonth => 15,
            OdpsType::IntervalDayTime => 16,
            OdpsType::Array(_) => 17,
            OdpsType::Map(_, _) => 18,
            OdpsType::Struct(_) => 19,
            OdpsType::Json => 20,
            OdpsType::TimestampNtz => 21,
            OdpsType::Blob => 22,
            OdpsType::Variant => 23,
            OdpsType::Geography => -2,
            OdpsType::Void => -3,
            OdpsType::Vector => -4,
            OdpsType::Unknown(text) => unknown_type_code(text),
        }
    }

    /// Builds the type described by a write-schema type node (`Type` code plus `Precision`,
    /// `Scale`, `SpecifiedLength`, `SubTypes` and their `MemberName`s).
    ///
    /// Missing `Precision`/`Scale` give the legacy `decimal`; a missing `SpecifiedLength`
    /// gives length 0 (as the Java and Python SDKs do). Unknown codes give
    /// `Unknown("unknown(<code>)")` (code -1: `Unknown("unknown")`) and their `SubTypes` are
    /// not inspected.
    ///
    /// # Errors
    ///
    /// [`SchemaError::SubTypeCount`] when an ARRAY does not have exactly one or a MAP
    /// exactly two sub-types, [`SchemaError::InvalidValue`] for a struct member without
    /// `MemberName` or a negative / too large precision, scale or length,
    /// [`SchemaError::TooDeep`] beyond [`MAX_TYPE_DEPTH`].
    pub fn from_type_node(node: &TypeNode) -> Result<OdpsType, SchemaError> {
        let root = JsonPath::root("columnType");
        type_from_node(node, &root.name(&node.member_name), 1)
    }

    /// The lower-case keyword of this type (`decimal` for `decimal(10,2)`, `array` for
    /// `array<int>`); for [`OdpsType::Unknown`] the leading identifier of its text.
    pub fn keyword(&self) -> &str {
        match self {
            OdpsType::Bigint => "bigint",
            OdpsType::Double => "double",
            OdpsType::Boolean => "boolean",
            OdpsType::Datetime => "datetime",
            OdpsType::String => "string",
            OdpsType::Decimal { .. } => "decimal",
            OdpsType::Tinyint => "tinyint",
            OdpsType::Smallint => "smallint",
            OdpsType::Int => "int",
            OdpsType::Char(_) => "char",
            OdpsType::Varchar(_) => "varchar",
            OdpsType::Binary => "binary",
            OdpsType::Date => "date",
            OdpsType::Timestamp => "timestamp",
            OdpsType::Float => "float",
            OdpsType::IntervalYearMonth => "interval_year_month",
            OdpsType::IntervalDayTime => "interval_day_time",
            OdpsType::Array(_) => "array",
            OdpsType::Map(_, _) => "map",
            OdpsType::Struct(_) => "struct",
            OdpsType::Json => "json",
            OdpsType::TimestampNtz => "timestamp_ntz",
            OdpsType::Blob => "blob",
            OdpsType::Variant => "variant",
            OdpsType::Geography => "geography",
            OdpsType::Void => "void",
            OdpsType::Vector => "vector",
            OdpsType::Unknown(text) => leading_identifier(text),
        }
    }

    /// Whether this is an ARRAY, MAP or STRUCT.
    pub fn is_complex(&self) -> bool {
        matches!(
            self,
            OdpsType::Array(_) | OdpsType::Map(_, _) | OdpsType::Struct(_)
        )
    }

    /// Whether this type is BLOB or contains a BLOB anywhere inside it.
    pub fn contains_blob(&self) -> bool {
        match self {
            OdpsType::Blob => true,
            OdpsType::Array(element) => element.contains_blob(),
            OdpsType::Map(key, value) => key.contains_blob() || value.contains_blob(),
            OdpsType::Struct(fields) => fields.iter().any(|(_, ty)| ty.contains_blob()),
            _ => false,
        }
    }
}

/// Code of an [`OdpsType::Unknown`] text, see [`OdpsType::type_code`].
pub(super) fn unknown_type_code(text: &str) -> i32 {
    let trimmed = text.trim();
    let explicit = trimmed
        .get(..8)
        .filter(|prefix| prefix.eq_ignore_ascii_case("unknown("))
        .and_then(|_| trimmed.strip_suffix(')'))
        .and_then(|without_close| without_close.get(8..))
        .and_then(|inner| inner.trim().parse::<i32>().ok());
    explicit.unwrap_or_else(|| {
        code_for_keyword(&leading_identifier(trimmed).to_ascii_lowercase()).unwrap_or(-1)
    })
}

/// The identifier (`[A-Za-z0-9_]*`) at the start of `text`, after leading whitespace.
pub(super) fn leading_identifier(text: &str) -> &str {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Whether a struct field name can be printed without backquotes.
pub(super) fn is_bare_field_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn write_field_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if is_bare_field_name(name) {
        f.write_str(name)
    } else {
        f.write_str("`")?;
        for (i, part) in name.split('`').enumerate() {
            if i > 0 {
                f.write_str("``")?;
            }
            f.write_str(part)?;
        }
        f.write_str("`")
    }
}

/// Prints the canonical lower-case MaxCompute spelling without spaces: `bigint`,
/// `decimal(10,2)`, `decimal` (legacy), `char(10)`, `array<int>`, `map<string,bigint>`,
/// `struct<a:int,b:array<string>>`. Struct field names that are not plain ASCII
/// identifiers are backquoted (a backquote inside is doubled). [`OdpsType::Unknown`] prints
/// its text verbatim. The output parses back to an equal value with [`OdpsType::parse`]
/// except for values no type string can express: an `Unknown` whose text is not what the
/// parser produces for an unknown type, a `Decimal` with a scale but no precision (printed
/// as `decimal`) and an empty struct field name (printed as ``` `` ```, which the parser
/// rejects).
impl fmt::Display for OdpsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OdpsType::Decimal {
                precision: Some(precision),
                scale: Some(scale),
            } => write!(f, "decimal({precision},{scale})"),
            OdpsType::Decimal {
                precision: Some(precision),
                scale: None,
            } => write!(f, "decimal({precision})"),
            OdpsType::Char(length) => write!(f, "char({length})"),
            OdpsType::Varchar(length) => write!(f, "varchar({length})"),
            OdpsType::Array(element) => write!(f, "array<{element}>"),
            OdpsType::Map(key, value) => write!(f, "map<{key},{value}>"),
            OdpsType::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, (name, ty)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_field_name(f, name)?;
                    write!(f, ":{ty}")?;
                }
                f.write_str(">")
            }
            OdpsType::Unknown(text) => f.write_str(text),
            other => f.write_str(other.keyword()),
        }
    }
}

impl FromStr for OdpsType {
    type Err = SchemaError;

    /// Same as [`OdpsType::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OdpsType::parse(s)
    }
}

/// Serializes as the type string (read-schema form).
impl Serialize for OdpsType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Deserializes from a type string with [`OdpsType::parse`].
impl<'de> Deserialize<'de> for OdpsType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        OdpsType::parse(&text).map_err(de::Error::custom)
    }
}

/// Recursive-descent parser of type strings; `pos` is a byte offset into `input`.
pub(super) struct TypeParser<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> TypeParser<'a> {
    fn peek(&self) -> Option<char> {
        self.input
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    /// Whether the next non-whitespace character is `c` (consumes nothing).
    fn at(&self, c: char) -> bool {
        self.input
            .get(self.pos..)
            .and_then(|rest| rest.trim_start().chars().next())
            == Some(c)
    }

    fn at_params(&self) -> bool {
        self.at('(') || self.at('<')
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("`{c}`"),
            None => "end of input".to_owned(),
        }
    }

    fn error(&self, offset: usize, reason: impl Into<String>) -> SchemaError {
        SchemaError::TypeSyntax {
            path: String::new(),
            input: self.input.to_owned(),
            offset,
            reason: reason.into(),
        }
    }

    fn expect(&mut self, want: char) -> Result<(), SchemaError> {
        self.skip_ws();
        if self.peek() == Some(want) {
            self.pos += want.len_utf8();
            Ok(())
        } else {
            Err(self.error(
                self.pos,
                format!("expected `{want}`, found {}", self.found()),
            ))
        }
    }

    /// `[A-Za-z_][A-Za-z0-9_]*` at the current position (no whitespace skipped).
    fn identifier(&mut self) -> Option<&'a str> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.pos += 1,
            _ => return None,
        }
        while let Some(c) = self.peek() {
            if !(c.is_ascii_alphanumeric() || c == '_') {
                break;
            }
            self.pos += 1;
        }
        self.input.get(start..self.pos)
    }

    fn integer(&mut self) -> Result<u32, SchemaError> {
        self.skip_ws();
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = self.input.get(start..self.pos).unwrap_or_default();
        if digits.is_empty() {
            return Err(self.error(
                start,
                format!("expected an integer, found {}", self.found()),
            ));
        }
        digits.parse::<u32>().map_err(|_| {
            self.error(
                start,
                format!("integer {digits} is out of range (at most {})", u32::MAX),
            )
        })
    }

    fn parse_type(&mut self, depth: usize) -> Result<OdpsType, SchemaError> {
        self.skip_ws();
        let start = self.pos;
        if depth > MAX_TYPE_DEPTH {
            return Err(self.error(
                start,
                format!("types nest deeper than {MAX_TYPE_DEPTH} levels"),
            ));
        }
        let Some(name) = self.identifier() else {
            return Err(self.error(
                start,
                format!("expected a type name, found {}", self.found()),
            ));
        };
        let keyword = name.to_ascii_lowercase();
        let ty = match keyword.as_str() {
            "decimal" => {
                if self.at('(') {
                    self.expect('(')?;
                    let precision = self.integer()?;
                    self.skip_ws();
                    let scale = if self.peek() == Some(',') {
                        self.pos += 1;
                        Some(self.integer()?)
                    } else {
                        None
                    };
                    self.expect(')')?;
                    OdpsType::Decimal {
                        precision: Some(precision),
                        scale,
                    }
                } else {
                    OdpsType::Decimal {
                        precision: None,
                        scale: None,
                    }
                }
            }
            "char" | "varchar" => {
                self.expect('(')?;
                let length = self.integer()?;
                self.expect(')')?;
                if keyword == "char" {
                    OdpsType::Char(length)
                } else {
                    OdpsType::Varchar(length)
                }
            }
            "array" => {
                self.expect('<')?;
                let element = self.parse_type(depth + 1)?;
                self.expect('>')?;
                OdpsType::Array(Box::new(element))
            }
            "map" => {
                self.expect('<')?;
                let key = self.parse_type(depth + 1)?;
                self.expect(',')?;
                let value = self.parse_type(depth + 1)?;
                self.expect('>')?;
                OdpsType::Map(Box::new(key), Box::new(value))
            }
            "struct" => OdpsType::Struct(self.struct_fields(depth)?),
            "vector" => {
                if self.at_params() {
                    self.skip_group()?;
                    OdpsType::Unknown(self.input.get(start..self.pos).unwrap_or(name).to_owned())
                } else {
                    OdpsType::Vector
                }
            }
            _ => match primitive_for_keyword(&keyword) {
                Some(ty) => {
                    if self.at_params() {
                        self.skip_ws();
                        return Err(
                            self.error(self.pos, format!("type `{keyword}` takes no parameters"))
                        );
                    }
                    ty
                }
                None => {
                    if self.at_params() {
                        self.skip_group()?;
                    }
                    OdpsType::Unknown(self.input.get(start..self.pos).unwrap_or(name).to_owned())
                }
            },
        };
        Ok(ty)
    }

    fn struct_fields(&mut self, depth: usize) -> Result<Vec<(String, OdpsType)>, SchemaError> {
        self.expect('<')?;
        let mut fields = Vec::new();
        if self.at('>') {
            self.expect('>')?;
            return Ok(fields);
        }
        loop {
            let name = self.field_name()?;
            self.expect(':')?;
            let ty = self.parse_type(depth + 1)?;
            fields.push((name, ty));
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('>') => {
                    self.pos += 1;
                    return Ok(fields);
                }
                _ => {
                    return Err(self.error(
                        self.pos,
                        format!("expected `,` or `>` in struct, found {}", self.found()),
                    ));
                }
            }
        }
    }

    fn field_name(&mut self) -> Result<String, SchemaError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('`') => {
                self.pos += 1;
                let mut name = String::new();
                loop {
                    match self.bump() {
                        Some('`') => {
                            if self.peek() == Some('`') {
                                self.pos += 1;
                                name.push('`');
                            } else if name.is_empty() {
                                return Err(self.error(start, "empty struct field name"));
                            } else {
                                return Ok(name);
                            }
                        }
                        Some(c) => name.push(c),
                        None => {
                            return Err(self.error(start, "unterminated backquoted field name"));
                        }
                    }
                }
            }
            Some(c) if c.is_alphanumeric() || c == '_' => {
                while matches!(self.peek(), Some(c) if c.is_alphanumeric() || c == '_') {
                    self.bump();
                }
                Ok(self
                    .input
                    .get(start..self.pos)
                    .unwrap_or_default()
                    .to_owned())
            }
            _ => Err(self.error(
                start,
                format!("expected a struct field name, found {}", self.found()),
            )),
        }
    }

    /// Skips a balanced `(…)` / `<…>` group (after optional whitespace) whose content this
    /// crate does not interpret; backquoted text inside is skipped as a whole.
    fn skip_group(&mut self) -> Result<(), SchemaError> {
        self.skip_ws();
        let mut open: Vec<(char, usize)> = Vec::new();
        loop {
            let at = self.pos;
            let Some(c) = self.bump() else {
                let (opener, offset) = open.last().copied().unwrap_or(('(', at));
                return Err(self.error(
                    offset,
                    format!("unterminated `{opener}` (reached the end of input)"),
                ));
            };
            match c {
                '(' | '<' => {
                    if open.len() >= MAX_TYPE_DEPTH {
                        return Err(self.error(
                            at,
                            format!("parameters nest deeper than {MAX_TYPE_DEPTH} levels"),
                        ));
                    }
                    open.push((c, at));
                }
                ')' | '>' => {
                    let expected = match open.pop() {
                        Some(('(', _)) => ')',
                        Some(_) => '>',
                        None => return Err(self.error(at, format!("unexpected `{c}`"))),
                    };
                    if c != expected {
                        return Err(self.error(at, format!("expected `{expected}`, found `{c}`")));
                    }
                    if open.is_empty() {
                        return Ok(());
                    }
                }
                '`' => loop {
                    match self.bump() {
                        Some('`') => break,
                        Some(_) => {}
                        None => {
                            return Err(self.error(at, "unterminated backquoted name"));
                        }
                    }
                },
                _ if open.is_empty() => {
                    return Err(self.error(at, format!("expected `(` or `<`, found `{c}`")));
                }
                _ => {}
            }
        }
    }
}
