//! Table schemas as the Storage API describes them.
//!
//! Two JSON shapes exist (protocol.md B§3.4, B§3.6): the *read schema* (`DataSchema`,
//! columns with a type **string**) and the *write schema* (`TableSchema`, columns with a
//! type **code tree**). Both are parsed into [`OdpsType`], the MaxCompute type model shared
//! by the clients, the codec and the emulator.
//!
//! * [`OdpsType::parse`] / [`Display`](fmt::Display) convert type strings such as
//!   `decimal(10,2)` or `struct<a:int,b:array<string>>`.
//! * [`OdpsType::type_code`] and [`OdpsType::from_type_node`] convert the integer `Type`
//!   codes of write schemas.
//! * [`WriteSchema`] / [`WriteColumn`] / [`TypeNode`] model `TableSchema` JSON,
//!   [`ReadSchema`] / [`ReadColumn`] model `DataSchema` JSON.
//! * [`TableColumns`] / [`Column`] is the flat view both convert to and from, so the
//!   emulator can describe a table once and emit both shapes.
//!
//! Parsing is tolerant the way the official SDKs are (missing, `null` or `{}` column lists
//! are empty; unknown keys are ignored; `Nullable` defaults to `true`; keys are matched
//! exactly first and then ASCII case-insensitively; integers and booleans may also arrive
//! as JSON strings). Serialization always emits the superset every SDK needs
//! (protocol.md B§11): explicit `Nullable` and `ColumnId`, non-null comments and every
//! column list present.
//!
//! Nothing here panics on wire input; nesting is bounded by [`MAX_TYPE_DEPTH`].

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Deepest nesting of types accepted from a type string or a write-schema type tree
/// (`bigint` is depth 1, `array<bigint>` depth 2). Deeper input is rejected with an error
/// instead of risking stack exhaustion.
pub const MAX_TYPE_DEPTH: usize = 64;

/// Name of the system column that marks delta (primary-key) tables in write schemas
/// (protocol.md B§3.6: listed in `SystemColumns`, sometimes also in `DataColumns`).
pub const OPERATION_COLUMN: &str = "__operation";

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
fn primitive_for_code(code: i32) -> Option<OdpsType> {
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
fn primitive_for_keyword(keyword: &str) -> Option<OdpsType> {
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
fn code_for_keyword(keyword: &str) -> Option<i32> {
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
fn code_name(code: i32) -> &'static str {
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
fn unknown_type_code(text: &str) -> i32 {
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
fn leading_identifier(text: &str) -> &str {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Whether a struct field name can be printed without backquotes.
fn is_bare_field_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn write_field_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
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
struct TypeParser<'a> {
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

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Why a type string or a schema could not be understood.
///
/// `path` fields name the JSON location, e.g.
/// `TableSchema.DataColumns[2]("c").columnType.SubTypes[0].Type`; a column's name appears
/// in parentheses once it is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A type string is malformed.
    #[error("{}invalid type string {input:?} at byte offset {offset}: {reason}", path_prefix(.path))]
    TypeSyntax {
        /// JSON location of the string (empty when the string was parsed on its own).
        path: String,
        /// The whole type string.
        input: String,
        /// Byte offset into `input` where the problem was found.
        offset: usize,
        /// What was wrong there.
        reason: String,
    },
    /// The schema text is not JSON at all.
    #[error("schema is not valid JSON: {message}")]
    Json {
        /// The JSON parser's message (with line and column).
        message: String,
    },
    /// A JSON value has the wrong kind.
    #[error("{path}: expected {expected}, found {found}")]
    WrongJsonType {
        /// Location of the value.
        path: String,
        /// What was expected (e.g. `an object`, `an integer`).
        expected: &'static str,
        /// The JSON kind found (e.g. `a string`).
        found: &'static str,
    },
    /// A required key is absent or `null`.
    #[error("{path}: required field `{field}` is missing or null")]
    MissingField {
        /// Location of the object lacking the key.
        path: String,
        /// The key.
        field: &'static str,
    },
    /// A value has the right JSON kind but is not acceptable.
    #[error("{path}: {reason}")]
    InvalidValue {
        /// Location of the value.
        path: String,
        /// Why it is not acceptable.
        reason: String,
    },
    /// An ARRAY or MAP type node has the wrong number of `SubTypes`.
    #[error(
        "{path}: a {type_name} type node needs exactly {expected} entries in `SubTypes`, found {found}"
    )]
    SubTypeCount {
        /// Location of the type node.
        path: String,
        /// `ARRAY` or `MAP`.
        type_name: &'static str,
        /// Required number of sub-types.
        expected: usize,
        /// Number present.
        found: usize,
    },
    /// A type tree nests deeper than [`MAX_TYPE_DEPTH`].
    #[error("{path}: type tree nests deeper than {limit} levels")]
    TooDeep {
        /// Location of the first node beyond the limit.
        path: String,
        /// The limit ([`MAX_TYPE_DEPTH`]).
        limit: usize,
    },
    /// [`WriteSchema::resolve_blob_column`] was asked for a name that is not a BLOB column.
    #[error("no BLOB column {name:?}; BLOB columns of this table: {}", list_or_none(.available))]
    NoSuchBlobColumn {
        /// The name or dotted path asked for.
        name: String,
        /// Dotted paths of the table's BLOB columns.
        available: Vec<String>,
    },
    /// [`WriteSchema::resolve_blob_column`] without a name, and the table does not have
    /// exactly one top-level BLOB column and no nested ones.
    #[error("cannot pick a BLOB column automatically ({reason}); name one of: {}", list_or_none(.available))]
    AmbiguousBlobColumn {
        /// Why no single column could be chosen.
        reason: String,
        /// Dotted paths of the table's BLOB columns.
        available: Vec<String>,
    },
}

fn path_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

impl SchemaError {
    /// Sets the JSON location of a [`SchemaError::TypeSyntax`] error (other kinds already
    /// carry theirs).
    fn at_path(self, location: &JsonPath<'_>) -> SchemaError {
        match self {
            SchemaError::TypeSyntax {
                input,
                offset,
                reason,
                ..
            } => SchemaError::TypeSyntax {
                path: location.render(),
                input,
                offset,
                reason,
            },
            other => other,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tolerant JSON access
// ---------------------------------------------------------------------------------------

/// One step of a JSON location, rendered only when an error is reported.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Root(&'a str),
    Key(&'a str),
    Index(usize),
    Name(&'a str),
}

/// A JSON location as a linked list of steps borrowed from the caller's stack.
#[derive(Clone, Copy)]
struct JsonPath<'a> {
    parent: Option<&'a JsonPath<'a>>,
    seg: Seg<'a>,
}

impl<'a> JsonPath<'a> {
    const fn root(name: &'a str) -> JsonPath<'a> {
        JsonPath {
            parent: None,
            seg: Seg::Root(name),
        }
    }

    fn key<'b>(&'b self, key: &'b str) -> JsonPath<'b> {
        JsonPath {
            parent: Some(self),
            seg: Seg::Key(key),
        }
    }

    fn index(&self, index: usize) -> JsonPath<'_> {
        JsonPath {
            parent: Some(self),
            seg: Seg::Index(index),
        }
    }

    fn name<'b>(&'b self, name: &'b str) -> JsonPath<'b> {
        JsonPath {
            parent: Some(self),
            seg: Seg::Name(name),
        }
    }

    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            segs.push(p.seg);
            cur = p.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match *seg {
                Seg::Root(name) => out.push_str(name),
                Seg::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
                Seg::Name(name) => {
                    if !name.is_empty() {
                        out.push_str(&format!("({name:?})"));
                    }
                }
            }
        }
        out
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn as_object<'v>(
    value: &'v Value,
    at: &JsonPath<'_>,
) -> Result<&'v Map<String, Value>, SchemaError> {
    value.as_object().ok_or_else(|| SchemaError::WrongJsonType {
        path: at.render(),
        expected: "an object",
        found: json_kind(value),
    })
}

/// The non-null value of `key`: exact match first, then ASCII case-insensitive.
fn lookup<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    let value = match obj.get(key) {
        Some(v) => v,
        None => obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?.1,
    };
    (!value.is_null()).then_some(value)
}

/// A string value; numbers and booleans are accepted as their JSON text (as Gson's
/// `getAsString` does).
fn opt_text(
    obj: &Map<String, Value>,
    key: &str,
    at: &JsonPath<'_>,
) -> Result<Option<String>, SchemaError> {
    match lookup(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(SchemaError::WrongJsonType {
            path: at.key(key).render(),
            expected: "a string",
            found: json_kind(other),
        }),
    }
}

/// An integer given as a JSON number (integral) or a decimal string.
fn opt_i64(
    obj: &Map<String, Value>,
    key: &str,
    at: &JsonPath<'_>,
) -> Result<Option<i64>, SchemaError> {
    let Some(value) = lookup(obj, key) else {
        return Ok(None);
    };
    let invalid = |reason: String| SchemaError::InvalidValue {
        path: at.key(key).render(),
        reason,
    };
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if n.is_u64() {
                Err(invalid(format!(
                    "integer {n} does not fit in 64 signed bits"
                )))
            } else {
                match n.as_f64() {
                    // Integral floats such as `3.0` are accepted; the range check keeps the
                    // conversion exact.
                    Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                        Ok(Some(f as i64))
                    }
                    _ => Err(invalid(format!("expected an integer, found {n}"))),
                }
            }
        }
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| invalid(format!("expected an integer, found the string {s:?}"))),
        other => Err(SchemaError::WrongJsonType {
            path: at.key(key).render(),
            expected: "an integer",
            found: json_kind(other),
        }),
    }
}

