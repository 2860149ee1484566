//! Serde values as rows, for `create_data_frame_from_serde`: a struct's fields become columns in
//! declaration order (a JSON detour would sort them), a tuple's become `_1`, `_2`, ..., and a
//! plain value becomes the single column `value` (as Spark's `toDF()` on a `Dataset[Int]`).

// Alike on purpose (`duplicates` shows them as shapes): the associated types of the two
// `Serializer` impls, and `serialize_tuple_variant` beside `serialize_struct_variant`. Serde's
// trait fixes their signatures; the logic behind them is shared (`shared_methods!`, `nested`).

use serde::Serialize;
use serde::ser::{self, Impossible};

use crate::error::SqlError;
use crate::row::{Names, Row, Value};

impl ser::Error for SqlError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SqlError::Conversion(msg.to_string())
    }
}

/// One value as a row. `names` holds the names of the previous row, reused when they match so
/// that rows share one allocation.
pub(crate) fn to_row<T: Serialize + ?Sized>(
    x: &T,
    names: &mut Option<Names>,
) -> Result<Row, SqlError> {
    let top = x.serialize(TopSerializer)?;
    Ok(match top {
        Top::Named(pairs) => {
            let same = names.as_ref().is_some_and(|n| {
                n.as_slice().len() == pairs.len()
                    && n.as_slice().iter().zip(&pairs).all(|(a, (b, _))| a == b)
            });
            if !same {
                *names = Some(Names::new(pairs.iter().map(|(n, _)| n.clone())));
            }
            let values = pairs.into_iter().map(|(_, v)| v).collect();
            Row::with_names(names.clone().expect("set above"), values)
        }
        Top::Positional(values) => Row::new(values),
        Top::Single(v) => {
            if names.as_ref().is_none_or(|n| n.as_slice() != ["value"]) {
                *names = Some(Names::new(["value"]));
            }
            Row::with_names(names.clone().expect("set above"), vec![v])
        }
    })
}

enum Top {
    Named(Vec<(String, Value)>),
    Positional(Vec<Value>),
    Single(Value),
}

/// Serializes the top level: records and tuples become rows, anything else a single value.
struct TopSerializer;

/// Serializes a field's value.
struct ValueSerializer;

/// Collects the fields of a struct or the entries of a map.
struct Fields {
    pairs: Vec<(String, Value)>,
    key: Option<String>,
}

impl Fields {
    fn with_capacity(len: usize) -> Fields {
        Fields {
            pairs: Vec::with_capacity(len),
            key: None,
        }
    }

    /// Adds a field. A value with no column type of its own (a nested record) is kept as its
    /// JSON text rather than failing the whole table.
    fn push<T: Serialize + ?Sized>(&mut self, name: String, value: &T) -> Result<(), SqlError> {
        let v = match value.serialize(ValueSerializer) {
            Ok(v) => v,
            Err(SqlError::Conversion(_)) => json_text(value)?,
            Err(e) => return Err(e),
        };
        self.pairs.push((name, v));
        Ok(())
    }
}

/// Collects the elements of a sequence or tuple.
struct Elements(Vec<Value>);

impl Elements {
    fn with_capacity(len: usize) -> Elements {
        Elements(Vec::with_capacity(len))
    }
}

/// Nested records have no column type of their own: they are kept as their JSON text.
fn json_text<T: Serialize + ?Sized>(x: &T) -> Result<Value, SqlError> {
    serde_json::to_string(x)
        .map(Value::Str)
        .map_err(|e| SqlError::Conversion(e.to_string()))
}

/// The integer methods whose type widens to `i64` without loss.
macro_rules! widening_int_methods {
    ($wrap:expr; $($method:ident: $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Int(v.into())))
        }
    )*};
}

