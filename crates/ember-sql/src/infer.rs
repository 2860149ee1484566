//! Schema inference from rows, as Spark's `createDataFrame` infers it from Python values:
//! `int` → `bigint`, `float` → `double`, `str` → `string`, `bool` → `boolean`, dates,
//! timestamps, lists → `array<element>`; a null fits any type.
//!
//! Where ember differs, on purpose: every row is looked at (Spark samples the first rows and
//! fails when a type is still unknown), a column of nulls only is of type `void` (Spark refuses
//! it), and `bigint` and `double` in one column merge to `double` (Spark refuses them).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Result, SqlError};
use crate::row::{Row, Value};

/// The type of a column as inferred from its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Date,
    Timestamp,
    List(Box<Kind>),
}

impl Kind {
    /// The type of one value.
    pub(crate) fn of(v: &Value) -> Result<Kind, (Kind, Kind)> {
        Ok(match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Str(_) => Kind::Str,
            Value::Date(_) => Kind::Date,
            Value::Timestamp(_) => Kind::Timestamp,
            Value::List(items) => {
                let mut element = Kind::Null;
                for item in items {
                    element = element.merge(Kind::of(item)?)?;
                }
                Kind::List(Box::new(element))
            }
        })
    }

    /// Whether `v` already fits this type (the common case, checked without allocating).
    fn admits(&self, v: &Value) -> bool {
        matches!(
            (self, v),
            (_, Value::Null)
                | (Kind::Bool, Value::Bool(_))
                | (Kind::Int, Value::Int(_))
                | (Kind::Float, Value::Float(_) | Value::Int(_))
                | (Kind::Str, Value::Str(_))
                | (Kind::Date, Value::Date(_))
                | (Kind::Timestamp, Value::Timestamp(_))
        )
    }

    /// The type that holds values of both, or the two that do not merge.
    pub(crate) fn merge(self, other: Kind) -> Result<Kind, (Kind, Kind)> {
        match (self, other) {
            (a, b) if a == b => Ok(a),
            (Kind::Null, b) => Ok(b),
            (a, Kind::Null) => Ok(a),
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Ok(Kind::Float),
            (Kind::List(a), Kind::List(b)) => match (*a).clone().merge((*b).clone()) {
                Ok(k) => Ok(Kind::List(Box::new(k))),
                Err(_) => Err((Kind::List(a), Kind::List(b))),
            },
            (a, b) => Err((a, b)),
        }
    }

    /// The Arrow type of the column.
    pub(crate) fn data_type(&self) -> DataType {
        match self {
            Kind::Null => DataType::Null,
            Kind::Bool => DataType::Boolean,
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Str => DataType::Utf8,
            Kind::Date => DataType::Date32,
            // No time zone: DataFusion then treats the values as UTC wall-clock times, which is
            // what ember prints.
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::List(element) => {
                DataType::List(Arc::new(Field::new("element", element.data_type(), true)))
            }
        }
    }
}

/// Spark's names of the types (`bigint`, `array<string>`), for messages.
impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Null => f.write_str("void"),
            Kind::Bool => f.write_str("boolean"),
            Kind::Int => f.write_str("bigint"),
            Kind::Float => f.write_str("double"),
            Kind::Str => f.write_str("string"),
            Kind::Date => f.write_str("date"),
            Kind::Timestamp => f.write_str("timestamp"),
            Kind::List(e) => write!(f, "array<{e}>"),
        }
    }
}

/// The column names and types of `rows` (given as partitions): names from the first row, types
/// merged over every row. Every row must have as many values as the first.
pub(crate) fn infer_kinds(parts: &[Vec<Row>]) -> Result<Option<(Vec<String>, Vec<Kind>)>> {
    let Some(first) = parts.iter().flatten().next() else {
        return Ok(None);
    };
    let names = first.column_names();
    let mut kinds = vec![Kind::Null; names.len()];
    for (i, row) in parts.iter().flatten().enumerate() {
        if row.len() != names.len() {
            return Err(SqlError::Schema(format!(
                "row {i} has {} fields, the first row has {} ({})",
                row.len(),
                names.len(),
                names.join(", ")
            )));
        }
        for ((kind, v), name) in kinds.iter_mut().zip(row.values()).zip(&names) {
            if kind.admits(v) && !matches!(kind, Kind::Null) {
                continue;
            }
            let merged = Kind::of(v).and_then(|k| kind.clone().merge(k));
            *kind = merged.map_err(|(a, b)| {
                SqlError::Schema(format!("field {name}: can not merge type {a} and {b}"))
            })?;
        }
    }
    Ok(Some((names, kinds)))
}

/// The Arrow schema of inferred columns (every column nullable, as Spark's inferred ones).
pub(crate) fn schema_of(names: &[String], kinds: &[Kind]) -> SchemaRef {
    Arc::new(Schema::new(
        names
            .iter()
            .zip(kinds)
            .map(|(n, k)| Field::new(n, k.data_type(), true))
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row;

    #[test]
    fn types_from_values() {
        let parts = vec![
            vec![row!(a = None::<i64>, b = "x", c = vec![1i64], d = 1i64)],
            vec![row!(
                a = 2i64,
                b = None::<String>,
                c = vec![None::<i64>],
                d = 2.5
            )],
        ];
        let (names, kinds) = infer_kinds(&parts).unwrap().unwrap();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(
            kinds,
            [
                Kind::Int,
                Kind::Str,
                Kind::List(Box::new(Kind::Int)),
                Kind::Float
            ]
        );
    }

    #[test]
    fn conflicts_name_the_field() {
        let parts = vec![vec![row!(a = 1i64), row!(a = "x")]];
        let e = infer_kinds(&parts).unwrap_err().to_string();
        assert_eq!(
            e,
            "cannot infer the schema: field a: can not merge type bigint and string"
        );
        let ragged = vec![vec![row![1, 2], row![1]]];
        assert!(
            infer_kinds(&ragged)
                .unwrap_err()
                .to_string()
                .contains("row 1 has 1 fields")
        );
        assert!(infer_kinds(&[vec![]]).unwrap().is_none());
    }

    #[test]
    fn nulls_only_is_void() {
        let (_, kinds) = infer_kinds(&[vec![row!(a = Value::Null)]])
            .unwrap()
            .unwrap();
        assert_eq!(kinds, [Kind::Null]);
        assert_eq!(Kind::List(Box::new(Kind::Str)).to_string(), "array<string>");
    }
}
