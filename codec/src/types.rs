//! Mapping between MaxCompute types ([`OdpsType`]) and Arrow types.
//!
//! The Storage API moves table data as Arrow; which Arrow type carries which MaxCompute type
//! is not written down by the SDKs (protocol.md B§4.1 lists what is known). This module
//! fixes the mapping for the whole project (clients, emulator, CLI):
//!
//! | MaxCompute | Arrow |
//! |---|---|
//! | `tinyint` / `smallint` / `int` / `bigint` | `Int8` / `Int16` / `Int32` / `Int64` |
//! | `float` / `double` | `Float32` / `Float64` |
//! | `boolean` | `Boolean` |
//! | `string`, `char(n)`, `varchar(n)`, `json` | `Utf8` (`LargeUtf8` with [`ArrowOptions::large_string`]) |
//! | `binary`, `blob` (the reference bytes) | `Binary` (`LargeBinary` with [`ArrowOptions::large_binary`]) |
//! | `date` | `Date32` |
//! | `datetime` | `Timestamp(datetime_unit, None)`, default milliseconds |
//! | `timestamp`, `timestamp_ntz` | `Timestamp(timestamp_unit, None)`, default nanoseconds |
//! | `decimal(p,s)` | `Decimal128(p, s)`; legacy `decimal` → `Decimal128(38, 18)` |
//! | `interval_year_month` | `Interval(YearMonth)` |
//! | `interval_day_time` | `Duration(Nanosecond)` (see below) |
//! | `array<T>` | `List` (item field `element`, nullable) |
//! | `map<K,V>` | `Map` (`entries` struct of `key` (non-null) and `value`) |
//! | `struct<…>` | `Struct` (members nullable) |
//!
//! `interval_day_time` is a number of days, seconds and nanoseconds. Arrow's
//! `Interval(DayTime)` only has millisecond precision, so it would lose data; `Duration`
//! in nanoseconds keeps full precision (range ±292 years) and is what the classic tunnel's
//! `struct<sec, nano>` layout of this type converts to. `variant`, `geography`, `vector`,
//! `void` and unknown types have no agreed Arrow representation and are rejected.
//!
//! The reverse mapping ([`arrow_to_odps`]) is for creating tables from files; it picks
//! the narrowest MaxCompute type that holds every value of the Arrow type (`UInt8` →
//! `smallint`, `UInt32` → `bigint`, `Float16` → `float`, `Date64` → `date`, any
//! `Timestamp` → `timestamp`, …). Data must then be cast to [`odps_to_arrow`] of that
//! type before it is written.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, IntervalUnit, Schema, TimeUnit};
pub use maxstorage_protocol::schema::OdpsType;

use crate::error::CodecError;

pub use maxstorage_protocol::read::{TimestampUnit, UnknownTimestampUnit};

/// Arrow's view of a [`TimestampUnit`] (the unit itself is the protocol's: it is part of a
/// read session's `ArrowOptions`).
pub trait TimestampUnitExt: Sized {
    /// The Arrow time unit.
    fn to_arrow(self) -> TimeUnit;
    /// The unit of an Arrow time unit.
    fn from_arrow(unit: TimeUnit) -> Self;
}

impl TimestampUnitExt for TimestampUnit {
    fn to_arrow(self) -> TimeUnit {
        match self {
            TimestampUnit::Second => TimeUnit::Second,
            TimestampUnit::Milli => TimeUnit::Millisecond,
            TimestampUnit::Micro => TimeUnit::Microsecond,
            TimestampUnit::Nano => TimeUnit::Nanosecond,
        }
    }

    fn from_arrow(unit: TimeUnit) -> Self {
        match unit {
            TimeUnit::Second => TimestampUnit::Second,
            TimeUnit::Millisecond => TimestampUnit::Milli,
            TimeUnit::Microsecond => TimestampUnit::Micro,
            TimeUnit::Nanosecond => TimestampUnit::Nano,
        }
    }
}

/// Options of the MaxCompute → Arrow mapping (a read session's `ArrowOptions` plus the
/// large-string switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ArrowOptions {
    /// Unit of `timestamp` and `timestamp_ntz` columns (default nanoseconds).
    pub timestamp_unit: TimestampUnit,
    /// Unit of `datetime` columns (default milliseconds).
    pub datetime_unit: TimestampUnit,
    /// Map `string`, `char`, `varchar` and `json` to `LargeUtf8` instead of `Utf8`.
    pub large_string: bool,
    /// Map `binary` and `blob` to `LargeBinary` instead of `Binary`.
    pub large_binary: bool,
}