fn opt_i32(
    obj: &Map<String, Value>,
    key: &str,
    at: &JsonPath<'_>,
) -> Result<Option<i32>, SchemaError> {
    match opt_i64(obj, key, at)? {
        None => Ok(None),
        Some(v) => i32::try_from(v)
            .map(Some)
            .map_err(|_| SchemaError::InvalidValue {
                path: at.key(key).render(),
                reason: format!("integer {v} does not fit in 32 signed bits"),
            }),
    }
}

/// A boolean given as JSON `true`/`false` or the strings `"true"`/`"false"` (any case).
fn opt_bool(
    obj: &Map<String, Value>,
    key: &str,
    at: &JsonPath<'_>,
) -> Result<Option<bool>, SchemaError> {
    match lookup(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(Value::String(s)) => Err(SchemaError::InvalidValue {
            path: at.key(key).render(),
            reason: format!("expected a boolean, found the string {s:?}"),
        }),
        Some(other) => Err(SchemaError::WrongJsonType {
            path: at.key(key).render(),
            expected: "a boolean",
            found: json_kind(other),
        }),
    }
}

/// A list: missing, `null` or an object (`{}` — what some servers send for an empty list)
/// is empty; a scalar is an error.
fn opt_list<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    at: &JsonPath<'_>,
) -> Result<&'v [Value], SchemaError> {
    match lookup(obj, key) {
        None | Some(Value::Object(_)) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(SchemaError::WrongJsonType {
            path: at.key(key).render(),
            expected: "an array",
            found: json_kind(other),
        }),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, SchemaError> {
    serde_json::from_slice(bytes).map_err(|e| SchemaError::Json {
        message: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------
// Write schema (`TableSchema`)
// ---------------------------------------------------------------------------------------

/// One node of a write-schema type tree (the `columnType` object and its `SubTypes`,
/// protocol.md B§3.6), field for field as on the wire.
///
/// Serialization emits `Type`, `MemberName`, `ColumnId`, `Nullable`, `SubTypes`,
/// `HasDefaultValue` and `IsDistributionKey` always and `Precision`, `Scale`,
/// `SpecifiedLength`, `DefaultValue` when set. Deserialization is tolerant (see the module
/// docs); only `Type` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeNode {
    /// `Type`: the type code ([`OdpsType::type_code`]).
    #[serde(rename = "Type")]
    pub type_code: i32,
    /// `MemberName`: the column name for a top-level node; `element` for an array element,
    /// `key`/`value` for map entries, the field name for struct members.
    #[serde(rename = "MemberName")]
    pub member_name: String,
    /// `ColumnId`: server-assigned id of this node (top-level and nested; the
    /// `ColumnIndex` of blob uploads). -1 (the default when absent) means unassigned.
    #[serde(rename = "ColumnId")]
    pub column_id: i64,
    /// `Nullable`; `true` when absent.
    #[serde(rename = "Nullable")]
    pub nullable: bool,
    /// `Precision` of a DECIMAL.
    #[serde(rename = "Precision", skip_serializing_if = "Option::is_none")]
    pub precision: Option<i64>,
    /// `Scale` of a DECIMAL.
    #[serde(rename = "Scale", skip_serializing_if = "Option::is_none")]
    pub scale: Option<i64>,
    /// `SpecifiedLength` of a CHAR or VARCHAR.
    #[serde(rename = "SpecifiedLength", skip_serializing_if = "Option::is_none")]
    pub specified_length: Option<i64>,
    /// `SubTypes`: one for ARRAY, two (key, value) for MAP, one per member for STRUCT.
    #[serde(rename = "SubTypes")]
    pub sub_types: Vec<TypeNode>,
    /// `HasDefaultValue`; `false` when absent.
    #[serde(rename = "HasDefaultValue")]
    pub has_default_value: bool,
    /// `DefaultValue`, the default's SQL text.
    #[serde(rename = "DefaultValue", skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    /// `IsDistributionKey`: the column is part of the primary / distribution key (delta
    /// tables); `false` when absent.
    #[serde(rename = "IsDistributionKey")]
    pub is_distribution_key: bool,
}

impl TypeNode {
    /// The node tree describing `ty`, named `member_name`, nullable, with every `ColumnId`
    /// unassigned (-1) and no default value. Nested members are named `element`, `key`,
    /// `value` or after the struct field. Precision, scale and length are set only where
    /// `ty` has them.
    pub fn new(member_name: impl Into<String>, ty: &OdpsType) -> TypeNode {
        let mut node = TypeNode {
            type_code: ty.type_code(),
            member_name: member_name.into(),
            column_id: -1,
            nullable: true,
            precision: None,
            scale: None,
            specified_length: None,
            sub_types: Vec::new(),
            has_default_value: false,
            default_value: None,
            is_distribution_key: false,
        };
        match ty {
            OdpsType::Decimal { precision, scale } => {
                node.precision = precision.map(i64::from);
                node.scale = scale.map(i64::from);
            }
            OdpsType::Char(length) | OdpsType::Varchar(length) => {
                node.specified_length = Some(i64::from(*length));
            }
            OdpsType::Array(element) => node.sub_types = vec![TypeNode::new("element", element)],
            OdpsType::Map(key, value) => {
                node.sub_types = vec![TypeNode::new("key", key), TypeNode::new("value", value)];
            }
            OdpsType::Struct(fields) => {
                node.sub_types = fields
                    .iter()
                    .map(|(name, ty)| TypeNode::new(name.clone(), ty))
                    .collect();
            }
            _ => {}
        }
        node
    }

    /// Parses a type node from JSON (tolerant, see the module docs). The type tree is not
    /// checked for consistency here; [`TypeNode::odps_type`] does that.
    ///
    /// # Errors
    ///
    /// A missing `Type`, values of the wrong JSON kind, nesting deeper than
    /// [`MAX_TYPE_DEPTH`].
    pub fn from_value(value: &Value) -> Result<TypeNode, SchemaError> {
        parse_type_node(value, &JsonPath::root("columnType"), 1)
    }

    /// The type this node describes ([`OdpsType::from_type_node`]).
    ///
    /// # Errors
    ///
    /// See [`OdpsType::from_type_node`].
    pub fn odps_type(&self) -> Result<OdpsType, SchemaError> {
        OdpsType::from_type_node(self)
    }

    /// `ColumnId` when assigned (non-negative).
    pub fn assigned_column_id(&self) -> Option<i64> {
        (self.column_id >= 0).then_some(self.column_id)
    }

    /// Whether this node or any node below it has type code 22 (BLOB).
    pub fn contains_blob(&self) -> bool {
        self.type_code == 22 || self.sub_types.iter().any(TypeNode::contains_blob)
    }
}

impl<'de> Deserialize<'de> for TypeNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        TypeNode::from_value(&value).map_err(de::Error::custom)
    }
}

fn parse_type_node(
    value: &Value,
    at: &JsonPath<'_>,
    depth: usize,
) -> Result<TypeNode, SchemaError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(SchemaError::TooDeep {
            path: at.render(),
            limit: MAX_TYPE_DEPTH,
        });
    }
    let obj = as_object(value, at)?;
    let member_name = opt_text(obj, "MemberName", at)?.unwrap_or_default();
    let here = at.name(&member_name);
    let type_code = opt_i32(obj, "Type", &here)?.ok_or_else(|| SchemaError::MissingField {
        path: here.render(),
        field: "Type",
    })?;
    let subs_at = here.key("SubTypes");
    let sub_types = opt_list(obj, "SubTypes", &here)?
        .iter()
        .enumerate()
        .map(|(i, sub)| parse_type_node(sub, &subs_at.index(i), depth + 1))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TypeNode {
        type_code,
        column_id: opt_i64(obj, "ColumnId", &here)?.unwrap_or(-1),
        nullable: opt_bool(obj, "Nullable", &here)?.unwrap_or(true),
        precision: opt_i64(obj, "Precision", &here)?,
        scale: opt_i64(obj, "Scale", &here)?,
        specified_length: opt_i64(obj, "SpecifiedLength", &here)?,
        sub_types,
        has_default_value: opt_bool(obj, "HasDefaultValue", &here)?.unwrap_or(false),
        default_value: opt_text(obj, "DefaultValue", &here)?,
        is_distribution_key: opt_bool(obj, "IsDistributionKey", &here)?.unwrap_or(false),
        member_name,
    })
}

