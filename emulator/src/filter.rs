//! Filter predicates of read sessions (`FilterPredicate`): comparisons `=, ==, !=, <>, <,
//! <=, >, >=` between a column and a literal, combined with `AND`, `OR` and parentheses.
//! Anything else is answered with 400 `UnsupportedOperation`. NULLs follow SQL: a
//! comparison with NULL is unknown and the row is not selected.

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

use crate::error::ApiError;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    fn test(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

/// A parsed predicate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// All of the terms (two or more): a flat list, so that a long chain of `AND`s
    /// builds no deep tree (recursion over an expression is bounded by the nesting depth).
    And(Vec<Expr>),
    /// Any of the terms (two or more), flat like [`Expr::And`].
    Or(Vec<Expr>),
    Cmp {
        column: String,
        op: CmpOp,
        literal: Literal,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(String),
    Str(String),
    Op(CmpOp),
    LParen,
    RParen,
    And,
    Or,
    True,
    False,
}

fn unsupported(predicate: &str, what: impl std::fmt::Display) -> ApiError {
    ApiError::unsupported(format!(
        "filter predicate {predicate:?}: {what}; supported are comparisons (=, !=, <>, <, <=, >, >=) between a column and a literal, AND, OR and parentheses"
    ))
}

fn tokenize(p: &str) -> Result<Vec<Tok>, ApiError> {
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(unsupported(p, "unterminated string literal")),
                    Some(&q) if q == c => {
                        if chars.get(i + 1) == Some(&c) {
                            s.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c == '`' {
            let start = i + 1;
            let end = chars[start..]
                .iter()
                .position(|&ch| ch == '`')
                .ok_or_else(|| unsupported(p, "unterminated `identifier`"))?;
            out.push(Tok::Ident(chars[start..start + end].iter().collect()));
            i = start + end + 1;
        } else if c.is_ascii_digit()
            || (c == '-' || c == '.') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || chars[i] == '_'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(match word.to_ascii_uppercase().as_str() {
                "AND" => Tok::And,
                "OR" => Tok::Or,
                "TRUE" => Tok::True,
                "FALSE" => Tok::False,
                "NOT" | "IN" | "LIKE" | "BETWEEN" | "IS" | "NULL" | "RLIKE" => {
                    return Err(unsupported(p, format!("{word} is not supported")));
                }
                _ => Tok::Ident(word),
            });
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let (op, len) = match two.as_str() {
                "<=" => (CmpOp::Le, 2),
                ">=" => (CmpOp::Ge, 2),
                "!=" | "<>" => (CmpOp::Ne, 2),
                "==" => (CmpOp::Eq, 2),
                _ => match c {
                    '=' => (CmpOp::Eq, 1),
                    '<' => (CmpOp::Lt, 1),
                    '>' => (CmpOp::Gt, 1),
                    other => return Err(unsupported(p, format!("unexpected character {other:?}"))),
                },
            };
            out.push(Tok::Op(op));
            i += len;
        }
    }
    Ok(out)
}

/// Most comparisons in one predicate: every one is evaluated on every batch read.
const MAX_COMPARISONS: usize = 4096;

/// Deepest nesting of parentheses.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    comparisons: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, ApiError> {
        let mut terms = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, ApiError> {
        let mut terms = vec![self.primary()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            terms.push(self.primary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn primary(&mut self) -> Result<Expr, ApiError> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(unsupported(self.text, "too deeply nested"));
            }
            let e = self.or()?;
            self.depth -= 1;
            return match self.next() {
                Some(Tok::RParen) => Ok(e),
                _ => Err(unsupported(self.text, "missing )")),
            };
        }
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(unsupported(
                self.text,
                format!("more than {MAX_COMPARISONS} comparisons"),
            ));
        }
        let a = self.next();
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            other => {
                return Err(unsupported(
                    self.text,
                    format!("expected a comparison operator, found {other:?}"),
                ));
            }
        };
        let b = self.next();
        let lit = |t: Tok| -> Option<Literal> {
            Some(match t {
                Tok::Num(n) => n
                    .parse::<i64>()
                    .map(Literal::Int)
                    .or_else(|_| n.parse::<f64>().map(Literal::Float))
                    .ok()?,
                Tok::Str(s) => Literal::Str(s),
                Tok::True => Literal::Bool(true),
                Tok::False => Literal::Bool(false),
                _ => return None,
            })
        };
        match (a, b) {
            (Some(Tok::Ident(column)), Some(t)) => match lit(t) {
                Some(literal) => Ok(Expr::Cmp {
                    column,
                    op,
                    literal,
                }),
                None => Err(unsupported(self.text, "the right side must be a literal")),
            },
            (Some(t), Some(Tok::Ident(column))) => match lit(t) {
                Some(literal) => Ok(Expr::Cmp {
                    column,
                    op: op.flip(),
                    literal,
                }),
                None => Err(unsupported(
                    self.text,
                    "a comparison needs a column and a literal",
                )),
            },
            _ => Err(unsupported(
                self.text,
                "a comparison needs a column and a literal",
            )),
        }
    }
}