maxstorage_protocol::option_setters!(ArrowOptions {
    with_timestamp_unit => timestamp_unit: TimestampUnit,
    with_datetime_unit => datetime_unit: TimestampUnit,
    with_large_string => large_string: bool,
    with_large_binary => large_binary: bool,
});

impl Default for ArrowOptions {
    fn default() -> Self {
        ArrowOptions {
            timestamp_unit: TimestampUnit::Nano,
            datetime_unit: TimestampUnit::Milli,
            large_string: false,
            large_binary: false,
        }
    }
}

impl From<maxstorage_protocol::read::ArrowOptions> for ArrowOptions {
    /// The mapping a read session with these wire options produces.
    fn from(o: maxstorage_protocol::read::ArrowOptions) -> Self {
        ArrowOptions {
            timestamp_unit: o.timestamp_unit,
            datetime_unit: o.datetime_unit,
            ..ArrowOptions::default()
        }
    }
}

/// Name of the item field of `array<T>` lists (the write schema's default `MemberName`).
pub const LIST_ITEM_NAME: &str = "element";
/// Name of the entries struct of maps.
pub const MAP_ENTRIES_NAME: &str = "entries";
/// Name of the key field of map entries.
pub const MAP_KEY_NAME: &str = "key";
/// Name of the value field of map entries.
pub const MAP_VALUE_NAME: &str = "value";

/// Precision and scale of the legacy, unparameterised `decimal` type.
pub const LEGACY_DECIMAL: (u8, i8) = (38, 18);

/// The Arrow type carrying a MaxCompute type.
pub fn odps_to_arrow(ty: &OdpsType, options: &ArrowOptions) -> Result<DataType, CodecError> {
    let string = if options.large_string {
        DataType::LargeUtf8
    } else {
        DataType::Utf8
    };
    let binary = if options.large_binary {
        DataType::LargeBinary
    } else {
        DataType::Binary
    };
    Ok(match ty {
        OdpsType::Bigint => DataType::Int64,
        OdpsType::Int => DataType::Int32,
        OdpsType::Smallint => DataType::Int16,
        OdpsType::Tinyint => DataType::Int8,
        OdpsType::Double => DataType::Float64,
        OdpsType::Float => DataType::Float32,
        OdpsType::Boolean => DataType::Boolean,
        OdpsType::String | OdpsType::Char(_) | OdpsType::Varchar(_) | OdpsType::Json => string,
        OdpsType::Binary | OdpsType::Blob => binary,
        OdpsType::Date => DataType::Date32,
        OdpsType::Datetime => DataType::Timestamp(options.datetime_unit.to_arrow(), None),
        OdpsType::Timestamp | OdpsType::TimestampNtz => {
            DataType::Timestamp(options.timestamp_unit.to_arrow(), None)
        }
        OdpsType::Decimal { precision, scale } => {
            let (p, s) = match (precision, scale) {
                (None, None) => LEGACY_DECIMAL,
                (p, s) => {
                    let p = p.unwrap_or(u32::from(LEGACY_DECIMAL.0));
                    let s = s.unwrap_or(0);
                    if p == 0 || p > 38 {
                        return Err(CodecError::UnmappableOdpsType {
                            odps_type: ty.clone(),
                            reason: "decimal precision must be between 1 and 38",
                        });
                    }
                    if s > p {
                        return Err(CodecError::UnmappableOdpsType {
                            odps_type: ty.clone(),
                            reason: "decimal scale must not exceed its precision",
                        });
                    }
                    // Both fit: p <= 38 and s <= p.
                    (p as u8, s as i8)
                }
            };
            DataType::Decimal128(p, s)
        }
        OdpsType::IntervalYearMonth => DataType::Interval(IntervalUnit::YearMonth),
        OdpsType::IntervalDayTime => DataType::Duration(TimeUnit::Nanosecond),
        OdpsType::Array(item) => DataType::List(Arc::new(Field::new(
            LIST_ITEM_NAME,
            odps_to_arrow(item, options)?,
            true,
        ))),
        OdpsType::Map(key, value) => {
            let entries = Fields::from(vec![
                Field::new(MAP_KEY_NAME, odps_to_arrow(key, options)?, false),
                Field::new(MAP_VALUE_NAME, odps_to_arrow(value, options)?, true),
            ]);
            DataType::Map(
                Arc::new(Field::new(
                    MAP_ENTRIES_NAME,
                    DataType::Struct(entries),
                    false,
                )),
                false,
            )
        }
        OdpsType::Struct(members) => {
            if members.is_empty() {
                return Err(CodecError::UnmappableOdpsType {
                    odps_type: ty.clone(),
                    reason: "a struct needs at least one member",
                });
            }
            let fields = members
                .iter()
                .map(|(name, t)| Ok(Field::new(name, odps_to_arrow(t, options)?, true)))
                .collect::<Result<Vec<_>, CodecError>>()?;
            DataType::Struct(Fields::from(fields))
        }
        OdpsType::Variant => {
            return Err(CodecError::UnmappableOdpsType {
                odps_type: ty.clone(),
                reason: "the Arrow encoding of variant is not specified",
            });
        }
        OdpsType::Geography => {
            return Err(CodecError::UnmappableOdpsType {
                odps_type: ty.clone(),
                reason: "the Arrow encoding of geography is not specified",
            });
        }
        OdpsType::Vector => {
            return Err(CodecError::UnmappableOdpsType {
                odps_type: ty.clone(),
                reason: "the Arrow encoding of vector is not specified",
            });
        }
        OdpsType::Void => {
            return Err(CodecError::UnmappableOdpsType {
                odps_type: ty.clone(),
                reason: "void columns cannot be read or written",
            });
        }
        OdpsType::Unknown(_) => {
            return Err(CodecError::UnmappableOdpsType {
                odps_type: ty.clone(),
                reason: "the type is not known to this crate",
            });
        }
    })
}

