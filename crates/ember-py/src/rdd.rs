//! [`NativeRdd`]: one batch's data (an `ember::Rdd<Value>`) as Python's `RDD` class sees it.
//!
//! Python's `RDD` (python/ember/rdd.py) pipelines the user's functions and calls the few
//! primitives here: a whole-partition Python call, and the shuffles, which run natively on the
//! values without the GIL.

use ember::Rdd;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::context::NativeContext;
use crate::value::{Value, values_from_iter, values_to_list};

/// An RDD of Python values.
#[pyclass(module = "ember._native", frozen)]
pub struct NativeRdd {
    pub(crate) inner: Rdd<Value>,
}

impl NativeRdd {
    pub(crate) fn new(inner: Rdd<Value>) -> Self {
        NativeRdd { inner }
    }

    fn derive(&self, inner: Rdd<Value>) -> NativeRdd {
        NativeRdd { inner }
    }
}

/// Splits every value into `(key, value)`, with Python's error for a value that is not a pair.
pub(crate) fn into_pairs(parts: Vec<Vec<Value>>) -> PyResult<Vec<Vec<(Value, Value)>>> {
    parts
        .into_iter()
        .map(|p| p.into_iter().map(pair_of).collect::<PyResult<Vec<_>>>())
        .collect()
}

/// The `(key, value)` of a 2-tuple, or the `TypeError` PySpark's pair functions raise.
pub(crate) fn pair_of(v: Value) -> PyResult<(Value, Value)> {
    match v {
        Value::Tuple(mut items) if items.len() == 2 => {
            let value = items.pop().unwrap_or(Value::None);
            let key = items.pop().unwrap_or(Value::None);
            Ok((key, value))
        }
        other => Err(PyTypeError::new_err(format!(
            "a pair operation needs (key, value) tuples, got {other:?}"
        ))),
    }
}

fn from_pairs(parts: Vec<Vec<(Value, Value)>>) -> Vec<Vec<Value>> {
    parts
        .into_iter()
        .map(|p| p.into_iter().map(|(k, v)| Value::pair(k, v)).collect())
        .collect()
}

impl NativeRdd {
    fn pairs(&self) -> PyResult<Rdd<(Value, Value)>> {
        let ctx = self.inner.context().clone();
        let parts = into_pairs(self.inner.partitions().to_vec())?;
        Ok(Rdd::from_partitions(&ctx, parts))
    }

    fn with_pairs(&self, rdd: Rdd<(Value, Value)>) -> NativeRdd {
        let ctx = rdd.context().clone();
        self.derive(Rdd::from_partitions(
            &ctx,
            from_pairs(rdd.into_partitions()),
        ))
    }
}

#[pymethods]
impl NativeRdd {
    /// `sc.parallelize(data, num_slices)`.
    #[staticmethod]
    fn parallelize(
        ctx: &NativeContext,
        data: &Bound<'_, PyAny>,
        num_slices: usize,
    ) -> PyResult<Self> {
        let values = values_from_iter(data)?;
        Ok(NativeRdd::new(ctx.inner()?.parallelize(values, num_slices)))
    }

    /// An RDD made of the given partitions (lists).
    #[staticmethod]
    fn from_partitions(ctx: &NativeContext, parts: Vec<Bound<'_, PyAny>>) -> PyResult<Self> {
        let parts = parts
            .iter()
            .map(values_from_iter)
            .collect::<PyResult<Vec<_>>>()?;
        Ok(NativeRdd::new(Rdd::from_partitions(&ctx.inner()?, parts)))
    }

    /// Every element, in partition order.
    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let all: Vec<Value> = self.inner.partitions().iter().flatten().cloned().collect();
        values_to_list(py, &all)
    }

    /// The partitions, each as a list (`glom().collect()`).
    fn partitions<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyList>>> {
        self.inner
            .partitions()
            .iter()
            .map(|p| values_to_list(py, p))
            .collect()
    }

    /// The elements of partition `index` as a list.
    fn partition<'py>(&self, py: Python<'py>, index: usize) -> PyResult<Bound<'py, PyList>> {
        values_to_list(
            py,
            self.inner.partitions().get(index).map_or(&[][..], |p| p),
        )
    }

    /// The number of elements.
    fn count(&self) -> u64 {
        self.inner.count()
    }

    /// The number of partitions.
    fn num_partitions(&self) -> usize {
        self.inner.num_partitions()
    }

    /// `f(index, list) -> iterable` on every partition, in this thread (Python work is
    /// serialised by the GIL anyway, so a thread hop per partition would only add latency).
    fn map_partitions(&self, py: Python<'_>, f: Bound<'_, PyAny>) -> PyResult<Self> {
        let mut out = Vec::with_capacity(self.inner.num_partitions());
        for (i, part) in self.inner.partitions().iter().enumerate() {
            let list = values_to_list(py, part)?;
            let result = f.call1((i, list))?;
            out.push(if result.is_none() {
                Vec::new()
            } else {
                values_from_iter(&result)?
            });
        }
        Ok(self.derive(Rdd::from_partitions(self.inner.context(), out)))
    }

    /// Hash-partitions `(key, value)` pairs into `n` partitions by key.
    fn partition_by(&self, py: Python<'_>, n: usize) -> PyResult<Self> {
        let pairs = self.pairs()?;
        let out = py.detach(|| pairs.partition_by(n));
        Ok(self.with_pairs(out))
    }

    /// `(key, [values])` per key, natively.
    fn group_by_key(&self, py: Python<'_>, n: Option<usize>) -> PyResult<Self> {
        let pairs = self.pairs()?;
        let out = py.detach(|| pairs.group_by_key(n).map_values(Value::List));
        Ok(self.with_pairs(out))
    }

    /// `(key, (vs, ws))` of both RDDs' values per key (Spark's `cogroup`), natively.
    fn cogroup(&self, py: Python<'_>, other: &NativeRdd, n: Option<usize>) -> PyResult<Self> {
        let (a, b) = (self.pairs()?, other.pairs()?);
        let out = py.detach(|| {
            a.cogroup(b, n)
                .map_values(|(vs, ws)| Value::Tuple(vec![Value::List(vs), Value::List(ws)]))
        });
        Ok(self.with_pairs(out))
    }

    /// The elements of both.
    fn union(&self, other: &NativeRdd) -> Self {
        self.derive(self.inner.clone().union(other.inner.clone()))
    }

    /// Spreads the elements over `n` partitions, round robin.
    fn repartition(&self, py: Python<'_>, n: usize) -> Self {
        let inner = self.inner.clone();
        self.derive(py.detach(|| inner.repartition(n)))
    }

    /// Merges partitions down to `n` without a shuffle.
    fn coalesce(&self, n: usize) -> Self {
        self.derive(self.inner.clone().coalesce(n))
    }

    /// The distinct elements.
    fn distinct(&self, py: Python<'_>, n: Option<usize>) -> Self {
        let inner = self.inner.clone();
        self.derive(py.detach(|| inner.distinct(n)))
    }
}
