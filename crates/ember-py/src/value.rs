//! [`Value`]: a Python object as the engine holds it.
//!
//! Records cross from Python into the engine once per partition per batch (see `pycall.rs`), and
//! inside the engine they are Rust data: hashing for shuffles, comparing keys, encoding for
//! checkpoints and the write-ahead log all run without the GIL. The common types of a stream
//! (`str`, `int`, `float`, `bool`, `None`, `bytes`, `tuple`, `list`, and ember's `Row`) have a
//! variant of their own; anything else travels as its pickle, which the engine treats as opaque
//! bytes (two pickled objects are the same key when their pickles are equal).
//!
//! Equality and hashing follow the encoding, not Python's numeric tower: `1`, `1.0` and `True` are
//! three different keys here, while Python's dict would merge them. The README's "From PySpark"
//! section lists this difference.

use std::hash::{Hash, Hasher};

use compact_str::CompactString;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::{Deserialize, Serialize};

/// A Python value held by the engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Value {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int` that fits 64 bits (larger ones are pickled).
    Int(i64),
    /// `float`.
    Float(f64),
    /// `str`, held inline when it is short (up to 24 bytes, as most words are): no allocation
    /// per word, and comparing two keys reads no other memory.
    Str(CompactString),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `tuple` (exactly `tuple`, not a subclass such as a named tuple).
    Tuple(Vec<Value>),
    /// `list`.
    List(Vec<Value>),
    /// `ember.sql.Row`: field names (empty for a positional row) and values. Boxed: rows are
    /// rare in streams, and every other variant fits in 32 bytes.
    Row(Box<(Vec<String>, Vec<Value>)>),
    /// Any other object, as `pickle.dumps(obj)`.
    Pickled(Vec<u8>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (None, None) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            // Bitwise, so that equality agrees with the hash and is reflexive for NaN.
            (Float(a), Float(b)) => canonical_bits(*a) == canonical_bits(*b),
            (Str(a), Str(b)) => a == b,
            (Bytes(a), Bytes(b)) | (Pickled(a), Pickled(b)) => a == b,
            (Tuple(a), Tuple(b)) | (List(a), List(b)) => a == b,
            (Row(a), Row(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

/// `0.0` and `-0.0` are equal in Python, and all NaNs hash alike.
fn canonical_bits(x: f64) -> u64 {
    if x == 0.0 {
        0
    } else if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::None => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => canonical_bits(*f).hash(state),
            Value::Str(s) => s.hash(state),
            Value::Bytes(b) | Value::Pickled(b) => b.hash(state),
            Value::Tuple(v) | Value::List(v) => v.hash(state),
            Value::Row(row) => {
                row.0.hash(state);
                row.1.hash(state);
            }
        }
    }
}

impl Value {
    /// The pair `(k, v)` of a 2-tuple, as the pair operations need it; `None` for anything else.
    pub fn into_pair(self) -> Option<(Value, Value)> {
        match self {
            Value::Tuple(mut items) if items.len() == 2 => {
                let v = items.pop()?;
                let k = items.pop()?;
                Some((k, v))
            }
            _ => None,
        }
    }

    /// The 2-tuple `(k, v)`.
    pub fn pair(k: Value, v: Value) -> Value {
        Value::Tuple(vec![k, v])
    }

    /// `a + b` computed natively for the types whose `+` is known (numbers, strings, bytes, tuples
    /// and lists of the same kind); `None` when Python must decide (mixed types, overflow).
    pub fn try_add(&self, other: &Value) -> Option<Value> {
        use Value::*;
        Some(match (self, other) {
            (Int(a), Int(b)) => Int(a.checked_add(*b)?),
            (Float(a), Float(b)) => Float(a + b),
            (Int(a), Float(b)) => Float(*a as f64 + b),
            (Float(a), Int(b)) => Float(a + *b as f64),
            (Str(a), Str(b)) => Str(CompactString::from_iter([a.as_str(), b.as_str()])),
            (Bytes(a), Bytes(b)) => Bytes([a.as_slice(), b].concat()),
            (Tuple(a), Tuple(b)) => Tuple([a.as_slice(), b].concat()),
            (List(a), List(b)) => List([a.as_slice(), b].concat()),
            _ => return Option::None,
        })
    }

    /// Converts a Python object. Exact built-in types map to their variant; `ember.sql.Row` to
    /// [`Value::Row`]; anything else is pickled.
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
        // Exact type checks first: they are pointer comparisons, and a subclass (a named tuple,
        // an `int` enum) must keep its type, which only pickle preserves.
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return Ok(Value::Str(CompactString::from(s.to_str()?)));
        }
        if obj.is_exact_instance_of::<PyInt>() {
            return match obj.extract::<i64>() {
                Ok(i) => Ok(Value::Int(i)),
                Err(_) => pickled(obj),
            };
        }
        if let Ok(t) = obj.cast_exact::<PyTuple>() {
            return Ok(Value::Tuple(
                t.iter()
                    .map(|x| Value::from_py(&x))
                    .collect::<PyResult<_>>()?,
            ));
        }
        if obj.is_exact_instance_of::<PyFloat>() {
            return Ok(Value::Float(obj.extract::<f64>()?));
        }
        if obj.is_none() {
            return Ok(Value::None);
        }
        if obj.is_exact_instance_of::<PyBool>() {
            return Ok(Value::Bool(obj.extract::<bool>()?));
        }
        if let Ok(l) = obj.cast_exact::<PyList>() {
            return Ok(Value::List(
                l.iter()
                    .map(|x| Value::from_py(&x))
                    .collect::<PyResult<_>>()?,
            ));
        }
        if let Ok(b) = obj.cast_exact::<PyBytes>() {
            return Ok(Value::Bytes(b.as_bytes().to_vec()));
        }
        if obj.is_instance(row_type(obj.py())?)? {
            let fields: Vec<String> = match obj.getattr("__fields__") {
                Ok(f) if !f.is_none() => f.extract()?,
                _ => Vec::new(),
            };
            let t = obj.cast::<PyTuple>()?;
            let values = t
                .iter()
                .map(|x| Value::from_py(&x))
                .collect::<PyResult<_>>()?;
            return Ok(Value::Row(Box::new((fields, values))));
        }
        pickled(obj)
    }

    /// Converts back to a Python object.
    pub fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Value::None => py.None().into_bound(py),
            Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
            Value::Int(i) => i.into_pyobject(py)?.into_any(),
            Value::Float(f) => PyFloat::new(py, *f).into_any(),
            Value::Str(s) => PyString::new(py, s).into_any(),
            Value::Bytes(b) => PyBytes::new(py, b).into_any(),
            Value::Tuple(items) => {
                let items = items
                    .iter()
                    .map(|x| x.to_py(py))
                    .collect::<PyResult<Vec<_>>>()?;
                PyTuple::new(py, items)?.into_any()
            }
            Value::List(items) => {
                let items = items
                    .iter()
                    .map(|x| x.to_py(py))
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?.into_any()
            }
            Value::Row(row) => {
                let (fields, values) = &**row;
                let values = values
                    .iter()
                    .map(|x| x.to_py(py))
                    .collect::<PyResult<Vec<_>>>()?;
                let fields = PyTuple::new(py, fields)?;
                row_type(py)?.call_method1("_make", (fields, PyTuple::new(py, values)?))?
            }
            Value::Pickled(bytes) => pickle(py)?.1.call1((PyBytes::new(py, bytes),))?,
        })
    }

    /// Python's `repr` of the value.
    pub fn repr(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.to_py(py)?.repr()?.to_str()?.to_owned())
    }
}

