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

/// One column of values that all fit `kind` (checked by inference).
fn build_array(kind: &Kind, values: &[&Value]) -> Result<ArrayRef> {
    let mismatch =
        |v: &Value| SqlError::Conversion(format!("value {v:?} in a column of type {kind}"));
    Ok(match kind {
        Kind::Null => Arc::new(NullArray::new(values.len())),
        Kind::Bool => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Ok(Some(*b)),
                    Value::Null => Ok(None),
                    v => Err(mismatch(v)),
                })
                .collect::<Result<BooleanArray>>()?,
        ),
        Kind::Int => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Int(i) => Ok(Some(*i)),
                    Value::Null => Ok(None),
                    v => Err(mismatch(v)),
                })
                .collect::<Result<Int64Array>>()?,
        ),
        Kind::Float => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Float(f) => Ok(Some(*f)),
                    Value::Int(i) => Ok(Some(*i as f64)),
                    Value::Null => Ok(None),
                    v => Err(mismatch(v)),
                })
                .collect::<Result<Float64Array>>()?,
        ),
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
        Kind::Date => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Date(d) => Ok(Some(*d)),
                    Value::Null => Ok(None),
                    v => Err(mismatch(v)),
                })
                .collect::<Result<Date32Array>>()?,
        ),
        Kind::Timestamp => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Timestamp(t) => Ok(Some(*t)),
                    Value::Null => Ok(None),
                    v => Err(mismatch(v)),
                })
                .collect::<Result<TimestampMicrosecondArray>>()?,
        ),
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
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (0..n)
                .map(|i| nullable(i, Value::Str(a.value(i).to_owned())))
                .collect()
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            (0..n)
                .map(|i| nullable(i, Value::Str(a.value(i).to_owned())))
                .collect()
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            (0..n)
                .map(|i| nullable(i, Value::Str(a.value(i).to_owned())))
                .collect()
        }
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
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            (0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Ok(Value::Null)
                    } else {
                        array_values(&a.value(i)).map(Value::List)
                    }
                })
                .collect::<Result<_>>()?
        }
        DataType::LargeList(_) => {
            let a = array.as_list::<i64>();
            (0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Ok(Value::Null)
                    } else {
                        array_values(&a.value(i)).map(Value::List)
                    }
                })
                .collect::<Result<_>>()?
        }
        DataType::FixedSizeList(_, _) => {
            let a = array.as_fixed_size_list();
            (0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Ok(Value::Null)
                    } else {
                        array_values(&a.value(i)).map(Value::List)
                    }
                })
                .collect::<Result<_>>()?
        }
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
