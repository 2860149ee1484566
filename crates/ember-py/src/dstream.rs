//! [`NativeDStream`]: an `ember::DStream<Value>` as Python's `DStream` class sees it.
//!
//! Python's `DStream` (python/ember/streaming/dstream.py) fuses consecutive Python steps
//! (`map`, `flatMap`, `filter`, `mapPartitions`, ...) into one function `f(index, iterator)` and
//! hands it to `NativeDStream.map_partitions` (or `map_runs`), so the engine enters Python once per partition
//! per batch for the whole chain. Everything between such chains (shuffles, windows, state,
//! unions, checkpoints) runs natively on [`Value`]s.

use ember::dstream::{MapWithStateDStream, StateRows, WindowFilter};
use ember::state::{KeyBatch, KeyOutcome, StateSpec};
use ember::{DStream, Duration, Rdd, Time};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::errors::to_py_err;
use crate::pycall::{PythonError, call_partition, py_time, with_python};
use crate::rdd::{NativeRdd, pair_of};
use crate::value::Value;

/// A stream of Python values.
///
/// A stream made by a pair operation (`(w, 1)` pairing, `reduceByKey`, `updateStateByKey`,
/// ...) also keeps its pairs as `(key, value)`, so that the next pair operation takes them
/// as they are: no 2-tuple is built and taken apart again per record between two of them. The
/// tuple form (`inner`) is then computed only if something uses the stream as values (the
/// engine builds only the streams an output reads).
#[pyclass(module = "ember._native", frozen)]
pub struct NativeDStream {
    pub(crate) inner: DStream<Value>,
    keyed: Option<DStream<(Value, Value)>>,
}

impl NativeDStream {
    pub(crate) fn new(inner: DStream<Value>) -> Self {
        NativeDStream { inner, keyed: None }
    }

    /// A stream of pairs, seen from Python as 2-tuples.
    fn of_pairs(keyed: DStream<(Value, Value)>) -> Self {
        NativeDStream {
            inner: unpairs(&keyed),
            keyed: Some(keyed),
        }
    }

    /// The stream's pairs; elements that are not 2-tuples fail their batch with Python's
    /// `TypeError`.
    fn keyed(&self) -> DStream<(Value, Value)> {
        match &self.keyed {
            Some(k) => k.clone(),
            None => pairs(&self.inner),
        }
    }
}

/// A stream of pairs from a stream of 2-tuples; a value that is not a pair fails the batch with
/// the `TypeError` Python would raise on unpacking it.
fn pairs(s: &DStream<Value>) -> DStream<(Value, Value)> {
    s.map(|v| match pair_of(v) {
        Ok(kv) => kv,
        Err(e) => Python::attach(|py| crate::pycall::fail_batch(py, e)),
    })
}

fn unpairs(s: &DStream<(Value, Value)>) -> DStream<Value> {
    s.map(|(k, v)| Value::pair(k, v))
}

/// The stream of a `map_with_state`: the emitted values, and the state on demand.
#[pyclass(module = "ember._native", frozen)]
pub struct NativeMapWithState {
    inner: MapWithStateDStream<Value, Value, Value>,
}

#[pymethods]
impl NativeMapWithState {
    /// What the function emitted.
    fn stream(&self) -> NativeDStream {
        NativeDStream::new(self.inner.stream())
    }

    /// Every key's state after each batch (Spark's `stateSnapshots`).
    fn state_snapshots(&self) -> NativeDStream {
        NativeDStream::of_pairs(self.inner.state_snapshots())
    }

    /// Checkpoint the state every `interval_ms`.
    fn checkpoint(&self, interval_ms: u64) -> PyResult<()> {
        self.inner.checkpoint(ms(interval_ms)).map_err(to_py_err)
    }
}

fn ms(millis: u64) -> Duration {
    Duration::milliseconds(millis)
}

/// A binary function of values: natively `a + b` or `a - b` when `op` names one of them
/// (`operator.add`, `operator.sub`) and the types allow it, else a call of the Python function.
#[derive(Clone)]
pub(crate) struct BinaryFn {
    f: std::sync::Arc<Py<PyAny>>,
    native: Native,
}

