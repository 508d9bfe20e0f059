//! Filters pushed into a read session: DataFusion expressions translated into the
//! service's `FilterPredicate` text, and equalities on the partition column turned into
//! required partitions.
//!
//! What translates and how exactly is tabled in the crate documentation (`# Filters`).
//!
//! The predicate language is the one the service documents (comparisons between a column
//! and a literal, `AND`, `OR`, parentheses); column names are quoted with backticks and
//! string literals with single quotes (a quote inside is doubled).

use std::collections::BTreeSet;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};

/// How one filter translates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Translation {
    /// Pushed as predicate text; `exact` when the service selects exactly the rows
    /// DataFusion would.
    Predicate {
        /// The text.
        text: String,
        /// Whether the service's result is exactly DataFusion's.
        exact: bool,
    },
    /// Partitions to read (specs such as `pt=20240101`), exactly the rows that match.
    Partitions(BTreeSet<String>),
    /// Not pushed.
    None,
}

impl Translation {
    /// What DataFusion is told about the filter.
    pub(crate) fn pushdown(&self) -> TableProviderFilterPushDown {
        match self {
            Translation::Predicate { exact: true, .. } | Translation::Partitions(_) => {
                TableProviderFilterPushDown::Exact
            }
            Translation::Predicate { exact: false, .. } => TableProviderFilterPushDown::Inexact,
            Translation::None => TableProviderFilterPushDown::Unsupported,
        }
    }
}

/// The filters of one scan, combined for the read session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pushed {
    /// The `FilterPredicate` text (`""` for none).
    pub(crate) predicate: String,
    /// The partitions to read: `None` for all, `Some([])` when the filters contradict
    /// each other and no partition can match.
    pub(crate) partitions: Option<Vec<String>>,
    /// Whether every pushed filter is exact (row counts are then the service's).
    pub(crate) exact: bool,
}

/// Translates filters against a table's columns.
#[derive(Debug, Clone)]
pub(crate) struct Translator<'a> {
    schema: &'a Schema,
    partition_columns: &'a [String],
}

impl<'a> Translator<'a> {
    /// A translator for a table with `schema` (data columns, then partition columns) and
    /// these partition column names.
    pub(crate) fn new(schema: &'a Schema, partition_columns: &'a [String]) -> Translator<'a> {
        Translator {
            schema,
            partition_columns,
        }
    }

    /// How `filter` translates.
    pub(crate) fn translate(&self, filter: &Expr) -> Translation {
        if let Some(partitions) = self.partitions(filter) {
            return Translation::Partitions(partitions);
        }
        match self.predicate(filter) {
            Some((text, exact)) => Translation::Predicate { text, exact },
            None => Translation::None,
        }
    }

    /// The filters of a scan combined: predicates joined with `AND`, partition sets
    /// intersected.
    pub(crate) fn combine(&self, filters: &[Expr]) -> Pushed {
        let mut predicates = Vec::new();
        let mut partitions: Option<BTreeSet<String>> = None;
        let mut exact = true;
        for filter in filters {
            match self.translate(filter) {
                Translation::Predicate { text, exact: e } => {
                    exact &= e;
                    predicates.push(text);
                }
                Translation::Partitions(set) => {
                    partitions = Some(match partitions {
                        None => set,
                        Some(before) => before.intersection(&set).cloned().collect(),
                    });
                }
                Translation::None => exact = false,
            }
        }
        let predicate = match predicates.len() {
            0 => String::new(),
            1 => predicates.remove(0),
            _ => predicates
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        };
        Pushed {
            predicate,
            partitions: partitions.map(|set| set.into_iter().collect()),
            exact,
        }
    }

    /// `pt = 'v'` or `pt IN ('v', …)` on the only partition column.
    fn partitions(&self, filter: &Expr) -> Option<BTreeSet<String>> {
        let [column] = self.partition_columns else {
            return None;
        };
        let values = match filter {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Eq,
                right,
            }) => match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c))
                    if c.name == *column =>
                {
                    vec![partition_value(v)?]
                }
                _ => return None,
            },
            Expr::InList(InList {
                expr,
                list,
                negated: false,
            }) => match expr.as_ref() {
                Expr::Column(c) if c.name == *column => list
                    .iter()
                    .map(|e| match e {
                        Expr::Literal(v, _) => partition_value(v),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?,
                _ => return None,
            },
            _ => return None,
        };
        Some(
            values
                .into_iter()
                .map(|v| format!("{column}={v}"))
                .collect(),
        )
    }

    /// The predicate text of `filter` and whether it is exact.
    fn predicate(&self, filter: &Expr) -> Option<(String, bool)> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = filter else {
            return None;
        };
        match op {
            Operator::And => match (self.predicate(left), self.predicate(right)) {
                (Some((l, le)), Some((r, re))) => Some((format!("({l}) AND ({r})"), le && re)),
                // One side alone selects more rows than both: DataFusion re-checks.
                (Some((side, _)), None) | (None, Some((side, _))) => Some((side, false)),
                (None, None) => None,
            },
            Operator::Or => {
                let (l, le) = self.predicate(left)?;
                let (r, re) = self.predicate(right)?;
                Some((format!("({l}) OR ({r})"), le && re))
            }
            _ => {
                let (column, op, value) = match (left.as_ref(), right.as_ref()) {
                    (Expr::Column(c), Expr::Literal(v, _)) => (&c.name, *op, v),
                    (Expr::Literal(v, _), Expr::Column(c)) => (&c.name, op.swap()?, v),
                    _ => return None,
                };
                let symbol = match op {
                    Operator::Eq => "=",
                    Operator::NotEq => "!=",
                    Operator::Lt => "<",
                    Operator::LtEq => "<=",
                    Operator::Gt => ">",
                    Operator::GtEq => ">=",
                    _ => return None,
                };
                let field = self.schema.field_with_name(column).ok()?;
                let (literal, exact) = literal(field.data_type(), value)?;
                Some((
                    format!("{} {symbol} {literal}", quote_column(column)?),
                    exact,
                ))
            }
        }
    }
}