fn u32_param(
    value: Option<i64>,
    field: &str,
    at: &JsonPath<'_>,
) -> Result<Option<u32>, SchemaError> {
    value
        .map(|v| {
            u32::try_from(v).map_err(|_| SchemaError::InvalidValue {
                path: at.key(field).render(),
                reason: format!("{field} must be between 0 and {}, found {v}", u32::MAX),
            })
        })
        .transpose()
}

/// The type of `node`; `here` is the node's location (including its name).
fn type_from_node(
    node: &TypeNode,
    here: &JsonPath<'_>,
    depth: usize,
) -> Result<OdpsType, SchemaError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(SchemaError::TooDeep {
            path: here.render(),
            limit: MAX_TYPE_DEPTH,
        });
    }
    if let Some(ty) = primitive_for_code(node.type_code) {
        return Ok(ty);
    }
    let subs_at = here.key("SubTypes");
    let sub = |i: usize| -> Result<OdpsType, SchemaError> {
        match node.sub_types.get(i) {
            Some(sub) => {
                let index_at = subs_at.index(i);
                type_from_node(sub, &index_at.name(&sub.member_name), depth + 1)
            }
            None => Err(SchemaError::MissingField {
                path: subs_at.render(),
                field: "SubTypes",
            }),
        }
    };
    let expect_subs = |type_name: &'static str, expected: usize| -> Result<(), SchemaError> {
        if node.sub_types.len() == expected {
            Ok(())
        } else {
            Err(SchemaError::SubTypeCount {
                path: here.render(),
                type_name,
                expected,
                found: node.sub_types.len(),
            })
        }
    };
    Ok(match node.type_code {
        5 => OdpsType::Decimal {
            precision: u32_param(node.precision, "Precision", here)?,
            scale: u32_param(node.scale, "Scale", here)?,
        },
        9 | 10 => {
            let length = u32_param(node.specified_length, "SpecifiedLength", here)?.unwrap_or(0);
            if node.type_code == 9 {
                OdpsType::Char(length)
            } else {
                OdpsType::Varchar(length)
            }
        }
        17 => {
            expect_subs(code_name(17), 1)?;
            OdpsType::Array(Box::new(sub(0)?))
        }
        18 => {
            expect_subs(code_name(18), 2)?;
            OdpsType::Map(Box::new(sub(0)?), Box::new(sub(1)?))
        }
        19 => {
            let mut fields = Vec::with_capacity(node.sub_types.len());
            for (i, member) in node.sub_types.iter().enumerate() {
                if member.member_name.is_empty() {
                    return Err(SchemaError::InvalidValue {
                        path: subs_at.index(i).key("MemberName").render(),
                        reason: "a STRUCT member needs a non-empty `MemberName`".to_owned(),
                    });
                }
                fields.push((member.member_name.clone(), sub(i)?));
            }
            OdpsType::Struct(fields)
        }
        -1 => OdpsType::Unknown("unknown".to_owned()),
        code => OdpsType::Unknown(format!("unknown({code})")),
    })
}