#[derive(Clone, Copy)]
enum Native {
    Add,
    Sub,
    None,
}

impl BinaryFn {
    pub(crate) fn new(f: Py<PyAny>, native: Option<&str>) -> Self {
        let native = match native {
            Some("add") => Native::Add,
            Some("sub") => Native::Sub,
            _ => Native::None,
        };
        BinaryFn {
            f: std::sync::Arc::new(f),
            native,
        }
    }

    pub(crate) fn call(&self, a: Value, b: Value) -> Value {
        let quick = match self.native {
            Native::Add => a.try_add(&b),
            Native::Sub => match (&a, &b) {
                (Value::Int(x), Value::Int(y)) => x.checked_sub(*y).map(Value::Int),
                (Value::Float(x), Value::Float(y)) => Some(Value::Float(x - y)),
                _ => None,
            },
            Native::None => None,
        };
        if let Some(v) = quick {
            return v;
        }
        with_python(|py| {
            let out = self.f.bind(py).call1((a.to_py(py)?, b.to_py(py)?))?;
            Value::from_py(&out)
        })
    }
}

/// One partition's rows through the Python function of `update_state_by_key`.
fn update_in_python(
    f: &Py<PyAny>,
    rows: Vec<(Value, Vec<Value>, Option<Value>)>,
) -> Vec<(Value, Value)> {
    with_python(|py| {
        let mut items = Vec::with_capacity(rows.len());
        for (k, vs, s) in rows {
            let s = match s {
                Some(v) => v.to_py(py)?,
                None => py.None().into_bound(py),
            };
            let vs = crate::value::values_to_list(py, &vs)?;
            items.push(PyTuple::new(py, [k.to_py(py)?, vs.into_any(), s])?);
        }
        let out = f.bind(py).call1((PyList::new(py, items)?,))?;
        let mut state = Vec::new();
        for kv in out.try_iter()? {
            state.push(pair_of(Value::from_py(&kv?)?)?);
        }
        Ok(state)
    })
}

/// Python's `sum(values) + (state or 0)` when the values are `int`s and the state is `None` or
/// an `int`, and no sum leaves 64 bits; `None` when Python must compute it (other types: `bool`,
/// `float`, whose `sum` differs between CPython versions, strings that raise...).
fn sum_update(values: &[Value], state: Option<&Value>) -> Option<Value> {
    let mut total: i64 = match state {
        None | Some(Value::None) => 0,
        Some(Value::Int(i)) => *i,
        Some(_) => return None,
    };
    for v in values {
        match v {
            Value::Int(i) => total = total.checked_add(*i)?,
            _ => return None,
        }
    }
    Some(Value::Int(total))
}

fn python_rdd(py: Python<'_>, rdd: Rdd<Value>) -> PyResult<Bound<'_, NativeRdd>> {
    Bound::new(py, NativeRdd::new(rdd))
}

/// The `NativeRdd` inside what a Python transform function returned.
pub(crate) fn returned_rdd(out: &Bound<'_, PyAny>) -> PyResult<Rdd<Value>> {
    match out.cast::<NativeRdd>() {
        Ok(n) => Ok(n.get().inner.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "the transform function must return an RDD, got {}",
            out.get_type().name()?
        ))),
    }
}

#[pymethods]
impl NativeDStream {
    /// `f(index, list) -> iterable` once per partition per batch.
    fn map_partitions(&self, f: Py<PyAny>) -> Self {
        NativeDStream::new(
            self.inner
                .map_partitions_with_index(move |i, part| call_partition(&f, i, part)),
        )
    }

    /// `f(index, list) -> iterable` over runs of a partition's elements as they arrive (for
    /// chains of element-wise steps: no partition is held whole).
    fn map_runs(&self, f: Py<PyAny>) -> Self {
        NativeDStream::new(
            self.inner
                .map_runs(move |i, run| call_partition(&f, i, run)),
        )
    }