/// The methods in which both serializers agree: every scalar becomes one [`Value`] (given to
/// `$wrap`), options and newtypes are their content, and enum variants with fields are refused.
/// Each serializer keeps its own methods for sequences, tuples, maps and structs, which differ.
/// The unit-like methods (`none`, `unit`, `unit_struct`) all give `Null`; serde's signatures
/// differ, so each keeps its own one-line method.
macro_rules! shared_methods {
    ($wrap:expr) => {
        fn serialize_bool(self, v: bool) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Bool(v)))
        }
        widening_int_methods!($wrap;
            serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_u8: u8, serialize_u16: u16, serialize_u32: u32);
        fn serialize_i64(self, v: i64) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Int(v)))
        }
        fn serialize_u64(self, v: u64) -> Result<Self::Ok, SqlError> {
            let v = i64::try_from(v)
                .map_err(|_| SqlError::Conversion(format!("{v} does not fit a bigint")))?;
            Ok($wrap(Value::Int(v)))
        }
        fn serialize_f32(self, v: f32) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::from(v)))
        }
        fn serialize_f64(self, v: f64) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Float(v)))
        }
        fn serialize_char(self, v: char) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Str(v.to_string())))
        }
        fn serialize_str(self, v: &str) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Str(v.to_owned())))
        }
        fn serialize_bytes(self, v: &[u8]) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::List(
                v.iter().map(|b| Value::Int((*b).into())).collect(),
            )))
        }
        fn serialize_none(self) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Null))
        }
        fn serialize_unit(self) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Null))
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Null))
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<Self::Ok, SqlError> {
            Ok($wrap(Value::Str(variant.to_owned())))
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<Self::Ok, SqlError> {
            struct Tagged<'a, T: ?Sized>(&'static str, &'a T);
            impl<T: Serialize + ?Sized> Serialize for Tagged<'_, T> {
                fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    use ser::SerializeMap;
                    let mut m = s.serialize_map(Some(1))?;
                    m.serialize_entry(self.0, self.1)?;
                    m.end()
                }
            }
            Ok($wrap(json_text(&Tagged(variant, value))?))
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok, SqlError> {
            value.serialize(self)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<Self::Ok, SqlError> {
            value.serialize(self)
        }
        fn serialize_tuple_variant(
            self,
            name: &'static str,
            _: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, SqlError> {
            Err(nested(name, variant))
        }
        fn serialize_struct_variant(
            self,
            name: &'static str,
            _: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, SqlError> {
            Err(nested(name, variant))
        }
    };
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SqlError;
    type SerializeSeq = Elements;
    type SerializeTuple = Elements;
    type SerializeTupleStruct = Elements;
    type SerializeTupleVariant = Impossible<Value, SqlError>;
    type SerializeMap = Impossible<Value, SqlError>;
    type SerializeStruct = Impossible<Value, SqlError>;
    type SerializeStructVariant = Impossible<Value, SqlError>;

    shared_methods!(|v| v);

    fn serialize_seq(self, len: Option<usize>) -> Result<Elements, SqlError> {
        Ok(Elements::with_capacity(len.unwrap_or(0)))
    }
    fn serialize_tuple(self, len: usize) -> Result<Elements, SqlError> {
        Ok(Elements::with_capacity(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Elements, SqlError> {
        self.serialize_tuple(len)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, SqlError> {
        Err(SqlError::Conversion(
            "a map inside a field has no column type; use a struct per row or keep it as text"
                .into(),
        ))
    }
    fn serialize_struct(
        self,
        name: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, SqlError> {
        Err(SqlError::Conversion(format!(
            "struct {name} inside a field has no column type (ember-sql rows are flat); \
             flatten it or keep it as text"
        )))
    }
}

fn nested(name: &str, variant: &str) -> SqlError {
    SqlError::Conversion(format!(
        "enum variant {name}::{variant} with fields has no column type"
    ))
}

impl ser::Serializer for TopSerializer {
    type Ok = Top;
    type Error = SqlError;
    type SerializeSeq = TopElements;
    type SerializeTuple = TopElements;
    type SerializeTupleStruct = TopElements;
    type SerializeTupleVariant = Impossible<Top, SqlError>;
    type SerializeMap = Fields;
    type SerializeStruct = Fields;
    type SerializeStructVariant = Impossible<Top, SqlError>;

    shared_methods!(Top::Single);

    fn serialize_seq(self, len: Option<usize>) -> Result<TopElements, SqlError> {
        // A list at the top level is one column holding the list.
        Ok(TopElements {
            values: Elements::with_capacity(len.unwrap_or(0)),
            tuple: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<TopElements, SqlError> {
        Ok(TopElements {
            values: Elements::with_capacity(len),
            tuple: true,
        })
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<TopElements, SqlError> {
        self.serialize_tuple(len)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Fields, SqlError> {
        Ok(Fields::with_capacity(len.unwrap_or(0)))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Fields, SqlError> {
        Ok(Fields::with_capacity(len))
    }
}

/// A sequence or tuple at the top level.
struct TopElements {
    values: Elements,
    tuple: bool,
}

impl TopElements {
    fn finish(self) -> Top {
        if self.tuple {
            Top::Positional(self.values.0)
        } else {
            Top::Single(Value::List(self.values.0))
        }
    }
}

/// The sequence traits (`serialize_element` or `serialize_field`): [`Elements`] collects the
/// values; [`TopElements`] hands them to its `Elements` and makes a row at the end.
macro_rules! element_impls {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Elements {
            type Ok = Value;
            type Error = SqlError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SqlError> {
                self.0.push(value.serialize(ValueSerializer)?);
                Ok(())
            }
            fn end(self) -> Result<Value, SqlError> {
                Ok(Value::List(self.0))
            }
        }
        impl ser::$trait for TopElements {
            type Ok = Top;
            type Error = SqlError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SqlError> {
                ser::$trait::$method(&mut self.values, value)
            }
            fn end(self) -> Result<Top, SqlError> {
                Ok(self.finish())
            }
        }
    )*};
}

element_impls!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeStruct for Fields {
    type Ok = Top;
    type Error = SqlError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SqlError> {
        self.push(key.to_owned(), value)
    }
    fn end(self) -> Result<Top, SqlError> {
        Ok(Top::Named(self.pairs))
    }
}

impl ser::SerializeMap for Fields {
    type Ok = Top;
    type Error = SqlError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SqlError> {
        let name = match key.serialize(ValueSerializer)? {
            Value::Str(s) => s,
            other => crate::render::render_value(&other),
        };
        self.key = Some(name);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SqlError> {
        let key = self.key.take().unwrap_or_default();
        self.push(key, value)
    }
    fn end(self) -> Result<Top, SqlError> {
        Ok(Top::Named(self.pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Inner {
        a: i32,
    }

    #[derive(Serialize)]
    struct Record {
        zeta: String,
        alpha: Option<i64>,
        tags: Vec<String>,
        score: f32,
        inner: Inner,
    }

    #[test]
    fn struct_fields_keep_their_order() {
        let mut names = None;
        let r = Record {
            zeta: "z".into(),
            alpha: None,
            tags: vec!["t".into()],
            score: 0.1,
            inner: Inner { a: 1 },
        };
        let row = to_row(&r, &mut names).unwrap();
        assert_eq!(
            row.column_names(),
            ["zeta", "alpha", "tags", "score", "inner"]
        );
        assert_eq!(
            row.values(),
            [
                Value::Str("z".into()),
                Value::Null,
                Value::List(vec![Value::Str("t".into())]),
                Value::Float(0.1),
                Value::Str("{\"a\":1}".into()),
            ]
        );
    }

    #[test]
    fn tuples_and_plain_values() {
        let mut names = None;
        let row = to_row(&("a", 1), &mut names).unwrap();
        assert_eq!(row.column_names(), ["_1", "_2"]);
        let row = to_row(&7i64, &mut names).unwrap();
        assert_eq!(row.column_names(), ["value"]);
        assert_eq!(row.values(), [Value::Int(7)]);
        assert!(to_row(&u64::MAX, &mut names).is_err());
    }
}