fn pickled(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let dumped = pickle(obj.py())?.0.call1((obj,)).map_err(|e| {
        PyTypeError::new_err(format!(
            "ember cannot hold a value of type {}: it is not a str, int, float, bool, None, \
             bytes, tuple, list or Row, and pickling it failed: {e}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    Ok(Value::Pickled(
        dumped.cast::<PyBytes>()?.as_bytes().to_vec(),
    ))
}

/// `pickle.dumps` and `pickle.loads`, looked up once.
fn pickle(py: Python<'_>) -> PyResult<(&Bound<'_, PyAny>, &Bound<'_, PyAny>)> {
    static DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let dumps = DUMPS.get_or_try_init(py, || {
        py.import("pickle")?.getattr("dumps").map(Bound::unbind)
    })?;
    let loads = LOADS.get_or_try_init(py, || {
        py.import("pickle")?.getattr("loads").map(Bound::unbind)
    })?;
    Ok((dumps.bind(py), loads.bind(py)))
}

/// `ember.sql.types.Row`, looked up once (the Python package defines it).
fn row_type(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static ROW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    Ok(ROW
        .get_or_try_init(py, || {
            py.import("ember.sql.types")?
                .getattr("Row")
                .map(Bound::unbind)
        })?
        .bind(py))
}

/// Converts a Python iterable into values.
pub fn values_from_iter(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Value>> {
    if let Ok(list) = obj.cast_exact::<PyList>() {
        let mut out = Vec::with_capacity(list.len());
        for x in list.iter() {
            out.push(Value::from_py(&x)?);
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for x in obj.try_iter()? {
        out.push(Value::from_py(&x?)?);
    }
    Ok(out)
}

/// Converts values into a Python list.
pub fn values_to_list<'py>(py: Python<'py>, values: &[Value]) -> PyResult<Bound<'py, PyList>> {
    let items = values
        .iter()
        .map(|x| x.to_py(py))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_four_words() {
        // Records move between operators by value, and a word's string is inline: every byte
        // here is paid per word.
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn pairs_split_only_two_tuples() {
        let p = Value::pair(Value::Str("a".into()), Value::Int(1));
        assert_eq!(p.into_pair(), Some((Value::Str("a".into()), Value::Int(1))));
        assert_eq!(Value::Tuple(vec![Value::Int(1)]).into_pair(), None);
        assert_eq!(
            Value::List(vec![Value::Int(1), Value::Int(2)]).into_pair(),
            None
        );
    }

    #[test]
    fn native_add_covers_numbers_and_sequences_and_declines_the_rest() {
        assert_eq!(Value::Int(2).try_add(&Value::Int(3)), Some(Value::Int(5)));
        assert_eq!(Value::Int(i64::MAX).try_add(&Value::Int(1)), None);
        assert_eq!(
            Value::Str("a".into()).try_add(&Value::Str("b".into())),
            Some(Value::Str("ab".into()))
        );
        assert_eq!(Value::Str("a".into()).try_add(&Value::Int(1)), None);
        assert_eq!(
            Value::Int(1).try_add(&Value::Float(0.5)),
            Some(Value::Float(1.5))
        );
    }

    #[test]
    fn floats_are_equal_as_python_compares_zero_and_hash_alike() {
        use std::collections::HashSet;
        let set: HashSet<Value> = [Value::Float(0.0), Value::Float(-0.0)]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 1);
        assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_ne!(Value::Int(1), Value::Float(1.0));
    }
}