/// Parses a predicate; the empty predicate is `None`.
pub(crate) fn parse(text: &str) -> Result<Option<Expr>, ApiError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let toks = tokenize(text)?;
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
        comparisons: 0,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(unsupported(text, format!("unexpected {:?}", p.toks[p.pos])));
    }
    Ok(Some(e))
}

impl Expr {
    /// The columns the predicate reads.
    pub(crate) fn columns(&self, out: &mut Vec<String>) {
        match self {
            Expr::And(terms) | Expr::Or(terms) => {
                for t in terms {
                    t.columns(out);
                }
            }
            Expr::Cmp { column, .. } => {
                if !out.iter().any(|c| c.eq_ignore_ascii_case(column)) {
                    out.push(column.clone());
                }
            }
        }
    }

    /// Evaluates the predicate on `rows` rows; `column` resolves a column name to its
    /// values: a data column's array or a partition column's constant text.
    pub(crate) fn eval(
        &self,
        rows: usize,
        column: &dyn Fn(&str) -> Option<ColumnValues>,
    ) -> Result<Vec<Option<bool>>, ApiError> {
        match self {
            Expr::And(terms) => Self::fold(terms, rows, column, |x, y| match (x, y) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            }),
            Expr::Or(terms) => Self::fold(terms, rows, column, |x, y| match (x, y) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            }),
            Expr::Cmp {
                column: name,
                op,
                literal,
            } => match column(name) {
                None => Err(ApiError::invalid_parameter(format!(
                    "filter predicate: unknown column {name:?}"
                ))),
                Some(ColumnValues::Constant(v)) => {
                    let r = compare_text(&v, *op, literal);
                    Ok(vec![r; rows])
                }
                Some(ColumnValues::Array(a)) => compare_array(name, &a, *op, literal),
            },
        }
    }
}

impl Expr {
    /// Evaluates `terms` and combines their three-valued results row by row.
    fn fold(
        terms: &[Expr],
        rows: usize,
        column: &dyn Fn(&str) -> Option<ColumnValues>,
        combine: fn(Option<bool>, Option<bool>) -> Option<bool>,
    ) -> Result<Vec<Option<bool>>, ApiError> {
        let mut acc: Option<Vec<Option<bool>>> = None;
        for t in terms {
            let values = t.eval(rows, column)?;
            acc = Some(match acc {
                None => values,
                Some(acc) => acc
                    .into_iter()
                    .zip(values)
                    .map(|(x, y)| combine(x, y))
                    .collect(),
            });
        }
        Ok(acc.unwrap_or_else(|| vec![None; rows]))
    }
}

/// The values of a column for predicate evaluation.
pub(crate) enum ColumnValues {
    /// A data column.
    Array(ArrayRef),
    /// A partition column: one value for all rows.
    Constant(String),
}