/// The items of `list`, each paired with `kind`.
fn tagged<T>(kind: ColumnKind, list: &[T]) -> impl Iterator<Item = (ColumnKind, &T)> {
    list.iter().map(move |item| (kind, item))
}

/// Which list of a schema a column belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// `DataColumns`.
    Data,
    /// `PartitionColumns`.
    Partition,
    /// `SystemColumns`.
    System,
}

impl ColumnKind {
    /// The JSON key of the list (`DataColumns`, `PartitionColumns`, `SystemColumns`).
    pub fn json_key(self) -> &'static str {
        match self {
            ColumnKind::Data => "DataColumns",
            ColumnKind::Partition => "PartitionColumns",
            ColumnKind::System => "SystemColumns",
        }
    }
}

/// A column of a write schema: `{columnType, comment, label, extendedLabels}` (lower-case
/// keys on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteColumn {
    /// `columnType`: the type tree; its `MemberName` is the column name, its `ColumnId`
    /// the column id, its `Nullable` the column's nullability.
    #[serde(rename = "columnType")]
    pub column_type: TypeNode,
    /// `comment`; empty when absent.
    #[serde(rename = "comment")]
    pub comment: String,
    /// `label` (security label); empty when absent.
    #[serde(rename = "label")]
    pub label: String,
    /// `extendedLabels`; empty when absent.
    #[serde(rename = "extendedLabels")]
    pub extended_labels: Vec<String>,
}

impl WriteColumn {
    /// The column name (`columnType.MemberName`).
    pub fn name(&self) -> &str {
        &self.column_type.member_name
    }

    /// The column type.
    ///
    /// # Errors
    ///
    /// See [`OdpsType::from_type_node`] (never fails for a column obtained by parsing,
    /// which validates its type tree, unless it was modified since).
    pub fn odps_type(&self) -> Result<OdpsType, SchemaError> {
        self.column_type.odps_type()
    }

    /// The flat view of this column.
    ///
    /// # Errors
    ///
    /// See [`OdpsType::from_type_node`].
    pub fn to_column(&self) -> Result<Column, SchemaError> {
        Ok(Column {
            name: self.column_type.member_name.clone(),
            odps_type: self.odps_type()?,
            nullable: self.column_type.nullable,
            comment: self.comment.clone(),
            column_id: self.column_type.assigned_column_id(),
        })
    }

    /// A write column for `column` ([`TypeNode::new`] with the column's name, id —
    /// -1 when `None` — and nullability), without label.
    pub fn from_column(column: &Column) -> WriteColumn {
        let mut column_type = TypeNode::new(column.name.clone(), &column.odps_type);
        column_type.column_id = column.column_id.unwrap_or(-1);
        column_type.nullable = column.nullable;
        WriteColumn {
            column_type,
            comment: column.comment.clone(),
            label: String::new(),
            extended_labels: Vec::new(),
        }
    }

    /// Parses a write column from JSON and checks that its type tree describes a valid
    /// type.
    ///
    /// # Errors
    ///
    /// A missing `columnType`, any [`TypeNode::from_value`] or
    /// [`OdpsType::from_type_node`] error.
    pub fn from_value(value: &Value) -> Result<WriteColumn, SchemaError> {
        parse_write_column(value, &JsonPath::root("column"))
    }
}

