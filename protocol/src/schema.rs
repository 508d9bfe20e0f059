//! Table schemas as the Storage API describes them.
//!
//! Two JSON shapes exist (protocol.md B§3.4, B§3.6): the *read schema* (`DataSchema`,
//! columns with a type **string**) and the *write schema* (`TableSchema`, columns with a
//! type **code tree**). Both are parsed into [`OdpsType`], the MaxCompute type model shared
//! by the clients, the codec and the emulator.

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

/// TEMPORARY stand-in replaced by the schema branch.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ReadSchema {}
/// TEMPORARY stand-in replaced by the schema branch.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct WriteSchema {}
