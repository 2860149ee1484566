//! Rows to Arrow record batches (what DataFusion queries) and back.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, ListArray,
    NullArray, StringBuilder, TimestampMicrosecondArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{
    DataType, Date64Type, Field, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, SchemaRef, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::{Result, SqlError};
use crate::infer::Kind;
use crate::row::{Names, Row, Value};

/// One record batch holding `rows` (in order), with the inferred column types.
pub(crate) fn rows_to_batch(
    schema: &SchemaRef,
    kinds: &[Kind],
    rows: &[&Row],
) -> Result<RecordBatch> {
    let columns = kinds
        .iter()
        .enumerate()
        .map(|(j, kind)| {
            let values: Vec<&Value> = rows.iter().map(|r| &r.values()[j]).collect();
            build_array(kind, &values)
        })
        .collect::<Result<Vec<_>>>()?;
    // The row count is explicit so that a table without columns keeps its number of rows.
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}

/// The payload of a value of the scalar variant `$variant`, or `None` for any other value.
macro_rules! variant {
    ($variant:path) => {
        |v: &Value| match v {
            $variant(x) => Some(*x),
            _ => None,
        }
    };
}

/// One column of values that all fit `kind` (checked by inference).
fn build_array(kind: &Kind, values: &[&Value]) -> Result<ArrayRef> {
    let mismatch =
        |v: &Value| SqlError::Conversion(format!("value {v:?} in a column of type {kind}"));
    Ok(match kind {
        Kind::Null => Arc::new(NullArray::new(values.len())),
        Kind::Bool => scalar_column::<BooleanArray, _>(values, variant!(Value::Bool), &mismatch)?,
        Kind::Int => scalar_column::<Int64Array, _>(values, variant!(Value::Int), &mismatch)?,
        // `as_f64` also takes an integer: inference lets integers into a double column.
        Kind::Float => scalar_column::<Float64Array, _>(values, Value::as_f64, &mismatch)?,
        // Strings (one builder sized up front, no `Option<String>` per value) and lists
        // (offsets over one child column) are built their own way.
        Kind::Str => {
            let bytes = values.iter().map(|v| v.as_str().map_or(0, str::len)).sum();
            let mut b = StringBuilder::with_capacity(values.len(), bytes);
            for v in values {
                match v {
                    Value::Str(s) => b.append_value(s),
                    Value::Null => b.append_null(),
                    v => return Err(mismatch(v)),
                }
            }
            Arc::new(b.finish())
        }
        Kind::Date => scalar_column::<Date32Array, _>(values, variant!(Value::Date), &mismatch)?,
        Kind::Timestamp => scalar_column::<TimestampMicrosecondArray, _>(
            values,
            variant!(Value::Timestamp),
            &mismatch,
        )?,
        Kind::List(element) => {
            let mut offsets = Vec::with_capacity(values.len() + 1);
            let mut valid = Vec::with_capacity(values.len());
            let mut children: Vec<&Value> = Vec::new();
            offsets.push(0i32);
            for v in values {
                match v {
                    Value::List(items) => {
                        children.extend(items.iter());
                        valid.push(true);
                    }
                    Value::Null => valid.push(false),
                    v => return Err(mismatch(v)),
                }
                let end = i32::try_from(children.len()).map_err(|_| {
                    SqlError::Conversion("more than 2^31 list elements in one column".into())
                })?;
                offsets.push(end);
            }
            let child = build_array(element, &children)?;
            let field = Arc::new(Field::new("element", element.data_type(), true));
            Arc::new(ListArray::try_new(
                field,
                OffsetBuffer::new(offsets.into()),
                child,
                Some(NullBuffer::from(valid)),
            )?)
        }
    })
}

/// A column of one scalar type: `native` gives each value's Arrow form, or `None` for a value
/// of another type (an error, built by `mismatch`); nulls stay null.
fn scalar_column<A, T>(
    values: &[&Value],
    native: impl Fn(&Value) -> Option<T>,
    mismatch: impl Fn(&Value) -> SqlError,
) -> Result<ArrayRef>
where
    A: Array + FromIterator<Option<T>> + 'static,
{
    let column = values
        .iter()
        .map(|v| match v {
            Value::Null => Ok(None),
            v => native(v).map(Some).ok_or_else(|| mismatch(v)),
        })
        .collect::<Result<A>>()?;
    Ok(Arc::new(column))
}

/// The rows of record batches, named after the schema's fields.
pub(crate) fn batches_to_rows(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<Row>> {
    let names = Names::new(schema.fields().iter().map(|f| f.name().clone()));
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let mut columns = batch
            .columns()
            .iter()
            .map(|c| array_values(c).map(Vec::into_iter))
            .collect::<Result<Vec<_>>>()?;
        for _ in 0..batch.num_rows() {
            let values = columns
                .iter_mut()
                .map(|c| c.next().unwrap_or(Value::Null))
                .collect();
            rows.push(Row::with_names(names.clone(), values));
        }
    }
    Ok(rows)
}

/// The values of one Arrow array. Types a [`Value`] has no variant for (decimals, structs, maps,
/// binary, intervals) become their text as Arrow formats it.
pub(crate) fn array_values(array: &ArrayRef) -> Result<Vec<Value>> {
    let n = array.len();
    let nullable = |i: usize, v: Value| if array.is_null(i) { Value::Null } else { v };
    macro_rules! prim {
        ($t:ty, $f:expr) => {{
            let a = array.as_primitive::<$t>();
            (0..n).map(|i| nullable(i, $f(a.value(i)))).collect()
        }};
    }
    // The string arrays (and the list arrays) differ in their accessor only: one arm each.
    macro_rules! strings {
        ($a:expr) => {{
            let a = $a;
            (0..n)
                .map(|i| nullable(i, Value::Str(a.value(i).to_owned())))
                .collect()
        }};
    }
    macro_rules! lists {
        ($a:expr) => {{
            let a = $a;
            (0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Ok(Value::Null)
                    } else {
                        array_values(&a.value(i)).map(Value::List)
                    }
                })
                .collect::<Result<_>>()?
        }};
    }
    let values: Vec<Value> = match array.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n)
                .map(|i| nullable(i, Value::Bool(a.value(i))))
                .collect()
        }
        DataType::Int8 => prim!(Int8Type, |x| Value::Int(x as i64)),
        DataType::Int16 => prim!(Int16Type, |x| Value::Int(x as i64)),
        DataType::Int32 => prim!(Int32Type, |x| Value::Int(x as i64)),
        DataType::Int64 => prim!(Int64Type, Value::Int),
        DataType::UInt8 => prim!(UInt8Type, |x| Value::Int(x as i64)),
        DataType::UInt16 => prim!(UInt16Type, |x| Value::Int(x as i64)),
        DataType::UInt32 => prim!(UInt32Type, |x| Value::Int(x as i64)),
        DataType::UInt64 => prim!(UInt64Type, |x: u64| i64::try_from(x)
            .map_or(Value::Float(x as f64), Value::Int)),
        DataType::Float16 => prim!(Float16Type, |x: HalfF16| Value::from(f32::from(x))),
        DataType::Float32 => prim!(Float32Type, Value::from),
        DataType::Float64 => prim!(Float64Type, Value::Float),
        DataType::Utf8 => strings!(array.as_string::<i32>()),
        DataType::LargeUtf8 => strings!(array.as_string::<i64>()),
        DataType::Utf8View => strings!(array.as_string_view()),
        DataType::Date32 => prim!(datafusion::arrow::datatypes::Date32Type, Value::Date),
        DataType::Date64 => prim!(Date64Type, |ms: i64| Value::Date(
            ms.div_euclid(86_400_000) as i32
        )),
        DataType::Timestamp(TimeUnit::Second, _) => {
            prim!(TimestampSecondType, |s: i64| Value::Timestamp(
                s.saturating_mul(1_000_000)
            ))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            prim!(TimestampMillisecondType, |ms: i64| Value::Timestamp(
                ms.saturating_mul(1000)
            ))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            prim!(TimestampMicrosecondType, Value::Timestamp)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            prim!(TimestampNanosecondType, |ns: i64| Value::Timestamp(
                ns.div_euclid(1000)
            ))
        }
        DataType::List(_) => lists!(array.as_list::<i32>()),
        DataType::LargeList(_) => lists!(array.as_list::<i64>()),
        DataType::FixedSizeList(_, _) => lists!(array.as_fixed_size_list()),
        DataType::Dictionary(_, value_type) => {
            let plain = datafusion::arrow::compute::cast(array, value_type)?;
            array_values(&plain)?
        }
        _ => {
            let options = FormatOptions::default();
            let f = ArrayFormatter::try_new(array.as_ref(), &options)?;
            (0..n)
                .map(|i| nullable(i, Value::Str(f.value(i).to_string())))
                .collect()
        }
    };
    Ok(values)
}