    /// Python's `x.split(sep)` of every element, flattened, computed natively for `str`
    /// elements (a non-empty `sep` splits exactly as Python's); any other value goes to
    /// `fallback`, the user's own function, so that its result or error is Python's.
    fn split(&self, sep: String, fallback: Py<PyAny>) -> Self {
        NativeDStream::new(self.inner.flat_map(move |v| {
            match v {
                Value::Str(s) => s
                    .split(sep.as_str())
                    .map(|w| Value::Str(w.into()))
                    .collect::<Vec<_>>(),
                other => with_python(|py| {
                    let out = fallback.bind(py).call1((other.to_py(py)?,))?;
                    crate::value::values_from_iter(&out)
                }),
            }
        }))
    }

    /// `(x, value)` for every element `x` (Python's `lambda x: (x, value)`).
    fn pair_with(&self, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        let value = Value::from_py(value)?;
        Ok(NativeDStream::of_pairs(
            self.inner.map(move |x| (x, value.clone())),
        ))
    }

    /// `(key, value)` pairs reduced per key with `f` (natively when `native` is `"add"`).
    #[pyo3(signature = (f, native, partitions=None))]
    fn reduce_by_key(&self, f: Py<PyAny>, native: Option<&str>, partitions: Option<usize>) -> Self {
        let f = BinaryFn::new(f, native);
        NativeDStream::of_pairs(
            self.keyed()
                .reduce_by_key(move |a, b| f.call(a, b), partitions),
        )
    }

    /// `(key, [values])` per key and batch.
    #[pyo3(signature = (partitions=None))]
    fn group_by_key(&self, partitions: Option<usize>) -> Self {
        let grouped = self.keyed().group_by_key(partitions);
        NativeDStream::of_pairs(grouped.map(|(k, vs)| (k, Value::List(vs))))
    }

    /// `(key, ([vs], [ws]))` per key and batch.
    #[pyo3(signature = (other, partitions=None))]
    fn cogroup(&self, other: &NativeDStream, partitions: Option<usize>) -> Self {
        let grouped = self.keyed().cogroup(&other.keyed(), partitions);
        NativeDStream::of_pairs(
            grouped.map(|(k, (vs, ws))| (k, Value::Tuple(vec![Value::List(vs), Value::List(ws)]))),
        )
    }

    /// The elements of both streams.
    fn union(&self, other: &NativeDStream) -> Self {
        NativeDStream::new(self.inner.union(&other.inner))
    }

    /// Every batch spread over `n` partitions.
    fn repartition(&self, n: usize) -> Self {
        NativeDStream::new(self.inner.repartition(n))
    }

    /// Spark's `count`: one element per batch.
    fn count(&self) -> Self {
        NativeDStream::new(self.inner.count().map(|n| Value::Int(n as i64)))
    }

    /// The window of `window_ms` sliding by `slide_ms`.
    fn window(&self, window_ms: u64, slide_ms: u64) -> Self {
        NativeDStream::new(self.inner.window(ms(window_ms), ms(slide_ms)))
    }

    /// Spark's `reduceByKeyAndWindow` with an inverse function and an optional filter.
    #[pyo3(signature = (f, f_native, inv, inv_native, window_ms, slide_ms, partitions, filter))]
    #[allow(clippy::too_many_arguments)]
    fn reduce_by_key_and_window_inv(
        &self,
        f: Py<PyAny>,
        f_native: Option<&str>,
        inv: Py<PyAny>,
        inv_native: Option<&str>,
        window_ms: u64,
        slide_ms: u64,
        partitions: Option<usize>,
        filter: Option<Py<PyAny>>,
    ) -> Self {
        let (f, inv) = (BinaryFn::new(f, f_native), BinaryFn::new(inv, inv_native));
        let filter: Option<WindowFilter<Value, Value>> = filter.map(|g| {
            let g = std::sync::Arc::new(g);
            std::sync::Arc::new(move |k: &Value, v: &Value| {
                with_python(|py| {
                    let pair = PyTuple::new(py, [k.to_py(py)?, v.to_py(py)?])?;
                    g.bind(py).call1((pair,))?.is_truthy()
                })
            }) as WindowFilter<Value, Value>
        });
        let reduced = self.keyed().reduce_by_key_and_window_inv(
            move |a, b| f.call(a, b),
            move |a, b| inv.call(a, b),
            ms(window_ms),
            ms(slide_ms),
            partitions,
            filter,
        );
        NativeDStream::of_pairs(reduced)
    }