/// A column name in backticks (names holding a backtick are not pushed).
fn quote_column(name: &str) -> Option<String> {
    (!name.contains('`')).then(|| format!("`{name}`"))
}

/// A string literal in single quotes, a quote inside doubled.
fn quote_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The literal text of `value` compared with a column of `column_type`, and whether the
/// comparison is exact; `None` when the pair does not translate (a NULL, a literal of
/// another kind than the column, a non-finite float).
fn literal(column_type: &DataType, value: &ScalarValue) -> Option<(String, bool)> {
    use DataType as D;
    use ScalarValue as S;
    let integer = match value {
        S::Int8(Some(v)) => Some(i64::from(*v)),
        S::Int16(Some(v)) => Some(i64::from(*v)),
        S::Int32(Some(v)) => Some(i64::from(*v)),
        S::Int64(Some(v)) => Some(*v),
        S::UInt8(Some(v)) => Some(i64::from(*v)),
        S::UInt16(Some(v)) => Some(i64::from(*v)),
        S::UInt32(Some(v)) => Some(i64::from(*v)),
        S::UInt64(Some(v)) => i64::try_from(*v).ok(),
        _ => None,
    };
    let float = match value {
        S::Float32(Some(v)) => Some(f64::from(*v)),
        S::Float64(Some(v)) => Some(*v),
        _ => integer.map(|i| i as f64),
    };
    match column_type {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 => {
            integer.map(|i| (i.to_string(), true))
        }
        D::Float32 | D::Float64 | D::Decimal128(_, _) => float
            .filter(|f| f.is_finite())
            .map(|f| (format!("{f:?}"), false)),
        D::Utf8 | D::LargeUtf8 | D::Utf8View => match value {
            S::Utf8(Some(s)) | S::LargeUtf8(Some(s)) | S::Utf8View(Some(s)) => {
                Some((quote_string(s), true))
            }
            _ => None,
        },
        D::Boolean => match value {
            S::Boolean(Some(b)) => Some((b.to_string(), true)),
            _ => None,
        },
        D::Date32 => match value {
            S::Date32(Some(days)) => {
                let date = datafusion::arrow::temporal_conversions::date32_to_datetime(*days)?;
                Some((quote_string(&date.format("%Y-%m-%d").to_string()), true))
            }
            _ => None,
        },
        _ => None,
    }
}

