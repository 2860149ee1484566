//! Calling Python from the engine's threads.
//!
//! The engine runs user functions on its worker threads and its job thread, without the GIL. Each
//! call here attaches to the interpreter once for a whole partition (or a whole batch's RDD), so a
//! chain of Python steps costs one GIL round trip per partition per batch, never one per record.
//!
//! A Python exception fails the batch, as a panic in Rust user code does: it is printed with its
//! traceback to `sys.stderr` at once (PySpark prints it when the job fails), and the engine gets a
//! [`JobError`] whose source is a [`PythonError`] holding the exception object, so that
//! `awaitTermination` can raise the very exception the user's code raised. The engine's operator
//! signatures are infallible closures, so the error travels as a panic payload, which ember's
//! runtime recognises (see `ember::error::JobError::panicked`); the panic hook installed by
//! [`install_panic_hook`] keeps such planned unwinds off stderr.

use std::sync::Once;

use ember::error::JobError;
use pyo3::prelude::*;

use crate::value::{Value, values_from_iter, values_to_list};

/// A Python exception raised by user code, kept with its traceback text.
#[derive(Debug)]
pub struct PythonError {
    /// The exception, to raise again in the thread that waits for the stream.
    pub error: PyErr,
    /// `ExceptionType: message`, as Python prints the last line of a traceback.
    pub summary: String,
}

impl std::fmt::Display for PythonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for PythonError {}

impl PythonError {
    /// Wraps `error`, printing its traceback to `sys.stderr` now.
    pub fn report(py: Python<'_>, error: PyErr) -> PythonError {
        let summary = error.to_string();
        // `print` goes through sys.stderr (and so into a notebook cell), and leaves the error
        // untouched because it prints a clone.
        error.clone_ref(py).print(py);
        PythonError { error, summary }
    }
}

/// Ends the current user-code call by failing the batch with `error` (see the module docs).
pub fn fail_batch(py: Python<'_>, error: PyErr) -> ! {
    let failure = JobError::failed(PythonError::report(py, error));
    std::panic::panic_any(failure)
}

/// Installs, once, a panic hook that stays quiet for the planned unwinds of [`fail_batch`] and
/// defers to the previous hook for every real panic.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<JobError>().is_none() {
                previous(info);
            }
        }));
    });
}

/// Runs `body` with the GIL; a Python exception it returns fails the batch.
pub fn with_python<R>(body: impl for<'py> FnOnce(Python<'py>) -> PyResult<R>) -> R {
    Python::attach(|py| match body(py) {
        Ok(r) => r,
        Err(e) => fail_batch(py, e),
    })
}

/// Calls `f(index, list)` and converts the iterable it returns, failing the batch on an
/// exception. This is the one entry into Python for a partition of a batch.
pub fn call_partition(f: &Py<PyAny>, index: usize, part: Vec<Value>) -> Vec<Value> {
    with_python(|py| {
        let list = values_to_list(py, &part)?;
        drop(part);
        let out = f.bind(py).call1((index, list))?;
        if out.is_none() {
            return Ok(Vec::new());
        }
        values_from_iter(&out)
    })
}

/// `datetime.fromtimestamp(ms / 1000)`, the batch time PySpark hands to user functions.
pub fn py_time(py: Python<'_>, millis: u64) -> PyResult<Bound<'_, PyAny>> {
    static FROM_TIMESTAMP: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let f = FROM_TIMESTAMP.get_or_try_init(py, || {
        py.import("datetime")?
            .getattr("datetime")?
            .getattr("fromtimestamp")
            .map(Bound::unbind)
    })?;
    f.bind(py).call1((millis as f64 / 1000.0,))
}