    /// Spark's `updateStateByKey`, entering Python once per partition per batch:
    /// `f([(key, new_values, state or None), ...]) -> [(key, new_state), ...]` over every key
    /// with new values or a state; a key left out of the result is removed. With `native` =
    /// `"sum"` (the function is `sum(values) + (state or 0)`, see `ember._recognize.update`), the
    /// engine computes the keys whose values and state are `int` itself and hands Python only
    /// the others.
    #[pyo3(signature = (f, partitions=None, initial=None, native=None))]
    fn update_state_by_key(
        &self,
        f: Py<PyAny>,
        partitions: Option<usize>,
        initial: Option<&NativeRdd>,
        native: Option<&str>,
    ) -> PyResult<Self> {
        let native_sum = native == Some("sum");
        let update = move |rows: StateRows<Value, Value, Value>| -> Vec<(Value, Value)> {
            if !native_sum {
                return update_in_python(&f, rows.collect());
            }
            let mut state = Vec::with_capacity(rows.len());
            let mut rest = Vec::new();
            for (k, vs, s) in rows {
                match sum_update(&vs, s.as_ref()) {
                    Some(new) => state.push((k, new)),
                    None => rest.push((k, vs, s)),
                }
            }
            if !rest.is_empty() {
                state.extend(update_in_python(&f, rest));
            }
            state
        };
        let keyed = self.keyed();
        let state = match initial {
            Some(rdd) => {
                let ctx = rdd.inner.context().clone();
                let parts = crate::rdd::into_pairs(rdd.inner.partitions().to_vec())?;
                let initial = Rdd::from_partitions(&ctx, parts);
                keyed.update_state_by_key_iter_with_initial(update, partitions, false, initial)
            }
            None => keyed.update_state_by_key_iter(update, partitions, false),
        };
        Ok(NativeDStream::of_pairs(state))
    }

    /// Spark's `mapWithState`, entering Python once per worker per batch:
    /// `f(time_ms, [(key, values, has_state, state, timing_out), ...])` returns, for each key
    /// in the same order, `(has_state, state, emitted)`. Python runs the user's per-record
    /// function over each key's values (python/ember/streaming/state.py).
    #[pyo3(signature = (f, partitions=None, initial=None, timeout_ms=None))]
    fn map_with_state(
        &self,
        f: Py<PyAny>,
        partitions: Option<usize>,
        initial: Option<&NativeRdd>,
        timeout_ms: Option<u64>,
    ) -> PyResult<NativeMapWithState> {
        let mut spec =
            StateSpec::function_batch(move |time, keys: &[KeyBatch<Value, Value, Value>]| {
                with_python(|py| {
                    let calls = PyList::empty(py);
                    for k in keys {
                        let values = crate::value::values_to_list(py, &k.values)?;
                        let state = match &k.state {
                            Some(s) => s.to_py(py)?,
                            None => py.None().into_bound(py),
                        };
                        calls.append((
                            k.key.to_py(py)?,
                            values,
                            k.state.is_some(),
                            state,
                            k.timing_out,
                        ))?;
                    }
                    let out = f.bind(py).call1((time.as_millis(), calls))?;
                    let mut outcomes = Vec::with_capacity(keys.len());
                    for item in out.try_iter()? {
                        let (has_state, state, emitted): (
                            bool,
                            Bound<'_, PyAny>,
                            Bound<'_, PyAny>,
                        ) = item?.extract()?;
                        outcomes.push(KeyOutcome {
                            state: if has_state {
                                Some(Value::from_py(&state)?)
                            } else {
                                None
                            },
                            emitted: crate::value::values_from_iter(&emitted)?,
                        });
                    }
                    Ok(outcomes)
                })
            });
        if let Some(n) = partitions {
            spec = spec.num_partitions(n);
        }
        if let Some(ms) = timeout_ms {
            spec = spec.timeout(Duration::milliseconds(ms));
        }
        if let Some(rdd) = initial {
            let ctx = rdd.inner.context().clone();
            let parts = crate::rdd::into_pairs(rdd.inner.partitions().to_vec())?;
            spec = spec.initial_state(Rdd::from_partitions(&ctx, parts));
        }
        Ok(NativeMapWithState {
            inner: self.keyed().map_with_state(spec),
        })
    }