/// A partition value from a literal: strings and integers, as the spec writes them.
fn partition_value(value: &ScalarValue) -> Option<String> {
    use ScalarValue as S;
    let text = match value {
        S::Utf8(Some(s)) | S::LargeUtf8(Some(s)) | S::Utf8View(Some(s)) => s.clone(),
        S::Int8(Some(v)) => v.to_string(),
        S::Int16(Some(v)) => v.to_string(),
        S::Int32(Some(v)) => v.to_string(),
        S::Int64(Some(v)) => v.to_string(),
        _ => return None,
    };
    // A value that would change the spec's structure is not pushed.
    (!text.is_empty() && !text.contains([',', '/', '=', '\'', '"'])).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use datafusion::logical_expr::{col, lit};

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("ok", DataType::Boolean, true),
            Field::new("day", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None),
                true,
            ),
            Field::new("pt", DataType::Utf8, true),
        ])
    }

    fn translate(filter: Expr) -> Translation {
        let schema = schema();
        let partitions = ["pt".to_string()];
        Translator::new(&schema, &partitions).translate(&filter)
    }

    fn exact(text: &str) -> Translation {
        Translation::Predicate {
            text: text.into(),
            exact: true,
        }
    }

    #[test]
    fn comparisons_of_a_column_and_a_literal_are_exact() {
        assert_eq!(translate(col("id").gt(lit(100i64))), exact("`id` > 100"));
        assert_eq!(
            translate(lit(100i64).lt_eq(col("id"))),
            exact("`id` >= 100")
        );
        assert_eq!(
            translate(col("name").eq(lit("it's"))),
            exact("`name` = 'it''s'")
        );
        assert_eq!(
            translate(col("ok").not_eq(lit(true))),
            exact("`ok` != true")
        );
        assert_eq!(
            translate(col("day").gt_eq(lit(ScalarValue::Date32(Some(19_723))))),
            exact("`day` >= '2024-01-01'")
        );
        assert_eq!(
            translate(col("id").eq(lit(1i64)).or(col("name").eq(lit("x")))),
            exact("(`id` = 1) OR (`name` = 'x')")
        );
    }

    #[test]
    fn floats_are_pushed_but_rechecked() {
        let t = translate(col("score").lt(lit(2.5f64)));
        assert_eq!(
            t,
            Translation::Predicate {
                text: "`score` < 2.5".into(),
                exact: false
            }
        );
        assert_eq!(t.pushdown(), TableProviderFilterPushDown::Inexact);
        assert_eq!(translate(col("score").lt(lit(f64::NAN))), Translation::None);
    }

    #[test]
    fn half_an_and_is_inexact_and_half_an_or_is_nothing() {
        let unsupported = col("name").is_null();
        assert_eq!(
            translate(col("id").gt(lit(1i64)).and(unsupported.clone())),
            Translation::Predicate {
                text: "`id` > 1".into(),
                exact: false
            }
        );
        assert_eq!(
            translate(col("id").gt(lit(1i64)).or(unsupported)),
            Translation::None
        );
    }

    #[test]
    fn what_the_service_cannot_evaluate_is_not_pushed() {
        for filter in [
            col("name").is_null(),
            col("name").like(lit("a%")),
            col("id").gt(col("id")),
            col("id").eq(lit(ScalarValue::Int64(None))),
            col("id").eq(lit("1")),
            col("at").gt(lit(ScalarValue::TimestampNanosecond(Some(0), None))),
            col("missing").eq(lit(1i64)),
            (col("id") + lit(1i64)).gt(lit(2i64)),
        ] {
            assert_eq!(translate(filter.clone()), Translation::None, "{filter}");
        }
    }

    #[test]
    fn the_partition_column_prunes_partitions() {
        let set = |v: &[&str]| Translation::Partitions(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            translate(col("pt").eq(lit("20240101"))),
            set(&["pt=20240101"])
        );
        assert_eq!(
            translate(col("pt").in_list(vec![lit("a"), lit("b")], false)),
            set(&["pt=a", "pt=b"])
        );
        // A value that would break the spec is filtered as a predicate instead.
        assert_eq!(translate(col("pt").eq(lit("a/b"))), exact("`pt` = 'a/b'"));
        assert_eq!(translate(col("pt").gt(lit("a"))), exact("`pt` > 'a'"));
    }

    #[test]
    fn filters_combine_into_one_session() {
        let schema = schema();
        let partitions = ["pt".to_string()];
        let t = Translator::new(&schema, &partitions);
        let pushed = t.combine(&[
            col("id").gt(lit(1i64)),
            col("pt").in_list(vec![lit("a"), lit("b")], false),
            col("pt").eq(lit("b")),
            col("name").eq(lit("x")),
        ]);
        assert_eq!(
            pushed,
            Pushed {
                predicate: "(`id` > 1) AND (`name` = 'x')".into(),
                partitions: Some(vec!["pt=b".into()]),
                exact: true,
            }
        );
        let contradiction = t.combine(&[col("pt").eq(lit("a")), col("pt").eq(lit("b"))]);
        assert_eq!(contradiction.partitions, Some(vec![]));
        assert!(!t.combine(&[col("name").is_null()]).exact);
    }
}