type HalfF16 = <Float16Type as datafusion::arrow::datatypes::ArrowPrimitiveType>::Native;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::{infer_kinds, schema_of};
    use crate::row;

    #[test]
    fn rows_round_trip_through_arrow() {
        let parts = vec![vec![
            row!(
                s = "a",
                i = 1i64,
                f = 0.5,
                b = true,
                l = vec![vec!["x".to_string()]]
            ),
            row!(
                s = None::<String>,
                i = None::<i64>,
                f = 2i64,
                b = None::<bool>,
                l = Value::Null
            ),
            row!(
                s = "c",
                i = 3i64,
                f = None::<f64>,
                b = false,
                l = Value::List(vec![])
            ),
        ]];
        let (names, kinds) = infer_kinds(&parts).unwrap().unwrap();
        let schema = schema_of(&names, &kinds);
        let rows: Vec<&Row> = parts.iter().flatten().collect();
        let batch = rows_to_batch(&schema, &kinds, &rows).unwrap();
        assert_eq!(batch.num_rows(), 3);
        let back = batches_to_rows(&schema, &[batch]).unwrap();
        let mut want = parts[0].clone();
        // An integer in a double column comes back as a double.
        want[1] = row!(
            s = None::<String>,
            i = None::<i64>,
            f = 2.0,
            b = None::<bool>,
            l = Value::Null
        );
        assert_eq!(back.len(), 3);
        for (got, want) in back.iter().zip(&want) {
            assert_eq!(got.values(), want.values());
            assert_eq!(got.column_names(), want.column_names());
        }
    }
}
