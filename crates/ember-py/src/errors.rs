//! ember's errors as Python exceptions.
//!
//! A failed batch whose cause is a Python exception raises that exception itself (with its
//! traceback), which is more useful than PySpark's `Py4JJavaError` wrapping. Everything else
//! keeps Spark's message and gets the closest Python type: `ValueError` for a bad argument,
//! `RuntimeError` subclasses for lifecycle and engine failures, `OSError` for I/O.

use ember::Error;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::pycall::PythonError;

pyo3::create_exception!(
    _native,
    IllegalStateException,
    PyRuntimeError,
    "An operation not allowed in the streaming context's current state (Spark's IllegalStateException)."
);
pyo3::create_exception!(
    _native,
    StreamingError,
    PyRuntimeError,
    "A streaming job failed, or the engine could not run (the message is Spark's)."
);

/// The Python exception for an ember error.
pub fn to_py_err(e: Error) -> PyErr {
    if let Some(py_error) = python_cause(&e) {
        return Python::attach(|py| py_error.error.clone_ref(py));
    }
    let message = ember::error::Report::new(&e).to_string();
    match e {
        Error::Requirement(_) | Error::InvalidArgument(_) | Error::InvalidSetting { .. } => {
            PyValueError::new_err(message)
        }
        Error::IllegalState(_) | Error::Unsupported(_) => IllegalStateException::new_err(message),
        Error::MissingDirectory(_) => PyFileNotFoundError::new_err(message),
        Error::Io { .. } => PyOSError::new_err(message),
        _ => StreamingError::new_err(message),
    }
}

/// The Python exception somewhere in `e`'s chain of causes.
fn python_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a PythonError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(p) = c.downcast_ref::<PythonError>() {
            return Some(p);
        }
        cause = c.source();
    }
    None
}