/// An Arrow field for a MaxCompute column.
pub fn odps_field(
    name: &str,
    ty: &OdpsType,
    nullable: bool,
    options: &ArrowOptions,
) -> Result<Field, CodecError> {
    Ok(Field::new(name, odps_to_arrow(ty, options)?, nullable))
}

/// The Arrow schema of MaxCompute columns given as `(name, type, nullable)`.
pub fn odps_schema<'a, S, I>(columns: I, options: &ArrowOptions) -> Result<Schema, CodecError>
where
    S: AsRef<str>,
    I: IntoIterator<Item = (S, &'a OdpsType, bool)>,
{
    let fields = columns
        .into_iter()
        .map(|(name, ty, nullable)| odps_field(name.as_ref(), ty, nullable, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schema::new(fields))
}

/// The MaxCompute type to create for a column of an Arrow type (see the module docs).
///
/// `column` names the column in the error.
pub fn arrow_to_odps(column: &str, data_type: &DataType) -> Result<OdpsType, CodecError> {
    let unmappable = || CodecError::UnmappableArrowType {
        column: column.to_string(),
        data_type: data_type.clone(),
    };
    Ok(match data_type {
        DataType::Int8 => OdpsType::Tinyint,
        DataType::Int16 | DataType::UInt8 => OdpsType::Smallint,
        DataType::Int32 | DataType::UInt16 => OdpsType::Int,
        DataType::Int64 | DataType::UInt32 => OdpsType::Bigint,
        DataType::Float16 | DataType::Float32 => OdpsType::Float,
        DataType::Float64 => OdpsType::Double,
        DataType::Boolean => OdpsType::Boolean,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => OdpsType::String,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => OdpsType::Binary,
        DataType::Date32 | DataType::Date64 => OdpsType::Date,
        DataType::Timestamp(_, _) => OdpsType::Timestamp,
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            if *p == 0 || *p > 38 || *s < 0 || (*s as u8) > *p {
                return Err(unmappable());
            }
            OdpsType::Decimal {
                precision: Some(u32::from(*p)),
                scale: Some(*s as u32),
            }
        }
        DataType::Interval(IntervalUnit::YearMonth) => OdpsType::IntervalYearMonth,
        DataType::Interval(IntervalUnit::DayTime) | DataType::Duration(_) => {
            OdpsType::IntervalDayTime
        }
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::FixedSizeList(item, _)
        | DataType::ListView(item)
        | DataType::LargeListView(item) => OdpsType::Array(Box::new(arrow_to_odps(
            &format!("{column}.{}", item.name()),
            item.data_type(),
        )?)),
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(unmappable());
            };
            if kv.len() != 2 {
                return Err(unmappable());
            }
            OdpsType::Map(
                Box::new(arrow_to_odps(
                    &format!("{column}.{}", kv[0].name()),
                    kv[0].data_type(),
                )?),
                Box::new(arrow_to_odps(
                    &format!("{column}.{}", kv[1].name()),
                    kv[1].data_type(),
                )?),
            )
        }
        DataType::Struct(fields) => {
            if fields.is_empty() {
                return Err(unmappable());
            }
            OdpsType::Struct(
                fields
                    .iter()
                    .map(|f| {
                        Ok((
                            f.name().clone(),
                            arrow_to_odps(&format!("{column}.{}", f.name()), f.data_type())?,
                        ))
                    })
                    .collect::<Result<Vec<_>, CodecError>>()?,
            )
        }
        DataType::Dictionary(_, values) => arrow_to_odps(column, values)?,
        DataType::RunEndEncoded(_, values) => arrow_to_odps(column, values.data_type())?,
        DataType::Null
        | DataType::UInt64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Interval(IntervalUnit::MonthDayNano)
        | DataType::Union(_, _) => return Err(unmappable()),
    })
}