    /// `f(time_ms, NativeRdd) -> NativeRdd` on every batch (Spark's `transform`).
    fn transform(&self, f: Py<PyAny>) -> Self {
        NativeDStream::new(self.inner.transform_with_time(move |rdd, time| {
            with_python(|py| {
                let out = f.bind(py).call1((time.as_millis(), python_rdd(py, rdd)?))?;
                returned_rdd(&out)
            })
        }))
    }

    /// `f(time_ms, a, b) -> NativeRdd` on every batch of both streams (Spark's `transformWith`).
    fn transform_with(&self, other: &NativeDStream, f: Py<PyAny>) -> Self {
        NativeDStream::new(
            self.inner
                .transform_with_time2(&other.inner, move |a, b, time| {
                    with_python(|py| {
                        let out = f.bind(py).call1((
                            time.as_millis(),
                            python_rdd(py, a)?,
                            python_rdd(py, b)?,
                        ))?;
                        returned_rdd(&out)
                    })
                }),
        )
    }

    /// `f(time_ms, NativeRdd)` on the driver for every batch (Spark's `foreachRDD`); an exception
    /// fails the batch.
    fn foreach_rdd(&self, f: Py<PyAny>) -> PyResult<()> {
        self.inner
            .try_foreach_rdd(move |rdd, time| {
                Python::attach(|py| {
                    let call = python_rdd(py, rdd)
                        .and_then(|r| f.bind(py).call1((time.as_millis(), r)).map(|_| ()));
                    call.map_err(|e| PythonError::report(py, e))
                })
            })
            .map_err(to_py_err)
    }

    /// Keep checkpointing this stream's state every `interval_ms`.
    fn checkpoint(&self, interval_ms: u64) -> PyResult<()> {
        // The pairs are the stream the engine computes (the stateful one, for a state stream);
        // the tuple form is a view of them.
        match &self.keyed {
            Some(keyed) => keyed.checkpoint(ms(interval_ms)),
            None => self.inner.checkpoint(ms(interval_ms)),
        }
        .map_err(to_py_err)
    }

    /// The RDDs of the batches from `from_ms` to `to_ms`, both included.
    fn slice(&self, py: Python<'_>, from_ms: u64, to_ms: u64) -> PyResult<Vec<Py<NativeRdd>>> {
        let inner = self.inner.clone();
        let rdds = py
            .detach(|| inner.slice(Time::from_millis(from_ms), Time::from_millis(to_ms)))
            .map_err(to_py_err)?;
        rdds.into_iter()
            .map(|r| Py::new(py, NativeRdd::new(r)))
            .collect()
    }

    /// The stream's slide (batch interval of an input, slide of a window) in milliseconds.
    fn slide_ms(&self) -> u64 {
        self.inner.slide_duration().as_millis()
    }

    /// A batch time as PySpark hands it to user functions (`datetime`).
    #[staticmethod]
    fn time_of<'py>(py: Python<'py>, millis: u64) -> PyResult<Bound<'py, PyAny>> {
        py_time(py, millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_running_sum_is_pythons_for_ints_and_declines_the_rest() {
        let ints = [Value::Int(1), Value::Int(2)];
        assert_eq!(sum_update(&ints, None), Some(Value::Int(3)));
        assert_eq!(sum_update(&ints, Some(&Value::None)), Some(Value::Int(3)));
        assert_eq!(
            sum_update(&ints, Some(&Value::Int(10))),
            Some(Value::Int(13))
        );
        // A key without new values keeps its sum; a new key without values sums to 0.
        assert_eq!(sum_update(&[], Some(&Value::Int(7))), Some(Value::Int(7)));
        assert_eq!(sum_update(&[], None), Some(Value::Int(0)));
        // Python decides: other types, and sums beyond 64 bits (Python's int has no limit).
        assert_eq!(sum_update(&[Value::Float(1.0)], None), None);
        assert_eq!(sum_update(&[Value::Bool(true)], None), None);
        assert_eq!(sum_update(&ints, Some(&Value::Str("x".into()))), None);
        assert_eq!(
            sum_update(&[Value::Int(i64::MAX), Value::Int(1)], None),
            None
        );
    }
}