impl<'de> Deserialize<'de> for WriteColumn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        WriteColumn::from_value(&value).map_err(de::Error::custom)
    }
}

fn parse_write_column(value: &Value, at: &JsonPath<'_>) -> Result<WriteColumn, SchemaError> {
    let obj = as_object(value, at)?;
    let type_value = lookup(obj, "columnType").ok_or_else(|| SchemaError::MissingField {
        path: at.render(),
        field: "columnType",
    })?;
    let column_type = parse_type_node(type_value, &at.key("columnType"), 1)?;
    let here = at.name(&column_type.member_name);
    type_from_node(&column_type, &here.key("columnType"), 1)?;
    let labels_at = here.key("extendedLabels");
    let extended_labels = opt_list(obj, "extendedLabels", &here)?
        .iter()
        .enumerate()
        .map(|(i, label)| match label {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(SchemaError::WrongJsonType {
                path: labels_at.index(i).render(),
                expected: "a string",
                found: json_kind(other),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WriteColumn {
        comment: opt_text(obj, "comment", &here)?.unwrap_or_default(),
        label: opt_text(obj, "label", &here)?.unwrap_or_default(),
        extended_labels,
        column_type,
    })
}

fn parse_write_columns(
    obj: &Map<String, Value>,
    kind: ColumnKind,
    at: &JsonPath<'_>,
) -> Result<Vec<WriteColumn>, SchemaError> {
    let key = kind.json_key();
    let list_at = at.key(key);
    opt_list(obj, key, at)?
        .iter()
        .enumerate()
        .map(|(i, column)| parse_write_column(column, &list_at.index(i)))
        .collect()
}

/// Where a BLOB node sits in a write schema (see [`WriteSchema::blob_columns`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobColumnRef {
    /// The list holding the top-level column.
    pub kind: ColumnKind,
    /// Path from the top-level column name down to the BLOB node: `["c"]` for a BLOB
    /// column, `["tags", "element"]` for `tags array<blob>`, `["s", "f"]` for a struct
    /// member, `["m", "value"]` for a map value. Nested names are the nodes' `MemberName`
    /// (or `element`/`key`/`value`/the index when that is empty).
    pub path: Vec<String>,
    /// The BLOB node's `ColumnId` — the `ColumnIndex` of blob uploads — or `None` when the
    /// server did not assign one.
    pub column_id: Option<i64>,
}

impl BlobColumnRef {
    /// The top-level column name.
    pub fn column_name(&self) -> &str {
        self.path.first().map(String::as_str).unwrap_or_default()
    }

    /// Whether the BLOB is nested inside an ARRAY, MAP or STRUCT.
    pub fn is_nested(&self) -> bool {
        self.path.len() > 1
    }

    /// The path joined with `.` (`tags.element`), as the Python SDK names nested columns.
    pub fn dotted_path(&self) -> String {
        self.path.join(".")
    }
}

fn collect_blobs(
    node: &TypeNode,
    kind: ColumnKind,
    path: &mut Vec<String>,
    depth: usize,
    out: &mut Vec<BlobColumnRef>,
) {
    if node.type_code == 22 {
        out.push(BlobColumnRef {
            kind,
            path: path.clone(),
            column_id: node.assigned_column_id(),
        });
    }
    if depth >= MAX_TYPE_DEPTH {
        return;
    }
    for (i, sub) in node.sub_types.iter().enumerate() {
        let segment = if !sub.member_name.is_empty() {
            sub.member_name.clone()
        } else {
            match (node.type_code, i) {
                (17, _) => "element".to_owned(),
                (18, 0) => "key".to_owned(),
                (18, _) => "value".to_owned(),
                _ => i.to_string(),
            }
        };
        path.push(segment);
        collect_blobs(sub, kind, path, depth + 1, out);
        path.pop();
    }
}

fn assign_nested_ids(node: &mut TypeNode, next: &mut i64, depth: usize) {
    if depth >= MAX_TYPE_DEPTH {
        return;
    }
    for sub in &mut node.sub_types {
        if sub.column_id < 0 {
            sub.column_id = *next;
            *next = next.saturating_add(1);
        }
        assign_nested_ids(sub, next, depth + 1);
    }
}

/// A write schema (`TableSchema` in `TableCreateWriteStream`, `TableGetWriteStream`,
/// `TableGetWriteSchema`, instance and C++ read-session responses; protocol.md B§3.6).
///
/// Serializes as `{DataColumns, PartitionColumns, SystemColumns[, MaxFieldSize]}` with all
/// three lists always present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct WriteSchema {
    /// `DataColumns`.
    #[serde(rename = "DataColumns")]
    pub data_columns: Vec<WriteColumn>,
    /// `PartitionColumns` (the Java and Python SDKs ignore it, C++ requires the key).
    #[serde(rename = "PartitionColumns")]
    pub partition_columns: Vec<WriteColumn>,
    /// `SystemColumns`, e.g. `__operation` of delta tables.
    #[serde(rename = "SystemColumns")]
    pub system_columns: Vec<WriteColumn>,
    /// `MaxFieldSize` in bytes (the C++ SDK assumes 8 MiB when absent).
    #[serde(rename = "MaxFieldSize", skip_serializing_if = "Option::is_none")]
    pub max_field_size: Option<i64>,
}

impl WriteSchema {
    /// Parses a `TableSchema` JSON document.
    ///
    /// # Errors
    ///
    /// [`SchemaError::Json`] for text that is not JSON, otherwise as
    /// [`WriteSchema::from_value`].
    pub fn from_json(bytes: &[u8]) -> Result<WriteSchema, SchemaError> {
        WriteSchema::from_value(&parse_json(bytes)?)
    }

    /// Reads a `TableSchema` JSON value. `null` is the empty schema; missing, `null` or
    /// `{}` column lists are empty; every column's type tree is validated.
    ///
    /// # Errors
    ///
    /// A value that is not an object, a column without `columnType` or whose type tree is
    /// invalid ([`OdpsType::from_type_node`]), values of the wrong JSON kind; each error
    /// names its location, e.g. `TableSchema.DataColumns[2]("c").columnType.Type`.
    pub fn from_value(value: &Value) -> Result<WriteSchema, SchemaError> {
        let at = JsonPath::root("TableSchema");
        if value.is_null() {
            return Ok(WriteSchema::default());
        }
        let obj = as_object(value, &at)?;
        Ok(WriteSchema {
            data_columns: parse_write_columns(obj, ColumnKind::Data, &at)?,
            partition_columns: parse_write_columns(obj, ColumnKind::Partition, &at)?,
            system_columns: parse_write_columns(obj, ColumnKind::System, &at)?,
            max_field_size: opt_i64(obj, "MaxFieldSize", &at)?,
        })
    }

    /// The write schema of `columns`: top-level columns keep their ids; columns without an
    /// id and then all nested nodes (pre-order, data → partition → system) get fresh ids
    /// counting up from one past the largest id in use. `MaxFieldSize` is left unset.
    pub fn from_columns(columns: &TableColumns) -> WriteSchema {
        let convert = |list: &[Column]| list.iter().map(WriteColumn::from_column).collect();
        let mut schema = WriteSchema {
            data_columns: convert(&columns.data_columns),
            partition_columns: convert(&columns.partition_columns),
            system_columns: convert(&columns.system_columns),
            max_field_size: None,
        };
        schema.assign_missing_column_ids();
        schema
    }

    /// Gives every node whose `ColumnId` is unassigned (negative) a fresh id: first the
    /// top-level columns, then the nested nodes in pre-order (data → partition → system),
    /// counting up from one past the largest id in use.
    pub fn assign_missing_column_ids(&mut self) {
        fn max_id(node: &TypeNode, depth: usize) -> i64 {
            let below = if depth >= MAX_TYPE_DEPTH {
                -1
            } else {
                node.sub_types
                    .iter()
                    .map(|s| max_id(s, depth + 1))
                    .max()
                    .unwrap_or(-1)
            };
            node.column_id.max(below)
        }
        let mut next = self
            .iter()
            .map(|(_, c)| max_id(&c.column_type, 1))
            .max()
            .unwrap_or(-1)
            .saturating_add(1);
        for column in self.columns_mut() {
            if column.column_type.column_id < 0 {
                column.column_type.column_id = next;
                next = next.saturating_add(1);
            }
        }
        for column in self.columns_mut() {
            assign_nested_ids(&mut column.column_type, &mut next, 1);
        }
    }

    fn columns_mut(&mut self) -> impl Iterator<Item = &mut WriteColumn> {
        self.data_columns
            .iter_mut()
            .chain(self.partition_columns.iter_mut())
            .chain(self.system_columns.iter_mut())
    }

    /// All columns with their list, data → partition → system.
    pub fn iter(&self) -> impl Iterator<Item = (ColumnKind, &WriteColumn)> {
        tagged(ColumnKind::Data, &self.data_columns)
            .chain(tagged(ColumnKind::Partition, &self.partition_columns))
            .chain(tagged(ColumnKind::System, &self.system_columns))
    }

    /// The first column named `name` (ASCII case-insensitive, as MaxCompute names are).
    pub fn find(&self, name: &str) -> Option<(ColumnKind, &WriteColumn)> {
        self.iter()
            .find(|(_, c)| c.name().eq_ignore_ascii_case(name))
    }

    /// The flat view of all three lists.
    ///
    /// # Errors
    ///
    /// See [`OdpsType::from_type_node`] (only possible if the schema was modified after
    /// parsing).
    pub fn columns(&self) -> Result<TableColumns, SchemaError> {
        let convert = |list: &[WriteColumn]| {
            list.iter()
                .map(WriteColumn::to_column)
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(TableColumns {
            data_columns: convert(&self.data_columns)?,
            partition_columns: convert(&self.partition_columns)?,
            system_columns: convert(&self.system_columns)?,
        })
    }

    /// Every BLOB node of the schema — top-level BLOB columns and BLOBs nested in ARRAY,
    /// MAP or STRUCT columns — with its path and `ColumnId` (the `ColumnIndex` to use when
    /// uploading blobs for it), in column order.
    pub fn blob_columns(&self) -> Vec<BlobColumnRef> {
        let mut out = Vec::new();
        for (kind, column) in self.iter() {
            let mut path = vec![column.name().to_owned()];
            collect_blobs(&column.column_type, kind, &mut path, 1, &mut out);
        }
        out
    }

    /// Whether any column is or contains a BLOB.
    pub fn has_blob_columns(&self) -> bool {
        self.iter().any(|(_, c)| c.column_type.contains_blob())
    }

    /// Chooses the BLOB column blobs are uploaded for. With a name, the BLOB column whose
    /// dotted path ([`BlobColumnRef::dotted_path`]) equals it (ASCII case-insensitive);
    /// without, the only BLOB column — allowed only when there is exactly one top-level
    /// BLOB column and no nested one.
    ///
    /// # Errors
    ///
    /// [`SchemaError::NoSuchBlobColumn`] or [`SchemaError::AmbiguousBlobColumn`], both
    /// listing the available paths.
    pub fn resolve_blob_column(&self, name: Option<&str>) -> Result<BlobColumnRef, SchemaError> {
        let blobs = self.blob_columns();
        let available = || {
            blobs
                .iter()
                .map(BlobColumnRef::dotted_path)
                .collect::<Vec<_>>()
        };
        match name {
            Some(name) => blobs
                .iter()
                .find(|b| b.dotted_path().eq_ignore_ascii_case(name))
                .cloned()
                .ok_or_else(|| SchemaError::NoSuchBlobColumn {
                    name: name.to_owned(),
                    available: available(),
                }),
            None => {
                let top: Vec<&BlobColumnRef> = blobs.iter().filter(|b| !b.is_nested()).collect();
                let nested = blobs.len() - top.len();
                match (top.as_slice(), nested) {
                    ([only], 0) => Ok((*only).clone()),
                    _ => Err(SchemaError::AmbiguousBlobColumn {
                        reason: format!(
                            "{} top-level and {nested} nested BLOB column(s)",
                            top.len()
                        ),
                        available: available(),
                    }),
                }
            }
        }
    }

    /// The `__operation` column of a delta table: from `SystemColumns`, else from
    /// `DataColumns` (where some servers also list it). Names compare ASCII
    /// case-insensitively.
    pub fn operation_column(&self) -> Option<(ColumnKind, &WriteColumn)> {
        let named = |c: &&WriteColumn| c.name().eq_ignore_ascii_case(OPERATION_COLUMN);
        self.system_columns
            .iter()
            .find(named)
            .map(|c| (ColumnKind::System, c))
            .or_else(|| {
                self.data_columns
                    .iter()
                    .find(named)
                    .map(|c| (ColumnKind::Data, c))
            })
    }

    /// Data columns flagged `IsDistributionKey` (the primary key of a delta table).
    pub fn distribution_key_columns(&self) -> Vec<&WriteColumn> {
        self.data_columns
            .iter()
            .filter(|c| c.column_type.is_distribution_key)
            .collect()
    }

    /// Whether this is a delta (primary-key) table: it has an `__operation` column or a
    /// column flagged `IsDistributionKey`.
    pub fn is_delta(&self) -> bool {
        self.operation_column().is_some()
            || self.iter().any(|(_, c)| c.column_type.is_distribution_key)
    }
}

impl<'de> Deserialize<'de> for WriteSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        WriteSchema::from_value(&value).map_err(de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// Read schema (`DataSchema`)
// ---------------------------------------------------------------------------------------

/// A column of a read schema: `{Name, Type, Comment, Nullable, ColumnId}`.
///
/// Serializes every key (`ColumnId` only when known, since no value can stand for
/// "unassigned"); the type as its canonical string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadColumn {
    /// `Name`.
    #[serde(rename = "Name")]
    pub name: String,
    /// `Type`, parsed from the type string.
    #[serde(rename = "Type")]
    pub odps_type: OdpsType,
    /// `Comment`; empty when absent.
    #[serde(rename = "Comment")]
    pub comment: String,
    /// `Nullable`; `true` when absent.
    #[serde(rename = "Nullable")]
    pub nullable: bool,
    /// `ColumnId`; `None` when absent or negative.
    #[serde(rename = "ColumnId", skip_serializing_if = "Option::is_none")]
    pub column_id: Option<i64>,
}

impl ReadColumn {
    /// Parses a read column from JSON.
    ///
    /// # Errors
    ///
    /// A missing `Name` or `Type`, a malformed type string
    /// ([`SchemaError::TypeSyntax`] with its location and offset), values of the wrong
    /// JSON kind.
    pub fn from_value(value: &Value) -> Result<ReadColumn, SchemaError> {
        parse_read_column(value, &JsonPath::root("column"))
    }
}

impl<'de> Deserialize<'de> for ReadColumn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ReadColumn::from_value(&value).map_err(de::Error::custom)
    }
}