/// The MaxCompute columns `(name, type, nullable)` for an Arrow schema (for creating a
/// table from a file).
pub fn arrow_schema_to_odps(schema: &Schema) -> Result<Vec<(String, OdpsType, bool)>, CodecError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            Ok((
                f.name().clone(),
                arrow_to_odps(f.name(), f.data_type())?,
                f.is_nullable(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_simple() -> Vec<(OdpsType, DataType)> {
        vec![
            (OdpsType::Bigint, DataType::Int64),
            (OdpsType::Int, DataType::Int32),
            (OdpsType::Smallint, DataType::Int16),
            (OdpsType::Tinyint, DataType::Int8),
            (OdpsType::Float, DataType::Float32),
            (OdpsType::Double, DataType::Float64),
            (OdpsType::Boolean, DataType::Boolean),
            (OdpsType::String, DataType::Utf8),
            (OdpsType::Binary, DataType::Binary),
            (OdpsType::Date, DataType::Date32),
            (
                OdpsType::Datetime,
                DataType::Timestamp(TimeUnit::Millisecond, None),
            ),
            (
                OdpsType::Timestamp,
                DataType::Timestamp(TimeUnit::Nanosecond, None),
            ),
            (
                OdpsType::Decimal {
                    precision: Some(10),
                    scale: Some(2),
                },
                DataType::Decimal128(10, 2),
            ),
            (
                OdpsType::IntervalYearMonth,
                DataType::Interval(IntervalUnit::YearMonth),
            ),
            (
                OdpsType::IntervalDayTime,
                DataType::Duration(TimeUnit::Nanosecond),
            ),
        ]
    }

    #[test]
    fn simple_types_round_trip() {
        let o = ArrowOptions::default();
        for (odps, arrow) in all_simple() {
            assert_eq!(odps_to_arrow(&odps, &o).unwrap(), arrow, "{odps:?}");
            // Every Arrow timestamp becomes `timestamp` (it holds datetime's range too).
            let back = if odps == OdpsType::Datetime {
                OdpsType::Timestamp
            } else {
                odps
            };
            assert_eq!(arrow_to_odps("c", &arrow).unwrap(), back, "{arrow}");
        }
    }

    #[test]
    fn aliases_and_options() {
        let o = ArrowOptions::default();
        for t in [OdpsType::Char(3), OdpsType::Varchar(10), OdpsType::Json] {
            assert_eq!(odps_to_arrow(&t, &o).unwrap(), DataType::Utf8);
        }
        assert_eq!(
            odps_to_arrow(&OdpsType::Blob, &o).unwrap(),
            DataType::Binary
        );
        assert_eq!(
            odps_to_arrow(&OdpsType::TimestampNtz, &o).unwrap(),
            DataType::Timestamp(TimeUnit::Nanosecond, None)
        );
        assert_eq!(
            odps_to_arrow(
                &OdpsType::Decimal {
                    precision: None,
                    scale: None
                },
                &o
            )
            .unwrap(),
            DataType::Decimal128(38, 18)
        );
        let large = ArrowOptions {
            timestamp_unit: TimestampUnit::Micro,
            datetime_unit: TimestampUnit::Second,
            large_string: true,
            large_binary: true,
        };
        assert_eq!(
            odps_to_arrow(&OdpsType::String, &large).unwrap(),
            DataType::LargeUtf8
        );
        assert_eq!(
            odps_to_arrow(&OdpsType::Blob, &large).unwrap(),
            DataType::LargeBinary
        );
        assert_eq!(
            odps_to_arrow(&OdpsType::Timestamp, &large).unwrap(),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(
            odps_to_arrow(&OdpsType::Datetime, &large).unwrap(),
            DataType::Timestamp(TimeUnit::Second, None)
        );
        assert_eq!(
            arrow_to_odps("c", &DataType::LargeUtf8).unwrap(),
            OdpsType::String
        );
        assert_eq!(
            arrow_to_odps("c", &DataType::UInt32).unwrap(),
            OdpsType::Bigint
        );
        assert_eq!(
            arrow_to_odps(
                "c",
                &DataType::Timestamp(TimeUnit::Second, Some("UTC".into()))
            )
            .unwrap(),
            OdpsType::Timestamp
        );
    }

    #[test]
    fn nested_round_trip() {
        let o = ArrowOptions::default();
        let t = OdpsType::Map(
            Box::new(OdpsType::String),
            Box::new(OdpsType::Array(Box::new(OdpsType::Struct(vec![
                ("a".into(), OdpsType::Int),
                ("b".into(), OdpsType::Array(Box::new(OdpsType::Double))),
            ])))),
        );
        let a = odps_to_arrow(&t, &o).unwrap();
        assert_eq!(arrow_to_odps("c", &a).unwrap(), t);
        let DataType::Map(entries, false) = &a else {
            panic!("{a}")
        };
        let DataType::Struct(kv) = entries.data_type() else {
            panic!()
        };
        assert!(!kv[0].is_nullable());
        assert_eq!(kv[0].name(), "key");
    }

    #[test]
    fn unmappable() {
        let o = ArrowOptions::default();
        for t in [
            OdpsType::Variant,
            OdpsType::Geography,
            OdpsType::Void,
            OdpsType::Vector,
            OdpsType::Unknown("x".into()),
            OdpsType::Struct(vec![]),
            OdpsType::Decimal {
                precision: Some(40),
                scale: Some(2),
            },
            OdpsType::Array(Box::new(OdpsType::Variant)),
        ] {
            let e = odps_to_arrow(&t, &o).unwrap_err();
            assert!(matches!(e, CodecError::UnmappableOdpsType { .. }), "{e}");
        }
        for d in [
            DataType::UInt64,
            DataType::Null,
            DataType::Time32(TimeUnit::Second),
            DataType::Decimal256(60, 2),
        ] {
            let e = arrow_to_odps("col", &d).unwrap_err();
            assert!(e.to_string().contains("col"), "{e}");
        }
        let nested = DataType::List(Arc::new(Field::new("item", DataType::UInt64, true)));
        let e = arrow_to_odps("col", &nested).unwrap_err();
        assert!(e.to_string().contains("col.item"), "{e}");
    }

    #[test]
    fn units_parse() {
        for u in [
            TimestampUnit::Second,
            TimestampUnit::Milli,
            TimestampUnit::Micro,
            TimestampUnit::Nano,
        ] {
            assert_eq!(u.wire_name().parse::<TimestampUnit>().unwrap(), u);
            assert_eq!(TimestampUnit::from_arrow(u.to_arrow()), u);
        }
        assert!("hour".parse::<TimestampUnit>().is_err());
    }

    #[test]
    fn schema_helpers() {
        let cols = [
            ("a", OdpsType::Bigint, false),
            ("b", OdpsType::String, true),
        ];
        let s = odps_schema(
            cols.iter().map(|(n, t, x)| (*n, t, *x)),
            &ArrowOptions::default(),
        )
        .unwrap();
        assert_eq!(s.field(0).data_type(), &DataType::Int64);
        assert!(!s.field(0).is_nullable());
        let back = arrow_schema_to_odps(&s).unwrap();
        assert_eq!(back[1], ("b".to_string(), OdpsType::String, true));
    }
}
