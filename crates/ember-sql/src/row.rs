//! Rows and their values (Spark's `Row`): what a batch holds before it becomes a table, and what
//! a query's result becomes again with [`DataFrame::collect`](crate::DataFrame::collect).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One value of a row. The variants are the types Spark infers from Python values (`None`,
/// `bool`, `int`, `float`, `str`, `datetime.date`, `datetime.datetime`, `list`); other column
/// types of a query's result (decimals, structs, maps, binary) come back as their text in
/// [`Value::Str`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// SQL `NULL` (Python's `None`).
    Null,
    /// `boolean`.
    Bool(bool),
    /// `bigint`: every integer is 64-bit, as Spark infers Python's `int`.
    Int(i64),
    /// `double`.
    Float(f64),
    /// `string`.
    Str(String),
    /// `date`: days since 1970-01-01.
    Date(i32),
    /// `timestamp`: microseconds since 1970-01-01 00:00:00 UTC (Spark's precision; ember's
    /// session time zone is UTC).
    Timestamp(i64),
    /// `array<...>`: the elements share one type (nulls allowed).
    List(Vec<Value>),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, if this is a [`Value::Int`].
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, if this is a [`Value::Float`] or a [`Value::Int`].
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The text, if this is a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A timestamp from a UTC date and time.
    pub fn timestamp(t: chrono::NaiveDateTime) -> Value {
        Value::Timestamp(t.and_utc().timestamp_micros())
    }

    /// A date.
    pub fn date(d: chrono::NaiveDate) -> Value {
        Value::Date(
            d.signed_duration_since(chrono::NaiveDate::default())
                .num_days() as i32,
        )
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value {
                Value::$variant(x as $as)
            }
        }
    )*};
}

value_from!(
    i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64,
    u8 => Int as i64, u16 => Int as i64, u32 => Int as i64,
    f64 => Float as f64,
);

impl From<f32> for Value {
    /// Through the float's shortest decimal text, so that `0.1f32` is `0.1`, as Spark shows a
    /// `float` (not `0.10000000149011612`).
    fn from(x: f32) -> Value {
        Value::Float(x.to_string().parse().unwrap_or(x as f64))
    }
}

impl From<bool> for Value {
    fn from(x: bool) -> Value {
        Value::Bool(x)
    }
}

impl From<&str> for Value {
    fn from(x: &str) -> Value {
        Value::Str(x.to_owned())
    }
}

impl From<String> for Value {
    fn from(x: String) -> Value {
        Value::Str(x)
    }
}

impl From<&String> for Value {
    fn from(x: &String) -> Value {
        Value::Str(x.clone())
    }
}

impl From<chrono::NaiveDateTime> for Value {
    fn from(x: chrono::NaiveDateTime) -> Value {
        Value::timestamp(x)
    }
}

impl From<chrono::DateTime<chrono::Utc>> for Value {
    fn from(x: chrono::DateTime<chrono::Utc>) -> Value {
        Value::Timestamp(x.timestamp_micros())
    }
}

impl From<chrono::NaiveDate> for Value {
    fn from(x: chrono::NaiveDate) -> Value {
        Value::date(x)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(x: Option<T>) -> Value {
        x.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(x: Vec<T>) -> Value {
        Value::List(x.into_iter().map(Into::into).collect())
    }
}

/// The field names of rows, shared by every row that has them (one allocation per batch or per
/// `row!` call site, not per row).
#[derive(Clone, PartialEq, Eq)]
pub struct Names(Arc<[String]>);

impl Names {
    /// Names from a list.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Names {
        Names(names.into_iter().map(Into::into).collect())
    }

    /// The names, in field order.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The position of `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|n| n == name)
    }
}

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

// Serialized as a plain list of names, so that ember's serde bound needs no `rc` feature.
impl Serialize for Names {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Names, D::Error> {
        Vec::<String>::deserialize(d).map(|v| Names(v.into()))
    }
}

/// A row (Spark's `Row`): values, and optionally field names, which become column names.
/// Without names, columns are called `_1`, `_2`, ... as Spark names the fields of a tuple.
///
/// ```
/// use ember_sql::{row, Row, Value};
/// let named = row!(word = "spark", total = 3);
/// assert_eq!(named.get_by_name("total"), Some(&Value::Int(3)));
/// assert_eq!(named.to_string(), "Row(word='spark', total=3)");
/// let positional = Row::new(vec![Value::from("spark"), Value::Null]);
/// assert_eq!(positional.column_names(), ["_1", "_2"]);
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    names: Option<Names>,
    values: Vec<Value>,
}

impl Row {
    /// A row of values without names (columns `_1`, `_2`, ...).
    pub fn new(values: Vec<Value>) -> Row {
        Row {
            names: None,
            values,
        }
    }