impl From<&Column> for ReadColumn {
    fn from(column: &Column) -> ReadColumn {
        ReadColumn {
            name: column.name.clone(),
            odps_type: column.odps_type.clone(),
            comment: column.comment.clone(),
            nullable: column.nullable,
            column_id: column.column_id,
        }
    }
}

impl From<&ReadColumn> for Column {
    fn from(column: &ReadColumn) -> Column {
        Column {
            name: column.name.clone(),
            odps_type: column.odps_type.clone(),
            nullable: column.nullable,
            comment: column.comment.clone(),
            column_id: column.column_id,
        }
    }
}

fn parse_read_column(value: &Value, at: &JsonPath<'_>) -> Result<ReadColumn, SchemaError> {
    let obj = as_object(value, at)?;
    let name = opt_text(obj, "Name", at)?.ok_or_else(|| SchemaError::MissingField {
        path: at.render(),
        field: "Name",
    })?;
    let here = at.name(&name);
    let type_text = match lookup(obj, "Type") {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(SchemaError::WrongJsonType {
                path: here.key("Type").render(),
                expected: "a type string",
                found: json_kind(other),
            });
        }
        None => {
            return Err(SchemaError::MissingField {
                path: here.render(),
                field: "Type",
            });
        }
    };
    let odps_type = OdpsType::parse(type_text).map_err(|e| e.at_path(&here.key("Type")))?;
    Ok(ReadColumn {
        odps_type,
        comment: opt_text(obj, "Comment", &here)?.unwrap_or_default(),
        nullable: opt_bool(obj, "Nullable", &here)?.unwrap_or(true),
        column_id: opt_i64(obj, "ColumnId", &here)?.filter(|id| *id >= 0),
        name,
    })
}

