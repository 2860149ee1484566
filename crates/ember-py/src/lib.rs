//! The native half of ember's Python package: the engine's objects for the pure-Python modules
//! under `python/ember/`, which give them PySpark's names and signatures.
//!
//! The split follows the cost of crossing into Python. Python code decides *what* to run
//! (fusing chains of user functions, choosing arities, checking arguments as PySpark does); the
//! classes here run it: [`value::Value`] holds records as Rust data, [`pycall`] enters Python
//! once per partition per batch, and streams, RDDs and contexts wrap their ember counterparts.

pub mod context;
pub mod dstream;
pub mod errors;
pub mod logging;
pub mod pycall;
pub mod rdd;
pub mod sql;
pub mod streaming;
pub mod value;

use pyo3::prelude::*;

/// The `ember._native` extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    logging::init();
    m.add_function(wrap_pyfunction!(logging::set_log_level, m)?)?;
    m.add_class::<context::NativeContext>()?;
    m.add_class::<streaming::NativeStreamingContext>()?;
    m.add_class::<dstream::NativeDStream>()?;
    m.add_class::<dstream::NativeMapWithState>()?;
    m.add_class::<rdd::NativeRdd>()?;
    sql::register(m)?;
    m.add(
        "IllegalStateException",
        py.get_type::<errors::IllegalStateException>(),
    )?;
    m.add("StreamingError", py.get_type::<errors::StreamingError>())?;
    Ok(())
}