fn compare_text(v: &str, op: CmpOp, lit: &Literal) -> Option<bool> {
    let o = match lit {
        Literal::Int(i) => match v.trim().parse::<i64>() {
            Ok(x) => x.cmp(i),
            Err(_) => v.cmp(i.to_string().as_str()),
        },
        Literal::Float(f) => v.trim().parse::<f64>().ok()?.partial_cmp(f)?,
        Literal::Str(s) => v.cmp(s.as_str()),
        Literal::Bool(b) => v.eq_ignore_ascii_case(&b.to_string()).cmp(&true),
    };
    Some(op.test(o))
}

fn type_error(column: &str, dt: &DataType, lit: &Literal) -> ApiError {
    ApiError::unsupported(format!(
        "filter predicate: cannot compare column {column} of type {dt} with {lit:?}"
    ))
}

fn compare_array(
    name: &str,
    a: &ArrayRef,
    op: CmpOp,
    lit: &Literal,
) -> Result<Vec<Option<bool>>, ApiError> {
    let cast = |dt: &DataType| {
        arrow_cast::cast(a, dt).map_err(|e| ApiError::internal(format!("filter cast: {e}")))
    };
    let dt = a.data_type();
    let collect = |f: &dyn Fn(usize) -> Option<Ordering>| -> Vec<Option<bool>> {
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    None
                } else {
                    f(i).map(|o| op.test(o))
                }
            })
            .collect()
    };
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => {
            let v = cast(&DataType::Int64)?;
            let v = v.as_primitive::<Int64Type>();
            match lit {
                Literal::Int(x) => Ok(collect(&|i| Some(v.value(i).cmp(x)))),
                Literal::Float(x) => Ok(collect(&|i| (v.value(i) as f64).partial_cmp(x))),
                _ => Err(type_error(name, dt, lit)),
            }
        }
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => {
            let v = cast(&DataType::Float64)?;
            let v = v.as_primitive::<Float64Type>();
            let x = match lit {
                Literal::Int(x) => *x as f64,
                Literal::Float(x) => *x,
                _ => return Err(type_error(name, dt, lit)),
            };
            Ok(collect(&|i| v.value(i).partial_cmp(&x)))
        }
        DataType::Utf8 | DataType::LargeUtf8 => {
            let v = cast(&DataType::Utf8)?;
            let v = v.as_string::<i32>();
            let x = match lit {
                Literal::Str(s) => s.clone(),
                Literal::Int(i) => i.to_string(),
                _ => return Err(type_error(name, dt, lit)),
            };
            Ok(collect(&|i| Some(v.value(i).cmp(x.as_str()))))
        }
        DataType::Boolean => {
            let v = a.as_boolean();
            let Literal::Bool(x) = lit else {
                return Err(type_error(name, dt, lit));
            };
            Ok(collect(&|i| Some(v.value(i).cmp(x))))
        }
        DataType::Date32 => {
            let Literal::Str(s) = lit else {
                return Err(type_error(name, dt, lit));
            };
            let days = parse_datetime(s)
                .map(|(secs, _)| secs.div_euclid(86_400))
                .ok_or_else(|| type_error(name, dt, lit))?;
            let v = cast(&DataType::Int64)?;
            let v = v.as_primitive::<Int64Type>();
            Ok(collect(&|i| Some(v.value(i).cmp(&days))))
        }
        DataType::Timestamp(unit, _) => {
            let Literal::Str(s) = lit else {
                return Err(type_error(name, dt, lit));
            };
            let (secs, nanos) = parse_datetime(s).ok_or_else(|| type_error(name, dt, lit))?;
            let x = match unit {
                TimeUnit::Second => secs,
                TimeUnit::Millisecond => secs * 1_000 + nanos / 1_000_000,
                TimeUnit::Microsecond => secs * 1_000_000 + nanos / 1_000,
                TimeUnit::Nanosecond => secs.saturating_mul(1_000_000_000).saturating_add(nanos),
            };
            let v = cast(&DataType::Int64)?;
            let v = v.as_primitive::<Int64Type>();
            Ok(collect(&|i| Some(v.value(i).cmp(&x))))
        }
        _ => Err(type_error(name, dt, lit)),
    }
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]]` (UTC) into (seconds, nanoseconds).
pub(crate) fn parse_datetime(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (mut hh, mut mm, mut ss, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    if !time.is_empty() {
        let mut t = time.split(':');
        hh = t.next()?.parse().ok()?;
        mm = t.next()?.parse().ok()?;
        if let Some(sec) = t.next() {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            ss = whole.parse().ok()?;
            if !frac.is_empty() {
                if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                nanos = format!("{frac:0<9}").parse().ok()?;
            }
        }
        if t.next().is_some() || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
    }
    // Days from civil (Howard Hinnant).
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss, nanos))
}

/// Evaluates a predicate on a batch whose columns are found by name (data columns) or
/// in `partition` (partition columns), giving the selection mask.
pub(crate) fn mask(
    expr: &Expr,
    batch: &RecordBatch,
    partition: &[(String, String)],
) -> Result<Vec<bool>, ApiError> {
    let schema = batch.schema();
    let lookup = |name: &str| -> Option<ColumnValues> {
        if let Some((i, _)) = schema
            .fields()
            .iter()
            .enumerate()
            .find(|(_, f)| f.name().eq_ignore_ascii_case(name))
        {
            return Some(ColumnValues::Array(batch.column(i).clone()));
        }
        partition
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| ColumnValues::Constant(v.clone()))
    };
    Ok(expr
        .eval(batch.num_rows(), &lookup)?
        .into_iter()
        .map(|x| x == Some(true))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn parses_and_evaluates() {
        let e = parse("id > 1 AND (name = 'b' OR 3 <= id)")
            .unwrap()
            .unwrap();
        let batch = RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3), None])) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec!["a", "b", "c", "b"])) as ArrayRef,
            ),
        ])
        .unwrap();
        assert_eq!(
            mask(&e, &batch, &[]).unwrap(),
            vec![false, true, true, false]
        );
        let e = parse("pt <> '2' or id == 1").unwrap().unwrap();
        let parts = vec![("pt".to_string(), "2".to_string())];
        assert_eq!(
            mask(&e, &batch, &parts).unwrap(),
            vec![true, false, false, false]
        );
        assert!(parse("").unwrap().is_none());
        for bad in [
            "id IN (1,2)",
            "f(id) > 1",
            "id > ",
            "a = b",
            "(id > 1",
            "NOT id = 1",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code, "UnsupportedOperation", "{bad}");
        }
        // A long chain is a flat list, not a deep tree (which overflowed the stack on
        // evaluation and on drop); too many comparisons are refused.
        let chain = vec!["id = 2"; 4000].join(" OR ");
        let e = parse(&chain).unwrap().unwrap();
        assert!(matches!(&e, Expr::Or(terms) if terms.len() == 4000));
        assert_eq!(
            mask(&e, &batch, &[]).unwrap(),
            vec![false, true, false, false]
        );
        drop(e);
        let chain = vec!["id = 2 AND name = 'b'"; 2000].join(" OR ");
        assert_eq!(
            mask(&parse(&chain).unwrap().unwrap(), &batch, &[]).unwrap(),
            vec![false, true, false, false]
        );
        let too_many = vec!["id = 1"; MAX_COMPARISONS + 1].join(" AND ");
        let err = parse(&too_many).unwrap_err();
        assert!(err.message.contains("comparisons"), "{}", err.message);
        assert_eq!(
            parse_datetime("1970-01-02 00:00:01.5"),
            Some((86_401, 500_000_000))
        );
    }
}