fn parse_read_columns(
    obj: &Map<String, Value>,
    key: &'static str,
    at: &JsonPath<'_>,
) -> Result<Vec<ReadColumn>, SchemaError> {
    let list_at = at.key(key);
    opt_list(obj, key, at)?
        .iter()
        .enumerate()
        .map(|(i, column)| parse_read_column(column, &list_at.index(i)))
        .collect()
}

/// A read schema (`DataSchema` in read-session responses, protocol.md B§3.4).
///
/// Serializes as `{DataColumns, PartitionColumns, SystemColumns, BlobColumns}` with every
/// list present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ReadSchema {
    /// `DataColumns`.
    #[serde(rename = "DataColumns")]
    pub data_columns: Vec<ReadColumn>,
    /// `PartitionColumns`.
    #[serde(rename = "PartitionColumns")]
    pub partition_columns: Vec<ReadColumn>,
    /// `SystemColumns`.
    #[serde(rename = "SystemColumns")]
    pub system_columns: Vec<ReadColumn>,
    /// `BlobColumns`: the BLOB columns among the data columns.
    #[serde(rename = "BlobColumns")]
    pub blob_columns: Vec<ReadColumn>,
}

impl ReadSchema {
    /// Parses a `DataSchema` JSON document.
    ///
    /// # Errors
    ///
    /// [`SchemaError::Json`] for text that is not JSON, otherwise as
    /// [`ReadSchema::from_value`].
    pub fn from_json(bytes: &[u8]) -> Result<ReadSchema, SchemaError> {
        ReadSchema::from_value(&parse_json(bytes)?)
    }

