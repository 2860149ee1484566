//! [`NativeContext`]: ember's `Context` (Spark's `SparkContext`) for Python's `SparkContext`.

use std::sync::Mutex;

use ember::sync::RecoverPoison;
use ember::{Conf, Context};
use pyo3::prelude::*;

use crate::errors::{IllegalStateException, to_py_err};

/// The engine's context; Python's `SparkContext` owns one.
#[pyclass(module = "ember._native", frozen)]
pub struct NativeContext {
    inner: Mutex<Option<Context>>,
}

impl NativeContext {
    /// The live context, or Spark's error after `stop`.
    pub(crate) fn inner(&self) -> PyResult<Context> {
        self.inner.lock().recover().clone().ok_or_else(|| {
            IllegalStateException::new_err(
                "Cannot call methods on a stopped SparkContext.".to_string(),
            )
        })
    }
}

#[pymethods]
impl NativeContext {
    /// A context from `(key, value)` settings (`spark.master`, `spark.app.name`, ...).
    #[new]
    fn new(py: Python<'_>, settings: Vec<(String, String)>) -> PyResult<Self> {
        let conf = settings
            .iter()
            .fold(Conf::new(), |conf, (k, v)| conf.set(k, v));
        let ctx = py.detach(|| Context::new(conf)).map_err(to_py_err)?;
        Ok(NativeContext {
            inner: Mutex::new(Some(ctx)),
        })
    }

    /// The number of partitions `parallelize` and shuffles use by default.
    fn default_parallelism(&self) -> PyResult<usize> {
        Ok(self.inner()?.default_parallelism())
    }

    /// The worker threads of this process.
    fn threads(&self) -> PyResult<usize> {
        Ok(self.inner()?.master().threads())
    }

    /// The web UI's URL while a streaming context on this context serves it, else `None`
    /// (PySpark's `uiWebUrl`); `None` after `stop`.
    fn ui_web_url(&self) -> Option<String> {
        self.inner.lock().recover().as_ref()?.ui_web_url()
    }

    /// The application's id, `local-<start ms>` (PySpark's `applicationId`).
    fn application_id(&self) -> PyResult<String> {
        Ok(self.inner()?.application_id())
    }

    /// When the context was made, in ms since the epoch (PySpark's `startTime`).
    fn start_time(&self) -> PyResult<u64> {
        Ok(self.inner()?.start_time())
    }

    /// Stops the context; later calls fail with Spark's message.
    fn stop(&self, py: Python<'_>) {
        if let Some(ctx) = self.inner.lock().recover().take() {
            py.detach(|| ctx.stop());
        }
    }

    /// Whether `stop` was called.
    fn is_stopped(&self) -> bool {
        self.inner.lock().recover().is_none()
    }
}