    /// A row with field names; `names` and `values` should have the same length (a table made
    /// from rows whose lengths differ is refused with [`SqlError::Schema`](crate::SqlError)).
    pub fn with_names(names: Names, values: Vec<Value>) -> Row {
        Row {
            names: Some(names),
            values,
        }
    }

    /// A row from `(name, value)` pairs, as Spark's `Row(word=w)`.
    pub fn from_pairs<S: Into<String>, V: Into<Value>>(
        pairs: impl IntoIterator<Item = (S, V)>,
    ) -> Row {
        let (names, values): (Vec<String>, Vec<Value>) =
            pairs.into_iter().map(|(n, v)| (n.into(), v.into())).unzip();
        Row::with_names(Names::new(names), values)
    }

    /// The values, in field order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The values, moved out.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The field names, if the row has them.
    pub fn names(&self) -> Option<&Names> {
        self.names.as_ref()
    }

    /// The column names this row gives a table: its field names, or `_1`, `_2`, ...
    pub fn column_names(&self) -> Vec<String> {
        match &self.names {
            Some(n) => n.as_slice().to_vec(),
            None => (1..=self.values.len()).map(|i| format!("_{i}")).collect(),
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value at `index`.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }

    /// The value of the field `name` (a row without names has none).
    pub fn get_by_name(&self, name: &str) -> Option<&Value> {
        let i = self.names.as_ref()?.index_of(name)?;
        self.values.get(i)
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// PySpark's `repr` of a row: `Row(word='a', total=3)`, or `<Row('a', 3)>` without names.
impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let repr = |v: &Value| python_repr(v);
        match &self.names {
            Some(names) => {
                f.write_str("Row(")?;
                for (i, (n, v)) in names.as_slice().iter().zip(&self.values).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}={}", repr(v))?;
                }
                f.write_str(")")
            }
            None => {
                f.write_str("<Row(")?;
                for (i, v) in self.values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&repr(v))?;
                }
                f.write_str(")>")
            }
        }
    }
}

/// A value as Python's `repr` shows it inside a `Row`.
fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::List(items) => {
            let inner: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        other => crate::render::render_value(other),
    }
}

/// Builds a [`Row`]: `row!(word = w, total = 3)` with field names (Spark's `Row(word=w)`), or
/// `row![w, 3]` without. Values go through [`Value::from`]. The names of a `row!(name = ...)`
/// call site are allocated once and shared by every row it makes.
///
/// ```
/// use ember_sql::row;
/// let r = row!(word = "a", total = 3i64, ratio = 0.5, missing = None::<i64>);
/// assert_eq!(r.to_string(), "Row(word='a', total=3, ratio=0.5, missing=None)");
/// assert_eq!(row!["a", 1].to_string(), "<Row('a', 1)>");
/// ```
#[macro_export]
macro_rules! row {
    ($($name:ident = $value:expr),+ $(,)?) => {{
        static NAMES: ::std::sync::OnceLock<$crate::Names> = ::std::sync::OnceLock::new();
        $crate::Row::with_names(
            NAMES
                .get_or_init(|| $crate::Names::new([$(stringify!($name)),+]))
                .clone(),
            vec![$($crate::Value::from($value)),+],
        )
    }};
    ($($value:expr),* $(,)?) => {
        $crate::Row::new(vec![$($crate::Value::from($value)),*])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_rows_share_their_names() {
        let make = |w: &str| row!(word = w);
        let (a, b) = (make("a"), make("b"));
        assert!(Arc::ptr_eq(&a.names().unwrap().0, &b.names().unwrap().0));
        assert_eq!(a.column_names(), ["word"]);
        assert_eq!(b.get_by_name("word"), Some(&Value::Str("b".into())));
        assert_eq!(a.get_by_name("nope"), None);
    }

    #[test]
    fn rows_survive_serialization() {
        let r = row!(a = 1, b = "x", c = vec![Some(1.5), None], d = true);
        let json = serde_json::to_string(&r).unwrap();
        let back: Row = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn conversions() {
        assert_eq!(Value::from(0.1f32), Value::Float(0.1));
        assert_eq!(Value::from(None::<String>), Value::Null);
        let t = chrono::NaiveDate::from_ymd_opt(1970, 1, 2)
            .unwrap()
            .and_hms_opt(0, 0, 1)
            .unwrap();
        assert_eq!(Value::from(t), Value::Timestamp(86_401_000_000));
        assert_eq!(Value::from(t.date()), Value::Date(1));
        assert_eq!(
            Row::from_pairs([("x", 1)]).to_string(),
            "Row(x=1)".to_string()
        );
        assert_eq!(
            row![Value::Null, "it's"].to_string(),
            "<Row(None, 'it\\'s')>"
        );
    }
}