    /// Reads a `DataSchema` JSON value. `null` is the empty schema; missing, `null` or `{}`
    /// lists are empty; a missing `Nullable` is `true`, a missing `ColumnId` `None`.
    ///
    /// # Errors
    ///
    /// A value that is not an object, a column without `Name` or `Type`, a malformed type
    /// string, values of the wrong JSON kind; each error names its location, e.g.
    /// `DataSchema.DataColumns[1]("b").Type`.
    pub fn from_value(value: &Value) -> Result<ReadSchema, SchemaError> {
        let at = JsonPath::root("DataSchema");
        if value.is_null() {
            return Ok(ReadSchema::default());
        }
        let obj = as_object(value, &at)?;
        Ok(ReadSchema {
            data_columns: parse_read_columns(obj, "DataColumns", &at)?,
            partition_columns: parse_read_columns(obj, "PartitionColumns", &at)?,
            system_columns: parse_read_columns(obj, "SystemColumns", &at)?,
            blob_columns: parse_read_columns(obj, "BlobColumns", &at)?,
        })
    }

    /// The read schema of `columns`; `BlobColumns` lists the top-level data columns of type
    /// BLOB.
    pub fn from_columns(columns: &TableColumns) -> ReadSchema {
        let convert = |list: &[Column]| list.iter().map(ReadColumn::from).collect::<Vec<_>>();
        ReadSchema {
            data_columns: convert(&columns.data_columns),
            partition_columns: convert(&columns.partition_columns),
            system_columns: convert(&columns.system_columns),
            blob_columns: columns
                .data_columns
                .iter()
                .filter(|c| c.odps_type == OdpsType::Blob)
                .map(ReadColumn::from)
                .collect(),
        }
    }

    /// The flat view of the data, partition and system columns (`BlobColumns` repeats data
    /// columns and is not included).
    pub fn columns(&self) -> TableColumns {
        let convert = |list: &[ReadColumn]| list.iter().map(Column::from).collect::<Vec<_>>();
        TableColumns {
            data_columns: convert(&self.data_columns),
            partition_columns: convert(&self.partition_columns),
            system_columns: convert(&self.system_columns),
        }
    }

    /// All data, partition and system columns with their list.
    pub fn iter(&self) -> impl Iterator<Item = (ColumnKind, &ReadColumn)> {
        tagged(ColumnKind::Data, &self.data_columns)
            .chain(tagged(ColumnKind::Partition, &self.partition_columns))
            .chain(tagged(ColumnKind::System, &self.system_columns))
    }

    /// The first data, partition or system column named `name` (ASCII case-insensitive).
    pub fn find(&self, name: &str) -> Option<(ColumnKind, &ReadColumn)> {
        self.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }
}

impl<'de> Deserialize<'de> for ReadSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ReadSchema::from_value(&value).map_err(de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// Flat column model
// ---------------------------------------------------------------------------------------

/// A column as both schema shapes describe it: what clients need to build or check Arrow
/// batches and what the emulator needs to emit either shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Column type.
    pub odps_type: OdpsType,
    /// Whether the column accepts NULL.
    pub nullable: bool,
    /// Column comment (empty when none).
    pub comment: String,
    /// Server-assigned column id, if known.
    pub column_id: Option<i64>,
}

impl Column {
    /// A nullable column without comment or id.
    pub fn new(name: impl Into<String>, odps_type: OdpsType) -> Column {
        Column {
            name: name.into(),
            odps_type,
            nullable: true,
            comment: String::new(),
            column_id: None,
        }
    }

    /// This column with the given id.
    #[must_use]
    pub fn with_id(mut self, column_id: i64) -> Column {
        self.column_id = Some(column_id);
        self
    }

    /// This column with the given nullability.
    #[must_use]
    pub fn with_nullable(mut self, nullable: bool) -> Column {
        self.nullable = nullable;
        self
    }

    /// This column with the given comment.
    #[must_use]
    pub fn with_comment(mut self, comment: impl Into<String>) -> Column {
        self.comment = comment.into();
        self
    }
}

/// The columns of a table in the three lists both schema shapes use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableColumns {
    /// Data columns, in table order.
    pub data_columns: Vec<Column>,
    /// Partition columns, in partition-level order.
    pub partition_columns: Vec<Column>,
    /// System columns (e.g. `__operation`).
    pub system_columns: Vec<Column>,
}

impl TableColumns {
    /// All columns with their list, data → partition → system.
    pub fn iter(&self) -> impl Iterator<Item = (ColumnKind, &Column)> {
        tagged(ColumnKind::Data, &self.data_columns)
            .chain(tagged(ColumnKind::Partition, &self.partition_columns))
            .chain(tagged(ColumnKind::System, &self.system_columns))
    }

    /// The first column named `name` (ASCII case-insensitive).
    pub fn find(&self, name: &str) -> Option<(ColumnKind, &Column)> {
        self.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }

    /// Gives every column without an id (or with a negative one) a fresh id, counting up
    /// from one past the largest id in use, in data → partition → system order.
    pub fn assign_missing_column_ids(&mut self) {
        let mut next = self
            .iter()
            .filter_map(|(_, c)| c.column_id)
            .max()
            .unwrap_or(-1)
            .saturating_add(1);
        for column in self
            .data_columns
            .iter_mut()
            .chain(self.partition_columns.iter_mut())
            .chain(self.system_columns.iter_mut())
        {
            if column.column_id.is_none_or(|id| id < 0) {
                column.column_id = Some(next);
                next = next.saturating_add(1);
            }
        }
    }

    /// The read-schema form ([`ReadSchema::from_columns`]).
    pub fn to_read_schema(&self) -> ReadSchema {
        ReadSchema::from_columns(self)
    }

    /// The write-schema form ([`WriteSchema::from_columns`]).
    pub fn to_write_schema(&self) -> WriteSchema {
        WriteSchema::from_columns(self)
    }
}
